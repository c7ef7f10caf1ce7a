"""JSON <-> space: the one place that knows the JSON spelling of every domain and structure.

A JSON value in a space is read as:
- a list: a choice among its values (the grid values of the PyCOMPSs form);
- a number, string, boolean or null: a constant;
- an object with one domain keyword (``{"uniform": [0, 1]}``): that domain;
- any other object: a scope of named children, exclusive when it holds ``"exclusive": true``, unless it
  holds what a domain would under a misspelt keyword (``{"choise": [1, 2]}``), which is refused.
"""
from __future__ import annotations

from typing import Any, Callable

from ..errors import ConfigError, Key, check_json, close_matches, did_you_mean
from .domains import (Choice, Constant, Domain, IntRange, Linspace, Log2Int, LogInteger, LogUniform, Normal, Repeat,
                      Uniform)
from .expression import ExpressionError
from .structure import Dependent, Exhaustive, Node, Scope, Space


class Numbers:
    """A domain's arguments written as a list of numbers in one of ``forms`` ("low, high"); ``note`` says why
    no other form is taken."""

    def __init__(self, *forms: str, note: str = ""):
        self.forms = forms
        self.note = f" ({note})" if note else ""

    def __call__(self, args: Any) -> tuple:
        if not isinstance(args, list) or len(args) not in {form.count(",") + 1 for form in self.forms}:
            raise ValueError(f"expected {' or '.join(f'[{form}]' for form in self.forms)}{self.note}, got {args!r}")
        return tuple(args)

    @staticmethod
    def takes(args: Any) -> bool:
        """Whether ``args`` has the kind of value this keyword takes (a list of numbers, of any length)."""
        return isinstance(args, list) and all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in args)


class Single:
    """A domain's argument written as one JSON value of the given kinds."""

    def __init__(self, *kinds: type):
        self.kinds = kinds

    def __call__(self, args: Any) -> tuple:
        return (args,)

    def takes(self, args: Any) -> bool:
        """Whether ``args`` has the kind of value this keyword takes."""
        return isinstance(args, self.kinds)


PAIR, EXPONENTS = Numbers("low, high"), Numbers("low exponent, high exponent")
RANGE, MOMENTS = Numbers("low, high", "low, high, step"), Numbers("mu, sigma")

#: keyword -> (how its JSON value becomes arguments, constructor)
DOMAIN_KEYWORDS: dict[str, tuple[Numbers | Single, Callable[..., Node]]] = {
    "uniform": (PAIR, Uniform),
    "ln_uniform": (EXPONENTS, lambda a, b: LogUniform(a, b, "ln_uniform")),
    "log2_uniform": (EXPONENTS, lambda a, b: LogUniform(a, b, "log2_uniform")),
    "log10_uniform": (EXPONENTS, lambda a, b: LogUniform(a, b, "log10_uniform")),
    "loguniform": (PAIR, lambda a, b: LogUniform(a, b, "loguniform")),
    "randint": (RANGE, lambda *a: IntRange(*a, keyword="randint")),
    "integer": (RANGE, lambda *a: IntRange(*a, keyword="integer")),
    "loginteger": (Numbers("low, high", note="a log scale takes no step"), LogInteger),
    "log2_randint": (EXPONENTS, Log2Int),
    "linspace": (Numbers("low, high, n"), Linspace),
    "normal": (MOMENTS, lambda m, s: Normal(m, s, "normal")),
    "lognormal": (MOMENTS, lambda m, s: Normal(m, s, "lognormal")),
    "choice": (Single(list), Choice),
    "constant": (Single(list, str, int, float, type(None)), Constant),
    "exhaustive": (Single(list), Exhaustive),
    "dependent": (Single(str), Dependent),
}
#: difflib's ratio from which a key that holds what a keyword takes is that keyword misspelt: stricter than
#: a hint's 0.6, since the key could also name a parameter
MISSPELT = 0.8

#: what to write for a domain given a log flag
LOG_FORMS = {"uniform": '{"loguniform": [low, high]}', "integer": '{"loginteger": [low, high]}',
             "randint": '{"loginteger": [low, high]}', "normal": '{"lognormal": [mu, sigma]}'}


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
    _refuse_misspelt(data, path)
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


def _refuse_misspelt(data: dict, path: tuple[Key, ...]) -> None:
    """Refuse an object meant as a domain, a repeat or an exclusive scope, whose keyword is misspelt.

    A key close to a keyword is that keyword misspelt when it holds what the keyword takes, where the
    keyword would stand: alone, holding a domain's value (``{"choise": [1, 2]}``, ``{"int": [1, 8]}``,
    ``{"depend": "x * 2"}``); beside a number 'n', holding a domain (repeat); anywhere, holding true or
    false (exclusive). A parameter of such a name is given a domain object: ``{"int": {"choice": [1, 2]}}``.
    """
    count = data.get("n")
    for key, value in data.items():
        keywords = [word for word, (read, _) in DOMAIN_KEYWORDS.items() if read.takes(value)] if len(data) == 1 else []
        if len(data) == 2 and key != "n" and Numbers.takes([count]) and isinstance(value, (list, dict)):
            keywords.append("repeat")
        if isinstance(value, bool) and key != "exclusive":
            keywords.append("exclusive")
        close = close_matches(key, keywords, MISSPELT)
        if close:
            name, held = ("n", count) if close[0] == "repeat" else (key, value)
            form = "choice" if isinstance(held, list) else "constant"
            raise ConfigError(path + (key,), f"unknown keyword (did you mean '{close[0]}'?); "
                                             f"for a parameter named '{name}', write {{\"{name}\": {{\"{form}\": ...}}}}")


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
