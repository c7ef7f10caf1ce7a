"""One trial inside a COMPSs task: run it in a child process, hold its deadline, report through the inbox.

The COMPSs worker's own process only supervises. The trial runs in a worker process of ours
(``process.WorkerProcess``) that inherits the task's binding (its CPU affinity, ``COMPSS_*`` and
``CUDA_VISIBLE_DEVICES``), so a segfault, an ``os._exit`` or a hang in C code is the trial's recorded
failure, the timeout is exact, and the COMPSs worker lives on. COMPSs keeps its Python workers
between tasks, and so does this module: the child is reused by the next task given the same
binding (unless ``fresh_process``), so data an objective loads at import is loaded once, as on the
local engine. Whatever happens, the outcome is written to the study's inbox before the task
returns; a cancellation by the runtime (``SIGUSR2``) or its backstop ``time_out`` (``SIGALRM``)
interrupts the wait, and the child is killed on the way out.
"""
from __future__ import annotations

import atexit
import math
import os
import socket
import time
from multiprocessing.connection import wait

from . import inbox
from .process import WorkerProcess, death_reason, timeout_reason, worker_environment
from .runner import TrialResources, trial_resources

#: how often to look at the child where the kernel cannot signal a process's exit (no pidfd)
POLL_SECONDS = 0.5


def supervise(objective: str, task: dict, study_dir: str, timeout: float | None, fresh_process: bool = False) -> dict:
    """Run ``task`` in a child process on the resources this process was given; returns its outcome."""
    placed = trial_resources()
    host = socket.gethostname()
    heartbeat = inbox.announce(study_dir, task, {"host": host, "pid": os.getpid(), "start": time.time()})
    worker = _worker(objective, study_dir, placed, fresh_process)
    kept = False
    try:
        start = time.time()
        worker.send(task)
        deadline = time.monotonic() + timeout if timeout else math.inf
        handles = [h for h in (worker.connection, worker.pidfd) if h is not None]
        while True:
            step = min(inbox.HEARTBEAT_SECONDS, deadline - time.monotonic())
            if worker.pidfd is None:
                step = min(step, POLL_SECONDS)
            ready = wait(handles, max(0.0, step))
            if worker.connection in ready:
                try:
                    outcome = worker.connection.recv()
                    kept = not fresh_process
                    break
                except (EOFError, OSError):
                    pass  # it died: below
            if ready or not worker.alive():
                outcome = worker.failure(task, death_reason(worker.kill()), start, host, placed.cores, placed.gpus)
                break
            if time.monotonic() >= deadline:
                worker.kill()
                outcome = worker.failure(task, timeout_reason(timeout), start, host, placed.cores, placed.gpus)
                break
            inbox.touch(heartbeat)
    finally:
        if not kept:
            _retire()
    inbox.deliver(study_dir, task, outcome)
    return outcome


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
        _kept = (purpose, WorkerProcess(objective, study_dir, env, log))
    return _kept[1]


@atexit.register
def _retire() -> None:
    global _kept
    if _kept is not None:
        _kept[1].close()
        _kept = None
