"""The local engine with real worker processes: placement, GPUs, failures of every kind, output files."""
import io
import itertools
import json
import os

import pytest

from hpo_compss.errors import ConfigError
from hpo_compss.experiment import parse_experiment
from hpo_compss.runtime.resources import detect_machine
from hpo_compss.study import run_study

from conftest import cli, objective, processes_of, trial_records, wait_for_no_processes
from objectives import expected_failure

needs_two_cores = pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores")


def experiment(**overrides) -> object:
    data = {"name": "t", "objective": objective("quadratic"), "space": {"x": {"uniform": [0, 1]}},
            "algorithm": "random", "budget": {"trials": 6}, "seed": 3}
    data.update(overrides)
    return parse_experiment(data)


def run(exp, study_dir, cpus=None, gpus=None):
    out = io.StringIO()
    outcome = run_study(exp, study_dir, detect_machine(cpus, gpus), out=out)
    return outcome, out.getvalue()


def overlapping(records):
    return [(a, b) for a, b in itertools.combinations(records, 2)
            if a["extras"]["t0"] < b["extras"]["t1"] and b["extras"]["t0"] < a["extras"]["t1"]]


@needs_two_cores
def test_one_core_trials_run_two_at_a_time_on_their_own_cores(study_dir):
    outcome, _ = run(experiment(objective=objective("placement"), budget={"trials": 6}), study_dir, cpus=2)
    records = trial_records(study_dir, "complete")
    assert len(records) == 6
    for record in records:
        assert len(record["extras"]["affinity"]) == 1  # the trial reads its own affinity: one core
        assert record["extras"]["affinity"] == record["cores"] == record["extras"]["context_cores"]
        assert record["extras"]["omp"] == "1" and record["extras"]["threads"] == 1
        assert record["extras"]["cuda"] == ""  # a CPU class sees no GPU
    pairs = overlapping(records)
    assert pairs, "trials should have run concurrently"
    for a, b in pairs:
        assert a["extras"]["affinity"] != b["extras"]["affinity"]


@needs_two_cores
def test_each_concurrent_gpu_trial_sees_exactly_one_different_gpu(study_dir):
    exp = experiment(objective=objective("placement"), budget={"trials": 6},
                     compute_classes={"gpu": {"cpus": 1, "gpus": 1}})
    run(exp, study_dir, cpus=2, gpus="2")
    records = trial_records(study_dir, "complete")
    assert len(records) == 6
    for record in records:
        assert record["extras"]["cuda"] in ("0", "1") and record["gpus"] == [record["extras"]["cuda"]]
        assert record["extras"]["context_gpus"] == [record["extras"]["cuda"]]
    pairs = overlapping(records)
    assert pairs
    for a, b in pairs:
        assert a["extras"]["cuda"] != b["extras"]["cuda"] and a["cores"] != b["cores"]


def test_gpu_ids_from_the_environment_are_handed_out(study_dir, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    exp = experiment(objective=objective("placement"), budget={"trials": 4},
                     compute_classes={"gpu": {"cpus": 1, "gpus": 2}})
    run(exp, study_dir, cpus=1)
    assert {r["extras"]["cuda"] for r in trial_records(study_dir, "complete")} == {"3,5"}


def test_a_class_that_does_not_fit_is_skipped_with_a_warning(study_dir):
    exp = experiment(compute_classes={"gpu": {"cpus": 1, "gpus": 1}, "cpu": {"cpus": 1}})
    outcome, out = run(exp, study_dir, cpus=1, gpus="0")
    assert "compute class 'gpu' is not used here: it needs 1 GPUs and there are 0" in out
    assert outcome.ledger.count("complete") == 6


UUID = "8f7a3c2e-1b4d-4e5f-9a6b-0c1d2e3f4a5b"


@pytest.mark.parametrize("flag, ids", [("2", ("0", "1")), ("0", ()), ("0, 2", ("0", "2")), ("3", ("0", "1", "2")),
                                       (f"GPU-{UUID}", (f"GPU-{UUID}",)), (f"MIG-{UUID}", (f"MIG-{UUID}",)),
                                       (f"1,MIG-GPU-{UUID}/1/0", ("1", f"MIG-GPU-{UUID}/1/0"))])
def test_gpus_flag_takes_a_count_or_ids_as_cuda_visible_devices_does(flag, ids):
    assert detect_machine(gpus=flag, environ={}).gpus == ids


@pytest.mark.parametrize("flag", ["abc", "0,abc", "-1", "1.5", "", ",", "GPU-", "GPU-xyz", "cuda:0", "²", "0,1,0",
                                  f"GPU-{UUID},GPU-{UUID}"])
def test_gpus_flag_refuses_ids_cuda_visible_devices_would_not_take_or_twice(flag):
    with pytest.raises(ConfigError, match=r"^--gpus: expected a count or ids like 0,2"):
        detect_machine(gpus=flag, environ={})


def test_a_bad_gpus_flag_is_one_line_and_exit_code_2(tmp_path):
    done = cli("run", "configs/griewank.json", "--study-dir", str(tmp_path / "s"), "--gpus", "abc")
    assert done.returncode == 2 and not (tmp_path / "s").exists()
    assert done.stderr == "error: --gpus: expected a count or ids like 0,2, got 'abc'\n"  # the flag's error, not the file's


def test_a_count_of_gpus_no_node_has_is_refused():
    with pytest.raises(ConfigError, match=r"^--gpus: expected at most 1024 GPUs"):
        detect_machine(gpus="1000000000000", environ={})


@needs_two_cores
def test_failures_of_every_kind_are_recorded_and_the_study_completes(study_dir):
    exp = experiment(objective=objective("faulty"), space={"u": {"uniform": [0, 1]}}, budget={"trials": 40},
                     retries=1, timeout=1, seed=11)
    outcome, out = run(exp, study_dir, cpus=2)
    finals = {r["trial"]: r for r in trial_records(study_dir) if r["status"] != "running"}
    assert len(finals) == 40 and outcome.stop_reason == "budget of trials used"
    kinds = set()
    for record in trial_records(study_dir):
        if record["status"] == "running":
            continue
        expected = expected_failure(record["config"]["u"])
        if expected is None:
            assert record["status"] == "complete" and record["value"] == record["config"]["u"]
        else:
            assert record["status"] == "failed" and record["reason"].startswith(expected), record
            assert record["retry"] == (record["attempt"] == 1)  # retried once, then final
            kinds.add(expected.split(":")[0])
    assert kinds == {"exception", "timeout", "invalid result", "crashed"}
    assert outcome.ledger.count("failed") + outcome.ledger.count("complete") == 40
    assert "FAILED (timeout: killed after 1 s), retrying (attempt 2 of 2)" in out
    # the exception's traceback is in the trial's stderr file
    failed = next(r for r in finals.values() if r.get("reason", "").startswith("exception"))
    assert "ValueError: bad luck" in (study_dir / "trials" / str(failed["trial"]) / "stderr.2.txt").read_text()
    # nothing survives: neither the workers nor the `sleep` the hanging trials started
    assert wait_for_no_processes(study_dir) == []


def test_a_segfault_is_a_crash_with_its_output_kept(study_dir):
    run(experiment(objective=objective("segfault"), budget={"trials": 1}), study_dir, cpus=1)
    (record,) = trial_records(study_dir, "failed")
    assert record["reason"] == "crashed: killed by SIGSEGV"
    folder = study_dir / "trials" / "0"
    assert (folder / "stdout.txt").read_text() == "about to crash\n"
    assert "Fatal Python error: Segmentation fault" in (folder / "stderr.txt").read_text()


@pytest.mark.parametrize("value, reason", [
    ("abc", "invalid result: loss is not a number: 'abc'"),
    ([1, 2], "invalid result: loss is not a number: [1, 2]"),
    (None, "invalid result: loss is not a number: None"),
    (True, "invalid result: loss is not a number: True"),
    ({"accuracy": 1}, "invalid result: the returned dict has no 'loss' key (keys: accuracy)"),
    ("inf", "invalid result: loss is inf"),
])
def test_unusable_results_fail_with_their_reason(study_dir, value, reason):
    exp = experiment(objective=objective("returns"), space={"value": {"constant": value}}, budget={"trials": 1})
    run(exp, study_dir, cpus=1)
    (record,) = trial_records(study_dir, "failed")
    assert record["reason"] == reason


def test_output_extras_and_workdir(study_dir):
    run(experiment(objective=objective("chatty"), budget={"trials": 3}), study_dir, cpus=1)
    for record in trial_records(study_dir, "complete"):
        folder = study_dir / "trials" / str(record["trial"])
        assert (folder / "stdout.txt").read_text() == f"hello from trial {record['trial']}\n"
        assert (folder / "stderr.txt").read_text() == "a warning\n"
        assert (folder / "artifact.txt").read_text() == "kept"
        assert record["extras"] == {"seed": record["seed"], "array": [1.5, "inf"]}
    assert not list((study_dir / "trials").glob(".spool-*"))


def test_silent_trials_leave_no_folders(study_dir):
    run(experiment(budget={"trials": 5}), study_dir, cpus=1)
    assert list((study_dir / "trials").iterdir()) == []


def test_fresh_process_runs_each_trial_in_a_new_process(study_dir):
    run(experiment(budget={"trials": 4}, fresh_process=True), study_dir, cpus=1)
    assert len({r["pid"] for r in trial_records(study_dir, "complete")}) == 4
    other = study_dir.parent / "reused"
    run(experiment(budget={"trials": 4}), other, cpus=1)
    assert len({r["pid"] for r in trial_records(other, "complete")}) == 1


def test_a_config_whose_dependent_value_fails_is_recorded_not_run(study_dir):
    exp = experiment(space={"x": {"uniform": [-1, 1]}, "y": {"dependent": "log(x)"}}, budget={"trials": 8}, retries=2)
    outcome, _ = run(exp, study_dir, cpus=1)
    failed = trial_records(study_dir, "failed")
    assert failed and all(r["reason"].startswith("invalid config: space.y: cannot compute") for r in failed)
    assert all(r["retry"] is False for r in failed)
    assert outcome.ledger.count("complete") + len(failed) == 8


def test_driver_leaves_no_process_after_a_normal_run(study_dir):
    run(experiment(objective=objective("slow_quadratic")), study_dir, cpus=1)
    assert processes_of(study_dir) == []
    assert json.loads((study_dir / "experiment.json").read_text())["name"] == "t"
