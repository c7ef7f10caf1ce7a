"""Objectives the tests run in real worker processes (loaded by file path, as users may)."""
from __future__ import annotations

import ctypes
import math
import os
import subprocess
import sys
import time


def quadratic(config: dict) -> float:
    time.sleep(config.get("sleep", 0.0))
    return (config["x"] - 0.3) ** 2


def slow_quadratic(config: dict) -> float:
    time.sleep(0.05)
    return (config["x"] - 0.3) ** 2


def faulty(config: dict) -> float:
    """Misbehaves by the value of u: raise below 0.2, hang below 0.3, NaN below 0.4, os._exit below 0.45."""
    u = config["u"]
    if u < 0.20:
        raise ValueError(f"bad luck with u={u:.3f}")
    if u < 0.30:
        subprocess.Popen(["sleep", "1000"])  # a grandchild, which the timeout must kill too
        time.sleep(1000)
    if u < 0.40:
        return math.nan
    if u < 0.45:
        os._exit(3)
    return u


def expected_failure(u: float) -> str | None:
    """The reason prefix `faulty` must be recorded with."""
    for limit, reason in ((0.20, "exception: ValueError"), (0.30, "timeout"), (0.40, "invalid result: loss is nan"),
                          (0.45, "crashed: the process exited with code 3")):
        if u < limit:
            return reason
    return None


def placement(config: dict, trial) -> dict:
    """Reports where it runs, and stays long enough for trials to overlap."""
    start = time.time()
    time.sleep(0.4)
    return {"loss": config["x"], "affinity": sorted(os.sched_getaffinity(0)), "cuda": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "omp": os.environ.get("OMP_NUM_THREADS"), "threads": trial.threads, "context_cores": list(trial.cores),
            "context_gpus": list(trial.gpus), "t0": start, "t1": time.time()}


def segfault(config: dict) -> float:
    print("about to crash", flush=True)
    ctypes.string_at(0)
    return 0.0


def chatty(config: dict, trial) -> dict:
    print(f"hello from trial {trial.trial}")
    print("a warning", file=sys.stderr)
    with open(os.path.join(trial.workdir, "artifact.txt"), "w") as handle:
        handle.write("kept")
    return {"loss": config["x"], "seed": trial.seed, "array": [1.5, float("inf")]}


def noisy(config: dict, trial) -> float:
    return config["x"] + (trial.seed % 1000) / 1000.0


def returns(config: dict):
    return {"loss": math.inf} if config["value"] == "inf" else config["value"]


def reads_inputs(config: dict, trial) -> dict:
    """Reads the experiment's input file and folder where the backend put them."""
    with open(trial.inputs["table"]) as handle:
        table = handle.read()
    with open(os.path.join(trial.inputs["assets"], "weights.txt")) as handle:
        weights = handle.read()
    return {"loss": config["x"] + float(table) + float(weights), "table": trial.inputs["table"],
            "assets": trial.inputs["assets"]}


def kills_its_task(config: dict) -> float:
    """Takes down the process that runs it (under COMPSs: the task's own worker process), as a node failure would."""
    if config["x"] > 0.5:
        os.kill(os.getppid(), 9)
        time.sleep(30)
    return config["x"]
