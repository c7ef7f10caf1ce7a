"""One trial inside a COMPSs task: run it in a child process, hold its deadline, report through the inbox.

The COMPSs worker's own process only supervises. The trial runs in a worker process of ours
(``process.WorkerProcess``) that inherits the task's binding (its CPU affinity, ``COMPSS_*`` and
``CUDA_VISIBLE_DEVICES``), so a segfault, an ``os._exit`` or a hang in C code is the trial's recorded
failure, the timeout is exact, and the COMPSs worker lives on. COMPSs keeps its Python workers
between tasks, and so does this module: the child is kept for the next task given the same
binding (unless ``fresh_process``), so data an objective loads at import is loaded once, as on the
local engine. As there, the timeout counts from the objective's start, a child lost before that is
replaced without charging an attempt, and one a stop signal killed leaves the trial ``cancelled``.
The trial's reports go to the inbox as they come, and a stop the driver leaves there reaches the
objective at its next report (``inbox``).
Whatever happens, the outcome is written to the study's inbox before the task returns; a
cancellation by the runtime (``SIGUSR2``) or its backstop ``time_out`` (``SIGALRM``) interrupts the
wait, and the child is killed on the way out.
"""
from __future__ import annotations

import atexit
import math
import os
import threading
import time
import uuid
from multiprocessing.connection import wait

from ..trial import Outcome, Report, Trial
from . import inbox
from .process import (MAX_LOST_BEFORE_START, START_UP_SECONDS, STOP_GRACE, WorkerProcess, ending, start_up_reason,
                      timeout_reason, worker_environment)
from .resources import node_name
from .runner import OUTCOME, PROGRESS, STARTED, STOP, TrialResources, failed, trial_resources

#: how often to look at the child where the kernel cannot signal a process's exit (no pidfd)
POLL_SECONDS = 0.5
#: how often a trial that reports looks for its stop file (a stat on the shared file system)
STOP_POLL_SECONDS = 1.0
#: marks the children of this process and all they start (``descendants``)
RUN = f"compss-{uuid.uuid4().hex}"


def supervise(objective: str, trial: Trial, study_dir: str, timeout: float | None, fresh_process: bool = False,
              placed: TrialResources | None = None, watch_stop: bool = False) -> Outcome:
    """Run ``trial`` in a child process on the resources this process was given (COMPSs' binding), or pinned
    to ``placed``; returns its outcome. With ``watch_stop`` a stop is looked for from the start, not only
    after the first report (a Dask task cannot be interrupted: its engine stops it so when cancelling)."""
    pinned = placed is not None
    placed = placed or trial_resources()
    host = node_name()
    heartbeat = inbox.announce(study_dir, trial, {"host": host, "pid": os.getpid(), "start": time.time()})
    outcome = None
    for lost in range(1, MAX_LOST_BEFORE_START + 1):
        worker = _worker(objective, study_dir, placed, fresh_process, pinned)
        try:
            outcome, reason = _run(worker, trial, timeout, heartbeat, placed, host, study_dir, watch_stop)
        finally:
            if outcome is None or fresh_process:
                _retire()
        if outcome is not None:
            break
    else:
        outcome = failed(f"crashed before the objective started: {reason}, {lost} times (see workers.log)",
                         host=host, cores=list(placed.cores), gpus=list(placed.gpus))
    inbox.deliver(study_dir, trial, outcome)
    return outcome


def _run(worker: WorkerProcess, trial: Trial, timeout: float | None, heartbeat: str, placed: TrialResources,
         host: str, study_dir: str, watch_stop: bool) -> tuple[Outcome | None, str]:
    """The trial's outcome on ``worker``; None (with why) when the worker was lost before the objective started.

    Its reports are appended to its progress file; once it has reported, its stop file is looked for
    every ``STOP_POLL_SECONDS``, and a stop found is passed to the objective, which has ``STOP_GRACE``
    seconds to return before it is killed.
    """
    began = time.time()
    started = False
    last: Report | None = None
    stop: str | None = None
    stop_deadline = math.inf
    look_for_stop = time.monotonic() + STOP_POLL_SECONDS if watch_stop else math.inf
    worker.send(trial)
    deadline = time.monotonic() + START_UP_SECONDS if timeout else math.inf
    handles = [h for h in (worker.connection, worker.pidfd) if h is not None]
    while True:
        now = time.monotonic()
        step = min(inbox.HEARTBEAT_SECONDS, deadline - now, stop_deadline - now, look_for_stop - now)
        if worker.pidfd is None:
            step = min(step, POLL_SECONDS)
        ready = wait(handles, max(0.0, step))
        closed = False
        while worker.connection.ready():
            try:
                kind, body = worker.connection.recv()
            except (EOFError, OSError):
                closed = True
                break
            if kind == OUTCOME:
                return body, ""
            if kind == STARTED:
                started, began = True, body
                deadline = time.monotonic() + timeout if timeout else math.inf
            elif kind == PROGRESS:
                last = Report(trial.id, trial.attempt, *body)
                inbox.report(study_dir, trial, *body)
                look_for_stop = min(look_for_stop, time.monotonic())
        if closed or worker.pidfd in ready or not worker.alive():
            status, reason = ending(worker.reap())
            if not started:
                return None, reason
            return worker.failure(trial, reason, began, host, placed.cores, placed.gpus, status), ""
        now = time.monotonic()
        if now >= deadline:
            worker.kill()
            reason = timeout_reason(timeout) if started else start_up_reason(START_UP_SECONDS)
            return worker.failure(trial, reason, began, host, placed.cores, placed.gpus), ""
        if now >= stop_deadline:
            return worker.halted(trial, last, stop, began, host, placed.cores, placed.gpus), ""
        if now >= look_for_stop:
            stop = inbox.stop_requested(study_dir, trial)
            if stop is None:
                look_for_stop = now + STOP_POLL_SECONDS
            else:
                worker.send((STOP, trial.id, stop))
                stop_deadline, look_for_stop = now + STOP_GRACE, math.inf
        inbox.touch(heartbeat)


#: the child each thread keeps for its next task, and what it was started for (a COMPSs executor runs
#: one task at a time; a Dask worker runs one per thread)
_kept: dict[int, tuple[tuple, WorkerProcess]] = {}


def _worker(objective: str, study_dir: str, placed: TrialResources, fresh_process: bool, pinned: bool) -> WorkerProcess:
    """The kept child if it was started for this objective, study and binding; else a new one (``pinned``:
    to ``placed.cores``, else on this process's own affinity)."""
    purpose = (objective, study_dir, placed, os.environ.get("CUDA_VISIBLE_DEVICES"), fresh_process)
    kept = _kept.get(threading.get_ident())
    if kept is not None and kept[0] == purpose and kept[1].alive():
        return kept[1]
    _retire()
    env = worker_environment(placed.threads, placed.gpus, placed.cores if pinned else (), fresh_process=fresh_process)
    with open(os.path.join(study_dir, "workers.log"), "ab") as log:
        _kept[threading.get_ident()] = (purpose, WorkerProcess(objective, study_dir, env, log, RUN))
    return _kept[threading.get_ident()][1]


def _retire() -> None:
    """Close this thread's kept child."""
    kept = _kept.pop(threading.get_ident(), None)
    if kept is not None:
        kept[1].close()


@atexit.register
def _retire_all() -> None:
    for _, worker in list(_kept.values()):
        worker.close()
    _kept.clear()
