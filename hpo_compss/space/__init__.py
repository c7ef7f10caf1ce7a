"""The search-space language, the same from JSON and from Python.

>>> from hpo_compss.space import build, log10_uniform, choice, exclusive
>>> space = build({"kernel": exclusive(linear={}, rbf={"gamma": log10_uniform(-4, 1)}), "C": choice([1, 10])})
>>> len(space.subspaces)
2
"""
from __future__ import annotations

from typing import Any

from .codec import space_from_json
from .domains import (Choice, Constant, Domain, IntRange, Linspace, Log2Int, LogInteger, LogUniform, Normal, Repeat,
                      Uniform)
from .structure import Dependent, Exhaustive, Node, Scope, Space, SubSpace

__all__ = [
    "Space", "SubSpace", "Domain", "build", "space_from_json", "uniform", "ln_uniform", "log2_uniform",
    "log10_uniform", "loguniform", "randint", "integer", "loginteger", "log2_randint", "linspace", "normal", "lognormal",
    "choice", "constant", "exhaustive", "repeat", "dependent", "scope", "exclusive",
]


def uniform(low: float, high: float) -> Uniform:
    return Uniform(low, high)


def ln_uniform(low: float, high: float) -> LogUniform:
    """e**x, x uniform on [low, high] (bounds are exponents)."""
    return LogUniform(low, high, "ln_uniform")


def log2_uniform(low: float, high: float) -> LogUniform:
    """2**x, x uniform on [low, high] (bounds are exponents)."""
    return LogUniform(low, high, "log2_uniform")


def log10_uniform(low: float, high: float) -> LogUniform:
    """10**x, x uniform on [low, high] (bounds are exponents): log10_uniform(-5, 8) spans 1e-5..1e8."""
    return LogUniform(low, high, "log10_uniform")


def loguniform(low: float, high: float) -> LogUniform:
    """Log-uniform between two values: loguniform(1e-5, 1e8)."""
    return LogUniform(low, high, "loguniform")


def randint(low: int, high: int, step: int = 1) -> IntRange:
    """range(low, high, step): high is excluded (Python's and SHADHO's convention)."""
    return IntRange(low, high, step, "randint")


def integer(low: int, high: int, step: int = 1) -> IntRange:
    """Integers from low to high inclusive, every step."""
    return IntRange(low, high, step, "integer")


def loginteger(low: int, high: int) -> LogInteger:
    """Integers from low to high inclusive, drawn log-uniformly (Optuna's suggest_int(log=True)): for hidden units,
    batch sizes, tree counts, whose effect is relative."""
    return LogInteger(low, high)


def log2_randint(low: int, high: int) -> Log2Int:
    """2**i for i in range(low, high)."""
    return Log2Int(low, high)


def linspace(low: float, high: float, n: int) -> Linspace:
    """n evenly spaced values from low to high inclusive, chosen among like a list."""
    return Linspace(low, high, n)


def normal(mu: float, sigma: float) -> Normal:
    return Normal(mu, sigma, "normal")


def lognormal(mu: float, sigma: float) -> Normal:
    """exp(x), x ~ Normal(mu, sigma)."""
    return Normal(mu, sigma, "lognormal")


def choice(values: list) -> Choice:
    return Choice(values)


def constant(value: Any) -> Constant:
    return Constant(value)


def exhaustive(values: list) -> Exhaustive:
    """Each value its own sub-space."""
    return Exhaustive(values)


def repeat(domain: Domain, n: int) -> Repeat:
    """A list of n independent draws of domain."""
    return Repeat(domain, n)


def dependent(expression: str) -> Dependent:
    """A value computed from others of the same trial, e.g. dependent("2 * layers if deep else layers")."""
    return Dependent(expression)


def scope(**children: Any) -> Scope:
    return Scope({name: _node(child) for name, child in children.items()})


def exclusive(**branches: Any) -> Scope:
    """Disjoint branches: a trial holds exactly one of them."""
    return Scope({name: _node(child) for name, child in branches.items()}, exclusive=True)


def build(tree: Any) -> Space:
    """A Space from a Python tree of domains, dicts (scopes), lists (choices) and constants."""
    root = _node(tree)
    if not isinstance(root, Scope):
        raise ValueError("a space is a dict of named parameters")
    return Space(root)


def _node(value: Any) -> Node:
    if isinstance(value, (Domain, Dependent, Exhaustive, Scope)):
        return value
    if isinstance(value, dict):
        children = {name: _node(child) for name, child in value.items() if name != "exclusive"}
        return Scope(children, exclusive=bool(value.get("exclusive", False)))
    if isinstance(value, (list, tuple)):
        return Choice(list(value))
    return Constant(value)
