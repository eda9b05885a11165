"""results.json: Gradescope's format exactly, atomic writes, and failure results."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from autograder.gradescope.results import (
    MAX_OUTPUT,
    STAFF_MESSAGE,
    build_results,
    failure_results,
    write_results,
)
from autograder.grading.feedback import Feedback
from autograder.grading.outcome import CaseResult, ProblemResult, SubmissionResult
from autograder.spec import LoadedProblem

ENV = {"versions": {"python": "3.11.7", "jax": "0.10.2", "jaxlib": "0.10.2", "flax": "0.12.8",
                    "numpy": "2.4.6"}, "backend": "cpu"}


def report_for(problem: LoadedProblem, failing: dict[int, Feedback], at_import: str = "",
               fault: str | None = None, printed: dict[int, str] | None = None) -> SubmissionResult:
    spec = problem.spec
    cases = tuple(CaseResult(i, spec.case_label(i), c.visibility, f"{spec.function}(...)",
                             spec.case_points(i), failing.get(i),
                             printed=(printed or {}).get(i, ""))
                  for i, c in enumerate(spec.cases))
    return SubmissionResult((ProblemResult(problem, cases, at_import),), ENV, 1.5, fault)


def test_results_follow_the_schema_and_tag_every_test(
        problems: dict[str, LoadedProblem], validate_results: Callable[[object], None]) -> None:
    problem = problems["vmap_over_batch"]
    results = build_results(report_for(problem, {3: Feedback("wrong-shape", "Bad shape.")}))
    validate_results(results)
    assert results["score"] == 7.0  # 8 cases of 1 point (the structure test is not built here)
    assert results["execution_time"] == 1.5
    # Hidden tests fail here: the visible output counts the visible ones alone, no total.
    assert results["output"].splitlines()[:3] == [
        "- `vmap_over_batch`: 3/3 visible tests passed, 3/3 points", "",
        "Only the visible tests are counted above. The other tests, and your total, are shown "
        "when the course staff publish them."]
    assert "7" not in results["output"].split("Graded with")[0]
    assert ("Graded with python 3.11.7, jax 0.10.2, jaxlib 0.10.2, flax 0.12.8, numpy 2.4.6 "
            "on the cpu backend.") in results["output"]
    tests, staff = results["tests"][:-1], results["tests"][-1]
    assert staff["visibility"] == "hidden" and staff["output"].splitlines() == [
        "Score: 7 / 8", "", "- `vmap_over_batch`: 7/8 tests passed, 7/8 points"]
    assert [t["status"] for t in tests] == ["passed"] * 3 + ["failed"] + ["passed"] * 4
    assert tests[3]["tags"] == ["problem:vmap_over_batch", "pitfall:wrong-shape"]
    assert tests[0]["tags"] == ["problem:vmap_over_batch"]
    assert tests[3]["name"] == "vmap_over_batch: case 4 (a batch of one)"
    assert tests[3]["visibility"] == "hidden" and tests[0]["visibility"] == "visible"
    assert all(t["score"] <= t["max_score"] for t in tests)
    assert tests[3]["output"] == ("**NNX vmap over a batch**, case 4 (a batch of one): "
                                  "`vmap_over_batch(...)`\n\nBad shape.")


def test_what_the_student_printed_is_shown_in_its_own_test_and_clipped(
        problems: dict[str, LoadedProblem]) -> None:
    problem = problems["vmap_over_batch"]
    fb = Feedback("runtime-error", "Boom.")
    results = build_results(report_for(problem, {0: fb, 1: fb, 2: fb}, at_import="y" * 5000,
                                       printed={0: "x" * 5000, 1: "only in case 2"}))
    first, second, third = results["tests"][:3]
    assert first["output"].count("Your file printed when it was imported:") == 1
    assert first["output"].count("y") == 2000 and first["output"].count("x") == 2000
    assert first["output"].count("[...]") == 2
    assert "imported" not in second["output"]
    assert second["output"].endswith("Your code printed:\n```\nonly in case 2\n```")
    assert "printed" not in third["output"]


def test_a_fault_keeps_what_was_graded_and_adds_the_two_staff_tests(
        problems: dict[str, LoadedProblem], validate_results: Callable[[object], None]) -> None:
    results = build_results(report_for(problems["vmap_over_batch"], {}, fault="Traceback: X"))
    validate_results(results)
    assert results["score"] == 8
    assert [t["name"] for t in results["tests"][-2:]] == [
        "The autograder failed: please contact the course staff",
        "Autograder traceback (staff only)"]
    assert results["tests"][-1]["output"] == "Traceback: X"
    assert STAFF_MESSAGE in results["output"]


def test_failure_results_are_valid_and_clip_huge_tracebacks(
        validate_results: Callable[[object], None]) -> None:
    results = failure_results("T" * (MAX_OUTPUT * 2))
    validate_results(results)
    assert results["score"] == 0
    assert len(results["tests"][1]["output"]) == MAX_OUTPUT
    assert results["tests"][1]["output"].endswith("[... output truncated ...]")


def test_write_results_is_atomic_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    target = tmp_path / "results" / "results.json"
    write_results(target, {"tests": [], "score": 1})
    write_results(target, {"tests": [], "score": 2})
    assert json.loads(target.read_text()) == {"tests": [], "score": 2}
    assert [p.name for p in target.parent.iterdir()] == ["results.json"]


def test_write_results_refuses_nan_and_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "results.json"
    write_results(target, {"tests": [], "score": 1})
    with pytest.raises(ValueError):
        write_results(target, {"tests": [], "score": float("nan")})
    assert json.loads(target.read_text())["score"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]
