"""The median stopping rule (Golovin et al., Google Vizier, 2017).

A trial is stopped at step s when its best value so far is worse than the median of the running
averages, up to step s, of the trials that ran to their end. No trial is stopped before ``min`` steps
or before ``min_trials`` trials have ended.
"""
from __future__ import annotations

import statistics

from .base import CONTINUE, PRUNE, Scheduler


class MedianStoppingRule(Scheduler):
    name = "median"
    OPTIONS = {"min", "min_trials"}

    def configure(self) -> None:
        self.min_step = self.option("min", float, 1.0, 0.0)
        self.min_trials = self.option("min_trials", int, 3, 1, 1_000_000)

    def decide(self, trial: int, step: float, value: float) -> str:
        if step < self.min_step:
            return CONTINUE
        averages = [statistics.fmean(v for s, v in self.curves[other] if s <= step)
                    for other in self.finished if any(s <= step for s, _ in self.curves.get(other, ()))]
        if len(averages) < self.min_trials:
            return CONTINUE
        best = min(v for _, v in self.curves[trial])
        return PRUNE if best > statistics.median(averages) else CONTINUE

    def describe(self) -> str:
        return f"median stopping rule from {self.resource} {self.min_step:g}"
