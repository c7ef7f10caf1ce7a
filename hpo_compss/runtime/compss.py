"""The COMPSs backend: every trial a PyCOMPSs task, placed, bound and staged by the runtime.

The runtime has no "wait for any", so results do not travel through futures: each task writes its
outcome into the study's inbox (``inbox``) and this engine polls the folder; futures are only used
to reap tasks. A trial lost without a word (its node died, the runtime killed its task, the worker
could not import the package) is noticed when its task's process is gone (on this host) or its
heartbeat goes stale (elsewhere), or, before it ever started, when nothing at all has happened for
``IDLE_SECONDS``: only then does the engine block on its future.
All tasks belong to one ``TaskGroup``, so stopping a study cancels what is queued or running with
``compss_cancel_group``.

Under a scheduler that stops and continues trials (``scheduled``), trials' reports come through the
inbox too, a trial is stopped through a file there (read by its task at its next report), each task
also has a group of its own so that one whose trial does not return within ``STOP_CANCEL_SECONDS``
is cancelled alone, and each run of a trial (each rung) passes the trial's checkpoint folder as a
``DIRECTORY_INOUT`` parameter: the folder is brought back to the study folder when a run reaches
its budget, so a resumed study has it, and deleted through the runtime when it is no longer needed.

pycompss is imported here only, and this module only when the COMPSs backend is chosen.
"""
from __future__ import annotations

import contextlib
import itertools
import math
import os
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from ..clock import SYSTEM_CLOCK
from ..trial import CANCELLED, COMPLETE, PAUSED, ComputeClass, Outcome, Report, Trial
from . import inbox
from .engine import Event, Finished
from .process import STOP_GRACE
from .resources import Assignment, Machine, node_name

#: polling of the inbox: from this interval, slowing down to the next while nothing arrives
POLL_SECONDS = (0.05, 1.0)
#: with no trial seen alive and no news for this long, block on the oldest task to learn its fate
IDLE_SECONDS = 10.0
#: a heartbeat older than this means the trial's task is gone
STALE_SECONDS = 4 * inbox.HEARTBEAT_SECONDS
#: a trial told to stop whose task has not returned this long after is cancelled (its task looks for the
#: stop every second after each report and kills the objective ``STOP_GRACE`` later)
STOP_CANCEL_SECONDS = 30.0 + STOP_GRACE


def compss_context() -> str | None:
    """"runtime" inside runcompss/enqueue_compss, "sequential" when pycompss is importable, else None."""
    try:
        from pycompss.util import context
    except ImportError:
        return None
    # 3.x keeps the state in a CONTEXT object, 2.x in module-level functions
    in_pycompss = getattr(getattr(context, "CONTEXT", context), "in_pycompss")
    return "runtime" if in_pycompss() else "sequential"


@dataclass(eq=False)
class _Submitted(inbox.Followed):
    """A trial handed to the runtime, with what is known of its task."""

    cls: ComputeClass = field(kw_only=True)
    future: Any = None
    #: last sign of life (the heartbeat file's time), None until the task has started
    beat: float | None = None
    #: where its task runs, from its announcement: (host, pid)
    where: tuple[str, int] | None = None
    #: its task's own group, when tasks can be stopped one by one
    group: str | None = None

    def gone(self, now: float, host: str) -> bool:
        """Has its task stopped without reporting: a stale heartbeat, or a dead process on this host?"""
        if self.beat is None:
            return False
        if now - self.beat > STALE_SECONDS:
            return True
        return self.where is not None and self.where[0] == host and not _process_exists(self.where[1])


class CompssEngine:
    """Runs trials as COMPSs tasks; see the module docstring."""

    name = "compss"
    clock = SYSTEM_CLOCK

    def __init__(self, machine: Machine, classes: list[ComputeClass], objective: str, study_dir: Path,
                 timeout: float | None = None, fresh_process: bool = False, inputs: dict[str, str] | None = None,
                 max_running: int | None = None, scheduled: bool = False):
        from pycompss.api.api import (TaskGroup, compss_cancel_group, compss_delete_file, compss_get_number_of_resources,
                                      compss_wait_on, compss_wait_on_directory)

        from . import compss_tasks

        self.sequential = compss_context() != "runtime"
        self.classes = classes
        self.objective = objective
        self.study_dir = str(Path(study_dir).resolve())
        self.timeout = timeout
        self.fresh_process = fresh_process
        inputs = inputs or {}
        files = {name: path for name, path in inputs.items() if os.path.isfile(path)}
        folders = {name: path for name, path in inputs.items() if name not in files}
        self.names = [*files, *folders]
        self.files = list(files.values()) or None
        self.folders = list(folders.values())
        self.scheduled = scheduled
        self.functions: dict[str, Callable] = {
            cls.name: compss_tasks.task_for(cls, bool(files), timeout, scheduled) for cls in self.classes}
        self.workers = 1 if self.sequential else max(1, int(compss_get_number_of_resources()))
        self.capacity = {cls.name: 1 if self.sequential else _capacity(cls, self.workers, machine)
                         for cls in self.classes}
        self.max_running = 1 if self.sequential else max_running or sum(self.capacity.values())
        self._wait_on = compss_wait_on
        self._wait_on_directory = compss_wait_on_directory
        self._delete = compss_delete_file
        self._cancel_group = compss_cancel_group
        self._task_group = TaskGroup
        self.group_name = f"hpo-compss-{os.getpid()}"
        self._group = TaskGroup(self.group_name, implicit_barrier=False)
        self._group.__enter__()
        self.trials: dict[inbox.Key, _Submitted] = {}
        #: makes each submission's inbox key new (``inbox``)
        self._tokens = (f"{uuid.uuid4().hex[:8]}{n}" for n in itertools.count())
        self._journaled: list[inbox.Key] = []  # outcomes returned by wait: deleted from the inbox once journaled
        self._news = time.monotonic()
        self.host = node_name()

    def describe(self) -> str:
        if self.sequential:
            return "COMPSs binding in sequential mode (not inside the runtime: one trial at a time)"
        per_class = ", ".join(f"{name} {n}" for name, n in self.capacity.items())
        return f"COMPSs runtime with {self.workers} worker(s), up to {self.max_running} trials at once ({per_class})"

    @property
    def running(self) -> int:
        return len(self.trials)

    def free_classes(self) -> list[ComputeClass]:
        if self.running >= self.max_running:
            return []
        return [cls for cls in self.classes if sum(t.cls is cls for t in self.trials.values()) < self.capacity[cls.name]]

    def submit(self, trial: Trial, cls: ComputeClass) -> None:
        """Hand the trial to the runtime (in sequential mode, run it now)."""
        trial = replace(trial, token=next(self._tokens))
        entry = _Submitted(trial, cls=cls)
        self.trials[inbox.key_of(trial)] = entry  # first: an interruption cancels it
        memory = f"{cls.memory_gb:g}" if cls.memory_gb else None
        checkpoint = None
        if self.scheduled:
            checkpoint = trial.checkpoint_dir
            os.makedirs(checkpoint, exist_ok=True)  # the runtime stages a folder that exists
            entry.group = f"{self.group_name}-{trial.id}-{trial.token}"
        with self._task_group(entry.group, implicit_barrier=False) if entry.group else contextlib.nullcontext():
            entry.future = self.functions[cls.name](trial, self.objective, self.study_dir, self.timeout,
                                                    self.fresh_process, self.names, cls.cpus, memory, self.files,
                                                    checkpoint, *self.folders)

    def stop(self, trial: int, status: str) -> None:
        """Tell a running trial's task to stop at its next report (``inbox``); it ends as ``status``."""
        for entry in self.trials.values():
            if entry.trial.id == trial:
                entry.ask_to_stop(self.study_dir, status, STOP_CANCEL_SECONDS)

    def discard_checkpoint(self, path: str) -> None:
        """Delete a trial's checkpoint folder everywhere the runtime has a version of it."""
        if self.scheduled and os.path.isdir(path):
            self._delete(path)

    def wait(self, timeout: float | None) -> list[Event]:
        self._forget_journaled()
        limit = math.inf if timeout is None else time.monotonic() + timeout
        pause = POLL_SECONDS[0]
        while self.trials:
            events = self._harvest()
            events = events or self._overdue() or self._lost()
            now = time.monotonic()
            if events or now >= limit:
                return events
            time.sleep(min(pause, limit - now))
            pause = min(pause * 1.5, POLL_SECONDS[1])
        return []

    def cancel(self, reason: str) -> list[Finished]:
        """Keep what finished, cancel the rest (queued or running) through the task group."""
        finished = self._harvest()
        if self.trials:
            self._cancel_group(self.group_name)
        end = time.time()
        for key, entry in self.trials.items():
            for suffix in (".running", ".progress", ".stop"):  # (an outcome it still writes is for a resume to journal)
                inbox.discard(self.study_dir, key, suffix)
            finished.append(Finished(entry.trial, Outcome(CANCELLED, reason, end=end),
                                     Assignment(entry.cls, (), ())))
        self.trials.clear()
        return finished

    def close(self) -> None:
        self._forget_journaled()
        self._group.__exit__(None, None, None)

    def __enter__(self) -> "CompssEngine":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _harvest(self) -> list[Event]:
        """Reports and outcomes in the inbox for our trials, in that order; heartbeats noted on the way."""
        mail = inbox.collect(self.study_dir)
        reports = [report for key, entry in self.trials.items()
                   if key in mail.outcomes or mail.progress.get(key, 0) > entry.read
                   for report in self._read_reports(entry)]
        finished = [self._finish(key, mail.outcomes[key]) for key in list(self.trials) if key in mail.outcomes]
        for key, beat in mail.running.items():
            entry = self.trials.get(key)
            if entry is not None and entry.beat != beat:
                if entry.where is None:
                    said = inbox.announcement(self.study_dir, key)
                    entry.where = (said["host"], said["pid"]) if "host" in said and "pid" in said else None
                entry.beat = beat
                self._news = time.monotonic()
        if finished:
            self._wait_on(*(item.future for item in finished))  # reap: these tasks are done or about to be
        for item in finished:  # a run that reached its budget may be continued: a resumed study needs it here
            if item.finished.outcome.status in (COMPLETE, PAUSED) and self.scheduled:
                self._wait_on_directory(item.finished.trial.checkpoint_dir)
        return [*reports, *(item.finished for item in finished)]

    def _read_reports(self, entry: _Submitted) -> list[Report]:
        reports = entry.new_reports(self.study_dir)
        if reports:
            self._news = time.monotonic()
        return reports

    def _overdue(self) -> list[Finished]:
        """Cancel the task of a trial told to stop that has not returned in time; it ends as told, at its last report."""
        now = time.monotonic()
        key = next((key for key, entry in self.trials.items() if entry.stop_by <= now), None)
        if key is None:
            return []
        entry = self.trials[key]
        self._cancel_group(entry.group)
        return [self._finish(key, entry.cancelled_outcome(STOP_CANCEL_SECONDS)).finished]

    def _lost(self) -> list[Finished]:
        """Learn the fate of a task that is gone, or of the oldest when no trial is seen alive for a while."""
        now = time.time()
        gone = [key for key, entry in self.trials.items() if entry.gone(now, self.host)]
        alive = any(entry.beat is not None for entry in self.trials.values())
        if not gone and (alive or time.monotonic() - self._news < IDLE_SECONDS):
            return []
        key = gone[0] if gone else next(iter(self.trials))
        returned = self._wait_on(self.trials[key].future)
        self._news = time.monotonic()
        outcome = inbox.collect(self.study_dir).outcomes.get(key)
        if outcome is None:  # no shared file system, or it really was lost: the task's return value says which
            outcome = returned if isinstance(returned, Outcome) else _lost_outcome()
        return [self._finish(key, outcome).finished]

    def _finish(self, key: inbox.Key, outcome: Outcome) -> "_Reaped":
        entry = self.trials.pop(key)
        self._journaled.append(key)
        self._news = time.monotonic()
        assignment = Assignment(entry.cls, tuple(outcome.cores or ()), tuple(outcome.gpus or ()))
        return _Reaped(Finished(entry.trial, outcome, assignment), entry.future)

    def _forget_journaled(self) -> None:
        for key in self._journaled:
            inbox.retire(self.study_dir, key)
        self._journaled.clear()


@dataclass(frozen=True)
class _Reaped:
    finished: Finished
    future: Any


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _lost_outcome() -> Outcome:
    from .compss_tasks import LOST

    now = time.time()
    return Outcome(LOST["status"], LOST["reason"], now, now)


def _capacity(cls: ComputeClass, workers: int, node: Machine) -> int:
    """How many trials of ``cls`` to keep with the runtime: its ``max_tasks``, else what ``workers`` nodes
    like this one hold (the runtime queues any excess, so an estimate is enough)."""
    if cls.max_tasks is not None:
        return cls.max_tasks
    per_node = len(node.cores) // cls.cpus
    if cls.gpus and node.gpus:
        per_node = min(per_node, len(node.gpus) // cls.gpus)
    return workers * max(1, per_node)
