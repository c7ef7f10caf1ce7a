"""The study's journal: an append-only JSON-lines file, the single source of truth of a study.

Only the driver writes it. ``append`` writes whole lines with one ``write`` call and, unless told
otherwise, ``fsync``s before returning, so whatever a searcher has been told is on disk. A write that
fails (a full disk) is taken back whole, so the file never holds half a record before a whole one.

Reading streams the file, so memory does not grow with it. A last line without its newline is a
*torn tail*, left by a crash in the middle of a write: readers skip it (a running study may be in
the middle of writing it), and the driver cuts it off, saying so, before it writes again. A bad line
anywhere else is *damage*: the driver refuses to go on past it (a resume would skip what it held),
and ``quarantine`` moves such lines aside, on the user's request, into ``journal.damaged.jsonl``.

Record kinds (one JSON object per line):
- trial records carry ``trial`` and ``status``: ``running`` (sent to a worker), then ``complete``,
  ``failed`` (with ``reason``; ``retry`` says whether another attempt follows) or ``cancelled``;
- study records carry ``study``: ``started`` (one per run or resume) and ``stopped`` (with ``reason``;
  ``final`` when the study is over, not just interrupted).
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from .errors import ConfigError

STATUSES = ("running", "complete", "failed", "cancelled", "pruned", "paused")
DAMAGED_SUFFIX = ".damaged.jsonl"

_encode = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode


class JournalDamaged(ConfigError):
    """A record in the middle of the journal cannot be read: going on would skip what it held."""

    def __init__(self, path: Path, line: int, problem: str):
        self.line = line
        super().__init__((), f"{path}:{line}: damaged record ({problem}); a resume would skip what it held. "
                             f"Run `hpo-compss repair {path.parent}` to move the damaged lines to "
                             f"{path.name[:-len('.jsonl')]}{DAMAGED_SUFFIX} (what they recorded runs again), then resume")


class JournalWriteError(OSError):
    """The journal could not be written (a full disk, a quota): nothing was recorded of the failed write."""


@dataclass(frozen=True)
class Tail:
    """A torn last line: where it starts and how long it is."""

    offset: int
    length: int


def problem_with(record: object) -> str | None:
    """Why a parsed line is not a record the driver could have written, or None."""
    if not isinstance(record, dict):
        return "not a JSON object"
    if "study" in record:
        return None if record["study"] in ("started", "stopped", "assigned") else f"unknown study event {record['study']!r}"
    if "progress" in record:
        return _report_problem(record)
    for key in ("trial", "config_id", "repeat", "attempt"):
        value = record.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            return f"{key} is not a count: {value!r}"
    if record["attempt"] < 1:
        return "attempt is not positive"
    if record.get("status") not in STATUSES:
        return f"unknown status {record.get('status')!r}"
    if not isinstance(record.get("config"), dict):
        return "config is not an object"
    value = record.get("value")
    if record["status"] == "complete" and (isinstance(value, bool) or not isinstance(value, (int, float))
                                           or not math.isfinite(value)):
        return f"a complete trial's value is not a finite number: {value!r}"
    return None


def _report_problem(record: dict) -> str | None:
    for key in ("progress", "attempt"):
        value = record.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            return f"{key} is not a count: {value!r}"
    for key in ("step", "value"):
        value = record.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return f"a report's {key} is not a finite number: {value!r}"
    return None


class Journal:
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._fd: int | None = None
        self._size = 0
        #: a torn last line seen by the last ``records`` that read to the end
        self.tail: Tail | None = None
        #: damaged lines skipped by the last ``records(skip_damaged=True)``: their numbers
        self.skipped: list[int] = []
        #: where the last ``records`` stopped reading: after its last whole line (a follower goes on from here)
        self.end = 0

    def records(self, offset: int = 0, skip_damaged: bool = False) -> Iterator[dict]:
        """Every whole record from byte ``offset`` on, streamed; the torn tail is noted in ``tail``.

        A damaged line raises JournalDamaged, or with ``skip_damaged`` (for readers that only show
        the study) is noted in ``skipped`` and passed over.
        """
        self.tail, self.skipped, self.end = None, [], offset
        try:
            handle = open(self.path, "rb")
        except FileNotFoundError:
            return
        with handle:
            handle.seek(offset)
            position, number = offset, 0
            for line in handle:
                number += 1
                start, position = position, position + len(line)
                if not line.endswith(b"\n"):
                    self.tail = Tail(start, len(line))
                    return
                self.end = position
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    problem = problem_with(record)
                except (ValueError, RecursionError) as error:
                    problem = f"not JSON: {error}"
                if problem is None:
                    yield record
                elif skip_damaged:
                    self.skipped.append(number)
                else:
                    raise JournalDamaged(self.path, number, problem)

    def read(self) -> list[dict]:
        """Every whole record, in order (damaged lines raise JournalDamaged)."""
        return list(self.records())

    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def cut_torn_tail(self) -> Tail | None:
        """Cut off a torn last line (the driver's, before it writes again); returns what was cut."""
        try:
            with open(self.path, "rb") as handle:
                size = handle.seek(0, os.SEEK_END)
                if size == 0:
                    return None
                handle.seek(size - 1)
                if handle.read(1) == b"\n":
                    return None
                start = max(0, size - 1)
                while start > 0:  # find the start of the last line, reading backwards in blocks
                    block = min(start, 1 << 16)
                    handle.seek(start - block)
                    chunk = handle.read(block)
                    newline = chunk.rfind(b"\n")
                    if newline >= 0:
                        start = start - block + newline + 1
                        break
                    start -= block
        except FileNotFoundError:
            return None
        os.truncate(self.path, start)
        return Tail(start, size - start)

    def append(self, records: Iterable[dict], sync: bool = True) -> None:
        """Append records as lines in one write; ``sync`` makes them (and earlier ones) durable before returning."""
        payload = "".join(_encode(r) + "\n" for r in records).encode()
        if not payload:
            return
        fd = self._open()
        view = memoryview(payload)
        try:
            while view:
                view = view[os.write(fd, view):]
            if sync:
                os.fsync(fd)
        except OSError as error:
            self._take_back(fd)
            raise JournalWriteError(error.errno, f"cannot write {self.path}: {error.strerror}; the records "
                                                 "before this write are intact") from None
        self._size += len(payload)

    def sync(self) -> None:
        """Make every record written so far durable."""
        if self._fd is not None:
            try:
                os.fsync(self._fd)
            except OSError as error:
                raise JournalWriteError(error.errno, f"cannot write {self.path}: {error.strerror}") from None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _open(self) -> int:
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.cut_torn_tail()
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            self._size = os.fstat(self._fd).st_size
        return self._fd

    def _take_back(self, fd: int) -> None:
        """Remove the part of a failed write that reached the file."""
        try:
            os.ftruncate(fd, self._size)
            os.fsync(fd)
        except OSError:
            pass  # left as a torn tail, cut off before the next write


def quarantine(path: Path) -> list[int]:
    """Move every damaged line of the journal at ``path`` to its ``.damaged.jsonl`` file; returns their numbers.

    The journal is rewritten beside itself and renamed over the original, so a crash leaves one or
    the other whole. A torn tail is kept where it is, for the driver to cut.
    """
    journal = Journal(path)
    kept = path.with_name(path.name + ".repair")
    damaged_path = path.with_name(path.name[:-len(".jsonl")] + DAMAGED_SUFFIX)
    numbers = []
    with open(path, "rb") as source, open(kept, "wb") as target, open(damaged_path, "ab") as damaged:
        for number, line in enumerate(source, 1):
            whole = line.endswith(b"\n")
            try:
                problem = problem_with(json.loads(line)) if whole and line.strip() else None
            except (ValueError, RecursionError):
                problem = "not JSON"
            if problem is None:
                target.write(line)
            else:
                numbers.append(number)
                damaged.write(_encode({"line": number, "problem": problem,
                                       "text": line.decode("utf-8", "replace")}).encode() + b"\n")
        target.flush()
        os.fsync(target.fileno())
        damaged.flush()
        os.fsync(damaged.fileno())
    os.replace(kept, path)
    journal.close()
    return numbers
