"""What the journal says so far: each trial's state, each config's values, the best config.

A ``Ledger`` takes records one at a time in journal order, the same way when the driver writes them
and when ``status`` or ``resume`` reads them back, so all three always agree. Its memory does not
grow with the journal's records: it keeps the last record only of the trials that can still change
(running, cancelled, awaiting a retry), the ids of the others, and the state only of the configs
that are not finished (and of the best). A config's value is the mean over its repeats, so the best
config is chosen among the finished ones: its value can no longer change; on a tie, the lowest config id
wins, whatever order they finished in. ``to_json``/``from_json``
save and restore it whole, so a reader can start from a saved ledger and read only the journal's
newer records.

Nothing a trial returns can break it: any finite number is a valid result, and means and spreads of
values near the float limits are computed without overflow.
"""
from __future__ import annotations

import math
import statistics
import sys
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

#: statuses after which a trial never runs again (a pruned one was stopped by the study's scheduler)
TERMINAL = ("complete", "failed", "pruned")


def mean_of(values: Iterable[float]) -> float:
    """The mean, also of values whose sum overflows (``sys.float_info.max``, a common penalty)."""
    values = list(values)
    try:
        return statistics.fmean(values)
    except OverflowError:
        return math.fsum(v / len(values) for v in values)


def spread_of(values: Iterable[float]) -> float:
    """The sample standard deviation, clamped to the largest float instead of overflowing."""
    values = list(values)
    if len(values) < 2:
        return 0.0
    scale = max(abs(v) for v in values)
    if scale == 0:
        return 0.0
    return min(statistics.stdev([v / scale for v in values]) * scale, sys.float_info.max)


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
    #: the last value a pruned trial of it reported (it never completed, so it is no candidate for best)
    pruned_value: float | None = None

    def add_value(self, repeat: int, value: float) -> None:
        self.values[repeat] = value
        self.mean = mean_of(self.values.values())

    @property
    def told(self) -> float | None:
        """What the searcher learns of the config: its mean, else the value at which it was pruned."""
        return self.mean if self.mean is not None else self.pruned_value

    @property
    def std(self) -> float:
        return spread_of(self.values.values())

    def to_json(self) -> dict:
        return {"config_id": self.config_id, "config": self.config, "subspace": self.subspace,
                "first_trial": self.first_trial, "values": [[r, v] for r, v in self.values.items()],
                "done": sorted(self.done), "pruned_value": self.pruned_value}

    @classmethod
    def from_json(cls, data: dict) -> "ConfigState":
        state = cls(data["config_id"], data["config"], data["subspace"], data["first_trial"], done=set(data["done"]),
                    pruned_value=data.get("pruned_value"))
        for repeat, value in data["values"]:
            state.add_value(repeat, value)
        return state


def kind_of(record: dict) -> str:
    return "retrying" if record["status"] == "failed" and record.get("retry") else record["status"]


def failure_kind(reason: str) -> str:
    """A failure's kind for counting: the reason's first word (exception, timeout, crashed, invalid...)."""
    return reason.split(":")[0]


class Ledger:
    """Study state rebuilt from records; ``add`` returns a config once all its repeats have ended."""

    def __init__(self, mode: str = "min", repeats: int = 1):
        self.mode = mode
        self.repeats = repeats
        #: the last record of each trial that may still change: running, cancelled, awaiting a retry
        self.open: dict[int, dict] = {}
        #: trials that ended for good (complete, or failed with no retry due): they never change again
        self.closed: set[int] = set()
        self.config_ids: set[int] = set()
        #: configs with a repeat not yet ended
        self.configs: dict[int, ConfigState] = {}
        self.best: ConfigState | None = None
        self.stopped: dict | None = None
        #: the "started" record of the last run (its host, backend, budget, objective's source...)
        self.last_run: dict | None = None
        self.counts: dict[str, int] = {}
        self.reasons: dict[str, int] = {}
        self.n_reports = 0

    def add(self, record: dict) -> ConfigState | None:
        if "progress" in record:
            self.n_reports += 1
            return None
        if "study" in record:
            if record["study"] == "started":
                self.stopped = None
                self.last_run = record
            elif record["study"] == "stopped":
                self.stopped = record
            return None
        trial = record["trial"]
        if trial in self.closed:  # a trial that ended for good never changes: a later record is a duplicate
            return None
        previous = self.open.pop(trial, None)
        if previous is not None:
            self.counts[kind_of(previous)] -= 1
        self.counts[kind_of(record)] = self.counts.get(kind_of(record), 0) + 1
        config_id = record["config_id"]
        self.config_ids.add(config_id)
        state = self.configs.get(config_id)
        if state is None:
            state = self.configs[config_id] = ConfigState(config_id, record["config"], record.get("subspace", ""), trial)
        if record["status"] not in TERMINAL or kind_of(record) == "retrying":
            self.open[trial] = record
            return None
        self.closed.add(trial)
        if record["status"] == "complete":
            state.add_value(record["repeat"], record["value"])
        elif record["status"] == "pruned":
            state.pruned_value = record.get("value")
        else:
            kind = failure_kind(record.get("reason", "unknown"))
            self.reasons[kind] = self.reasons.get(kind, 0) + 1
        state.done.add(record["repeat"])
        if len(state.done) < self.repeats:
            return None
        del self.configs[config_id]
        if state.mean is not None and (self.best is None or self.better(state.mean, self.best.mean) or (
                state.mean == self.best.mean and config_id < self.best.config_id)):
            self.best = state
        return state

    def better(self, a: float, b: float) -> bool:
        return a < b if self.mode == "min" else a > b

    @property
    def n_trials(self) -> int:
        return len(self.open) + len(self.closed)

    @property
    def n_ended(self) -> int:
        """Trials that ended for good: complete, failed with no retry due, or pruned."""
        return self.count("complete") + self.count("failed") + self.count("pruned")

    def knows(self, trial: int) -> bool:
        return trial in self.closed or trial in self.open

    def count(self, kind: str) -> int:
        """Trials whose latest record is of this kind: running, complete, failed (for good), retrying, cancelled."""
        return self.counts.get(kind, 0)

    def unfinished(self) -> list[dict]:
        """Latest records of trials that must run again: interrupted, cancelled, or failed with a retry due
        (not paused ones: they wait for their scheduler to promote them)."""
        return [record for record in self.open.values() if record["status"] != "paused"]

    def paused_at(self) -> list[list[float]]:
        """[budget, trials paused there] for each rung that holds paused trials, lowest first."""
        budgets = [record["budget"] for record in self.open.values() if record["status"] == "paused"]
        return [[budget, budgets.count(budget)] for budget in sorted(set(budgets))]

    def failure_reasons(self) -> dict[str, int]:
        """Final failures by kind (the reason's first word: exception, timeout, crashed, invalid...)."""
        return dict(self.reasons)

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
            "n_trials": self.n_trials, "n_complete": self.count("complete"), "n_failed": self.count("failed"),
            "n_running": self.count("running"), "n_cancelled": self.count("cancelled"),
            "n_retrying": self.count("retrying"), "n_pruned": self.count("pruned"),
            "n_paused": self.count("paused"), "paused_at": self.paused_at(), "n_reports": self.n_reports,
            "n_configs": len(self.config_ids), "failures": self.failure_reasons(), "best": self.best_json(),
            "stopped": None if self.stopped is None else {k: self.stopped.get(k) for k in ("reason", "final", "time")},
        }

    # -- saved and restored whole -------------------------------------------------------------------
    def to_json(self) -> dict:
        return {"mode": self.mode, "repeats": self.repeats, "open": list(self.open.values()),
                "closed": _ranges(self.closed), "config_ids": _ranges(self.config_ids),
                "configs": [state.to_json() for state in self.configs.values()],
                "best": None if self.best is None else self.best.to_json(),
                "stopped": self.stopped, "last_run": self.last_run, "counts": self.counts, "reasons": self.reasons,
                "n_reports": self.n_reports}

    @classmethod
    def from_json(cls, data: dict) -> "Ledger":
        ledger = cls(data["mode"], data["repeats"])
        ledger.open = {record["trial"]: record for record in data["open"]}
        ledger.closed = set(_from_ranges(data["closed"]))
        ledger.config_ids = set(_from_ranges(data["config_ids"]))
        ledger.configs = {state["config_id"]: ConfigState.from_json(state) for state in data["configs"]}
        ledger.best = None if data["best"] is None else ConfigState.from_json(data["best"])
        ledger.stopped, ledger.counts, ledger.reasons = data["stopped"], data["counts"], data["reasons"]
        ledger.last_run = data["last_run"]
        ledger.n_reports = data.get("n_reports", 0)
        return ledger


def _ranges(numbers: Iterable[int]) -> list[list[int]]:
    """Sorted integers as [first, last] runs: a study's trial ids are mostly one run."""
    runs: list[list[int]] = []
    for n in sorted(numbers):
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return runs


def _from_ranges(runs: list[list[int]]) -> Iterator[int]:
    for first, last in runs:
        yield from range(first, last + 1)


def attempts_that_ran(records: Iterable[dict]) -> list[dict]:
    """Trial records of the attempts that ran (they carry start and end), in order of start."""
    return sorted((r for r in records if "trial" in r and r.get("start") is not None and r.get("end") is not None),
                  key=lambda r: r["start"])
