"""The driver: ask the searcher, submit trials, harvest results, journal them, tell, stop, resume.

A study lives in one folder (``folder``). Running a study whose folder already has a journal
resumes it: the journal is replayed into the searcher in its original order, trials that were
running, cancelled or due a retry run again with the same id and seed, configs the journal never
heard of (a gap) are asked again, and the budget is finished.

Everything the driver decides is journaled, in the order it decided it, before the searcher hears
of it. Stop signals are looked at between two steps (``signals``), at least every ``WAKE_SECONDS``.
"""
from __future__ import annotations

import os
import sys
import time
from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO

from ..clock import SYSTEM_CLOCK
from ..errors import ConfigError, InvalidConfig
from ..experiment import Experiment
from ..folder import SOURCE_DIR, SUMMARY_FILE, TRIALS_DIR, journal_of, keep_source, save_summary
from ..journal import Journal, JournalWriteError
from ..lock import StudyLock
from ..results import ConfigState, Ledger
from ..runtime import inbox
from ..runtime.dask_engine import DaskOptions
from ..runtime.engine import Engine, Event, Finished
from ..runtime.local import LocalEngine
from ..runtime.resources import Assignment, Machine, node_name, usable_classes
from ..schedule import PRUNE, Ended, Move, Placement, retry_move
from ..search import Background, Suggestion, trial_seed
from ..trial import FAILED, PRUNED, ComputeClass, Outcome, Report, Trial, checkpoint_of
from .progress import Progress, budget_text, id_list
from .signals import Interrupted, StopSignals
from .stop_rules import StopRules

#: the longest the loop waits before it looks at signals and the searcher again
WAKE_SECONDS = 0.25
#: how often the loop looks whether the searcher has a config ready, while trials run
SUGGESTION_POLL = 0.02
#: how often the driver saves the ledger for readers (``folder.save_summary``)
SUMMARY_SECONDS = 2.0
#: ... or less often, so that saving it takes at most this share of the driver's time (a large ledger)
SUMMARY_SHARE = 0.05
#: how often one trial may be interrupted by a stop signal the driver itself did not get, before it fails
MAX_INTERRUPTIONS = 3
INVALID_CONFIG = "invalid config: "
BUDGET_USED = "budget of trials used"


@dataclass
class StudyResult:
    """What a run of a study ended with: the ledger of every result, why it stopped, how long it ran."""

    ledger: Ledger
    stop_reason: str
    seconds: float


class Driver:
    """One run (or resume) of a study on the local engine or on COMPSs (``backend``)."""

    def __init__(self, experiment: Experiment, directory: Path, machine: Machine, out: IO[str] | None = None,
                 backend: str = "local", max_running: int | None = None, engine: Engine | None = None,
                 dask: DaskOptions | None = None):
        self.experiment = experiment
        self.directory = Path(directory).resolve()
        self.machine = machine
        self.host = node_name()
        self.backend = backend
        self.max_running = max_running
        self.dask = dask or DaskOptions()
        self.journal: Journal = journal_of(self.directory)
        self.trials_dir = str(self.directory / TRIALS_DIR)
        self.ledger = Ledger(experiment.mode, experiment.repeats)
        #: an engine given from outside (a simulation), else the backend's, made at ``run``
        self.engine = engine
        self.clock = engine.clock if engine is not None else SYSTEM_CLOCK
        self.searcher = Background(experiment.searcher(), threaded=self.clock.real)
        self.scheduler = experiment.scheduler()
        #: running trials the scheduler decided to stop, for the engine
        self.to_stop: list[int] = []
        #: trials that will never run again, whose checkpoints go (under a scheduler other than fifo)
        self.to_discard: list[int] = []
        #: per config not ended, the budgets the searcher has heard its value at (a rung it paused at)
        self.told_at_rung: dict[int, set[float]] = {}
        #: the configs asked whose trials have not all ended
        self.asked: dict[int, Suggestion] = {}
        #: configs that could not be built, with why
        self.invalid: dict[int, str] = {}
        #: the next config id never asked, and ids below it the journal never heard of (a gap)
        self.next_config = 0
        self.missing: list[int] = []
        #: a config id requested from the searcher whose config is not ready yet
        self.awaiting: int | None = None
        self.pending: deque[Trial] = deque()
        #: where the scheduler placed configs requested from the searcher, by config id
        self.requested: dict[int, Placement] = {}
        #: where pending trials go: their config's placement, by trial id
        self.placed: dict[int, Placement] = {}
        #: where the next attempt of a trial that failed goes, learnt from the failure (``schedule.retry``)
        self.moves: dict[int, Move] = {}
        #: the classes the engine runs (set when it starts)
        self.classes: list[ComputeClass] = list(experiment.compute_classes)
        #: running records of the fill under way, not yet journaled
        self.unjournaled: list[dict] = []
        #: attempts interrupted in this run by a stop signal the driver did not get itself, by (trial, attempt)
        self.interruptions: dict[tuple[int, int], int] = {}
        self.rules = StopRules(experiment)
        self.stop_reason = ""
        self.final = False
        self.signals = StopSignals()
        self.lock: StudyLock | None = None
        #: the content hash of the objective's source file this run uses (``folder.keep_source``)
        self.source: str | None = None
        self.started = self.clock.monotonic()
        self.progress = Progress(experiment, out if out is not None else sys.stdout, self.clock)
        self.summary_due = 0.0

    def run(self) -> StudyResult:
        with StudyLock(self.directory, self.progress.say) as lock, self.signals:
            self.lock = lock
            self.source = keep_source(self.experiment.objective, self.directory)
            torn = self.journal.cut_torn_tail()
            if torn is not None:
                self.progress.say(f"{self.journal.path}: cut off a torn last record ({torn.length} bytes, written when a "
                          "driver was killed); what it recorded runs again")
            self._replay()
            if self.final:
                return self._already_finished()
            try:
                with self._engine() as engine:
                    self._start_session(engine)
                    self.searcher.start()
                    self._drive(engine)
            finally:
                self.searcher.close()
                self.journal.close()
        return StudyResult(self.ledger, self.stop_reason, self.clock.monotonic() - self.started)

    def _drive(self, engine: Engine) -> None:
        """Run the loop to its end. Interrupted, journal what was cancelled; on any other error (the journal
        cannot be written, the lock was lost) stop the trials without writing: what ran runs again."""
        try:
            self._loop(engine)
        except Interrupted as interruption:
            self.stop_reason = f"interrupted by {interruption}"
            self._record(engine.cancel(f"cancelled: driver {self.stop_reason}"))
            self._stop()
            self._save_summary()
            raise
        except BaseException:
            engine.cancel("cancelled: the driver stopped")
            raise
        self._save_summary()

    def _already_finished(self) -> StudyResult:
        if not (self.ledger.stopped or {}).get("final"):  # it ended (say, target reached) just before a crash
            self._stop()
        self._save_summary()
        self.journal.close()
        self.progress.say(f"study {self.experiment.name} is already finished ({self.stop_reason})")
        return StudyResult(self.ledger, self.stop_reason, 0.0)

    def _engine(self) -> Engine:
        if self.engine is not None:
            return self.engine
        if self.backend == "compss":
            from ..runtime.compss import CompssEngine

            experiment = self.experiment
            return CompssEngine(self.machine, experiment.compute_classes, experiment.objective, self.directory,
                                experiment.timeout, experiment.fresh_process, experiment.inputs, self.max_running,
                                scheduled=self.scheduler.stops_trials)
        if self.backend == "dask":
            from ..runtime.dask_engine import DaskEngine

            experiment = self.experiment
            return DaskEngine.start(self.dask, experiment.compute_classes, experiment.objective, self.directory,
                                    experiment.timeout, experiment.fresh_process)
        classes, warnings = usable_classes(self.experiment.compute_classes, self.machine)
        for warning in warnings:
            self.progress.say(f"warning: {warning}")
        return LocalEngine(self.machine, classes, self.experiment.objective, self.directory,
                           self.experiment.timeout, self.experiment.fresh_process)

    # -- replay -----------------------------------------------------------------------------------
    def _replay(self) -> None:
        """Rebuild the ledger and the searcher's state from the journal, in the order it was written."""
        mismatch = False
        for record in self.journal.records():
            if "trial" in record and record["config_id"] not in self.ledger.config_ids:
                suggestion = Suggestion(record["config"], record.get("subspace", ""))
                reason = record.get("reason", "")
                if record["status"] == "failed" and reason.startswith(INVALID_CONFIG):
                    self.invalid[record["config_id"]] = reason[len(INVALID_CONFIG):]
                mismatch |= not self._restore(record["config_id"], suggestion)
                self.asked[record["config_id"]] = suggestion
            self._take(record, quiet=True)
        if mismatch:
            self.progress.say("warning: the searcher now proposes other configs than the journal holds; the journal's are kept")
        known = self.ledger.config_ids
        self.next_config = max(known, default=-1) + 1
        self.missing = sorted(set(range(min(self.next_config, self.experiment.trials))) - known)
        stopped = self.ledger.stopped
        budget_raised = self.missing or self.next_config < self.experiment.trials
        if stopped is not None and stopped.get("final") and not (stopped["reason"] == BUDGET_USED and budget_raised):
            self.stop_reason, self.final = stopped["reason"], True
        if self.missing:
            self.progress.say(f"the journal holds no record of config(s) {id_list(self.missing)}: they are asked again")
        self._take_delivered()
        self.pending.clear()  # rebuilt from the ledger, which now knows every outcome
        unfinished = {r["trial"]: r for r in self.ledger.unfinished()}
        invalid = []
        for config_id, suggestion in sorted(self.asked.items()):
            for trial in self._trials(config_id, suggestion):
                if trial.id in unfinished:
                    record = unfinished[trial.id]
                    self.pending.append(replace(trial, attempt=record["attempt"] + (record["status"] == "failed"),
                                                budget=record.get("budget"), after_step=record.get("after_step")))
                elif not self.ledger.knows(trial.id):
                    (invalid if config_id in self.invalid else self.pending).append(trial)
        self._record([self._invalid_outcome(trial) for trial in invalid])

    def _take_delivered(self) -> None:
        """Journal the outcomes trials left in the inbox while no driver was running (COMPSs tasks go on)."""
        mail = inbox.collect(self.directory)
        by_attempt = {(key[0], key[1]): key for key in mail.outcomes}
        classes = {cls.name: cls for cls in self.experiment.compute_classes}
        delivered: list[Event] = []
        for record in self.ledger.unfinished():
            key = by_attempt.get((record["trial"], record["attempt"]))
            cls = classes.get(record.get("class", ""))
            if key is not None and cls is not None:
                trial = replace(self._trial(record["trial"], self.asked[record["config_id"]], record["attempt"]),
                                budget=record.get("budget"), after_step=record.get("after_step"))
                delivered.extend(Report(trial.id, trial.attempt, *report) for report in inbox.reports(self.directory, key, 0)[0])
                delivered.append(Finished(trial, mail.outcomes[key], Assignment(cls, (), ())))
        if delivered:
            ended = sum(isinstance(event, Finished) for event in delivered)
            self.progress.say(f"{ended} trial(s) finished while no driver was running; their results are kept")
            self._record(delivered)
        for key in mail.outcomes:
            inbox.retire(self.directory, key)
        inbox.clear_heartbeats(self.directory)

    def _restore(self, config_id: int, suggestion: Suggestion) -> bool:
        try:
            return self.searcher.restore(config_id, suggestion)
        except InvalidConfig as invalid:
            return invalid.config == suggestion.config
        except ConfigError:
            return False

    # -- the loop ---------------------------------------------------------------------------------
    def _loop(self, engine: Engine) -> None:
        budget = self.experiment.seconds
        while True:
            self._check()
            if not self.stop_reason:
                self._fill(engine)
            if engine.running == 0 and (self.stop_reason or self.awaiting is None):
                self._check()  # a stop signal cut the fill short: the budget is not used up
                if not self.stop_reason:
                    self.stop_reason, self.final = BUDGET_USED, True
                break
            wait = WAKE_SECONDS
            if budget is not None:
                wait = min(wait, max(0.0, budget - (self.clock.monotonic() - self.started)))
            if self.awaiting is not None and not self.stop_reason:  # come back soon for the config being prepared
                wait = min(wait, SUGGESTION_POLL)
            self._record(engine.wait(wait))
            for trial in self.to_stop:
                engine.stop(trial, PRUNED)
            self.to_stop.clear()
            self._retire_paused()
            for trial in self.to_discard:
                engine.discard_checkpoint(checkpoint_of(f"{self.trials_dir}{os.sep}{trial}"))
            self.to_discard.clear()
            if budget is not None and not self.stop_reason and self.clock.monotonic() - self.started >= budget:
                self.stop_reason = f"time budget of {budget:g} s used"
            if self.stop_reason and engine.running:
                self._record(engine.cancel(f"cancelled: {self.stop_reason}"))
            if time.monotonic() >= self.summary_due:
                self._save_summary()
        self._stop()

    def _check(self) -> None:
        """Act on a stop signal received since the last look, or on a lock another driver took."""
        self.signals.check()
        self.lock.check()

    def _fill(self, engine: Engine) -> None:
        """Submit trials while a compute class has room and the budget allows; journal them in order."""
        while self.signals.received is None and (free := engine.free_classes()):  # no new trial once told to stop
            promoted = self.scheduler.promotion() if not self.pending and not self.stop_reason else None
            if promoted is not None:  # a paused trial goes on before any new config starts
                self.pending.append(self._continued(*promoted))
            chosen = self._take_pending(free)
            # wait for the searcher (a little) only when nothing runs; otherwise go on harvesting meanwhile
            while chosen is None and not self.stop_reason and self._ask_next(free, WAKE_SECONDS if engine.running == 0 else 0.0):
                chosen = self._take_pending(free)
            if chosen is None or self.stop_reason:
                break
            trial, placement = chosen
            record = {**trial.record(), "status": "running", "class": placement.cls.name, "submitted": self.clock.time()}
            if len(self.classes) > 1:
                record["placed"] = placement.why
            self.unjournaled.append(record)
            self.ledger.add(record)
            self.scheduler.on_start(trial.id, trial.budget)
            placed = engine.submit(trial, placement.cls)
            if placed is not None:  # where it runs, for readers that show the running trials (not yet journaled)
                record.update(host=self.host, cores=list(placed.cores), gpus=list(placed.gpus))
        self.journal.append(self.unjournaled, sync=False)
        self.unjournaled.clear()

    def _take_pending(self, free: list[ComputeClass]) -> tuple[Trial, Placement] | None:
        """The first pending trial that can go to one of the ``free`` classes now, and where: a trial that
        moves after a failure waits for its class; the others go where the scheduler says."""
        for trial in self.pending:
            move = self.moves.get(trial.id)
            target = next((cls for cls in self.classes if cls.name == move.cls), None) if move else None
            if target is not None:
                if target not in free:
                    continue
                placement = Placement(target, trial.subspace, move.why)
            else:
                placement = self.placed.get(trial.id)
                if placement is None or placement.cls not in free:
                    placement = self.scheduler.place_drawn(trial.subspace, free)
            self.pending.remove(trial)
            self.moves.pop(trial.id, None)
            self.placed.pop(trial.id, None)
            return trial, placement
        return None

    def _ask_next(self, free: list[ComputeClass], wait: float) -> bool:
        """Take the next config, placed on one of the ``free`` classes, and queue its repeats; False when
        there is none (yet).

        A config that cannot be built fails at once: its records are journaled after those of this
        fill before it (``_fill`` appends them first), so the journal keeps the order of decisions.
        """
        config_id = self.missing[0] if self.missing else self.next_config
        if config_id >= self.experiment.trials:
            return False
        if config_id not in self.requested:
            self.requested[config_id] = self.scheduler.place(free)
        placement = self.requested[config_id]
        self.searcher.request(config_id, self.scheduler.first_budget(config_id * self.experiment.repeats),
                              placement.subspace)
        try:
            suggestion = self.searcher.take(config_id, wait)
        except InvalidConfig as invalid:  # a dependent value that cannot be computed for this draw
            suggestion = Suggestion(invalid.config, invalid.subspace)
            self.invalid[config_id] = str(invalid)
        self.awaiting = None if suggestion is not None else config_id
        if suggestion is None:
            return False
        del self.requested[config_id]
        if self.missing and self.missing[0] == config_id:
            self.missing.pop(0)
        else:
            self.next_config += 1
        self.asked[config_id] = suggestion
        trials = self._trials(config_id, suggestion)
        if config_id in self.invalid:
            self._record([self._invalid_outcome(trial) for trial in trials])
        else:
            if placement.subspace in (None, suggestion.subspace):  # (a searcher that cannot draw from a given one)
                self.placed[trials[0].id] = placement
            self.pending.extend(trials)
        return True

    def _invalid_outcome(self, trial: Trial) -> Finished:
        now = self.clock.time()
        reason = f"{INVALID_CONFIG}{self.invalid[trial.config_id]}"
        return Finished(trial, Outcome(FAILED, reason, now, now), None)

    def _record(self, events: list[Event]) -> None:
        """Journal what was reported and what ended (durably, in one write, after the running records decided
        before it), then let the scheduler, the searcher and the stop rules hear of it."""
        records, trials = [], {}
        for item in events:
            if isinstance(item, Report):
                if item.trial in self.ledger.open:
                    records.append(item.record())
                continue
            if item.trial.id in self.ledger.closed:
                continue  # it ran again behind our back (a duplicate delivery): it counts once
            record = {**item.trial.record(), **item.outcome.record()}
            if item.assignment is not None:
                record["class"] = item.assignment.cls.name
            if record["status"] == "cancelled" and not self.stop_reason:
                self._interrupted(record)
            if record["status"] in ("failed", "cancelled") and item.assignment is not None:
                self._learn_from(record, item.assignment.cls)
            elif record["status"] == "failed":
                record["retry"] = False
            if record["status"] == "complete" and self.scheduler.pauses(item.trial.id, item.trial.budget):
                record["status"] = "paused"
            records.append(record)
            trials[item.trial.id] = item.trial
        self.journal.append([*self.unjournaled, *records])
        self.unjournaled.clear()
        for record in records:
            self._take(record)
            if record.get("retry"):  # the same run again: same budget, same steps
                self.pending.appendleft(replace(trials[record["trial"]], attempt=record["attempt"] + 1))
            elif record.get("status") == "cancelled" and not self.stop_reason and self.signals.received is None:
                self.pending.appendleft(trials[record["trial"]])
        self._journal_assignment()
        self.progress.flush()

    def _learn_from(self, record: dict, cls: ComputeClass) -> None:
        """Decide whether a failed attempt runs again and where (``schedule.retry``): another class that cures
        its cause takes it even beyond ``retries``, for at most as many extra attempts as there are classes.
        The decision is journaled with the attempt (``retry``, ``retry_on``, ``moved``)."""
        retries = self.experiment.retries
        move = None
        if record["attempt"] <= retries + len(self.classes):
            move = retry_move(record.get("reason", ""), cls, self.classes, self.scheduler.speeds.speeds(), record.get("host"))
        if record["status"] == "failed":
            record["retry"] = record["attempt"] <= retries or (move is not None and move.cls != cls.name)
        if move is not None and record.get("retry", True):
            record["retry_on"], record["moved"] = move.cls, move.why

    def _retire_paused(self) -> None:
        """End the paused trials the scheduler no longer keeps (``max_paused``): journaled as pruned first."""
        retired = [{**self.ledger.open[trial], "status": PRUNED,
                    "reason": f"retired: at most {self.scheduler.max_paused} trials wait paused (scheduler.max_paused)"}
                   for trial in self.scheduler.retirements()]
        if retired:
            self.journal.append(retired)
            for record in retired:
                self._take(record)

    def _interrupted(self, record: dict) -> None:
        """A trial a stop signal ended while the driver goes on: it runs again, unless that keeps happening."""
        key = (record["trial"], record["attempt"])
        count = self.interruptions[key] = self.interruptions.get(key, 0) + 1
        if count >= MAX_INTERRUPTIONS:
            record["status"] = "failed"
            record["reason"] = f"crashed: {record.get('reason', 'interrupted')}, {count} times while the study went on"

    def _take(self, record: dict, quiet: bool = False) -> None:
        """Hear of one journal record, live or replayed (``quiet``: the decisions it led to are journaled too)."""
        done = self.ledger.add(record)
        if "progress" in record:
            decision = self.scheduler.on_report(record["progress"], record["step"], record["value"])
            if decision == PRUNE and not quiet:
                self.to_stop.append(record["progress"])
            return
        if "trial" not in record:
            return
        if record["status"] == "running":
            self.scheduler.on_start(record["trial"], record.get("budget"))
            self.moves.pop(record["trial"], None)
        else:
            self._ended(record)
            if not quiet:
                self.progress.attempt(record, self.ledger)
                self._watch_opening(record)
        if record["status"] == "paused":
            self.scheduler.on_pause(record["trial"], record["budget"], record["value"])
            told = self.told_at_rung.setdefault(record["config_id"], set())
            if record["budget"] not in told:  # the searcher learns from every rung (BOHB), once per config
                told.add(record["budget"])
                self.searcher.tell(record["config_id"], self.asked[record["config_id"]], record["value"], record["budget"])
        elif record["status"] in ("complete", "failed", "pruned"):
            self.scheduler.on_end(record["trial"], record["status"] == "complete")
            if self.scheduler.stops_trials and record["status"] != "complete" and not record.get("retry"):
                self.to_discard.append(record["trial"])
        if done is not None:  # nothing more to do with its config: the searcher and the journal have it
            self.told_at_rung.pop(done.config_id, None)
            self.searcher.tell(done.config_id, self.asked.pop(done.config_id), done.told, record.get("budget"))
            self.invalid.pop(done.config_id, None)
            self._check_stop(done)

    def _ended(self, record: dict) -> None:
        """Tell the scheduler where an attempt ran and how it went; note where its next attempt goes."""
        if "class" in record:
            start, end = record.get("start"), record.get("end")
            seconds = end - start if start is not None and end is not None else None
            self.scheduler.on_ended(Ended(record["trial"], record.get("subspace", ""), record["config"], record["class"],
                                          record["status"], record.get("value"), seconds))
        if "moved" in record:
            self.moves[record["trial"]] = Move(record["retry_on"], record["moved"])

    def _journal_assignment(self) -> None:
        """Journal how sub-spaces now map to classes, when the scheduler changed it."""
        assignment = self.scheduler.assignment()
        if assignment is not None:
            record = {"study": "assigned", "time": self.clock.time(), **assignment}
            self.journal.append([record], sync=False)

    def _watch_opening(self, record: dict) -> None:
        """Stop a study whose first attempts all fail alike (a bug in the objective), before it burns the allocation."""
        if self.rules.attempt_ended(record["status"], record.get("reason", "")) and not self.stop_reason:
            self.stop_reason = (f"the first {self.experiment.first_failures} trials all failed with "
                                f"'{self.rules.opening[0]}' (a bug in the objective?); see {self._failure_log(record)}, "
                                "fix it, then resume")

    def _failure_log(self, record: dict) -> str:
        attempt = record["attempt"]
        stderr = Path(self.trials_dir) / str(record["trial"]) / ("stderr.txt" if attempt == 1 else f"stderr.{attempt}.txt")
        if stderr.exists():
            return str(stderr)
        return "the journal" if record.get("reason", "").startswith(INVALID_CONFIG) else str(self.directory / "workers.log")

    def _check_stop(self, state: ConfigState) -> None:
        reason = self.rules.config_done(state, improved=self.ledger.best is state)
        if reason and not self.stop_reason:
            self.stop_reason, self.final = reason, True

    def _stop(self) -> None:
        record = {"study": "stopped", "reason": self.stop_reason, "final": self.final, "time": self.clock.time()}
        self.journal.append([record])
        self.ledger.add(record)

    def _save_summary(self) -> None:
        """Save the ledger for readers; a cache only, so failing to write it stops nothing."""
        began = time.monotonic()
        try:
            save_summary(self.directory, self.ledger, self.journal)
        except OSError as error:
            if not isinstance(error, JournalWriteError):
                self.progress.say(f"warning: cannot save {SUMMARY_FILE} ({error.strerror}); status reads the whole journal")
            else:
                raise
        took = time.monotonic() - began
        self.summary_due = began + took + max(SUMMARY_SECONDS, took / SUMMARY_SHARE)

    # -- records and output -------------------------------------------------------------------------
    def _trials(self, config_id: int, suggestion: Suggestion) -> list[Trial]:
        repeats = self.experiment.repeats
        return [self._trial(config_id * repeats + repeat, suggestion) for repeat in range(repeats)]

    def _trial(self, trial: int, suggestion: Suggestion, attempt: int = 1) -> Trial:
        repeats = self.experiment.repeats
        return Trial(trial, trial // repeats, trial % repeats, attempt, trial_seed(self.experiment.seed, trial),
                     suggestion.config, suggestion.subspace, self.source, self.experiment.metric,
                     f"{self.trials_dir}{os.sep}{trial}", self.experiment.inputs, budget=self.scheduler.first_budget(trial))

    def _continued(self, trial: int, budget: float) -> Trial:
        """A paused trial promoted to ``budget``: it goes on from its checkpoint, its steps after its last."""
        paused = self.ledger.open[trial]
        return replace(self._trial(trial, self.asked[paused["config_id"]], paused["attempt"]), budget=budget,
                       after_step=paused.get("step"))

    def _start_session(self, engine: Engine) -> None:
        self.classes = list(engine.classes)
        self.scheduler.use(self.classes)
        done = self.ledger.n_ended
        verb = "resuming" if self.ledger.n_trials else "starting"
        budget = self.experiment.to_json()["budget"]
        last = self.ledger.last_run or {}
        if last.get("budget") not in (None, budget):
            self.progress.say(f"the study's budget is now {budget_text(budget)} (it was {budget_text(last['budget'])})")
        if last.get("source") not in (None, self.source):
            self.progress.say(f"the objective's code changed since the last run: {SOURCE_DIR}/{last['source']} -> "
                      f"{SOURCE_DIR}/{self.source}; the trials from now on record {self.source} as their source")
        self.progress.say(f"{verb} study {self.experiment.name} in {self.directory}: "
                  f"{self.experiment.trials * self.experiment.repeats} trials ({done} done), "
                  f"{engine.describe()}, classes "
                  + ", ".join(f"{c.name}({c.cpus} cpu, {c.gpus} gpu)" for c in engine.classes)
                  + f"; {self.searcher.searcher.describe()}"
                  + ("" if self.scheduler.name == "fifo" else f"; {self.scheduler.describe()}"))
        record = {"study": "started", "time": self.clock.time(), "host": self.host, "pid": os.getpid(),
                  "backend": engine.name, "cores": list(self.machine.cores), "gpus": list(self.machine.gpus),
                  "budget": budget, "source": self.source}
        self.journal.append([record])
        self.ledger.add(record)
        self._journal_assignment()
