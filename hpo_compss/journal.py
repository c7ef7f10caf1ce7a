"""The study's journal: an append-only JSON-lines file, the single source of truth of a study.

Only the driver writes it. ``append`` writes whole lines with one ``write`` call and, unless told
otherwise, ``fsync``s before returning, so whatever a searcher has been told is on disk. A line cut
short by a crash is ignored on reading and cut off before the next append.

Record kinds (one JSON object per line):
- trial records carry ``trial`` and ``status``: ``running`` (sent to a worker), then ``complete``,
  ``failed`` (with ``reason``; ``retry`` says whether another attempt follows) or ``cancelled``;
- study records carry ``study``: ``started`` (one per run or resume) and ``stopped`` (with ``reason``;
  ``final`` when the study is over, not just interrupted).
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Iterable


_encode = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode


class Journal:
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._fd: int | None = None

    def read(self) -> list[dict]:
        """Every whole record, in order; a torn last line (crash mid-write) is skipped."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        records = []
        lines = data.split(b"\n")
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                if number < len(lines):  # a bad line with more after it is damage, not a torn tail
                    print(f"warning: {self.path}:{number}: unreadable record skipped", file=sys.stderr)
        return records

    def append(self, records: Iterable[dict], sync: bool = True) -> None:
        """Append records as lines in one write; ``sync`` makes them durable before returning."""
        payload = "".join(_encode(r) + "\n" for r in records).encode()
        if not payload:
            return
        fd = self._open()
        view = memoryview(payload)
        while view:
            view = view[os.write(fd, view):]
        if sync:
            os.fsync(fd)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _open(self) -> int:
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            self._cut_torn_tail()
        return self._fd

    def _cut_torn_tail(self) -> None:
        size = os.fstat(self._fd).st_size
        if size == 0:
            return
        with open(self.path, "rb") as handle:
            handle.seek(max(0, size - 1))
            if handle.read(1) == b"\n":
                return
            data = handle.seek(0) or handle.read()
        os.ftruncate(self._fd, data.rfind(b"\n") + 1)
