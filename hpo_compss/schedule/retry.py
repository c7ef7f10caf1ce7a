"""Retries that learn from the failure: where the next attempt of a failed trial runs, and why.

An attempt's reason says what went wrong, and some causes a compute class can cure:

- out of memory (a ``MemoryError``, a CUDA out-of-memory error, a process the kernel killed with
  SIGKILL): the next attempt runs on the class with the least memory above this one's, when one
  declares more (both classes must declare ``memory_gb``);
- a timeout: on the fastest class that is faster than this one (``ClassSpeeds``), when there is one;
- a lost worker or node (the runtime lost the task): on the same class, which the runtime places on a
  live worker; on Dask, away from the lost worker's host.

Each move goes to strictly more memory or speed, so a trial moves at most as many times as there are
classes. A move to another class is a new run, not a repeat of the same one, so the driver makes it
whatever ``retries`` says; a lost trial stays on its class and is retried within ``retries``.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..trial import ComputeClass

OUT_OF_MEMORY, TIMEOUT, LOST = "out of memory", "timeout", "lost"
#: what a reason says when the trial ran out of memory
MEMORY_SIGNS = ("MemoryError", "out of memory", "OutOfMemoryError")


@dataclass(frozen=True)
class Move:
    """The class the next attempt of a trial runs on, and why."""

    cls: str
    why: str


def cause_of(reason: str) -> str | None:
    """OUT_OF_MEMORY, TIMEOUT or LOST when the reason says so, else None."""
    if any(sign in reason for sign in MEMORY_SIGNS):
        return OUT_OF_MEMORY
    if reason.startswith("timeout: killed after"):
        return TIMEOUT
    if reason.startswith("lost:"):
        return LOST
    return None


def retry_move(reason: str, cls: ComputeClass, classes: list[ComputeClass], speeds: dict[str, float],
               host: str | None = None) -> Move | None:
    """Where the next attempt of a trial that ended for ``reason`` on ``cls`` (on ``host``) should run, or
    None when no class cures the cause (then the study's ``retries`` decide, on any class)."""
    cause = cause_of(reason)
    if cause == OUT_OF_MEMORY and cls.memory_gb is not None:
        larger = [c for c in classes if c.memory_gb is not None and c.memory_gb > cls.memory_gb]
        if larger:
            target = min(larger, key=lambda c: (c.memory_gb, -speeds.get(c.name, 0.0)))
            return Move(target.name, f"out of memory on {cls.name} ({cls.memory_gb:g} GB): "
                                     f"retried on {target.name} ({target.memory_gb:g} GB)")
    if cause == TIMEOUT:
        here = speeds.get(cls.name, 0.0)
        faster = [c for c in classes if speeds.get(c.name, 0.0) > here]
        if faster:
            target = max(faster, key=lambda c: speeds[c.name])
            return Move(target.name, f"timeout on {cls.name}: retried on {target.name}, "
                                     f"{speeds[target.name] / max(here, 1e-12):.2g}x as fast")
    if cause == LOST:
        where = f" (on {host})" if host else ""
        return Move(cls.name, f"its worker was lost{where}: run again on a live worker of {cls.name}")
    return None
