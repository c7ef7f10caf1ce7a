"""Schedulers: at which budget a trial runs and whether a running trial goes on (beside the searcher).

The searcher proposes configs (what to try); the scheduler gives each trial its budget and its compute
class, watches the trials' reports and decides whether each continues, is stopped, or pauses to be
promoted later. ``make_scheduler`` builds one from the experiment file's
``"scheduler"`` object, checking every option with its key path.
"""
from __future__ import annotations

from typing import Any, Sequence

from ..errors import ConfigError, did_you_mean
from ..space import Space
from ..trial import ComputeClass
from .base import CONTINUE, PRUNE, Ended, Placement, Scheduler
from .retry import Move, retry_move
from .shadho import Shadho
from .fifo import FifoScheduler
from .median import MedianStoppingRule
from .successive_halving import Hyperband, SuccessiveHalving

SCHEDULERS: dict[str, type[Scheduler]] = {
    cls.name: cls for cls in (FifoScheduler, MedianStoppingRule, SuccessiveHalving, Hyperband, Shadho)}

__all__ = ["CONTINUE", "PRUNE", "SCHEDULERS", "Ended", "Move", "Placement", "Scheduler", "make_scheduler", "retry_move"]


def make_scheduler(spec: Any, mode: str = "min", space: Space | None = None,
                   classes: Sequence[ComputeClass] = ()) -> Scheduler:
    """The scheduler the experiment file's ``"scheduler"`` names (a name, or an object with ``"name"``),
    for a study of ``space`` on compute ``classes``."""
    if spec is None:
        spec = {"name": "fifo"}
    if isinstance(spec, str):
        spec = {"name": spec}
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
        raise ConfigError(("scheduler",), f"expected a name or an object with \"name\", got {spec!r}")
    cls = SCHEDULERS.get(spec["name"])
    if cls is None:
        raise ConfigError(("scheduler", "name"), f"unknown scheduler {spec['name']!r}{did_you_mean(spec['name'], sorted(SCHEDULERS))}; "
                                                 f"expected one of {', '.join(sorted(SCHEDULERS))}")
    return cls(spec, mode, space, classes)
