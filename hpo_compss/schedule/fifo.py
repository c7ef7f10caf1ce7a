"""Every trial runs to its end: the study without early stopping."""
from __future__ import annotations

from .base import Scheduler


class FifoScheduler(Scheduler):
    name = "fifo"
    stops_trials = False
