"""The study's shared vocabulary, below every module but ``errors``: the compute classes trials run in.

Typed values only, no logic beyond them. The experiment file, the engines and the driver all speak
them, so an engine names a class without importing the experiment file's parser (and with it every
searcher and scipy.optimize, which a COMPSs task looking up its function does not need).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ComputeClass:
    """What one trial of this class needs: the local engine's slot and the COMPSs @constraint."""

    name: str
    cpus: int = 1
    gpus: int = 0
    memory_gb: float | None = None
    max_tasks: int | None = None

    def to_json(self) -> dict:
        body: dict[str, Any] = {"cpus": self.cpus, "gpus": self.gpus}
        if self.memory_gb is not None:
            body["memory_gb"] = self.memory_gb
        if self.max_tasks is not None:
            body["max_tasks"] = self.max_tasks
        return body
