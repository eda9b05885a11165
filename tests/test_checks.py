"""Custom checks written with gradescope-utils' decorators, run in the student's worker."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from autograder.errors import SpecError
from autograder.gradescope.results import build_results
from autograder.grading.engine import GradeOptions, grade
from autograder.spec import LoadedProblem, load_problem
from autograder.spec.checkfile import ChecksError, collect
from tests.support import EXAMPLES, REPO

CHECKS = '''
import unittest

import numpy as np
from gradescope_utils.autograder_utils.decorators import (
    hide_errors, number, partial_credit, tags, visibility, weight)

from autograder.checks import student

X = np.ones(3, np.float32)


class Members(unittest.TestCase):
    @weight(1)
    @number("9.1")
    @tags("ensemble")
    def test_members_differ(self):
        """The ensemble's members give different outputs"""
        out = np.asarray(student(0.0, X, 4.0, 2.0)).reshape(4, 2)
        self.assertFalse(np.allclose(out[0], out[1]))

    @weight(2)
    def test_sizes(self):
        """Every size gives a flat output"""
        for n in (1, 2, 3):
            with self.subTest(n=n):
                self.assertEqual(np.asarray(student(0.0, X, float(n), 2.0)).shape,
                                 (2 * n + (n == 3),))

    @weight(1)
    @visibility("hidden")
    @hide_errors("Something is off with seed 5.")
    def test_hidden(self):
        self.assertEqual(1, 2)

    @weight(1)
    def test_skipped(self):
        self.skipTest("not this term")

    @partial_credit(2)
    def test_partial(self, set_score=None):
        """Half credit"""
        set_score(1.0)


class Broken(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        raise RuntimeError("fixture exploded")

    @weight(1)
    def test_a(self):
        pass

    @weight(1)
    def test_b(self):
        pass
'''


@pytest.fixture
def with_checks(tmp_path: Path, problems: dict[str, LoadedProblem]) -> LoadedProblem:
    folder = shutil.copytree(problems["vmap_over_ensemble"].directory, tmp_path / "ensemble")
    (folder / "checks.py").write_text(textwrap.dedent(CHECKS))
    spec = folder / "problem.yaml"
    spec.write_text(spec.read_text() + "\nchecks: checks.py\n")
    return load_problem(folder)


def test_checks_are_read_from_their_decorators(with_checks: LoadedProblem) -> None:
    checks = {c.id: c for c in with_checks.checks}
    assert list(checks) == ["Members.test_members_differ", "Members.test_sizes",
                            "Members.test_hidden", "Members.test_skipped",
                            "Members.test_partial", "Broken.test_a", "Broken.test_b"]
    first = checks["Members.test_members_differ"]
    assert (first.name, first.weight, first.number, first.tags) == (
        "The ensemble's members give different outputs", 1.0, "9.1", ("ensemble",))
    assert checks["Members.test_hidden"].visibility == "hidden"
    assert checks["Members.test_hidden"].hide_errors == "Something is off with seed 5."
    assert checks["Members.test_partial"].partial and checks["Members.test_partial"].weight == 2


def test_unreadable_checks_are_spec_errors(tmp_path: Path, with_checks: LoadedProblem) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import unittest\nclass T(unittest.TestCase):\n"
                   "    @weight(N)\n    def test_x(self): pass\n")
    with pytest.raises(ChecksError, match=r"line 3: @weight\(\.\.\.\) needs literal arguments"):
        collect(bad)
    (with_checks.directory / "checks.py").write_text("def broken(:\n")
    with pytest.raises(SpecError, match=r"problem.yaml:[0-9]+:1: checks: checks.py: line 1"):
        load_problem(with_checks.directory)


def test_a_checks_files_student_is_the_one_the_worker_sets() -> None:
    from autograder import checks
    from autograder.worker import checks as worker_checks

    assert checks.student is worker_checks.student
    assert checks.__all__ == ["student"]


def test_running_checks_imports_nothing_of_the_trusted_side() -> None:
    """What the worker loads to run checks: ``autograder.checks`` and the worker's module."""
    out = subprocess.run(
        [sys.executable, "-I", "-c", "import sys, autograder.checks; print(' '.join(sorted("
         "m for m in sys.modules if m.startswith(('autograder', 'pydantic', 'yaml')))))"],
        capture_output=True, text=True, check=True, cwd=REPO).stdout.split()
    assert out == ["autograder", "autograder.checks", "autograder.worker",
                   "autograder.worker.checks"]


@pytest.mark.worker
def test_every_check_is_reported_none_lost(with_checks: LoadedProblem, cache_dir: Path,
                                           validate_results: object) -> None:
    report = grade(EXAMPLES / "correct", [with_checks], GradeOptions(
        cache_dir=cache_dir, compile_cache=cache_dir.parent / "jax"))
    assert report.fault is None
    (problem,) = report.problems
    assert all(c.passed for c in problem.cases) and problem.structure is not None
    checks = {c.label: c for c in problem.checks}
    assert len(checks) == 7
    assert checks["The ensemble's members give different outputs"].passed
    sizes = checks["Every size gives a flat output"]
    assert not sizes.passed and sizes.feedback is not None  # a failing subTest fails it
    assert "(n=3)" in sizes.feedback.details and sizes.points == 0
    hidden = checks["test_hidden"]
    assert hidden.visibility == "hidden" and hidden.feedback is not None
    assert hidden.feedback.summary == "Something is off with seed 5."
    assert not hidden.feedback.details
    skipped = checks["test_skipped"]
    assert skipped.feedback is not None and skipped.feedback.id == "check-skipped"
    assert "not this term" in skipped.feedback.summary
    partial = checks["Half credit"]
    assert not partial.passed and partial.points == pytest.approx(1.0)
    for name in ("test_a", "test_b"):  # a class fixture's error fails each of its checks
        assert checks[name].feedback is not None
        assert "setUpClass failed" in checks[name].feedback.details
        assert "fixture exploded" in checks[name].feedback.details
    assert problem.max_points == 10 + 1 + 2 + 1 + 1 + 2 + 1 + 1
    assert problem.points == 10 + 1 + 1.0

    results = build_results(report)
    validate_results(results)  # type: ignore[operator]
    by_name = {t["name"]: t for t in results["tests"]}
    members = by_name["vmap_over_ensemble: The ensemble's members give different outputs"]
    assert members["number"] == "9.1" and "ensemble" in members["tags"]
    assert members["tags"][0] == "problem:vmap_over_ensemble"
    assert by_name["vmap_over_ensemble: test_hidden"]["visibility"] == "hidden"


@pytest.mark.worker
def test_checks_fail_with_the_reason_when_the_function_cannot_load(
        with_checks: LoadedProblem, cache_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "sub" / "solution.py"
    broken.parent.mkdir()
    broken.write_text("def vmap_over_ensemble(seed, x, num_models, features)\n")
    report = grade(broken, [with_checks], GradeOptions(cache_dir=cache_dir, visible_only=True))
    (problem,) = report.problems
    assert [c.label for c in problem.checks] == [  # visible only, none lost
        "The ensemble's members give different outputs", "Every size gives a flat output",
        "test_skipped", "Half credit", "test_a", "test_b"]
    reasons = {c.feedback.summary for c in problem.cases + problem.checks if c.feedback}
    assert len(reasons) == 1 and "line 1" in reasons.pop()  # the same reason on every test
