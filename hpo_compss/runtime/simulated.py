"""A simulated engine: trials follow a cost model in virtual time, so the real driver, searcher and
scheduler can be studied at cluster scale in seconds.

The cost model (``CostModel``) says, for a trial's config:

- its value after each step (``curve(config, step)``): the learning curve a real objective would report;
- how long one step takes (``step_seconds(config)``, seconds on a class of speed 1), divided by the
  speed of the compute class it runs on (``speeds``, default 1);
- ``max_steps``, the budget of a trial its scheduler gives no budget;
- ``failure_rate``, the chance that a run crashes, at a point drawn uniformly within it.

A run from step ``after_step + 1`` to its budget reports at the end of each step and returns the last
value; a trial stopped by its scheduler ends at its next report, as on the local engine. Nothing
sleeps: ``wait`` moves the clock to the next event (never past the wait's timeout). Random draws
depend on the model's seed, the trial and its attempt only, so a study is the same at every run.
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
from .resources import Assignment


@dataclass
class CostModel:
    curve: Callable[[dict, float], float]
    step_seconds: Callable[[dict], float]
    max_steps: int
    speeds: dict[str, float] = field(default_factory=dict)
    failure_rate: float = 0.0
    seed: int = 0


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

    def __init__(self, classes: list[ComputeClass], model: CostModel, clock: VirtualClock | None = None):
        self.classes = classes
        self.model = model
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

    def free_class(self) -> ComputeClass | None:
        return next((c for c in self.classes if self.busy[c.name] < (c.max_tasks or 1)), None)

    def submit(self, trial: Trial, cls: ComputeClass) -> None:
        now = self.clock.monotonic()
        self.runs[trial.id] = _Run(trial, cls, now)
        self.busy[cls.name] += 1
        step_time = self.model.step_seconds(trial.config) / self.model.speeds.get(cls.name, 1.0)
        first = int(trial.after_step or 0) + 1
        last = int(trial.budget if trial.budget is not None else self.model.max_steps)
        draw = random.Random(f"{self.model.seed}:{trial.id}:{trial.attempt}:{trial.budget}")
        crash = (first + draw.random() * (last - first + 1)) if draw.random() < self.model.failure_rate else None
        value = None
        for step in range(first, last + 1):
            at = now + (step - first + 1) * step_time
            if crash is not None and step >= crash:
                self._push(at - step_time * (step - crash), trial.id, Outcome(FAILED, "crashed: injected failure"))
                return
            value = self.model.curve(trial.config, step)
            self._push(at, trial.id, Report(trial.id, trial.attempt, float(step), value, self.clock.epoch + at))
        self._push(now + (last - first + 1) * step_time, trial.id,
                   Outcome(COMPLETE, value=value, step=float(last) if value is not None else None))

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
