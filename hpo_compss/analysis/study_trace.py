"""A study's own Paraver trace, written from its journal (by ``run`` after each run of the local engine).

Every attempt that ran (complete, failed or cancelled, with its start and end) is one task; its
task type is its compute class (value = the class's position + 1, labelled in the ``.pcf``), its
task id its order of start, so ``hpo-compss trace`` and Paraver read it as they read COMPSs' own.
The journal is streamed and only what the trace needs is kept of each attempt, so memory follows
the number of attempts, not the size of their records.
"""
from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Iterable

from .paraver import TaskRun, write_trace

TRACE_FILE = Path("trace") / "hpo_compss.prv"


def write_study_trace(directory: Path, records: Iterable[dict], class_names: list[str]) -> Path | None:
    """Write ``directory/trace/hpo_compss.prv`` (with .pcf and .row); None when no trial has run yet."""
    names = list(class_names)
    ran = []
    for record in records:
        if "trial" not in record or record.get("start") is None or record.get("end") is None:
            continue
        cls = record.get("class", "trial")
        if cls not in names:
            names.append(cls)
        ran.append(TaskRun(0, names.index(cls) + 1, sys.intern(record.get("host", "localhost")),
                           tuple(record.get("cores") or ()), record["start"], record["end"], len(record.get("gpus") or ())))
    if not ran:
        return None
    ran.sort(key=lambda run: run.start)
    for index, run in enumerate(ran):  # task ids in order of start
        ran[index] = replace(run, task_id=index + 1)
    return write_trace(Path(directory) / TRACE_FILE, ran, {i: f"trial ({name})" for i, name in enumerate(names, 1)})


def trace_study(directory: str | Path) -> Path | None:
    """Write the trace of the study in ``directory`` from its journal; None when no trial has run yet."""
    from ..folder import journal_of, load_study

    classes = [cls.name for cls in load_study(directory, check=False).compute_classes]
    return write_study_trace(Path(directory), journal_of(directory).records(skip_damaged=True), classes)
