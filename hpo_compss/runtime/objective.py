"""Find the user's objective function from ``"module.path:function"`` or ``"path/to/file.py:function"``."""
from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
import sys
from pathlib import Path
from typing import Callable


class ObjectiveError(ValueError):
    """The objective cannot be imported or is not callable."""


def load_objective(spec: str) -> Callable:
    """Import the module (or file) and return the function; errors say which part failed and why."""
    target, _, name = spec.rpartition(":")
    try:
        if target.endswith(".py"):
            module = _load_file(Path(target))
        else:
            module = importlib.import_module(target)
    except ObjectiveError:
        raise
    except BaseException as error:  # a user module may raise anything, SystemExit included, at import
        raise ObjectiveError(f"cannot import {target!r}: {type(error).__name__}: {error}") from None
    function = getattr(module, name, None)
    if function is None:
        raise ObjectiveError(f"{target!r} has no function {name!r}")
    if not callable(function):
        raise ObjectiveError(f"{target}:{name} is not callable")
    return function


def _load_file(path: Path):
    if not path.is_file():
        raise ObjectiveError(f"no such file: {path}")
    module_name = f"hpo_objective_{path.stem}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    # the file's own folder first, so that it can import its neighbours as it would as a script
    sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


@functools.lru_cache(maxsize=None)
def wants_trial(function: Callable) -> bool:
    """Does the objective take a second argument (the trial context) besides the config?"""
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        return False
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in parameters)
