"""The COMPSs tasks: one trial is one ``@task`` carrying its compute class's ``@constraint``.

Imported only by the COMPSs backend (it imports pycompss). COMPSs workers import a task function by
module and name, so the functions live here, in the package, never in ``__main__``.

A CPU class's cores and memory are dynamic constraints naming task parameters (``computing_units=
"cores"``), so one function serves every CPU class. ``processors`` cannot be dynamic: each GPU shape
(cpus, gpus) needs a function of its own. Functions are therefore built from their name
(``trial``, ``trial_mem``, ``trial_c4g1_files_ckpt``...): on the master by ``task_for``, and on a
worker by this module's ``__getattr__`` when the runtime looks the name up.

Under a scheduler that pauses and promotes trials, each run of a trial (each rung) is its own task,
and the trial's checkpoint folder is its ``DIRECTORY_INOUT`` parameter (the ``_ckpt`` functions): the
runtime stages it to the node that runs the task and keeps the version the task leaves for the
next rung, wherever that runs, with or without a shared file system.

Every keyword given to the binding is written in ``decorator_arguments``: the binding takes a
misspelt ``@task`` keyword silently as a parameter spec, so they are kept in one tested place.
"""
from __future__ import annotations

import math
import re
from dataclasses import replace
from typing import Any, Callable

from pycompss.api.constraint import constraint
from pycompss.api.on_failure import on_failure
from pycompss.api.parameter import COLLECTION_FILE_IN, DIRECTORY_IN, DIRECTORY_INOUT
from pycompss.api.task import task

from ..trial import ComputeClass, Trial
from .supervisor import supervise

#: what a task returns when the runtime gives up on it (on_failure="IGNORE"): the trial's failure record
LOST = {"status": "failed", "reason": "lost: the COMPSs task ended without reporting (its worker or node died, "
                                      "or the runtime killed it); see the runtime's job logs"}
#: the runtime's ``time_out`` is a backstop, this long after the supervisor's own exact kill
BACKSTOP_SECONDS = 60
_NAME = re.compile(r"^trial(?:_c(\d+)g(\d+))?(_mem)?(_files)?(_ckpt)?$")


def task_name(cls: ComputeClass, files: bool, checkpoints: bool = False) -> str:
    shape = f"_c{cls.cpus}g{cls.gpus}" if cls.gpus else ""
    return f"trial{shape}{'_mem' if cls.memory_gb else ''}{'_files' if files else ''}{'_ckpt' if checkpoints else ''}"


def decorator_arguments(name: str, time_out: int) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The ``@on_failure``, ``@constraint`` and ``@task`` keywords of the task function called ``name``."""
    match = _NAME.match(name)
    if match is None:
        raise ValueError(f"not a trial task name: {name!r}")
    cpus, gpus, memory, files, checkpoints = match.groups()
    if gpus:
        constraints: dict[str, Any] = {"processors": [{"processorType": "CPU", "computingUnits": cpus},
                                                       {"processorType": "GPU", "computingUnits": gpus}]}
    else:
        constraints = {"computing_units": "cores"}
    if memory:
        constraints["memory_size"] = "memory"
    task_arguments: dict[str, Any] = {"returns": 1, "time_out": time_out, "varargs_type": DIRECTORY_IN}
    if files:
        task_arguments["files"] = COLLECTION_FILE_IN
    if checkpoints:
        task_arguments["checkpoint"] = DIRECTORY_INOUT
    return {"management": "IGNORE", "returns": LOST}, constraints, task_arguments


def task_for(cls: ComputeClass, files: bool, timeout: float | None, checkpoints: bool = False) -> Callable:
    """The task function for trials of ``cls``; ``timeout`` sets the runtime's backstop ``time_out``."""
    time_out = math.ceil(timeout) + BACKSTOP_SECONDS if timeout else 0
    return _build(task_name(cls, files, checkpoints), time_out)


def _build(name: str, time_out: int) -> Callable:
    if name in globals():
        return globals()[name]
    failure, constraints, task_arguments = decorator_arguments(name, time_out)

    def trial(submitted: Trial, objective: str, study_dir: str, timeout: float | None, fresh_process: bool,
              names: list, cores: int, memory: str | None, files: list | None, checkpoint: str | None,
              *folders: str) -> dict:
        """Run one trial; ``files`` and ``folders`` are the inputs as staged on this node, named by ``names``,
        and ``checkpoint`` the trial's checkpoint folder as staged here (None: the study folder's is used)."""
        inputs = dict(zip(names, [*(files or ()), *folders]))
        return supervise(objective, replace(submitted, inputs=inputs, staged_checkpoint=checkpoint or ""), study_dir,
                         timeout, fresh_process)

    trial.__name__ = trial.__qualname__ = name
    function = on_failure(**failure)(constraint(**constraints)(task(**task_arguments)(trial)))
    globals()[name] = function
    return function


def __getattr__(name: str) -> Callable:
    """A COMPSs worker looks a task function up by name: build it (its time_out is the master's business)."""
    if _NAME.match(name) is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return _build(name, 0)
