"""The GP and TPE searchers: the model, the acquisition, batches, branches, failures, determinism."""
import math
import sys
import time

import numpy as np
import pytest
from scipy.optimize import approx_fprime
from scipy.stats import norm

from hpo_compss.search import Background, Suggestion, make_searcher
from hpo_compss.search.acquisition import log_expected_improvement, log_expected_improvement_gradient, log_h
from hpo_compss.gaussian_process import GaussianProcess, transform_targets
from hpo_compss.space import space_from_json

BRANIN = {"x1": {"uniform": [-5, 10]}, "x2": {"uniform": [0, 15]}}
MIXED = {"lr": {"loguniform": [1e-5, 1e-1]}, "layers": {"integer": [1, 8]}, "units": {"log2_randint": [4, 10]},
         "activation": ["relu", "tanh", "gelu"], "dropout": {"linspace": [0, 0.5, 6]},
         "widths": {"repeat": {"randint": [1, 4]}, "n": 2}}
BRANCHES = {"model": {"exclusive": True, "good": {"x": {"uniform": [0, 1]}},
                      "bad": {"y": {"uniform": [0, 1]}, "z": ["a", "b"]}}}


def branin(config: dict) -> float:
    x1, x2 = config["x1"], config["x2"]
    return (x2 - 5.1 / (4 * math.pi**2) * x1**2 + 5 / math.pi * x1 - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1) + 10


def mixed_loss(config: dict) -> float:
    return (abs(math.log10(config["lr"]) + 3) + abs(config["layers"] - 3) + (config["activation"] != "tanh")
            + abs(config["dropout"] - 0.2) + abs(math.log2(config["units"]) - 6) + sum(config["widths"]) / 10)


def branch_loss(config: dict) -> float:
    model = config["model"]
    return (model["good"]["x"] - 0.5) ** 2 if "good" in model else 1.0 + model["bad"]["y"]


def optimise(name: str, space: dict, loss, budget: int, batch: int = 4, seed: int = 0, mode: str = "min",
             options: dict | None = None) -> list[tuple[dict, float]]:
    """Ask a batch, evaluate it, tell it, as the driver does with ``batch`` workers."""
    searcher = make_searcher({"name": name, **(options or {})}, space_from_json(space), seed, mode)
    history = []
    for start in range(0, budget, batch):
        asked = [(i, searcher.ask(i)) for i in range(start, min(start + batch, budget))]
        for i, suggestion in asked:
            value = loss(suggestion.config)
            searcher.tell(i, suggestion, value)
            history.append((suggestion.config, value))
    return history


# -- the Gaussian process ----------------------------------------------------------------------------
def test_gp_interpolates_its_data_and_is_uncertain_away_from_it():
    rng = np.random.default_rng(0)
    X = rng.random((25, 2)) * 0.5  # data in one corner only
    y = transform_targets(np.sin(6 * X[:, 0]) + np.cos(4 * X[:, 1]))
    model = GaussianProcess(2).fit(X, y)
    mean, variance = model.predict(X)
    assert np.max(np.abs(mean - y)) < 0.05 * np.ptp(y)
    assert np.max(variance) < 0.01 * model.signal
    far_mean, far_variance = model.predict(np.array([[0.95, 0.95], [1.0, 0.9]]))
    assert np.all(far_variance > 0.15 * model.signal) and far_variance.min() > 100 * np.max(variance)
    between = model.predict(np.array([[0.25, 0.25]]))[1][0]
    assert between < far_variance.min()


def test_gp_explains_unstructured_results_as_noise_not_as_tiny_length_scales():
    # a kernel with a length scale near 0 is white noise in disguise and leaves the search blind
    for seed in range(5):
        rng = np.random.default_rng(seed)
        X = rng.random((40, 5))
        model = GaussianProcess(5).fit(X, transform_targets(rng.normal(size=40)))
        assert model.scales.min() > 0.1
        assert model.noise > 0.01


def test_gp_gradients_match_finite_differences():
    rng = np.random.default_rng(1)
    X = rng.random((15, 3))
    model = GaussianProcess(3).fit(X, transform_targets((X**2).sum(1)))
    x = np.array([0.3, 0.6, 0.2])
    _, _, d_mean, d_variance = model.predict_with_gradient(x)
    assert d_mean == pytest.approx(approx_fprime(x, lambda z: model.predict_with_gradient(z)[0], 1e-7), rel=1e-4, abs=1e-6)
    assert d_variance == pytest.approx(approx_fprime(x, lambda z: model.predict_with_gradient(z)[1], 1e-7), rel=1e-4, abs=1e-6)
    theta = model.theta + 0.1
    value, gradient = model._objective(theta)
    numeric = approx_fprime(theta, lambda t: model._objective(t)[0], 1e-6)
    assert gradient == pytest.approx(numeric, rel=1e-3, abs=1e-3)


def test_noise_is_learnt_from_repeated_points():
    rng = np.random.default_rng(2)
    X = np.repeat(rng.random((10, 1)), 4, axis=0)
    y = np.sin(5 * X[:, 0]) + 0.3 * rng.standard_normal(len(X))
    model = GaussianProcess(1).fit(X, (y - y.mean()) / y.std())
    assert model.noise > 0.05  # the scatter at a repeated point is noise, not signal


def test_target_transform_keeps_the_order_and_tames_outliers():
    y = np.array([1.0, 2.0, 3.0, 4.0, 1e6])
    t = transform_targets(y)
    assert list(np.argsort(t)) == list(np.argsort(y))
    assert t[3] - t[0] > 0.1 * (t[4] - t[0])  # the small differences still count


# -- log expected improvement ----------------------------------------------------------------------
@pytest.mark.parametrize("z", [4.0, 1.0, 0.0, -0.99, -1.0, -3.0, -10.0, -30.0])
def test_log_h_matches_the_direct_formula(z):
    assert float(log_h(np.array(z))) == pytest.approx(math.log(norm.pdf(z) + z * norm.cdf(z)), rel=1e-9)


def test_log_ei_stays_finite_where_ei_underflows():
    values = log_expected_improvement(np.array([0.0, 50.0, 1e4]), np.array([1.0, 1.0, 1.0]), best=0.0)
    assert np.all(np.isfinite(values)) and values[0] > values[1] > values[2]


def test_log_ei_gradient():
    for mean, variance in [(0.3, 0.2), (3.0, 0.01), (-1.0, 2.0)]:
        _, d_mean, d_variance = log_expected_improvement_gradient(mean, variance, 0.0)
        f = lambda m, v: log_expected_improvement_gradient(m, v, 0.0)[0]  # noqa: E731
        assert d_mean == pytest.approx((f(mean + 1e-6, variance) - f(mean - 1e-6, variance)) / 2e-6, rel=1e-5)
        assert d_variance == pytest.approx((f(mean, variance + 1e-6) - f(mean, variance - 1e-6)) / 2e-6, rel=1e-5)


# -- the searchers ---------------------------------------------------------------------------------
def test_gp_finds_the_minimum_of_branin():
    history = optimise("gp", BRANIN, branin, 40)
    assert min(v for _, v in history) < 0.397887 + 0.05  # random search needs thousands of draws for this


def test_tpe_beats_random_search_on_a_mixed_space():
    seeds = range(3)
    tpe = [min(v for _, v in optimise("tpe", MIXED, mixed_loss, 60, seed=s)) for s in seeds]
    random = [min(v for _, v in optimise("random", MIXED, mixed_loss, 60, seed=s)) for s in seeds]
    assert np.median(tpe) < np.median(random)


@pytest.mark.parametrize("name", ["gp", "tpe"])
@pytest.mark.parametrize("space", [BRANIN, MIXED, BRANCHES], ids=["continuous", "mixed", "branches"])
def test_a_batch_of_suggestions_is_distinct_and_valid(name, space):
    searcher = make_searcher({"name": name, "initial": 4}, space_from_json(space), 3)
    loss = {id(BRANIN): branin, id(MIXED): mixed_loss, id(BRANCHES): branch_loss}[id(space)]
    for i in range(4):
        suggestion = searcher.ask(i)
        searcher.tell(i, suggestion, loss(suggestion.config))
    batch = [searcher.ask(i) for i in range(4, 12)]  # eight at once, none told yet
    configs = [repr(s.config) for s in batch]
    assert len(set(configs)) == len(configs)
    for suggestion in batch:
        encoding = searcher.by_name[suggestion.subspace].encoding
        x = encoding.encode(suggestion.config)  # raises if a value is outside its domain
        assert np.allclose(encoding.snap(x), x)


@pytest.mark.parametrize("name", ["gp", "tpe"])
def test_same_seed_and_order_of_results_give_the_same_suggestions(name):
    first = optimise(name, MIXED, mixed_loss, 24, seed=5)
    again = optimise(name, MIXED, mixed_loss, 24, seed=5)
    other = optimise(name, MIXED, mixed_loss, 24, seed=6)
    assert [c for c, _ in first] == [c for c, _ in again]
    assert [c for c, _ in first] != [c for c, _ in other]


@pytest.mark.parametrize("name", ["gp", "tpe"])
def test_the_better_branch_gets_most_of_the_budget(name):
    history = optimise(name, BRANCHES, branch_loss, 40, options={"initial": 6})
    later = [config for config, _ in history[12:]]
    assert sum("good" in c["model"] for c in later) >= 0.75 * len(later)


@pytest.mark.parametrize("name", ["gp", "tpe"])
def test_failures_count_as_the_worst_result(name):
    def fails_above_half(config):
        return None if config["x1"] > 2.5 else branin(config)

    searcher = make_searcher({"name": name, "initial": 8}, space_from_json(BRANIN), 0)
    values = []
    for start in range(0, 40, 4):
        asked = [(i, searcher.ask(i)) for i in range(start, start + 4)]
        for i, suggestion in asked:
            value = fails_above_half(suggestion.config)
            searcher.tell(i, suggestion, value)
            values.append(value)
    assert sum(v is None for v in values[20:]) <= 5  # half of the space fails: random search would fail 10 times


@pytest.mark.parametrize("name", ["gp", "tpe"])
def test_maximising(name):
    history = optimise(name, BRANIN, lambda c: -branin(c), 32, mode="max")
    assert max(v for _, v in history) > -1.5


def test_restore_marks_a_config_pending_without_asking():
    space = space_from_json(BRANIN)
    searcher = make_searcher({"name": "gp", "initial": 2}, space, 0)
    told = []
    for i in range(4):
        suggestion = searcher.ask(i)
        told.append((i, suggestion, branin(suggestion.config)))
        searcher.tell(*told[-1])
    running = searcher.ask(4)
    resumed = make_searcher({"name": "gp", "initial": 2}, space, 0)
    for record in told:  # as the driver replays the journal
        resumed.tell(*record)
    assert resumed.restore(4, running)
    unaware = make_searcher({"name": "gp", "initial": 2}, space, 0)
    for record in told:
        unaware.tell(*record)
    expected = searcher.ask(5).config
    # the resumed model is fitted once from cold, the original one warm at each ask: their optima agree
    # to about 1e-5, while a searcher unaware of trial 4 goes elsewhere entirely
    assert resumed.ask(5).config == pytest.approx(expected, rel=1e-4)  # it knew trial 4 was still running
    assert unaware.ask(5).config != pytest.approx(expected, rel=1e-2)


def test_background_keeps_the_order_of_requests_and_tells():
    space = space_from_json(BRANIN)
    inline = make_searcher({"name": "gp", "initial": 3}, space, 0)
    threaded = Background(make_searcher({"name": "gp", "initial": 3}, space, 0))
    threaded.start()
    try:
        for i in range(10):
            expected = inline.ask(i)
            threaded.request(i)
            got = threaded.take(i, wait=60)
            assert got == expected
            inline.tell(i, expected, branin(expected.config))
            threaded.tell(i, got, branin(got.config))
    finally:
        threaded.close()


def test_background_does_not_block_the_caller():
    class Slow:
        adaptive = True
        batch = 0

        def ask(self, config_id, budget=None, subspace=None):
            time.sleep(0.3)
            return config_id

    background = Background(Slow())
    background.start()
    try:
        background.request(0)
        started = time.monotonic()
        assert background.take(0) is None
        assert time.monotonic() - started < 0.1
        assert background.take(0, wait=0.05) is None
        assert background.take(0, wait=60) == 0
    finally:
        background.close()


# -- results at the limits, configs that cannot be built ----------------------------------------------
@pytest.mark.parametrize("extreme", [1e120, sys.float_info.max, -sys.float_info.max])
def test_an_extreme_result_does_not_squeeze_the_others_together(extreme):
    y = np.r_[np.random.default_rng(0).random(30), extreme]
    with np.errstate(all="raise"):
        t = transform_targets(y)
    assert np.all(np.isfinite(t))
    assert list(np.argsort(t, kind="stable")) == list(np.argsort(y, kind="stable"))
    assert np.subtract(*np.percentile(t[:30], [75, 25])) > 0.5  # the bulk keeps its spread


def test_many_penalties_at_the_float_limit_leave_the_model_informed():
    y = np.r_[np.full(10, sys.float_info.max), np.random.default_rng(1).random(30)]
    t = transform_targets(y)
    assert np.all(np.isfinite(t)) and np.std(t[10:]) > 0.2


def test_a_huge_penalty_in_one_corner_does_not_blind_the_gp():
    def penalised(config: dict) -> float:
        return 1e120 if config["x1"] > 9 and config["x2"] > 13 else branin(config)

    plain = min(v for _, v in optimise("gp", BRANIN, branin, 32, seed=2))
    with_penalty = min(v for _, v in optimise("gp", BRANIN, penalised, 32, seed=2))
    assert with_penalty < max(2 * plain, 0.5), (plain, with_penalty)


GAPPY = {"x": {"uniform": [-1, 1]}, "y": {"uniform": [0, 1]}, "r": {"dependent": "sqrt(x)"}}


def gappy_history(name: str) -> list[tuple[int, Suggestion, float | None]]:
    """Ask and tell as the driver does: a config that cannot be built is told as a failure."""
    from hpo_compss.errors import InvalidConfig

    searcher = make_searcher({"name": name, "initial": 6}, space_from_json(GAPPY), 0)
    history = []
    for i in range(20):
        try:
            suggestion = searcher.ask(i)
            value = (suggestion.config["x"] - 0.5) ** 2 + suggestion.config["y"]
        except InvalidConfig as invalid:
            suggestion, value = Suggestion(invalid.config, invalid.subspace), None
        searcher.tell(i, suggestion, value)
        history.append((i, suggestion, value))
    return history, searcher


@pytest.mark.parametrize("name", ["gp", "tpe"])
def test_configs_that_cannot_be_built_are_failures_to_the_model_before_and_after_a_resume(name):
    history, live = gappy_history(name)
    failed = [i for i, _, value in history if value is None]
    assert any(i < 6 for i in failed) and any(i >= 6 for i in failed)  # from the design and from the model
    assert sum(y is None for y in live.branches[0].y) == len(failed)
    resumed = make_searcher({"name": name, "initial": 6}, space_from_json(GAPPY), 0)
    for i, suggestion, value in history:  # the journal's order: restore, then the result
        resumed.restore(i, suggestion)
        resumed.tell(i, suggestion, value)
    assert np.allclose(resumed.branches[0].points(), live.branches[0].points(), atol=1e-9)
    assert resumed.branches[0].y == live.branches[0].y


@pytest.mark.parametrize("name", ["gp", "tpe"])
def test_exhaustive_values_that_print_alike_are_both_searched(name):
    space = {"x": {"exhaustive": [1, "1"]}, "y": {"uniform": [0, 1]}}
    history = optimise(name, space, lambda c: c["y"] + (0 if c["x"] == 1 and not isinstance(c["x"], str) else 1), 24)
    kinds = [type(config["x"]) for config, _ in history]
    assert {int, str} <= set(kinds[:6])  # the initial design draws from both sub-spaces
    assert kinds.count(int) > kinds.count(str)


@pytest.mark.parametrize("name, candidates", [("gp", 1_000_000), ("tpe", 100_000)])
def test_many_candidates_in_many_dimensions_stay_within_bounded_memory(name, candidates):
    import tracemalloc

    space = space_from_json({f"x{i}": {"uniform": [0, 1]} for i in range(500)})
    searcher = make_searcher({"name": name, "initial": 2, "candidates": candidates}, space, 0)
    for i in range(3):
        suggestion = searcher.ask(i)
        searcher.tell(i, suggestion, sum(suggestion.config.values()))
    tracemalloc.start()
    searcher.ask(3)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 400 * 2**20, f"{peak / 2**20:.0f} MB"


@pytest.mark.parametrize("domain", [{"loginteger": [1, 300]}, {"integer": [0, 20]}, {"log2_randint": [0, 9]}])
def test_tpe_densities_of_an_ordered_domain_sum_to_one_over_its_values(domain):
    from hpo_compss.search.model_based import Branch
    from hpo_compss.search.tpe import _Parzen

    branch = Branch(0, space_from_json({"k": domain}).subspaces[0])
    slot = branch.encoding.slots[0]
    everything = slot.domain.centres(np.arange(slot.size))[:, None]
    for points in (np.zeros((0, 1)), everything[[3, 7, 8]]):
        density = _Parzen(branch, points).log_density(everything)
        assert np.exp(density).sum() == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("name", ["gp", "tpe"])
def test_a_config_is_proposed_from_the_results_at_the_budget_it_first_runs_to(name):
    """Short runs favour x = 0.8, full runs x = 0.2: each budget's model sees its own results."""
    searcher = make_searcher({"name": name, "initial": 5}, space_from_json({"x": {"uniform": [0, 1]}}), 0)
    for i in range(12):
        suggestion = searcher.ask(i, 1)
        x = suggestion.config["x"]
        searcher.tell(i, suggestion, (x - 0.8) ** 2, 1)  # the value after one step
        searcher.tell(i, suggestion, (x - 0.2) ** 2, 27)  # the value after 27
    assert searcher.ask(12, 1).config["x"] > 0.6 and searcher.ask(13, 27).config["x"] < 0.4


def test_background_batches_hold_first_results_and_pass_later_budgets_at_once():
    told = []

    class Recorder:
        adaptive, batch = False, 2

        def tell(self, config_id, suggestion, value, budget=None):
            told.append((config_id, budget))

    background = Background(Recorder())
    background.tell(1, Suggestion({}), 0.5, 1)
    background.tell(1, Suggestion({}), 0.4, 3)
    assert told == []  # config 0 of the batch has no result yet
    background.tell(0, Suggestion({}), 0.7, 1)
    assert told == [(0, 1), (1, 1), (1, 3)]
    background.tell(0, Suggestion({}), 0.6, 3)  # its batch is told: it passes at once
    assert told[-1] == (0, 3)
