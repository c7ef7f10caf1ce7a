"""What the journal says so far: each trial's latest state, each config's values, the best config.

A ``Ledger`` takes records one at a time in journal order, the same way when the driver writes them
and when ``status`` or ``resume`` reads them back, so all three always agree.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any, Iterable

TERMINAL = ("complete", "failed")


@dataclass
class ConfigState:
    config_id: int
    config: dict
    subspace: str
    first_trial: int
    values: dict[int, float] = field(default_factory=dict)
    done: set[int] = field(default_factory=set)
    #: mean of ``values`` (None before the first one), kept up to date by ``add_value``
    mean: float | None = None

    def add_value(self, repeat: int, value: float) -> None:
        self.values[repeat] = value
        self.mean = statistics.fmean(self.values.values())

    @property
    def std(self) -> float:
        return statistics.stdev(self.values.values()) if len(self.values) > 1 else 0.0


def _kind(record: dict) -> str:
    return "retrying" if record["status"] == "failed" and record.get("retry") else record["status"]


class Ledger:
    """Study state rebuilt from records; ``add`` returns a config once all its repeats have ended."""

    def __init__(self, mode: str = "min", repeats: int = 1):
        self.mode = mode
        self.repeats = repeats
        self.trials: dict[int, dict] = {}
        self.configs: dict[int, ConfigState] = {}
        self.best: ConfigState | None = None
        self.stopped: dict | None = None
        self.counts: dict[str, int] = {}

    def add(self, record: dict) -> ConfigState | None:
        if "study" in record:
            if record["study"] == "started":
                self.stopped = None
            elif record["study"] == "stopped":
                self.stopped = record
            return None
        previous = self.trials.get(record["trial"])
        if previous is not None:
            self.counts[_kind(previous)] -= 1
        self.trials[record["trial"]] = record
        self.counts[_kind(record)] = self.counts.get(_kind(record), 0) + 1
        state = self.configs.get(record["config_id"])
        if state is None:
            state = self.configs[record["config_id"]] = ConfigState(
                record["config_id"], record["config"], record.get("subspace", ""), record["trial"])
        status = record["status"]
        if status not in TERMINAL or (status == "failed" and record.get("retry")):
            return None
        if status == "complete":
            state.add_value(record["repeat"], record["value"])
            if self.best is None or self.better(state.mean, self.best.mean):
                self.best = state
            elif state is self.best:  # a new repeat made the best config's mean worse: look again
                self.best = min(
                    (c for c in self.configs.values() if c.mean is not None),
                    key=lambda c: c.mean if self.mode == "min" else -c.mean)
        state.done.add(record["repeat"])
        return state if len(state.done) == self.repeats else None

    def better(self, a: float, b: float) -> bool:
        return a < b if self.mode == "min" else a > b

    def count(self, kind: str) -> int:
        """Trials whose latest record is of this kind: running, complete, failed (for good), retrying, cancelled."""
        return self.counts.get(kind, 0)

    def unfinished(self) -> list[dict]:
        """Latest records of trials that must run again: interrupted, cancelled, or failed with a retry due."""
        return [r for r in self.trials.values()
                if r["status"] in ("running", "cancelled") or (r["status"] == "failed" and r.get("retry"))]

    def failure_reasons(self) -> dict[str, int]:
        """Final failures by kind (the reason's first word: exception, timeout, crashed, invalid...)."""
        reasons: dict[str, int] = {}
        for record in self.trials.values():
            if record["status"] == "failed" and not record.get("retry"):
                kind = record.get("reason", "unknown").split(":")[0]
                reasons[kind] = reasons.get(kind, 0) + 1
        return reasons

    def best_json(self) -> dict[str, Any] | None:
        if self.best is None:
            return None
        best = self.best
        body = {"trial": best.first_trial, "config_id": best.config_id, "value": best.mean, "config": best.config}
        if self.repeats > 1:
            body.update(std=best.std, n=len(best.values))
        if best.subspace:
            body["subspace"] = best.subspace
        return body

    def status(self) -> dict[str, Any]:
        """The numbers ``hpo-compss status --json`` prints."""
        return {
            "n_trials": len(self.trials), "n_complete": self.count("complete"), "n_failed": self.count("failed"),
            "n_running": self.count("running"), "n_cancelled": self.count("cancelled"),
            "n_retrying": self.count("retrying"),
            "n_configs": len(self.configs), "failures": self.failure_reasons(), "best": self.best_json(),
            "stopped": None if self.stopped is None else {k: self.stopped.get(k) for k in ("reason", "final", "time")},
        }


def attempts_that_ran(records: Iterable[dict]) -> list[dict]:
    """Trial records of the attempts that ran (they carry start and end), in order of start."""
    return sorted((r for r in records if "trial" in r and r.get("start") is not None and r.get("end") is not None),
                  key=lambda r: r["start"])
