"""Whole studies: the command line, the journal, status, stop rules, kill -9 and resume."""
import io
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hpo_compss.experiment import parse_experiment
from hpo_compss.journal import Journal
from hpo_compss.runtime.resources import detect_machine
from hpo_compss.study import run_study

from conftest import ROOT, cli, journal, objective, trial_records, wait_for_no_processes, write_experiment

SLOW = {"name": "slow", "objective": objective("quadratic"), "space": {"x": {"uniform": [0, 1]}, "sleep": 0.08},
        "algorithm": "random", "budget": {"trials": 30}, "seed": 5, "retries": 1}


def run(data, study_dir, cpus=None, **overrides):
    out = io.StringIO()
    outcome = run_study(parse_experiment({**data, **overrides}), study_dir, detect_machine(cpus), out=out)
    return outcome, out.getvalue()


def latest(study):
    states = {}
    for record in trial_records(study):
        states[record["trial"]] = record
    return states


def completed_configs(study):
    records = trial_records(study, "complete")
    trials = [r["trial"] for r in records]
    assert len(trials) == len(set(trials)), "a trial completed twice"
    return {r["trial"]: r["config"] for r in records}


def test_svm_digits_end_to_end_and_status_agrees_with_the_journal(tmp_path):
    study = tmp_path / "svm"
    result = cli("run", "configs/svm_digits.json", "--study-dir", str(study))
    assert result.returncode == 0, result.stderr
    progress = [line for line in result.stdout.splitlines() if line.startswith("[")]
    assert len(progress) == 40 and progress[-1].startswith("[40/40]")
    assert "best loss" in result.stdout
    status = json.loads(cli("status", str(study), "--json").stdout)
    states = latest(study)
    complete = [r for r in states.values() if r["status"] == "complete"]
    assert status["n_trials"] == len(states) == 40
    assert status["n_complete"] == len(complete)
    assert status["n_failed"] == sum(1 for r in states.values() if r["status"] == "failed" and not r["retry"])
    assert status["n_running"] == 0 and status["driver_running"] is False
    best = min(complete, key=lambda r: r["value"])
    assert status["best"]["value"] == best["value"] and status["best"]["config"] == best["config"]
    assert status["best"]["trial"] == best["trial"]
    for record in complete:
        assert {"accuracy", "train_time", "test_time"} <= set(record["extras"])
        assert {"trial", "status", "config", "value", "attempt", "start", "end"} <= set(record)
    assert len(list((study / "source").glob("*/svm_digits.py"))) == 1
    text = cli("status", str(study)).stdout
    assert "40 of 40 trials: 40 complete" in text or "complete" in text


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The configs of an uninterrupted run, on two workers."""
    study = tmp_path_factory.mktemp("reference") / "study"
    run(SLOW, study, cpus=2)
    return completed_configs(study)


def start_driver(experiment_file: Path, study: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(ROOT / "main.py"), str(experiment_file), "--study-dir", str(study), *extra],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_until(study: Path, predicate, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if predicate(journal(study)):
                return
        except (FileNotFoundError, json.JSONDecodeError):
            pass
        time.sleep(0.01)
    raise AssertionError("the study did not get there in time")


def count(records, status):
    return sum(1 for r in records if r.get("status") == status)


@pytest.mark.parametrize("point", ["first trial sent", "a third done", "all but two done"])
def test_kill_9_then_resume_loses_nothing_and_repeats_nothing(tmp_path, reference, point):
    experiment_file = write_experiment(tmp_path, SLOW)
    study = tmp_path / "study"
    driver = start_driver(experiment_file, study, "--cpus", "2")
    when = {"first trial sent": lambda r: count(r, "running") >= 1,
            "a third done": lambda r: count(r, "complete") >= 10,
            "all but two done": lambda r: count(r, "complete") >= 28}[point]
    wait_until(study, when)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    assert wait_for_no_processes(study) == []  # the workers died with their driver
    before = completed_configs(study)
    resumed = cli("resume", str(study), "--cpus", "1")  # and on another number of workers
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming study slow" in resumed.stdout
    after = completed_configs(study)
    assert after == reference  # the same configs as the uninterrupted run, each completed once
    assert all(after[t] == config for t, config in before.items())
    assert json.loads(cli("status", str(study), "--json").stdout)["n_complete"] == 30


def test_sigterm_cancels_running_trials_and_resume_finishes(tmp_path, reference):
    experiment_file = write_experiment(tmp_path, SLOW)
    study = tmp_path / "study"
    driver = start_driver(experiment_file, study, "--cpus", "2")
    wait_until(study, lambda r: count(r, "complete") >= 5)
    driver.send_signal(signal.SIGTERM)
    _, err = driver.communicate(timeout=30)
    assert driver.returncode == 128 + signal.SIGTERM
    assert f"hpo-compss resume {study}" in err
    records = journal(study)
    assert records[-1]["study"] == "stopped" and records[-1]["final"] is False
    assert count(records, "cancelled") >= 1
    assert wait_for_no_processes(study) == []
    assert cli("resume", str(study)).returncode == 0
    assert completed_configs(study) == reference


def test_running_the_same_command_again_resumes_or_reports_finished(tmp_path):
    experiment_file = write_experiment(tmp_path, {**SLOW, "budget": {"trials": 4}})
    study = tmp_path / "study"
    assert cli("run", str(experiment_file), "--study-dir", str(study)).returncode == 0
    again = cli("run", str(experiment_file), "--study-dir", str(study))
    assert again.returncode == 0 and "is already finished (budget of trials used)" in again.stdout
    assert len(trial_records(study, "complete")) == 4
    changed = write_experiment(tmp_path, {**SLOW, "budget": {"trials": 4}, "seed": 6}, "changed.json")
    refused = cli("run", str(changed), "--study-dir", str(study))
    assert refused.returncode == 2 and "seed: differs from the study already in" in refused.stderr


def test_a_second_driver_on_the_same_study_is_refused(tmp_path):
    experiment_file = write_experiment(tmp_path, {**SLOW, "space": {"x": {"uniform": [0, 1]}, "sleep": 3.0}})  # outlives a slow CLI
    study = tmp_path / "study"
    driver = start_driver(experiment_file, study)
    try:
        wait_until(study, lambda r: count(r, "running") >= 1)
        second = cli("resume", str(study))
        assert second.returncode == 2 and "another driver is running the study" in second.stderr
        assert json.loads(cli("status", str(study), "--json").stdout)["driver_running"] is True
    finally:
        driver.kill()
        driver.wait()


def test_repeats_record_mean_and_spread(study_dir):
    data = {"name": "r", "objective": objective("noisy"), "space": {"x": [0.0, 10.0]}, "repeats": 3, "seed": 1}
    outcome, _ = run(data, study_dir, cpus=1)
    records = trial_records(study_dir, "complete")
    assert len(records) == 6 and sorted({r["repeat"] for r in records}) == [0, 1, 2]
    best = outcome.ledger.best_json()
    values = [r["value"] for r in records if r["config_id"] == best["config_id"]]
    assert best["config"] == {"x": 0.0} and best["n"] == 3
    assert best["value"] == pytest.approx(sum(values) / 3)
    assert best["std"] > 0 and len({r["seed"] for r in records}) == 6


def test_target_stops_the_study_and_resume_knows_it_is_over(study_dir):
    data = {**SLOW, "budget": {"trials": 200}, "stop": {"target": 0.01}}
    outcome, _ = run(data, study_dir, cpus=2)
    assert outcome.stop_reason.startswith("target 0.01 reached by trial")
    assert outcome.ledger.best.mean <= 0.01
    assert len(latest(study_dir)) < 200
    records = journal(study_dir)
    assert records[-1]["study"] == "stopped" and records[-1]["final"] is True
    again, out = run(data, study_dir, cpus=2)
    assert "already finished" in out and len(journal(study_dir)) == len(records)
    # a crash right after the deciding result, before the stop was journaled: resume finishes the record
    lines = (study_dir / "journal.jsonl").read_text().splitlines(keepends=True)
    (study_dir / "journal.jsonl").write_text("".join(lines[:-1]))
    again, out = run(data, study_dir, cpus=2)
    assert "already finished (target 0.01 reached by trial" in out
    repaired = journal(study_dir)
    assert repaired[-1]["study"] == "stopped" and repaired[-1]["final"] is True
    assert len(repaired) == len(records) and not [r for r in repaired[len(lines) - 1:] if "trial" in r]


def test_patience_stops_after_configs_without_improvement(study_dir):
    data = {**SLOW, "space": {"x": {"uniform": [0, 1]}}, "mode": "max", "budget": {"trials": 200}, "stop": {"patience": 5}}
    outcome, _ = run(data, study_dir, cpus=1)
    assert outcome.stop_reason == "no improvement in 5 configs (patience)"
    values = [r["value"] for r in trial_records(study_dir, "complete")]  # in the order results came in
    best, stale, fired = float("-inf"), 0, None
    for index, value in enumerate(values):  # the rule, replayed (mode max)
        best, stale = (value, 0) if value > best else (best, stale + 1)
        if stale == 5:
            fired = index
            break
    assert fired is not None
    # what finished in the same harvest as the deciding result is recorded too, nothing after it
    assert len(values) - fired - 1 <= 8 and len(values) < 200


def test_time_budget_cancels_and_resume_continues(study_dir):
    data = {**SLOW, "space": {"x": {"uniform": [0, 1]}, "sleep": 0.3}, "budget": {"trials": 12, "seconds": 0.8}}
    outcome, _ = run(data, study_dir, cpus=2)
    assert outcome.stop_reason == "time budget of 0.8 s used"
    assert outcome.ledger.count("complete") < 12 and outcome.ledger.count("cancelled") >= 1
    data["budget"] = {"trials": 12, "seconds": 60}  # a resumed job gets its own time; the file is the study's
    experiment = json.loads((study_dir / "experiment.json").read_text())
    experiment["budget"]["seconds"] = 60
    (study_dir / "experiment.json").write_text(json.dumps(experiment))
    resumed = cli("resume", str(study_dir))
    assert resumed.returncode == 0
    assert len(completed_configs(study_dir)) == 12


def test_bare_form_runs_with_the_objective_from_the_command_line(tmp_path):
    space = write_experiment(tmp_path, {"x": [0.1, 0.3, 0.5], "sleep": [0.0]}, "space.json")
    result = cli("run", str(space), "--objective", objective("quadratic"), "--study-dir", str(tmp_path / "s"))
    assert result.returncode == 0, result.stderr
    assert "3 complete" in result.stdout and 'best loss 0 (trial 1): {"x": 0.3, "sleep": 0.0}' in result.stdout


def test_journal_ignores_and_cuts_a_torn_last_line(tmp_path):
    path = tmp_path / "journal.jsonl"
    path.write_text('{"study": "started"}\n{"study": "stopped"}\n{"stu')
    log = Journal(path)
    assert log.read() == [{"study": "started"}, {"study": "stopped"}]
    log.append([{"study": "started", "n": 2}])
    log.close()
    assert path.read_text() == '{"study": "started"}\n{"study": "stopped"}\n{"study":"started","n":2}\n'


def test_a_finished_study_given_more_trials_goes_on_from_its_searchers_state(tmp_path):
    from hpo_compss.search import Suggestion, make_searcher
    from hpo_compss.space import space_from_json

    space = {"x": {"uniform": [0, 1]}, "y": {"loguniform": [1e-3, 1]}, "sleep": 0.26}  # no trial queued ahead
    data = {"name": "grow", "objective": objective("sleepy"), "space": space, "seed": 4,
            "algorithm": {"name": "tpe", "initial": 6}, "budget": {"trials": 40}}
    study = tmp_path / "study"
    first = cli("run", str(write_experiment(tmp_path, data)), "--study-dir", str(study), "--cpus", "1")
    assert first.returncode == 0, first.stderr
    before = trial_records(study)
    more = write_experiment(tmp_path, {**data, "budget": {"trials": 60}}, "more.json")
    extended = cli("run", str(more), "--study-dir", str(study), "--cpus", "1")
    assert extended.returncode == 0, extended.stderr
    assert "the study's budget is now 60 configs (it was 40 configs)" in extended.stdout
    records = trial_records(study)
    assert records[:len(before)] == before and len(completed_configs(study)) == 60
    # the journal in its order, fed to a new searcher, asks exactly the configs the study ran: the last 20
    # came from the state the first 40 left
    searcher = make_searcher(data["algorithm"], space_from_json(space), data["seed"])
    asked = set()
    for record in records:
        if record["config_id"] not in asked:
            asked.add(record["config_id"])
            assert searcher.ask(record["config_id"]).config == record["config"], record["config_id"]
        if record["status"] == "complete":
            searcher.tell(record["config_id"], Suggestion(record["config"]), record["value"])
    again = cli("resume", str(study), "--trials", "62", "--cpus", "1")
    assert again.returncode == 0, again.stderr
    assert len(completed_configs(study)) == 62
    assert json.loads(cli("status", str(study), "--json").stdout)["budget"] == 62
    budgets = [r["budget"]["trials"] for r in journal(study) if r.get("study") == "started"]
    assert budgets == [40, 60, 62]


def test_each_version_of_the_objective_that_ran_is_kept_and_named_by_its_trials(tmp_path):
    module = tmp_path / "model.py"
    module.write_text("def train(config):\n    return config['x']\n")
    data = {"name": "code", "objective": f"{module}:train", "space": {"x": {"uniform": [0, 1]}},
            "algorithm": "random", "budget": {"trials": 3}}
    study = tmp_path / "study"
    assert cli("run", str(write_experiment(tmp_path, data)), "--study-dir", str(study)).returncode == 0
    module.write_text("def train(config):\n    return 1 + config['x']  # fixed\n")
    resumed = cli("resume", str(study), "--trials", "5")
    assert resumed.returncode == 0, resumed.stderr
    versions = {path.parent.name: path.read_text() for path in (study / "source").glob("*/model.py")}
    assert sorted(versions.values()) == sorted(["def train(config):\n    return config['x']\n",
                                                "def train(config):\n    return 1 + config['x']  # fixed\n"])
    new = next(name for name, text in versions.items() if "fixed" in text)
    old = next(name for name in versions if name != new)
    assert f"the objective's code changed since the last run: source/{old} -> source/{new}" in resumed.stdout
    ran = {r["trial"]: r["source"] for r in trial_records(study, "complete")}
    assert ran == {0: old, 1: old, 2: old, 3: new, 4: new}
    assert all(r["value"] > 1 for r in trial_records(study, "complete") if r["source"] == new)
