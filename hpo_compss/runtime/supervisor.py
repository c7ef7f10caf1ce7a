"""One trial inside a COMPSs task: run it in a child process, hold its deadline, report through the inbox.

The COMPSs worker's own process only supervises. The trial runs in a fresh worker process
(``process.WorkerProcess``) that inherits the task's binding (its CPU affinity, ``COMPSS_*`` and
``CUDA_VISIBLE_DEVICES``), so a segfault, an ``os._exit`` or a hang in C code is the trial's recorded
failure, the timeout is exact, and the COMPSs worker lives on. Whatever happens, the outcome is
written to the study's inbox before the task returns; a cancellation by the runtime (``SIGUSR2``) or
its backstop ``time_out`` (``SIGALRM``) interrupts the wait, and the child is killed on the way out.
"""
from __future__ import annotations

import math
import os
import socket
import time
from multiprocessing.connection import wait

from . import inbox
from .process import WorkerProcess, death_reason, timeout_reason, worker_environment
from .runner import trial_resources

#: how often to look at the child where the kernel cannot signal a process's exit (no pidfd)
POLL_SECONDS = 0.5


def supervise(objective: str, task: dict, study_dir: str, timeout: float | None) -> dict:
    """Run ``task`` in a child process on the resources this process was given; returns its outcome."""
    placed = trial_resources()
    host = socket.gethostname()
    heartbeat = inbox.announce(study_dir, task, {"host": host, "pid": os.getpid(), "start": time.time()})
    env = worker_environment(placed.threads, placed.gpus, fresh_process=True)
    with open(os.path.join(study_dir, "workers.log"), "ab") as log:
        worker = WorkerProcess(objective, study_dir, env, log)
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
        worker.close()
    inbox.deliver(study_dir, task, outcome)
    return outcome
