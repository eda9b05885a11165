"""Gradescope's ``results.json``: built from a submission's result, written once, atomically.

The format follows Gradescope's published specification (``../shared/gradescope/``): one
test per case, each tagged ``problem:<function>`` (and ``pitfall:<id>`` when a known mistake
is recognised), markdown output, and the environment in the top-level output so that
"passed locally, failed on Gradescope" can be diagnosed. Whatever goes wrong in the grader,
:func:`failure_results` still produces a valid file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from autograder.files import write_atomically
from autograder.grading.outcome import CaseResult, ProblemResult, SubmissionResult

MAX_OUTPUT = 100_000
PRINTED_SHOWN = 2_000
STAFF_MESSAGE = (
    "The autograder failed while grading your submission. This is a fault on our side, not "
    "yours: please contact the course staff. Your submission is saved and will be regraded."
)


def _clip(text: str, limit: int = MAX_OUTPUT) -> str:
    if len(text) <= limit:
        return text
    marker = "\n\n[... output truncated ...]"
    return text[: limit - len(marker)] + marker


def _round(points: float) -> float:
    return round(points, 4)


def environment_lines(environment: Mapping[str, Any]) -> str:
    versions = environment.get("versions", {})
    if not versions:
        return ""
    parts = [f"{name} {versions[name]}" for name in ("python", "jax", "jaxlib", "flax", "numpy")
             if name in versions]
    backend = environment.get("backend", "?")
    return f"Graded with {', '.join(parts)} on the {backend} backend."


def case_output(problem: ProblemResult, case: CaseResult) -> str:
    call = f": `{case.call}`" if case.call else ""
    lines = [f"**{problem.problem.spec.title}**, {case.label}{call}", ""]
    if case.feedback is None and problem.structure is case:
        lines.append("Passed: your code applies the lifted transforms this exercise asks for.")
    elif case.feedback is None:
        lines.append("Passed: your output matches the expected output.")
    else:
        lines.append(case.feedback.render())
    if problem.notes and not case.passed:
        lines += ["", "Notes from running your notebook:", *[f"- {n}" for n in problem.notes]]
    first = case.index == problem.cases[0].index
    for label, text in (("Your file printed when it was imported:",
                         problem.printed_at_import if first else ""),
                        ("Your code printed:", case.printed)):
        if text and not case.passed:
            more = "\n[...]" if len(text) > PRINTED_SHOWN else ""
            lines += ["", label, "```", text[:PRINTED_SHOWN] + more, "```"]
    return _clip("\n".join(lines))


def case_tags(problem: ProblemResult, case: CaseResult) -> list[str]:
    """``problem:<function>``, and ``pitfall:<id>`` for each mistake recognised."""
    tags = [f"problem:{problem.problem.spec.function}"]
    if case.feedback is not None:
        tags += [f"pitfall:{tag}" for tag in case.feedback.tags]
    return tags + list(case.tags)


def case_test(problem: ProblemResult, case: CaseResult) -> dict[str, Any]:
    tags = case_tags(problem, case)
    return {
        "name": f"{problem.problem.spec.function}: {case.label}",
        "number": case.number or f"{problem.problem.id}.{case.index + 1}",
        "score": _round(case.points),
        "max_score": _round(case.max_points),
        "status": "passed" if case.passed else "failed",
        "visibility": case.visibility,
        "output": case_output(problem, case),
        "output_format": "md",
        "tags": tags,
    }


def staff_summary(report: SubmissionResult) -> dict[str, Any]:
    """Every test counted, hidden ones included: a hidden test only staff see."""
    return {"name": "Summary with hidden tests (staff only)", "score": 0, "max_score": 0,
            "status": "passed", "visibility": "hidden",
            "output": "\n".join(summary_lines(report, visible_only=False)),
            "output_format": "md", "tags": ["summary"]}


def failure_tests(traceback_text: str) -> list[dict[str, Any]]:
    """The two tests of a grader fault: one the student sees, one with the traceback."""
    return [
        {"name": "The autograder failed: please contact the course staff", "score": 0,
         "max_score": 0, "status": "failed", "visibility": "visible", "output": STAFF_MESSAGE,
         "tags": ["grader-error"]},
        {"name": "Autograder traceback (staff only)", "score": 0, "max_score": 0,
         "status": "failed", "visibility": "hidden", "output": _clip(traceback_text),
         "output_format": "text", "tags": ["grader-error"]},
    ]


def summary_lines(report: SubmissionResult, visible_only: bool) -> list[str]:
    """One line per problem: tests passed and points. ``visible_only`` counts the visible
    tests alone and states no total, as Gradescope shows a student nothing of hidden tests
    (a total or a count that included them would let resubmissions probe them)."""
    lines = []
    if not visible_only:
        lines += [f"Score: {_round(report.points):g} / {_round(report.max_points):g}", ""]
    for problem in report.problems:
        tests = [c for c in problem.tests if not visible_only or c.visibility == "visible"]
        passed = sum(c.passed for c in tests)
        points = sum(c.points for c in tests)
        most = sum(c.max_points for c in tests)
        what = "visible tests" if visible_only else "tests"
        lines.append(f"- `{problem.problem.spec.function}`: {passed}/{len(tests)} {what} "
                     f"passed, {_round(points):g}/{_round(most):g} points")
    return lines


HIDDEN_NOTE = ("Only the visible tests are counted above. The other tests, and your total, "
               "are shown when the course staff publish them.")


def build_results(report: SubmissionResult) -> dict[str, Any]:
    tests = [case_test(p, c) for p in report.problems for c in p.tests]
    hidden = any(c.visibility != "visible" for p in report.problems for c in p.tests)
    summary = summary_lines(report, visible_only=hidden)
    if hidden:
        summary += ["", HIDDEN_NOTE]
        tests.append(staff_summary(report))
    env = environment_lines(report.environment)
    if env:
        summary += ["", env]
    if report.fault is not None:
        tests += failure_tests(report.fault)
        summary += ["", STAFF_MESSAGE]
    return {
        "score": _round(report.points),
        "execution_time": round(report.seconds, 3),
        "output": _clip("\n".join(summary)),
        "output_format": "md",
        "test_output_format": "md",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": {"environment": dict(report.environment)},
    }


def failure_results(traceback_text: str) -> dict[str, Any]:
    """Results for a run the grader could not even start grading: the fault alone (a fault
    after some problems were graded is a :class:`SubmissionResult` with ``fault`` set)."""
    return {
        "score": 0,
        "output": STAFF_MESSAGE,
        "output_format": "md",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": failure_tests(traceback_text),
    }


def write_results(path: Path | str, results: Mapping[str, Any], mode: int = 0o644) -> None:
    """Write ``results`` to ``path`` atomically: a reader sees the old file or the new one."""
    text = json.dumps(results, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    write_atomically(Path(path), text, mode)
