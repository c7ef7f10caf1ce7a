"""Run one trial where it was placed (a local worker or a COMPSs task) and describe what happened.

Whatever the objective does (returns, raises, exits, prints) becomes a plain dict: ``status``
(``complete`` or ``failed``), ``value``, ``extras``, ``reason``, times and where it ran. Deaths the
trial cannot report itself (a segfault, a kill at the timeout) are recorded by whoever watches it.
This module imports nothing heavy: a worker's start-up cost is the objective's own.
"""
from __future__ import annotations

import json
import math
import numbers
import os
import random
import shutil
import sys
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping

from ..trial import COMPLETE, FAILED, Outcome, Trial
from .objective import wants_trial
from .resources import node_name

MAX_REASON = 500
#: extras larger than this (as JSON) stay in the trial's folder; the journal keeps the small values
MAX_EXTRAS_BYTES = 64 * 1024
MAX_EXTRA_VALUE_BYTES = 1024
#: deeper nesting in extras is recorded as its repr
MAX_EXTRAS_DEPTH = 20
#: the messages a worker sends for each trial: (STARTED, wall time) just before the objective is
#: called, (PROGRESS, (step, value, time)) for each report, then (OUTCOME, outcome)
STARTED = "started"
PROGRESS = "progress"
OUTCOME = "outcome"
#: the message its parent sends to stop a running trial: (STOP, trial id, PRUNED or PAUSED)
STOP = "stop"


@dataclass(frozen=True)
class TrialResources:
    """The cores, GPUs and thread count a trial was given by the backend that placed it."""

    cores: tuple[int, ...]
    gpus: tuple[str, ...]
    threads: int
    #: "compss" inside a COMPSs task, "local" in a local engine worker, "none" elsewhere
    backend: str


def trial_resources(environ: Mapping[str, str] = os.environ) -> TrialResources:
    """What this process may use: COMPSs' binding (``COMPSS_BINDED_CPUS``, ``COMPSS_BINDED_GPUS``,
    ``COMPSS_NUM_THREADS``) inside a COMPSs task, else the local engine's slot, else the process's own view."""
    affinity = tuple(sorted(os.sched_getaffinity(0))) if hasattr(os, "sched_getaffinity") else ()
    visible = _ids(environ.get("CUDA_VISIBLE_DEVICES", ""))
    if "COMPSS_NUM_THREADS" in environ or "COMPSS_BINDED_CPUS" in environ:
        cores = _cores(environ.get("COMPSS_BINDED_CPUS", "")) or affinity
        gpus = _ids(environ.get("COMPSS_BINDED_GPUS", "")) or visible
        threads = environ.get("COMPSS_NUM_THREADS", "")
        backend = "compss"
    else:
        cores = _cores(environ.get("HPO_COMPSS_CORES", "")) or affinity
        gpus = visible
        threads = environ.get("OMP_NUM_THREADS", "")
        backend = "local" if "HPO_COMPSS_STUDY" in environ else "none"
    return TrialResources(cores, gpus, int(threads) if threads.isdigit() else max(1, len(cores)), backend)


def _cores(text: str) -> tuple[int, ...]:
    """Core ids from "0,1,2" or "0-3,8" (what COMPSs and taskset print); nothing usable gives ()."""
    cores: set[int] = set()
    for part in text.split(","):
        low, _, high = part.strip().partition("-")
        if low.isdigit() and (not high or high.isdigit()):
            cores.update(range(int(low), int(high or low) + 1))
    return tuple(sorted(cores))


def _ids(text: str) -> tuple[str, ...]:
    return tuple(i for i in (part.strip() for part in text.split(",")) if i and i not in ("-", "none", "NoDevFiles"))


@dataclass(frozen=True)
class TrialContext:
    """What an objective may want to know about the trial it is running (``hpo_compss.current_trial()``)."""

    trial: int
    config_id: int
    repeat: int
    attempt: int
    seed: int
    folder: str
    cores: tuple[int, ...]
    gpus: tuple[str, ...]
    threads: int
    #: the experiment's input files and folders by name, as paths on the node running the trial
    inputs: Mapping[str, str] = field(default_factory=dict)
    #: the resource (epochs, iterations, a data fraction) to run up to in this attempt; None: no limit
    budget: float | None = None
    #: where the checkpoint folder is on this node (``checkpoint_dir``)
    checkpoint: str = "checkpoint"
    reporter: "Reporter" = field(default_factory=lambda: Reporter(), repr=False, compare=False)

    @property
    def workdir(self) -> str:
        """The trial's own folder in the study (``trials/<id>``), created on first use, for files to keep."""
        os.makedirs(self.folder, exist_ok=True)
        return self.folder

    @property
    def checkpoint_dir(self) -> str:
        """``trials/<id>/checkpoint``, created on first use: kept across the trial's attempts and rungs."""
        os.makedirs(self.checkpoint, exist_ok=True)
        return self.checkpoint

    def report(self, step: float, value: float) -> None:
        """Record an intermediate ``value`` at ``step`` (an epoch, an iteration...); steps must increase.

        Raises ``TrialStopped`` once the study's scheduler has stopped this trial: let it propagate.
        """
        self.reporter.report(step, value)

    def should_stop(self) -> bool:
        """Has the study's scheduler stopped this trial? (For objectives that prefer to ask, then return.)"""
        return self.reporter.should_stop()


class TrialStopped(BaseException):
    """The study's scheduler stopped the trial (``trial.report`` raises it). A BaseException, so that an
    objective's ``except Exception`` does not swallow it."""


class InvalidReport(ValueError):
    """A report that is not a finite number at a step after the last one."""


class Reporter:
    """Checks a trial's reports, passes them on (``send``) and learns of a stop (``stop_requested``).

    A bad report fails the trial even if the objective catches the error; a stop makes the next
    report raise ``TrialStopped``.
    """

    def __init__(self, send: Callable[[float, float, float], None] | None = None,
                 stop_requested: Callable[[], str | None] | None = None):
        self.send = send
        self.stop_requested = stop_requested
        self.last_step: float | None = None
        self.last_value: float | None = None
        self.error: str | None = None
        #: PRUNED or PAUSED once the trial was stopped
        self.stopped: str | None = None

    def report(self, step: Any, value: Any) -> None:
        if self.error is None:
            self.error = self._check(step, value)
        if self.error is not None:
            raise InvalidReport(self.error)
        self.last_step, self.last_value = float(step), float(value)
        if self.send is not None:
            self.send(self.last_step, self.last_value, time.time())
        if self.should_stop():
            raise TrialStopped(self.stopped)

    def should_stop(self) -> bool:
        if self.stopped is None and self.stop_requested is not None:
            self.stopped = self.stop_requested()
        return self.stopped is not None

    def _check(self, step: Any, value: Any) -> str | None:
        for name, number in (("step", step), ("value", value)):
            if _is_boolean(number) or not isinstance(number, numbers.Real):
                return _clip(f"report({_repr(step)}, {_repr(value)}): the {name} is not a number")
            if not math.isfinite(float(number)):
                return f"report({step!r}, {value!r}): the {name} is {float(number)}"
        if self.last_step is not None and float(step) <= self.last_step:
            return f"report({step!r}, ...): step {float(step):g} does not come after step {self.last_step:g}"
        return None


_current: TrialContext | None = None


def current_trial() -> TrialContext | None:
    """The trial running in this process, or None outside a trial."""
    return _current


class InvalidResult(ValueError):
    """The objective returned something that is not a usable metric value."""


def failed(reason: str, **fields: Any) -> Outcome:
    """The outcome of a trial that failed for ``reason`` (clipped to a readable length)."""
    now = time.time()
    return Outcome(FAILED, _clip(reason), now, now, **fields)


def run_trial(objective: Callable, trial: Trial, started: Callable[[float], None] | None = None,
              reporter: Reporter | None = None) -> Outcome:
    """Run ``objective`` on ``trial.config`` and return the outcome (never raises).

    ``started`` is called with the time just before the objective is: what happens before it (this
    process's own set-up) is not the trial's doing, and its failure is reported as ``worker: ...``.
    ``reporter`` carries the trial's reports to its engine and brings back a stop.
    """
    global _current
    placed = trial_resources()
    outcome = Outcome(host=node_name(), pid=os.getpid(), cores=list(placed.cores), gpus=list(placed.gpus))
    try:
        with _captured_output(trial.workdir, trial.attempt):
            context = TrialContext(trial.id, trial.config_id, trial.repeat, trial.attempt, trial.seed,
                                   trial.workdir, placed.cores, placed.gpus, placed.threads, trial.inputs,
                                   trial.budget, trial.checkpoint_dir, reporter or Reporter())
            _seed_everything(trial.seed)
            _current = context
            try:
                _call(objective, trial, context, outcome, started)
            finally:
                _current = None
    except BaseException as error:  # our own set-up failed: the objective never ran
        if not outcome.status:
            traceback.print_exc()  # into the worker's log: the trial's output files could not be made
            outcome.status, outcome.reason = FAILED, _clip(f"worker: {type(error).__name__}: {error}")
            outcome.start = outcome.end = time.time()
    return outcome


def _call(objective: Callable, trial: Trial, context: TrialContext, outcome: Outcome,
          started: Callable[[float], None] | None) -> None:
    outcome.start = time.time()
    if started is not None:
        started(outcome.start)
    reporter = context.reporter
    if trial.after_step is not None:  # a promoted trial's steps go on from its last run's
        reporter.last_step = trial.after_step
    try:
        result = objective(trial.config, context) if wants_trial(objective) else objective(trial.config)
        outcome.end = time.time()
        outcome.step = reporter.last_step
        if reporter.error is None and reporter.stopped is not None:  # it saw its stop, then returned
            _stopped(outcome, reporter)
            return
        outcome.value, extras = interpret(result, trial.metric)
        outcome.extras = bounded_extras(extras, trial.workdir, trial.attempt, outcome)
        outcome.status = COMPLETE
    except BaseException as error:  # the objective's failure, whatever it is, is the trial's, not ours
        if outcome.end is None:
            outcome.end = time.time()
        outcome.step = reporter.last_step
        outcome.status = FAILED
        if isinstance(error, TrialStopped) and reporter.error is None:
            _stopped(outcome, reporter)
        elif isinstance(error, InvalidResult):
            outcome.reason = f"invalid result: {error}"
        elif isinstance(error, SystemExit):
            outcome.reason = _clip(f"exited: sys.exit({error.code!r})")
        else:
            outcome.reason = _clip(f"exception: {type(error).__name__}: {error}")
            traceback.print_exc()
    if reporter.error is not None:  # even if the objective caught it
        outcome.status, outcome.value, outcome.reason = FAILED, None, _clip(f"invalid report: {reporter.error}")


def _stopped(outcome: Outcome, reporter: Reporter) -> None:
    """The trial ended on its scheduler's stop: its value is the last it reported."""
    outcome.status, outcome.value = reporter.stopped, reporter.last_value
    outcome.reason = "stopped by the scheduler" + ("" if reporter.last_step is None else f" at step {reporter.last_step:g}")


def interpret(result: Any, metric: str) -> tuple[float, dict]:
    """A number is the metric; a dict holds the metric under its name plus extra values to record."""
    extras: dict = {}
    if isinstance(result, dict):
        if metric not in result:
            keys = ", ".join(_clip(str(k), 40) for k in list(result)[:20])
            raise InvalidResult(f"the returned dict has no {metric!r} key (keys: {keys or 'none'})")
        extras = {str(k): jsonable(v) for k, v in result.items() if k != metric}
        result = result[metric]
    if _is_boolean(result) or isinstance(result, (str, bytes)) or not (
            isinstance(result, numbers.Real) or hasattr(result, "__float__")):
        raise InvalidResult(_clip(f"{metric} is not a number: {_repr(result)}"))
    try:
        value = float(result)
    except Exception as error:  # noqa: BLE001 - a user type's __float__ may raise anything
        raise InvalidResult(_clip(f"{metric} is not a number: {type(error).__name__}: {error}")) from None
    if not math.isfinite(value):
        raise InvalidResult(f"{metric} is {value}")
    return value, extras


def jsonable(value: Any, depth: int = 0) -> Any:
    """Extras as plain JSON: numpy scalars to numbers, non-finite floats to strings, unknown objects to repr."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if _is_boolean(value):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        return value if math.isfinite(value) else str(value)
    if depth >= MAX_EXTRAS_DEPTH:
        return _repr(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v, depth + 1) for v in value]
    if hasattr(value, "tolist"):
        try:
            return jsonable(value.tolist(), depth + 1)
        except Exception:  # noqa: BLE001 - a foreign object's tolist may fail: fall back to its repr
            pass
    return _repr(value)


def bounded_extras(extras: dict, workdir: str, attempt: int, outcome: Outcome) -> dict:
    """Extras small enough for the journal; larger ones go whole into the trial's folder.

    The journal keeps each value of at most ``MAX_EXTRA_VALUE_BYTES`` and names the file
    (``extras_file``, relative to the study folder) that holds them all.
    """
    text = json.dumps(extras, allow_nan=False)
    if len(text) <= MAX_EXTRAS_BYTES:
        return extras
    name = "extras.json" if attempt == 1 else f"extras.{attempt}.json"
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, name), "w") as handle:
        handle.write(text)
    outcome.extras_file = os.path.join("trials", os.path.basename(workdir), name)
    kept = {}
    for key, value in extras.items():
        size = len(json.dumps(value))
        kept[key] = value if size <= MAX_EXTRA_VALUE_BYTES else f"<{size} bytes, in {name}>"
    return kept


def _is_boolean(value: Any) -> bool:
    """bool, and numpy's bool_, which is no Python bool but converts to 0.0 or 1.0."""
    return isinstance(value, bool) or type(value).__name__ in ("bool_", "bool")


def _repr(value: Any) -> str:
    try:
        return _clip(repr(value))
    except Exception as error:  # noqa: BLE001 - a user type's __repr__ may raise anything
        return f"<{type(value).__name__} whose repr failed: {type(error).__name__}>"


def _clip(text: str, limit: int = MAX_REASON) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _seed_everything(seed: int) -> None:
    """Seed the generators the objective is likely to use, without importing any it does not use."""
    random.seed(seed)
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed(seed % 2**32)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)


def spool_path(trials_dir: str, pid: int, stream: str) -> str:
    """Where process ``pid`` catches a trial's ``stream`` (stdout or stderr) until the trial ends."""
    return os.path.join(trials_dir, f".spool-{pid}.{stream}")


def keep_output(trials_dir: str, pid: int, workdir: str, attempt: int) -> None:
    """Move the spooled output of a trial that ended (or died) into its folder, if it wrote any; the
    output of a later run of the same attempt (a promoted trial's next rung) is appended to it."""
    for stream in STREAMS:
        spool = spool_path(trials_dir, pid, stream)
        try:
            if os.stat(spool).st_size == 0:
                continue
        except OSError:  # none, or its folder is gone
            continue
        os.makedirs(workdir, exist_ok=True)
        kept = os.path.join(workdir, f"{stream}.txt" if attempt == 1 else f"{stream}.{attempt}.txt")
        if not os.path.exists(kept):
            os.replace(spool, kept)
            continue
        with open(spool, "rb") as source, open(kept, "ab") as target:
            shutil.copyfileobj(source, target)
        os.unlink(spool)


STREAMS = ("stdout", "stderr")
_spools: dict[str, int] = {}
_saved: tuple[int, int] | None = None


@contextmanager
def _captured_output(workdir: str, attempt: int) -> Iterator[None]:
    """Send this process's stdout and stderr (file descriptors, so C output too) to the trial's files.

    Output goes to this process's spool files first and only becomes ``trials/<id>/stdout.txt`` (and
    ``stderr.txt``; ``.N.txt`` for attempt N) if the trial wrote something: a silent trial creates
    nothing, which keeps studies of many short trials light on the file system. Whatever the trial
    did to ``sys.stdout`` or the descriptors, they are restored afterwards.
    """
    global _saved
    trials_dir = os.path.dirname(workdir)
    if _saved is None:
        _saved = os.dup(1), os.dup(2)
    paths = [spool_path(trials_dir, os.getpid(), stream) for stream in STREAMS]
    for path in paths:  # both opened before either descriptor is redirected
        if path not in _spools:
            _spools[path] = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    streams = sys.stdout, sys.stderr
    _flush()
    for fd, path in zip((1, 2), paths):
        os.dup2(_spools[path], fd)
    try:
        yield
    finally:
        _flush()
        sys.stdout, sys.stderr = streams
        for fd, original in zip((1, 2), _saved):
            os.dup2(original, fd)
        try:
            for path in paths:
                if os.fstat(_spools[path]).st_size:
                    os.close(_spools.pop(path))
            keep_output(trials_dir, os.getpid(), workdir, attempt)
        except OSError:
            traceback.print_exc()  # the output is lost, the result is not


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 - a trial may have closed or replaced the stream
            pass
