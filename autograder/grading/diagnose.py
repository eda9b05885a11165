"""Name the mistake: which known error of the exercise explains what the student's code did.

Four kinds of evidence, all declared per mistake in the problem's YAML (``Detect``):

1. output signatures that hold for any problem (identical rows, transposed, not flattened),
   checked against the expected output and the logical output shape;
2. known-wrong variants (functions beside the reference, or the reference with other
   arguments such as a hard-coded seed), whose outputs the student's may equal; they are
   computed on the trusted side, only when the student's answer is wrong;
3. the lift trace recorded in the worker (which lifts, with which arguments, wrapping what),
   alone or together with a runtime error's message;
4. the parameter tree: how the variables of the model the code built differ from the
   reference's (:mod:`.params`).

A mistake is named on a case when every condition it declares holds there; an answer no
mistake explains is told what is known about it instead (never a pitfall that is not there).
Mistakes named from the trace also fail the problem's structure test, which checks the
lifts a correct solution applies (or an equivalent structure the spec accepts): some
mistakes (``nn.scan(nn.vmap(...))``) give the right numbers. The trace lives in the
student's process, so the structure test's points also rest on the source, read on the
trusted side (:mod:`.provenance`): every lift a passing structure rests on must be written
there with its result flowing to the returned value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from autograder.grading.feedback import Feedback
from autograder.grading.params import Difference, difference
from autograder.grading.provenance import StaticLift
from autograder.grading.references import Source, source_of
from autograder.protocol.messages import ErrorInfo, Event, Variables
from autograder.spec import Detect, LiftPattern, LoadedProblem, Mistake
from autograder.spec.inputs import case_arguments
from autograder.spec.model import TRANSFORMS

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
    models: tuple[Variables, ...] = ()  # the variables of the models it built


# -- the lift trace ------------------------------------------------------------------------


def _python(value: Any) -> str:
    if isinstance(value, list):
        return "(" + ", ".join(_python(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_python(v)}" for k, v in value.items()) + "}"
    if isinstance(value, str):
        if value.startswith("<StateAxes(") and value.endswith(">"):
            return "nnx." + value[1:-1]
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
                 oracle: Oracle,
                 reference_models: Mapping[int, Sequence[Variables]] | None = None) -> None:
        self.problem = problem
        self.expected = expected
        self.oracle = oracle
        self.reference_models = reference_models or {}
        self._outputs: dict[Source, Mapping[int, np.ndarray | None]] = {}

    def params_difference(self, run: CaseRun) -> Difference | None:
        """How the variables of the student's model differ from the reference's here."""
        return difference(run.models, self.reference_models.get(run.index, ()))

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
        if detect.params is not None:
            found = self.params_difference(run)
            if found is None or found.kind != detect.params:
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
            if verdict.id in ("wrong-values", "wrong-shape"):
                return self.unexplained(run, verdict), 0.0
            return verdict, 0.0
        return combine(found, verdict), min(m.credit for m in found)

    def unexplained(self, run: CaseRun, verdict: Feedback) -> Feedback:
        """A wrong answer no known mistake explains: what is known about it (how the
        parameters differ, which rows are right, whether it is another case's answer), and
        never a pitfall that is not there."""
        known = []
        tags = list(verdict.extra_tags)
        params = self.params_difference(run)
        if params is not None:
            known.append(params.text)
            tags.append("params-differ")
        if run.got is not None:
            known += [t for t in (self._rows(run), self._other_case(run)) if t]
        if self.problem.spec.mistakes:
            known.append("This does not match any of the known mistakes for this exercise; "
                         "compare your code with the problem statement step by step.")
        details = "\n\n".join(p for p in (verdict.details, *known) if p)
        return Feedback(verdict.id, verdict.summary, details, tuple(tags))

    def _rows(self, run: CaseRun) -> str | None:
        """Which rows of the logical output (ensemble members, examples) are right."""
        shape = logical_shape(self.problem, run.index)
        expected = self.expected.get(run.index)
        if (shape is None or len(shape) < 2 or shape[0] < 2 or run.got is None
                or expected is None or run.got.size != expected.size
                or int(np.prod(shape)) != expected.size):
            return None
        tolerance = self.problem.spec.tolerance_for(run.index)
        mine, want = run.got.reshape(shape), expected.reshape(shape)
        right = [i for i in range(shape[0])
                 if _close(mine[i], want[i], tolerance.rtol, tolerance.atol)]
        if not right:
            return None
        rows = ", ".join(str(i) for i in right)
        return (f"Rows {rows} (counting from 0) of your output, read as shape "
                f"{tuple(shape)}, equal the expected ones; the other "
                f"{shape[0] - len(right)} of {shape[0]} differ.")

    def _other_case(self, run: CaseRun) -> str | None:
        """Whether the output is the expected output of another case."""
        tolerance = self.problem.spec.tolerance_for(run.index)
        cases = self.problem.spec.cases
        for index, other in self.expected.items():
            if index != run.index and cases[index].visibility == "visible" and (
                    run.got is not None) and _close(
                    run.got, other, tolerance.rtol, tolerance.atol):
                return (f"Your output is the expected output of "
                        f"{self.problem.spec.case_label(index)}: does your code use all of "
                        f"its arguments?")
        return None


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
            key = {k: v for k, v in event.items() if k not in ("id", "calls")}
            key["used"] = event.get("calls") != 0
            seen.setdefault(repr(sorted(key.items())), event)
    return tuple(seen.values()) if any_trace else None


def _unmet(patterns: Sequence[LiftPattern], trace: Sequence[Event]) -> list[LiftPattern]:
    """The patterns no event of ``trace`` matches."""
    return [p for p in patterns if not any(p.matches(e) for e in trace)]


def _applied(trace: Sequence[Event]) -> str:
    """One line per lift written in the code (the same line runs once per case)."""
    written: dict[tuple[Any, Any], Event] = {}
    for event in trace:
        if event.get("lift") in TRANSFORMS or event.get("lift") == "Rngs.fork":
            written.setdefault((event.get("lift"), event.get("where")), event)
    lines = "\n".join(f"- {describe_event(e)}" for e in written.values())
    return "Your code applies:\n" + (lines or "- no lifted transform at all")


def _hand_lift(trace: Sequence[Event]) -> str | None:
    """``jax.vmap`` over ``nnx.split``/``nnx.merge``, or over the module: how the code
    lifts by hand, in words, if it does."""
    lifts = {e.get("lift") for e in trace if e.get("calls") != 0}
    if "jax.vmap" not in lifts:
        return None
    if {"nnx.split", "nnx.merge"} <= lifts:
        return ("lifts the model by hand: `nnx.split` into a graph and a state, `jax.vmap` "
                "over a function that `nnx.merge`s them back (what `nnx.vmap` does for you)")
    return "lifts with `jax.vmap` instead of Flax's lifted transform"


def check_structure(problem: LoadedProblem, runs: Sequence[CaseRun],
                    load_failure: Feedback | None,
                    static: Sequence[StaticLift] | None = None,
                    named_on_cases: Sequence[Mistake] = ()) -> Feedback | None:
    """None when the lifts are as expected, else what is wrong with them.

    ``static`` is what the trusted side found in the student's source (None: not looked
    at); every lift a passing structure rests on must be there with its result flowing to
    the returned value. ``named_on_cases`` are the mistakes named on the failing cases: one
    recognised partly from the trace (a vmapped constructor and JAX's error, say) is this
    test's diagnosis too."""
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
    named += [m for m in named_on_cases if m not in named and any(
        (d.has or d.lacks) and d.trace_holds(trace, completed) for d in m.alternatives)]
    unmet_by_option = [_unmet(option, trace) for option in structure.options]
    unmet = unmet_by_option[0]
    met = next((option for option, left in zip(structure.options, unmet_by_option,
                                               strict=True) if not left), None)
    report = _applied(trace)
    if unmet:
        report += "\n\nExpected, and not found:\n" + "\n".join(
            f"- `{p.describe()}`" for p in unmet)
    if named:
        combined = combine(named, None)
        return Feedback(combined.id, combined.summary, combined.details + "\n\n" + report,
                        combined.extra_tags)
    if met is not None:
        return None if static is None else _unforged(met, static, trace)
    if not completed:
        first = next((run.verdict for run in runs if run.verdict is not None), None)
        return Feedback(first.id if first else "runtime-error",
                        "The lifted transforms could not all be checked because your function "
                        "raised an error before applying them: fix that error first (see the "
                        "failed cases).", report)
    right = all(run.verdict is None for run in runs)
    numbers = ("Your numbers are right on every case, but the exercise is about the lifted "
               "transform itself. " if right else "")
    asked = "; ".join(f"`{p.describe()}`" for p in structure.expect)
    by_hand = _hand_lift(trace)
    if by_hand is not None:
        return Feedback("different-lift", f"{numbers}Your code {by_hand}; this exercise asks "
                        f"for {asked}.", report)
    lifted = any(e.get("lift") in TRANSFORMS and e.get("calls") != 0 for e in trace)
    missing = [p for p in unmet if not any(e.get("lift") == p.lift for e in trace)]
    if not lifted:
        return Feedback("missing-lift", f"{numbers}Your code applies no lifted transform at "
                        f"all; this exercise asks for {asked}.", report)
    if missing:
        return Feedback("missing-lift", f"{numbers}Your code does not use "
                        f"`{missing[0].lift}`, which this exercise is about.", report)
    return Feedback("lift-misconfigured", f"{numbers}Your code applies the lifted transforms "
                    "with different arguments from the ones this exercise asks for.", report)


def _unforged(met: Sequence[LiftPattern], static: Sequence[StaticLift],
              trace: Sequence[Event]) -> Feedback | None:
    """The structure the trace shows, checked against the source: every lift it rests on
    is written in the code (found there by the trusted side) and its result flows to what
    the function returns. None when it is."""
    for pattern in met:
        found = [lift for lift in static if lift.lift == pattern.lift]
        if any(lift.flows for lift in found):
            continue
        if found:
            where = ", ".join(f"`{lift.where}`" for lift in found)
            return Feedback(
                "lift-not-used",
                f"The `{pattern.lift}` in your code ({where}) does not compute what your "
                f"function returns: its result is thrown away or unused, and the output "
                f"comes from elsewhere. Return the result of the lifted function.",
                _applied(trace))
        return Feedback(
            "missing-lift",
            f"Your code does not use `{pattern.lift}`, which this exercise is about: no call "
            f"of it was found in your source. Write the lift in your function (as the "
            f"problem statement shows) and return its result.", _applied(trace))
    return None
