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
    with pytest.raises(ExpressionError, match="exponent"):
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
