"""The experiment file: read, validate and normalise it before any trial runs.

Every problem becomes a ``ConfigError`` naming the JSON key path and what was expected there. The
normalised form (``Experiment.to_json``) is what a study folder keeps, so ``resume`` needs nothing else.
A file without a ``"space"`` key is the PyCOMPSs paper's bare form: the whole object is the space.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import MAX_DEPTH, ConfigError, Key, check_json, did_you_mean, read_integer, read_number
from .runtime.objective import ObjectiveError, load_objective
from .schedule import Scheduler, make_scheduler
from .search import SEARCHERS, Searcher, make_searcher
from .space import Space, space_from_json
from .trial import ComputeClass

KEYS = {
    "$schema", "name", "description", "objective", "metric", "mode", "space", "algorithm", "budget", "seed",
    "repeats", "compute_classes", "retries", "timeout", "stop", "fresh_process", "inputs", "scheduler",
}
DEFAULT_TRIALS = 100
DEFAULT_FIRST_FAILURES = 5
MAX_TRIALS = 10_000_000
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass
class Experiment:
    """A validated experiment. Build it with :func:`load_experiment` or :func:`parse_experiment`."""

    name: str
    objective: str
    space: Space | None
    algorithm: dict[str, Any]
    trials: int
    metric: str = "loss"
    mode: str = "min"
    seconds: float | None = None
    seed: int = 0
    repeats: int = 1
    compute_classes: list[ComputeClass] = field(default_factory=lambda: [ComputeClass("cpu")])
    retries: int = 0
    timeout: float | None = None
    target: float | None = None
    patience: int | None = None
    #: stop when this many first attempts of a run all fail alike (0: never)
    first_failures: int = DEFAULT_FIRST_FAILURES
    fresh_process: bool = False
    description: str = ""
    #: input files and folders every trial reads, by name: absolute paths on the driver's node
    inputs: dict[str, str] = field(default_factory=dict)
    #: the ``"scheduler"`` object: which running trials go on (``schedule``)
    scheduling: dict[str, Any] = field(default_factory=lambda: {"name": "fifo"})

    def searcher(self) -> Searcher:
        return make_searcher(self.algorithm, self.space, self.seed, self.mode, self.trials)

    def scheduler(self) -> Scheduler:
        return make_scheduler(self.scheduling, self.mode, self.space, self.compute_classes)

    def reached_target(self, value: float) -> bool:
        return self.target is not None and (value <= self.target if self.mode == "min" else value >= self.target)

    def to_json(self) -> dict:
        data: dict[str, Any] = {
            "name": self.name, "objective": self.objective, "metric": self.metric, "mode": self.mode,
            "algorithm": self.algorithm, "budget": {"trials": self.trials}, "seed": self.seed,
            "repeats": self.repeats, "compute_classes": {c.name: c.to_json() for c in self.compute_classes},
            "retries": self.retries, "fresh_process": self.fresh_process, "scheduler": self.scheduling,
        }
        if self.description:
            data["description"] = self.description
        if self.inputs:
            data["inputs"] = dict(self.inputs)
        # always present (null for an explicit list of configs), or the stored file would read as the bare form
        data["space"] = self.space.to_json() if self.space is not None else None
        if self.seconds is not None:
            data["budget"]["seconds"] = self.seconds
        if self.timeout is not None:
            data["timeout"] = self.timeout
        stop = {k: v for k, v in (("target", self.target), ("patience", self.patience)) if v is not None}
        if self.first_failures != DEFAULT_FIRST_FAILURES:
            stop["first_failures"] = self.first_failures
        if stop:
            data["stop"] = stop
        return data


def load_experiment(path: str | os.PathLike, objective: str | None = None, seed: int | None = None,
                    check: bool = True) -> Experiment:
    """Read and validate an experiment file; ``objective``/``seed`` override the file's values."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as error:
        raise ConfigError((), f"cannot read {path}: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise ConfigError((), f"not UTF-8 text: byte {error.object[error.start]:#04x} at offset {error.start}") from None
    try:
        data = json.loads(text, parse_int=_read_int)
    except json.JSONDecodeError as error:
        raise ConfigError((), f"not valid JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    except RecursionError:
        raise ConfigError((), f"nested more than {MAX_DEPTH} levels deep") from None
    return parse_experiment(data, default_name=path.stem, base_dir=path.parent, objective=objective,
                            seed=seed, check=check)


def _read_int(text: str) -> int | float:
    """A JSON integer; one too long for a double becomes inf (refused later with its key path) instead of
    a slow conversion that Python refuses beyond 4300 digits."""
    return int(text) if len(text) <= 400 else float(text)


def parse_experiment(data: Any, default_name: str = "study", base_dir: str | os.PathLike = ".",
                     objective: str | None = None, seed: int | None = None,
                     check: bool = True) -> Experiment:
    """Validate an experiment given as parsed JSON (see the README for every key).

    ``check`` imports the objective, looks for the input files and builds the searcher (which checks
    the algorithm's options); the readers of a study (``status``, ``report``) skip all three, as its
    stored experiment was checked when the study began, and so load no searcher.
    """
    if not isinstance(data, dict):
        raise ConfigError((), f"expected a JSON object, got {type(data).__name__}")
    check_json(data)
    if "space" not in data:
        present = sorted(set(data) & (KEYS - {"name", "description"}))
        if present:
            raise ConfigError(("space",), f"missing: an experiment with '{present[0]}' needs a 'space' (or use the bare form: a file holding only the space)")
        data = {"space": data}
    unknown = sorted(set(data) - KEYS)
    if unknown:
        raise ConfigError((unknown[0],), f"unknown key{did_you_mean(unknown[0], sorted(KEYS))}")

    name = _typed(data, "name", str, default_name)
    if not NAME.match(name):
        raise ConfigError(("name",), f"expected letters, digits, '.', '_' or '-' (it names the study folder), got {name!r}")
    objective = objective if objective is not None else data.get("objective")
    if objective is None:
        raise ConfigError(("objective",), "missing: give \"objective\": \"module:function\" in the file or --objective on the command line")
    objective = _objective(objective, Path(base_dir), check)
    metric = _typed(data, "metric", str, "loss")
    mode = _typed(data, "mode", str, "min")
    if mode not in ("min", "max"):
        raise ConfigError(("mode",), f"expected \"min\" or \"max\", got {mode!r}")
    spaceless = data.get("space") is None and not _needs_space(_algorithm_name(data))
    space = None if spaceless else space_from_json(data.get("space"))
    seed = read_integer(data if seed is None else {"seed": seed}, ("seed",), 0, 0, 2**63 - 1)
    algorithm = _algorithm(data, space)
    budget = data.get("budget", {})
    if not isinstance(budget, dict):
        raise ConfigError(("budget",), f"expected an object like {{\"trials\": 100, \"seconds\": 3600}}, got {budget!r}")
    _no_unknown(budget, ("budget",), {"trials", "seconds"})
    asked = read_integer(budget, ("budget", "trials"), None, 1, MAX_TRIALS)
    searcher = make_searcher(algorithm, space, seed, mode, asked) if check else None
    size = searcher.size if searcher is not None else None

    if "trials" not in budget and (size or 0) > MAX_TRIALS:
        raise ConfigError(("budget", "trials"), f"missing: the {searcher.name} search has {size} configs, "
                                                f"more than the {MAX_TRIALS} trials a study may run")
    trials = read_integer(budget, ("budget", "trials"), size or DEFAULT_TRIALS, 1, MAX_TRIALS)
    if size is not None:
        trials = min(trials, size)

    stop = data.get("stop", {})
    if not isinstance(stop, dict):
        raise ConfigError(("stop",), f"expected an object like {{\"target\": 0.02}}, got {stop!r}")
    _no_unknown(stop, ("stop",), {"target", "patience", "first_failures"})
    scheduling = data.get("scheduler", "fifo")
    compute_classes = _compute_classes(data.get("compute_classes", {"cpu": {"cpus": 1}}))
    scheduler = make_scheduler(scheduling, mode, space, compute_classes)
    repeats = read_integer(data, ("repeats",), 1, 1, 1000)
    if scheduler.stops_trials and repeats > 1:
        raise ConfigError(("repeats",), f"expected 1 with the {scheduler.name} scheduler, which judges each trial "
                                        f"on its own reports (a config's repeats would be stopped apart), got {repeats}")

    return Experiment(
        name=name, objective=objective, space=space, algorithm=algorithm, trials=trials, metric=metric, mode=mode,
        seconds=read_number(budget, ("budget", "seconds"), None, 1e-3, 1e9),
        seed=seed, repeats=repeats, scheduling=scheduler.to_json(),
        compute_classes=compute_classes,
        retries=read_integer(data, ("retries",), 0, 0, 100),
        timeout=read_number(data, ("timeout",), None, 1e-3, 1e9),
        target=read_number(stop, ("stop", "target"), None),
        patience=read_integer(stop, ("stop", "patience"), None, 1, MAX_TRIALS),
        first_failures=read_integer(stop, ("stop", "first_failures"), DEFAULT_FIRST_FAILURES, 0, MAX_TRIALS),
        fresh_process=_typed(data, "fresh_process", bool, False),
        description=_typed(data, "description", str, ""),
        inputs=_inputs(data.get("inputs", {}), Path(base_dir), check),
    )


def _needs_space(name: Any) -> bool:
    searcher = SEARCHERS.get(name) if isinstance(name, str) else None
    return searcher is None or searcher.needs_space


def _algorithm_name(data: dict) -> Any:
    algorithm = data.get("algorithm")
    return algorithm.get("name") if isinstance(algorithm, dict) else algorithm


def _algorithm(data: dict, space: Space | None) -> dict:
    algorithm = data.get("algorithm")
    if algorithm is None:
        finite = space is not None and all(d.finite for sub in space.subspaces for d in sub.leaves.values())
        return {"name": "grid" if finite else "random"}
    if isinstance(algorithm, str):
        return {"name": algorithm}
    if not isinstance(algorithm, dict) or "name" not in algorithm:
        raise ConfigError(("algorithm",), f"expected a name or an object with \"name\", got {algorithm!r}")
    return dict(algorithm)


def _objective(spec: Any, base_dir: Path, check: bool) -> str:
    if not isinstance(spec, str) or ":" not in spec:
        raise ConfigError(("objective",), f"expected \"module.path:function\" or \"path/to/file.py:function\", got {spec!r}")
    target, _, function = spec.rpartition(":")
    if not target or not function.isidentifier():
        raise ConfigError(("objective",), f"expected \"module.path:function\", got {spec!r}")
    if target.endswith(".py") or "/" in target or os.sep in target:  # a file: in the current folder, else beside the experiment
        here, found_here = _path(target, Path.cwd(), ("objective",))
        beside, found_beside = _path(target, base_dir, ("objective",))
        spec = f"{beside if found_beside and not found_here else here}:{function}"
    if check:
        try:
            load_objective(spec)
        except ObjectiveError as error:
            raise ConfigError(("objective",), str(error)) from None
    return spec


def _inputs(data: Any, base_dir: Path, check: bool) -> dict[str, str]:
    """``{"name": "path"}`` or a list of paths (named by their base names), relative to the experiment file."""
    if isinstance(data, list):
        named: dict[str, Any] = {}
        for index, path in enumerate(data):
            if not isinstance(path, str) or not path:
                raise ConfigError(("inputs", index), f"expected a path, got {path!r}")
            name = os.path.basename(os.path.normpath(path))
            if name in named:
                raise ConfigError(("inputs", index), f"two inputs are named {name!r}; give them names: {{\"name\": \"path\"}}")
            named[name] = path
        data = named
    if not isinstance(data, dict):
        raise ConfigError(("inputs",), f"expected an object like {{\"train\": \"data/train.csv\"}} or a list of paths, got {data!r}")
    inputs = {}
    for name, path in data.items():
        if not NAME.match(name):
            raise ConfigError(("inputs", name), "expected a name of letters, digits, '.', '_' or '-'")
        if not isinstance(path, str) or not path:
            raise ConfigError(("inputs", name), f"expected a path, got {path!r}")
        resolved, found = _path(path, base_dir, ("inputs", name))
        if check and not found:
            raise ConfigError(("inputs", name), f"no such file or folder: {resolved}")
        inputs[name] = str(resolved)
    return inputs


def _path(text: str, base_dir: Path, where: tuple[Key, ...]) -> tuple[Path, bool]:
    """``text`` as an absolute path (``~`` expanded, relative to ``base_dir``), and whether it exists.

    Text that names no path on this system (a NUL byte, a lone surrogate, an unknown user's ``~``, a
    name too long) is refused here, instead of failing inside pathlib later.
    """
    try:
        path = (base_dir / Path(text).expanduser()).resolve()
        return path, path.exists()
    except (OSError, ValueError, RuntimeError) as error:
        raise ConfigError(where, f"expected a path, got {text!r}: {error}") from None


def _compute_classes(data: Any) -> list[ComputeClass]:
    path: tuple[Key, ...] = ("compute_classes",)
    if not isinstance(data, dict) or not data:
        raise ConfigError(path, "expected an object of classes, like {\"cpu\": {\"cpus\": 1}}")
    classes = []
    for name, body in data.items():
        here = path + (name,)
        if not NAME.match(name):
            raise ConfigError(here, "expected a class name of letters, digits, '.', '_' or '-'")
        if not isinstance(body, dict):
            raise ConfigError(here, f"expected an object like {{\"cpus\": 4, \"gpus\": 1}}, got {body!r}")
        _no_unknown(body, here, {"cpus", "gpus", "memory_gb", "max_tasks", "speed"})
        classes.append(ComputeClass(
            name, cpus=read_integer(body, here + ("cpus",), 1, 1, 4096), gpus=read_integer(body, here + ("gpus",), 0, 0, 1024),
            memory_gb=read_number(body, here + ("memory_gb",), None, 1e-3, 1e6),
            max_tasks=read_integer(body, here + ("max_tasks",), None, 1, 1_000_000),
            speed=read_number(body, here + ("speed",), None, 1e-6, 1e6)))
    return classes


def _no_unknown(data: dict, path: tuple[Key, ...], allowed: set[str]) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ConfigError(path + (unknown[0],), f"unknown key{did_you_mean(unknown[0], sorted(allowed))}; "
                                                f"expected one of {', '.join(sorted(allowed))}")


def _typed(data: dict, key: str, kind: type, default: Any) -> Any:
    value = data.get(key, default)
    if not isinstance(value, kind):
        raise ConfigError((key,), f"expected {'true or false' if kind is bool else kind.__name__}, got {value!r}")
    return value
