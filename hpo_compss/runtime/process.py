"""One worker process: a fresh interpreter that runs the trials sent to it, killed with all it started.

Both backends run trials this way. The local engine keeps one per reserved slot; under COMPSs each
task starts one for its trial (``supervisor``), so a segfault or a hang is the trial's failure,
recorded like any other, and never the COMPSs worker's.
"""
from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Mapping

from ..trial import FAILED, Outcome, Report, Trial
from .channel import Channel
from .descendants import RUN_VARIABLE, WORKER_VARIABLE, kill_marked
from .runner import STREAMS, keep_output, spool_path

#: signals by which a batch system or an operator stops work: a trial they end is interrupted, not failed
INTERRUPTING = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
#: how long a worker whose channel closed may take to exit by itself, so its true exit status is read
EXIT_GRACE = 2.0
#: with a timeout set, how long a worker may take to start the objective (its start-up and import)
START_UP_SECONDS = 600.0
#: how many workers a trial may lose before its objective starts, before that counts as its failure
MAX_LOST_BEFORE_START = 3
#: how long a trial its scheduler stopped has to return on its own (at its next report) before it is killed
STOP_GRACE = 0.5
_numbers = itertools.count(1)

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "BLIS_NUM_THREADS")


#: the memory limit (GB) a worker sets on itself (``worker_environment``)
MEMORY_VARIABLE = "HPO_COMPSS_MEMORY_GB"


def worker_environment(threads: int, gpus: tuple[str, ...], cores: tuple[int, ...] = (),
                       fresh_process: bool = False, memory_gb: float | None = None) -> dict[str, str]:
    """What a worker must find in its environment before any library reads it; no ``cores``: keep the
    affinity; ``memory_gb``: the most memory (data segment) its trials may take."""
    env = {name: str(threads) for name in THREAD_VARIABLES}
    env.update({
        "CUDA_VISIBLE_DEVICES": ",".join(gpus),
        "HPO_COMPSS_CORES": ",".join(map(str, cores)),
        "HPO_COMPSS_FRESH_PROCESS": "1" if fresh_process else "0",
        MEMORY_VARIABLE: f"{memory_gb:g}" if memory_gb is not None else "",
    })
    return env


class WorkerProcess:
    """``python -m hpo_compss.runtime.worker`` in a session of its own, fed tasks over a socket."""

    def __init__(self, objective: str, study_dir: Path, env: Mapping[str, str], log: IO[bytes], run: str):
        self.study_dir = Path(study_dir)
        #: marks this worker and all it starts (``descendants``)
        self.mark = f"{run}.{next(_numbers)}"
        ours, theirs = socket.socketpair()
        full = dict(os.environ)
        full.update(env)
        full.update({
            RUN_VARIABLE: run, WORKER_VARIABLE: self.mark,
            "HPO_COMPSS_STUDY": str(self.study_dir.resolve()),
            # the driver's import path, so the worker finds the objective exactly as the driver did
            "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
        })
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hpo_compss.runtime.worker", str(theirs.fileno()), str(os.getpid()), objective],
            env=full, pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            start_new_session=True)
        theirs.close()
        self.connection = Channel(ours)
        self.pidfd = os.pidfd_open(self.process.pid) if hasattr(os, "pidfd_open") else None

    @property
    def pid(self) -> int:
        return self.process.pid

    def send(self, trial: Trial) -> None:
        """Send a trial; a worker that died meanwhile is noticed by whoever waits for it."""
        try:
            self.connection.send(trial)
        except OSError:
            pass

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> int:
        """Kill the worker and everything it started; returns its exit status."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        status = self.process.wait()
        kill_marked(WORKER_VARIABLE, self.mark)  # what left the process group (setsid, daemons)
        return status

    def reap(self) -> int:
        """The exit status of a worker that is ending: its own, if it exits within ``EXIT_GRACE``, else SIGKILL's."""
        try:
            self.process.wait(EXIT_GRACE)
        except subprocess.TimeoutExpired:
            pass
        return self.kill()

    def close(self) -> None:
        """Kill it if still running and forget it: socket, pidfd and its spool files."""
        if self.alive():
            self.kill()
        self.connection.close()
        if self.pidfd is not None:
            os.close(self.pidfd)
        for stream in STREAMS:
            try:
                os.unlink(spool_path(str(self.study_dir / "trials"), self.pid, stream))
            except OSError:
                pass

    def failure(self, trial: Trial, reason: str, start: float, host: str,
                cores: tuple[int, ...], gpus: tuple[str, ...], status: str = FAILED) -> Outcome:
        """The record of a trial this worker could not finish; what it printed before dying is kept (if it can be)."""
        try:
            keep_output(str(self.study_dir / "trials"), self.pid, trial.workdir, trial.attempt)
        except OSError:
            pass
        return Outcome(status, reason, start, time.time(), host=host, pid=self.pid, cores=list(cores), gpus=list(gpus))


    def halted(self, trial: Trial, last: Report | None, status: str, start: float, host: str,
               cores: tuple[int, ...], gpus: tuple[str, ...]) -> Outcome:
        """Kill a trial its scheduler stopped that did not return within ``STOP_GRACE``: it ends as
        ``status`` (PRUNED or PAUSED) with its last report's value, never as failed."""
        self.kill()
        at = "" if last is None else f" at step {last.step:g}"
        outcome = self.failure(trial, f"stopped by the scheduler{at}; killed, as it had not returned "
                                      f"{STOP_GRACE:g} s later", start, host, cores, gpus, status)
        if last is not None:
            outcome.value, outcome.step = last.value, last.step
        return outcome


def timeout_reason(seconds: float) -> str:
    return f"timeout: killed after {seconds:g} s"


def start_up_reason(seconds: float) -> str:
    return (f"timeout: the objective had not started {seconds:g} s after the trial was sent "
            "(a hung start-up or import of the objective; see workers.log)")


def ending(status: int) -> tuple[str, str]:
    """The trial status and reason for a worker that ended with ``status`` while running the trial.

    A signal with which batch systems and operators stop work (SIGTERM at a job's time limit) leaves
    the trial ``cancelled``, to run again; any other end is the trial's crash.
    """
    if status < 0:
        name = signal.Signals(-status).name
        if -status in INTERRUPTING:
            return "cancelled", f"interrupted: killed by {name}"
        hint = " (out of memory?)" if name == "SIGKILL" else ""
        return "failed", f"crashed: killed by {name}{hint}"
    return "failed", f"crashed: the process exited with code {status}"
