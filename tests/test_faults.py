"""What a hostile objective and a rough cluster do to trials, on both engines: each fault is recorded with
its true reason, retried as configured, the study finishes, nothing is lost and no process is left behind."""
from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hpo_compss.experiment import parse_experiment
from hpo_compss.trial import ComputeClass, Trial
from hpo_compss.runtime.local import LocalEngine
from hpo_compss.runtime.resources import detect_machine
from hpo_compss.study import run_study

from conftest import ROOT, cli, objective, processes_of, trial_records, wait_for_no_processes, write_experiment
from test_compss import runcompss, standin_env
from objectives import HUGE_EXTRAS

#: each fault, the reason its trial must be recorded with (None: it completes), and whether it is retried
FAULTS = {
    "exception": "exception: ValueError: the objective raised",
    "segfault": "crashed: killed by SIGSEGV",
    "os_exit": "crashed: the process exited with code 3",
    "sys_exit": "exited: sys.exit(4)",
    "keyboard_interrupt": "exception: KeyboardInterrupt",
    "sigkill": "crashed: killed by SIGKILL",
    "sigterm": "crashed: interrupted: killed by SIGTERM, 3 times while the study went on",
    "hang": "timeout: killed after 2 s",
    "memory": "exception: MemoryError",
    "nan": "invalid result: loss is nan",
    "inf": "invalid result: loss is inf",
    "bool": "invalid result: loss is not a number: True",
    "string": "invalid result: loss is not a number: '0.5'",
    "huge_int": "invalid result: loss is not a number: OverflowError",
    "none": "invalid result: loss is not a number: None",
    "list": "invalid result: loss is not a number: [0.5]",
    "huge": None,
    "stdout": None,
    "background": None,
    "chdir": None,
    "unpicklable": None,
    "huge_extras": None,
}


def fault_study(tmp_path: Path) -> Path:
    configs = [{"fault": fault} for fault in FAULTS]
    return write_experiment(tmp_path, {
        "name": "faults", "objective": objective("misbehave"), "space": None,
        "algorithm": {"name": "explicit", "configs": configs}, "timeout": 2, "retries": 1,
        "stop": {"first_failures": 0}})


def check_fault_study(study: Path) -> None:
    records = [r for r in trial_records(study) if r["status"] != "running"]
    by_fault: dict[str, list[dict]] = {}
    for record in records:
        by_fault.setdefault(record["config"]["fault"], []).append(record)
    for fault, reason in FAULTS.items():
        ended = [r for r in by_fault[fault] if r["status"] != "cancelled"]
        if reason is None:
            assert [r["status"] for r in ended] == ["complete"], (fault, ended)
            continue
        assert [(r["status"], r["attempt"]) for r in ended] == [("failed", 1), ("failed", 2)], (fault, ended)
        for record in ended:
            assert record["reason"].startswith(reason), (fault, record["reason"])
    extras = next(r for r in by_fault["huge_extras"] if r["status"] == "complete")
    assert extras["extras"]["small"] == 7 and extras["extras"]["text"].startswith("<")
    kept = json.loads((study / extras["extras_file"]).read_text())
    assert len(kept["text"]) == HUGE_EXTRAS
    stdout = next(r for r in by_fault["stdout"] if r["status"] == "complete")
    assert (study / "trials" / str(stdout["trial"]) / "stdout.txt").stat().st_size > 200 << 20
    unpicklable = next(r for r in by_fault["unpicklable"] if r["status"] == "complete")
    assert unpicklable["extras"]["function"].startswith("<function")
    assert len((study / "journal.jsonl").read_bytes()) < 2 << 20  # the big extras stayed in the trial's folder
    assert wait_for_no_processes(study, 10) == []


def test_every_fault_on_the_local_engine(tmp_path):
    study = tmp_path / "study"
    done = cli("run", str(fault_study(tmp_path)), "--study-dir", str(study), "--cpus", "2", timeout=600)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    check_fault_study(study)
    assert cli("status", str(study)).returncode == 0 and cli("report", str(study)).returncode == 0


def test_every_fault_on_the_compss_stand_in(tmp_path):
    study = tmp_path / "study"
    done = runcompss(fault_study(tmp_path), study, standin_env(tmp_path, cpus=2))
    assert done.returncode == 0, done.stderr
    check_fault_study(study)


@pytest.mark.parametrize("backend", ["local", "compss"])
def test_an_objective_that_cannot_be_imported_stops_the_study_with_the_reason(tmp_path, backend):
    module = tmp_path / "broken.py"
    module.write_text("import os\nif os.environ.get('HPO_COMPSS_STUDY'):\n    raise ImportError('no such thing here')\n"
                      "def f(config):\n    return 0.0\n")
    data = {"name": "broken", "objective": f"{module}:f", "space": {"x": {"uniform": [0, 1]}}, "algorithm": "random",
            "budget": {"trials": 200}, "stop": {"first_failures": 3}}
    study = tmp_path / "study"
    experiment = write_experiment(tmp_path, data)
    if backend == "local":
        done = cli("run", str(experiment), "--study-dir", str(study), "--cpus", "1")
    else:
        done = runcompss(experiment, study, standin_env(tmp_path, cpus=1))
    assert done.returncode == 1
    failed = trial_records(study, "failed")
    assert 3 <= len(failed) < 50 and all("ImportError: no such thing here" in r["reason"] for r in failed)
    assert "stopped: the first 3 trials all failed with 'objective: cannot import" in done.stdout
    assert json.loads(cli("status", str(study), "--json").stdout)["stopped"]["final"] is False
    assert wait_for_no_processes(study, 10) == []


def test_a_busy_worker_killed_from_outside_is_a_crash_and_is_retried(tmp_path):
    experiment = write_experiment(tmp_path, {
        "name": "oom", "objective": objective("sleepy"), "space": None, "retries": 1,
        "algorithm": {"name": "explicit", "configs": [{"x": 0.5, "sleep": 2}]}})
    study = tmp_path / "study"
    driver = subprocess.Popen([sys.executable, str(ROOT / "main.py"), str(experiment), "--study-dir", str(study)],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (trial_records_or_none(study) and processes_of(study)):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.5)  # the objective runs
    for pid in processes_of(study):  # as the OOM killer would
        os.kill(pid, signal.SIGKILL)
    driver.communicate(timeout=60)
    assert driver.returncode == 0
    ended = [(r["status"], r["attempt"], r.get("reason")) for r in trial_records(study) if r["status"] != "running"]
    assert ended == [("failed", 1, "crashed: killed by SIGKILL (out of memory?)"), ("complete", 2, None)]


# -- the engine's own promises ---------------------------------------------------------------------------------
def task(study: Path, trial: int, config: dict) -> Trial:
    return Trial(trial, trial, 0, 1, trial, config, workdir=str(study / "trials" / str(trial)))


def engine(study: Path, name: str, timeout: float | None = None) -> LocalEngine:
    (study / "trials").mkdir(parents=True)
    return LocalEngine(detect_machine(cpus=1), [ComputeClass("cpu")], objective(name), study, timeout)


def finish(engine: LocalEngine, seconds: float = 30.0) -> list:
    deadline = time.monotonic() + seconds
    finished = []
    while engine.running and time.monotonic() < deadline:
        finished += engine.wait(0.5)
    return finished


def test_cancel_returns_a_trial_that_had_finished_as_finished(tmp_path):
    study = tmp_path / "study"
    marker = tmp_path / "done"
    with engine(study, "touch_then_return") as local:
        local.submit(task(study, 0, {"path": str(marker)}), ComputeClass("cpu"))
        deadline = time.monotonic() + 30
        while not marker.exists():
            assert time.monotonic() < deadline
            time.sleep(0.01)
        time.sleep(0.3)  # its outcome is on its way, or read to be taken
        (ended,) = local.cancel("cancelled: study stopped")
    assert ended.outcome.status == "complete" and ended.outcome.value == 0.5


def test_a_worker_killed_while_idle_does_not_fail_the_next_trial(tmp_path):
    study = tmp_path / "study"
    with engine(study, "sleepy") as local:
        local.submit(task(study, 0, {"x": 0.1}), ComputeClass("cpu"))
        assert [f.outcome.status for f in finish(local)] == ["complete"]
        for pid in processes_of(study):
            os.kill(pid, signal.SIGKILL)  # as the OOM killer or an operator would
        time.sleep(0.2)
        local.submit(task(study, 1, {"x": 0.2}), ComputeClass("cpu"))
        (second,) = finish(local)
    assert second.outcome.status == "complete" and second.trial.attempt == 1


def test_a_worker_lost_again_and_again_before_the_objective_starts_is_a_failure_saying_so(tmp_path):
    study = tmp_path / "study"
    killed: set[int] = set()
    with engine(study, "sleepy") as local:
        local.submit(task(study, 0, {"x": 0.1}), ComputeClass("cpu"))
        finish(local)
        (idle,) = processes_of(study)
        os.kill(idle, signal.SIGKILL)
        killed.add(idle)
        local.submit(task(study, 1, {"x": 0.2, "sleep": 5}), ComputeClass("cpu"))
        finished = []
        deadline = time.monotonic() + 60
        while not finished:  # each new worker is killed in its start-up, before it can start the objective
            assert time.monotonic() < deadline
            for pid in set(processes_of(study)) - killed:
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            finished += local.wait(0.005)
    (lost,) = finished
    assert len(killed) == 3
    assert lost.outcome.status == "failed"
    assert lost.outcome.reason.startswith("crashed before the objective started: crashed: killed by SIGKILL")


def test_the_timeout_counts_from_the_objective_not_from_its_import(tmp_path):
    module = tmp_path / "slow_import.py"
    module.write_text("import time\ntime.sleep(2)\ndef f(config):\n    time.sleep(0.2)\n    return config['x']\n")
    data = {"name": "slow", "objective": f"{module}:f", "space": {"x": {"uniform": [0, 1]}}, "algorithm": "random",
            "budget": {"trials": 3}, "timeout": 1.5}
    study = tmp_path / "study"
    outcome = run_study(parse_experiment(data), study, detect_machine(cpus=1), out=io.StringIO())
    assert outcome.ledger.count("complete") == 3, [r.get("reason") for r in trial_records(study)]


def test_nothing_a_trial_starts_outlives_it(tmp_path):
    data = {"name": "bg", "objective": objective("misbehave"), "space": None,
            "algorithm": {"name": "explicit", "configs": [{"fault": "background"}] * 3}}
    study = tmp_path / "study"
    run_study(parse_experiment(data), study, detect_machine(cpus=1), out=io.StringIO())
    assert len(trial_records(study, "complete")) == 3
    assert wait_for_no_processes(study, 5) == []


def test_nothing_a_trial_starts_outlives_a_driver_killed_with_sigkill(tmp_path):
    experiment = write_experiment(tmp_path, {
        "name": "hang", "objective": objective("misbehave"), "space": None,
        "algorithm": {"name": "explicit", "configs": [{"fault": "hang"}] * 2}})
    study = tmp_path / "study"
    driver = subprocess.Popen([sys.executable, str(ROOT / "main.py"), str(experiment), "--study-dir", str(study),
                               "--cpus", "2"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while sum(1 for r in trial_records_or_none(study) if r["status"] == "running") < 2 or len(processes_of(study)) < 4:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    driver.kill()
    driver.wait()
    assert wait_for_no_processes(study, 10) == []


def trial_records_or_none(study: Path) -> list[dict]:
    try:
        return trial_records(study)
    except (FileNotFoundError, json.JSONDecodeError):
        return []


def test_an_objective_changing_folder_does_not_move_the_study(tmp_path):
    experiment = write_experiment(tmp_path, {
        "name": "wander", "objective": objective("wanders"), "space": None,
        "algorithm": {"name": "explicit", "configs": [{"x": i / 10} for i in range(6)]}})
    done = cli("run", str(experiment), "--cpus", "1", cwd=tmp_path)  # the default, relative runs/wander
    assert done.returncode == 0, done.stderr
    study = tmp_path / "runs" / "wander"
    assert len(trial_records(study, "complete")) == 6
    assert sorted(p.name for p in (study / "trials").iterdir()) == [str(i) for i in range(6)]
    assert all((study / "trials" / str(i) / "stdout.txt").read_text() == f"trial {i}\n" for i in range(6))


def test_a_failure_before_the_objective_runs_is_reported_as_it_is(tmp_path):
    data = {"name": "breaks", "objective": objective("breaks_its_folder"), "space": None,
            "algorithm": {"name": "explicit", "configs": [{"x": 0.1}, {"x": 0.2}]}}
    study = tmp_path / "study"
    run_study(parse_experiment(data), study, detect_machine(cpus=1), out=io.StringIO())
    (failed,) = [r for r in trial_records(study) if r["status"] == "failed"]
    assert failed["trial"] == 1 and failed["reason"].startswith("worker: NotADirectoryError"), failed["reason"]


def test_a_trial_killed_by_the_batch_systems_sigterm_runs_again(tmp_path):
    experiment = write_experiment(tmp_path, {
        "name": "term", "objective": objective("sleepy"), "space": None,
        "algorithm": {"name": "explicit", "configs": [{"x": i / 10, "sleep": 2} for i in range(4)]}})
    study = tmp_path / "study"
    driver = subprocess.Popen([sys.executable, str(ROOT / "main.py"), str(experiment), "--study-dir", str(study),
                               "--cpus", "2"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while sum(1 for r in trial_records_or_none(study) if r["status"] == "running") < 2 or len(processes_of(study)) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.5)  # the objectives run
    for pid in processes_of(study):  # SLURM at the time limit: every process, the workers first
        os.kill(pid, signal.SIGTERM)
    time.sleep(0.03)
    driver.send_signal(signal.SIGTERM)
    driver.communicate(timeout=60)
    assert driver.returncode == 128 + signal.SIGTERM
    ended = [r for r in trial_records(study) if r["status"] != "running"]
    assert ended and all(r["status"] == "cancelled" for r in ended), ended
    resumed = cli("resume", str(study), "--cpus", "2")
    assert resumed.returncode == 0, resumed.stderr
    assert sorted(r["trial"] for r in trial_records(study, "complete")) == [0, 1, 2, 3]
    assert not trial_records(study, "failed")
