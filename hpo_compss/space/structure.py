"""The shape of a search space: scopes, exclusive subtrees, dependent values, and its sub-spaces.

A space is a tree. ``Scope`` nodes combine their children as a Cartesian product; an exclusive scope
(``"exclusive": true``) and an ``exhaustive`` list split it into disjoint sub-spaces instead, one per
branch (SHADHO). ``Space.subspaces`` flattens the tree into those sub-spaces once; each holds its leaf
domains by path, and its dependent values in the order they can be computed. A config is a nested
dict shaped like the tree, holding only the chosen branch of each exclusive scope.
"""
from __future__ import annotations

import itertools
import json
import math
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence, Union

from ..errors import ConfigError, InvalidConfig
from .domains import Constant, Domain, canonical
from .expression import Expression, ExpressionError, parse

Path = tuple[str, ...]
MAX_SUBSPACES = 10_000
#: unit-cube coordinates of one sub-space (Sobol sequences go up to 21201)
MAX_DIMS = 10_000
#: draws on which validation computes every dependent value (the centre of the unit cube, then seeded random points)
CHECK_DRAWS = 6


class Dependent:
    """A value computed from other values of the same trial (see :mod:`.expression`)."""

    def __init__(self, expression: str | Expression):
        self.expression = expression if isinstance(expression, Expression) else parse(expression)

    def to_json(self) -> dict:
        return {"dependent": self.expression.text}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Dependent) and other.expression.text == self.expression.text

    def __repr__(self) -> str:
        return f"dependent({self.expression.text!r})"


class Exhaustive:
    """SHADHO's ``exhaustive``: each listed value becomes a sub-space of its own."""

    def __init__(self, values: Sequence[Any]):
        if not isinstance(values, (list, tuple)) or not values:
            raise ValueError("expected a non-empty list of values")
        seen = set()
        for value in values:
            key = canonical(value)
            if key in seen:
                raise ValueError(f"{value!r} is listed twice")
            seen.add(key)
        self.values = list(values)

    def labels(self) -> list[str]:
        """How each value names its sub-space: as Python prints it, or as JSON when two values print the same (1 and "1")."""
        plain = [str(value) for value in self.values]
        counts = Counter(plain)
        return [json.dumps(value) if counts[text] > 1 else text for value, text in zip(self.values, plain)]

    def to_json(self) -> dict:
        return {"exhaustive": self.values}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Exhaustive) and other.values == self.values


class Scope:
    """Named children; ``exclusive`` makes each child a disjoint branch instead of a product factor."""

    def __init__(self, children: Mapping[str, "Node"], exclusive: bool = False):
        if exclusive and not children:
            raise ValueError("an exclusive scope needs at least one branch")
        self.children = dict(children)
        self.exclusive = exclusive

    def to_json(self) -> dict:
        body = {name: child.to_json() for name, child in self.children.items()}
        return {"exclusive": True, **body} if self.exclusive else body

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Scope) and (self.exclusive, self.children) == (other.exclusive, other.children)


Node = Union[Domain, Dependent, Exhaustive, Scope]


@dataclass(frozen=True)
class Derived:
    """A dependent value with its references resolved to absolute paths in one sub-space."""

    path: Path
    expression: Expression
    references: Mapping[str, Path]

    def compute(self, config: dict) -> Any:
        """The value, from the values it reads in ``config`` (KeyError when one of them is missing)."""
        return self.expression.evaluate({name: _get(config, path) for name, path in self.references.items()})


@dataclass
class SubSpace:
    """One disjoint part of the space: a fixed choice for every exclusive scope."""

    name: str
    scopes: list[Path] = field(default_factory=list)
    leaves: dict[Path, Domain] = field(default_factory=dict)
    derived: list[Derived] = field(default_factory=list)

    @property
    def dims(self) -> int:
        return sum(domain.dims for domain in self.leaves.values())

    @property
    def title(self) -> str:
        """How messages name it."""
        return f"sub-space {self.name}" if self.name else "the space"

    def complexity(self) -> float:
        """SHADHO's complexity of this sub-space: the product of its domains' complexities."""
        return math.prod(domain.complexity() for domain in self.leaves.values())

    def assemble(self, values: Mapping[Path, Any]) -> dict:
        """Build the nested config from leaf values, then compute the dependent values in order."""
        config = self._drawn(values)
        for item in self.derived:
            try:
                _put(config, item.path, item.compute(config))
            except ExpressionError as error:
                raise InvalidConfig(("space", *item.path), str(error), config, self.name) from None
        return config

    def sample(self, rng: random.Random) -> dict:
        """A random config: uniform draws decoded through each domain's quantile function."""
        return self.decode([rng.random() for _ in range(self.dims)])

    def decode(self, unit: Sequence[float]) -> dict:
        """The config at a point of this sub-space's unit cube (``dims`` coordinates)."""
        return self.assemble(self._values(unit))

    def check_dependents(self) -> None:
        """Refuse a dependent value that cannot be computed for any of a few test draws (the centre of
        the unit cube and seeded random points): it would only make failed trials."""
        if not self.derived:
            return
        rng = random.Random(0)
        points = [[0.5] * self.dims] + [[rng.random() for _ in range(self.dims)] for _ in range(CHECK_DRAWS - 1)]
        computed: set[Path] = set()
        errors: dict[Path, str] = {}
        for point in points:
            config = self._drawn(self._values(point))
            for item in self.derived:
                try:
                    _put(config, item.path, item.compute(config))
                    computed.add(item.path)
                except ExpressionError as error:
                    errors.setdefault(item.path, str(error))
                except KeyError:  # it reads a dependent value that failed for this draw
                    pass
        for item in self.derived:
            if item.path in errors and item.path not in computed:
                raise ConfigError(("space", *item.path),
                                  f"cannot be computed for any of {CHECK_DRAWS} test draws: {errors[item.path]}")

    def _values(self, unit: Sequence[float]) -> dict[Path, Any]:
        values, start = {}, 0
        for path, domain in self.leaves.items():
            values[path] = domain.decode(unit[start:start + domain.dims])
            start += domain.dims
        return values

    def _drawn(self, values: Mapping[Path, Any]) -> dict:
        """The nested config of the leaf values alone."""
        config: dict = {}
        for path in self.scopes:
            _put(config, path, {})
        for path, value in values.items():
            _put(config, path, value)
        return config


def _put(config: dict, path: Path, value: Any) -> None:
    for key in path[:-1]:
        config = config[key]
    config[path[-1]] = value


def _get(config: dict, path: Path) -> Any:
    for key in path:
        config = config[key]
    return config


class Space:
    """A validated search space; ``subspaces`` are its disjoint parts (one unless it has exclusive scopes)."""

    def __init__(self, root: Scope):
        self.root = root
        parts = _expand(root, ())
        self.subspaces = [_finish(part) for part in parts]
        twice = [name for name, count in Counter(sub.name for sub in self.subspaces).items() if count > 1]
        if twice:
            raise ConfigError(("space",), f"two sub-spaces are named {twice[0]!r}")
        for sub in self.subspaces:
            if sub.dims > MAX_DIMS:
                raise ConfigError(("space",), f"{sub.title} has {sub.dims} dimensions, more than {MAX_DIMS}")
            sub.check_dependents()

    def to_json(self) -> dict:
        return self.root.to_json()

    def complexity(self) -> float:
        return sum(sub.complexity() for sub in self.subspaces)

    @property
    def dims(self) -> int:
        return max(sub.dims for sub in self.subspaces)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Space) and other.root == self.root


@dataclass
class _Part:
    names: list[str] = field(default_factory=list)
    scopes: list[Path] = field(default_factory=list)
    leaves: dict[Path, Domain] = field(default_factory=dict)
    dependents: dict[Path, Dependent] = field(default_factory=dict)

    def merged(self, other: "_Part") -> "_Part":
        return _Part(self.names + other.names, self.scopes + other.scopes,
                     {**self.leaves, **other.leaves}, {**self.dependents, **other.dependents})


def _expand(node: Node, path: Path) -> list[_Part]:
    if isinstance(node, Domain):
        return [_Part(leaves={path: node})]
    if isinstance(node, Dependent):
        return [_Part(dependents={path: node})]
    if isinstance(node, Exhaustive):
        _limit_subspaces(len(node.values), path)
        return [_Part([f"{'.'.join(path)}={label}"], leaves={path: Constant(value)})
                for value, label in zip(node.values, node.labels())]
    scopes = [path] if path else []
    if node.exclusive:
        parts = []
        for name, child in node.children.items():
            label = f"{'.'.join(path)}={name}" if path else name
            branch = _Part([label], scopes)
            parts.extend(branch.merged(part) for part in _expand(child, path + (name,)))
            _limit_subspaces(len(parts), path)
    else:
        parts = [_Part(scopes=scopes)]
        for name, child in node.children.items():
            right = _expand(child, path + (name,))
            _limit_subspaces(len(parts) * len(right), path)
            parts = [left.merged(part) for left, part in itertools.product(parts, right)]
    return parts


def _limit_subspaces(count: int, path: Path) -> None:
    """Refuse more sub-spaces than MAX_SUBSPACES, before they are built."""
    if count > MAX_SUBSPACES:
        raise ConfigError(("space", *path), f"more than {MAX_SUBSPACES} exclusive sub-spaces")


def _finish(part: _Part) -> SubSpace:
    """Resolve every dependent's names in this sub-space and order them so each reads computed values."""
    known = set(part.leaves) | set(part.dependents)
    resolved: dict[Path, Derived] = {}
    for path, dependent in part.dependents.items():
        references = {}
        for name in dependent.expression.names:
            target = _resolve(name, path[:-1], known)
            if target is None:
                where = f" in sub-space {','.join(part.names)}" if part.names else ""
                raise ConfigError(("space", *path), f"unknown name {name!r} in {dependent.expression.text!r}{where}")
            if target == path:
                raise ConfigError(("space", *path), f"dependency cycle: {'.'.join(path)} reads itself")
            references[name] = target
        resolved[path] = Derived(path, dependent.expression, references)
    return SubSpace(",".join(part.names), _unique(part.scopes), dict(part.leaves), _ordered(resolved))


def _unique(paths: Iterable[Path]) -> list[Path]:
    return sorted(set(paths), key=len)


def _resolve(name: str, scope: Path, known: set[Path]) -> Path | None:
    """Lexical lookup: the name relative to the dependent's scope, then to each enclosing scope."""
    parts = tuple(name.split("."))
    for depth in range(len(scope), -1, -1):
        candidate = scope[:depth] + parts
        if candidate in known:
            return candidate
    return None


def _ordered(derived: dict[Path, Derived]) -> list[Derived]:
    order: list[Derived] = []
    state: dict[Path, str] = {}

    def visit(path: Path, chain: list[Path]) -> None:
        if state.get(path) == "done":
            return
        if state.get(path) == "visiting":
            cycle = " -> ".join(".".join(p) for p in chain[chain.index(path):] + [path])
            raise ConfigError(("space", *path), f"dependency cycle: {cycle}")
        state[path] = "visiting"
        for target in derived[path].references.values():
            if target in derived:
                visit(target, chain + [path])
        state[path] = "done"
        order.append(derived[path])

    for path in derived:
        visit(path, [])
    return order
