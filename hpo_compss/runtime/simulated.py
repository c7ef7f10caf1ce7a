"""A simulated engine: trials follow a cost model in virtual time, so the real driver, searcher and
scheduler can be studied at cluster scale in seconds.

The cost model (``CostModel``) says, for a trial's config:

- its value after each step (``curve(config, step)``): the learning curve a real objective would report;
- how long one step takes (``step_seconds(config)``, seconds on a class of speed 1), divided by the
  speed of the compute class it runs on: ``speed(config, cls)`` when given (a heterogeneous cluster,
  where how much a class speeds a trial up depends on the trial), else ``speeds[cls.name]`` (default 1);
- ``max_steps``, the budget of a trial its scheduler gives no budget;
- ``failure_rate``, the chance that a run crashes, at a point drawn uniformly within it;
- ``memory_gb(config)``, when given, what a run needs: on a class that declares less memory it fails
  with a ``MemoryError`` a tenth of the way in, as a real trial would once its data is loaded.

With a ``timeout``, a run longer than that fails with the local engine's timeout reason when it is
reached. A run from step ``after_step + 1`` to its budget reports at the end of each step and returns
the last value; a trial stopped by its scheduler ends at its next report, as on the local engine.
Nothing sleeps: ``wait`` moves the clock to the next event (never past the wait's timeout). Random
draws depend on the model's seed, the trial and its attempt only, so a study is the same at every run.
Each class has ``max_tasks`` slots (default 1).
"""
from __future__ import annotations

import heapq
import itertools
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

from ..clock import VirtualClock
from ..trial import CANCELLED, COMPLETE, FAILED, ComputeClass, Outcome, Report, Trial
from .engine import Event, Finished
from .process import timeout_reason
from .resources import Assignment


@dataclass
class CostModel:
    curve: Callable[[dict, float], float]
    step_seconds: Callable[[dict], float]
    max_steps: int
    speeds: dict[str, float] = field(default_factory=dict)
    failure_rate: float = 0.0
    seed: int = 0
    speed: Callable[[dict, ComputeClass], float] | None = None
    memory_gb: Callable[[dict], float] | None = None

    def step_time(self, config: dict, cls: ComputeClass) -> float:
        """Seconds one step of ``config`` takes on ``cls``."""
        speed = self.speed(config, cls) if self.speed is not None else self.speeds.get(cls.name, 1.0)
        return self.step_seconds(config) / speed

    def crash(self, config: dict, cls: ComputeClass, draw: random.Random) -> tuple[float, str] | None:
        """Where in a run (its share, 0 to 1) it crashes and why, or None."""
        if self.memory_gb is not None and cls.memory_gb is not None and self.memory_gb(config) > cls.memory_gb:
            return 0.1, (f"exception: MemoryError: the trial needs {self.memory_gb(config):g} GB, "
                         f"and {cls.name} has {cls.memory_gb:g} GB")
        if draw.random() < self.failure_rate:
            return draw.random(), "crashed: injected failure"
        return None


@dataclass
class _Run:
    trial: Trial
    cls: ComputeClass
    start: float
    last: Report | None = None
    #: PRUNED or PAUSED once its scheduler stopped it
    stopping: str | None = None


class SimulatedEngine:
    """Runs trials against a ``CostModel`` in virtual time; see the module docstring."""

    name = "simulated"

    def __init__(self, classes: list[ComputeClass], model: CostModel, clock: VirtualClock | None = None,
                 timeout: float | None = None):
        self.classes = classes
        self.model = model
        self.timeout = timeout
        self.clock = clock or VirtualClock()
        self.runs: dict[int, _Run] = {}
        #: runs per class
        self.busy: Counter[str] = Counter()
        self._events: list[tuple[float, int, int, Any]] = []  # (time, order, trial, Report or Outcome)
        self._order = itertools.count()

    @property
    def running(self) -> int:
        return len(self.runs)

    def describe(self) -> str:
        slots = ", ".join(f"{c.name} x{c.max_tasks or 1}" for c in self.classes)
        return f"simulated engine ({slots})"

    def free_classes(self) -> list[ComputeClass]:
        return [c for c in self.classes if self.busy[c.name] < (c.max_tasks or 1)]

    def submit(self, trial: Trial, cls: ComputeClass) -> None:
        now = self.clock.monotonic()
        self.runs[trial.id] = _Run(trial, cls, now)
        self.busy[cls.name] += 1
        step_time = self.model.step_time(trial.config, cls)
        first = int(trial.after_step or 0) + 1
        last = int(trial.budget if trial.budget is not None else self.model.max_steps)
        draw = random.Random(f"{self.model.seed}:{trial.id}:{trial.attempt}:{trial.budget}")
        length = (last - first + 1) * step_time
        end: tuple[float, Outcome] = (length, Outcome(COMPLETE))
        crash = self.model.crash(trial.config, cls, draw)
        if crash is not None:
            end = (crash[0] * length, Outcome(FAILED, crash[1]))
        if self.timeout is not None and self.timeout < end[0]:
            end = (self.timeout, Outcome(FAILED, timeout_reason(self.timeout)))
        value = None
        for step in range(first, last + 1):
            at = (step - first + 1) * step_time
            if at > end[0]:
                break
            value = self.model.curve(trial.config, step)
            self._push(now + at, trial.id, Report(trial.id, trial.attempt, float(step), value, self.clock.epoch + now + at))
        outcome = end[1]
        if outcome.status == COMPLETE:
            outcome.value, outcome.step = value, float(last) if value is not None else None
        self._push(now + end[0], trial.id, outcome)

    def stop(self, trial: int, status: str) -> None:
        if trial in self.runs:
            self.runs[trial].stopping = status

    def discard_checkpoint(self, path: str) -> None:
        """Simulated trials keep no checkpoints."""

    def wait(self, timeout: float | None) -> list[Event]:
        if not self._events:
            return []
        limit = float("inf") if timeout is None else self.clock.monotonic() + timeout
        if self._events[0][0] > limit:
            self.clock.advance(limit)
            return []
        now = self._events[0][0]
        self.clock.advance(now)
        events: list[Event] = []
        while self._events and self._events[0][0] <= now:
            _, _, trial, body = heapq.heappop(self._events)
            run = self.runs.get(trial)
            if run is None:
                continue  # a run that already ended (stopped, cancelled)
            if isinstance(body, Report):
                if run.stopping is not None:  # it hears of its stop at this report and ends here
                    events.append(self._end(run, Outcome(run.stopping, "stopped by the scheduler"
                                                         + (f" at step {run.last.step:g}" if run.last else ""),
                                                         value=run.last.value if run.last else None,
                                                         step=run.last.step if run.last else None)))
                    continue
                run.last = body
                events.append(body)
            else:
                events.append(self._end(run, body))
        return events

    def cancel(self, reason: str) -> list[Finished]:
        ended = [self._end(run, Outcome(CANCELLED, reason)) for run in list(self.runs.values())]
        self._events.clear()
        return ended

    def close(self) -> None:
        self.cancel("cancelled: the engine closed")

    def __enter__(self) -> "SimulatedEngine":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _push(self, at: float, trial: int, body: Any) -> None:
        heapq.heappush(self._events, (at, next(self._order), trial, body))

    def _end(self, run: _Run, outcome: Outcome) -> Finished:
        del self.runs[run.trial.id]
        self.busy[run.cls.name] -= 1
        outcome.start, outcome.end = self.clock.epoch + run.start, self.clock.time()
        outcome.host = "simulated"
        return Finished(run.trial, outcome, Assignment(run.cls, (), ()))
