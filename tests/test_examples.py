"""The example studies the objective's README section shows: exclusive branches, and repeats."""
from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

from conftest import ROOT, cli, trial_records, write_experiment


def run_example(tmp_path: Path, name: str, trials: int) -> Path:
    data = json.loads((ROOT / "configs" / name).read_text())
    data["budget"]["trials"] = trials
    study = tmp_path / "study"
    done = cli("run", str(write_experiment(tmp_path, data)), "--study-dir", str(study))
    assert done.returncode == 0, done.stderr
    return study


def test_each_trial_of_the_exclusive_example_holds_one_optimizer_branch(tmp_path):
    complete = trial_records(run_example(tmp_path, "mlp_optimizers.json", 8), "complete")
    assert len(complete) == 8 and all(0 <= r["value"] < 1 for r in complete)
    for record in complete:
        (name, params), = record["config"]["opt"].items()
        assert set(params) == {"sgd": {"lr", "momentum"}, "adam": {"lr", "beta1"}}[name]
    assert {next(iter(r["config"]["opt"])) for r in complete} == {"sgd", "adam"}


def test_the_repeats_example_runs_each_config_with_three_seeds_and_its_value_is_their_mean(tmp_path):
    study = run_example(tmp_path, "mlp_repeats.json", 2)
    complete = trial_records(study, "complete")
    assert len(complete) == 6
    for config_id in (0, 1):
        repeats = [r for r in complete if r["config_id"] == config_id]
        assert sorted(r["repeat"] for r in repeats) == [0, 1, 2]
        assert len({json.dumps(r["config"]) for r in repeats}) == 1 and len({r["seed"] for r in repeats}) == 3
    best = json.loads(cli("status", str(study), "--json").stdout)["best"]
    values = [r["value"] for r in complete if r["config_id"] == best["config_id"]]
    assert best["n"] == 3 and best["value"] == pytest.approx(statistics.mean(values))


def test_the_asha_example_trains_the_best_configs_longer_from_their_checkpoints_and_reports_their_curves(tmp_path):
    study = run_example(tmp_path, "mlp_asha.json", 40)
    records = [json.loads(line) for line in (study / "journal.jsonl").read_text().splitlines()]
    steps: dict[int, list[float]] = {}
    for record in records:
        if "progress" in record:
            steps.setdefault(record["progress"], []).append(record["step"])
    # each trial trained its epochs once, in order, across its runs: promoted runs went on from the checkpoint
    assert all(trained == list(range(1, len(trained) + 1)) for trained in steps.values())
    reached = sorted(len(trained) for trained in steps.values())
    # most stopped at a rung below the top; the top holds the promoted and the hedges (started at 27 epochs
    # to sample the rungs), and all of them together trained under half the epochs of every config in full
    assert 1 <= reached.count(27) < 40 / 2 and reached.count(1) + reached.count(3) + reached.count(9) > 40 / 2
    assert sum(reached) < 40 * 27 / 2
    status = json.loads(cli("status", str(study), "--json").stdout)
    assert status["n_complete"] == reached.count(27) and status["n_paused"] == 40 - reached.count(27)
    assert cli("report", str(study)).returncode == 0
    summary = (study / "report" / "summary.md").read_text()
    assert "## Rungs" in summary and f"| 27 | 0 | {reached.count(27)} |" in summary and (study / "report" / "curves.png").stat().st_size
