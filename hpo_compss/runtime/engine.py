"""What the driver needs of a backend: the calls both engines answer, and what they return."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Union

from ..clock import Clock
from ..trial import ComputeClass, Outcome, Report, Trial
from .resources import Assignment


@dataclass(frozen=True)
class Finished:
    """A trial that ended on an engine: the trial as submitted and the outcome the runner (or we) wrote."""

    trial: Trial
    outcome: Outcome
    #: where it ran; None for a trial that never ran (its config could not be built)
    assignment: Assignment | None


#: what ``Engine.wait`` returns, in the order it happened: a running trial's report, or a trial's end
Event = Union[Finished, Report]


class Engine(Protocol):
    """Runs trials; knows nothing of search. ``LocalEngine`` and ``CompssEngine`` implement it."""

    #: "local" or "compss", for the journal
    name: str
    #: the compute classes it places trials of
    classes: list[ComputeClass]
    #: the time its trials run in: the system's, or a simulation's virtual time
    clock: Clock

    @property
    def running(self) -> int:
        """Trials submitted and not yet returned by ``wait`` or ``cancel``."""

    def describe(self) -> str:
        """Where trials run, for the start-up line."""

    def free_classes(self) -> list[ComputeClass]:
        """The classes with room for one more trial now, in declared order (the driver picks among them)."""

    def submit(self, trial: Trial, cls: ComputeClass) -> Assignment | None:
        """Start ``trial`` on a slot of ``cls`` (one of ``free_classes``); returns its cores and
        GPUs when the engine picks them itself (the local engine), None when a runtime places it later."""

    def stop(self, trial: int, status: str) -> None:
        """Stop a running trial for its scheduler: it ends as ``status`` (PRUNED or PAUSED), never as failed."""

    def discard_checkpoint(self, path: str) -> None:
        """Delete the checkpoint folder of a trial that will never run again."""

    def wait(self, timeout: float | None) -> list[Event]:
        """Reports and ends of trials within ``timeout`` seconds (maybe none), in order.

        A trial a batch system's stop signal ended comes back ``cancelled`` (the driver runs it again);
        a worker lost before the trial's objective started is the engine's to replace, never an outcome.
        """

    def cancel(self, reason: str) -> list[Finished]:
        """Stop every running trial; each is returned: as it ended if it had finished, else cancelled."""

    def close(self) -> None:
        """Release workers and runtime resources."""

    def __enter__(self) -> "Engine": ...

    def __exit__(self, *exc: object) -> None: ...
