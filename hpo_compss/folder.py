"""The study folder: what lives where, how a study is opened, and how its state is read back.

::

    experiment.json   the validated experiment, normalised (resume reads only this)
    journal.jsonl     every record, append-only: the truth about the study (``journal``)
    summary.json      the ledger as of a byte offset of the journal, kept by the driver so that
                      ``status`` reads only the journal's newer records (a cache: never the truth)
    trials/<id>/      a trial's output files and whatever it writes to its workdir
    source/<hash>/    each version of the objective's source file that ran, by content hash
    .lock             the running driver (``lock``)

Every path is made absolute when a study is opened, so an objective that changes the current
folder cannot send later trials' files elsewhere.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from pathlib import Path

from .errors import ConfigError
from .experiment import Experiment, parse_experiment
from .journal import Journal
from .results import Ledger

EXPERIMENT_FILE = "experiment.json"
JOURNAL_FILE = "journal.jsonl"
SUMMARY_FILE = "summary.json"
TRIALS_DIR = "trials"
SOURCE_DIR = "source"


def open_study(experiment: Experiment, directory: Path) -> Path:
    """Create the study folder, or check that an existing one holds this same experiment; returns it, absolute.

    An experiment that differs from the stored one only in its budget (trials, seconds) is the same
    study given another budget: the stored experiment takes the new one, and the study goes on.
    """
    directory = Path(directory).resolve()
    stored = directory / EXPERIMENT_FILE
    wanted = experiment.to_json()
    if stored.exists():
        previous = json.loads(stored.read_text())
        differing = [k for k in sorted(set(previous) | set(wanted)) if previous.get(k) != wanted.get(k)]
        if differing and differing != ["budget"]:
            raise ConfigError((differing[0],), f"differs from the study already in {directory}; use "
                                               "`hpo-compss resume` to continue it, or --study-dir for a new study")
        if differing:
            _write_experiment(stored, wanted)
        return directory
    (directory / TRIALS_DIR).mkdir(parents=True, exist_ok=True)
    _write_experiment(stored, wanted)
    return directory


def _write_experiment(path: Path, data: dict) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(temporary, path)


def load_study(directory: Path, check: bool = True) -> Experiment:
    """The experiment a study folder was started with."""
    stored = Path(directory) / EXPERIMENT_FILE
    if not stored.exists():
        raise ConfigError((), f"{directory} is not a study folder (no {EXPERIMENT_FILE})")
    return parse_experiment(json.loads(stored.read_text()), check=check)


def with_budget(experiment: Experiment, trials: int | None, seconds: float | None) -> Experiment:
    """The experiment with another budget (checked as in a file: ``budget.trials`` errors name that key)."""
    data = experiment.to_json()
    if trials is not None:
        data["budget"]["trials"] = trials
    if seconds is not None:
        data["budget"]["seconds"] = seconds
    return parse_experiment(data)


def journal_of(directory: Path) -> Journal:
    return Journal(Path(directory) / JOURNAL_FILE)


def read_ledger(directory: Path, experiment: Experiment) -> tuple[Ledger, Journal]:
    """The study's state, for a reader: from the saved summary and the newer records when it can.

    Damaged lines are skipped (``journal.skipped`` says which), a torn tail is ignored (a running
    driver may be writing it): readers show the study, only the driver repairs it.
    """
    journal = journal_of(directory)
    ledger, offset = _saved_ledger(Path(directory), journal) or (Ledger(experiment.mode, experiment.repeats), 0)
    for record in journal.records(offset, skip_damaged=True):
        ledger.add(record)
    return ledger, journal


def save_summary(directory: Path, ledger: Ledger, journal: Journal) -> None:
    """Save the ledger as of the journal's current end (the journal is synced first)."""
    journal.sync()
    body = {"offset": journal.size(), "inode": _inode(journal), "ledger": ledger.to_json()}
    path = Path(directory) / SUMMARY_FILE
    temporary = path.with_name(f"{SUMMARY_FILE}.tmp")  # one driver at a time writes it
    temporary.write_text(json.dumps(body, separators=(",", ":"), allow_nan=False))
    os.replace(temporary, path)


def _saved_ledger(directory: Path, journal: Journal) -> tuple[Ledger, int] | None:
    try:
        body = json.loads((directory / SUMMARY_FILE).read_text())
        if body["inode"] != _inode(journal) or body["offset"] > journal.size():
            return None  # the journal was rewritten, or lost records the summary counted (a crash before a sync)
        return Ledger.from_json(body["ledger"]), body["offset"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _inode(journal: Journal) -> int:
    try:
        return journal.path.stat().st_ino
    except FileNotFoundError:
        return 0


def keep_source(objective: str, directory: Path) -> str | None:
    """Keep the objective's source file as ``source/<hash>/<file>``; returns the hash (None if it has no file).

    Each version that ran is kept, named by the first 12 hex digits of its content's SHA-256, so a
    trial's record (its ``source``) ties its result to the code that produced it.
    """
    origin = _source_file(objective)
    if origin is None:
        return None
    content = Path(origin).read_bytes()
    digest = hashlib.sha256(content).hexdigest()[:12]
    kept = Path(directory) / SOURCE_DIR / digest / os.path.basename(origin)
    if not kept.exists():
        kept.parent.mkdir(parents=True, exist_ok=True)
        temporary = kept.with_name(kept.name + ".tmp")
        temporary.write_bytes(content)
        os.replace(temporary, kept)
    return digest


def _source_file(objective: str) -> str | None:
    target = objective.rpartition(":")[0]
    if target.endswith(".py"):
        origin = target
    else:
        try:
            spec = importlib.util.find_spec(target)
        except (ImportError, ValueError):
            return None
        origin = spec.origin if spec is not None else None
    return origin if origin and os.path.isfile(origin) else None
