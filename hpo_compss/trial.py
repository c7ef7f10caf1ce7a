"""The study's shared vocabulary, below every module but ``errors``: trials and the classes they run in.

Typed values only, no logic beyond them. The experiment file, the engines and the driver all speak
them, so an engine names a class without importing the experiment file's parser (and with it every
searcher and scipy.optimize, which a COMPSs task looking up its function does not need).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ComputeClass:
    """What one trial of this class needs: the local engine's slot and the COMPSs @constraint."""

    name: str
    cpus: int = 1
    gpus: int = 0
    memory_gb: float | None = None
    max_tasks: int | None = None
    #: how fast it runs trials, relative to the other classes (None: as fast as its cores say), until
    #: the trials' durations say otherwise
    speed: float | None = None

    def to_json(self) -> dict:
        body: dict[str, Any] = {"cpus": self.cpus, "gpus": self.gpus}
        for key in ("memory_gb", "max_tasks", "speed"):
            if getattr(self, key) is not None:
                body[key] = getattr(self, key)
        return body


@dataclass(frozen=True)
class Trial:
    """One attempt of one repeat of one config: what the driver submits and an engine runs.

    Trial ``id`` is ``config_id * repeats + repeat``; each retry is a new ``attempt`` of the same id.
    """

    id: int
    config_id: int
    repeat: int
    attempt: int
    seed: int
    config: dict
    #: the exclusive sub-space the config came from ("" when the space has only one)
    subspace: str = ""
    #: the content hash of the objective's source this run uses
    source: str | None = None
    #: the key of the objective's result dict to optimise
    metric: str = "loss"
    #: ``trials/<id>``, where its output files go
    workdir: str = ""
    #: the experiment's input files and folders by name, as paths on the node running the trial
    inputs: dict[str, str] = field(default_factory=dict)
    #: COMPSs: which submission of this attempt, so a late outcome of an earlier one is told apart
    token: str = ""
    #: the resource (epochs, iterations...) to run up to in this attempt, as a scheduler set it; None: no limit
    budget: float | None = None
    #: a promoted trial: the last step its earlier run reported (its reports go on after it)
    after_step: float | None = None
    #: COMPSs: its checkpoint folder as the runtime staged it on the node running it ("": the one below)
    staged_checkpoint: str = ""

    @property
    def checkpoint_dir(self) -> str:
        """Kept across the trial's attempts and rungs: ``trials/<id>/checkpoint``, or its staged copy."""
        return self.staged_checkpoint or checkpoint_of(self.workdir)

    def record(self) -> dict:
        """The fields every journal record of the trial carries (``jq`` reads them by these names)."""
        record = {"trial": self.id, "config_id": self.config_id, "repeat": self.repeat, "attempt": self.attempt,
                  "seed": self.seed, "config": self.config, "subspace": self.subspace, "source": self.source}
        if self.budget is not None:
            record["budget"] = self.budget
        if self.after_step is not None:
            record["after_step"] = self.after_step
        return record


def checkpoint_of(workdir: str) -> str:
    """The checkpoint folder of the trial whose folder is ``workdir``."""
    return f"{workdir}/checkpoint" if workdir else "checkpoint"


#: how an attempt can end: a ``pruned`` trial was stopped by the study's scheduler, a ``paused`` one returned
#: at a rung's budget and waits there to be promoted
COMPLETE, FAILED, CANCELLED, PRUNED, PAUSED = "complete", "failed", "cancelled", "pruned", "paused"
STOPPED = (PRUNED, PAUSED)


@dataclass(frozen=True)
class Report:
    """An intermediate value a running trial reported (``trial.report(step, value)``)."""

    trial: int
    attempt: int
    step: float
    value: float
    time: float

    def record(self) -> dict:
        """Its journal record (``progress``)."""
        return {"progress": self.trial, "attempt": self.attempt, "step": self.step, "value": self.value,
                "time": self.time}


@dataclass
class Outcome:
    """How one attempt ended: as its runner saw it, or as the engine did when the runner could not say."""

    status: str = ""  # COMPLETE, FAILED, CANCELLED, PRUNED or PAUSED; "" while the attempt runs
    reason: str = ""
    start: float | None = None
    end: float | None = None
    value: float | None = None
    #: what the objective returned beside the metric (each value bounded; all of it in ``extras_file``)
    extras: dict | None = None
    #: the file, relative to the study folder, holding extras too large for a journal line
    extras_file: str | None = None
    host: str | None = None
    pid: int | None = None
    cores: list[int] | None = None
    gpus: list[str] | None = None
    #: the last step the trial reported (stopped trials: the step it was stopped at)
    step: float | None = None

    def record(self) -> dict:
        """The journal's fields for it: those that are set."""
        return {key: value for key, value in vars(self).items() if value is not None and value != ""}

    @classmethod
    def from_record(cls, data: dict) -> "Outcome":
        """An outcome read back from JSON (an inbox file); unknown keys are left out."""
        return cls(**{key: data[key] for key in cls.__dataclass_fields__ if key in data})
