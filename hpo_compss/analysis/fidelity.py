"""What a journal says of a study's intermediate results: each trial's learning curve and its rungs.

Reports (``progress`` records) make the curves; the end of each run of a trial (``paused`` at a rung,
``complete`` at the full budget, ``pruned`` by its scheduler) makes the rung table. A run that was
interrupted and ran again reports its steps again: the later reports replace the earlier ones.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Rung:
    """The runs that ended at one budget: how many paused, completed or were pruned there, and the best value."""

    budget: float
    paused: int = 0
    complete: int = 0
    best: float | None = None


@dataclass
class Fidelity:
    #: each trial's reports, (step, value) in step order
    curves: dict[int, list[tuple[float, float]]] = field(default_factory=dict)
    #: each trial's last status: complete, paused, pruned...
    status: dict[int, str] = field(default_factory=dict)
    #: budget -> rung, for the runs that ended at their budget
    rungs: dict[float, Rung] = field(default_factory=dict)
    #: the step at which each pruned trial was stopped
    pruned_at: dict[int, float] = field(default_factory=dict)

    def add(self, record: dict, mode: str) -> None:
        if "progress" in record:
            curve = self.curves.setdefault(record["progress"], [])
            while curve and curve[-1][0] >= record["step"]:  # a run that ran again reports these steps anew
                curve.pop()
            curve.append((record["step"], record["value"]))
            return
        if "trial" not in record or record["status"] == "running":
            return
        self.status[record["trial"]] = record["status"]
        if record["status"] == "pruned":
            self.pruned_at[record["trial"]] = record.get("step", 0.0)
        elif record["status"] in ("paused", "complete") and record.get("budget") is not None:
            rung = self.rungs.setdefault(record["budget"], Rung(record["budget"]))
            if record["status"] == "paused":
                rung.paused += 1
            else:
                rung.complete += 1
            value = record["value"]
            if rung.best is None or (value < rung.best if mode == "min" else value > rung.best):
                rung.best = value

    @property
    def any(self) -> bool:
        return bool(self.curves)

    def table(self) -> list[Rung]:
        return [self.rungs[budget] for budget in sorted(self.rungs)]
