"""Stop signals as the driver takes them: a flag set by the handler, acted on between two steps.

SIGINT and SIGTERM (which SLURM sends at a job's time limit) never cut a step in half: the handler
only notes the first signal, and the loop raises ``Interrupted`` when it next looks (at least every
``driver.WAKE_SECONDS``).
"""
from __future__ import annotations

import signal
from typing import Any


class Interrupted(Exception):
    """The driver was asked to stop (SIGINT or SIGTERM, as a batch system sends at its time limit)."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(signal.Signals(signum).name)


class StopSignals:
    """While active, SIGINT and SIGTERM only set ``received``; the previous handlers come back on exit."""

    def __init__(self) -> None:
        self.received: int | None = None
        self.previous: dict[int, Any] = {}

    def __enter__(self) -> "StopSignals":
        for signum in (signal.SIGINT, signal.SIGTERM):
            self.previous[signum] = signal.signal(signum, self._note)
        return self

    def __exit__(self, *exc: Any) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)

    def check(self) -> None:
        """Raise ``Interrupted`` when a stop signal came since the driver began."""
        if self.received is not None:
            raise Interrupted(self.received)

    def _note(self, signum: int, frame: Any) -> None:
        if self.received is None:
            self.received = signum
