"""Model searchers inside real studies: the driver harvests while the model thinks, resume, the CLI."""
import io
import json
import time

import pytest

from hpo_compss.experiment import parse_experiment
from hpo_compss.runtime.resources import detect_machine
from hpo_compss.search import SEARCHERS
from hpo_compss.search.explicit import ExplicitSearch
from hpo_compss.study import run_study

from conftest import cli, journal, objective, trial_records, write_experiment

QUADRATIC = {"name": "quad", "objective": objective("quadratic"), "space": {"x": {"uniform": [0, 1]}},
             "budget": {"trials": 16}, "seed": 3}


class SlowSearch(ExplicitSearch):
    """An adaptive searcher that takes a second to propose each config from the third on."""

    name = "slow"
    adaptive = True

    def ask(self, config_id, budget=None, subspace=None):
        if config_id >= 2:
            time.sleep(1.0)
        return super().ask(config_id, budget)


def test_the_driver_harvests_while_the_searcher_thinks(tmp_path, monkeypatch):
    monkeypatch.setitem(SEARCHERS, "slow", SlowSearch)
    configs = [{"x": 0.1, "sleep": 0.0}, {"x": 0.2, "sleep": 0.3}, {"x": 0.3, "sleep": 0.0}]
    experiment = parse_experiment({"name": "slow", "objective": objective("quadratic"),
                                   "space": None, "algorithm": {"name": "slow", "configs": configs}, "budget": {"trials": 3}})
    run_study(experiment, tmp_path / "study", detect_machine(2), out=io.StringIO())
    order = [(r["trial"], r["status"]) for r in trial_records(tmp_path / "study")]
    # trial 1 ends while config 2 is being prepared, and is journaled before trial 2 starts
    assert order.index((1, "complete")) < order.index((2, "running"))
    assert [r["trial"] for r in trial_records(tmp_path / "study", "complete")] == [0, 1, 2]


@pytest.mark.parametrize("algorithm", ["gp", "tpe"])
def test_a_model_study_runs_from_the_command_line_on_two_workers(tmp_path, algorithm):
    path = write_experiment(tmp_path, {**QUADRATIC, "algorithm": {"name": algorithm, "initial": 4}})
    result = cli("run", str(path), "--study-dir", str(tmp_path / "study"), "--cpus", "2")
    assert result.returncode == 0, result.stderr
    complete = trial_records(tmp_path / "study", "complete")
    assert len(complete) == 16
    assert min(r["value"] for r in complete) < 1e-3  # (x - 0.3)^2: random search would reach about 4e-4


def test_a_killed_gp_study_resumes_without_asking_again(tmp_path):
    study = tmp_path / "study"
    path = write_experiment(tmp_path, {**QUADRATIC, "algorithm": {"name": "gp", "initial": 4}})
    assert cli("run", str(path), "--study-dir", str(study), "--cpus", "2").returncode == 0
    records = journal(study)
    last_complete = max(i for i, r in enumerate(records) if r.get("status") == "complete" and r["config_id"] == 10)
    kept = [r for r in records[:last_complete + 1] if r.get("study") != "stopped"]
    (study / "journal.jsonl").write_text("".join(json.dumps(r) + "\n" for r in kept))  # as if killed there
    resumed = cli("resume", str(study), "--cpus", "1")
    assert resumed.returncode == 0, resumed.stderr
    assert "proposes other configs" not in resumed.stdout
    complete = trial_records(study, "complete")
    assert sorted(r["trial"] for r in complete) == list(range(16))
    before = {r["trial"]: r["config"] for r in kept if r.get("status") == "complete"}
    assert all(r["config"] == before[r["trial"]] for r in complete if r["trial"] in before)


@pytest.mark.parametrize("algorithm", ["gp", "tpe"])
def test_a_branch_without_parameters_is_searched_like_any_other(tmp_path, algorithm):
    space = {"k": {"exclusive": True, "none": {}, "deep": {"x": {"uniform": [0, 1]}}}}
    experiment = parse_experiment({"name": "empty-branch", "objective": objective("anything"), "space": space,
                                   "algorithm": {"name": algorithm, "initial": 2}, "budget": {"trials": 8}})
    outcome = run_study(experiment, tmp_path / "study", detect_machine(1), out=io.StringIO())
    assert outcome.ledger.count("complete") == 8


def test_run_study_writes_to_the_standard_output_of_the_moment(tmp_path, capsys):
    experiment = parse_experiment({**QUADRATIC, "algorithm": "random", "budget": {"trials": 2}})
    run_study(experiment, tmp_path / "study", detect_machine(1))
    assert "starting study quad" in capsys.readouterr().out
