"""A local engine worker: ``python -m hpo_compss.runtime.worker FD PARENT_PID OBJECTIVE``.

Started by the driver with its environment already set (OMP_NUM_THREADS, CUDA_VISIBLE_DEVICES...),
it pins itself to its cores, arranges to die with its driver, then runs the trials it is sent over
the socket ``FD`` one at a time until the socket closes.
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
    """Have the kernel kill this process when its driver dies, whatever kills the driver."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the driver died before the line above took effect
        os._exit(1)


def main(argv: list[str]) -> None:
    fd, parent, objective_spec = int(argv[0]), int(argv[1]), argv[2]
    _die_with(parent)
    cores = os.environ.get("HPO_COMPSS_CORES", "")
    if cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, [int(c) for c in cores.split(",")])
    faulthandler.enable()  # a segfault's Python stack lands in the trial's stderr file
    from .channel import Channel
    from .objective import ObjectiveError, load_objective
    from .runner import run_trial

    channel = Channel(socket.socket(fileno=fd))
    try:
        objective = load_objective(objective_spec)
    except ObjectiveError as error:
        objective = None
        load_error = str(error)
    fresh = os.environ.get("HPO_COMPSS_FRESH_PROCESS") == "1"
    while True:
        try:
            task = channel.recv()
        except (EOFError, OSError):
            return
        if objective is None:
            channel.send({"status": "failed", "reason": f"objective: {load_error}"})
        else:
            channel.send(run_trial(objective, task))
        if fresh:
            return


if __name__ == "__main__":
    main(sys.argv[1:])
