"""How fast each compute class runs trials: declared at first, then measured from trials' durations.

A class's trials per hour do not tell its speed: a class that runs only cheap sub-spaces looks fast.
Durations are therefore modelled as ``log seconds = cost(sub-space) - log speed(class) + noise`` and
fitted by least squares over every (class, sub-space) pair that ran, with the declared speed
(``"speed"``, else the class's cores) as a prior worth ``PRIOR_WEIGHT`` trials. A class is compared
with another through the sub-spaces both ran, directly or through other classes; a class with no such
link keeps its declared speed. Scheduler ``shadho`` runs a few probes to make those links.
"""
from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from ..trial import ComputeClass

#: how many trials' worth of evidence the declared speed counts as
PRIOR_WEIGHT = 0.25
#: durations below this many seconds are taken as this (a log of 0 is not a duration)
SHORTEST = 1e-3


def declared_speed(cls: ComputeClass) -> float:
    """The speed a class is taken to have before any trial ran: its ``speed``, else its cores."""
    return cls.speed if cls.speed is not None else float(cls.cpus)


class ClassSpeeds:
    """Relative speeds of compute classes; see the module docstring."""

    def __init__(self, classes: list[ComputeClass]):
        self.classes = list(classes)
        #: per (class, sub-space): how many trials and the sum of their log durations
        self.cells: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0.0])
        #: per class: completed trials and their summed seconds (``throughput``)
        self.busy: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
        self._speeds: dict[str, float] | None = None

    def observe(self, cls: str, subspace: str, seconds: float) -> None:
        """A trial of ``subspace`` completed on ``cls`` in ``seconds``."""
        cell = self.cells[(cls, subspace)]
        cell[0] += 1
        cell[1] += math.log(max(seconds, SHORTEST))
        busy = self.busy[cls]
        busy[0] += 1
        busy[1] += seconds
        self._speeds = None

    def count(self, cls: str, subspace: str) -> int:
        """How many trials of ``subspace`` completed on ``cls``."""
        cell = self.cells.get((cls, subspace))
        return int(cell[0]) if cell else 0

    def speeds(self) -> dict[str, float]:
        """Each class's speed (larger is faster; the same unit as the declared speeds)."""
        if self._speeds is None:
            self._speeds = self._fit()
        return self._speeds

    def fastest_first(self) -> list[ComputeClass]:
        """The classes from the fastest to the slowest (ties: declared order)."""
        speeds = self.speeds()
        return sorted(self.classes, key=lambda cls: -speeds[cls.name])

    def throughput(self) -> dict[str, float]:
        """Completed trials per hour of one of the class's slots, for each class that completed one."""
        return {name: 3600.0 * count / max(seconds, SHORTEST) for name, (count, seconds) in self.busy.items()}

    def _fit(self) -> dict[str, float]:
        names = [cls.name for cls in self.classes]
        column = {name: i for i, name in enumerate(names)}
        cells = [(cls, sub, count, total) for (cls, sub), (count, total) in self.cells.items() if cls in column]
        subspaces = sorted({sub for _, sub, _, _ in cells})
        row_of = {sub: len(names) + i for i, sub in enumerate(subspaces)}
        rows, targets, weights = [], [], []
        for i, cls in enumerate(self.classes):  # the prior: log speed = log declared speed
            row = np.zeros(len(names) + len(subspaces))
            row[i] = 1.0
            rows.append(row)
            targets.append(math.log(max(declared_speed(cls), SHORTEST)))
            weights.append(PRIOR_WEIGHT)
        for cls, sub, count, total in cells:  # log seconds = cost(sub) - log speed(cls)
            row = np.zeros(len(names) + len(subspaces))
            row[row_of[sub]], row[column[cls]] = 1.0, -1.0
            rows.append(row)
            targets.append(total / count)
            weights.append(count)
        root = np.sqrt(np.array(weights, dtype=float))
        solution = np.linalg.lstsq(np.array(rows) * root[:, None], np.array(targets) * root, rcond=None)[0]
        return {name: float(math.exp(solution[i])) for i, name in enumerate(names)}
