"""Where the model searchers put points: off the edges of the box unless the optimum is there, and batches spread."""
import itertools

import numpy as np
import pytest

from hpo_compss.search import make_searcher
from hpo_compss.search.model_based import PENDING_DISTANCE
from hpo_compss.space import space_from_json

from test_model_search import BRANIN, branin, optimise

INSIDE = {name: {"uniform": [0, 1]} for name in ("a", "b", "c")}


def bowl(config: dict) -> float:
    """Smooth, with its minimum well inside the box."""
    return (config["a"] - 0.3) ** 2 + (config["b"] - 0.6) ** 2 + 2 * (config["c"] - 0.45) ** 2


def on_a_bound(history: list[tuple[dict, float]]) -> float:
    """The share of evaluated configs with a value exactly on a bound of [0, 1]."""
    return float(np.mean([any(v in (0.0, 1.0) for v in config.values()) for config, _ in history]))


@pytest.mark.parametrize("name", ["gp", "tpe"])
def test_a_batch_asked_with_pending_points_is_spread(name):
    searcher = make_searcher({"name": name, "initial": 6}, space_from_json(BRANIN), 1)
    for i in range(24):  # a model sure of where the minima are wants its whole batch next to one of them
        suggestion = searcher.ask(i)
        searcher.tell(i, suggestion, branin(suggestion.config))
    encoding = searcher.branches[0].encoding
    batch = [encoding.encode(searcher.ask(i).config) for i in range(24, 32)]
    closest = min(np.linalg.norm(a - b) for a, b in itertools.combinations(batch, 2))
    assert closest >= PENDING_DISTANCE


def test_few_gp_evaluations_on_a_bound_when_the_optimum_is_inside():
    shares = [on_a_bound(optimise("gp", INSIDE, bowl, 40, seed=seed)) for seed in range(2)]
    assert max(shares) <= 0.05


def test_gp_reaches_an_optimum_on_a_bound():
    def slope(config: dict) -> float:  # the minimum is at a = 0, b = 0.4
        return config["a"] + (config["b"] - 0.4) ** 2

    for seed in range(2):
        history = optimise("gp", {"a": {"uniform": [0, 1]}, "b": {"uniform": [0, 1]}}, slope, 40, seed=seed)
        assert min(v for _, v in history) < 1e-3
