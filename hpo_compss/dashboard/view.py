"""A study as the dashboard shows it: its journal read on from where the last read stopped, kept as rows.

Each ``refresh`` reads only the bytes written since the one before (by offset), so following a
running study costs each update what is new, at 100,000 trials as at 10. A torn last line (a
driver in the middle of a write) is read again, whole, at a later refresh; damaged lines are passed
over. A journal rewritten by ``repair`` (another inode) or shorter than what was read is read again
from its start, and the clients are told to start over. Nothing here writes: to the dashboard the
study folder is read-only.

Each trial is one row, replaced whenever a record of it arrives; the trial ids changed are kept in
order, so ``state(epoch, since)`` hands a client exactly the rows it has not seen.
"""
from __future__ import annotations

import collections
import itertools
import json
import math
import threading
import time
from array import array
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from ..analysis.columns import flatten, log_scaled
from ..experiment import Experiment
from ..folder import JOURNAL_FILE, TRIALS_DIR, journal_of, load_study
from ..lock import driver_running
from ..results import Ledger, kind_of

#: a row's fields, in order (the client reads rows by these names)
COLUMNS = ("trial", "config_id", "repeat", "status", "value", "attempt", "submitted", "start", "end", "host",
           "class", "cores", "gpus", "budget", "step", "reason", "subspace", "params")
#: the last bytes of a trial's stdout and stderr its detail shows
TAIL_BYTES = 4096
#: learning curves sent at most: the best ones, then an even sample of the rest
MAX_CURVES = 600
#: records read between two looks of the other threads
READ_BATCH = 5000
#: importance is computed again after a change only once this many times its cost has passed
IMPORTANCE_PACE = 10
#: ends remembered to estimate the rate at which trials end
RATE_WINDOW = 200


class StudyView:
    """One study folder, followed: ``refresh`` reads what is new; the other methods answer the dashboard."""

    def __init__(self, directory: str | Path):
        self.directory = Path(directory).resolve()
        self.experiment: Experiment = load_study(self.directory, check=False)
        self.journal = journal_of(self.directory)
        self._lock = threading.Lock()
        self._reading = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self.offset = 0
        self.inode = self._inode()
        #: bumped when the journal was read again from its start: a client holding another epoch starts over
        self.epoch = getattr(self, "epoch", 0) + 1
        self.ledger = Ledger(self.experiment.mode, self.experiment.repeats)
        self.rows: dict[int, list] = {}
        #: rows as JSON, made when first asked for and dropped when the row changes
        self._encoded: dict[int, bytes] = {}
        self.changes: list[int] = []
        self.params: list[str] = []
        self._param_index: dict[str, int] = {}
        self.curves: dict[int, array] = {}
        self.running: set[int] = set()
        self.first_start: float | None = None
        self.ends: collections.deque[float] = collections.deque(maxlen=RATE_WINDOW)
        #: the last importance: the version it is of, its scores, when it was made and what it cost (s)
        self._importance: tuple[int, dict, float, float] | None = None

    def _inode(self) -> int:
        try:
            return self.journal.path.stat().st_ino
        except FileNotFoundError:
            return 0

    # -- reading ----------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Read the records written since the last refresh, in batches: between two, the other threads see
        the study as read so far (a first read of a large journal shows at once and fills in). While one
        thread reads, a refresh of another returns at once."""
        if not self._reading.acquire(blocking=False):
            return
        try:
            with self._lock:
                if self._inode() != self.inode or self.journal.size() < self.offset:
                    self._reset()
                if self.journal.size() == self.offset:
                    return
            records = self.journal.records(self.offset, skip_damaged=True)
            while True:
                with self._lock:
                    for record in itertools.islice(records, READ_BATCH):
                        self._add(record)
                    if self.offset == self.journal.end:
                        return
                    self.offset = self.journal.end
                time.sleep(0.002)  # (a lock is not fair: let a waiting request in)
        finally:
            self._reading.release()

    def _add(self, record: dict) -> None:
        self.ledger.add(record)
        if "progress" in record:
            points = self.curves.setdefault(record["progress"], array("d"))
            points.extend((record["step"], record["value"]))
            return
        if "study" in record:
            if record["study"] == "started" and self.first_start is None:
                self.first_start = record.get("time")
            return
        trial = record["trial"]
        status = kind_of(record)
        previous = self.rows.get(trial)
        if previous is not None and previous[3] in ("complete", "failed", "pruned"):
            return  # a trial that ended for good never changes (as in the ledger)
        if status == "running":
            self.running.add(trial)
        else:
            self.running.discard(trial)
        if status in ("complete", "failed", "pruned") and record.get("end") is not None:
            self.ends.append(record["end"])
        self.rows[trial] = [trial, record["config_id"], record["repeat"], status, _number(record.get("value")),
                            record["attempt"], record.get("submitted"), record.get("start"), record.get("end"),
                            record.get("host"), record.get("class"), record.get("cores"), record.get("gpus"),
                            record.get("budget"), record.get("step"), record.get("reason"), record.get("subspace", ""),
                            previous[17] if previous is not None else self._params_of(record["config"])]
        self._encoded.pop(trial, None)
        self.changes.append(trial)

    def _params_of(self, config: dict) -> list:
        """The config's values in the order of ``params`` (a name seen first here is added at the end)."""
        nested = any(isinstance(value, (dict, list)) for value in config.values())
        flat = flatten(config) if nested else config
        for name in flat:
            if name not in self._param_index:
                self._param_index[name] = len(self.params)
                self.params.append(name)
        values: list[Any] = [None] * len(self.params)
        for name, value in flat.items():
            values[self._param_index[name]] = _number(value)
        return values

    # -- answers ----------------------------------------------------------------------------------
    def describe(self) -> dict:
        """What does not change while a study runs: its name, metric, budget and scheduler."""
        experiment = self.experiment
        return {"name": experiment.name, "directory": str(self.directory), "metric": experiment.metric,
                "mode": experiment.mode, "trials": experiment.trials, "repeats": experiment.repeats,
                "seconds": experiment.seconds, "scheduler": experiment.scheduling,
                "classes": {c.name: c.to_json() for c in experiment.compute_classes},
                "log_params": sorted(log_scaled(experiment) or ())}

    def state(self, epoch: int = 0, since: int = 0) -> bytes:
        """As JSON: the study's state and the rows changed after version ``since`` (all of them for another
        epoch). Rows are kept encoded, so the first view of 100,000 trials costs a join, not an encoding."""
        self.refresh()
        with self._lock:
            if epoch != self.epoch:
                since = 0
            since = min(max(since, 0), len(self.changes))
            changed = dict.fromkeys(self.changes[since:]) if since else self.rows
            head = _encode({"epoch": self.epoch, "version": len(self.changes), "columns": COLUMNS,
                            "params": self.params, "summary": self._summary(), "reports": self.ledger.n_reports})
            return b"".join((head[:-1], b',"rows":[', b",".join(map(self._row_json, changed)), b"]}"))

    def _row_json(self, trial: int) -> bytes:
        encoded = self._encoded.get(trial)
        if encoded is None:
            encoded = self._encoded[trial] = _encode(self.rows[trial])
        return encoded

    def _summary(self) -> dict:
        status = self.ledger.status()
        now = time.time()
        running = [{"trial": row[0], "host": row[9], "class": row[10], "cores": row[11], "gpus": row[12],
                    "attempt": row[5], "budget": row[13], "elapsed": now - (row[7] or row[6] or now)}
                   for row in (self.rows[trial] for trial in sorted(self.running))]
        alive = driver_running(self.directory)
        return {**status, "running": running, "now": now, "started": self.first_start, "driver_running": alive,
                "time_left": self._time_left(status, now, alive), "read": self.offset, "size": self.journal.size()}

    def _time_left(self, status: dict, now: float, alive: bool) -> float | None:
        """Seconds until the budget is spent, at the rate trials ended lately; None when it cannot be told
        (no driver runs the study: it goes on when it is resumed)."""
        if status["stopped"] and status["stopped"].get("final"):
            return 0.0
        if not alive:
            return None
        left = []
        planned = self.experiment.trials * self.experiment.repeats
        remaining = planned - self.ledger.n_ended
        if len(self.ends) >= 2 and self.ends[-1] > self.ends[0] and remaining > 0:
            left.append(remaining * (self.ends[-1] - self.ends[0]) / (len(self.ends) - 1))
        if self.experiment.seconds is not None and self.first_start is not None:
            left.append(max(0.0, self.first_start + self.experiment.seconds - now))
        return min(left) if left else None

    def learning_curves(self) -> dict:
        """Reported values per trial: every curve, or the best ``MAX_CURVES // 2`` and an even sample of the rest."""
        self.refresh()
        with self._lock:
            trials = list(self.curves)
            if len(trials) > MAX_CURVES:
                sign = 1 if self.experiment.mode == "min" else -1
                ranked = sorted(trials, key=lambda t: sign * self.curves[t][-1])
                best = ranked[:MAX_CURVES // 2]
                rest = ranked[MAX_CURVES // 2:]
                trials = best + rest[::math.ceil(len(rest) / (MAX_CURVES - len(best)))]
            return {"n": len(self.curves), "curves": {str(t): self.curves[t].tolist() for t in trials}}

    def parameter_importance(self) -> dict:
        """Each parameter's importance (``analysis.importance``) over the trials that ended, kept until the next
        change, or for ``IMPORTANCE_PACE`` times what computing them cost (2 s at 100,000 trials), so a large
        live study does not keep the server busy; computed outside the lock, so updates go on meanwhile."""
        self.refresh()
        with self._lock:
            version = len(self.changes)
            if self._importance is not None:
                known, scores, made, cost = self._importance
                if known == version or time.monotonic() - made < IMPORTANCE_PACE * cost:
                    return scores
            rows = [row for row in self.rows.values() if row[3] in ("complete", "failed")]
            params = list(self.params)
        began = time.monotonic()
        scores = _importance(rows, params, self.experiment.mode)
        self._importance = (version, scores, time.monotonic(), time.monotonic() - began)
        return scores

    def trial_detail(self, trial: int) -> dict | None:
        """A trial's records, its reported curve, its extras and the tails of its output files; None if unknown."""
        self.refresh()
        with self._lock:
            if trial not in self.rows:
                return None
        return self.details([trial])[trial]

    def details(self, trials: Iterable[int]) -> dict[int, dict]:
        """``trial_detail`` of several trials, from one pass over the journal (to the last refresh's end)."""
        wanted = {trial: [] for trial in trials}
        head = b'{"trial":'
        with open(self.directory / JOURNAL_FILE, "rb") as handle:
            position = 0
            for line in handle:
                position += len(line)
                if position > self.offset:  # written after the last refresh: the next detail shows it
                    break
                if line.startswith(head):
                    try:
                        records = wanted.get(int(line[len(head):line.index(b",")]))
                        if records is not None:
                            records.append(json.loads(line))
                    except ValueError:
                        continue  # a damaged line: the dashboard passes over it
        return {trial: self._detail(trial, records) for trial, records in wanted.items()}

    def _detail(self, trial: int, records: list[dict]) -> dict:
        workdir = self.directory / TRIALS_DIR / str(trial)
        outputs = {path.name: _tail(path) for path in sorted(workdir.glob("std*.txt"))} if workdir.is_dir() else {}
        extras = next((r["extras"] for r in reversed(records) if isinstance(r.get("extras"), dict)), None)
        return {"trial": trial, "records": records, "curve": self.curves.get(trial, array("d")).tolist(),
                "extras": extras, "outputs": outputs}


def _importance(rows: list[list], params: list[str], mode: str) -> dict:
    from ..analysis.importance import importance  # (scipy.stats: loaded on the first ask, not at start)

    if len(rows) < 3:
        return {}
    sign = 1.0 if mode == "min" else -1.0
    losses = np.array([sign * row[4] if row[3] == "complete" and row[4] is not None else np.inf for row in rows])
    columns = {}
    for index, name in enumerate(params):
        column = [row[17][index] if index < len(row[17]) else None for row in rows]
        present = [v for v in column if v is not None]
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present)
        columns[name] = (column, numeric)
    return {name: {"score": score.score, "n": score.n} for name, score in importance(columns, losses).items()}


def _encode(body: object) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def _number(value: Any) -> Any:
    """A value as JSON can carry it: a float that is not finite (never journaled, but safe) becomes None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _tail(path: Path) -> str:
    with open(path, "rb") as handle:
        size = handle.seek(0, 2)
        handle.seek(max(0, size - TAIL_BYTES))
        text = handle.read().decode("utf-8", "replace")
    return ("..." if size > TAIL_BYTES else "") + text
