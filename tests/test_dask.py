"""The Dask backend on a real LocalCluster of 2 worker processes: our semantics, not Dask's defaults."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, cli, journal, objective, slurm_problem, trial_records, write_experiment
from test_schedulers import asha_study, check_asha_journal, check_promotion_journal, promotion_study

pytest.importorskip("distributed", reason="the dask extra is not installed (pip install -e '.[dask]')")

DASK = ("--backend", "dask", "--dask-workers", "2")


def experiment(tmp_path: Path, name: str, trials: int, **extra) -> Path:
    data = {"name": name, "objective": objective("sleepy"), "algorithm": "random", "budget": {"trials": trials},
            "space": {"x": {"uniform": [0, 1]}, "sleep": [0.3]}, **extra}
    return write_experiment(tmp_path, data, f"{name}.json")


def start(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "hpo_compss.cli", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def announced(study: Path, seconds: float = 60) -> dict:
    """The first running trial's announcement in the inbox: its host and its Dask worker's pid."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for path in (study / "inbox").glob("*.running") if (study / "inbox").is_dir() else ():
            try:
                return {"trial": int(path.name.split(".")[0]), **json.loads(path.read_text())}
            except ValueError:
                continue
        time.sleep(0.05)
    raise AssertionError("no trial started")


def test_a_study_completes_on_a_local_cluster_each_trial_pinned_to_cores_no_other_trial_holds(tmp_path):
    study = tmp_path / "study"
    done = cli("run", str(experiment(tmp_path, "ok", 10)), "--study-dir", str(study), *DASK)
    assert done.returncode == 0, done.stderr
    assert "Dask scheduler tcp://127.0.0.1:" in done.stdout and "2 worker(s)" in done.stdout
    complete = trial_records(study, "complete")
    assert sorted(r["trial"] for r in complete) == list(range(10))
    assert journal(study)[0]["backend"] == "dask"
    for a in complete:  # trials that ran at the same time held different cores
        for b in complete:
            if a is not b and a["start"] < b["end"] and b["start"] < a["end"]:
                assert not set(a["cores"]) & set(b["cores"]), (a, b)
    assert (study / "trace" / "hpo_compss.prv").is_file()  # the same trace as the local engine's


def test_a_worker_killed_mid_trial_loses_nothing_and_its_trial_runs_again(tmp_path):
    study = tmp_path / "study"
    run = start(["run", str(experiment(tmp_path, "killed", 6, space={"x": {"uniform": [0, 1]}, "sleep": [2.0]})),
                 "--study-dir", str(study), *DASK])
    victim = announced(study)
    os.kill(victim["pid"], signal.SIGKILL)  # the Dask worker process running the trial
    out, err = run.communicate(timeout=240)
    assert run.returncode == 0, err
    records = [r for r in trial_records(study) if r["trial"] == victim["trial"]]
    lost = [r for r in records if r["status"] == "cancelled"]
    assert lost and "lost: the Dask worker running it died" in lost[0]["reason"]
    assert records[-1]["status"] == "complete"  # run again, elsewhere or on the worker that replaced it
    assert sorted(r["trial"] for r in trial_records(study, "complete")) == list(range(6))


def test_a_hung_trial_is_killed_at_its_timeout_and_the_study_goes_on(tmp_path):
    study = tmp_path / "study"
    path = write_experiment(tmp_path, {"name": "hung", "objective": objective("faulty"), "algorithm": "grid",
                                       "space": {"u": [0.25, 0.5, 0.6]}, "budget": {"trials": 3}, "timeout": 2})
    began = time.monotonic()
    done = cli("run", str(path), "--study-dir", str(study), *DASK)
    assert done.returncode == 0, done.stderr
    ended = {r["config"]["u"]: r for r in trial_records(study) if r["status"] in ("complete", "failed")}
    assert ended[0.25]["status"] == "failed" and ended[0.25]["reason"].startswith("timeout")
    assert ended[0.5]["status"] == ended[0.6]["status"] == "complete"
    assert time.monotonic() - began < 60


def test_a_class_that_fits_no_worker_is_refused_in_one_line(tmp_path):
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, resources={"cores": 1}, processes=True,
                      dashboard_address=None, host="127.0.0.1") as cluster:
        path = experiment(tmp_path, "big", 2, compute_classes={"big": {"cpus": 2}})
        done = cli("run", str(path), "--study-dir", str(tmp_path / "study"), "--backend", "dask",
                   "--scheduler-address", cluster.scheduler_address, timeout=120)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "compute_classes.big: needs 2 core(s) and 0 GPU(s), which no Dask worker has" in done.stderr


def test_sigterm_to_the_driver_then_resume_completes_every_trial_once(tmp_path):
    study = tmp_path / "study"
    run = start(["run", str(experiment(tmp_path, "stopped", 10, space={"x": {"uniform": [0, 1]}, "sleep": [0.5]})),
                 "--study-dir", str(study), *DASK])
    while len(trial_records(study, "complete")) < 3 if (study / "journal.jsonl").exists() else True:
        time.sleep(0.1)
    run.send_signal(signal.SIGTERM)
    run.communicate(timeout=120)
    assert run.returncode == 128 + signal.SIGTERM
    assert not any(r["status"] == "running" for r in [*{r["trial"]: r for r in trial_records(study)}.values()])
    done = cli("resume", str(study), *DASK)
    assert done.returncode == 0, done.stderr
    complete = trial_records(study, "complete")
    assert sorted(r["trial"] for r in complete) == list(range(10))  # each once


@pytest.mark.skipif(slurm_problem() is not None, reason=str(slurm_problem()))
def test_on_slurm_workers_are_jobs_trials_spread_over_nodes_a_cancelled_job_loses_nothing_and_jobs_end(tmp_path):
    study = tmp_path / "study"
    run = start(["run", str(experiment(tmp_path, "slurm", 15, space={"x": {"uniform": [0, 1]}, "sleep": [1.5]})),
                 "--study-dir", str(study), "--backend", "dask", "--dask-cluster", "slurm", "--dask-jobs", "3",
                 "--dask-job-cores", "2", "--dask-interface", "lo", "--dask-walltime", "00:10:00"])
    victim = announced(study, 120)  # a trial running in a worker job: cancel that job
    jobs = subprocess.run(["squeue", "-h", "-n", "dask-worker", "-o", "%i %N"], capture_output=True, text=True).stdout
    job = next(line.split()[0] for line in jobs.splitlines() if line.split()[1:] == [victim["host"]])
    subprocess.run(["scancel", job], check=True)
    out, err = run.communicate(timeout=300)
    assert run.returncode == 0, err
    complete = trial_records(study, "complete")
    assert sorted(r["trial"] for r in complete) == list(range(15))  # nothing lost, nothing twice
    assert len({r["host"] for r in complete}) >= 2  # the journal's hosts: the virtual nodes
    lost = [r for r in trial_records(study) if r["trial"] == victim["trial"] and r["status"] == "cancelled"]
    assert lost and lost[0]["host"] == victim["host"] and lost[0]["reason"].startswith("lost: the Dask worker")
    deadline = time.monotonic() + 30
    while subprocess.run(["squeue", "-h", "-n", "dask-worker"], capture_output=True, text=True).stdout.strip():
        assert time.monotonic() < deadline, "worker jobs outlived the study"
        time.sleep(0.5)


def test_on_dask_reports_reach_the_driver_and_asha_stops_running_trials_through_the_inbox(tmp_path):
    """The multi-fidelity scheduler's per-trial stop reaches trials running in Dask workers."""
    study = tmp_path / "study"
    done = cli("run", str(asha_study(tmp_path, pause=0.05)), "--study-dir", str(study), *DASK)
    assert done.returncode == 0, done.stderr
    check_asha_journal(journal(study), stops_may_cross_ends=True)
    assert not list((study / "inbox").iterdir())  # every progress and stop file retired once journaled


def test_on_dask_a_promoted_trial_goes_on_from_its_checkpoint_on_whichever_worker_is_free(tmp_path):
    study = tmp_path / "study"
    done = cli("run", str(promotion_study(tmp_path)), "--study-dir", str(study), *DASK)
    assert done.returncode == 0, done.stderr
    check_promotion_journal(study)


def test_a_study_joins_the_cluster_a_scheduler_file_names(tmp_path):
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, resources={"cores": 1}, processes=True,
                      dashboard_address=None, host="127.0.0.1") as cluster, Client(cluster) as client:
        client.write_scheduler_file(str(tmp_path / "scheduler.json"))
        study = tmp_path / "study"
        done = cli("run", str(experiment(tmp_path, "joined", 6)), "--study-dir", str(study), "--backend", "dask",
                   "--scheduler-file", str(tmp_path / "scheduler.json"), timeout=120)
        assert done.returncode == 0, done.stderr
        assert len(client.scheduler_info()["workers"]) == 2  # the study left the cluster it joined running
    assert sorted(r["trial"] for r in trial_records(study, "complete")) == list(range(6))


@pytest.mark.skipif(slurm_problem() is not None, reason=str(slurm_problem()))
def test_inside_an_allocation_the_runner_makes_one_task_the_scheduler_one_the_driver_and_the_rest_workers(tmp_path):
    study = tmp_path / "study"
    job = subprocess.run(
        ["sbatch", "--parsable", "--ntasks=4", "--cpus-per-task=1", f"--chdir={tmp_path}", f"--output={tmp_path}/job.out",
         f"--export=ALL,HPO_COMPSS_VENV={sys.prefix}", str(ROOT / "jobs" / "sbatch-dask.sh"),
         str(experiment(tmp_path, "runner", 8)), "--study-dir", str(study), "--dask-interface", "lo"],
        capture_output=True, text=True, check=True).stdout.strip().split(";")[0]
    deadline = time.monotonic() + 240
    while subprocess.run(["squeue", "-h", "-j", job], capture_output=True, text=True).stdout.strip():
        assert time.monotonic() < deadline, (tmp_path / "job.out").read_text()[-3000:]
        time.sleep(0.5)
    state = subprocess.run(["sacct", "-n", "-X", "-j", job, "-o", "State"], capture_output=True, text=True).stdout
    assert sorted(r["trial"] for r in trial_records(study, "complete")) == list(range(8)), (tmp_path / "job.out").read_text()[-3000:]
    assert journal(study)[0]["backend"] == "dask" and ("COMPLETED" in state or not state.strip())


@pytest.mark.parametrize("flags, key", [
    (("--scheduler-address", "tcp://127.0.0.1:1"), "--scheduler-address"),
    (("--scheduler-file", "/nonexistent/scheduler.json"), "--scheduler-file"),
    (("--dask-cluster", "slurm", "--dask-walltime", "soon"), "--dask-walltime"),
    (("--dask-workers", "0"), "--dask-workers")])
def test_a_dask_option_that_cannot_work_is_refused_in_one_line(tmp_path, flags, key):
    done = cli("run", str(experiment(tmp_path, "bad", 2)), "--study-dir", str(tmp_path / "study"), "--backend", "dask",
               *flags, timeout=120)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and done.stderr.startswith(f"error: {key}:"), done.stderr


def test_workers_as_slurm_jobs_need_sbatch_and_say_so_in_one_line(tmp_path):
    path = {**os.environ, "PATH": os.path.dirname(sys.executable)}  # this Python, no SLURM
    done = cli("run", str(experiment(tmp_path, "nosbatch", 2)), "--study-dir", str(tmp_path / "study"), "--backend",
               "dask", "--dask-cluster", "slurm", timeout=120, env=path)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("error: --dask-cluster: slurm submits worker jobs with sbatch, which is not on PATH")
