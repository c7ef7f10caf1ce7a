"""Every malformed experiment file is refused before any trial runs: one line, the key path, exit code 2."""
import json
import time
from pathlib import Path

import pytest

from hpo_compss.cli import main
from hpo_compss.errors import ConfigError
from hpo_compss.experiment import load_experiment, parse_experiment
from hpo_compss.space.codec import DOMAIN_KEYWORDS

from conftest import ROOT, cli

BAD = Path(__file__).parent / "bad_experiments"

EXPECTED = {
    "scheduler_unknown": "scheduler.name: unknown scheduler 'ashaa' (did you mean 'asha'?)",
    "scheduler_not_object": "scheduler: expected a name or an object with \"name\", got 3",
    "scheduler_option_misspelt": "scheduler.etta: unknown option of the asha scheduler (did you mean 'eta'?)",
    "scheduler_eta_too_small": "scheduler.eta: expected an integer from 2 to 1000, got 1",
    "scheduler_max_paused_zero": "scheduler.max_paused: expected an integer from 1 to 1000000000, got 0",
    "scheduler_max_missing": "scheduler.max: missing: the budget (in epochs) every trial runs up to",
    "scheduler_max_below_min": "scheduler.max: expected a number from 3 to",
    "scheduler_type_unknown": "scheduler.type: expected \"stopping\"",
    "scheduler_hedges_negative": "scheduler.hedges: expected an integer from 0 to 1000, got -1",
    "scheduler_median_min_not_number": "scheduler.min: expected a number, got '1'",
    "scheduler_with_repeats": "repeats: expected 1 with the median scheduler",
    "absurd_repeat": "space.w.n: expected 1 <= n <= 10000",
    "absurd_trials": "budget.trials: expected an integer from 1 to 10000000",
    "algorithm_name_not_a_string": "algorithm.name: unknown algorithm {'a': 1}",
    "algorithm_option_misspelt": "algorithm.inital: unknown option for the 'gp' algorithm (did you mean 'initial'?)",
    "bad_mode": 'mode: expected "min" or "max"',
    "bare_space_without_objective": "objective: missing",
    "budget_not_object": "budget: expected an object",
    "budget_key_misspelt": "budget.trails: unknown key (did you mean 'trials'?)",
    "compute_classes_empty": "compute_classes: expected an object of classes",
    "compute_class_key_misspelt": "compute_classes.cpu.cpu: unknown key (did you mean 'cpus'?)",
    "dependency_cycle": "space.a: dependency cycle: a -> b -> a",
    "dependent_always_infinite": "space.y: cannot be computed for any of 6 test draws: cannot compute '1e308 * 10': expected a finite number, got inf",
    "dependent_never_computable": "space.s.y: cannot be computed for any of 6 test draws: cannot compute 'log(x - 2)': math domain error",
    "dependent_not_finite": "space.y.dependent: number 1e400 is not a finite double",
    "empty_choice": "space.x.choice: expected a non-empty list",
    "empty_file": "not valid JSON",
    "empty_list": "space.x: expected a non-empty list",
    "exclusive_not_bool": "space.k.exclusive: expected true or false",
    "exclusive_without_branches": "space.k: an exclusive scope needs at least one branch",
    "exhaustive_value_twice": "space.x.exhaustive: 1.0 is listed twice",
    "experiment_without_space": "space: missing",
    "explicit_config_not_finite": "algorithm.configs[1].x: expected a finite number, got nan",
    "explicit_without_configs": "algorithm.configs: expected a non-empty list",
    "expression_not_allowed": "space.y.dependent: unknown function",
    "grid_larger_than_the_trial_limit": "budget.trials: missing: the grid search has 100000000 configs, more than the 10000000 trials a study may run",
    "grid_points_too_few": "algorithm.points: expected a value in [2, 10000]",
    "grid_too_large": "space: the grid has 1e+13 points, more than 1e+12",
    "input_missing": "inputs.train: no such file or folder",
    "inputs_not_paths": "inputs.train: expected a path, got 3",
    "integer_beyond_a_double": "space.x.loguniform[1]: expected a finite number",
    "integer_range_too_wide": "space.x.integer: expected integers within ±2**53",
    "key_beside_domain": "space.x.step: unexpected key beside 'uniform'",
    "log_flag_beside_domain": "space.lr.lgo: unexpected key beside 'uniform' (for a log scale, write {\"loguniform\": [low, high]})",
    "log_bound_overflows": "space.x.log10_uniform: expected exponents whose values lie within 1e-300 and 1e+300",
    "loguniform_not_positive": "space.x.loguniform: expected 0 < low < high",
    "misspelt_choice": "space.optimizer.choise: unknown keyword (did you mean 'choice'?); for a parameter named 'choise', write {\"choise\": {\"choice\": ...}}",
    "misspelt_dependent": "space.b.depend: unknown keyword (did you mean 'dependent'?)",
    "misspelt_domain": "space.x.log_uniform: unknown keyword (did you mean 'loguniform'?)",
    "misspelt_exclusive": "space.kernel.exclusiv: unknown keyword (did you mean 'exclusive'?); for a parameter named 'exclusiv', write {\"exclusiv\": {\"constant\": ...}}",
    "misspelt_integer": "space.layers.int: unknown keyword (did you mean 'integer'?)",
    "misspelt_nested_domain": "space.kernel.rbf.gamma.log10uniform: unknown keyword (did you mean 'log10_uniform'?)",
    "misspelt_randint": "space.batch.randInt: unknown keyword (did you mean 'randint'?)",
    "misspelt_repeat": "space.w.repaet: unknown keyword (did you mean 'repeat'?); for a parameter named 'n', write {\"n\": {\"constant\": ...}}",
    "name_with_slash": "name: expected letters",
    "negative_gpus": "compute_classes.gpu.gpus: expected an integer from 0",
    "negative_sigma": "space.x.normal: expected sigma > 0",
    "negative_timeout": "timeout: expected a number from",
    "nested_beyond_the_parser": "nested more than 64 levels deep",
    "nested_too_deep": "space.x.choice[0].a.a.a.a",
    "non_finite_number": "space.x.choice[1]: expected a finite number, got inf",
    "not_json": "not valid JSON: Expecting ',' delimiter at line 2",
    "not_utf8": "not UTF-8 text",
    "objective_missing_function": "objective: 'hpo_compss.examples.griewank' has no function 'nope'",
    "objective_not_a_spec": 'objective: expected "module.path:function"',
    "objective_not_importable": "objective: cannot import 'no_such_module_xyz': ModuleNotFoundError",
    "repeat_count_misspelt": "space.w.N: unexpected key beside 'repeat' (did you mean 'n'?)",
    "stop_unknown_key": "stop.traget: unknown key (did you mean 'target'?)",
    "too_many_dimensions": "space: the space has 12000 dimensions, more than 10000",
    "too_many_features": "space: gp and tpe would see 20000 features in the space, more than 10000",
    "top_level_array": "expected a JSON object, got list",
    "trials_not_integer": "budget.trials: expected an integer, got 'ten'",
    "uniform_low_above_high": "space.x.uniform: expected low < high, got low=5 high=1",
    "uniform_wrong_arity": "space.x.uniform: expected [low, high]",
    "unknown_algorithm": "algorithm.name: unknown algorithm 'bayes'",
    "unknown_algorithm_option": "algorithm.colour: unknown option",
    "unknown_key": "timeuot: unknown key (did you mean 'timeout'?)",
    "unknown_name": "space.z: unknown name 'y'",
    "zero_repeats": "repeats: expected an integer from 1 to 1000",
    "zero_step": "space.n.randint: expected a positive step",
}


def test_every_bad_file_has_an_expectation():
    assert sorted(p.stem for p in BAD.glob("*.json")) == sorted(EXPECTED)
    assert len(EXPECTED) >= 20


@pytest.mark.parametrize("name", sorted(EXPECTED))
@pytest.mark.parametrize("command", ["validate", "run"])
def test_bad_file_gives_one_line_with_the_key_path(name, command, capsys, tmp_path):
    path = BAD / f"{name}.json"
    args = [command, str(path)] + (["--study-dir", str(tmp_path / "s")] if command == "run" else [])
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.startswith(f"error: {path}: ")
    assert EXPECTED[name] in err
    assert "Traceback" not in err
    assert not (tmp_path / "s").exists()  # refused before anything was created


def nested(levels: int) -> dict:
    value: object = 1
    for _ in range(levels):
        value = {"a": value}
    return value


@pytest.mark.parametrize("space, algorithm, expected", [
    ({"x": {"log10_uniform": [-4, 400]}}, None, "space.x.log10_uniform: expected exponents whose values"),
    ({"x": {"loguniform": [1, 10**400]}}, None, "space.x.loguniform[1]: expected a finite number"),
    ({"x": {"integer": [-1e308, 12]}}, None, "space.x.integer: expected integers within"),
    ({"x": [1, 2]}, {"name": {"a": 1}}, "algorithm.name: unknown algorithm {'a': 1}"),
    ({"x": {"choice": [nested(5000)]}}, None, "space.x.choice[0].a.a.a"),
    ({"x": [1, (2, 3)]}, None, "space.x[1]: expected a JSON value, got tuple"),
    ({"x": {1: 2}}, None, "space.x: expected string keys, got 1"),
])
def test_the_python_api_refuses_what_a_json_file_cannot_hold(space, algorithm, expected):
    data = {"objective": "hpo_compss.examples.griewank:griewank", "space": space}
    if algorithm is not None:
        data["algorithm"] = algorithm
    with pytest.raises(ConfigError) as raised:
        parse_experiment(data)
    assert str(raised.value).startswith(expected)


@pytest.mark.parametrize("key, value", [
    ("inputs", {"train": "a\x00b"}), ("inputs", {"train": "\ud800"}), ("inputs", ["~no_such_user_xyz/data"]),
    ("inputs", ["a" * 5000]), ("objective", "\ud800.py:f"), ("objective", "a\x00.py:f"), ("objective", "a/\x00b:f"),
    ("objective", "~no_such_user_xyz/x.py:f"), ("objective", "a" * 5000 + ".py:f"),
])
def test_paths_no_file_system_can_name_are_refused(key, value):
    data = {"objective": "hpo_compss.examples.griewank:griewank", "space": {"x": [1]}, key: value}
    with pytest.raises(ConfigError, match=f"^{key}"):
        parse_experiment(data)


@pytest.mark.parametrize("seed", [-1, 2**63, 1.5, "1"])
def test_a_seed_given_beside_the_file_is_checked_as_the_file_s_is(seed):
    data = {"objective": "hpo_compss.examples.griewank:griewank", "space": {"x": {"uniform": [0, 1]}}, "algorithm": "sobol"}
    with pytest.raises(ConfigError, match="^seed: expected an integer"):
        parse_experiment(data, seed=seed)


def test_a_large_grid_costs_nothing_to_set_up():
    start = time.perf_counter()
    experiment = parse_experiment({"objective": "hpo_compss.examples.griewank:griewank", "budget": {"trials": 10},
                                   "space": {"w": {"repeat": {"choice": list(range(10))}, "n": 11}, "x": [1, 2]},
                                   "algorithm": "grid"})
    searcher = experiment.searcher()
    assert searcher.size == 2 * 10**11
    assert searcher.ask(0).config == {"w": [0] * 11, "x": 1}
    assert searcher.ask(2 * 10**11 - 1).config == {"w": [9] * 11, "x": 2}
    assert searcher.ask(2 * 123456789 + 1).config == {"w": [0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9], "x": 2}
    assert time.perf_counter() - start < 1.0


def test_real_command_lines_exit_2(tmp_path):
    for args in (["validate", str(BAD / "unknown_key.json")], ["run", str(BAD / "zero_step.json")]):
        result = cli(*args, cwd=tmp_path)
        assert result.returncode == 2 and result.stdout == ""
        assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
    import subprocess
    import sys
    script = subprocess.run([sys.executable, str(ROOT / "main.py"), str(BAD / "empty_choice.json")], cwd=tmp_path,
                            capture_output=True, text=True)
    assert script.returncode == 2 and "space.x.choice" in script.stderr


def test_bare_paper_form_is_a_27_trial_grid(tmp_path):
    path = tmp_path / "space.json"
    path.write_text(json.dumps({"optimizer": ["Adam", "SGD", "RMSprop"], "num_epochs": [20, 50, 100],
                                "batch_size": [32, 64, 128]}))
    experiment = load_experiment(path, objective="hpo_compss.examples.sincos:sin_cos")
    assert experiment.algorithm == {"name": "grid"} and experiment.trials == 27
    assert experiment.name == "space" and experiment.metric == "loss" and experiment.mode == "min"


def test_bare_continuous_space_is_random_with_default_budget(tmp_path):
    path = tmp_path / "space.json"
    path.write_text(json.dumps({"x": {"uniform": [0, 1]}}))
    experiment = load_experiment(path, objective="hpo_compss.examples.sincos:sin_cos")
    assert experiment.algorithm == {"name": "random"} and experiment.trials == 100


def test_example_configs_validate_against_the_schema_and_the_parser():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((ROOT / "hpo_compss" / "experiment.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    configs = sorted((ROOT / "configs").glob("*.json"))
    assert len(configs) >= 4
    for path in configs:
        jsonschema.validate(json.loads(path.read_text()), schema)
        load_experiment(path)


def test_schema_rejects_what_the_parser_rejects_structurally():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((ROOT / "hpo_compss" / "experiment.schema.json").read_text())
    for name in ("unknown_key", "trials_not_integer", "bad_mode", "negative_gpus", "zero_repeats", "stop_unknown_key",
                 "budget_not_object", "exclusive_not_bool", "key_beside_domain", "negative_timeout", "exhaustive_value_twice",
                 "algorithm_option_misspelt", "budget_key_misspelt", "compute_class_key_misspelt", "log_flag_beside_domain",
                 "repeat_count_misspelt"):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(json.loads((BAD / f"{name}.json").read_text()), schema)


def test_the_schema_knows_every_domain_keyword():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((ROOT / "hpo_compss" / "experiment.schema.json").read_text())
    domains = {form["required"][0] for form in schema["$defs"]["domain"]["oneOf"]}
    not_scopes = {form["required"][0] for form in schema["$defs"]["scope"]["not"]["anyOf"]}
    assert domains == not_scopes == set(DOMAIN_KEYWORDS) | {"repeat"}
    experiment = {"objective": "hpo_compss.examples.griewank:griewank", "space": {"n": {"loginteger": [16, 1024]}}}
    jsonschema.validate(experiment, schema)
    for bad in ([16, 1024, 2], [0, 8], [1.5, 8]):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({**experiment, "space": {"n": {"loginteger": bad}}}, schema)
