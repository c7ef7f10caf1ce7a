"""jobs/sbatch-local.sh under a real SLURM (slurmctld + slurmd), submitted with real sbatch.

.ci/run starts the cluster with ../shared/slurm/start-local-slurm.sh (three virtual nodes, two fake
GPUs each); without a reachable SLURM the tests skip and say so.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, journal, objective, slurm_problem, trial_records, write_experiment

ENDED = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "BOOT_FAIL"}


pytestmark = pytest.mark.skipif(slurm_problem() is not None, reason=str(slurm_problem()))


def submit(tmp_path: Path, experiment: Path, study: Path, *sbatch_options: str) -> str:
    done = subprocess.run(["sbatch", "--parsable", f"--chdir={tmp_path}", f"--output={study}.out", *sbatch_options,
                           str(ROOT / "jobs" / "sbatch-local.sh"), str(experiment), "--study-dir", str(study)],
                          capture_output=True, text=True, check=True)
    return done.stdout.strip().split(";")[0]


def job_fields(job: str) -> dict[str, str]:
    shown = subprocess.run(["scontrol", "show", "job", job], capture_output=True, text=True, check=True).stdout
    return dict(re.findall(r"(\w+)=(\S*)", shown))


def wait_for(job: str, seconds: float = 240) -> dict[str, str]:
    deadline = time.monotonic() + seconds
    while (fields := job_fields(job))["JobState"] not in ENDED:
        assert time.monotonic() < deadline, f"job {job} still {fields['JobState']}"
        time.sleep(0.5)
    return fields


def started(study: Path) -> dict:
    return next(r for r in journal(study) if r.get("study") == "started")


def quadratic_experiment(tmp_path: Path, classes: dict | None = None, trials: int = 6) -> Path:
    data = {"objective": objective("quadratic"), "space": {"x": {"uniform": [0, 1]}, "sleep": 0.3},
            "algorithm": "random", "budget": {"trials": trials}}
    if classes:
        data["compute_classes"] = classes
    return write_experiment(tmp_path, data)


def test_sbatch_runs_a_study_on_one_core_of_a_one_core_allocation(tmp_path):
    study = tmp_path / "study"
    fields = wait_for(submit(tmp_path, quadratic_experiment(tmp_path), study, "--cpus-per-task=1"))
    assert fields["JobState"] == "COMPLETED", (study.parent / "study.out").read_text()
    assert len(trial_records(study, "complete")) == 6
    record = started(study)
    assert len(record["cores"]) == 1 and record["backend"] == "local"
    assert f"SLURM job {fields['JobId']}" in (tmp_path / "study.out").read_text()


def test_sbatch_sizes_cores_and_gpus_from_the_allocation(tmp_path):
    experiment = quadratic_experiment(tmp_path, {"cpu": {"cpus": 1}, "gpu": {"cpus": 1, "gpus": 1}}, trials=8)
    study = tmp_path / "study"
    fields = wait_for(submit(tmp_path, experiment, study, "--cpus-per-task=2", "--gpus=2"))
    assert fields["JobState"] == "COMPLETED", (tmp_path / "study.out").read_text()
    record = started(study)
    assert (len(record["cores"]), record["gpus"]) == (2, ["0", "1"])
    complete = trial_records(study, "complete")
    assert len(complete) == 8
    assert {tuple(r["gpus"]) for r in complete if r["class"] == "gpu"} <= {("0",), ("1",)}
    assert all(r["gpus"] == [] for r in complete if r["class"] == "cpu")


def test_three_studies_run_at_once_on_three_nodes(tmp_path):
    nodes = int(subprocess.run(["sinfo", "-h", "-o", "%D"], capture_output=True, text=True).stdout.split()[0])
    if nodes < 3:
        pytest.skip(f"the cluster has {nodes} node(s); start it with SLURM_LOCAL_NODES=3")
    experiment = quadratic_experiment(tmp_path)
    jobs = [submit(tmp_path, experiment, tmp_path / f"study{i}", "--nodes=1", "--cpus-per-task=2") for i in range(3)]
    ended = [wait_for(job) for job in jobs]
    assert [f["JobState"] for f in ended] == ["COMPLETED"] * 3
    assert len({f["NodeList"] for f in ended}) == 3  # each node has two CPUs: one job per node
    for i in range(3):
        assert len(trial_records(tmp_path / f"study{i}", "complete")) == 6
        assert len(started(tmp_path / f"study{i}")["cores"]) == 2


@pytest.mark.skipif(sys.prefix == sys.base_prefix, reason="the tests do not run in a virtual environment")
def test_the_readme_gpu_example_runs_in_the_venv_named_by_hpo_compss_venv(tmp_path):
    """README's sbatch line for configs/torch_gpu.json on a node of 2 cores: its class takes 1 core instead of 4, and
    runs the placement objective. The job inherits no environment but HPO_COMPSS_VENV, which gives it its Python."""
    data = json.loads((ROOT / "configs" / "torch_gpu.json").read_text())
    data["compute_classes"]["gpu"]["cpus"] = 1
    data.update(objective=objective("placement"), space={"x": {"uniform": [0, 1]}}, budget={"trials": 6})
    study = tmp_path / "study"
    job = submit(tmp_path, write_experiment(tmp_path, data), study, "--cpus-per-task=2", "--gpus=2",
                 f"--export=HPO_COMPSS_VENV={sys.prefix}")
    assert wait_for(job)["JobState"] == "COMPLETED", (tmp_path / "study.out").read_text()
    complete = trial_records(study, "complete")
    assert len(complete) == 6 and {tuple(r["gpus"]) for r in complete} == {("0",), ("1",)}
    assert all([r["extras"]["cuda"]] == r["gpus"] for r in complete)
