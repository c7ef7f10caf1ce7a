"""A trial worker: ``python -m hpo_compss.runtime.worker FD PARENT_PID OBJECTIVE``.

Started with its environment already set (OMP_NUM_THREADS, CUDA_VISIBLE_DEVICES...), it pins
itself to its cores, arranges to die with its parent, imports the objective once, then runs the
trials it is sent over the socket ``FD`` one at a time until the socket closes.

For each trial it sends two messages (``runner.STARTED`` just before the objective is called, then
``runner.OUTCOME``), so its parent knows whether the objective ever ran: a worker lost before that
is the engine's problem, not the trial's failure, and the trial's timeout starts there, after the
worker's start-up and the objective's import. After each trial the worker kills whatever the
trial started and left running, and returns to its starting folder.
"""
from __future__ import annotations

import ctypes
import faulthandler
import os
import signal
import socket
import sys

PR_SET_PDEATHSIG = 1


def _die_with(parent: int) -> None:
    """Have the kernel kill this process when its parent dies, whatever kills the parent."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(1)


def main(argv: list[str]) -> None:
    fd, parent, objective_spec = int(argv[0]), int(argv[1]), argv[2]
    _die_with(parent)
    # an interrupt ends the worker by its signal, which its parent reads as "interrupted", never as
    # a KeyboardInterrupt the objective raised
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    cores = os.environ.get("HPO_COMPSS_CORES", "")
    if cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, [int(c) for c in cores.split(",")])
    faulthandler.enable()  # a segfault's Python stack lands in the trial's stderr file
    from .channel import Channel
    from .descendants import adopt_orphans, end_descendants
    from .objective import ObjectiveError, load_objective
    from .runner import OUTCOME, STARTED, failed, run_trial

    adopt_orphans()
    channel = Channel(socket.socket(fileno=fd))
    home = os.getcwd()
    try:
        objective = load_objective(objective_spec)
    except ObjectiveError as error:
        objective = None
        load_error = str(error)
    fresh = os.environ.get("HPO_COMPSS_FRESH_PROCESS") == "1"
    while True:
        try:
            trial = channel.recv()
        except (EOFError, OSError):
            return
        if objective is None:
            outcome = failed(f"objective: {load_error}")
        else:
            outcome = run_trial(objective, trial, started=lambda time: channel.send((STARTED, time)))
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
