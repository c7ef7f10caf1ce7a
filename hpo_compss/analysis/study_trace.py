"""A study's own Paraver trace, written from its journal after each run of the local engine.

Every attempt that ran (complete, failed or cancelled, with its start and end) is one task; its
task type is its compute class (value = the class's position + 1, labelled in the ``.pcf``), its
task id its order of start, so ``hpo-compss trace`` and Paraver read it as they read COMPSs' own.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

from ..results import attempts_that_ran
from .paraver import TaskRun, write_trace

TRACE_FILE = Path("trace") / "hpo_compss.prv"


def write_study_trace(directory: Path, records: Iterable[dict], class_names: list[str]) -> Path | None:
    """Write ``directory/trace/hpo_compss.prv`` (with .pcf and .row); None when no trial has run yet."""
    ran = attempts_that_ran(records)
    if not ran:
        return None
    names = list(class_names)
    for record in ran:
        if record.get("class", "trial") not in names:
            names.append(record.get("class", "trial"))
    runs = [TaskRun(task_id=number, task_type=names.index(r.get("class", "trial")) + 1, host=r.get("host", "localhost"),
                    cores=tuple(r.get("cores") or ()), start=r["start"], end=r["end"], gpus=len(r.get("gpus") or ()))
            for number, r in enumerate(ran, 1)]
    return write_trace(Path(directory) / TRACE_FILE, runs, {i: f"trial ({name})" for i, name in enumerate(names, 1)})
