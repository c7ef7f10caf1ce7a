"""What every scheduler shares: its options read with key paths, each trial's reports, the decisions.

Values are sign-adjusted on the way in (smaller is better), so the rules are written once.
"""
from __future__ import annotations

import math
from typing import Any

from ..errors import ConfigError, did_you_mean, read_integer, read_number

#: what a scheduler decides on a report
CONTINUE, PRUNE = "continue", "prune"


class Scheduler:
    """Decides, from running trials' reports, which go on. The base class never stops a trial."""

    name = ""
    #: options every scheduler takes, beside its own (``OPTIONS``)
    COMMON = {"name", "resource"}
    OPTIONS: set[str] = set()

    def __init__(self, spec: dict, mode: str = "min"):
        self.spec = spec
        self.sign = 1.0 if mode == "min" else -1.0
        allowed = self.COMMON | self.OPTIONS
        unknown = sorted(set(spec) - allowed)
        if unknown:
            raise ConfigError(("scheduler", unknown[0]), f"unknown option of the {self.name} scheduler"
                                                         f"{did_you_mean(unknown[0], sorted(allowed))}; "
                                                         f"expected one of {', '.join(sorted(allowed))}")
        #: what a step counts (epochs, iterations...), for reports and figures
        self.resource = self.option("resource", str, "step")
        #: each trial's reports so far, sign-adjusted: trial id -> [(step, value)]
        self.curves: dict[int, list[tuple[float, float]]] = {}
        #: trials that ran to their end
        self.finished: set[int] = set()
        self.configure()

    def configure(self) -> None:
        """Read the scheduler's own options (``option``)."""

    def option(self, key: str, kind: type, default: Any, low: float = -math.inf, high: float = math.inf) -> Any:
        """The option ``key``, checked with its key path: an int or a float within [low, high], or a str."""
        path = ("scheduler", key)
        if kind is int:
            return read_integer(self.spec, path, default, int(low), int(high))
        if kind is float:
            return read_number(self.spec, path, default, low, high)
        value = self.spec.get(key, default)
        if not isinstance(value, kind):
            raise ConfigError(path, f"expected {kind.__name__}, got {value!r}")
        return value

    def first_budget(self, trial: int) -> float | None:
        """The budget a new trial runs up to (``trial.budget``); None: the objective decides."""
        return None

    def pauses(self, trial: int, budget: float | None) -> bool:
        """Does a trial that returned at ``budget`` pause there (to be promoted later) rather than complete?"""
        return False

    def on_pause(self, trial: int, budget: float, value: float) -> None:
        """A trial paused at ``budget`` with ``value``."""

    def promotion(self) -> tuple[int, float] | None:
        """A paused trial to continue now, and its next budget; None: start a new config."""
        return None

    def retirements(self) -> list[int]:
        """Paused trials to end now (as pruned, their checkpoints deleted), the least promising first."""
        return []

    def on_report(self, trial: int, step: float, value: float) -> str:
        """A running trial reported ``value`` at ``step``: CONTINUE or PRUNE."""
        self.curves.setdefault(trial, []).append((step, self.sign * value))
        return self.decide(trial, step, self.sign * value)

    def decide(self, trial: int, step: float, value: float) -> str:
        return CONTINUE

    def on_start(self, trial: int, budget: float | None) -> None:
        """The trial starts (or continues, up to ``budget``): its reports from here on are a new run's
        (rungs it passed stay passed)."""
        self.curves[trial] = []

    def on_end(self, trial: int, complete: bool) -> None:
        """A trial ended (complete or not): its reports stay, for comparing later trials."""
        if complete:
            self.finished.add(trial)

    def describe(self) -> str:
        return self.name

    def to_json(self) -> dict:
        return dict(self.spec)
