"""Constraints: a whitelisted subset of Python over parameter names, parsed once, explained
when a case breaks them."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from autograder.spec.constraints import Constraint, ConstraintSyntaxError

NAMES = ("x", "n", "m")
HINT = "(use comparisons, arithmetic, .shape/.ndim/.size/.dtype, len, int, abs)"


def values(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"x": np.zeros((4, 3), dtype=np.float32), "n": 3, "m": 2.0}
    return base | overrides


def check(text: str, **overrides: Any) -> str | None:
    return Constraint.parse(text, NAMES).check(values(**overrides))


def syntax_error(text: str) -> str:
    with pytest.raises(ConstraintSyntaxError) as info:
        Constraint.parse(text, NAMES)
    return str(info.value)


# -- parse ----------------------------------------------------------------------------------


def test_parse_keeps_the_text() -> None:
    constraint = Constraint.parse("x.shape[-1] == n", NAMES)
    assert constraint.text == "x.shape[-1] == n"
    assert isinstance(constraint, Constraint)


def test_syntax_error_is_a_value_error() -> None:
    assert issubclass(ConstraintSyntaxError, ValueError)


# -- holding and failing --------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "x.shape[-1] == n",
    "x.shape[0] == 4",
    "x.ndim == 2",
    "x.size == n * 4",
    "x.dtype == 'float32'",
    "x.shape == (4, 3)",
    "x.shape[0:1] == (4,)",
    "x.shape[::-1] == (n, 4)",
    "len(x) == 4",
    "len(x.shape) == 2",
    "-n == -3",
    "n ** 2 == 9",
    "n / 2 == 1.5",
    "n // 2 == 1",
    "n % 2 == 1",
    "n - 1 + 2 == 4",
    "abs(-n) == 3",
    "max(n, m) == 3",
    "min(n, m) == 2",
    "int(m) == 2",
    "float(n) == 3.0",
    "m != n",
    "n > m",
    "n >= 3",
    "m < n",
    "m <= 2",
    "n",
])
def test_constraints_that_hold(text: str) -> None:
    assert check(text) is None


def test_failing_comparison_explains_both_sides() -> None:
    assert check("x.shape[-1] == m") == "`x.shape[-1]` is 3 and `m` is 2.0"


def test_failing_comparison_after_values_change() -> None:
    constraint = Constraint.parse("x.shape[-1] == n", NAMES)
    assert constraint.check(values()) is None
    assert constraint.check(values(n=5)) == "`x.shape[-1]` is 3 and `n` is 5"


def test_failing_comparison_shows_expression_values() -> None:
    assert check("len(x) == n") == "`len(x)` is 4 and `n` is 3"
    assert check("x.shape == (n, 4)") == "`x.shape` is (4, 3) and `(n, 4)` is (3, 4)"
    assert check("n * 2 >= x.size") == "`n * 2` is 6 and `x.size` is 12"
    assert check("x.dtype == 'int32'") == "`x.dtype` is dtype('float32') and `'int32'` is 'int32'"


@pytest.mark.parametrize(("text", "expected"), [
    ("1 <= n <= 5", None),
    ("1 <= n < 3", "it is false for this case"),
    ("0 < m < n < 4", None),
    ("0 < m < n < 2", "it is false for this case"),
    ("3 < n < 5", "it is false for this case"),  # first link already false
    ("n == 3 == m", "it is false for this case"),
])
def test_chained_comparisons(text: str, expected: str | None) -> None:
    assert check(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("n == 3 and m == 2", None),
    ("n == 3 and m == 3", "it is false for this case"),
    ("n == 4 and m == 2", "it is false for this case"),
    ("n == 4 or m == 2", None),
    ("n == 4 or m == 3", "it is false for this case"),
    ("not n == 4", None),
    ("not n == 3", "it is false for this case"),
    ("not (n == 3 and m == 3)", None),
    ("(n == 4 or m == 2) and x.ndim == 2", None),
    ("n == 4 or (m == 2 and x.ndim == 1)", "it is false for this case"),
])
def test_boolean_operators(text: str, expected: str | None) -> None:
    assert check(text) == expected


def test_and_short_circuits() -> None:
    # x.shape[5] would raise; `and` must not evaluate it once the left side is false.
    assert check("x.ndim == 3 and x.shape[5] == 1") == "it is false for this case"
    assert check("x.ndim == 2 or x.shape[5] == 1") is None


def test_falsy_expression() -> None:
    assert check("n - 3") == "it is false for this case"


def test_evaluation_error_is_an_explained_failure() -> None:
    prefix = "could not be evaluated"
    assert check("x.shape[5] == 1") == f"{prefix} (IndexError: tuple index out of range)"
    assert check("n / (m - 2) == 1") == f"{prefix} (ZeroDivisionError: float division by zero)"
    assert check("len(n) == 1") == f"{prefix} (TypeError: object of type 'int' has no len())"


def test_array_truth_value_is_an_explained_failure() -> None:
    message = check("x == 0")
    assert message is not None
    assert message.startswith("could not be evaluated (ValueError: The truth value of an array")


def test_functions_are_not_shadowed_by_missing_values() -> None:
    # a parameter called like a whitelisted function takes precedence
    constraint = Constraint.parse("len == 3", ["len"])
    assert constraint.check({"len": 3}) is None
    assert constraint.check({"len": 4}) == "`len` is 4 and `3` is 3"


# -- refused syntax, with golden messages ---------------------------------------------------


def test_unknown_name() -> None:
    assert syntax_error("y == 1") == "`y == 1`: unknown name 'y'; use parameter names (m, n, x)"


def test_unknown_name_inside_a_call() -> None:
    assert syntax_error("len(z) > 0") == (
        "`len(z) > 0`: unknown name 'z'; use parameter names (m, n, x)")


@pytest.mark.parametrize("attribute", ["__class__", "T", "real", "__dict__", "reshape"])
def test_forbidden_attributes(attribute: str) -> None:
    text = f"x.{attribute} == 1"
    assert syntax_error(text) == (
        f"`{text}`: attribute .{attribute} is not allowed (allowed: dtype, ndim, shape, size)")


def test_forbidden_attribute_on_an_allowed_one() -> None:
    assert syntax_error("x.shape.__class__ == 1") == (
        "`x.shape.__class__ == 1`: attribute .__class__ is not allowed "
        "(allowed: dtype, ndim, shape, size)")


@pytest.mark.parametrize("text", [
    "open('f') == 1",
    "sorted(x) == 1",
    "__import__('os') == 1",
    "eval('1') == 1",
    "x.shape.__len__() == 2",
    "(lambda: 1)() == 1",
    "len(x, key=1) == 1",  # keyword arguments are refused too
    "getattr(x, 'shape') == 1",
])
def test_calls_of_non_whitelisted_functions(text: str) -> None:
    assert syntax_error(text) == f"`{text}`: only abs, float, int, len, max, min may be called"


@pytest.mark.parametrize(("text", "node"), [
    ("lambda: 1", "Lambda"),
    ("[i for i in x]", "ListComp"),
    ("n in (1, 2)", "In"),
    ("n is 3", "Is"),
    ("n if m else 1", "IfExp"),
    ("[n] == [3]", "List"),
    ("{n: 1}", "Dict"),
    ("f'{n}' == '3'", "JoinedStr"),
    ("~n == 1", "Invert"),
    ("n << 1 == 6", "LShift"),
    ("n & 1", "BitAnd"),
    ("(y := 3)", "NamedExpr"),
    ("len(*x) == 1", "Starred"),
])
def test_disallowed_syntax(text: str, node: str) -> None:
    assert syntax_error(text) == f"`{text}`: {node} is not allowed in a constraint {HINT}"


@pytest.mark.parametrize("text", ["x ==", "n == 1; import os", "import os", "n = 3"])
def test_not_an_expression(text: str) -> None:
    assert syntax_error(text) == f"`{text}` is not a Python expression: invalid syntax"


def test_null_bytes_are_a_syntax_error() -> None:
    message = syntax_error("n == 1\x00")
    assert message == ("`n == 1\x00` is not a Python expression: source code string cannot "
                       "contain null bytes")
