"""What a regrade keeps of the answers no known mistake explains: ``outputs.npz``.

For each failed case of a submission whose feedback names none of its problem's declared
mistakes, an :class:`Answer`: the array the student's code returned (when it returned one),
how it differs from the reference's (shapes, the largest absolute and relative differences,
how many values), or the error it gave instead (the feedback's id and the exception type),
with the case's tolerance and the parameter-tree evidence. :func:`unexplained` takes them
from a graded submission (in ``grade_one``, on a thread or a Dask worker, as plain data);
:func:`save` writes them beside the submission's ``results.json`` as one ``.npz`` (0600)
whose index is a JSON byte array, and :func:`load` reads them back with
``allow_pickle=False``, so ``autograder report`` groups the class's answers from disk
(:mod:`.groups`) without grading again.
"""

from __future__ import annotations

import json
import math
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from autograder.files import PRIVATE, atomic
from autograder.grading.outcome import CaseResult, SubmissionResult
from autograder.protocol.parsing import LOCK as PARSING
from autograder.spec import Tolerance

ANSWERS = "outputs.npz"
#: An output larger than this (64 kB; a case's expected output is some hundred bytes) is not
#: kept: its case is grouped by its failure alone, and a class's answers stay small.
MAX_KEPT = 2**16


@dataclass(frozen=True)
class Answer:
    """What a submission's code produced on one case that failed unexplained."""

    problem: str  # the function
    case: int  # its index in the spec
    label: str  # ``case 2 (wide inputs)``
    visibility: str
    kind: str  # the feedback's id: wrong-values, wrong-shape, runtime-error, timeout...
    rtol: float
    atol: float
    error: str | None = None  # the exception type, when the code raised one
    shape: tuple[int, ...] | None = None  # of the output, when it returned an array
    expected_shape: tuple[int, ...] | None = None
    max_abs: float | None = None  # against the reference's, when the shapes agree
    max_rel: float | None = None
    differing: int | None = None  # values beyond the tolerance
    params: str | None = None  # how the model's variables differ from the reference's
    output: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def failure(self) -> str:
        """What failed, as errors are grouped: ``runtime-error (TypeError)``, ``timeout``."""
        return self.kind + (f" ({self.error})" if self.error else "")

    def record(self) -> dict[str, Any]:
        """Everything but the output, as JSON (a non-finite difference as a string)."""
        data = {k: v for k, v in asdict(self).items() if k != "output"}
        for key in ("max_abs", "max_rel"):
            if data[key] is not None and not math.isfinite(data[key]):
                data[key] = str(data[key])
        return data

    @classmethod
    def from_record(cls, data: Mapping[str, Any], output: np.ndarray | None) -> Answer:
        def shape(value: Any) -> tuple[int, ...] | None:
            return None if value is None else tuple(int(d) for d in value)

        def number(value: Any) -> float | None:
            return None if value is None else float(value)

        return cls(str(data["problem"]), int(data["case"]), str(data["label"]),
                   str(data["visibility"]), str(data["kind"]), float(data["rtol"]),
                   float(data["atol"]), _text(data.get("error")), shape(data.get("shape")),
                   shape(data.get("expected_shape")), number(data.get("max_abs")),
                   number(data.get("max_rel")),
                   None if data.get("differing") is None else int(data["differing"]),
                   _text(data.get("params")), output)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def difference(got: np.ndarray | None, want: np.ndarray | None,
               tolerance: Tolerance) -> dict[str, Any]:
    """Shapes, and where they agree the largest absolute and relative differences and how
    many values are beyond the tolerance (as ``compare`` counts them)."""
    found: dict[str, Any] = {
        "shape": None if got is None else tuple(got.shape),
        "expected_shape": None if want is None else tuple(want.shape)}
    if got is None or want is None or got.shape != want.shape:
        return found
    try:
        mine, theirs = got.astype(np.float64), want.astype(np.float64)
    except (TypeError, ValueError):  # complex, say: shapes only
        return found
    with np.errstate(invalid="ignore", divide="ignore"):
        gap = np.abs(mine - theirs)
        relative = np.where(theirs != 0, gap / np.abs(theirs), np.where(gap == 0, 0, np.inf))
        close = np.isclose(mine, theirs, rtol=tolerance.rtol, atol=tolerance.atol,
                           equal_nan=True)
    gap = np.where(np.isnan(gap), np.inf, gap)
    relative = np.where(np.isnan(relative), np.inf, relative)
    found.update(max_abs=float(np.max(gap, initial=0.0)),
                 max_rel=float(np.max(relative, initial=0.0)), differing=int((~close).sum()))
    return found


def _answer(function: str, case: CaseResult, tolerance: Tolerance) -> Answer:
    assert case.feedback is not None
    output = case.output
    kept = output if output is not None and output.nbytes <= MAX_KEPT else None
    return Answer(function, case.index, case.label, case.visibility, case.feedback.id,
                  tolerance.rtol, tolerance.atol, case.error, params=case.params,
                  output=kept, **difference(output, case.expected, tolerance))


def unexplained(report: SubmissionResult) -> list[Answer]:
    """The failed cases of ``report`` whose feedback names no declared mistake of their
    problem (the structure test and custom checks aside: they have no output)."""
    found = []
    for result in report.problems:
        spec = result.problem.spec
        declared = {m.id for m in spec.mistakes}
        for case in result.cases:
            if case.feedback is not None and not declared & set(case.feedback.tags):
                found.append(_answer(spec.function, case, spec.tolerance_for(case.index)))
    return found


def to_plain(answers: Sequence[Answer]) -> list[dict[str, Any]]:
    """JSON-like records with their outputs (numpy arrays): what ``grade_one`` returns."""
    return [{**a.record(), "output": a.output} for a in answers]


def from_plain(records: Sequence[Mapping[str, Any]]) -> tuple[Answer, ...]:
    return tuple(Answer.from_record(r, r.get("output")) for r in records)


def save(folder: Path, answers: Sequence[Answer]) -> None:
    """Write ``folder/outputs.npz`` atomically, readable by its owner only."""
    arrays: dict[str, Any] = {f"output_{i}": a.output for i, a in enumerate(answers)
                              if a.output is not None}
    index = [{**a.record(), "array": f"output_{i}" if a.output is not None else None}
             for i, a in enumerate(answers)]
    encoded = np.frombuffer(json.dumps(index, allow_nan=False).encode(), dtype=np.uint8)
    with atomic(folder / ANSWERS, PRIVATE) as handle:
        np.savez(handle, index=encoded, **arrays)


def load(folder: Path) -> tuple[Answer, ...] | None:
    """What :func:`save` wrote in ``folder``; None when there is no readable file (a
    submission graded before outputs were kept, or a foreign file)."""
    try:
        # numpy parses each array's header (one parse at a time: see protocol.parsing)
        with PARSING, np.load(folder / ANSWERS, allow_pickle=False) as data:
            index = json.loads(data["index"].tobytes().decode())
            return tuple(Answer.from_record(r, data[r["array"]] if r.get("array") else None)
                         for r in index)
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile):
        return None

