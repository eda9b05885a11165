"""Comparison: type → shape → dtype → non-finite → values, with golden messages."""

from __future__ import annotations

import numpy as np
import pytest

from autograder.grading.compare import WORST_ROWS, Mismatch, compare
from autograder.spec import Tolerance

TOL = Tolerance()  # rtol=1e-5, atol=1e-6
EXPECTED = np.arange(6, dtype=np.float32).reshape(2, 3)  # [[0, 1, 2], [3, 4, 5]]

DTYPE_MESSAGE = ("Your output has dtype float64, but float32 is expected. Do not cast the result "
                 "(for example with .astype or np.float64); return what the model computes.")


def mismatch(got: np.ndarray | None, expected: np.ndarray = EXPECTED, *,
             returned: str = "an array", tolerance: Tolerance = TOL,
             dtype: str | None = "float32") -> Mismatch:
    result = compare(got, returned, expected, tolerance, dtype)
    assert result is not None
    return result


def test_identical_output_matches() -> None:
    assert compare(EXPECTED.copy(), "", EXPECTED, TOL, "float32") is None


# -- each kind, golden messages -------------------------------------------------------------


def test_wrong_type() -> None:
    result = mismatch(None, returned="tuple(float32[4, 3], None)")
    assert result == Mismatch(
        "wrong-type",
        "Your function returned tuple(float32[4, 3], None), but it must return an array "
        "(a jax or numpy array of shape (2, 3)).")


def test_wrong_type_shows_one_dimensional_and_scalar_shapes() -> None:
    assert mismatch(None, np.zeros(6, np.float32), returned="None").summary == (
        "Your function returned None, but it must return an array (a jax or numpy array of "
        "shape (6,)).")
    assert mismatch(None, np.zeros((), np.float32), returned="list").summary == (
        "Your function returned list, but it must return an array (a jax or numpy array of "
        "shape ()).")


def test_wrong_shape_with_a_different_size() -> None:
    assert mismatch(np.zeros(4, np.float32)) == Mismatch(
        "wrong-shape", "Your output has shape (4,), but the expected shape is (2, 3).")


@pytest.mark.parametrize(("shape", "shown"), [((6,), "(6,)"), ((3, 2), "(3, 2)"),
                                              ((1, 2, 3), "(1, 2, 3)")])
def test_same_size_different_shape_gives_the_reshape_hint(shape: tuple[int, ...],
                                                          shown: str) -> None:
    assert mismatch(np.zeros(shape, np.float32)) == Mismatch(
        "wrong-shape",
        f"Your output has shape {shown}, but the expected shape is (2, 3). It has the right "
        "number of elements, so the values may be right but arranged differently: check the "
        "final reshape.")


def test_wrong_dtype() -> None:
    assert mismatch(EXPECTED.astype(np.float64)) == Mismatch("wrong-dtype", DTYPE_MESSAGE)


def test_any_dtype_when_the_spec_says_null() -> None:
    assert compare(EXPECTED.astype(np.float64), "", EXPECTED, TOL, None) is None
    assert compare(EXPECTED.astype(np.int32), "", EXPECTED, TOL, None) is None


def test_non_number_dtype_when_the_spec_says_null() -> None:
    got = np.array([["a", "b", "c"], ["d", "e", "f"]])
    assert mismatch(got, dtype=None) == Mismatch(
        "wrong-dtype", "Your output has dtype <U1, not a number type.")


def test_booleans_compare_as_numbers() -> None:
    got = np.array([[False, True, True], [True, True, True]])
    assert compare(got, "", np.array([[0.0, 1, 1], [1, 1, 1]]), TOL, None) is None


def test_non_finite_golden() -> None:
    got = EXPECTED.copy()
    got[0, 1] = np.nan
    got[1, 0] = -np.inf
    got[1, 2] = np.inf
    assert mismatch(got) == Mismatch(
        "non-finite",
        "Your output has non-finite values (1 NaN, 2 infinite) where the expected values are "
        "finite, the first at index [0, 1]. Look for a division by zero, a log of a "
        "non-positive number, or uninitialised values.")


def test_non_finite_only_nan_or_only_inf() -> None:
    got = EXPECTED.copy()
    got[1, 1] = np.nan
    got[1, 2] = np.nan
    assert mismatch(got).summary.startswith(
        "Your output has non-finite values (2 NaN) where the expected values are finite, the "
        "first at index [1, 1].")
    got = EXPECTED.copy()
    got[0, 2] = np.inf
    assert mismatch(got).summary.startswith(
        "Your output has non-finite values (1 infinite) where the expected values are finite, "
        "the first at index [0, 2].")


VALUES_DETAILS = """\
- largest absolute difference: 2.5 at index [1, 2]
- largest relative difference: 1 at index [0, 1]

| index | yours | expected |
|---|---|---|
| [1, 2] | 7.5 | 5 |
| [0, 1] | 2 | 1 |
| [1, 0] | 3.001 | 3 |"""


def test_wrong_values_golden() -> None:
    got = np.array([[0, 2, 2], [3.001, 4, 7.5]], dtype=np.float32)
    assert mismatch(got) == Mismatch(
        "wrong-values",
        "3 of 6 values differ from the expected ones beyond the tolerance "
        "(rtol=1e-05, atol=1e-06).",
        VALUES_DETAILS)


def test_wrong_values_shows_only_the_worst_rows() -> None:
    expected = np.arange(1, 9, dtype=np.float64)
    # six mismatches; the smallest one ([5], off by 0.25) is not among the five rows shown
    got = expected + np.array([0, 3, 0, -1, 0.5, -0.25, 2, 7])
    result = mismatch(got, expected, dtype=None)
    assert result.kind == "wrong-values"
    assert result.summary == ("6 of 8 values differ from the expected ones beyond the "
                              "tolerance (rtol=1e-05, atol=1e-06).")
    assert result.details.splitlines() == [
        "- largest absolute difference: 7 at index [7]",
        "- largest relative difference: 1.5 at index [1]",
        "",
        "| index | yours | expected |",
        "|---|---|---|",
        "| [7] | 15 | 8 |",
        "| [1] | 5 | 2 |",
        "| [6] | 9 | 7 |",
        "| [3] | 3 | 4 |",
        "| [4] | 5.5 | 5 |",
    ]
    assert WORST_ROWS == 5


def test_wrong_values_ties_keep_index_order() -> None:
    expected = np.zeros(4)
    got = np.array([0.0, 1.0, -1.0, 1.0])
    rows = mismatch(got, expected, dtype=None).details.splitlines()[-3:]
    assert rows == ["| [1] | 1 | 0 |", "| [2] | -1 | 0 |", "| [3] | 1 | 0 |"]


def test_wrong_values_scalar_output() -> None:
    result = mismatch(np.float32(1.5) * np.ones((), np.float32), np.ones((), np.float32))
    assert result.summary == ("1 of 1 values differ from the expected ones beyond the "
                              "tolerance (rtol=1e-05, atol=1e-06).")
    assert result.details == (
        "- largest absolute difference: 0.5 at index []\n"
        "- largest relative difference: 0.5 at index []\n"
        "\n"
        "| index | yours | expected |\n"
        "|---|---|---|\n"
        "| [] | 1.5 | 1 |")


def test_wrong_values_with_a_custom_tolerance_in_the_summary() -> None:
    got = EXPECTED + 1
    result = mismatch(got, tolerance=Tolerance(rtol=0.001, atol=0.25))
    assert result.summary == ("6 of 6 values differ from the expected ones beyond the "
                              "tolerance (rtol=0.001, atol=0.25).")


def test_opposite_infinities_differ() -> None:
    result = mismatch(np.array([-np.inf]), np.array([np.inf]), dtype=None)
    assert result.kind == "wrong-values"
    assert result.details == ("- largest absolute difference: inf at index [0]\n"
                              "- largest relative difference: inf at index [0]\n\n"
                              "| index | yours | expected |\n|---|---|---|\n| [0] | -inf | inf |")


# -- tolerance ------------------------------------------------------------------------------


def test_within_tolerance_passes() -> None:
    assert compare(EXPECTED + np.float32(1e-7), "", EXPECTED, TOL, "float32") is None


def test_tolerance_boundary_is_inclusive_of_atol_plus_rtol() -> None:
    expected = np.array([1000.0])
    # allowed: atol + rtol * |expected| = 1e-6 + 1e-5 * 1000 = 0.010001
    assert compare(np.array([1000.0100009]), "", expected, TOL, None) is None
    assert mismatch(np.array([1000.0100011]), expected, dtype=None).kind == "wrong-values"


def test_custom_tolerance() -> None:
    loose = Tolerance(rtol=0.0, atol=0.5)
    assert compare(EXPECTED + np.float32(0.4), "", EXPECTED, loose, "float32") is None
    assert compare(EXPECTED + np.float32(0.6), "", EXPECTED, loose, "float32") is not None


def test_nan_where_nan_is_expected_passes() -> None:
    expected = EXPECTED.copy()
    expected[0, 0] = np.nan
    assert compare(expected.copy(), "", expected, TOL, "float32") is None


def test_infinity_where_infinity_is_expected_passes() -> None:
    expected = np.array([np.inf, -np.inf, 1.0])
    assert compare(expected.copy(), "", expected, TOL, None) is None


def test_number_where_nan_is_expected_fails() -> None:
    expected = np.array([np.nan, 1.0], dtype=np.float32)
    result = mismatch(np.array([1.0, 1.0], dtype=np.float32), expected)
    assert result.kind == "wrong-values"
    assert result.summary.startswith("1 of 2 values differ")
    assert result.details.endswith("| [0] | 1 | nan |")


# -- order of precedence --------------------------------------------------------------------


def test_type_comes_first() -> None:
    assert mismatch(None, returned="None").kind == "wrong-type"


def test_shape_before_dtype_and_values() -> None:
    got = np.full((3, 2), np.nan, dtype=np.float64)
    assert mismatch(got).kind == "wrong-shape"


def test_dtype_before_non_finite() -> None:
    got = EXPECTED.astype(np.float64)
    got[0, 0] = np.nan
    assert mismatch(got) == Mismatch("wrong-dtype", DTYPE_MESSAGE)


def test_non_finite_before_values() -> None:
    got = EXPECTED + 10
    got[1, 1] = np.inf
    assert mismatch(got).kind == "non-finite"


def test_values_last() -> None:
    assert mismatch(EXPECTED + 10).kind == "wrong-values"


# -- bugs -----------------------------------------------------------------------------------


def test_relative_difference_names_a_mismatching_element() -> None:
    result = mismatch(np.array([0.5, 1.0, 2.0]), np.array([0.0, 1.0, 2.0]), dtype=None)
    assert result.details.splitlines()[0] == "- largest absolute difference: 0.5 at index [0]"
    assert "at index [1]" not in result.details
    assert "at index [2]" not in result.details


def test_relative_difference_ignores_elements_within_tolerance() -> None:
    expected = np.array([1e-9, 100.0])
    got = np.array([1.5e-9, 100.01])
    result = mismatch(got, expected, dtype=None)
    assert result.summary.startswith("1 of 2 values differ")
    assert result.details.splitlines()[:2] == [
        "- largest absolute difference: 0.01 at index [1]",
        "- largest relative difference: 0.0001 at index [1]",
    ]
