"""One trial inside a COMPSs task: run it in a child process, hold its deadline, report through the inbox.

The COMPSs worker's own process only supervises. The trial runs in a worker process of ours
(``process.WorkerProcess``) that inherits the task's binding (its CPU affinity, ``COMPSS_*`` and
``CUDA_VISIBLE_DEVICES``), so a segfault, an ``os._exit`` or a hang in C code is the trial's recorded
failure, the timeout is exact, and the COMPSs worker lives on. COMPSs keeps its Python workers
between tasks, and so does this module: the child is kept for the next task given the same
binding (unless ``fresh_process``), so data an objective loads at import is loaded once, as on the
local engine. As there, the timeout counts from the objective's start, a child lost before that is
replaced without charging an attempt, and one a stop signal killed leaves the trial ``cancelled``.
Whatever happens, the outcome is written to the study's inbox before the task returns; a
cancellation by the runtime (``SIGUSR2``) or its backstop ``time_out`` (``SIGALRM``) interrupts the
wait, and the child is killed on the way out.
"""
from __future__ import annotations

import atexit
import math
import os
import socket
import time
import uuid
from multiprocessing.connection import wait

from ..trial import Outcome, Trial
from . import inbox
from .process import (MAX_LOST_BEFORE_START, START_UP_SECONDS, WorkerProcess, ending, start_up_reason, timeout_reason,
                      worker_environment)
from .runner import OUTCOME, STARTED, TrialResources, failed, trial_resources

#: how often to look at the child where the kernel cannot signal a process's exit (no pidfd)
POLL_SECONDS = 0.5
#: marks the children of this process and all they start (``descendants``)
RUN = f"compss-{uuid.uuid4().hex}"


def supervise(objective: str, trial: Trial, study_dir: str, timeout: float | None, fresh_process: bool = False) -> Outcome:
    """Run ``trial`` in a child process on the resources this process was given; returns its outcome."""
    placed = trial_resources()
    host = socket.gethostname()
    heartbeat = inbox.announce(study_dir, trial, {"host": host, "pid": os.getpid(), "start": time.time()})
    outcome = None
    for lost in range(1, MAX_LOST_BEFORE_START + 1):
        worker = _worker(objective, study_dir, placed, fresh_process)
        try:
            outcome, reason = _run(worker, trial, timeout, heartbeat, placed, host)
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
         host: str) -> tuple[Outcome | None, str]:
    """The trial's outcome on ``worker``; None (with why) when the worker was lost before the objective started."""
    began = time.time()
    started = False
    worker.send(trial)
    deadline = time.monotonic() + START_UP_SECONDS if timeout else math.inf
    handles = [h for h in (worker.connection, worker.pidfd) if h is not None]
    while True:
        step = min(inbox.HEARTBEAT_SECONDS, deadline - time.monotonic())
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
            if kind == STARTED:  # (reports are not passed on: no scheduler stops trials on COMPSs)
                started, began = True, body
                deadline = time.monotonic() + timeout if timeout else math.inf
        if closed or worker.pidfd in ready or not worker.alive():
            status, reason = ending(worker.reap())
            if not started:
                return None, reason
            return worker.failure(trial, reason, began, host, placed.cores, placed.gpus, status), ""
        if time.monotonic() >= deadline:
            worker.kill()
            reason = timeout_reason(timeout) if started else start_up_reason(START_UP_SECONDS)
            return worker.failure(trial, reason, began, host, placed.cores, placed.gpus), ""
        inbox.touch(heartbeat)


#: the child kept for the next task, and what it was started for
_kept: tuple[tuple, WorkerProcess] | None = None


def _worker(objective: str, study_dir: str, placed: TrialResources, fresh_process: bool) -> WorkerProcess:
    """The kept child if it was started for this objective, study and binding; else a new one."""
    global _kept
    purpose = (objective, study_dir, placed, os.environ.get("CUDA_VISIBLE_DEVICES"), fresh_process)
    if _kept is not None and _kept[0] == purpose and _kept[1].alive():
        return _kept[1]
    _retire()
    env = worker_environment(placed.threads, placed.gpus, fresh_process=fresh_process)
    with open(os.path.join(study_dir, "workers.log"), "ab") as log:
        _kept = (purpose, WorkerProcess(objective, study_dir, env, log, RUN))
    return _kept[1]


@atexit.register
def _retire() -> None:
    global _kept
    if _kept is not None:
        _kept[1].close()
        _kept = None
