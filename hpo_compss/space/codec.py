"""JSON <-> space: the one place that knows the JSON spelling of every domain and structure.

A JSON value in a space is read as:
- a list: a choice among its values (the grid values of the PyCOMPSs form);
- a number, string, boolean or null: a constant;
- an object with one domain keyword (``{"uniform": [0, 1]}``): that domain;
- any other object: a scope of named children, exclusive when it holds ``"exclusive": true``.
"""
from __future__ import annotations

from typing import Any, Callable

from ..errors import ConfigError, Key, check_json, close_matches, did_you_mean
from .domains import Choice, Constant, Domain, IntRange, Linspace, Log2Int, LogUniform, Normal, Repeat, Uniform
from .expression import ExpressionError
from .structure import Dependent, Exhaustive, Node, Scope, Space


def _pair(name: str) -> Callable[[Any], tuple]:
    def check(args: Any) -> tuple:
        if not isinstance(args, list) or len(args) != 2:
            raise ValueError(f"expected [{name}], got {args!r}")
        return tuple(args)
    return check


def _triple(name: str) -> Callable[[Any], tuple]:
    def check(args: Any) -> tuple:
        if not isinstance(args, list) or len(args) != 3:
            raise ValueError(f"expected [{name}], got {args!r}")
        return tuple(args)
    return check


def _range(args: Any) -> tuple:
    if not isinstance(args, list) or len(args) not in (2, 3):
        raise ValueError(f"expected [low, high] or [low, high, step], got {args!r}")
    return tuple(args)


def _single(args: Any) -> tuple:
    return (args,)


#: keyword -> (how its JSON value becomes arguments, constructor)
DOMAIN_KEYWORDS: dict[str, tuple[Callable[[Any], tuple], Callable[..., Node]]] = {
    "uniform": (_pair("low, high"), Uniform),
    "ln_uniform": (_pair("low exponent, high exponent"), lambda a, b: LogUniform(a, b, "ln_uniform")),
    "log2_uniform": (_pair("low exponent, high exponent"), lambda a, b: LogUniform(a, b, "log2_uniform")),
    "log10_uniform": (_pair("low exponent, high exponent"), lambda a, b: LogUniform(a, b, "log10_uniform")),
    "loguniform": (_pair("low, high"), lambda a, b: LogUniform(a, b, "loguniform")),
    "randint": (_range, lambda *a: IntRange(*a, keyword="randint")),
    "integer": (_range, lambda *a: IntRange(*a, keyword="integer")),
    "log2_randint": (_pair("low exponent, high exponent"), Log2Int),
    "linspace": (_triple("low, high, n"), Linspace),
    "normal": (_pair("mu, sigma"), lambda m, s: Normal(m, s, "normal")),
    "lognormal": (_pair("mu, sigma"), lambda m, s: Normal(m, s, "lognormal")),
    "choice": (_single, Choice),
    "constant": (_single, Constant),
    "exhaustive": (_single, Exhaustive),
    "dependent": (_single, Dependent),
}

#: what to write for a domain given a log flag
LOG_FORMS = {"uniform": '{"loguniform": [low, high]}', "normal": '{"lognormal": [mu, sigma]}'}


def space_from_json(data: Any, path: tuple[Key, ...] = ("space",)) -> Space:
    """Read a whole space; raises ConfigError with the key path of the first problem."""
    if not isinstance(data, dict) or not data:
        raise ConfigError(path, "expected a non-empty object of parameters")
    check_json(data, path)
    root = node_from_json(data, path)
    if not isinstance(root, Scope):
        raise ConfigError(path, "expected an object of named parameters, not a single domain")
    if not root.children:
        raise ConfigError(path, "expected a non-empty object of parameters")
    return Space(root)


def node_from_json(data: Any, path: tuple[Key, ...]) -> Node:
    if isinstance(data, list):
        return _build(Choice, (data,), path)
    if data is None or isinstance(data, (bool, int, float, str)):
        return Constant(data)
    if not isinstance(data, dict):
        raise ConfigError(path, f"expected a value, a list or an object, got {type(data).__name__}")
    keywords = [key for key in data if key in DOMAIN_KEYWORDS or key == "repeat"]
    if keywords:
        return _domain_from_json(data, keywords, path)
    exclusive = data.get("exclusive", False)
    if not isinstance(exclusive, bool):
        raise ConfigError(path + ("exclusive",), f"expected true or false, got {exclusive!r}")
    children = {}
    for name, child in data.items():
        if name == "exclusive":
            continue
        if not name or "." in name:
            raise ConfigError(path + (name,), "expected a parameter name without dots")
        children[name] = node_from_json(child, path + (name,))
    if exclusive and not children:
        raise ConfigError(path, "an exclusive scope needs at least one branch")
    return Scope(children, exclusive)


def _domain_from_json(data: dict, keywords: list[str], path: tuple[Key, ...]) -> Node:
    keyword = keywords[0]
    allowed = {keyword, "n"} if keyword == "repeat" else {keyword}
    extra = sorted(set(data) - allowed)
    if extra:
        raise ConfigError(path + (extra[0],), f"unexpected key beside '{keyword}'{_hint_beside(keyword, extra[0])}")
    if keyword == "repeat":
        inner = node_from_json(data["repeat"], path + ("repeat",))
        if not isinstance(inner, Domain) or isinstance(inner, Repeat):
            raise ConfigError(path + ("repeat",), "expected a single domain to repeat")
        if "n" not in data:
            raise ConfigError(path, "expected 'n', the number of repeats, beside 'repeat'")
        return _build(Repeat, (inner, data["n"]), path + ("n",))
    reader, build = DOMAIN_KEYWORDS[keyword]
    try:
        args = reader(data[keyword])
    except ValueError as error:
        raise ConfigError(path + (keyword,), str(error)) from None
    return _build(build, args, path + (keyword,))


def _hint_beside(keyword: str, key: str) -> str:
    """What a key beside a domain may have meant: a repeat's 'n', or a log flag (Optuna's ``log=True``),
    for which the space language has domains of their own."""
    if keyword == "repeat":
        return did_you_mean(key, ["n"])
    if keyword in LOG_FORMS and close_matches(key, ["log"]):
        return f" (for a log scale, write {LOG_FORMS[keyword]})"
    return ""


def _build(build: Callable[..., Node], args: tuple, path: tuple[Key, ...]) -> Node:
    try:
        return build(*args)
    except (ValueError, TypeError, ExpressionError) as error:
        raise ConfigError(path, str(error)) from None
