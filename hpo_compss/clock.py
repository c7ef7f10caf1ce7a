"""Where the study's time comes from: the system's clock, or a virtual one a simulated engine advances.

The driver reads the time of its records, its time budget and its elapsed time from a ``Clock``, so
the same driver, searcher and scheduler run trials on real workers or against a cost model at cluster
scale in seconds (``runtime.simulated``).
"""
from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    #: False for a virtual clock: the driver then asks its searcher in line, since its thinking takes no time
    real: bool

    def time(self) -> float:
        """Seconds since the epoch, for records."""

    def monotonic(self) -> float:
        """Seconds for intervals."""


class SystemClock:
    real = True

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()


SYSTEM_CLOCK = SystemClock()


class VirtualClock:
    """Time that passes only when ``advance`` says so."""

    real = False

    def __init__(self, epoch: float = 1_800_000_000.0):
        self.epoch = epoch
        self.now = 0.0

    def time(self) -> float:
        return self.epoch + self.now

    def monotonic(self) -> float:
        return self.now

    def advance(self, to: float) -> None:
        self.now = max(self.now, to)
