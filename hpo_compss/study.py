"""The driver: ask the searcher, submit trials, harvest results, journal them, tell, stop, resume.

A study lives in one folder: ``experiment.json`` (the validated experiment), ``journal.jsonl`` (every
record, see :mod:`hpo_compss.journal`), ``trials/<id>/`` (each trial's stdout and stderr) and
``source/`` (a copy of the objective's file). Running a study whose folder already has a journal
resumes it: the journal is replayed into the searcher in its original order, trials that were
running or due a retry run again with the same id and seed, and the budget is finished.
"""
from __future__ import annotations

import fcntl
import importlib.util
import json
import os
import shutil
import signal
import socket
import sys
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .analysis.study_trace import write_study_trace
from .errors import ConfigError
from .experiment import Experiment, parse_experiment
from .journal import Journal
from .results import ConfigState, Ledger
from .runtime import inbox
from .runtime.engine import Engine, Finished
from .runtime.local import LocalEngine
from .runtime.resources import Assignment, Machine, usable_classes
from .search import Background, Suggestion, trial_seed

EXPERIMENT_FILE = "experiment.json"
#: the sub-space name of a config whose dependent values could not be computed
INVALID = "invalid"
JOURNAL_FILE = "journal.jsonl"
#: how often (s) the loop looks whether the searcher has a config ready, while trials run
SUGGESTION_POLL = 0.02


class Interrupted(Exception):
    """The driver was asked to stop (SIGINT or SIGTERM, as a batch system sends at its time limit)."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(signal.Signals(signum).name)


@dataclass
class Outcome:
    ledger: Ledger
    stop_reason: str
    seconds: float


def open_study(experiment: Experiment, directory: Path) -> Path:
    """Create the study folder, or check that an existing one holds this same experiment."""
    directory = Path(directory)
    stored = directory / EXPERIMENT_FILE
    wanted = experiment.to_json()
    if stored.exists():
        previous = json.loads(stored.read_text())
        if previous != wanted:
            key = next((k for k in sorted(set(previous) | set(wanted)) if previous.get(k) != wanted.get(k)), "?")
            raise ConfigError((key,), f"differs from the study already in {directory}; "
                                      "use `hpo-compss resume` to continue it, or --study-dir for a new study")
        return directory
    (directory / "trials").mkdir(parents=True, exist_ok=True)
    temporary = stored.with_suffix(".tmp")
    temporary.write_text(json.dumps(wanted, indent=2) + "\n")
    os.replace(temporary, stored)
    _keep_objective_source(experiment.objective, directory / "source")
    return directory


def load_study(directory: Path, check: bool = True) -> Experiment:
    """The experiment a study folder was started with."""
    stored = Path(directory) / EXPERIMENT_FILE
    if not stored.exists():
        raise ConfigError((), f"{directory} is not a study folder (no {EXPERIMENT_FILE})")
    return parse_experiment(json.loads(stored.read_text()), check=check)


def read_ledger(directory: Path, experiment: Experiment) -> Ledger:
    ledger = Ledger(experiment.mode, experiment.repeats)
    for record in Journal(Path(directory) / JOURNAL_FILE).read():
        ledger.add(record)
    return ledger


def driver_running(directory: Path) -> bool:
    """Does a live driver hold this study's lock?"""
    try:
        with _StudyLock(directory):
            return False
    except ConfigError:
        return True


class Driver:
    """One run (or resume) of a study on the local engine or on COMPSs (``backend``)."""

    def __init__(self, experiment: Experiment, directory: Path, machine: Machine, out: IO[str] = sys.stdout,
                 backend: str = "local", max_running: int | None = None):
        self.experiment = experiment
        self.directory = Path(directory)
        self.machine = machine
        self.out = out
        self.backend = backend
        self.max_running = max_running
        self.journal = Journal(self.directory / JOURNAL_FILE)
        self.trials_dir = str(self.directory / "trials")
        self.ledger = Ledger(experiment.mode, experiment.repeats)
        self.searcher = Background(experiment.searcher())
        self.awaiting = False  # a config was requested from the searcher and is not ready yet
        self.asked: dict[int, Suggestion] = {}
        self.pending: deque[dict] = deque()
        self.stale = 0  # configs finished since the best last improved (stop.patience)
        self.stop_reason = ""
        self.final = False
        self.started = time.monotonic()

    def run(self) -> Outcome:
        with _StudyLock(self.directory), _signals_raise_interrupted():
            self._replay()
            if self.final:
                if not (self.ledger.stopped or {}).get("final"):  # it ended (say, target reached) just before a crash
                    self._stop()
                    self.journal.close()
                self._say(f"study {self.experiment.name} is already finished ({self.stop_reason})")
                return Outcome(self.ledger, self.stop_reason, 0.0)
            engine = self._engine()
            self._start_session(engine)
            self.searcher.start()
            try:
                with engine:
                    try:
                        self._loop(engine)
                    except Interrupted as interruption:
                        self.stop_reason = f"interrupted by {interruption}"
                        self._record(engine.cancel(f"cancelled: driver {self.stop_reason}"))
                        self._stop()
                        raise
            finally:
                self.searcher.close()
                self.journal.close()
                if self.backend == "local":  # COMPSs writes its own trace (runcompss --tracing)
                    write_study_trace(self.directory, self.journal.read(),
                                      [c.name for c in self.experiment.compute_classes])
        return Outcome(self.ledger, self.stop_reason, time.monotonic() - self.started)

    def _engine(self) -> Engine:
        if self.backend == "compss":
            from .runtime.compss import CompssEngine

            return CompssEngine(self.experiment, self.directory, self.machine, self.max_running)
        classes, warnings = usable_classes(self.experiment.compute_classes, self.machine)
        for warning in warnings:
            self._say(f"warning: {warning}")
        return LocalEngine(self.machine, classes, self.experiment.objective, self.directory,
                           self.experiment.timeout, self.experiment.fresh_process)

    # -- replay -----------------------------------------------------------------------------------
    def _replay(self) -> None:
        """Rebuild the ledger and the searcher's state from the journal, in the order it was written."""
        mismatch = False
        for record in self.journal.read():
            if "trial" in record and record["config_id"] not in self.asked:
                suggestion = Suggestion(record["config"], record.get("subspace", ""))
                mismatch |= not self._restore(record["config_id"], suggestion)
                self.asked[record["config_id"]] = suggestion
            self._take(record, quiet=True)
        if self.ledger.stopped is not None and self.ledger.stopped.get("final"):
            self.stop_reason, self.final = self.ledger.stopped["reason"], True
        if mismatch:
            self._say("warning: the searcher now proposes other configs than the journal holds; the journal's are kept")
        self._take_delivered()
        self.pending.clear()  # rebuilt from the ledger, which now knows every outcome
        repeats = self.experiment.repeats
        unfinished = {r["trial"]: r for r in self.ledger.unfinished()}
        for config_id, suggestion in sorted(self.asked.items()):
            for repeat in range(repeats):
                trial = config_id * repeats + repeat
                if trial in unfinished:
                    record = unfinished[trial]
                    attempt = record["attempt"] + (record["status"] == "failed")
                    self.pending.append(self._task(trial, suggestion, attempt))
                elif trial not in self.ledger.trials:
                    self.pending.append(self._task(trial, suggestion, 1))

    def _take_delivered(self) -> None:
        """Journal the outcomes trials left in the inbox while no driver was running (COMPSs tasks go on)."""
        mail = inbox.collect(self.directory)
        classes = {cls.name: cls for cls in self.experiment.compute_classes}
        delivered = []
        for record in self.ledger.unfinished():
            outcome = mail.outcomes.get((record["trial"], record["attempt"]))
            cls = classes.get(record.get("class", ""))
            if outcome is not None and cls is not None:
                task = self._task(record["trial"], self.asked[record["config_id"]], record["attempt"])
                delivered.append(Finished(task, outcome, Assignment(cls, (), ())))
        if delivered:
            self._say(f"{len(delivered)} trial(s) finished while no driver was running; their results are kept")
            self._record(delivered)
        for key in mail.outcomes:
            inbox.discard(self.directory, key)

    # -- the loop ---------------------------------------------------------------------------------
    def _loop(self, engine: Engine) -> None:
        budget = self.experiment.seconds
        while True:
            if not self.stop_reason:
                self._fill(engine)
            if engine.running == 0:
                if not self.stop_reason:
                    self.stop_reason, self.final = "budget of trials used", True
                break
            remaining = None if budget is None else max(0.0, budget - (time.monotonic() - self.started))
            if self.awaiting and not self.stop_reason:  # come back soon to take the config the searcher prepares
                remaining = SUGGESTION_POLL if remaining is None else min(remaining, SUGGESTION_POLL)
            self._record(engine.wait(remaining))
            if budget is not None and not self.stop_reason and time.monotonic() - self.started >= budget:
                self.stop_reason = f"time budget of {budget:g} s used"
            if self.stop_reason and engine.running:
                self._record(engine.cancel(f"cancelled: {self.stop_reason}"))
        self._stop()

    def _fill(self, engine: Engine) -> None:
        """Submit trials while a compute class has room and the budget allows."""
        running_records = []
        while (cls := engine.free_class()) is not None:
            # a config that cannot be built is recorded as failed at once: ask again. Wait for the
            # searcher only when nothing runs; otherwise the loop goes on harvesting meanwhile.
            while not self.pending and not self.stop_reason and self._ask_next(block=engine.running == 0):
                pass
            if not self.pending or self.stop_reason:
                break
            task = self.pending.popleft()
            record = {**self._describe(task), "status": "running", "class": cls.name, "submitted": time.time()}
            running_records.append(record)
            self.ledger.add(record)
            engine.submit(task, cls)
        self.journal.append(running_records, sync=False)

    def _ask_next(self, block: bool) -> bool:
        """Take the next config and queue its repeats; False when there is none (yet).

        A config that cannot be built fails at once.
        """
        config_id = len(self.asked)
        if config_id >= self.experiment.trials:
            return False
        self.searcher.request(config_id)
        suggestion = self._take_suggestion(config_id, block)
        self.awaiting = suggestion is None
        if suggestion is None:
            return False
        self.asked[config_id] = suggestion
        repeats = self.experiment.repeats
        tasks = [self._task(config_id * repeats + r, suggestion, 1) for r in range(repeats)]
        if suggestion.subspace == INVALID:
            now = time.time()
            self._record([Finished(task, {"status": "failed", "reason": f"invalid config: {suggestion.config['error']}",
                                          "start": now, "end": now}, None) for task in tasks])
        else:
            self.pending.extend(tasks)
        return True

    def _restore(self, config_id: int, suggestion: Suggestion) -> bool:
        try:
            return self.searcher.restore(config_id, suggestion)
        except ConfigError:
            return suggestion.subspace == INVALID

    def _take_suggestion(self, config_id: int, block: bool) -> Suggestion | None:
        try:
            return self.searcher.take(config_id, block)
        except ConfigError as error:  # a dependent value that cannot be computed for this draw
            return Suggestion({"error": str(error)}, INVALID)

    def _record(self, finished: list[Finished]) -> None:
        """Journal what ended (durably, in one write), then let the searcher and the stop rules hear of it."""
        records = []
        for item in finished:
            record = {**self._describe(item.task), **item.outcome}
            if item.assignment is not None:
                record["class"] = item.assignment.cls.name
            if record["status"] == "failed":
                record["retry"] = item.assignment is not None and record["attempt"] <= self.experiment.retries
            records.append(record)
        self.journal.append(records)
        for record in records:
            self._take(record)
            if record.get("retry"):
                self.pending.appendleft(self._task(record["trial"], self.asked[record["config_id"]], record["attempt"] + 1))
        self.out.flush()

    def _take(self, record: dict, quiet: bool = False) -> None:
        done = self.ledger.add(record)
        if "trial" not in record:
            return
        if not quiet and record["status"] != "running":
            self._progress(record)
        if done is not None:
            self.searcher.tell(done.config_id, self.asked[done.config_id], done.mean)
            self._check_stop(done)

    def _check_stop(self, state: ConfigState) -> None:
        improved = self.ledger.best is state
        self.stale = 0 if improved else self.stale + 1
        if self.stop_reason:
            return
        if state.mean is not None and self.experiment.reached_target(state.mean):
            self.stop_reason, self.final = f"target {self.experiment.target:g} reached by trial {state.first_trial}", True
        elif self.experiment.patience is not None and self.stale >= self.experiment.patience:
            self.stop_reason, self.final = f"no improvement in {self.stale} configs (patience)", True

    def _stop(self) -> None:
        record = {"study": "stopped", "reason": self.stop_reason, "final": self.final, "time": time.time()}
        self.journal.append([record])
        self.ledger.add(record)

    # -- records and output -------------------------------------------------------------------------
    def _task(self, trial: int, suggestion: Suggestion, attempt: int) -> dict:
        repeats = self.experiment.repeats
        return {"trial": trial, "config_id": trial // repeats, "repeat": trial % repeats, "attempt": attempt,
                "seed": trial_seed(self.experiment.seed, trial), "config": suggestion.config,
                "subspace": suggestion.subspace, "metric": self.experiment.metric,
                "workdir": f"{self.trials_dir}{os.sep}{trial}", "inputs": self.experiment.inputs}

    @staticmethod
    def _describe(task: dict) -> dict:
        return {k: task[k] for k in ("trial", "config_id", "repeat", "attempt", "seed", "config", "subspace")}

    def _start_session(self, engine: Engine) -> None:
        done = self.ledger.count("complete") + self.ledger.count("failed")
        verb = "resuming" if self.ledger.trials else "starting"
        self._say(f"{verb} study {self.experiment.name} in {self.directory}: "
                  f"{self.experiment.trials * self.experiment.repeats} trials ({done} done), "
                  f"{engine.describe()}, classes "
                  + ", ".join(f"{c.name}({c.cpus} cpu, {c.gpus} gpu)" for c in engine.classes))
        record = {"study": "started", "time": time.time(), "host": socket.gethostname(), "pid": os.getpid(),
                  "backend": engine.name, "cores": list(self.machine.cores), "gpus": list(self.machine.gpus)}
        self.journal.append([record])
        self.ledger.add(record)

    def _progress(self, record: dict) -> None:
        metric = self.experiment.metric
        total = self.experiment.trials * self.experiment.repeats
        done = self.ledger.count("complete") + self.ledger.count("failed")
        best = self.ledger.best
        best_text = f"best {best.mean:.6g} (trial {best.first_trial})" if best else "best -"
        if record["status"] == "complete":
            what = f"{metric} {record['value']:.6g}"
        else:
            what = f"{record['status'].upper()} ({record.get('reason', '')})"
            if record.get("retry"):
                what += f", retrying (attempt {record['attempt'] + 1} of {self.experiment.retries + 1})"
        failed = self.ledger.count("failed")
        self.out.write(f"[{done}/{total}] trial {record['trial']} {what}  {best_text}  "
                       f"{time.monotonic() - self.started:.1f} s  failures {failed}\n")

    def _say(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()


class _StudyLock:
    """One driver per study folder: a second one is refused instead of corrupting the journal."""

    def __init__(self, directory: Path):
        self.path = Path(directory) / ".lock"
        self.handle: Any = None

    def __enter__(self) -> "_StudyLock":
        self.handle = open(self.path, "a+")
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.handle.close()
            raise ConfigError((), f"another driver is running the study in {self.path.parent}") from None
        return self

    def __exit__(self, *exc: Any) -> None:
        self.handle.close()


class _signals_raise_interrupted:
    """While the driver runs, SIGINT and SIGTERM become ``Interrupted`` so the journal is closed cleanly."""

    def __enter__(self) -> None:
        self.previous = {}
        for signum in (signal.SIGINT, signal.SIGTERM):
            self.previous[signum] = signal.signal(signum, _raise_interrupted)

    def __exit__(self, *exc: Any) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)


def _raise_interrupted(signum: int, frame: Any) -> None:
    raise Interrupted(signum)


def _keep_objective_source(objective: str, folder: Path) -> None:
    """Copy the objective's source file into the study, so results stay tied to the code that made them."""
    target = objective.rpartition(":")[0]
    if target.endswith(".py"):
        origin = target
    else:
        try:
            spec = importlib.util.find_spec(target)
        except (ImportError, ValueError):
            return
        origin = spec.origin if spec is not None else None
    if origin and os.path.isfile(origin):
        folder.mkdir(exist_ok=True)
        shutil.copy2(origin, folder / os.path.basename(origin))


def run_study(experiment: Experiment, directory: Path, machine: Machine, out: IO[str] = sys.stdout,
              backend: str = "local", max_running: int | None = None) -> Outcome:
    """Run (or resume) the study in ``directory`` until its budget or a stop condition ends it.

    ``backend`` is "local" (this machine) or "compss" (tasks on the PyCOMPSs runtime, or the binding's
    sequential mode outside it); ``max_running`` caps the trials handed to COMPSs at once.
    """
    open_study(experiment, directory)
    return Driver(experiment, directory, machine, out, backend, max_running).run()
