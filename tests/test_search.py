import pytest

from hpo_compss.errors import ConfigError
from hpo_compss.search import make_searcher, trial_seed
from hpo_compss.space import space_from_json

PAPER = {"optimizer": ["Adam", "SGD", "RMSprop"], "num_epochs": [20, 50, 100], "batch_size": [32, 64, 128]}
SVM = {"kernel": {"exclusive": True, "linear": {"C": {"log2_uniform": [-5, 15]}},
                  "rbf": {"C": {"log2_uniform": [-5, 15]}, "gamma": {"log10_uniform": [-4, 1]}}}}


def test_grid_enumerates_every_combination_once():
    searcher = make_searcher({"name": "grid"}, space_from_json(PAPER), 0)
    configs = [searcher.ask(i).config for i in range(searcher.size)]
    assert searcher.size == 27
    assert len({tuple(sorted(c.items())) for c in configs}) == 27
    assert configs[0] == {"optimizer": "Adam", "num_epochs": 20, "batch_size": 32}


def test_grid_spreads_continuous_domains_in_their_scale():
    searcher = make_searcher({"name": "grid", "points": 3}, space_from_json(SVM), 0)
    assert searcher.size == 3 + 9
    values = sorted({searcher.ask(i).config["kernel"]["linear"]["C"] for i in range(3)})
    assert values == pytest.approx([2 ** -5, 2 ** 5, 2 ** 15])


@pytest.mark.parametrize("name", ["random", "sobol"])
def test_configs_are_a_function_of_seed_and_id(name):
    space = space_from_json(SVM)
    first = make_searcher({"name": name}, space, 7)
    forward = [first.ask(i) for i in range(20)]
    second = make_searcher({"name": name}, space, 7)
    backward = [second.ask(i) for i in reversed(range(20))][::-1]
    assert forward == backward  # whatever order the ids are asked in
    other = make_searcher({"name": name}, space, 8)
    assert [other.ask(i) for i in range(20)] != forward
    assert {s.subspace for s in forward} == {"kernel=linear", "kernel=rbf"}


def test_sobol_fills_the_space_evenly():
    searcher = make_searcher({"name": "sobol"}, space_from_json({"x": {"uniform": [0, 1]}}), 0)
    xs = sorted(searcher.ask(i).config["x"] for i in range(64))
    assert all(sum(1 for x in xs if k / 8 <= x < (k + 1) / 8) == 8 for k in range(8))


def test_explicit_list():
    searcher = make_searcher({"name": "explicit", "configs": [{"a": 1}, {"a": 2}]}, None, 0)
    assert searcher.size == 2 and searcher.ask(1).config == {"a": 2}


def test_options_are_checked():
    space = space_from_json(PAPER)
    with pytest.raises(ConfigError, match=r"algorithm\.points"):
        make_searcher({"name": "grid", "points": 1}, space, 0)
    with pytest.raises(ConfigError, match="did you mean 'grid'"):
        make_searcher({"name": "gird"}, space, 0)
    with pytest.raises(ConfigError, match=r"algorithm\.colour: unknown option"):
        make_searcher({"name": "random", "colour": 1}, space, 0)


def test_trial_seeds_are_stable_and_distinct():
    seeds = [trial_seed(1, t) for t in range(1000)]
    assert len(set(seeds)) == 1000 and all(0 <= s < 2 ** 32 for s in seeds)
    assert trial_seed(1, 5) == trial_seed(1, 5) != trial_seed(2, 5)
