"""Trial outcomes as files in the study folder: how trials on other nodes report to the driver.

COMPSs has no "wait for any", so a trial's task writes ``inbox/<trial>.<attempt>.<token>.json`` (a
temporary file, then a rename: never seen half-written) into the study folder on the shared file
system, and while it runs keeps ``inbox/<trial>.<attempt>.<token>.running`` fresh as a heartbeat.
The token is new at each submission, so a task of an earlier run of the same attempt (cancelled,
then resumed) is never taken for the current one. The driver polls the folder, journals what it
finds, then deletes it. An outcome written while no driver was running is still there when the
study resumes.

A trial's reports go the same way, one JSON line each appended to ``<key>.progress``, which the
driver reads on from where it stopped; the driver stops a trial by writing ``<key>.stop`` (its
status, PRUNED or PAUSED), which the trial's task reads after its next report.
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

from ..trial import Outcome, Report, Trial

FOLDER = "inbox"
#: how often a running trial's task refreshes its heartbeat
HEARTBEAT_SECONDS = 30.0

Key = tuple[int, int, str]  # (trial, attempt, token)


def key_of(trial: Trial) -> Key:
    return trial.id, trial.attempt, trial.token


@dataclass(eq=False)
class Followed:
    """A trial whose task reports and is stopped through the inbox (COMPSs, Dask): how much of its progress
    file is read, its last report, and the stop it was told."""

    trial: Trial
    read: int = 0
    last: Report | None = None
    stop: str | None = None
    #: when to cancel its task if it has not returned since it was told to stop (monotonic)
    stop_by: float = math.inf

    def new_reports(self, study_dir: str | Path) -> list[Report]:
        found, self.read = reports(study_dir, key_of(self.trial), self.read)
        new = [Report(self.trial.id, self.trial.attempt, step, value, at) for step, value, at in found]
        if new:
            self.last = new[-1]
        return new

    def ask_to_stop(self, study_dir: str | Path, status: str, cancel_after: float) -> None:
        """Tell its task to stop at the trial's next report (once); it ends as ``status``."""
        if self.stop is None:
            request_stop(study_dir, key_of(self.trial), status)
            self.stop, self.stop_by = status, time.monotonic() + cancel_after

    def cancelled_outcome(self, seconds: float) -> Outcome:
        """How it ends when its task, told to stop, had not returned ``seconds`` later: as told, at its last report."""
        at = "" if self.last is None else f" at step {self.last.step:g}"
        outcome = Outcome(self.stop or "cancelled", f"stopped by the scheduler{at}; its task was cancelled, as it had "
                                                    f"not returned {seconds:g} s later", end=time.time())
        if self.last is not None:
            outcome.value, outcome.step = self.last.value, self.last.step
        return outcome


def _path(study_dir: str | Path, key: Key, suffix: str) -> str:
    return os.path.join(study_dir, FOLDER, f"{key[0]}.{key[1]}.{key[2]}{suffix}")


def announce(study_dir: str | Path, trial: Trial, info: dict) -> str:
    """Say that a trial has started (and where); returns the heartbeat file to ``touch``."""
    os.makedirs(os.path.join(study_dir, FOLDER), exist_ok=True)
    path = _path(study_dir, key_of(trial), ".running")
    _write_atomically(path, info)
    return path


def touch(heartbeat: str) -> None:
    try:
        os.utime(heartbeat)
    except FileNotFoundError:
        pass


def report(study_dir: str | Path, trial: Trial, step: float, value: float, time: float) -> None:
    """Append one report to the trial's progress file (one ``write`` of one whole line)."""
    line = json.dumps({"step": step, "value": value, "time": time}) + "\n"
    handle = os.open(_path(study_dir, key_of(trial), ".progress"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(handle, line.encode())
    finally:
        os.close(handle)


def reports(study_dir: str | Path, key: Key, offset: int) -> tuple[list[tuple[float, float, float]], int]:
    """The (step, value, time) of the whole lines after byte ``offset`` of a progress file, and the new offset."""
    try:
        with open(_path(study_dir, key, ".progress"), "rb") as handle:
            handle.seek(offset)
            data = handle.read()
    except FileNotFoundError:
        return [], offset
    found = []
    end = data.rfind(b"\n") + 1  # a line still being written is read next time
    for line in data[:end].splitlines():
        try:
            item = json.loads(line)
            found.append((float(item["step"]), float(item["value"]), float(item["time"])))
        except (ValueError, TypeError, KeyError):
            continue
    return found, offset + end


def request_stop(study_dir: str | Path, key: Key, status: str) -> None:
    """Tell a running trial's task to stop at its next report, ending as ``status``."""
    _write_atomically(_path(study_dir, key, ".stop"), {"status": status})


def stop_requested(study_dir: str | Path, trial: Trial) -> str | None:
    """The status the driver stopped this trial with, if it did."""
    try:
        with open(_path(study_dir, key_of(trial), ".stop")) as handle:
            status = json.load(handle).get("status")
    except (OSError, ValueError, AttributeError):
        return None
    return status if isinstance(status, str) else None


def deliver(study_dir: str | Path, trial: Trial, outcome: Outcome) -> None:
    """Leave a trial's outcome for the driver, then retire its heartbeat."""
    key = key_of(trial)
    os.makedirs(os.path.join(study_dir, FOLDER), exist_ok=True)
    _write_atomically(_path(study_dir, key, ".json"), outcome.record())
    discard(study_dir, key, ".running")


@dataclass
class Mail:
    #: outcomes waiting, by (trial, attempt)
    outcomes: dict[Key, Outcome]
    #: trials that announced themselves and have no outcome yet: when each last showed a sign of life
    running: dict[Key, float]
    #: the size of each progress file
    progress: dict[Key, int]


def collect(study_dir: str | Path) -> Mail:
    """Everything in the inbox now; an unreadable outcome (a foreign or broken file) is skipped."""
    mail = Mail({}, {}, {})
    try:
        entries = list(os.scandir(os.path.join(study_dir, FOLDER)))
    except FileNotFoundError:
        return mail
    for entry in entries:
        parts = entry.name.split(".")
        if len(parts) != 4 or not (parts[0].isdigit() and parts[1].isdigit()):
            continue  # a temporary file, or a foreign one
        trial, attempt, token, kind = parts
        key = (int(trial), int(attempt), token)
        if kind == "json":
            try:
                with open(entry.path) as handle:
                    mail.outcomes[key] = Outcome.from_record(json.load(handle))
            except (OSError, ValueError, TypeError, AttributeError):
                continue
        elif kind in ("running", "progress"):
            try:
                status = entry.stat()
            except FileNotFoundError:
                continue
            if kind == "running":
                mail.running[key] = status.st_mtime
            else:
                mail.progress[key] = status.st_size
    for key in mail.outcomes:
        mail.running.pop(key, None)
    return mail


def announcement(study_dir: str | Path, key: Key) -> dict:
    """What a running trial's task said of itself (host, pid, start); {} if it is gone or unreadable."""
    try:
        with open(_path(study_dir, key, ".running")) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return {}


def clear_heartbeats(study_dir: str | Path) -> None:
    """Remove what tasks leave while they run (heartbeats, reports, stops): called when no task of the
    study can be running (no driver was). Outcomes stay, for the driver to journal."""
    mail = collect(study_dir)
    for key in {*mail.running, *mail.progress}:
        if key not in mail.outcomes:
            for suffix in (".running", ".progress", ".stop"):
                discard(study_dir, key, suffix)


def discard(study_dir: str | Path, key: Key, suffix: str = ".json") -> None:
    try:
        os.unlink(_path(study_dir, key, suffix))
    except FileNotFoundError:
        pass


def retire(study_dir: str | Path, key: Key) -> None:
    """Remove every file of a submission whose outcome is journaled."""
    for suffix in (".json", ".running", ".progress", ".stop"):
        discard(study_dir, key, suffix)


def _write_atomically(path: str, data: dict) -> None:
    temporary = f"{path}.{os.getpid()}.{time.monotonic_ns()}.tmp"
    with open(temporary, "w") as handle:
        json.dump(data, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
