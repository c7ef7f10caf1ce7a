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
MAX_EXPONENT = 1024


class ExpressionError(ValueError):
    """The text is not in the language, or its value cannot be computed (division by zero...)."""


def _log(x: float, base: float = math.e) -> float:
    return math.log(x, base)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "min": min, "max": max, "abs": abs, "round": round, "int": int, "float": float,
    "log": _log, "log2": math.log2, "log10": math.log10, "exp": math.exp, "sqrt": math.sqrt,
    "floor": math.floor, "ceil": math.ceil, "len": len, "sum": sum,
}
CONSTANTS = {"true": True, "false": False, "True": True, "False": False, "pi": math.pi, "e": math.e}


def _power(base: Any, exponent: Any) -> Any:
    if isinstance(exponent, (int, float)) and abs(exponent) > MAX_EXPONENT:
        raise ExpressionError(f"exponent {exponent} is larger than {MAX_EXPONENT}")
    return operator.pow(base, exponent)


BINARY = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: _power,
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
        return BINARY[type(node.op)](_evaluate(node.left, values), _evaluate(node.right, values))
    if isinstance(node, ast.UnaryOp):
        return UNARY[type(node.op)](_evaluate(node.operand, values))
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
        return FUNCTIONS[node.func.id](*(_evaluate(arg, values) for arg in node.args))  # type: ignore[attr-defined]
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_evaluate(child, values) for child in node.elts]
    raise ExpressionError(f"'{ast.unparse(node)}' is not allowed in an expression")
