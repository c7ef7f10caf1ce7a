import math
import random
import re
import time

import numpy as np
import pytest

from hpo_compss.errors import ConfigError
from hpo_compss.space import (build, choice, constant, dependent, exclusive, exhaustive, integer, linspace,
                              log2_randint, log10_uniform, loginteger, lognormal, loguniform, normal, randint, repeat,
                              space_from_json, uniform)
from hpo_compss.space.domains import NORMAL_999_WIDTH

SVM = {"kernel": {"exclusive": True,
                  "linear": {"C": {"log2_uniform": [-5, 15]}},
                  "rbf": {"C": {"log2_uniform": [-5, 15]}, "gamma": {"log10_uniform": [-4, 1]}}}}


def draws(space, n=400, seed=0):
    rng = random.Random(seed)
    return [space.subspaces[0].sample(rng) for _ in range(n)]


def test_log_domains_take_exponents_as_bounds():
    values = [d["lr"] for d in draws(build({"lr": log10_uniform(-5, 8)}))]
    assert 1e-5 <= min(values) and max(values) <= 1e8
    assert min(values) < 1e-3 and max(values) > 1e6  # spread over the whole exponent range
    values = [d["lr"] for d in draws(build({"lr": loguniform(1e-5, 1e8)}))]
    assert 1e-5 <= min(values) and max(values) <= 1e8 and min(values) < 1e-3


def test_randint_excludes_high_and_integer_includes_it():
    assert sorted({d["n"] for d in draws(build({"n": randint(0, 10, 3)}))}) == [0, 3, 6, 9]
    assert sorted({d["n"] for d in draws(build({"n": integer(0, 9, 3)}))}) == [0, 3, 6, 9]
    assert sorted({d["n"] for d in draws(build({"n": randint(1, 4)}))}) == [1, 2, 3]


def test_log2_randint_and_linspace_values():
    assert sorted({d["b"] for d in draws(build({"b": log2_randint(3, 7)}))}) == [8, 16, 32, 64]
    values = sorted({d["y"] for d in draws(build({"y": linspace(0, 1, 5)}), n=300)})
    assert values == [0.0, 0.25, 0.5, 0.75, 1.0]


def test_loginteger_draws_every_integer_log_uniformly():
    values = [d["n"] for d in draws(build({"n": loginteger(16, 1024)}), n=4000)]
    assert min(values) == 16 and max(values) == 1024 and all(isinstance(v, int) for v in values)
    assert sum(v < 128 for v in values) / len(values) == pytest.approx(0.5, abs=0.03)  # 128 is the geometric midpoint
    counts = [d["n"] for d in draws(build({"n": loginteger(1, 4)}), n=8000)]
    shares = [counts.count(k) / len(counts) for k in (1, 2, 3, 4)]  # k owns [k - 0.5, k + 0.5] on a log scale
    assert shares == pytest.approx([math.log((k + 0.5) / (k - 0.5)) / math.log(9) for k in (1, 2, 3, 4)], abs=0.02)


@pytest.mark.parametrize("data, expected", [
    ({"loginteger": [0, 10]}, "space.x.loginteger: expected 1 <= low"),
    ({"loginteger": [-5, 10]}, "space.x.loginteger: expected 1 <= low"),
    ({"loginteger": [10, 5]}, "space.x.loginteger: expected low <= high, got low=10 high=5"),
    ({"loginteger": [1.5, 4]}, "space.x.loginteger: expected an integer for low"),
    ({"loginteger": [1, 2**60]}, "space.x.loginteger: expected integers within ±2**53"),
    ({"loginteger": [1, 2**40 + 1]}, "space.x.loginteger: expected high <= 2**40"),
    ({"loginteger": [16, 1024, 16]}, "space.x.loginteger: expected [low, high] (a log scale takes no step)"),
    ({"integer": [16, 1024], "log": True}, 'space.x.log: unexpected key beside \'integer\' (for a log scale, write {"loginteger": [low, high]})'),
])
def test_loginteger_bounds_are_checked(data, expected):
    with pytest.raises(ConfigError) as raised:
        space_from_json({"x": data})
    assert str(raised.value).startswith(expected)


def test_loginteger_grid_is_spread_evenly_on_a_log_scale():
    assert loginteger(16, 1024).grid(5) == [16, 45, 128, 362, 1024]
    assert loginteger(1, 6).grid(5) == [1, 2, 3, 4, 6]  # distinct integers, though the low end is crowded
    assert loginteger(3, 5).grid(5) == [3, 4, 5]
    for low, high, points in ((1, 10, 9), (1, 2**40, 10_000), (100, 160, 50), (2**40 - 9, 2**40, 9)):
        grid = loginteger(low, high).grid(points)
        assert len(grid) == points and grid[0] == low and grid[-1] == high and grid == sorted(set(grid))


def test_loginteger_values_sit_at_their_log_positions_and_come_back():
    domain = loginteger(16, 1024)
    assert domain.to_unit(128) == pytest.approx((math.log(128) - math.log(15.5)) / math.log(1024.5 / 15.5))
    assert [domain.from_unit(u) for u in (0.0, np.nextafter(1.0, 0.0))] == [16, 1024]
    for low, high in ((1, 1), (1, 300), (2**40 - 300, 2**40), (1, 2**40)):
        domain = loginteger(low, high)
        rng = random.Random(low)
        for k in [low, high, *range(low, min(high, low + 300) + 1), *(rng.randint(low, high) for _ in range(300))]:
            assert domain.from_unit(domain.to_unit(k)) == k
        units = domain.centres(np.arange(min(domain.size, 300)))
        assert np.all(np.diff(units) > 0) and np.array_equal(domain.cells(units), np.arange(len(units)))


def test_domains_on_a_log_scale_say_so():
    on_log = [log10_uniform(-3, 1), loguniform(1e-3, 1), log2_randint(1, 5), loginteger(1, 8), lognormal(0, 1)]
    linear = [uniform(0, 1), integer(1, 8), randint(1, 8), linspace(0, 1, 3), normal(0, 1), choice([1, 10, 100])]
    assert [d.log_scale for d in on_log] == [True] * 5 and [d.log_scale for d in linear] == [False] * 6


def test_normal_and_lognormal():
    values = [d["v"] for d in draws(build({"v": normal(10, 2)}), n=2000)]
    assert abs(sum(values) / len(values) - 10) < 0.2
    logs = [math.log(d["v"]) for d in draws(build({"v": lognormal(1, 0.5)}), n=2000)]
    assert abs(sum(logs) / len(logs) - 1) < 0.05


def test_bounds_are_checked():
    with pytest.raises(ValueError, match="low < high"):
        uniform(5, 1)  # SHADHO silently turns this into [5, 9]
    with pytest.raises(ValueError, match="positive step"):
        randint(0, 10, 0)
    with pytest.raises(ValueError, match="non-empty"):
        choice([])


def test_shadho_complexity():
    assert uniform(0, 10).complexity() == pytest.approx(2 + 9.99)
    assert log10_uniform(-4, 1).complexity() == pytest.approx(2 + 0.999 * 5)
    assert normal(0, 2).complexity() == pytest.approx(2 + 2 * NORMAL_999_WIDTH)
    assert choice(["a", "b", "c", "d"]).complexity() == pytest.approx(1.75)
    assert loginteger(16, 1024).complexity() == pytest.approx(2 - 1 / 1009)
    assert constant(3).complexity() == 1
    assert repeat(choice([1, 2]), 3).complexity() == pytest.approx(1.5 ** 3)
    space = build({"a": uniform(0, 1), "b": choice([1, 2])})
    assert space.subspaces[0].complexity() == pytest.approx((2 + 0.999) * 1.5)


def test_exclusive_subtrees_hold_only_their_branch():
    space = space_from_json(SVM)
    assert [sub.name for sub in space.subspaces] == ["kernel=linear", "kernel=rbf"]
    rng = random.Random(1)
    linear = space.subspaces[0].sample(rng)
    rbf = space.subspaces[1].sample(rng)
    assert list(linear["kernel"]) == ["linear"] and set(linear["kernel"]["linear"]) == {"C"}
    assert list(rbf["kernel"]) == ["rbf"] and set(rbf["kernel"]["rbf"]) == {"C", "gamma"}
    assert space.subspaces[1].complexity() > space.subspaces[0].complexity()


def test_empty_branch_and_exhaustive():
    space = build({"model": exclusive(none={}, deep={"layers": randint(1, 4)}), "opt": exhaustive(["adam", "sgd"])})
    assert len(space.subspaces) == 4
    configs = [sub.sample(random.Random(0)) for sub in space.subspaces]
    assert {"model": {"none": {}}, "opt": "adam"} in configs
    assert {c["opt"] for c in configs} == {"adam", "sgd"}


def test_repeat_gives_independent_draws():
    config = draws(build({"w": repeat(uniform(0, 1), 4)}), n=1)[0]
    assert len(config["w"]) == 4 and len(set(config["w"])) == 4


def test_dependent_values_follow_lexical_scope_and_order():
    space = build({"lr": log10_uniform(-4, -1),
                   "schedule": {"warmup": dependent("lr / 10"), "final": dependent("warmup * 2 if lr > 0.001 else 0")},
                   "layers": randint(1, 5), "width": dependent("max(16, 64 // layers)")})
    for config in draws(space, n=50):
        assert config["schedule"]["warmup"] == pytest.approx(config["lr"] / 10)
        assert config["schedule"]["final"] == (config["schedule"]["warmup"] * 2 if config["lr"] > 0.001 else 0)
        assert config["width"] == max(16, 64 // config["layers"])


def test_dependent_errors_name_the_key():
    with pytest.raises(ConfigError, match=r"space\.b: unknown name 'nope'"):
        space_from_json({"a": {"uniform": [0, 1]}, "b": {"dependent": "nope + 1"}})
    with pytest.raises(ConfigError, match="dependency cycle"):
        space_from_json({"a": {"dependent": "b + 1"}, "b": {"dependent": "a + 1"}})
    with pytest.raises(ConfigError, match="reads itself"):
        space_from_json({"a": {"dependent": "a + 1"}})
    # a name that exists in another exclusive branch is not visible from this one
    with pytest.raises(ConfigError, match="unknown name 'gamma'"):
        space_from_json({"k": {"exclusive": True, "rbf": {"gamma": {"uniform": [0, 1]}},
                               "linear": {"g2": {"dependent": "gamma * 2"}}}})


def test_json_round_trip_and_python_builders_agree():
    data = {"kernel": SVM["kernel"], "n": {"randint": [1, 10, 3]}, "w": {"repeat": {"uniform": [0, 1]}, "n": 2},
            "opt": {"exhaustive": ["a", "b"]}, "d": {"dependent": "n * 2"}, "c": 5, "l": [1, 2], "y": {"linspace": [0, 1, 3]},
            "v": {"normal": [0, 1]}, "z": {"integer": [1, 3]}, "b": {"log2_randint": [1, 4]}, "q": {"loguniform": [0.1, 10]},
            "h": {"loginteger": [16, 1024]}}
    space = space_from_json(data)
    assert space_from_json(space.to_json()) == space
    assert build({"h": loginteger(16, 1024)}) == space_from_json({"h": {"loginteger": [16, 1024]}})
    python = build({"kernel": exclusive(linear={"C": log2_uniform_(-5, 15)},
                                        rbf={"C": log2_uniform_(-5, 15), "gamma": log10_uniform(-4, 1)})})
    assert python == space_from_json({"kernel": SVM["kernel"]})


def log2_uniform_(low, high):
    from hpo_compss.space import log2_uniform
    return log2_uniform(low, high)


def test_unit_decoding_covers_each_domain():
    for domain in (uniform(-1, 1), log10_uniform(-3, 3), randint(0, 7), choice(list("abc")), normal(0, 1), linspace(0, 1, 4),
                   loginteger(1, 3)):
        low, high = domain.from_unit(0.0), domain.from_unit(0.999999)
        assert low != high
    assert constant({"a": 1}).decode([]) == {"a": 1}


@pytest.mark.parametrize("data, expected", [
    ({"log10_uniform": [-4, 400]}, "exponents whose values lie within 1e-300 and 1e+300"),
    ({"log2_uniform": [-1100, 0]}, "exponents whose values lie within 1e-300 and 1e+300"),
    ({"loguniform": [5e-324, 1]}, "values within 1e-300 and 1e+300"),
    ({"ln_uniform": [3.2581955689184777e-133, 1.1432829530160164e-125]}, "values that differ by a factor of at least 1.001"),
    ({"loguniform": [1, 1.0005]}, "values that differ by a factor of at least 1.001"),
    ({"integer": [-1e308, 12]}, "integers within ±2**53"),
    ({"randint": [0, 2**60]}, "integers within ±2**53"),
    ({"log2_randint": [-10**6, 3]}, "exponents from -1074 to 1023"),
    ({"uniform": [-1e308, 1e308]}, "high - low to be a finite number"),
    ({"linspace": [-1e308, 1e308, 3]}, "high - low to be a finite number"),
    ({"normal": [1e308, 1e307]}, "mu ± 8 sigma"),
    ({"lognormal": [0, 100]}, "mu ± 8 sigma"),
])
def test_domains_whose_values_would_not_be_finite_doubles_are_refused(data, expected):
    with pytest.raises(ConfigError, match=re.escape(expected)):
        space_from_json({"x": data})


def test_every_value_of_an_accepted_extreme_domain_is_a_finite_double_that_encodes_back():
    for data in ({"log10_uniform": [-300, 300]}, {"loguniform": [1e-300, 1e300]}, {"log2_randint": [-1074, 1024]},
                 {"uniform": [-8e307, 8e307]}, {"normal": [0, 1e306]}, {"lognormal": [0, 86]},
                 {"integer": [-2**53, 2**53]}, {"loginteger": [1, 2**40]}, {"log10_uniform": [299.999, 300]}, {"ln_uniform": [-690, -689.999]},
                 {"uniform": [1e16, 1e16 + 4]}, {"uniform": [-1e-300, 1e300]}):
        domain = space_from_json({"x": data}).subspaces[0].leaves[("x",)]
        for u in (0.0, 1e-9, 0.3, 0.5, 0.7, 1 - 1e-12, np.nextafter(1.0, 0.0)):
            value = domain.from_unit(u)
            assert math.isfinite(value) and domain.from_unit(domain.to_unit(value)) == pytest.approx(value, rel=1e-9)


def test_complexity_of_a_long_repeat_is_a_number():
    assert repeat(uniform(0, 100), 10_000).complexity() == math.inf


def test_a_dependent_that_fails_for_some_draws_only_fails_those_trials():
    from hpo_compss.errors import InvalidConfig
    from hpo_compss.search import make_searcher

    space = space_from_json({"x": {"uniform": [0, 2]}, "y": {"dependent": "1e308 * 10 if x > 1 else x"}})
    searcher = make_searcher({"name": "random"}, space, seed=0)
    outcomes = []
    for config_id in range(40):
        try:
            config = searcher.ask(config_id).config
            assert config["y"] == config["x"] <= 1
            outcomes.append("ok")
        except InvalidConfig as error:
            assert error.path == ("space", "y") and "expected a finite number, got inf" in error.expected
            assert error.config["x"] > 1 and "y" not in error.config
            outcomes.append("invalid")
    assert {"ok", "invalid"} == set(outcomes)


def test_exhaustive_values_get_distinct_sub_space_names():
    names = [sub.name for sub in space_from_json({"x": {"exhaustive": [1, "1", True, 2.5, None, [1]]}}).subspaces]
    assert names == ["x=1", 'x="1"', "x=True", "x=2.5", "x=None", "x=[1]"]
    assert [sub.name for sub in space_from_json({"x": {"exhaustive": [[1], [True]]}}).subspaces] == ["x=[1]", "x=[True]"]


@pytest.mark.parametrize("values, expected", [
    ([1, 1], "space.x.exhaustive: 1 is listed twice"),
    ([1, 1.0], "space.x.exhaustive: 1.0 is listed twice"),
    ([{"a": [1, 2]}, {"a": [1, 2]}], "space.x.exhaustive: {'a': [1, 2]} is listed twice"),
    ([1, "1", '"1"'], "space: two sub-spaces are named 'x=\"1\"'"),
])
def test_exhaustive_values_that_would_share_a_sub_space_name_are_refused(values, expected):
    with pytest.raises(ConfigError) as raised:
        space_from_json({"x": {"exhaustive": values}})
    assert str(raised.value) == expected


def test_values_equal_but_for_booleans_are_different_values():
    assert choice([[1], [True]]).index([True]) == 1
    assert choice([{"a": 1}, {"a": True}]).index({"a": True}) == 1
    assert choice([1.0, True]).index(1) == 0 and choice([[1.0], [True]]).index([1]) == 0


@pytest.mark.parametrize("data", [
    {"a": {"exhaustive": list(range(10_000))}, "b": {"exhaustive": list(range(10_000))}},
    {"exclusive": True, "p": {"a": {"exhaustive": list(range(9_000))}}, "q": {"b": {"exhaustive": list(range(9_000))}}},
    {"a": {"exhaustive": list(range(20_000))}},
])
def test_too_many_sub_spaces_are_refused_before_they_are_built(data):
    start = time.perf_counter()
    with pytest.raises(ConfigError, match="more than 10000 exclusive sub-spaces"):
        space_from_json(data)
    assert time.perf_counter() - start < 5.0  # building the 10**8 product would take minutes


def test_a_space_without_parameters_is_refused():
    with pytest.raises(ConfigError, match="space: expected a non-empty object of parameters"):
        space_from_json({"exclusive": False})


@pytest.mark.parametrize("data, keyword", [
    ({"int": [1, 8]}, "integer"), ({"unifrom": [0, 1]}, "uniform"), ({"log10uniform": [-4, 1]}, "log10_uniform"),
    ({"log_uniform": [-5, -1]}, "loguniform"), ({"choise": ["a", "b"]}, "choice"), ({"randInt": [1, 10]}, "randint"),
    ({"depend": "2 * 3"}, "dependent"), ({"constnt": 3}, "constant"), ({"lin_space": [0, 1, 5]}, "linspace"),
    ({"Normal": [0, 1]}, "normal"), ({"exhaustve": [1, 2]}, "exhaustive"), ({"unifrom": [0, 1, 2]}, "uniform"),
    ({"repeats": {"uniform": [0, 1]}, "n": 3}, "repeat"), ({"Exclusive": True, "a": {}, "b": {}}, "exclusive"),
])
def test_a_misspelt_keyword_is_refused_with_the_keyword_it_misspells(data, keyword):
    key = next(iter(data))
    for space, path in (({"x": data}, "space.x"), ({"s": {"t": data, "u": 1}}, "space.s.t"), (data, "space")):
        with pytest.raises(ConfigError) as raised:
            space_from_json(space)
        assert str(raised.value).startswith(f"{path}.{key}: unknown keyword (did you mean '{keyword}'?)")


@pytest.mark.parametrize("data", [
    {"int": {"choice": [1, 2]}},  # a parameter named like a keyword, given a domain object
    {"normalize": [True, False]},  # close to 'normal', but not the numbers normal takes
    {"iters": [10, 100]}, {"units": [16, 32]}, {"rate": {"uniform": [0, 1]}, "n": 3},  # close to no keyword
    {"repeats": {"uniform": [0, 1]}, "n": {"constant": 3}}, {"inclusive": True, "a": [1, 2]},
])
def test_a_name_near_a_keyword_is_a_parameter_when_its_value_is_not_what_the_keyword_takes(data):
    space = space_from_json({"s": data})
    assert list(space.subspaces[0].sample(random.Random(0))["s"]) == list(data)
    assert space_from_json(space.to_json()) == space


def test_python_scopes_with_names_like_keywords_read_back_from_their_json():
    space = build({"s": {"int": [1, 2]}, "t": {"exclusiv": True, "a": 1}})
    assert space_from_json(space.to_json()) == space
