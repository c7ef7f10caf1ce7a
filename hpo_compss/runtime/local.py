"""The embedded local engine: trials in worker processes on this machine, one per reserved slot.

Each worker is a fresh interpreter (``hpo_compss.runtime.worker``) started with its slot's
environment, so thread counts and ``CUDA_VISIBLE_DEVICES`` are set before any library reads them;
it pins itself to its cores and runs one trial at a time. A worker is kept for the next trial of the
same class on the same cores (like COMPSs' persistent workers) unless ``fresh_process`` is set.
Timeouts kill the worker's whole process group; a worker that dies is reported as the trial's crash.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from ..experiment import ComputeClass
from .resources import Assignment, Machine, ResourcePool

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "BLIS_NUM_THREADS")
#: how often to look at workers where the kernel cannot signal a process's exit (no pidfd)
POLL_SECONDS = 0.5


@dataclass(eq=False)
class _Worker:
    process: subprocess.Popen
    connection: Connection
    pidfd: int | None
    assignment: Assignment
    task: dict | None = None
    #: when the current task was sent (wall clock, for records; monotonic, for the deadline)
    sent: float = 0.0
    deadline: float = float("inf")

    def kill(self) -> int:
        """Kill the worker and everything it started; returns its exit status."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return self.process.wait()

    def close(self) -> None:
        self.connection.close()
        if self.pidfd is not None:
            os.close(self.pidfd)


@dataclass(frozen=True)
class Finished:
    """A trial that ended on the engine: the task as submitted and the outcome the runner (or we) wrote."""

    task: dict
    outcome: dict
    #: where it ran; None for a trial that never ran (its config could not be built)
    assignment: Assignment | None


class LocalEngine:
    """Runs trials on this machine's cores and GPUs; see the module docstring."""

    def __init__(self, machine: Machine, classes: list[ComputeClass], objective: str, study_dir: Path,
                 timeout: float | None = None, fresh_process: bool = False):
        self.pool = ResourcePool(machine)
        self.classes = classes
        self.objective = objective
        self.study_dir = Path(study_dir)
        self.timeout = timeout
        self.fresh_process = fresh_process
        self.workers: list[_Worker] = []
        self.host = socket.gethostname()
        self._log = open(self.study_dir / "workers.log", "ab")

    @property
    def running(self) -> int:
        return sum(1 for w in self.workers if w.task is not None)

    def free_class(self) -> ComputeClass | None:
        """The first class, in declared order, with room for one more trial now."""
        return next((cls for cls in self.classes if self.pool.fits(cls)), None)

    def submit(self, task: dict, cls: ComputeClass) -> Assignment:
        """Start ``task`` on a worker of ``cls`` (the caller checked ``free_class``)."""
        idle = [w for w in self.workers if w.task is None]
        worker = next((w for w in idle if w.assignment.cls == cls and self._free(w.assignment)), None)
        if worker is not None:
            self.pool.acquire(cls, preferred=worker.assignment)
        else:
            held = frozenset(x for w in idle for x in (*w.assignment.cores, *w.assignment.gpus))
            assignment = self.pool.acquire(cls, avoid=held)
            for other in idle:
                if set(other.assignment.cores) & set(assignment.cores) or set(other.assignment.gpus) & set(assignment.gpus):
                    self._retire(other)
            worker = self._spawn(assignment)
        worker.task = task
        worker.sent = time.time()
        worker.deadline = time.monotonic() + self.timeout if self.timeout else float("inf")
        worker.connection.send(task)
        return worker.assignment

    def wait(self, timeout: float | None) -> list[Finished]:
        """Wait up to ``timeout`` seconds for trials to end; returns those that did (maybe none)."""
        busy = [w for w in self.workers if w.task is not None]
        if not busy:
            return []
        now = time.monotonic()
        limit = min([w.deadline for w in busy] + [now + timeout if timeout is not None else float("inf")])
        if any(w.pidfd is None for w in busy):
            limit = min(limit, now + POLL_SECONDS)
        handles = [h for w in busy for h in (w.connection, w.pidfd) if h is not None]
        ready = set(wait(handles, None if limit == float("inf") else max(0.0, limit - now)))
        finished = []
        now = time.monotonic()
        for worker in busy:
            if worker.connection in ready:
                try:
                    outcome = worker.connection.recv()
                except (EOFError, OSError):
                    outcome = None
                if outcome is not None:
                    finished.append(self._done(worker, outcome))
                    if self.fresh_process:
                        self._retire(worker)
                    continue
            if worker.connection in ready or worker.pidfd in ready or worker.process.poll() is not None:
                finished.append(self._done(worker, self._failure(worker, _death_reason(worker.kill()))))
                self._retire(worker)
            elif now >= worker.deadline:
                worker.kill()
                finished.append(self._done(worker, self._failure(worker, f"timeout: killed after {self.timeout:g} s")))
                self._retire(worker)
        return finished

    def cancel(self, reason: str) -> list[Finished]:
        """Kill every running trial; each is returned as cancelled with ``reason``."""
        cancelled = []
        for worker in [w for w in self.workers if w.task is not None]:
            worker.kill()
            outcome = self._failure(worker, reason)
            outcome["status"] = "cancelled"
            cancelled.append(self._done(worker, outcome))
            self._retire(worker)
        return cancelled

    def close(self) -> None:
        """Stop every worker: idle ones are told to exit, stragglers are killed."""
        for worker in self.workers:
            worker.connection.close()
        deadline = time.monotonic() + 2.0
        for worker in self.workers:
            try:
                worker.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            worker.kill()
            if worker.pidfd is not None:
                os.close(worker.pidfd)
        self.workers.clear()
        self._log.close()

    def __enter__(self) -> "LocalEngine":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _free(self, assignment: Assignment) -> bool:
        return set(assignment.cores) <= self.pool.free_cores and set(assignment.gpus) <= self.pool.free_gpus

    def _done(self, worker: _Worker, outcome: dict) -> Finished:
        task, worker.task = worker.task, None
        self.pool.release(worker.assignment)
        return Finished(task, outcome, worker.assignment)

    def _failure(self, worker: _Worker, reason: str) -> dict:
        assignment = worker.assignment
        return {"status": "failed", "reason": reason, "host": self.host, "pid": worker.process.pid,
                "cores": list(assignment.cores), "gpus": list(assignment.gpus),
                "start": worker.sent, "end": time.time()}

    def _retire(self, worker: _Worker) -> None:
        if worker.process.poll() is None:
            worker.kill()
        worker.close()
        self.workers.remove(worker)

    def _spawn(self, assignment: Assignment) -> _Worker:
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        env.update({name: str(assignment.cls.cpus) for name in THREAD_VARIABLES})
        env.update({
            "CUDA_VISIBLE_DEVICES": ",".join(assignment.gpus),
            "HPO_COMPSS_CORES": ",".join(map(str, assignment.cores)),
            "HPO_COMPSS_STUDY": str(self.study_dir.resolve()),
            "HPO_COMPSS_FRESH_PROCESS": "1" if self.fresh_process else "0",
            # the driver's import path, so the worker finds the objective exactly as the driver did
            "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
        })
        process = subprocess.Popen(
            [sys.executable, "-m", "hpo_compss.runtime.worker", str(theirs.fileno()), str(os.getpid()), self.objective],
            env=env, pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log,
            start_new_session=True)
        theirs.close()
        pidfd = os.pidfd_open(process.pid) if hasattr(os, "pidfd_open") else None
        worker = _Worker(process, Connection(ours.detach()), pidfd, assignment)
        self.workers.append(worker)
        return worker


def _death_reason(status: int) -> str:
    if status < 0:
        name = signal.Signals(-status).name
        hint = " (out of memory?)" if name == "SIGKILL" else ""
        return f"crashed: killed by {name}{hint}"
    return f"crashed: the process exited with code {status}"
