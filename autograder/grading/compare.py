"""Compare a student's output with the expected one, in a fixed order of what differs first.

type → shape → dtype → non-finite values → values. The first difference found is the one
reported: a wrong shape makes a value comparison meaningless, and a student fixes one
thing at a time. Value mismatches say how many elements differ, the largest absolute and
relative differences against the tolerance, and the worst entries (as pytest's approx does).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from autograder.spec import Tolerance

MismatchKind = Literal["wrong-type", "wrong-shape", "wrong-dtype", "non-finite", "wrong-values"]
WORST_ROWS = 5


@dataclass(frozen=True)
class Mismatch:
    """Why an output is wrong: a kind (a pitfall id), a one-line summary and details (md)."""

    kind: MismatchKind
    summary: str
    details: str = ""


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def _index(flat: int, shape: tuple[int, ...]) -> str:
    if not shape:
        return "[]"
    return "[" + ", ".join(str(int(i)) for i in np.unravel_index(flat, shape)) + "]"


def _num(value: float) -> str:
    return f"{value:.6g}"


def compare(
    got: np.ndarray | None,
    returned: str,
    expected: np.ndarray,
    tolerance: Tolerance,
    dtype: str | None,
) -> Mismatch | None:
    """``None`` when ``got`` matches ``expected`` within ``tolerance``, else the mismatch.

    ``got`` is None when the function returned something that is not an array;
    ``returned`` describes what it returned (``tuple(float32[4, 3], None)``).
    """
    if got is None:
        return Mismatch(
            "wrong-type",
            f"Your function returned {returned}, but it must return an array "
            f"(a jax or numpy array of shape {_shape(expected.shape)}).",
        )
    if got.shape != expected.shape:
        hint = ""
        if got.size == expected.size:
            hint = (" It has the right number of elements, so the values may be right but "
                    "arranged differently: check the final reshape.")
        return Mismatch(
            "wrong-shape",
            f"Your output has shape {_shape(got.shape)}, but the expected shape is "
            f"{_shape(expected.shape)}.{hint}",
        )
    if dtype is not None and got.dtype != np.dtype(dtype):
        return Mismatch(
            "wrong-dtype",
            f"Your output has dtype {got.dtype}, but {dtype} is expected. Do not cast the "
            f"result (for example with .astype or np.float64); return what the model computes.",
        )
    if not np.issubdtype(got.dtype, np.number) and got.dtype != np.bool_:
        return Mismatch("wrong-dtype", f"Your output has dtype {got.dtype}, not a number type.")
    got64 = got.astype(np.float64)
    want64 = expected.astype(np.float64)
    bad = ~np.isfinite(got64) & np.isfinite(want64)
    if bad.any():
        count_nan = int(np.isnan(got64[bad]).sum())
        count_inf = int(bad.sum()) - count_nan
        first = int(np.flatnonzero(bad)[0])
        kinds = ", ".join(part for part in (f"{count_nan} NaN" if count_nan else "",
                                            f"{count_inf} infinite" if count_inf else "") if part)
        return Mismatch(
            "non-finite",
            f"Your output has non-finite values ({kinds}) where the expected values are "
            f"finite, the first at index {_index(first, got.shape)}. Look for a division by "
            f"zero, a log of a non-positive number, or uninitialised values.",
        )
    return _compare_values(got64, want64, tolerance)


def _compare_values(got: np.ndarray, want: np.ndarray, tol: Tolerance) -> Mismatch | None:
    with np.errstate(invalid="ignore", divide="ignore"):
        abs_diff = np.abs(got - want)
        close = np.isclose(got, want, rtol=tol.rtol, atol=tol.atol, equal_nan=True)
        rel_diff = np.where(want != 0, abs_diff / np.abs(want), np.where(abs_diff == 0, 0, np.inf))
    if close.all():
        return None
    # A NaN where no NaN is expected, or opposite infinities, is as wrong as it gets.
    abs_diff = np.where(np.isnan(abs_diff), np.inf, abs_diff)
    rel_diff = np.where(np.isnan(rel_diff), np.inf, rel_diff)
    bad = int((~close).sum())
    # Only the mismatching elements count: a matching one is never "the worst".
    worst_abs = int(np.argmax(np.where(close, -1.0, abs_diff)))
    worst_rel = int(np.argmax(np.where(close, -1.0, rel_diff)))
    summary = (f"{bad} of {got.size} values differ from the expected ones beyond the tolerance "
               f"(rtol={tol.rtol:g}, atol={tol.atol:g}).")
    lines = [
        f"- largest absolute difference: {_num(abs_diff.flat[worst_abs])} "
        f"at index {_index(worst_abs, got.shape)}",
        f"- largest relative difference: {_num(rel_diff.flat[worst_rel])} "
        f"at index {_index(worst_rel, got.shape)}",
    ]
    order = np.argsort(-np.where(close, -1.0, abs_diff).ravel(), kind="stable")[:WORST_ROWS]
    rows = ["", "| index | yours | expected |", "|---|---|---|"]
    rows += [f"| {_index(int(i), got.shape)} | {_num(got.flat[i])} | {_num(want.flat[i])} |"
             for i in order if not close.flat[i]]
    return Mismatch("wrong-values", summary, "\n".join(lines + rows))
