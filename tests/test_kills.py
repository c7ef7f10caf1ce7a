"""A study killed again and again, at random points, ends with exactly the trials of an uninterrupted run."""
from __future__ import annotations

import io
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hpo_compss.experiment import parse_experiment
from hpo_compss.runtime.resources import detect_machine
from hpo_compss.study import run_study

from conftest import ROOT, cli, ended, objective, processes_of, trial_records, wait_for_no_processes, write_experiment

#: short trials, a third of the configs cannot be built (their failures are decided inside a fill), repeats
STUDY = {"name": "kills", "objective": objective("sleepy"), "algorithm": "random", "budget": {"trials": 80}, "seed": 11,
         "space": {"x": {"uniform": [-0.5, 1]}, "sleep": {"choice": [0.05, 0.1, 0.3]}, "y": {"dependent": "log(x)"}},
         "repeats": 2, "stop": {"first_failures": 0}}


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict:
    study = tmp_path_factory.mktemp("reference") / "study"
    run_study(parse_experiment(STUDY), study, detect_machine(2), out=io.StringIO())
    result = ended(study)
    assert len(result) == 160 and any(status == "failed" for status, _ in result.values())
    return result


def start(experiment: Path, study: Path, until_running: bool = True) -> subprocess.Popen:
    """Start a driver; with ``until_running``, return once it writes the journal and its workers live."""
    journal = study / "journal.jsonl"
    size = journal.stat().st_size if journal.exists() else 0
    driver = subprocess.Popen([sys.executable, str(ROOT / "main.py"), str(experiment), "--study-dir", str(study),
                               "--cpus", "2"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while until_running and driver.poll() is None and not (
            journal.exists() and journal.stat().st_size > size and processes_of(study)):
        assert time.monotonic() < deadline
        time.sleep(0.005)
    return driver


def test_twenty_sigkills_of_the_driver_lose_nothing_and_repeat_nothing(tmp_path, reference):
    experiment = write_experiment(tmp_path, STUDY)
    study = tmp_path / "study"
    chance = random.Random(20)
    kills = 0
    while kills < 20:
        driver = start(experiment, study, until_running=kills % 4 != 0)  # every fourth in its start-up or replay
        try:
            driver.wait(chance.uniform(0.0, 0.6))
        except subprocess.TimeoutExpired:
            driver.kill()
            kills += 1
        driver.wait()
        assert wait_for_no_processes(study, 10) == []
        if driver.returncode == 0:  # it finished before the kill: start again from an earlier point
            break
    finished = cli("run", str(experiment), "--study-dir", str(study), "--cpus", "2")
    assert finished.returncode == 0, finished.stderr
    assert kills == 20
    assert ended(study) == reference


def test_sigterm_to_every_process_in_any_order_loses_nothing(tmp_path, reference):
    """A job at its time limit: SLURM signals the driver and the workers, in no guaranteed order."""
    experiment = write_experiment(tmp_path, STUDY)
    study = tmp_path / "study"
    chance = random.Random(7)
    for round in range(6):
        driver = start(experiment, study)
        time.sleep(chance.uniform(0.1, 0.6))
        workers = processes_of(study)
        chance.shuffle(workers)
        targets = [*workers, driver.pid]  # the workers a few milliseconds before the driver,
        if round % 2:
            chance.shuffle(targets)  # or in any order
        for pid in targets:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            time.sleep(chance.uniform(0, 0.05))
        driver.wait(60)
        # stopped cleanly, or killed by the signal while it started, before it had opened anything
        assert driver.returncode in (0, 128 + signal.SIGTERM, -signal.SIGTERM), driver.stderr.read()
        assert wait_for_no_processes(study, 10) == []
    finished = cli("run", str(experiment), "--study-dir", str(study), "--cpus", "2")
    assert finished.returncode == 0, finished.stderr
    assert not [r for r in trial_records(study) if "SIGTERM" in r.get("reason", "") and r["status"] == "failed"]
    assert ended(study) == reference
