"""Every domain reaches the models through its own transform and comes back unchanged."""
import math
import random

import numpy as np
import pytest

from hpo_compss.search import make_searcher
from hpo_compss.space import space_from_json
from hpo_compss.space.encoding import Encoding

EVERY_DOMAIN = {  # parameter names are not domain keywords, or the object would read as a domain
    "u": {"uniform": [-2, 3]},
    "ln": {"ln_uniform": [-3, 2]}, "log2": {"log2_uniform": [-5, 15]}, "log10": {"log10_uniform": [-5, 8]},
    "logu": {"loguniform": [1e-5, 1e8]},
    "ri": {"randint": [1, 10, 2]}, "int": {"integer": [-3, 3]}, "l2ri": {"log2_randint": [-2, 6]},
    "lint": {"loginteger": [16, 1024]},
    "lin": {"linspace": [0, 1, 5]}, "norm": {"normal": [1, 2]}, "lognorm": {"lognormal": [0, 1]},
    "pick": {"choice": ["a", 1, True, None, [1, 2], {"k": 1}]}, "list": [32, 64, 128],
    "const": 7, "rep": {"repeat": {"loguniform": [1e-3, 1]}, "n": 3},
    "rep_pick": {"repeat": ["x", "y"], "n": 2},
    "branch": {"exclusive": True, "a": {"p": {"integer": [1, 3]}}, "b": {"q": {"uniform": [0, 1]}}},
    "derived": {"dependent": "u * 2"},
}


def same(a, b) -> bool:
    """Equal, floats to 1e-9 relative, and True kept apart from 1."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("sub_index", [0, 1])
def test_every_domain_round_trips(sub_index):
    sub = space_from_json(EVERY_DOMAIN).subspaces[sub_index]
    encoding = Encoding(sub)
    rng = random.Random(sub_index)
    for _ in range(300):
        config = sub.sample(rng)
        x = encoding.encode(config)
        assert x.shape == (encoding.width,) and np.all((0 <= x) & (x <= 1))
        assert same(encoding.decode(x), config)
        assert np.array_equal(encoding.snap(x), x)  # an encoded config is a valid point


def test_features_per_kind():
    encoding = Encoding(space_from_json(EVERY_DOMAIN).subspaces[0])
    kinds = {(slot.path[-1], slot.item): (slot.kind, slot.width) for slot in encoding.slots}
    assert kinds["log10", None] == ("continuous", 1)
    assert kinds["ri", None] == ("ordinal", 1)
    assert kinds["lint", None] == ("ordinal", 1)
    assert kinds["pick", None] == ("categorical", 6)  # one-hot: no order between the values
    assert kinds["rep", 2] == ("continuous", 1)  # a feature per draw
    assert ("const", None) not in kinds and ("derived", None) not in kinds


def test_log_domains_are_linear_in_log_space():
    encoding = Encoding(space_from_json({"lr": {"loguniform": [1e-5, 1e-1]}}).subspaces[0])
    assert encoding.encode({"lr": 1e-3})[0] == pytest.approx(0.5)


def test_ordinal_values_sit_at_their_cell_centres_and_snap_there():
    encoding = Encoding(space_from_json({"n": {"integer": [1, 4]}}).subspaces[0])
    assert [encoding.encode({"n": n})[0] for n in (1, 2, 3, 4)] == [0.125, 0.375, 0.625, 0.875]
    assert encoding.snap(np.array([0.3]))[0] == 0.375
    assert encoding.decode(np.array([0.3])) == {"n": 2}


def test_log_integers_are_ordinal_in_log_space():
    encoding = Encoding(space_from_json({"n": {"loginteger": [1, 1000]}}).subspaces[0])
    scale = lambda k: (math.log(k) - math.log(0.5)) / math.log(1000.5 / 0.5)
    for n in range(1, 1001):
        x = encoding.encode({"n": n})
        assert x[0] == pytest.approx(scale(n)) and encoding.decode(x) == {"n": n}
        assert np.array_equal(encoding.snap(x), x)
    assert encoding.decode(encoding.snap(np.array([scale(31.4)]))) == {"n": 31}
    assert [encoding.decode(y) for y in encoding.neighbours(encoding.encode({"n": 100}))] == [{"n": 99}, {"n": 101}]
    assert [encoding.decode(y) for y in encoding.neighbours(encoding.encode({"n": 1}))] == [{"n": 2}]
    X = encoding.from_unit(np.random.default_rng(0).random((4000, 1)))
    assert np.array_equal(encoding.snap(X), X)
    drawn = [encoding.decode(x)["n"] for x in X]
    assert np.median(drawn) == pytest.approx(math.sqrt(0.5 * 1000.5), rel=0.1)  # uniform on the log scale


@pytest.mark.parametrize("name", ["gp", "tpe", "grid", "sobol", "random"])
def test_every_searcher_proposes_log_integers(name):
    searcher = make_searcher({"name": name}, space_from_json({"units": {"loginteger": [1, 100_000]}}), seed=0)
    losses = []
    for config_id in range(min(20, searcher.size or 20)):
        suggestion = searcher.ask(config_id)
        units = suggestion.config["units"]
        assert isinstance(units, int) and 1 <= units <= 100_000
        losses.append(abs(math.log(units / 300)))
        searcher.tell(config_id, suggestion, losses[-1])
    if searcher.adaptive:  # the models learn on the log scale: they come within a factor of 2 of 300 in 20 configs
        assert min(losses) < math.log(2)


def test_unit_points_become_valid_features_and_neighbours_are_one_step_away():
    encoding = Encoding(space_from_json({"c": ["a", "b", "c"], "n": {"integer": [1, 4]}, "x": {"uniform": [0, 1]}})
                        .subspaces[0])
    X = encoding.from_unit(np.random.default_rng(0).random((50, 3)))
    assert np.array_equal(encoding.snap(X), X)
    x = encoding.encode({"c": "b", "n": 1, "x": 0.5})
    configs = [encoding.decode(y) for y in encoding.neighbours(x)]
    assert configs == [{"c": "a", "n": 1, "x": 0.5}, {"c": "c", "n": 1, "x": 0.5}, {"c": "b", "n": 2, "x": 0.5}]


def test_values_outside_the_domain_are_refused():
    encoding = Encoding(space_from_json({"n": {"randint": [0, 10, 2]}, "c": ["a", "b"]}).subspaces[0])
    for config in ({"n": 3, "c": "a"}, {"n": 2, "c": "z"}, {"n": True, "c": "a"}, {"c": "a"}):
        with pytest.raises(ValueError):
            encoding.encode(config)
