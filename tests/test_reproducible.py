"""Batches by config id: a GP or TPE study proposes the same configs whatever the number of workers
and the order in which trials end (``"algorithm": {..., "batch": q}``)."""
from __future__ import annotations

import random

import pytest

from hpo_compss.search import Background, make_searcher
from hpo_compss.space import space_from_json

from conftest import cli, journal, objective, write_experiment
from test_compss import runcompss, standin_env

SPACE = {"x": {"uniform": [-1, 1]}, "y": {"uniform": [-1, 1]}, "k": ["a", "b"]}


def bowl(config: dict) -> float:
    return (config["x"] - 0.3) ** 2 + (config["y"] + 0.1) ** 2 + (0.2 if config["k"] == "b" else 0.0)


def simulate(name: str, batch: int, workers: int, order_seed: int, configs: int = 24) -> list[dict]:
    """A driver with ``workers`` workers whose trials end in an order drawn from ``order_seed``."""
    background = Background(make_searcher({"name": name, "initial": 4, "batch": batch}, space_from_json(SPACE), 3))
    background.start()
    ending = random.Random(order_seed)
    proposed: list[dict] = []
    running: dict[int, object] = {}
    try:
        while len(proposed) < configs or running:
            while len(running) < workers and len(proposed) < configs:
                background.request(len(proposed))
                suggestion = background.take(len(proposed), wait=0.0 if running else 60.0)
                if suggestion is None:
                    break  # the searcher waits for its batch: let a trial end first
                running[len(proposed)] = suggestion
                proposed.append(suggestion.config)
            done = ending.choice(sorted(running))
            suggestion = running.pop(done)
            background.tell(done, suggestion, bowl(suggestion.config))
    finally:
        background.close()
    return proposed


@pytest.mark.parametrize("name, configs, runs", [("tpe", 24, [(1, 5), (3, 1), (4, 2), (4, 3), (8, 4)]),
                                                  ("gp", 12, [(4, 2)])])
def test_in_batches_the_configs_are_the_same_whatever_the_workers_and_the_order_trials_end(name, configs, runs):
    reference = simulate(name, 4, 1, 0, configs)
    for workers, order_seed in runs:
        assert simulate(name, 4, workers, order_seed, configs) == reference, (workers, order_seed)
    # as trials end, instead, the configs follow the order of the results
    assert simulate(name, 0, 1, 0, configs) != simulate(name, 0, 4, 2, configs)


def test_a_config_waits_for_the_batches_before_its_own():
    background = Background(make_searcher({"name": "tpe", "initial": 2, "batch": 2}, space_from_json(SPACE), 0))
    first = [background.take(i) for i in (0, 1) if background.request(i) is None]
    background.request(2)
    assert background.take(2) is None  # configs 0 and 1 have not ended
    background.tell(1, first[1], 0.5)
    assert background.take(2) is None  # config 0 still runs
    background.tell(0, first[0], 0.7)
    assert background.take(2) is not None
    background.request(3)
    assert background.take(3) is not None  # same batch as 2: asked while 2 runs


def configs_by_id(study) -> dict[int, dict]:
    return {r["config_id"]: r["config"] for r in journal(study) if r.get("status") == "complete"}


def test_a_study_in_batches_runs_the_same_configs_on_one_local_worker_and_four_compss_workers(tmp_path):
    experiment = write_experiment(tmp_path, {
        "name": "batches", "objective": objective("jittered_bowl"),
        "space": {"x": {"uniform": [-1, 1]}, "y": {"uniform": [-1, 1]}},
        "algorithm": {"name": "tpe", "initial": 4, "batch": 4}, "budget": {"trials": 16}})
    one = cli("run", str(experiment), "--study-dir", str(tmp_path / "one"), "--cpus", "1")
    assert one.returncode == 0, one.stderr
    assert "told results in batches of 4 configs" in one.stdout
    two = cli("run", str(experiment), "--study-dir", str(tmp_path / "two"), "--cpus", "2")
    assert two.returncode == 0, two.stderr
    four = runcompss(experiment, tmp_path / "four", standin_env(tmp_path, cpus=4))
    assert four.returncode == 0, four.stderr
    reference = configs_by_id(tmp_path / "one")
    assert len(reference) == 16
    assert configs_by_id(tmp_path / "two") == reference
    assert configs_by_id(tmp_path / "four") == reference


def test_a_tpe_study_in_batches_continued_later_proposes_what_an_uninterrupted_one_does(tmp_path):
    data = {"name": "batches", "objective": objective("jittered_bowl"),
            "space": {"x": {"uniform": [-1, 1]}, "y": {"uniform": [-1, 1]}},
            "algorithm": {"name": "tpe", "initial": 4, "batch": 4}, "budget": {"trials": 16}}
    whole = cli("run", str(write_experiment(tmp_path, data)), "--study-dir", str(tmp_path / "whole"))
    assert whole.returncode == 0, whole.stderr
    first = cli("run", str(write_experiment(tmp_path, {**data, "budget": {"trials": 10}}, "first.json")),
                "--study-dir", str(tmp_path / "parts"))
    assert first.returncode == 0, first.stderr
    rest = cli("resume", str(tmp_path / "parts"), "--trials", "16")
    assert rest.returncode == 0, rest.stderr
    assert configs_by_id(tmp_path / "parts") == configs_by_id(tmp_path / "whole")
