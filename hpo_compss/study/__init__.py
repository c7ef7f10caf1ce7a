"""Running a study: ask the searcher, submit trials, harvest results, journal them, tell, stop, resume.

- ``driver``: the loop, and the replay of a journal when a study resumes;
- ``stop_rules``: the target, patience and failing-start rules;
- ``progress``: what a run prints;
- ``signals``: SIGINT and SIGTERM as flags the loop acts on between steps.

The study's folder, journal and lock are the layer below (``folder``, ``journal``, ``lock``).
"""
from __future__ import annotations

from pathlib import Path
from typing import IO

from ..experiment import Experiment
from ..folder import open_study
from ..runtime.dask_engine import DaskOptions
from ..runtime.engine import Engine
from ..runtime.resources import Machine, usable_classes
from .driver import Driver, StudyResult
from .signals import Interrupted

__all__ = ["Interrupted", "StudyResult", "run_study"]


def run_study(experiment: Experiment, directory: Path, machine: Machine, out: IO[str] | None = None,
              backend: str = "local", max_running: int | None = None, engine: Engine | None = None,
              dask: DaskOptions | None = None) -> StudyResult:
    """Run (or resume) the study in ``directory`` until its budget or a stop condition ends it.

    Progress lines go to ``out``, the standard output of the moment by default.
    ``backend`` is "local" (this machine), "compss" (tasks on the PyCOMPSs runtime, or the binding's
    sequential mode outside it) or "dask" (the cluster ``dask`` names or starts); ``max_running`` caps
    the trials handed to COMPSs at once. An ``engine``
    given here (``runtime.simulated.SimulatedEngine``) is used instead, in its own time.
    """
    if engine is None and backend == "local":
        usable_classes(experiment.compute_classes, machine)  # refused before any folder is made
    directory = open_study(experiment, directory)
    return Driver(experiment, directory, machine, out, backend, max_running, engine, dask).run()
