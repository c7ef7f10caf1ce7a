"""Nothing a trial starts may outlive it: find and kill the processes a trial left behind.

Two marks make every process a trial starts findable. A worker adopts the orphans of its trials
(``PR_SET_CHILD_SUBREAPER``), so whatever a trial started and did not wait for stays a descendant
of the worker, even after a double fork, and the worker ends them after each trial
(``end_descendants``). And every worker carries ``HPO_COMPSS_RUN`` (the driver's run) and
``HPO_COMPSS_WORKER`` (the worker) in its environment, which its descendants inherit, so that once
a worker is killed (a timeout, a cancellation) or its driver dies, ``kill_marked`` finds what is
left by that mark, whatever became of the process tree. Only a process that scrubs its environment
and detaches escapes both.
"""
from __future__ import annotations

import ctypes
import os
import signal
import sys
import time

PR_SET_CHILD_SUBREAPER = 36
RUN_VARIABLE = "HPO_COMPSS_RUN"
WORKER_VARIABLE = "HPO_COMPSS_WORKER"
#: rounds of find-and-kill: a process may fork while its siblings are being killed
ROUNDS = 20


def adopt_orphans() -> None:
    """Become the parent of any orphan among this process's descendants (Linux; elsewhere a no-op)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def end_descendants(grace: float = 5.0) -> int:
    """Kill every live descendant of this process and reap them; returns how many were killed.

    Cheap when there are none (one system call), which is the case after almost every trial.
    """
    if not _has_children():
        return 0
    me = os.getpid()
    killed = 0
    for _ in range(ROUNDS):
        found = _descendants(me)
        if not found:
            break
        killed += sum(_kill(pid) for pid in found)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            time.sleep(0.005)
    return killed


def kill_marked(variable: str, value: str) -> int:
    """Kill every process (but this one) whose environment holds ``variable=value``; returns how many."""
    marker = f"{variable}={value}".encode()
    killed = 0
    for _ in range(ROUNDS):
        found = [pid for pid in _pids() if pid != os.getpid() and marker in _environment(pid)]
        if not found:
            break
        killed += sum(_kill(pid) for pid in found)
        time.sleep(0.001)
    return killed


def _has_children() -> bool:
    try:
        os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return False
    return True


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid in _pids():
        parent = _parent(pid)
        if parent is not None:
            children.setdefault(parent, []).append(pid)
    found, frontier = [], [root]
    while frontier:
        for child in children.get(frontier.pop(), ()):
            found.append(child)
            frontier.append(child)
    return found


def _pids() -> list[int]:
    try:
        return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]
    except OSError:
        return []


def _parent(pid: int) -> int | None:
    """The parent of a live process (None for a zombie or a process gone meanwhile)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] in (b"Z", b"X") else int(fields[1])


def _environment(pid: int) -> list[bytes]:
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            return handle.read().split(b"\0")
    except OSError:
        return []


def _kill(pid: int) -> bool:
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return False
    return True
