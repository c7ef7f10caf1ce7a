"""The one error a user sees for bad input: a key path and what was expected there."""
from __future__ import annotations

import difflib
import math
import re
import sys
from typing import Any, Iterable, Union

Key = Union[str, int]
#: how deep objects and lists may nest: deeper input is refused, so no recursive walk meets Python's recursion limit
MAX_DEPTH = 64


def format_path(path: Iterable[Key]) -> str:
    """Render ("space", "kernel", 0) as ``space.kernel[0]`` (the form jq users know)."""
    text = ""
    for key in path:
        text += f"[{key}]" if isinstance(key, int) else (f".{key}" if text else str(key))
    return text or "(top level)"


def close_matches(word: str, options: Iterable[str], cutoff: float = 0.6) -> list[str]:
    """The options ``word`` may be a misspelling of, closest first (ties in the order given).

    Case, '_', '-' and spaces are ignored (``randInt``, ``log_uniform``), and an option that begins with
    a word of 3 letters or more counts as close (``int`` for ``integer``, which difflib scores 0.6).
    """
    folded = _fold(word)
    scored = []
    for option in options:
        other = _fold(option)
        score = difflib.SequenceMatcher(None, folded, other).ratio()
        if score >= cutoff or (len(folded) >= 3 and other.startswith(folded)):
            scored.append((score, option))
    return [option for _, option in sorted(scored, key=lambda pair: -pair[0])]


def did_you_mean(word: str, options: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``options``; empty when none is close."""
    close = close_matches(word, options)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _fold(word: str) -> str:
    return re.sub(r"[\s_-]", "", word.lower())


class ConfigError(ValueError):
    """Invalid experiment or space: carries the JSON key path so the message can point at it."""

    def __init__(self, path: Iterable[Key], expected: str):
        self.path = tuple(path)
        self.expected = expected
        super().__init__(f"{format_path(self.path)}: {expected}")


class InvalidConfig(ConfigError):
    """A drawn config whose dependent values cannot be computed: that one trial fails, not the study.

    ``config`` holds what could be built (every drawn value, the dependents computed before the
    failing one), so the journal records the point and a model searcher learns from it.
    """

    def __init__(self, path: Iterable[Key], expected: str, config: dict, subspace: str):
        super().__init__(path, expected)
        self.config = config
        self.subspace = subspace


def json_problem(value: Any, depth: int = 0) -> tuple[tuple[Key, ...], str] | None:
    """Where ``value`` stops being plain JSON that a journal can hold, and why; None when it is plain JSON.

    Python's json reads NaN, Infinity and numbers beyond a double, and the Python API takes any object:
    all of them are refused here, as is nesting deeper than ``MAX_DEPTH``.
    """
    if value is None or isinstance(value, (bool, str)):
        return None
    if isinstance(value, int):  # compared exactly: no conversion of a huge int to float
        fits = -sys.float_info.max <= value <= sys.float_info.max
        return None if fits else ((), f"expected a finite number, got an integer of {value.bit_length()} bits")
    if isinstance(value, float):
        return None if -sys.float_info.max <= value <= sys.float_info.max else ((), f"expected a finite number, got {value}")
    if not isinstance(value, (list, dict)):
        return (), f"expected a JSON value, got {type(value).__name__}"
    if depth >= MAX_DEPTH:
        return (), f"nested more than {MAX_DEPTH} levels deep"
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in items:
        if isinstance(value, dict) and not isinstance(key, str):
            return (), f"expected string keys, got {key!r}"
        found = json_problem(item, depth + 1)
        if found is not None:
            return (key, *found[0]), found[1]
    return None


def check_json(value: Any, path: Iterable[Key] = ()) -> None:
    """Raise ConfigError at the key path of the first part of ``value`` that is not plain JSON."""
    found = json_problem(value)
    if found is not None:
        raise ConfigError((*path, *found[0]), found[1])


def read_integer(data: dict, path: tuple[Key, ...], default: Any, low: int, high: int) -> Any:
    """``data[path[-1]]`` (or ``default``) as an integer within [low, high], else a ConfigError at ``path``."""
    value = data.get(path[-1], default)
    if value is None and default is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(path, f"expected an integer, got {value!r}")
    if not low <= value <= high:
        raise ConfigError(path, f"expected an integer from {low} to {high}, got {value}")
    return value


def read_number(data: dict, path: tuple[Key, ...], default: Any, low: float = -math.inf, high: float = math.inf) -> Any:
    """``data[path[-1]]`` (or ``default``) as a finite number within [low, high], else a ConfigError at ``path``."""
    value = data.get(path[-1], default)
    if value is None and default is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(path, f"expected a number, got {value!r}")
    if not low <= value <= high:
        raise ConfigError(path, f"expected a number from {low:g} to {high:g}, got {value}")
    return value
