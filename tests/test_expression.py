import re
import time

import pytest

from hpo_compss.space.expression import ExpressionError, parse


@pytest.mark.parametrize("text, values, expected", [
    ("a + b * 2", {"a": 1, "b": 3}, 7),
    ("(a + b) ** 2", {"a": 1, "b": 2}, 9),
    ("a // 2 + a % 2", {"a": 7}, 4),
    ("-a if a < 0 else a", {"a": -3}, 3),
    ("min(a, 4) + max(1, 2, b)", {"a": 9, "b": 0}, 6),
    ("round(log10(x))", {"x": 1000}, 3),
    ("int(exp(0)) + floor(2.7) + ceil(2.1)", {}, 6),
    ("log(8, 2)", {}, 3),
    ("a > 1 and b", {"a": 2, "b": 5}, 5),
    ("not a or b", {"a": 1, "b": 0}, 0),
    ("1 < a <= 3", {"a": 3}, True),
    ("sum(w) / len(w)", {"w": [1, 2, 3]}, 2),
    ("opt.lr * 10", {"opt.lr": 0.1}, 1.0),
    ("'deep' if layers > 2 else 'shallow'", {"layers": 3}, "deep"),
])
def test_evaluates(text, values, expected):
    assert parse(text).evaluate(values) == (pytest.approx(expected) if isinstance(expected, float) else expected)


def test_names_are_collected():
    assert parse("a + opt.lr * min(b, pi)").names == {"a", "opt.lr", "b"}


@pytest.mark.parametrize("text", [
    "__import__('os')", "open('x')", "lambda: 1", "a[0]", "[x for x in a]", "a.b()", "f'{a}'", "a := 1",
    "print(1)", "{1: 2}", "eval('1')", "1 +", "", "x" * 1001,
])
def test_rejects_what_is_not_in_the_language(text):
    with pytest.raises(ExpressionError):
        parse(text)


def test_evaluation_errors_are_expression_errors():
    with pytest.raises(ExpressionError, match="cannot compute"):
        parse("1 / a").evaluate({"a": 0})
    with pytest.raises(ExpressionError, match="more than 4096 bits"):
        parse("2 ** a").evaluate({"a": 10**6})


@pytest.mark.parametrize("text, values", [
    ("x * 1e308 * 10", {"x": 1.0}),
    ("float('inf')", {}),
    ("float('nan') if x else 1", {"x": True}),
    ("(-8) ** x", {"x": 0.5}),
    ("[x, float('-inf')]", {"x": 1}),
    ("x", {"x": {1, 2}}),
])
def test_a_value_that_is_not_plain_finite_json_cannot_be_computed(text, values):
    with pytest.raises(ExpressionError, match="cannot compute"):
        parse(text).evaluate(values)


def test_a_non_finite_constant_is_refused_when_parsed():
    with pytest.raises(ExpressionError, match="number 1e400 is not a finite double"):
        parse("x + 1e400")


@pytest.mark.parametrize("text, values, expected", [
    ("((10**1000)**1000)**1000", {}, "an integer of more than 4096 bits"),
    ("10 ** 1300", {}, "an integer of more than 4096 bits"),
    ("x * x * x * x", {"x": 2**1100}, "an integer of more than 4096 bits"),
    ("-(x * x * x * x)", {"x": 2**1100}, "an integer of more than 4096 bits"),
    ("int('9' * 1300)", {}, "an integer of more than 4096 bits"),
    ("'a' * 10**10", {}, "more than 10000 characters or items"),
    ("10**10 * 'a'", {}, "more than 10000 characters or items"),
    ("[0] * 10**9", {}, "more than 10000 characters or items"),
    ("[[0] * 5000] * 5000", {}, "more than 10000 characters or items"),
    ("[x, x, x]", {"x": [0] * 5000}, "more than 10000 characters or items"),
    ("s + s", {"s": "a" * 6000}, "more than 10000 characters or items"),
    ("sum([x, x], [])", {"x": [0] * 6000}, "more than 10000 characters or items"),
    ("'%0999999999d' % 1", {}, "'%' does not format strings"),
])
def test_values_an_expression_makes_are_bounded_in_size(text, values, expected):
    start = time.perf_counter()
    with pytest.raises(ExpressionError, match=re.escape(expected)):
        parse(text).evaluate(values)
    assert time.perf_counter() - start < 0.5


def test_round_to_absurd_digits_is_instant_and_exact():
    start = time.perf_counter()
    assert parse("round(5, -10**9)").evaluate({}) == 0
    assert parse("round(x, 10**9)").evaluate({"x": 2.5}) == 2.5
    assert parse("round(10**1200, -10**6)").evaluate({}) == 0
    assert time.perf_counter() - start < 0.5


def test_large_but_allowed_values_and_ordinary_expressions_stay_fast():
    assert parse("len('ab' * 5000) + len([0] * 9999)").evaluate({}) == 19999
    assert parse("2 ** 4000 // 2 ** 3999").evaluate({}) == 2
    expression = parse("max(16, 256 // layers) * 2 if lr > 0.001 else min(lr * 10, 1)")
    start = time.perf_counter()
    for layers in range(1, 10_001):
        expression.evaluate({"layers": layers, "lr": 0.01})
    assert time.perf_counter() - start < 2.0  # about 0.2 s on an idle core
