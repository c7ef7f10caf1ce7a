"""The embedded local engine: trials in worker processes on this machine, one per reserved slot.

Each worker is a fresh interpreter (``hpo_compss.runtime.worker``) started with its slot's
environment, so thread counts and ``CUDA_VISIBLE_DEVICES`` are set before any library reads them;
it pins itself to its cores and runs one trial at a time. A worker is kept for the next trial of the
same class on the same cores (like COMPSs' persistent workers) unless ``fresh_process`` is set.

A worker says when the objective starts and passes on the trial's reports as they come. A trial
the driver stops (``stop``) is told so at its next report and ends there as ``pruned`` or ``paused``;
one that has not ended ``STOP_GRACE`` seconds later is killed with its worker, and its slot freed.

A worker says when the objective starts. The timeout counts from there; a worker lost before it
(killed while idle, dead in its start-up) is replaced and the trial sent again without charging an
attempt; one that dies after it is the trial's crash, unless a batch system's stop signal killed it
(then the trial is ``cancelled`` and runs again). A timeout or a cancellation kills the worker's
process group and every process its trials started (``descendants``); a warden process does the
same for all workers if the driver itself dies.

Short trials are pipelined: once a class's trials are seen to take less than ``PREFETCH_BELOW``
seconds, each of its workers is sent its next trials while it still runs one (as a process pool keeps
calls queued), enough to hold about ``QUEUED_WORK`` seconds of work, so a worker never idles through
the driver's round trip and one journal fsync covers many results. A queued trial's timeout starts
when it starts. Long trials are never queued: a searcher should ask as late as it can.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

from ..clock import SYSTEM_CLOCK
from ..trial import FAILED, ComputeClass, Outcome, Report, Trial
from .engine import Event, Finished
from .process import (MAX_LOST_BEFORE_START, START_UP_SECONDS, STOP_GRACE, WorkerProcess, ending, start_up_reason,
                      timeout_reason, worker_environment)
from .resources import Assignment, Machine, ResourcePool, node_name
from .runner import PROGRESS, STARTED, STOP

#: how often to look at workers where the kernel cannot signal a process's exit (no pidfd)
POLL_SECONDS = 0.5
#: trials shorter than this (moving average per class) are queued at their worker ahead of time
PREFETCH_BELOW = 0.25
#: how much work (seconds) to keep queued at a worker of short trials, and at most how many trials
QUEUED_WORK = 0.01
MAX_QUEUED = 8


@dataclass(eq=False)
class _Worker:
    process: WorkerProcess
    assignment: Assignment
    trial: Trial | None = None
    #: the next trials, already sent, waiting in the worker for ``trial`` to finish
    queued: deque = field(default_factory=deque)
    #: whether ``trial``'s objective has started
    started: bool = False
    #: when the objective started, or before that when the trial became the worker's current one (wall clock)
    began: float = 0.0
    #: when to give up on ``trial`` (monotonic)
    deadline: float = float("inf")
    #: the last report of ``trial``
    last: Report | None = None
    #: when to kill the worker of a stopped ``trial`` that has not ended (monotonic)
    stop_deadline: float = float("inf")


def prefetch_depth(average: float | None, fresh_process: bool) -> int:
    """How many trials to queue ahead at a busy slot, for trials of this average duration: none unless they
    are short (the round trip to start one would idle the slot), then about ``QUEUED_WORK`` seconds' worth."""
    if fresh_process or average is None or average >= PREFETCH_BELOW:
        return 0
    return min(MAX_QUEUED, max(1, int(QUEUED_WORK / max(average, 1e-6))))


def remember_duration(durations: dict[str, float], cls: ComputeClass, outcome: Outcome) -> None:
    """Fold a trial's duration into its class's moving average (``prefetch_depth`` reads it)."""
    duration = (outcome.end or 0.0) - (outcome.start or 0.0)
    previous = durations.get(cls.name)
    durations[cls.name] = duration if previous is None else 0.8 * previous + 0.2 * duration


class LocalEngine:
    """Runs trials on this machine's cores and GPUs; see the module docstring."""

    name = "local"
    clock = SYSTEM_CLOCK

    def __init__(self, machine: Machine, classes: list[ComputeClass], objective: str, study_dir: Path,
                 timeout: float | None = None, fresh_process: bool = False):
        self.pool = ResourcePool(machine)
        self.classes = classes
        self.objective = objective
        self.study_dir = Path(study_dir)
        self.timeout = timeout
        self.fresh_process = fresh_process
        self.workers: list[_Worker] = []
        self.host = node_name()
        #: moving average of each class's trial durations, to decide about prefetching
        self.durations: dict[str, float] = {}
        #: workers each trial lost before its objective started, by (trial, attempt)
        self.lost: dict[tuple[int, int], int] = {}
        #: trials told to stop (PRUNED or PAUSED) that have not ended yet, by id
        self.stops: dict[int, str] = {}
        self._log = open(self.study_dir / "workers.log", "ab")
        self.run = uuid.uuid4().hex
        self._warden, self._warden_pipe = _start_warden(self.run, self._log)

    def describe(self) -> str:
        return f"local engine on {self.pool.machine.describe()}"

    @property
    def running(self) -> int:
        return sum((w.trial is not None) + len(w.queued) for w in self.workers)

    def free_classes(self) -> list[ComputeClass]:
        """The classes with room for one more trial now; when none has, those with a place in a queue."""
        return [cls for cls in self.classes if self.pool.fits(cls)] or [
            cls for cls in self.classes if any(w.assignment.cls == cls and self._can_queue(w) for w in self.workers)]

    def submit(self, trial: Trial, cls: ComputeClass) -> Assignment:
        """Start ``trial`` on a worker of ``cls``, or queue it at a busy one (one of ``free_classes``)."""
        if not self.pool.fits(cls):
            worker = next(w for w in self.workers if w.assignment.cls == cls and self._can_queue(w))
            worker.queued.append(trial)
            worker.process.send(trial)
            return worker.assignment
        idle = [w for w in self.workers if w.trial is None]
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
        self._begin(worker, trial)
        worker.process.send(trial)
        return worker.assignment

    def stop(self, trial: int, status: str) -> None:
        """Stop a running (or queued) trial; it ends as ``status`` (PRUNED or PAUSED), by itself or killed."""
        for worker in self.workers:
            current = worker.trial is not None and worker.trial.id == trial
            if current or any(queued.id == trial for queued in worker.queued):
                worker.process.send((STOP, trial, status))
                self.stops[trial] = status
            if current:  # a queued one gets its grace when it starts (``_begin``)
                worker.stop_deadline = min(worker.stop_deadline, time.monotonic() + STOP_GRACE)

    def discard_checkpoint(self, path: str) -> None:
        """Delete a trial's checkpoint folder."""
        shutil.rmtree(path, ignore_errors=True)

    def wait(self, timeout: float | None) -> list[Event]:
        """Wait up to ``timeout`` seconds for trials to report or end; returns what happened (maybe nothing)."""
        busy = [w for w in self.workers if w.trial is not None]
        if not busy:
            return []
        now = time.monotonic()
        limit = min([min(w.deadline, w.stop_deadline) for w in busy]
                    + [now + timeout if timeout is not None else float("inf")])
        if any(w.process.pidfd is None for w in busy):
            limit = min(limit, now + POLL_SECONDS)
        handles = [h for w in busy for h in (w.process.connection, w.process.pidfd) if h is not None]
        ready = set(wait(handles, None if limit == float("inf") else max(0.0, limit - now)))
        finished: list[Event] = []
        now = time.monotonic()
        for worker in busy:
            closed = self._read(worker, finished)
            if self.fresh_process and worker.trial is None:
                self._retire(worker)
            elif worker.trial is None:
                continue
            elif closed or worker.process.pidfd in ready or not worker.process.alive():
                self._lose(worker, finished)
            elif now >= worker.deadline:
                self._expire(worker, finished)
            elif now >= worker.stop_deadline:
                self._halt(worker, finished)
        return finished

    def cancel(self, reason: str) -> list[Finished]:
        """Kill every running trial; what had finished is returned as it was, the rest as cancelled with ``reason``."""
        busy = [w for w in self.workers if w.trial is not None]
        for worker in busy:  # first stop them all, then read what each had sent before it died
            worker.process.kill()
        results: list[Finished] = []
        for worker in busy:
            self._read(worker, results)
            while worker.trial is not None:
                results.append(self._done(worker, self._failure(worker, reason, "cancelled")))
            self._retire(worker)
        return results

    def close(self) -> None:
        """Stop every worker: idle ones are told to exit, stragglers are killed; then the warden goes."""
        for worker in self.workers:
            worker.process.connection.close()
        deadline = time.monotonic() + 2.0
        for worker in list(self.workers):
            try:
                worker.process.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            self._retire(worker)
        os.close(self._warden_pipe)
        try:
            self._warden.wait(5.0)
        except subprocess.TimeoutExpired:
            self._warden.kill()
        self._log.close()

    def __enter__(self) -> "LocalEngine":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _free(self, assignment: Assignment) -> bool:
        return set(assignment.cores) <= self.pool.free_cores and set(assignment.gpus) <= self.pool.free_gpus

    def _can_queue(self, worker: _Worker) -> bool:
        return worker.trial is not None and len(worker.queued) < prefetch_depth(
            self.durations.get(worker.assignment.cls.name), self.fresh_process)

    def _read(self, worker: _Worker, finished: list[Event]) -> bool:
        """Take the messages the worker has sent so far; True when its channel has closed."""
        connection = worker.process.connection
        while worker.trial is not None and connection.ready():
            try:
                kind, body = connection.recv()
            except (EOFError, OSError):
                return True
            if kind == STARTED:
                self._start(worker, body)
            elif kind == PROGRESS:
                worker.last = Report(worker.trial.id, worker.trial.attempt, *body)
                finished.append(worker.last)
            else:
                remember_duration(self.durations, worker.assignment.cls, body)
                finished.append(self._done(worker, body))
        return False

    def _begin(self, worker: _Worker, trial: Trial) -> None:
        """``trial`` is now the worker's current one: it waits for its objective to start."""
        worker.trial = trial
        worker.started = False
        worker.began = time.time()
        worker.deadline = time.monotonic() + START_UP_SECONDS if self.timeout else float("inf")
        worker.last = None
        worker.stop_deadline = time.monotonic() + STOP_GRACE if trial.id in self.stops else float("inf")

    def _start(self, worker: _Worker, began: float) -> None:
        worker.started = True
        worker.began = began
        worker.deadline = time.monotonic() + self.timeout if self.timeout else float("inf")

    def _done(self, worker: _Worker, outcome: Outcome) -> Finished:
        """The current trial ended: the queued one (if any) becomes current on the same slot, else the slot frees."""
        finished = Finished(worker.trial, outcome, worker.assignment)
        self.stops.pop(worker.trial.id, None)
        if worker.queued:
            self._begin(worker, worker.queued.popleft())
        else:
            worker.trial = None
            self.pool.release(worker.assignment)
        return finished

    def _lose(self, worker: _Worker, finished: list[Event]) -> None:
        """The worker died. After its objective started, that ends the trial; before, the trial goes to a new worker."""
        status = worker.process.reap()
        key = (worker.trial.id, worker.trial.attempt)
        if worker.started:
            kind, reason = ending(status)
            finished.append(self._done(worker, self._failure(worker, reason, kind)))
        else:
            self.lost[key] = self.lost.get(key, 0) + 1
            if self.lost[key] >= MAX_LOST_BEFORE_START:
                reason = f"crashed before the objective started: {ending(status)[1]}, {self.lost[key]} times (see workers.log)"
                finished.append(self._done(worker, self._failure(worker, reason)))
        self._replace(worker)

    def _expire(self, worker: _Worker, finished: list[Event]) -> None:
        worker.process.kill()
        reason = timeout_reason(self.timeout) if worker.started else start_up_reason(START_UP_SECONDS)
        finished.append(self._done(worker, self._failure(worker, reason)))
        self._replace(worker)

    def _halt(self, worker: _Worker, finished: list[Event]) -> None:
        """A stopped trial did not end within STOP_GRACE: kill it; it ends as stopped with its last report."""
        assignment = worker.assignment
        finished.append(self._done(worker, worker.process.halted(
            worker.trial, worker.last, self.stops[worker.trial.id], worker.began, self.host, assignment.cores,
            assignment.gpus)))
        self._replace(worker)

    def _replace(self, worker: _Worker) -> None:
        """A worker died or was killed: its current and queued trials go to a new worker on the same slot."""
        self._retire(worker)
        if worker.trial is not None:
            successor = self._spawn(worker.assignment)
            self._begin(successor, worker.trial)
            successor.queued = worker.queued
            for trial in (successor.trial, *successor.queued):
                successor.process.send(trial)

    def _failure(self, worker: _Worker, reason: str, status: str = FAILED) -> Outcome:
        assignment = worker.assignment
        return worker.process.failure(worker.trial, reason, worker.began, self.host, assignment.cores,
                                      assignment.gpus, status)

    def _retire(self, worker: _Worker) -> None:
        worker.process.close()
        self.workers.remove(worker)

    def _spawn(self, assignment: Assignment) -> _Worker:
        cls = assignment.cls  # GPU drivers reserve vast address ranges: only CPU trials get a memory limit
        env = worker_environment(cls.cpus, assignment.gpus, assignment.cores, self.fresh_process,
                                 cls.memory_gb if not cls.gpus else None)
        worker = _Worker(WorkerProcess(self.objective, self.study_dir, env, self._log, self.run), assignment)
        self.workers.append(worker)
        return worker


def _start_warden(run: str, log: Any) -> tuple[subprocess.Popen, int]:
    """The warden of this engine's workers (``warden``) and the pipe that keeps it waiting."""
    reading, writing = os.pipe()
    warden = subprocess.Popen([sys.executable, "-m", "hpo_compss.runtime.warden", run], stdin=reading,
                              stdout=log, stderr=log, start_new_session=True,
                              env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)})
    os.close(reading)
    return warden, writing
