"""A trial's Dask task, as it runs in a Dask worker: pinned to cores and GPUs of the node's, then supervised.

Dask's resources (``{"cores": 4, "GPU": 1}``) are counters: the scheduler sends a trial only to a
worker with that much free, but sets no affinity and no ``CUDA_VISIBLE_DEVICES``, and the worker
processes of one node know nothing of each other. So a trial takes its cores and GPUs on the node
itself: each is held by an exclusive ``flock`` on a file of its own (``/tmp/hpo-compss-<uid>/``),
which every worker process of the node sees and the kernel lets go when the holder dies. Cores
come from the worker's affinity, GPUs from its ``CUDA_VISIBLE_DEVICES`` (else as many ids as its
``GPU`` resource). Where too few are free (workers that declare no resources, so Dask may overfill
them), the trial shares the first ones. It then runs in a child process (``supervisor``), so a
timeout or a stop really kills it, and a crash is the trial's, not the worker's.
"""
from __future__ import annotations

import fcntl
import os
import tempfile
import threading
from dataclasses import dataclass

from ..trial import Outcome, Trial
from .runner import TrialResources
from .supervisor import supervise


def run_trial(objective: str, trial: Trial, study_dir: str, timeout: float | None, fresh_process: bool,
              cpus: int, gpus: int) -> Outcome:
    """Run ``trial`` on ``cpus`` cores and ``gpus`` GPUs of this node; its outcome (also left in the inbox)."""
    last = _last.get(threading.get_ident(), {})
    held = _Held(_hold(_first(sorted(os.sched_getaffinity(0)), last.get("core", [])), cpus, "core"),
                 _hold(_first(_worker_gpus(), last.get("gpu", [])), gpus, "gpu"))
    _last[threading.get_ident()] = {"core": held.ids("core"), "gpu": held.ids("gpu")}
    try:
        placed = TrialResources(tuple(int(c) for c in held.ids("core")), tuple(held.ids("gpu")), max(1, cpus), "dask")
        return supervise(objective, trial, study_dir, timeout, fresh_process, placed, watch_stop=True)
    finally:
        held.release()


#: the cores and GPUs each thread of this worker held last: tried first, so that its kept child
#: process (pinned to them) serves its next trial too
_last: dict[int, dict[str, list[str]]] = {}


def _first(ids: list, preferred: list[str]) -> list:
    return sorted(ids, key=lambda i: str(i) not in preferred)


@dataclass
class _Held:
    """The cores and GPUs a trial holds: each id with the descriptor of its lock file (None: shared)."""

    cores: list[tuple[str, int | None]]
    gpus: list[tuple[str, int | None]]

    def ids(self, kind: str) -> list[str]:
        return [name for name, _ in (self.cores if kind == "core" else self.gpus)]

    def release(self) -> None:
        for _, fd in (*self.cores, *self.gpus):
            if fd is not None:
                os.close(fd)  # (closing drops the lock)


def _hold(ids: list, n: int, kind: str) -> list[tuple[str, int | None]]:
    """``n`` of ``ids``, locked where free; the first ones, shared, for what is missing."""
    folder = os.path.join(tempfile.gettempdir(), f"hpo-compss-{os.getuid()}")
    os.makedirs(folder, mode=0o700, exist_ok=True)
    held: list[tuple[str, int | None]] = []
    for name in map(str, ids):
        if len(held) == n:
            break
        fd = os.open(os.path.join(folder, f"{kind}-{name}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            held.append((name, fd))
        except BlockingIOError:
            os.close(fd)
    taken = {name for name, _ in held}
    spare = [str(i) for i in ids if str(i) not in taken]
    return held + [(name, None) for name in (spare + sorted(taken))[:n - len(held)]]


def _worker_gpus() -> list[str]:
    visible = [g.strip() for g in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if g.strip()]
    if visible:
        return visible
    try:
        from distributed import get_worker

        count = int(get_worker().state.total_resources.get("GPU", 0))
    except (ImportError, ValueError, AttributeError):
        count = 0
    return [str(i) for i in range(count)]
