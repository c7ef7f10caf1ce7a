"""A small arithmetic language for ``dependent`` values, parsed once and evaluated by a whitelist walker.

The text is parsed with :mod:`ast` (so precedence and syntax are Python's) but never compiled or
``eval``-ed: only the node types below are accepted, and names refer to other values of the same trial.

Grammar (Python syntax, subset)::

    expr := number | 'string' | true | false | name(.name)* | -expr | not expr
          | expr (+ - * / // % **) expr | expr (< <= > >= == !=) expr | expr and/or expr
          | expr if expr else expr | function(expr, ...)
    function := min max abs round int float log log2 log10 exp sqrt floor ceil len sum
"""
from __future__ import annotations

import ast
import math
import operator
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from ..errors import json_problem

MAX_LENGTH = 1000
MAX_NODES = 300
#: the largest integer an expression may make, in bits (about 1233 decimal digits)
MAX_BITS = 4096
#: the most characters or items (nested items included) a string or list an expression makes may hold
MAX_ITEMS = 10_000
#: round()'s ndigits beyond this no longer changes the result of any allowed number, so it is clamped here
ROUND_DIGITS = 1300


class ExpressionError(ValueError):
    """The text is not in the language, or its value cannot be computed (division by zero...)."""


def _log(x: float, base: float = math.e) -> float:
    return math.log(x, base)


def _round(number: Any, digits: Any = None) -> Any:
    """round(), with ndigits clamped where it stops mattering: round(5, -10**9) would compute 10**10**9."""
    if digits is None:
        return round(number)
    return round(number, max(-ROUND_DIGITS, min(digits, ROUND_DIGITS)) if isinstance(digits, int) else digits)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "min": min, "max": max, "abs": abs, "round": _round, "int": int, "float": float,
    "log": _log, "log2": math.log2, "log10": math.log10, "exp": math.exp, "sqrt": math.sqrt,
    "floor": math.floor, "ceil": math.ceil, "len": len, "sum": sum,
}
CONSTANTS = {"true": True, "false": False, "True": True, "False": False, "pi": math.pi, "e": math.e}
TOO_MANY_BITS = f"it would make an integer of more than {MAX_BITS} bits"
TOO_MANY_ITEMS = f"it would make more than {MAX_ITEMS} characters or items"


def _size(value: Any) -> int:
    """Characters of a string, items of a list or dict counting nested ones (the count stops soon after MAX_ITEMS)."""
    if isinstance(value, str):
        return len(value)
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    total = len(items)
    for item in items:
        if total > MAX_ITEMS:
            break
        total += _size(item)
    return total


def _bounded(value: Any) -> Any:
    """``value`` itself, when it is not too large to keep computing with."""
    if isinstance(value, int) and value.bit_length() > MAX_BITS:
        raise OverflowError(TOO_MANY_BITS)
    if _size(value) > MAX_ITEMS:
        raise OverflowError(TOO_MANY_ITEMS)
    return value


def _power(base: Any, exponent: Any) -> Any:
    if isinstance(base, int) and isinstance(exponent, int) and (abs(base).bit_length() - 1) * exponent > MAX_BITS:
        raise OverflowError(TOO_MANY_BITS)  # refused before Python spends minutes computing it
    return base**exponent


def _times(left: Any, right: Any) -> Any:
    for sequence, count in ((left, right), (right, left)):
        if isinstance(sequence, (str, list)) and isinstance(count, int) and _size(sequence) * count > MAX_ITEMS:
            raise OverflowError(TOO_MANY_ITEMS)
    return left * right


def _plus(left: Any, right: Any) -> Any:
    if isinstance(left, (str, list)) and isinstance(right, (str, list)) and _size(left) + _size(right) > MAX_ITEMS:
        raise OverflowError(TOO_MANY_ITEMS)
    return left + right


def _modulo(left: Any, right: Any) -> Any:
    if isinstance(left, str):
        raise TypeError("'%' does not format strings")
    return left % right


BINARY = {
    ast.Add: _plus, ast.Sub: operator.sub, ast.Mult: _times, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: _modulo, ast.Pow: _power,
}
UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_}
COMPARE = {
    ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.Eq: operator.eq, ast.NotEq: operator.ne,
}


def _dotted(node: ast.AST) -> str | None:
    """``a.b.c`` as a string, or None when the node is not a plain dotted name."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value)
        return None if head is None else f"{head}.{node.attr}"
    return None


@dataclass(frozen=True)
class Expression:
    """A parsed expression; ``names`` are the dotted references it reads."""

    text: str
    tree: ast.Expression = field(repr=False, compare=False)
    names: frozenset[str] = field(compare=False)

    def evaluate(self, values: Mapping[str, Any]) -> Any:
        """Compute the value; ``values`` maps every name in ``names`` to its value in this trial."""
        try:
            value = _evaluate(self.tree.body, values)
        except ExpressionError:
            raise
        except (ArithmeticError, ValueError, TypeError) as error:
            raise ExpressionError(f"cannot compute {self.text!r}: {error}") from None
        problem = json_problem(value)  # the value goes into a journal: plain JSON, finite numbers only
        if problem is not None:
            raise ExpressionError(f"cannot compute {self.text!r}: {problem[1]}")
        return value


def parse(text: str) -> Expression:
    """Parse and check ``text``; raises ExpressionError naming the first construct not allowed."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("expected a non-empty expression string")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression longer than {MAX_LENGTH} characters")
    source = text.strip()
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as error:
        raise ExpressionError(f"syntax error in {text!r} at column {error.offset}") from None
    nodes = list(ast.walk(tree))
    if len(nodes) > MAX_NODES:
        raise ExpressionError(f"expression has more than {MAX_NODES} parts")
    names: set[str] = set()
    _check(tree.body, names, source)
    return Expression(text, tree, frozenset(names))


def _check(node: ast.AST, names: set[str], source: str) -> None:
    dotted = _dotted(node)
    if dotted is not None:
        if dotted not in CONSTANTS:
            names.add(dotted)
        return
    if isinstance(node, ast.Constant):
        if not isinstance(node.value, (int, float, str, bool)):
            raise ExpressionError(f"constant {node.value!r} is not allowed")
        if isinstance(node.value, float) and not math.isfinite(node.value):
            raise ExpressionError(f"number {ast.get_source_segment(source, node)} is not a finite double")
        return
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            raise ExpressionError(f"unknown function; allowed: {', '.join(sorted(FUNCTIONS))}")
        if node.keywords:
            raise ExpressionError("functions take positional arguments only")
        children = node.args
    elif isinstance(node, ast.BinOp) and type(node.op) in BINARY:
        children = [node.left, node.right]
    elif isinstance(node, ast.UnaryOp) and type(node.op) in UNARY:
        children = [node.operand]
    elif isinstance(node, ast.BoolOp):
        children = node.values
    elif isinstance(node, ast.Compare) and all(type(op) in COMPARE for op in node.ops):
        children = [node.left, *node.comparators]
    elif isinstance(node, ast.IfExp):
        children = [node.test, node.body, node.orelse]
    elif isinstance(node, (ast.List, ast.Tuple)):
        children = node.elts
    else:
        raise ExpressionError(f"'{ast.unparse(node)}' is not allowed in an expression")
    for child in children:
        _check(child, names, source)


def _evaluate(node: ast.AST, values: Mapping[str, Any]) -> Any:
    dotted = _dotted(node)
    if dotted is not None:
        return CONSTANTS[dotted] if dotted in CONSTANTS else values[dotted]
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.BinOp):
        return _bounded(BINARY[type(node.op)](_evaluate(node.left, values), _evaluate(node.right, values)))
    if isinstance(node, ast.UnaryOp):
        return _bounded(UNARY[type(node.op)](_evaluate(node.operand, values)))
    if isinstance(node, ast.BoolOp):
        is_and = isinstance(node.op, ast.And)
        result: Any = is_and
        for child in node.values:
            result = _evaluate(child, values)
            if bool(result) != is_and:
                return result
        return result
    if isinstance(node, ast.Compare):
        left = _evaluate(node.left, values)
        for op, right_node in zip(node.ops, node.comparators):
            right = _evaluate(right_node, values)
            if not COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.IfExp):
        branch = node.body if _evaluate(node.test, values) else node.orelse
        return _evaluate(branch, values)
    if isinstance(node, ast.Call):
        return _bounded(FUNCTIONS[node.func.id](*(_evaluate(arg, values) for arg in node.args)))  # type: ignore[attr-defined]
    if isinstance(node, (ast.List, ast.Tuple)):
        return _bounded([_evaluate(child, values) for child in node.elts])
    raise ExpressionError(f"'{ast.unparse(node)}' is not allowed in an expression")
