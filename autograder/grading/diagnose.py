"""Name the mistake: which known error of the exercise explains what the student's code did.

Three kinds of evidence, all declared per mistake in the problem's YAML (``Detect``):

1. output signatures that hold for any problem (identical rows, transposed, not flattened),
   checked against the expected output and the logical output shape;
2. known-wrong variants (functions beside the reference, or the reference with other
   arguments such as a hard-coded seed), whose outputs the student's may equal; they are
   computed on the trusted side, only when the student's answer is wrong;
3. the lift trace recorded in the worker (which lifts, with which arguments, wrapping what),
   alone or together with a runtime error's message.

A mistake is named on a case when every condition it declares holds there. Mistakes named
by the trace alone also fail the problem's structure test, which checks the lifts a correct
solution applies: some mistakes (``nn.scan(nn.vmap(...))``) give the right numbers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from autograder.grading.feedback import Feedback
from autograder.grading.references import Source, source_of
from autograder.protocol.messages import ErrorInfo, Event
from autograder.spec import Detect, LoadedProblem, Mistake
from autograder.spec.inputs import case_arguments

#: Gives the outputs of a source on every case (None where that source raised).
Oracle = Callable[[LoadedProblem, Source], Mapping[int, np.ndarray | None]]


@dataclass(frozen=True)
class CaseRun:
    """What happened when the student's function ran on one case (plain data only)."""

    index: int
    verdict: Feedback | None  # the generic verdict: None when the output matched
    got: np.ndarray | None = None
    returned: str | None = None
    error: ErrorInfo | None = None  # a runtime error's kind, type, message
    trace: tuple[Event, ...] | None = None  # None: the function did not run
    printed: str = ""  # what the code printed during this call


# -- the lift trace ------------------------------------------------------------------------


def _python(value: Any) -> str:
    if isinstance(value, list):
        return "(" + ", ".join(_python(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_python(v)}" for k, v in value.items()) + "}"
    if isinstance(value, str):
        for prefix in ("<class ", "<function "):
            if value.startswith(prefix) and value.endswith(">"):
                return value[len(prefix):-1]
        if value.startswith("<") and value.endswith(">"):
            return value
    return repr(value)


#: Arguments whose default is None, left out of descriptions when they have it.
_NONE_BY_DEFAULT = frozenset({"axis_size", "length", "axis_name", "spmd_axis_name"})


def describe_event(event: Event) -> str:
    """``nn.vmap(Dense, variable_axes={'params': 0}, ...)`` at ``solution.py:38``."""
    parts = [_python(event["target"])] if event.get("target") else []
    parts += [f"{k}={_python(v)}" for k, v in (event.get("args") or {}).items()
              if not (v is None and k in _NONE_BY_DEFAULT) and v != "..."]
    return f"`{event['lift']}({', '.join(parts)})` at `{event.get('where', '?')}`"


# -- output signatures ---------------------------------------------------------------------


def logical_shape(problem: LoadedProblem, index: int) -> tuple[int, ...] | None:
    if problem.output_shape is None:
        return None
    values = dict(zip(problem.spec.parameter_names, case_arguments(problem, index), strict=True))
    try:
        return tuple(int(e.value(values)) for e in problem.output_shape)
    except Exception:  # a shape that cannot be computed for this case: no signature
        return None


def _close(a: np.ndarray, b: np.ndarray, rtol: float, atol: float) -> bool:
    return a.shape == b.shape and bool(np.allclose(a.astype(np.float64), b.astype(np.float64),
                                                   rtol=rtol, atol=atol))


def output_signature(kind: str, got: np.ndarray, expected: np.ndarray,
                     shape: tuple[int, ...], rtol: float, atol: float) -> bool:
    if int(np.prod(shape)) != expected.size or not shape:
        return False
    want = expected.reshape(shape)
    if kind == "not-flattened":
        return got.shape == shape and got.shape != expected.shape and _close(got, want, rtol,
                                                                              atol)
    if got.size != expected.size:
        return False
    mine = got.reshape(shape)
    if kind == "identical-rows":
        if shape[0] < 2:
            return False
        rows_equal = all(_close(mine[i], mine[0], rtol, atol) for i in range(1, shape[0]))
        expected_equal = all(_close(want[i], want[0], rtol, atol) for i in range(1, shape[0]))
        return rows_equal and not expected_equal
    if kind == "transposed":
        if len(shape) < 2 or shape[0] == 1 or shape[1] == 1:
            return False
        swapped = np.swapaxes(want, 0, 1).reshape(-1)
        return _close(got.reshape(-1), swapped, rtol, atol) and not _close(
            got.reshape(-1), expected.reshape(-1), rtol, atol)
    raise ValueError(kind)


# -- naming mistakes -----------------------------------------------------------------------


class Diagnoser:
    """Names the known mistakes of one problem on the student's runs."""

    def __init__(self, problem: LoadedProblem, expected: Mapping[int, np.ndarray],
                 oracle: Oracle) -> None:
        self.problem = problem
        self.expected = expected
        self.oracle = oracle
        self._outputs: dict[Source, Mapping[int, np.ndarray | None]] = {}

    def _variant_output(self, source: Source, index: int) -> np.ndarray | None:
        if source not in self._outputs:
            self._outputs[source] = self.oracle(self.problem, source)
        return self._outputs[source].get(index)

    def evidence(self, mistake: Mistake, run: CaseRun) -> Detect | None:
        """The first way of recognising ``mistake`` that holds on this failing case."""
        return next((d for d in mistake.alternatives if self.holds(d, run)), None)

    def holds(self, detect: Detect, run: CaseRun) -> bool:
        """Whether every condition of ``detect`` holds on this failing case."""
        tolerance = self.problem.spec.tolerance_for(run.index)
        if detect.error is not None:
            if run.error is None:
                return False
            text = f"{run.error.exc_type}: {run.error.message}"
            if not re.search(detect.error, text):
                return False
        if detect.returned is not None and not (
                run.got is None and run.returned is not None
                and re.search(detect.returned, run.returned)):
            return False
        if detect.output is not None:
            shape = logical_shape(self.problem, run.index)
            if run.got is None or shape is None or not output_signature(
                    detect.output, run.got, self.expected[run.index], shape,
                    tolerance.rtol, tolerance.atol):
                return False
        source = source_of(detect)
        if source is not None:
            if run.got is None:
                return False
            other = self._variant_output(source, run.index)
            if other is None or not _close(run.got, other, tolerance.rtol, tolerance.atol):
                return False
        if detect.has or detect.lacks:
            return run.trace is not None and detect.trace_holds(run.trace,
                                                                completed=run.error is None)
        return True

    def named(self, run: CaseRun) -> list[Mistake]:
        """The mistakes that explain a failing case: evidence from the numbers first."""
        if run.verdict is None:
            return []
        found = [(m, d) for m in self.problem.spec.mistakes
                 if (d := self.evidence(m, run)) is not None]
        return [m for m, d in sorted(found, key=lambda pair: pair[1].trace_only)]

    def explain(self, run: CaseRun) -> tuple[Feedback | None, float]:
        """The case's feedback, with the named mistakes first, and the credit it keeps."""
        verdict = run.verdict
        if verdict is None:
            return None, 1.0
        found = self.named(run)
        if not found:
            if self.problem.spec.mistakes and verdict.id in ("wrong-values", "wrong-shape"):
                note = ("This does not match any of the known mistakes for this exercise; "
                        "compare your code with the problem statement step by step.")
                details = "\n\n".join(p for p in (verdict.details, note) if p)
                return Feedback(verdict.id, verdict.summary, details, verdict.extra_tags), 0.0
            return verdict, 0.0
        return combine(found, verdict), min(m.credit for m in found)


def combine(found: Sequence[Mistake], verdict: Feedback | None) -> Feedback:
    first, *others = found
    parts = [first.fix.strip()]
    for other in others:
        parts.append(f"**Also:** {other.summary} {other.fix.strip()}")
    if verdict is not None:
        parts.append(f"What the grader measured: {verdict.summary}")
        if verdict.details:
            parts.append(verdict.details)
    tags = _unique([m.id for m in found] + (list(verdict.tags) if verdict else []))
    return Feedback(first.id, first.summary, "\n\n".join(parts), tuple(tags[1:]))


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


# -- the structure test --------------------------------------------------------------------


def merged_trace(runs: Iterable[CaseRun]) -> tuple[Event, ...] | None:
    """Every distinct lift event over all the cases that ran, in order."""
    seen: dict[str, Event] = {}
    any_trace = False
    for run in runs:
        if run.trace is None:
            continue
        any_trace = True
        for event in run.trace:
            seen.setdefault(repr(sorted(event.items())), event)
    return tuple(seen.values()) if any_trace else None


def check_structure(problem: LoadedProblem, runs: Sequence[CaseRun],
                    load_failure: Feedback | None) -> Feedback | None:
    """None when the lifts are as expected, else what is wrong with them."""
    structure = problem.spec.structure
    assert structure is not None
    trace = merged_trace(runs)
    completed = any(run.trace is not None and run.error is None for run in runs)
    if trace is None:
        reason = load_failure.summary if load_failure else "it did not run on any case."
        return Feedback(load_failure.id if load_failure else "runtime-error",
                        "The lifted transforms could not be checked because your function "
                        f"did not run: {reason}")
    named = [m for m in problem.spec.mistakes
             if any(d.trace_only and d.trace_holds(trace, completed) for d in m.alternatives)]
    unmet = [p for p in structure.expect if not any(p.matches(e) for e in trace)]
    if not named and not unmet:
        return None
    # One line per lift written in the code (the same line runs once per case).
    written: dict[tuple[Any, Any], Event] = {}
    for event in trace:
        written.setdefault((event.get("lift"), event.get("where")), event)
    applied = "\n".join(f"- {describe_event(e)}" for e in written.values())
    applied = applied or "- no lifted transform at all"
    report = "Your code applies:\n" + applied
    if unmet:
        report += "\n\nExpected, and not found:\n" + "\n".join(
            f"- `{p.describe()}`" for p in unmet)
    if named:
        combined = combine(named, None)
        return Feedback(combined.id, combined.summary, combined.details + "\n\n" + report,
                        combined.extra_tags)
    if not completed:
        first = next((run.verdict for run in runs if run.verdict is not None), None)
        return Feedback(first.id if first else "runtime-error",
                        "The lifted transforms could not all be checked because your function "
                        "raised an error before applying them: fix that error first (see the "
                        "failed cases).", report)
    missing = [p for p in unmet if not any(e.get("lift") == p.lift for e in trace)]
    if missing:
        return Feedback("missing-lift", f"Your code does not use `{missing[0].lift}`, which "
                        f"this exercise is about.", report)
    return Feedback("lift-misconfigured", "Your code applies the lifted transforms with "
                    "different arguments from the ones this exercise asks for.", report)
