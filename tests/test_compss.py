"""The COMPSs backend end to end, through the pycompss stand-in in tests/compss_standin (no Java runtime).

Each study runs as PyCOMPSs users run it, ``runcompss --lang=python --pythonpath=... main.py EXP``,
with the stand-in's launcher; the stand-in logs every decorator argument and API call, and rejects
what the binding or the Java runtime would reject.
"""
from __future__ import annotations

import inspect
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hpo_compss.trial import ComputeClass
from conftest import ROOT, cli, journal, objective, trial_records, wait_for_no_processes, write_experiment
from objectives import expected_failure
from test_schedulers import asha_study, check_asha_journal, check_promotion_journal, promotion_study

STANDIN = Path(__file__).resolve().parent / "compss_standin"


def standin_env(tmp_path: Path, nodes: int = 1, cpus: int = 2, gpus: int = 0) -> dict:
    return {**os.environ, "PYCOMPSS_STANDIN_LOG": str(tmp_path / "standin.log"), "PYCOMPSS_STANDIN_NODES": str(nodes),
            "PYCOMPSS_STANDIN_CPUS": str(cpus), "PYCOMPSS_STANDIN_GPUS": str(gpus)}


def runcompss(experiment: Path, study: Path, env: dict, *extra: str, background: bool = False):
    command = [sys.executable, str(STANDIN / "runcompss.py"), "--lang=python", f"--pythonpath={ROOT}",
               str(ROOT / "main.py"), str(experiment), "--study-dir", str(study), *extra]
    if background:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def standin_log(tmp_path: Path, event: str, role: str = "master") -> list[dict]:
    """What the stand-in logged in the application's master process (role "out" in sequential mode)."""
    path = tmp_path / "standin.log"
    lines = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return [line for line in lines if line["event"] == event and line["role"] == role]


def explicit(configs: list[dict], **fields) -> dict:
    return {"algorithm": {"name": "explicit", "configs": configs}, "space": None, **fields}


def test_two_compute_classes_run_as_tasks_with_their_constraints(tmp_path):
    data = json.loads((ROOT / "configs" / "svm_digits.json").read_text())
    data.pop("$schema")
    data["budget"] = {"trials": 6}
    data["compute_classes"] = {"cpu": {"cpus": 1}, "gpu": {"cpus": 1, "gpus": 1}}
    experiment = write_experiment(tmp_path, data)
    study = tmp_path / "study"
    done = runcompss(experiment, study, standin_env(tmp_path, cpus=2, gpus=2))
    assert done.returncode == 0, done.stderr
    assert "COMPSs runtime with 1 worker(s)" in done.stdout

    decorated = {(d["function"], d["decorator"]): d["arguments"] for d in standin_log(tmp_path, "decorate")}
    lost = decorated[("trial", "on_failure")]["returns"]
    assert decorated[("trial", "on_failure")] == {"management": "IGNORE", "returns": lost}
    assert lost["status"] == "failed" and lost["reason"].startswith("lost:")
    assert decorated[("trial", "constraint")] == {"computing_units": "cores"}
    assert decorated[("trial_c1g1", "constraint")] == {
        "processors": [{"processorType": "CPU", "computingUnits": "1"}, {"processorType": "GPU", "computingUnits": "1"}]}
    for name in ("trial", "trial_c1g1"):
        assert decorated[(name, "task")] == {"returns": 1, "time_out": 60 + 60, "varargs_type": "DIRECTORY_IN"}

    calls = standin_log(tmp_path, "call")
    assert {c["function"] for c in calls} == {"trial", "trial_c1g1"}
    for call in calls:
        assert call["on_failure"] == "IGNORE" and call["groups"] == [calls[0]["groups"][0]]
        assert call["needs"] == {"cpus": 1, "gpus": 1 if call["function"] == "trial_c1g1" else 0, "memory_gb": None}
    complete = trial_records(study, "complete")
    assert len(complete) == 6
    for record in complete:
        assert len(record["cores"]) == 1
        assert (record["class"] == "gpu") == bool(record["gpus"])
        assert set(record["gpus"]) <= {"0", "1"}
    started = [r for r in journal(study) if r.get("study") == "started"]
    assert started[0]["backend"] == "compss"
    status = cli("status", str(study), "--json")
    assert json.loads(status.stdout)["n_complete"] == 6


def test_a_trial_gets_the_cores_gpus_and_threads_the_runtime_bound(tmp_path):
    experiment = write_experiment(tmp_path, {"objective": objective("placement"),
                                             **explicit([{"x": 0.1}, {"x": 0.2}, {"x": 0.3}]),
                                             "compute_classes": {"wide": {"cpus": 2, "gpus": 1, "memory_gb": 1.5}}})
    study = tmp_path / "study"
    done = runcompss(experiment, study, standin_env(tmp_path, cpus=4, gpus=2))
    assert done.returncode == 0, done.stderr
    call = standin_log(tmp_path, "call")[0]
    assert call["function"] == "trial_c2g1_mem"
    assert call["constraints"]["memory_size"] == "1.5" and call["needs"] == {"cpus": 2, "gpus": 1, "memory_gb": 1.5}
    starts = {s["task"]: s for s in standin_log(tmp_path, "start")}
    records = trial_records(study, "complete")
    assert len(records) == 3
    for record in records:
        extras = record["extras"]
        assert extras["threads"] == 2 and extras["omp"] == "2"
        assert len(extras["context_cores"]) == 2 and extras["context_cores"] == record["cores"]
        assert extras["cuda"] == ",".join(extras["context_gpus"]) and len(extras["context_gpus"]) == 1
        assert any(s["cores"] == extras["context_cores"] and [str(g) for g in s["gpus"]] == extras["context_gpus"]
                   for s in starts.values())


def test_failures_timeouts_and_crashes_are_recorded_and_retried(tmp_path):
    values = [0.1, 0.25, 0.35, 0.42, 0.9]
    experiment = write_experiment(tmp_path, {"objective": objective("faulty"), **explicit([{"u": u} for u in values]),
                                             "timeout": 1.5, "retries": 1})
    study = tmp_path / "study"
    done = runcompss(experiment, study, standin_env(tmp_path, cpus=2))
    assert done.returncode == 0, done.stderr
    by_trial: dict[int, list[dict]] = {}
    for record in trial_records(study):
        if record["status"] != "running":
            by_trial.setdefault(record["trial"], []).append(record)
    for trial, u in enumerate(values):
        reason = expected_failure(u)
        records = by_trial[trial]
        if reason is None:
            assert [r["status"] for r in records] == ["complete"]
        else:
            assert [(r["status"], r["attempt"]) for r in records] == [("failed", 1), ("failed", 2)]
            assert all(r["reason"].startswith(reason) for r in records), records
    assert standin_log(tmp_path, "decorate")[0]["arguments"]["time_out"] == 2 + 60
    assert wait_for_no_processes(study) == []


def test_a_task_that_dies_without_reporting_is_recorded_as_lost_and_retried(tmp_path):
    experiment = write_experiment(tmp_path, {"objective": objective("kills_its_task"),
                                             **explicit([{"x": 0.2}, {"x": 0.9}]), "retries": 1})
    study = tmp_path / "study"
    done = runcompss(experiment, study, standin_env(tmp_path, cpus=2))
    assert done.returncode == 0, done.stderr
    failed = trial_records(study, "failed")
    assert [(r["trial"], r["attempt"]) for r in failed] == [(1, 1), (1, 2)]
    assert all(r["reason"].startswith("lost: the COMPSs task ended without reporting") for r in failed)
    assert [r["trial"] for r in trial_records(study, "complete")] == [0]


def test_reaching_the_target_cancels_the_task_group(tmp_path):
    configs = [{"x": 0.3, "sleep": 0.2}] + [{"x": 0.9, "sleep": 60}] * 3
    experiment = write_experiment(tmp_path, {"objective": objective("quadratic"), **explicit(configs),
                                             "stop": {"target": 0.01}})
    study = tmp_path / "study"
    started = time.monotonic()
    done = runcompss(experiment, study, standin_env(tmp_path, nodes=2, cpus=2), "--max-running", "3")
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 50
    group = standin_log(tmp_path, "call")[0]["groups"][0]
    assert {"event": "api", "name": "compss_cancel_group", "group": group}.items() <= next(
        e for e in standin_log(tmp_path, "api") if e["name"] == "compss_cancel_group").items()
    assert [r["trial"] for r in trial_records(study, "cancelled")] == [1, 2]
    assert "target 0.01 reached by trial 0" in journal(study)[-1]["reason"]
    assert wait_for_no_processes(study) == []


def test_inputs_reach_trials_as_staged_files_and_folders(tmp_path):
    (tmp_path / "table.txt").write_text("1")
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "weights.txt").write_text("10")
    data = {"objective": objective("reads_inputs"), **explicit([{"x": 0.5}]),
            "inputs": {"table": "table.txt", "assets": "assets"}}
    experiment = write_experiment(tmp_path, data)
    done = runcompss(experiment, tmp_path / "compss", standin_env(tmp_path))
    assert done.returncode == 0, done.stderr
    staged = {s["kind"]: s for s in standin_log(tmp_path, "stage")}
    assert set(staged) == {"file", "directory"}
    [record] = trial_records(tmp_path / "compss", "complete")
    assert record["value"] == 11.5
    assert record["extras"]["table"] == staged["file"]["target"] != str(tmp_path / "table.txt")
    assert record["extras"]["assets"] == staged["directory"]["target"]

    local = cli("run", str(experiment), "--study-dir", str(tmp_path / "local"))
    assert local.returncode == 0, local.stderr
    [record] = trial_records(tmp_path / "local", "complete")
    assert (record["value"], record["extras"]["table"]) == (11.5, str(tmp_path / "table.txt"))


def test_outcomes_delivered_while_the_driver_was_down_are_kept_on_resume(tmp_path):
    experiment = write_experiment(tmp_path, {"objective": objective("learning_curve"), **explicit(
        [{"x": 0.1, "steps": 3, "pause": 1}, {"x": 0.2, "steps": 3, "pause": 1}])})
    study = tmp_path / "study"
    driver = runcompss(experiment, study, standin_env(tmp_path, cpus=2), background=True)
    inbox = study / "inbox"
    deadline = time.monotonic() + 60
    while len(list(inbox.glob("*.running"))) < 2:
        assert time.monotonic() < deadline and driver.poll() is None
        time.sleep(0.05)
    driver.send_signal(signal.SIGKILL)
    driver.communicate()
    while len(list(inbox.glob("*.json"))) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    resumed = cli("resume", str(study), "--backend", "local")
    assert resumed.returncode == 0, resumed.stderr
    assert "2 trial(s) finished while no driver was running" in resumed.stdout
    ended = sorted((r["trial"], r["status"], r["attempt"]) for r in trial_records(study) if r["status"] != "running")
    assert ended == [(0, "complete", 1), (1, "complete", 1)]
    reports = sorted((r["progress"], r["step"]) for r in journal(study) if "progress" in r)
    assert reports == [(trial, step) for trial in (0, 1) for step in (1.0, 2.0, 3.0)]  # their reports too
    assert list(inbox.iterdir()) == []


def test_backend_compss_outside_the_runtime_runs_the_binding_sequential_mode(tmp_path):
    experiment = write_experiment(tmp_path, {"objective": objective("quadratic"),
                                             **explicit([{"x": 0.1}, {"x": 0.4}]), "timeout": 30})
    env = {**standin_env(tmp_path), "PYTHONPATH": str(STANDIN)}
    done = cli("run", str(experiment), "--study-dir", str(tmp_path / "study"), "--backend", "compss", env=env)
    assert done.returncode == 0, done.stderr
    assert "sequential mode, one trial at a time" in done.stderr
    assert "COMPSs binding in sequential mode" in done.stdout
    complete = trial_records(tmp_path / "study", "complete")
    assert len(complete) == 2
    assert complete[0]["pid"] == complete[1]["pid"]  # the supervised child is kept for the next trial
    assert [r["backend"] for r in journal(tmp_path / "study") if r.get("study") == "started"] == ["compss"]
    assert standin_log(tmp_path, "call") == []  # nothing was submitted to a runtime: the functions ran directly
    auto = cli("run", str(experiment), "--study-dir", str(tmp_path / "auto"), env=env)
    assert [r["backend"] for r in journal(tmp_path / "auto") if r.get("study") == "started"] == ["local"], auto.stderr


def test_backend_compss_without_pycompss_is_a_one_line_error(tmp_path):
    experiment = write_experiment(tmp_path, {"objective": objective("quadratic"), **explicit([{"x": 0.1}])})
    done = cli("run", str(experiment), "--study-dir", str(tmp_path / "study"), "--backend", "compss")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "--backend: compss needs the PyCOMPSs binding" in done.stderr
    assert not (tmp_path / "study").exists()


@pytest.fixture
def binding(monkeypatch):
    """The stand-in binding imported in this process (outside the runtime), removed again afterwards."""
    monkeypatch.syspath_prepend(str(STANDIN))
    yield
    for name in [m for m in sys.modules if m.split(".")[0] == "pycompss" or m.endswith("compss_tasks")]:
        del sys.modules[name]


def test_every_task_shape_passes_the_binding_and_runtime_checks(binding):
    from pycompss.standin import rules

    from hpo_compss.runtime import compss_tasks

    shapes = [(ComputeClass("a", cpus=3), False, (3, 0, None)),
              (ComputeClass("b", cpus=2, memory_gb=0.5), True, (2, 0, 0.5)),
              (ComputeClass("c", cpus=8, gpus=4, memory_gb=64), True, (8, 4, 64.0))]
    for cls, files, needs in shapes:
        name = compss_tasks.task_name(cls, files)
        function = compss_tasks.task_for(cls, files, timeout=10.5)
        failure, constraints, task_arguments = compss_tasks.decorator_arguments(name, 71)
        rules.check_on_failure(failure)
        inner = inspect.unwrap(function)
        rules.check_task_keywords(inner, task_arguments)
        memory = f"{cls.memory_gb:g}" if cls.memory_gb else None
        arguments = ({}, "m:f", "/s", 10.5, False, [], cls.cpus, memory, ["/x"] if files else None)
        resolved = rules.resolve_dynamic(constraints, inner, arguments, {})
        parsed = rules.parse(rules.describe(resolved))
        assert (parsed.cpus, parsed.gpus, parsed.memory_gb) == needs, name
        assert ("files" in task_arguments) == files


@pytest.mark.parametrize("constraints, error", [
    ({"processors": [{"processor_type": "GPU", "computingUnits": "1"}]}, "Unrecognised constraint processor_type"),
    ({"processors": [{"processorType": "GPU", "computing_units": "1"}]}, "Unrecognised constraint computing_units"),
    ({"processors": [{"processorType": "TPU", "computingUnits": "1"}]}, "ProcessorType.TPU"),
    ({"gpus": 1}, "Unrecognised constraint gpus"),
    ({"ComputingUnits": "cores"}, "is not a int"),  # not a spelling the binding resolves from a parameter
    ({"memory_size": 2.5}, "must be str, int or list"),
])
def test_a_constraint_the_runtime_would_refuse_is_caught(binding, constraints, error):
    from pycompss.standin import rules

    def trial(task, cores):
        return task

    with pytest.raises(rules.Rejected, match=error):
        rules.parse(rules.describe(rules.resolve_dynamic(constraints, trial, ({}, 4), {})))


def test_a_misspelt_task_keyword_is_caught(binding):
    from pycompss.api.parameter import FILE_IN
    from pycompss.standin import rules

    def trial(task, data):
        return task

    rules.check_task_keywords(trial, {"returns": 1, "time_out": 5, "data": FILE_IN})
    with pytest.raises(rules.Rejected, match="'timeout' is neither a task option nor a parameter"):
        rules.check_task_keywords(trial, {"returns": 1, "timeout": 5})
    with pytest.raises(rules.Rejected, match="time_out must be a non-negative int"):
        rules.check_task_keywords(trial, {"time_out": 2.5})


def test_a_resumed_study_is_not_held_up_by_the_traces_of_its_cancelled_tasks(tmp_path):
    """Cancelled tasks leave heartbeats of the same trial and attempt behind; the resumed tasks are new ones."""
    experiment = write_experiment(tmp_path, {"objective": objective("quadratic"),
                                             **explicit([{"x": 0.1, "sleep": 8}, {"x": 0.2, "sleep": 1}])})
    study = tmp_path / "study"
    driver = runcompss(experiment, study, standin_env(tmp_path, cpus=2), background=True)
    deadline = time.monotonic() + 60
    while len(list((study / "inbox").glob("*.running"))) < 2:
        assert time.monotonic() < deadline and driver.poll() is None
        time.sleep(0.05)
    driver.send_signal(signal.SIGTERM)
    driver.communicate(timeout=60)
    assert [r["status"] for r in trial_records(study) if r["status"] != "running"] == ["cancelled", "cancelled"]
    resumed = runcompss(experiment, study, standin_env(tmp_path, cpus=2), background=True)
    seen = None
    while resumed.poll() is None:
        if seen is None and any(r["trial"] == 1 for r in trial_records(study, "complete")):
            seen = time.time()
        time.sleep(0.02)
    assert resumed.returncode == 0, resumed.stderr.read()
    (short,) = [r for r in trial_records(study, "complete") if r["trial"] == 1]
    assert seen is not None and seen - short["end"] < 3.0  # journaled as it ended, not after the long trial


def test_on_compss_reports_reach_the_driver_and_asha_stops_trials_through_the_inbox(tmp_path):
    """Reports travel as progress files and stops as stop files; each report is journaled, each prune the rule's."""
    study = tmp_path / "study"
    done = runcompss(asha_study(tmp_path, pause=0.05), study, standin_env(tmp_path, cpus=2))
    assert done.returncode == 0, done.stderr
    check_asha_journal(journal(study), stops_may_cross_ends=True)
    assert not list((study / "inbox").iterdir())  # every progress and stop file retired once journaled


def test_on_compss_a_stopped_trial_that_does_not_return_is_killed_and_recorded_pruned(tmp_path):
    configs = [{"x": 0.1, "steps": 3}, {"x": 0.2, "steps": 3}, {"x": 0.3, "steps": 3}, {"x": 0.9, "deaf": True}]
    experiment = write_experiment(tmp_path, {
        "objective": objective("learning_curve"), **explicit(configs),
        "scheduler": {"name": "asha", "type": "stopping", "min": 1, "max": 3, "eta": 3}})
    study = tmp_path / "study"
    started = time.monotonic()
    done = runcompss(experiment, study, standin_env(tmp_path, cpus=2))
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 40  # not the deaf trial's minute
    (deaf,) = [r for r in trial_records(study) if r["trial"] == 3 and r["status"] != "running"]
    assert deaf["status"] == "pruned" and (deaf["value"], deaf["step"]) == (1.9, 1.0)
    assert "killed, as it had not returned" in deaf["reason"]


def test_on_compss_a_stopped_trial_whose_task_hangs_is_cancelled_alone_and_recorded_pruned(tmp_path):
    marker = tmp_path / "frozen.pid"
    configs = [{"x": 0.1, "steps": 3}, {"x": 0.2, "steps": 3}, {"x": 0.3, "steps": 3}, {"x": 0.9, "freeze": str(marker)}]
    experiment = write_experiment(tmp_path, {
        "objective": objective("learning_curve"), **explicit(configs),
        "scheduler": {"name": "asha", "type": "stopping", "min": 1, "max": 3, "eta": 3}})
    study = tmp_path / "study"
    driver = runcompss(experiment, study, standin_env(tmp_path, cpus=2), background=True)
    deadline = time.monotonic() + 90
    try:
        while not ((study / "journal.jsonl").exists()
                   and [r for r in trial_records(study) if r["trial"] == 3 and r["status"] != "running"]):
            assert time.monotonic() < deadline and driver.poll() is None
            time.sleep(0.2)
    finally:
        if marker.exists():
            os.kill(int(marker.read_text()), signal.SIGCONT)  # the runtime's cancellation reaches it now
    assert driver.wait(60) == 0, driver.stderr.read()
    (hung,) = [r for r in trial_records(study) if r["trial"] == 3 and r["status"] != "running"]
    assert hung["status"] == "pruned" and (hung["value"], hung["step"]) == (1.9, 1.0)
    assert "its task was cancelled, as it had not returned 30.5 s later" in hung["reason"]
    cancelled = [line for line in standin_log(tmp_path, "api") if line["name"] == "compss_cancel_group"]
    assert [line["group"].split("-")[-2] for line in cancelled] == ["3"]  # its own group, nothing else
    ended = {r["trial"]: r for r in trial_records(study) if r["status"] != "running"}
    # the others ran on: 0 and 1 complete; 2, which ASHA stops at rung 1, completes or is pruned as its stop
    # reaches it (a stop takes a poll of the inbox to arrive), never cancelled with 3
    assert ended[0]["status"] == ended[1]["status"] == "complete"
    assert ended[2]["status"] == "complete" or (ended[2]["status"] == "pruned"
                                                and ended[2]["reason"].startswith("stopped by the scheduler at step"))


def test_on_compss_each_rung_is_a_task_with_the_checkpoint_folder_as_directory_inout(tmp_path):
    """Two nodes without a shared disk (the stand-in stages copies): each promoted run starts from the
    version of the checkpoint folder its trial's previous run left, and the study folder gets it back."""
    study = tmp_path / "study"
    done = runcompss(promotion_study(tmp_path), study, standin_env(tmp_path, nodes=2, cpus=1))
    assert done.returncode == 0, done.stderr
    check_promotion_journal(study)
    decorated = {(d["function"], d["decorator"]): d["arguments"] for d in standin_log(tmp_path, "decorate")}
    assert decorated[("trial_ckpt", "task")] == {"returns": 1, "time_out": 0, "varargs_type": "DIRECTORY_IN",
                                                  "checkpoint": "DIRECTORY_INOUT"}
    calls = standin_log(tmp_path, "call")
    assert {c["function"] for c in calls} == {"trial_ckpt"}
    assert all(len(c["groups"]) == 2 for c in calls)  # the study's group and the task's own
    staged = [line for line in standin_log(tmp_path, "stage") if line["kind"] == "written"]
    assert len(staged) == len(calls)
    runs = [r for r in journal(study) if r.get("status") == "running"]
    for trial in {run["trial"] for run in runs}:  # each run of a trial sees the version its last run left
        source = str(study / "trials" / str(trial) / "checkpoint")
        stages = [stage for stage in staged if stage["source"] == source]
        assert len(stages) == sum(run["trial"] == trial for run in runs)
        assert [stage["version"] for stage in stages] == [source] + [stage["target"] for stage in stages[:-1]]
    assert {line["node"] for line in standin_log(tmp_path, "stage")} == {"node1", "node2"}
    assert any(run.get("after_step") for run in runs)
    assert standin_log(tmp_path, "api") and any(
        line["name"] == "compss_wait_on_directory" for line in standin_log(tmp_path, "api"))
