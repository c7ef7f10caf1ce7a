"""Generated experiments, valid and hostile: each one is an Experiment or one ConfigError, never anything else.

The strategies cover the space language (every domain keyword with hostile arguments, scopes, exclusive
scopes, repeat, exhaustive, dependent expressions from the expression grammar, bare lists, constants),
every top-level key, mutations of the files in configs/ and damaged bytes of them. An Experiment must
normalise to JSON without NaN and back to itself, and its searcher must propose plain JSON configs
(or InvalidConfig, which fails one trial). Some valid experiments run a real 2-trial study.
``benchmarks/fuzz.py`` runs the same properties on many more cases.
"""
from __future__ import annotations

import dataclasses
import io
import json
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from hpo_compss.errors import ConfigError, InvalidConfig
from hpo_compss.experiment import Experiment, load_experiment, parse_experiment
from hpo_compss.trial import ComputeClass
from hpo_compss.runtime.resources import detect_machine
from hpo_compss.search import Suggestion
from hpo_compss.space import Space
from hpo_compss.space.codec import DOMAIN_KEYWORDS
from hpo_compss.space.encoding import Encoding
from hpo_compss.space.expression import FUNCTIONS
from hpo_compss.study import run_study

from conftest import ROOT, objective

GRIEWANK = "hpo_compss.examples.griewank:griewank"
EXAMPLES = sorted((ROOT / "configs").glob("*.json"))
#: config ids asked of each valid experiment's searcher
ASKED = 3

# --- JSON values: plain ones, and hostile ones ----------------------------------------------------------

def pick(*options: st.SearchStrategy) -> st.SearchStrategy:
    """One of the strategies, each about as often (st.one_of favours the larger ones)."""
    return st.sampled_from(range(len(options))).flatmap(lambda index: options[index])


def mostly(valid: st.SearchStrategy, invalid: st.SearchStrategy, odds: int = 15) -> st.SearchStrategy:
    """``valid`` about ``odds`` times out of ``odds + 1``: most keys of an input are fine, so that the rest is tested too."""
    return st.sampled_from([True] * odds + [False]).flatmap(lambda fine: valid if fine else invalid)


EXTREMES = [0, -1, 2**53, 2**53 + 1, -(2**63), 2**1100, 10**308, 10**309, 10**400, 1e308, -1e308,
            1.7976931348623157e308, 5e-324, 1e-300, 1e300, 0.1, -0.0]
numbers = st.one_of(st.integers(-30, 30), st.integers(), st.floats(), st.sampled_from(EXTREMES))
scalars = st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=6))
plain_scalars = st.one_of(st.none(), st.booleans(), st.integers(-30, 30), st.floats(-1e6, 1e6), st.text(max_size=6))


def _json(leaf: st.SearchStrategy) -> st.SearchStrategy:
    return st.recursive(leaf, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
                        max_leaves=8)


def _nest(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


plain_json = _json(plain_scalars)
#: what JSON cannot hold (NaN, huge numbers, deep nesting) and what only Python can (tuples, sets, bytes, int keys)
hostile = pick(_json(scalars), _json(scalars), st.integers(60, 150).map(_nest),
               st.sampled_from([(1, 2), {1, 2}, b"bytes", complex(1, 2), {1: "one"}, {(): 1}]))


def hostile_or(valid: st.SearchStrategy) -> st.SearchStrategy:
    return mostly(valid, hostile)


# --- the space language -------------------------------------------------------------------------------

PARAMETERS = ["x", "y", "n", "w", "s", "a", "b", "opt", "lr"]
ODD_NAMES = ["", "a.b", "exclusive", "uniform", "repeat", "n", "é", "x y", "1", "int", "choise", "Exclusive", "repeats"]
names = mostly(st.sampled_from(PARAMETERS), st.sampled_from(ODD_NAMES))

small = st.one_of(st.integers(-10, 10), st.floats(-10, 10))
#: exponents of log domains: ordinary, so close to 0 that every value rounds to 1.0, near the limits of a double
exponents = st.one_of(small, st.floats(-1e-100, 1e-100), st.floats(-1100, 1100))
positive = st.one_of(st.floats(1e-6, 1e6), st.floats(1e-310, 1e-290), st.floats(0.999, 1.001))
#: bounds a hair apart, where rounding decides whether a draw lies in its own domain
narrow = st.tuples(small, st.sampled_from([1e-15, 1e-12, 1e-9, 1e-6, 1e-3])).map(lambda t: [t[0], t[0] + t[1]])


def ordered(elements: st.SearchStrategy, size: int) -> st.SearchStrategy:
    return st.lists(elements, min_size=size, max_size=size).map(sorted)


counts = st.integers(-1, 40)
integer_ranges = ordered(st.integers(-10, 10), 2) | st.tuples(ordered(st.integers(-10, 10), 2), counts).map(lambda t: t[0] + [t[1]])
#: log integers: small ones, ones that may reach 0, and ones about the highest bound
log_integers = ordered(st.integers(1, 3000) | st.integers(-2, 2) | st.integers(2**40 - 3, 2**40 + 3), 2)
PLAUSIBLE_ARGS = {
    "uniform": ordered(small, 2) | narrow, "ln_uniform": ordered(exponents, 2) | narrow,
    "log2_uniform": ordered(exponents, 2) | narrow, "log10_uniform": ordered(exponents, 2) | narrow,
    "loguniform": ordered(positive, 2) | narrow.map(lambda pair: [10.0 ** x for x in pair]), "randint": integer_ranges,
    "integer": integer_ranges, "log2_randint": ordered(st.integers(-5, 12), 2),
    "loginteger": log_integers | st.tuples(log_integers, counts).map(lambda t: t[0] + [t[1]]),
    "linspace": st.tuples(ordered(small, 2), counts).map(lambda t: t[0] + [t[1]]),
    "normal": st.tuples(small, st.floats(-1, 5)).map(list), "lognormal": st.tuples(small, st.floats(-1, 5)).map(list),
}
RANGES = sorted(PLAUSIBLE_ARGS)


def _domain(keyword: str, args: st.SearchStrategy) -> st.SearchStrategy:
    return args.map(lambda value: {keyword: value})


plausible_ranges = st.sampled_from(RANGES).flatmap(lambda k: _domain(k, PLAUSIBLE_ARGS[k]))
ranges = mostly(plausible_ranges, st.sampled_from(RANGES).flatmap(lambda k: _domain(k, st.lists(numbers, max_size=4) | hostile)))
choices = st.one_of(st.lists(hostile_or(plain_json), max_size=5), _domain("choice", hostile_or(st.lists(plain_json, max_size=5))))
constants = st.one_of(hostile_or(plain_scalars), _domain("constant", hostile_or(plain_json)))
exhaustives = _domain("exhaustive", hostile_or(st.lists(st.sampled_from([1, "1", '"1"', True, 1.0, "a", None, [1], [True]]), max_size=3)))

ATOMS = ["0", "1", "-1", "0.5", "1e308", "1e400", "10**1000", "2**4096", "'abc'", "''", "true", "pi", "e",
         "float('inf')", "float('nan')", "[1, 2]", "[]", "'%d'"]
atoms = st.one_of(st.sampled_from(PARAMETERS + ["s.x", "opt.lr", "nope", "a.b.c"]), st.sampled_from(ATOMS),
                  st.integers(-3, 10**6).map(str))
OPERATORS = ["+", "-", "*", "/", "//", "%", "**", "<", "<=", "==", "!=", "and", "or"]
expressions = st.recursive(atoms, lambda inner: st.one_of(
    st.tuples(inner, st.sampled_from(OPERATORS), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
    inner.map(lambda v: f"(-{v})"), inner.map(lambda v: f"(not {v})"),
    st.tuples(inner, inner, inner).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})"),
    st.tuples(st.sampled_from(sorted(FUNCTIONS) + ["open", "eval"]), st.lists(inner, max_size=3))
      .map(lambda t: f"{t[0]}({', '.join(t[1])})"),
    st.lists(inner, max_size=3).map(lambda items: f"[{', '.join(items)}]"),
), max_leaves=8)
dependents = _domain("dependent", mostly(expressions, st.text(max_size=12) | hostile))

single_domains = st.one_of(ranges, choices, _domain("constant", plain_scalars))
repeats = st.builds(lambda inner, n: {"repeat": inner, "n": n}, hostile_or(single_domains), mostly(st.integers(1, 6), numbers))
leaves = pick(ranges, ranges, ranges, choices, constants, exhaustives, repeats, dependents)


def _scope(children: st.SearchStrategy) -> st.SearchStrategy:
    return mostly(st.dictionaries(names, children, min_size=1, max_size=4), st.just({}))


def _exclusive(children: st.SearchStrategy) -> st.SearchStrategy:
    flags = mostly(st.just(True), st.sampled_from([False, "yes", 1]))
    return st.builds(lambda flag, branches: {"exclusive": flag, **branches}, flags, _scope(children))


nodes = st.recursive(leaves, lambda children: _scope(children) | _exclusive(children), max_leaves=10)
spaces = mostly(st.one_of(_scope(nodes), _exclusive(nodes)), hostile)

# --- top-level keys ---------------------------------------------------------------------------------

#: paths no file system takes: a NUL byte, a lone surrogate, an unknown user's home, a name too long
ODD_PATHS = ["a\x00b", "\ud800", "~no_such_user_xyz/x", "a" * 5000, "", "/"]
odd_paths = st.sampled_from(ODD_PATHS) | st.text(max_size=8)
# file objectives only under a folder that does not exist: a generated name must never run a real file
objectives = st.one_of(
    st.sampled_from(["hpo_compss.examples.griewank:nope", "no_such_module_xyz:f", "griewank", ":f",
                     "hpo_compss.examples.griewank:", 3, None]),
    odd_paths.map(lambda text: f"{text}.py:f"), odd_paths.map(lambda text: f"no_such_folder_xyz/{text}.py:f"))
INPUTS = ["README.md", "configs", "configs/griewank.json", str(ROOT / "setup.cfg")]
counters = mostly(st.integers(1, 12), st.integers(-2, 0) | numbers | hostile)
algorithm_names = mostly(st.sampled_from(["random", "grid", "sobol", "gp", "tpe"]),
                         st.sampled_from(["explicit", "bayes", "", "GRID"]) | hostile)
explicit = st.fixed_dictionaries({"name": st.just("explicit"), "configs": hostile_or(st.lists(
    st.dictionaries(names, hostile_or(plain_json), max_size=3), min_size=1, max_size=3))})
algorithms = st.one_of(algorithm_names, explicit, st.fixed_dictionaries({"name": algorithm_names}, optional={
    "points": counters, "scramble": hostile_or(st.booleans()), "initial": counters, "candidates": counters, "starts": counters}),
    st.fixed_dictionaries({"name": algorithm_names, "colour": hostile}))
classes = st.dictionaries(mostly(st.sampled_from(["cpu", "big"]), st.sampled_from(["", "a b"])), hostile_or(st.fixed_dictionaries({}, optional={
    "cpus": counters, "gpus": mostly(st.integers(0, 2), numbers), "memory_gb": mostly(st.floats(0.01, 100), numbers),
    "max_tasks": counters})), min_size=1, max_size=2)
TOP_LEVEL = {
    "name": mostly(st.sampled_from(["fuzz", "a.b-c_d", "x" * 100]), st.sampled_from(["", "a/b", "..", "x" * 101]) | hostile),
    "description": hostile_or(st.text(max_size=10)),
    "metric": hostile_or(st.sampled_from(["loss", "accuracy"])),
    "mode": mostly(st.sampled_from(["min", "max"]), st.just("MIN") | hostile),
    "algorithm": algorithms,
    "budget": hostile_or(st.fixed_dictionaries({}, optional={"trials": counters, "seconds": mostly(st.floats(1, 1e6), numbers)})),
    "seed": mostly(st.integers(0, 2**63 - 1), numbers | hostile),
    "repeats": counters,
    "compute_classes": hostile_or(classes),
    "retries": mostly(st.integers(0, 3), numbers),
    "timeout": mostly(st.floats(0.01, 100), numbers | hostile),
    "stop": hostile_or(st.fixed_dictionaries({}, optional={"target": mostly(st.floats(-1e6, 1e6), numbers), "patience": counters})),
    "fresh_process": hostile_or(st.booleans()),
    "inputs": hostile_or(mostly(st.lists(st.sampled_from(INPUTS), max_size=3, unique=True), st.lists(odd_paths, max_size=2))
                         | st.dictionaries(st.sampled_from(["train", "assets"]), mostly(st.sampled_from(INPUTS), odd_paths), max_size=2)),
}
experiments = mostly(
    st.fixed_dictionaries({"objective": mostly(st.just(GRIEWANK), objectives), "space": spaces}, optional=TOP_LEVEL),
    st.fixed_dictionaries({"objective": st.just(GRIEWANK)}, optional={**TOP_LEVEL, "space": spaces, "timeuot": hostile}))


def _mutate(draw: Callable, value: Any) -> Any:
    """``value`` with one node (found by walking down at random) replaced by a generated one, or deleted."""
    if isinstance(value, (dict, list)) and value and draw(st.integers(0, 3)):
        key = draw(st.sampled_from(list(value) if isinstance(value, dict) else range(len(value))))
        copy = dict(value) if isinstance(value, dict) else list(value)
        if draw(st.integers(0, 5)):
            copy[key] = _mutate(draw, copy[key])
        else:
            del copy[key]
        return copy
    return draw(st.one_of(leaves, plain_json, hostile))


@st.composite
def mutated_examples(draw: Callable) -> Any:
    data = json.loads(draw(st.sampled_from(EXAMPLES)).read_text())
    for _ in range(draw(st.integers(1, 3))):
        data = _mutate(draw, data)
    return data


BYTES = [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-0", b"[" * 3000, b"{\"a\":" * 100, b"\xff", b"\x00", b"\xc3",
         b"1" * 500, b"\"\\ud800\"", b"\xef\xbb\xbf"]


@st.composite
def damaged_files(draw: Callable) -> bytes:
    data = draw(st.sampled_from(EXAMPLES)).read_bytes()
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["replace", "insert", "delete", "truncate"]))
        if action == "truncate":
            data = data[:at]
        elif action == "delete":
            data = data[:at] + data[at + draw(st.integers(1, 30)):]
        else:
            piece = draw(st.binary(min_size=1, max_size=8) | st.sampled_from(BYTES))
            data = data[:at] + piece + data[at + (len(piece) if action == "replace" else 0):]
    return data


# --- the properties -----------------------------------------------------------------------------------

def check_experiment(experiment: Experiment) -> None:
    """A valid experiment normalises to strict JSON and back, and its searcher proposes plain JSON configs,
    which the model searchers' features can hold."""
    data = experiment.to_json()
    json.dumps(data, allow_nan=False)
    assert parse_experiment(data) == experiment
    searcher = experiment.searcher()
    for config_id in range(min(ASKED, experiment.trials)):
        try:
            suggestion = searcher.ask(config_id)
        except InvalidConfig as error:
            json.dumps(error.config, allow_nan=False)
            continue
        json.dumps(suggestion.config, allow_nan=False)
        if searcher.needs_space:  # a config drawn from the space, not one of an explicit list
            check_features(experiment.space, suggestion)
        searcher.tell(config_id, suggestion, float(config_id))


def check_features(space: Space, suggestion: Suggestion) -> None:
    sub = next(sub for sub in space.subspaces if sub.name == suggestion.subspace)
    try:
        encoding = Encoding(sub)
    except ConfigError:  # more features than gp and tpe take: no searcher that could take this space encodes it
        return
    encoding.encode(suggestion.config)


def outcome(read: Callable[[], Experiment]) -> str:
    """"valid" or "invalid": ``read`` returns an Experiment that passes check_experiment, or raises ConfigError."""
    try:
        experiment = read()
    except ConfigError:
        return "invalid"
    check_experiment(experiment)
    return "valid"


def from_data(data: Any) -> str:
    return outcome(lambda: parse_experiment(data, base_dir=ROOT))


def from_bare_space(case: tuple[Any, Any]) -> str:
    """A space alone, with the objective and seed given beside it (as ``run --objective --seed`` does)."""
    data, seed = case
    return outcome(lambda: parse_experiment(data, base_dir=ROOT, objective=GRIEWANK, seed=seed))


def from_bytes(data: bytes) -> str:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "experiment.json"
        path.write_bytes(data)
        return outcome(lambda: load_experiment(path))


def from_text(data: Any) -> str:
    """As from_data, through a file (which Python's json writes with NaN, Infinity and huge integers)."""
    return from_bytes(json.dumps(data, default=repr, skipkeys=True).encode())


#: name -> (strategy, property, examples in the test run)
PROPERTIES: dict[str, tuple[st.SearchStrategy, Callable[[Any], str], int]] = {
    "experiments": (experiments, from_data, 110),
    "experiment files": (experiments, from_text, 30),
    "bare spaces": (st.tuples(spaces, mostly(st.none(), numbers)), from_bare_space, 40),
    "mutated examples": (mutated_examples(), from_data, 50),
    "damaged example files": (damaged_files(), from_bytes, 50),
}
FUZZ = settings(deadline=None, database=None, suppress_health_check=list(HealthCheck))


def fuzz(name: str, examples: int, tally: Counter | None = None) -> Callable[[], None]:
    """The property ``name`` as a Hypothesis test of ``examples`` cases, counting outcomes into ``tally``."""
    strategy, check, _ = PROPERTIES[name]

    @settings(FUZZ, max_examples=examples)
    @given(strategy)
    def run(value: Any) -> None:
        result = check(value)
        if tally is not None:
            tally[result] += 1

    return run


def test_the_strategies_cover_every_domain_keyword():
    assert set(RANGES) | {"choice", "constant", "exhaustive", "dependent"} == set(DOMAIN_KEYWORDS)


@pytest.mark.parametrize("name", PROPERTIES)
def test_every_input_is_an_experiment_or_one_config_error(name):
    fuzz(name, PROPERTIES[name][2])()


# --- valid experiments run ------------------------------------------------------------------------------

valid_leaves = st.one_of(
    plausible_ranges, st.lists(plain_json, min_size=1, max_size=4), plain_scalars,
    _domain("exhaustive", st.lists(st.sampled_from([1, "1", True, "a", None, [1]]), min_size=1, max_size=3, unique_by=repr)),
    st.builds(lambda inner, n: {"repeat": inner, "n": n}, plausible_ranges, st.integers(1, 4)),
    _domain("dependent", expressions),
)
valid_spaces = _scope(st.recursive(valid_leaves, lambda children: _scope(children) | _exclusive(children), max_leaves=6))
runnable = st.fixed_dictionaries({"objective": st.just(objective("anything")), "space": valid_spaces,
                                  "algorithm": st.sampled_from(["random", "grid", "sobol", "gp", "tpe"]),
                                  "seed": st.integers(0, 2**63 - 1), "fresh_process": st.booleans()})


@settings(FUZZ, max_examples=10)
@given(runnable)
def test_valid_generated_experiments_run_a_two_trial_study(tmp_path_factory, data):
    try:
        experiment = parse_experiment(data)
    except ConfigError:
        assume(False)
    experiment = dataclasses.replace(experiment, trials=min(2, experiment.trials), compute_classes=[ComputeClass("cpu")],
                                     timeout=60)
    run_study(experiment, tmp_path_factory.mktemp("study"), detect_machine(cpus=1), out=io.StringIO())
