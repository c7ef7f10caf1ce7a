"""Objectives the tests run in real worker processes (loaded by file path, as users may)."""
from __future__ import annotations

import ctypes
import math
import os
import random
import signal
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


#: the size of the text a "huge_extras" trial returns: far above what a journal line holds
HUGE_EXTRAS = 8 << 20


def misbehave(config: dict, trial) -> object:
    """Does what ``config["fault"]`` names: every way an objective can fail, crash, hang or return nonsense."""
    import resource
    import signal

    fault = config["fault"]
    if fault == "exception":
        raise ValueError("the objective raised")
    if fault == "segfault":
        ctypes.string_at(0)
    if fault == "os_exit":
        os._exit(3)
    if fault == "sys_exit":
        sys.exit(4)
    if fault == "keyboard_interrupt":
        raise KeyboardInterrupt
    if fault == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    if fault == "sigterm":
        os.kill(os.getpid(), signal.SIGTERM)
    if fault == "hang":
        subprocess.Popen(["sleep", "1000"])
        time.sleep(1000)
    if fault == "memory":
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (2 * 1024**3, hard))  # as a ulimit or cgroup would
        try:
            return len(bytearray(4 * 1024**3))
        finally:
            resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    if fault == "stdout":
        chunk = "x" * (1 << 20) + "\n"
        for _ in range(200):
            sys.stdout.write(chunk)
        return 0.5
    if fault == "background":
        subprocess.Popen(["sleep", "1000"])
        subprocess.Popen(["setsid", "sleep", "1001"])
        return 0.25
    if fault == "chdir":
        os.chdir("/")
        return 0.75
    if fault == "unpicklable":
        return {"loss": 0.125, "function": lambda: 0, "lock": __import__("threading").Lock()}
    if fault == "huge_extras":
        return {"loss": 0.375, "text": "x" * HUGE_EXTRAS, "small": 7}
    return {"nan": math.nan, "inf": math.inf, "bool": True, "string": "0.5", "huge": sys.float_info.max,
            "huge_int": 10**400, "none": None, "list": [0.5]}[fault]


def sleepy(config: dict) -> float:
    """Sleeps as long as asked; its value is x."""
    time.sleep(config.get("sleep", 0.0))
    return config["x"]


def penalty(config: dict) -> float:
    """x, or the largest float (a common 'failed' penalty) when x is above 0.5."""
    return sys.float_info.max if config["x"] > 0.5 else config["x"]


def touch_then_return(config: dict) -> float:
    """Leaves a file behind just before it returns 0.5."""
    with open(config["path"], "w"):
        pass
    return 0.5


def wanders(config: dict, trial) -> float:
    """Moves to another folder (and stays there) after saying which trial it is."""
    print(f"trial {trial.trial}")
    os.chdir("/")
    return config["x"]


def breaks_its_folder(config: dict, trial) -> float:
    """Replaces the study's trials folder by a file, so the next trial's output files cannot be made."""
    import shutil

    print("breaking")  # output, so the next trial's output files must be made anew
    trials = os.path.dirname(trial.workdir)
    shutil.rmtree(trials)
    with open(trials, "w"):
        pass
    return config["x"]


def anything(config: dict) -> float:
    """Accepts any config (the fuzz tests run generated spaces through real studies)."""
    return 0.5


def jittered_bowl(config: dict) -> float:
    """A smooth bowl that takes a random time (up to 0.15 s), so trials run at once end in any order."""
    time.sleep(random.SystemRandom().uniform(0.0, 0.15))
    return (config["x"] - 0.3) ** 2 + (config["y"] + 0.1) ** 2


def learning_curve(config: dict, trial) -> float:
    """Reports ``x + 1 / step`` at steps 1, 2... up to its budget (default 5), pausing ``pause`` s per step;
    notes in its checkpoint folder the steps it ran. With ``deaf``, works a minute after its first report
    without reporting again (so a stop can only kill it). With ``freeze`` (a file name), once its report
    is in the inbox it also stops its COMPSs task's process with SIGSTOP, as a hung node would (so only
    a cancellation of the task ends it), and writes that process's pid to the file."""
    steps = int(trial.budget or config.get("steps", 5))
    with open(os.path.join(trial.checkpoint_dir, "steps.txt"), "a") as notes:
        for step in range(1, steps + 1):
            time.sleep(config.get("pause", 0.01))
            notes.write(f"{step}\n")
            notes.flush()
            trial.report(step, config["x"] + 1.0 / step)
            if config.get("freeze"):
                _freeze_task(trial.trial, config["freeze"])
            if config.get("deaf") or config.get("freeze"):
                time.sleep(60)
    return config["x"] + 1.0 / steps


def _freeze_task(trial: int, marker: str) -> None:
    inbox = os.path.join(os.environ["HPO_COMPSS_STUDY"], "inbox")
    while not any(name.startswith(f"{trial}.") and name.endswith(".progress") for name in os.listdir(inbox)):
        time.sleep(0.01)
    with open(marker, "w") as handle:
        handle.write(str(os.getppid()))
    os.kill(os.getppid(), signal.SIGSTOP)


def deaf_after_one_report(config: dict, trial) -> float:
    """Reports once, creates ``config["marker"]``, then works for a minute without reporting (from the
    marker on, a stop can only kill it)."""
    trial.report(1, config["x"])
    open(config["marker"], "w").close()
    time.sleep(60)
    return config["x"]


def bad_report(config: dict, trial) -> float:
    """Reports something invalid (``config["bad"]``); with ``catch``, swallows the error and returns 0.5."""
    try:
        trial.report(1, 1.0)
        step, value = {"nan": (2, float("nan")), "backwards": (0, 1.0), "text": (2, "1.0"),
                       "inf step": (float("inf"), 1.0), "bool": (2, True)}[config["bad"]]
        trial.report(step, value)
    except ValueError:
        if not config.get("catch"):
            raise
    return 0.5


def checkpointed_curve(config: dict, trial) -> float:
    """Trains (``x + 1 / step``) from the step its checkpoint holds up to ``trial.budget``, reporting each
    step, then saves the step it reached; notes each run's first step in ``runs.txt``. (A run killed
    after its save reruns with nothing left to do: it returns the saved step's value.)"""
    state = os.path.join(trial.checkpoint_dir, "state.txt")
    done = int(open(state).read()) if os.path.exists(state) else 0
    with open(os.path.join(trial.checkpoint_dir, "runs.txt"), "a") as runs:
        runs.write(f"{done + 1} {int(trial.budget)}\n")
    print(f"run from step {done + 1} to {int(trial.budget)}")
    value = config["x"] + 1.0 / done if done else math.inf
    for step in range(done + 1, int(trial.budget) + 1):
        time.sleep(config.get("pause", 0.0))
        value = config["x"] + 1.0 / step
        trial.report(step, value)
    with open(state, "w") as handle:
        handle.write(str(int(trial.budget)))
    return value


def watched(config: dict) -> float:
    """Takes a quarter of a second and says so; fails above x = 0.85 (a dashboard has failures to show)."""
    print(f"training with x={config['x']:.3f}", flush=True)
    time.sleep(0.25)
    if config["x"] > 0.85:
        raise ValueError(f"diverged at x={config['x']:.3f}")
    return (config["x"] - 0.3) ** 2 + config["y"] ** 2


def allocate(config: dict) -> float:
    """Holds ``config["mb"]`` megabytes at once (a model too large for a small node), then returns that size."""
    block = bytearray(config["mb"] * 2**20)
    block[::4096] = b"\x01" * len(block[::4096])
    return float(config["mb"])
