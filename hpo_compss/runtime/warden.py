"""``python -m hpo_compss.runtime.warden RUN``: ends what a driver's trials started once the driver is gone.

Workers die with their driver (``PR_SET_PDEATHSIG``), but what their trials started would be
orphaned and live on. The local engine starts this small process in a session of its own, holding
the reading end of a pipe whose writing end only the driver has. The pipe reaches its end when the
driver exits, however it exits (even ``kill -9``); the warden then kills every process marked with
the driver's run (``descendants.kill_marked``) and exits.
"""
from __future__ import annotations

import os
import sys

from .descendants import RUN_VARIABLE, kill_marked


def main(argv: list[str]) -> None:
    run = argv[0]
    while os.read(0, 4096):
        pass
    kill_marked(RUN_VARIABLE, run)


if __name__ == "__main__":
    main(sys.argv[1:])
