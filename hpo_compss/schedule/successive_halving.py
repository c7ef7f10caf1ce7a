"""Asynchronous successive halving (ASHA, Li et al. 2020), in its stopping form.

Rungs sit at ``min``, ``min * eta``, ``min * eta**2``... up to ``max`` (the budget every trial is
given). When a trial first reports at or past a rung, its value there is recorded; it goes on if it is
among the best ``ceil(n / eta)`` of the ``n`` values recorded at that rung so far, and is stopped
otherwise. While a rung holds fewer than ``eta`` values, every trial passes it: the first few trials
cannot be judged against each other.
"""
from __future__ import annotations

import math

from ..errors import ConfigError
from .base import CONTINUE, PRUNE, Scheduler


class AshaStopping(Scheduler):
    name = "asha"
    OPTIONS = {"min", "max", "eta", "type"}

    def configure(self) -> None:
        if "max" not in self.spec:
            raise ConfigError(("scheduler", "max"), f"missing: the budget (in {self.resource}) every trial runs up to")
        self.min_budget = self.option("min", float, 1.0, 1e-12)
        self.max = self.option("max", float, None, self.min_budget)
        self.eta = self.option("eta", int, 3, 2, 1000)
        self.type = self.option("type", str, "stopping")
        if self.type != "stopping":
            raise ConfigError(("scheduler", "type"), f"expected \"stopping\", got {self.type!r}")
        self.rungs = rung_levels(self.min_budget, self.max, self.eta)
        #: values recorded at each rung
        self.recorded: list[list[float]] = [[] for _ in self.rungs]
        #: the rungs each trial has passed
        self.passed: dict[int, int] = {}

    @property
    def max_budget(self) -> float:
        return self.max

    def decide(self, trial: int, step: float, value: float) -> str:
        rung = self.passed.get(trial, 0)
        while rung < len(self.rungs) - 1 and step >= self.rungs[rung]:  # the top rung is the end, not a judgement
            values = self.recorded[rung]
            values.append(value)
            rung += 1
            self.passed[trial] = rung
            if len(values) >= self.eta and sorted(values).index(value) >= math.ceil(len(values) / self.eta):
                return PRUNE
        return CONTINUE

    def describe(self) -> str:
        return f"asha (stopping) on {self.resource}, rungs {', '.join(f'{r:g}' for r in self.rungs)}"


def rung_levels(low: float, high: float, eta: int) -> list[float]:
    """``low * eta**k`` for k = 0, 1... while below ``high``, then ``high``."""
    levels, level = [], low
    while level < high * (1 - 1e-9):
        levels.append(level)
        level *= eta
    return levels + [high]
