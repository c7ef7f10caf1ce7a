"""One driver per study, on any file system a cluster has (NFS, Lustre, GPFS), across nodes.

``flock`` is no lock on a cluster: Lustre without ``-o flock`` refuses it, and with ``localflock``
it holds on one node only. The lock is therefore a file, ``.lock``, that appears whole or not at
all: its content (host, pid, the process's start, a token) is written to a file of its own, then
hard-linked to ``.lock``, which fails if one exists, atomically, on every POSIX file system and
NFS (Optuna's journal storage relies on the same property). While the driver runs, a thread
touches the file every ``HEARTBEAT_SECONDS``.

A lock is *stale* when its holder is known to be gone: on this host, its process no longer exists
(or is another process with the same pid); on another host, its file has not been touched for
``STALE_SECONDS`` (far more than the clocks of a cluster's nodes drift apart).
A stale lock is broken and the caller is told who held it; a live one is never broken: the second
driver is refused, naming the first. Reading a lock (``holder``, ``driver_running``) changes nothing,
so ``status`` can never disturb a driver that starts.
"""
from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .errors import ConfigError

LOCK_FILE = ".lock"
HEARTBEAT_SECONDS = 10.0
STALE_SECONDS = 120.0


class LockLost(RuntimeError):
    """Another driver broke this driver's lock (it saw no heartbeat): this one must stop writing."""


@dataclass(frozen=True)
class Holder:
    """Who holds a study's lock, and how long ago it last showed a sign of life (seconds)."""

    host: str
    pid: int
    #: the process's start (clock ticks after boot) and the boot it belongs to: a reused pid differs
    start: str
    boot: str
    token: str
    age: float

    def describe(self) -> str:
        return f"host {self.host}, pid {self.pid}, last sign of life {self.age:.0f} s ago"


def holder(directory: Path) -> Holder | None:
    """The holder of the study's lock, or None when there is no lock."""
    path = Path(directory) / LOCK_FILE
    try:
        text = path.read_text()
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return None
    try:
        body = json.loads(text)
        return Holder(str(body["host"]), int(body["pid"]), str(body["start"]), str(body["boot"]), str(body["token"]), age)
    except (ValueError, KeyError, TypeError):  # an empty lock file, as earlier versions left: only its age speaks
        return Holder("?", 0, "", "", "", age)


def gone(lock: Holder) -> str | None:
    """Why the lock's holder is known to be gone, or None when it may be alive."""
    if lock.host == socket.gethostname() and lock.pid:
        if lock.boot != _boot_id():
            return f"the driver that held the study's lock ({lock.describe()}) ran before this machine restarted"
        if _process_start(lock.pid) != lock.start:
            return f"the driver that held the study's lock ({lock.describe()}) is gone"
        return None
    if lock.age > STALE_SECONDS:
        return f"the study's lock ({lock.describe()}) is stale: no sign of life for over {STALE_SECONDS:g} s"
    return None


def driver_running(directory: Path) -> bool:
    """Does a live driver (as far as can be told) hold this study's lock? Reads only."""
    lock = holder(directory)
    return lock is not None and gone(lock) is None


class StudyLock:
    """Held by the driver while it runs a study; ``say`` hears of a stale lock that was broken."""

    def __init__(self, directory: Path, say: Callable[[str], None]):
        self.directory = Path(directory)
        self.path = self.directory / LOCK_FILE
        self.say = say
        self.token = uuid.uuid4().hex
        #: why the lock was lost while held (another driver broke it), else None
        self.lost: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "StudyLock":
        for _ in range(5):
            if self._create():
                self._thread = threading.Thread(target=self._beat, name="hpo-compss-lock", daemon=True)
                self._thread.start()
                return self
            lock = holder(self.directory)
            if lock is None:
                continue  # released meanwhile: try again
            why = gone(lock)
            if why is None:
                raise ConfigError((), f"another driver is running the study in {self.directory} ({lock.describe()}); "
                                      f"if it is really gone, remove {self.path}")
            if self._break(lock):
                self.say(f"warning: {why}; its lock was removed")
        raise ConfigError((), f"could not take the lock of the study in {self.directory}: other drivers keep taking it")

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._ours():
            self.path.unlink(missing_ok=True)

    def check(self) -> None:
        """Raise LockLost if another driver has taken the study over."""
        if self.lost is not None:
            raise LockLost(self.lost)

    def _create(self) -> bool:
        body = {"host": socket.gethostname(), "pid": os.getpid(), "start": _process_start(os.getpid()),
                "boot": _boot_id(), "token": self.token, "since": time.time()}
        draft = self.directory / f"{LOCK_FILE}.{self.token}"
        draft.write_text(json.dumps(body))
        try:
            os.link(draft, self.path)
            return True
        except FileExistsError:
            # over NFS a link whose reply was lost is retried and fails: its link count tells (open(2))
            return draft.stat().st_nlink == 2
        finally:
            draft.unlink(missing_ok=True)

    def _break(self, stale: Holder) -> bool:
        """Move the stale lock aside; if what was moved turns out to be a fresh lock, put it back."""
        aside = self.directory / f"{LOCK_FILE}.broken.{self.token}"
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return False
        try:
            moved = json.loads(aside.read_text()).get("token", "")
        except (OSError, ValueError, AttributeError):
            moved = ""
        if moved != stale.token:
            try:
                os.link(aside, self.path)  # another driver took the lock in between: give it back
            except FileExistsError:
                pass
        aside.unlink(missing_ok=True)
        return moved == stale.token

    def _ours(self) -> bool:
        try:
            return json.loads(self.path.read_text()).get("token") == self.token
        except (OSError, ValueError, AttributeError):
            return False

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            if not self._ours():
                lock = holder(self.directory)
                self.lost = f"another driver took the study over ({lock.describe() if lock else 'its lock is gone'})"
                return
            try:
                os.utime(self.path)
            except OSError:
                pass


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _process_start(pid: int) -> str:
    """When process ``pid`` started (clock ticks after boot), or "" when there is no such process."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return ""
        except PermissionError:
            pass
        return "?"
