"""``"algorithm": "auto"``: the searcher chosen as the README's rule says, and said at start-up."""
from __future__ import annotations

import numpy as np

from hpo_compss.search import Suggestion, make_searcher
from hpo_compss.search.auto import GP_CONFIGS
from hpo_compss.space import space_from_json

from conftest import cli, objective, write_experiment

FOUR = {f"x{i}": {"uniform": [0, 1]} for i in range(4)}


def chosen(space: dict, budget: int | None) -> list[tuple[int, str]]:
    searcher = make_searcher({"name": "auto"}, space_from_json(space), 0, budget=budget)
    return [(first, part.name) for first, part in searcher.plan]


def test_a_grid_that_fits_the_budget_is_searched_whole():
    space = {"a": [1, 2, 3], "b": {"randint": [0, 4]}, "c": ["x", "y"]}  # 3 * 4 * 2 = 24 configs
    assert chosen(space, 24) == [(0, "grid")]
    assert chosen(space, None) == [(0, "grid")]
    searcher = make_searcher({"name": "auto"}, space_from_json(space), 0, budget=30)
    assert searcher.size == 24 and not searcher.adaptive
    assert "grid: all 24 configs fit the budget" in searcher.describe()
    assert chosen(space, 23) == [(0, "gp")]  # part of a grid: a model chooses which part


def test_a_small_space_is_searched_by_a_gp_then_by_tpe_past_its_first_configs():
    assert chosen(FOUR, 100) == [(0, "gp")]
    assert chosen(FOUR, GP_CONFIGS) == [(0, "gp")]
    assert chosen(FOUR, 5000) == [(0, "gp"), (GP_CONFIGS, "tpe")]
    assert chosen(FOUR, None) == [(0, "gp"), (GP_CONFIGS, "tpe")]


def test_many_dimensions_or_branches_go_to_tpe_from_the_start():
    wide = {f"x{i}": {"uniform": [0, 1]} for i in range(20)}
    assert chosen(wide, 100) == [(0, "tpe")]
    assert "20 dimensions" in make_searcher({"name": "auto"}, space_from_json(wide), 0, budget=100).describe()
    branches = {"model": {"exclusive": True, **{f"m{i}": {"c": {"uniform": [0, 1]}} for i in range(10)}}}
    assert chosen(branches, 100) == [(0, "tpe")]
    few = {"model": {"exclusive": True, **{f"m{i}": {"c": {"uniform": [0, 1]}} for i in range(3)}}}
    assert chosen(few, 100) == [(0, "gp")]


def test_the_tpe_that_takes_over_knows_every_result_and_every_pending_config():
    space = space_from_json({"x": {"uniform": [-1, 1]}, "y": {"uniform": [-1, 1]}})
    auto = make_searcher({"name": "auto"}, space, 5, budget=1000)
    tpe = make_searcher({"name": "tpe"}, space, 5)
    rng = np.random.default_rng(0)
    for config_id in range(GP_CONFIGS + 2):
        config = {"x": float(rng.uniform(-1, 1)), "y": float(rng.uniform(-1, 1))}
        if config_id < GP_CONFIGS:  # results the GP's configs would have given
            for searcher in (auto, tpe):
                searcher.restore(config_id, Suggestion(config))
                searcher.tell(config_id, Suggestion(config), config["x"] ** 2 + config["y"] ** 2)
        else:  # pending when TPE takes over
            for searcher in (auto, tpe):
                searcher.restore(config_id, Suggestion(config))
    assert auto.ask(GP_CONFIGS + 2) == tpe.ask(GP_CONFIGS + 2)


def test_the_start_up_line_and_validate_say_what_auto_chose(tmp_path):
    experiment = write_experiment(tmp_path, {"name": "auto", "objective": objective("quadratic"),
                                             "space": {"x": {"uniform": [0, 1]}}, "algorithm": "auto",
                                             "budget": {"trials": 6}})
    validated = cli("validate", str(experiment))
    assert validated.returncode == 0 and "algorithm auto chose gp (1 dimension, 1 branch: few enough for a GP)" in validated.stdout
    done = cli("run", str(experiment), "--study-dir", str(tmp_path / "study"))
    assert done.returncode == 0, done.stderr
    assert "; algorithm auto chose gp (1 dimension, 1 branch: few enough for a GP)" in done.stdout.splitlines()[0]
