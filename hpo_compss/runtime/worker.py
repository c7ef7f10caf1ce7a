"""A trial worker: ``python -m hpo_compss.runtime.worker FD PARENT_PID OBJECTIVE``.

Started with its environment already set (OMP_NUM_THREADS, CUDA_VISIBLE_DEVICES...), it pins
itself to its cores, arranges to die with its parent, imports the objective once, then runs the
trials it is sent over the socket ``FD`` one at a time until the socket closes.

For each trial it sends ``runner.STARTED`` just before the objective is called, ``runner.PROGRESS``
for each of the trial's reports, then ``runner.OUTCOME``, so its parent knows whether the objective
ever ran: a worker lost before that is the engine's problem, not the trial's failure, and the trial's
timeout starts there, after the worker's start-up and the objective's import. Its parent may send a
``runner.STOP`` for the running trial; the worker reads it at the trial's next report (keeping any
trials sent meanwhile for later). After each trial the worker kills whatever the trial started and
left running, and returns to its starting folder.
"""
from __future__ import annotations

import ctypes
import faulthandler
import os
import signal
import socket
import sys
from collections import deque

PR_SET_PDEATHSIG = 1


def _die_with(parent: int) -> None:
    """Have the kernel kill this process when its parent dies, whatever kills the parent."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(1)


def _limit_memory(gigabytes: str) -> None:
    """Hold the worker's data segment (heap and private mappings) to its class's ``memory_gb``, so a trial
    that needs more fails with a MemoryError on this class, and can be retried on one with more."""
    if gigabytes:
        import resource

        limit = int(float(gigabytes) * 2**30)
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))


def main(argv: list[str]) -> None:
    fd, parent, objective_spec = int(argv[0]), int(argv[1]), argv[2]
    _die_with(parent)
    # an interrupt ends the worker by its signal, which its parent reads as "interrupted", never as
    # a KeyboardInterrupt the objective raised
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    cores = os.environ.get("HPO_COMPSS_CORES", "")
    if cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, [int(c) for c in cores.split(",")])
    _limit_memory(os.environ.get("HPO_COMPSS_MEMORY_GB", ""))
    faulthandler.enable()  # a segfault's Python stack lands in the trial's stderr file
    from .channel import Channel
    from .descendants import adopt_orphans, end_descendants
    from .objective import ObjectiveError, load_objective
    from .runner import OUTCOME, PROGRESS, STARTED, STOP, Reporter, failed, run_trial

    adopt_orphans()
    channel = Channel(socket.socket(fileno=fd))
    home = os.getcwd()
    try:
        objective = load_objective(objective_spec)
    except ObjectiveError as error:
        objective = None
        load_error = str(error)
    fresh = os.environ.get("HPO_COMPSS_FRESH_PROCESS") == "1"
    backlog: deque = deque()  # trials sent while another ran
    stops: dict[int, str] = {}  # stops received, by trial id (a queued trial may be stopped before it runs)
    running: list[int] = []  # the id of the trial running now, if any

    def take(message: object) -> None:
        if not (isinstance(message, tuple) and message[0] == STOP):
            backlog.append(message)
        elif message[1] in running or any(queued.id == message[1] for queued in backlog):
            stops[message[1]] = message[2]  # (a stop that crossed its trial's outcome is dropped)

    def stop_for(trial_id: int) -> str | None:
        """The stop the parent sent for this trial, if any."""
        try:
            while channel.ready():
                take(channel.recv())
        except (EOFError, OSError):  # the parent is gone: the kernel ends this process
            pass
        return stops.get(trial_id)

    while True:
        try:
            while not backlog:
                take(channel.recv())
        except (EOFError, OSError):
            return
        trial = backlog.popleft()
        running[:] = [trial.id]
        if objective is None:
            outcome = failed(f"objective: {load_error}")
        else:
            reporter = Reporter(lambda step, value, time: channel.send((PROGRESS, (step, value, time))),
                                lambda trial_id=trial.id: stop_for(trial_id))
            outcome = run_trial(objective, trial, started=lambda time: channel.send((STARTED, time)), reporter=reporter)
        stops.pop(trial.id, None)
        running.clear()
        end_descendants()
        os.chdir(home)
        try:
            channel.send((OUTCOME, outcome))
        except OSError:  # its parent is gone
            return
        if fresh:
            return


if __name__ == "__main__":
    main(sys.argv[1:])
