"""What every scheduler shares: its options read with key paths, each trial's reports, the decisions.

Values are sign-adjusted on the way in (smaller is better), so the rules are written once. Beside
budgets and stops, a scheduler places trials: which free compute class a new config runs on and
which exclusive sub-space it is drawn from (``place``). The base class takes the first free class in
declared order and lets the searcher pick the sub-space; ``shadho`` decides both.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

from ..errors import ConfigError, did_you_mean, read_integer, read_number
from ..space import Space
from ..trial import ComputeClass
from .speeds import ClassSpeeds

#: what a scheduler decides on a report
CONTINUE, PRUNE = "continue", "prune"


@dataclass(frozen=True)
class Placement:
    """Where a trial runs and why; for a new config, also the sub-space to draw it from."""

    cls: ComputeClass
    #: the exclusive sub-space the config is drawn from; None: the searcher picks
    subspace: str | None
    #: why this class (journaled with the attempt when the study has several classes)
    why: str


@dataclass(frozen=True)
class Ended:
    """A trial attempt that ended, as schedulers that place trials learn from it."""

    trial: int
    subspace: str
    config: dict
    cls: str
    status: str
    #: its value as the objective returned it; None unless complete
    value: float | None
    #: how long it ran, in seconds (None when unknown)
    seconds: float | None


class Scheduler:
    """Decides, from running trials' reports, which go on. The base class never stops a trial."""

    name = ""
    #: options every scheduler takes, beside its own (``OPTIONS``)
    COMMON = {"name", "resource"}
    OPTIONS: set[str] = set()
    #: whether it stops or pauses running trials (then a config's repeats would be judged apart, and
    #: trials keep checkpoints)
    stops_trials = True

    def __init__(self, spec: dict, mode: str = "min", space: Space | None = None,
                 classes: Sequence[ComputeClass] = ()):
        self.spec = spec
        self.sign = 1.0 if mode == "min" else -1.0
        self.space = space
        self.classes = list(classes) or [ComputeClass("cpu")]
        #: how fast each class runs trials, learnt from their durations (``speeds``)
        self.speeds = ClassSpeeds(self.classes)
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

    def place(self, free: list[ComputeClass]) -> Placement:
        """Where the next new config runs (one of ``free``, which is not empty) and its sub-space."""
        return Placement(free[0], None, "the first class with room, in declared order")

    def place_drawn(self, subspace: str, free: list[ComputeClass]) -> Placement:
        """Where a trial whose config is already drawn (a repeat, a rerun, a resumed one) runs."""
        return self.place(free)

    def use(self, classes: list[ComputeClass]) -> None:
        """The classes the engine runs: those of the experiment that fit where the study runs."""

    def on_ended(self, ended: Ended) -> None:
        """An attempt ended: learn the speed of its class from it."""
        if ended.status == "complete" and ended.seconds is not None:
            self.speeds.observe(ended.cls, ended.subspace, ended.seconds)

    def assignment(self) -> dict | None:
        """What changed in how sub-spaces map to classes since the last call, to journal; None: nothing."""
        return None

    def describe(self) -> str:
        return self.name

    def to_json(self) -> dict:
        return dict(self.spec)
