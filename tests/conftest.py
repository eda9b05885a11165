"""Shared fixtures: the real problems, a session-wide expected-output cache, and a helper
that grades a small submission written inline, through the real engine and real workers.

Only fixtures live here; the helpers and sources tests share are in ``tests/support.py``."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from autograder.cli.main import ExitStatus
from autograder.grading.engine import GradeOptions, grade
from autograder.grading.outcome import SubmissionResult
from autograder.spec import LoadedProblem, load_problem, load_problems
from tests.support import (
    EXAMPLES,
    PROBLEMS,
    SCHEMA,
    GradeFiles,
    run_check,
    runtime_unreachable,
    write_files,
)


@pytest.fixture(scope="session", autouse=True)
def student_user_can_run_python() -> None:
    """As root (CI, Gradescope) student code runs as an unprivileged user, which must be
    able to reach the interpreter. The tests change no permissions: ``make test`` runs
    ``python -m autograder harden --runtime-only`` first (as setup.sh runs ``harden``), and
    this fails, naming that command, where the way to Python is still private (pyenv in
    /root), rather than let student code run as root unnoticed."""
    if (problem := runtime_unreachable()) is not None:
        pytest.fail(problem, pytrace=False)


@pytest.fixture(scope="session")
def problems() -> dict[str, LoadedProblem]:
    return {p.spec.function: p for p in load_problems(PROBLEMS)}


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One expected-output cache for the whole run: each reference runs once per session.
    ``make test`` points ``AUTOGRADER_CACHE`` at the cache ``validate`` just filled (its
    entries are fingerprinted and digest-checked, so sharing them is safe), so the
    references are computed and compiled once for both."""
    shared = os.environ.get("AUTOGRADER_CACHE")
    if shared:
        Path(shared).mkdir(parents=True, exist_ok=True)
        return Path(shared)
    return tmp_path_factory.mktemp("expected-cache")


@pytest.fixture(scope="module")
def problems_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bank of one real problem (vmap_over_batch), with a short time limit so that a
    hang costs seconds (the regrade tests')."""
    root = tmp_path_factory.mktemp("problems")
    target = shutil.copytree(PROBLEMS / "vmap_over_batch", root / "vmap_over_batch",
                             ignore=shutil.ignore_patterns("__pycache__"))
    spec = target / "problem.yaml"
    spec.write_text(spec.read_text().replace("time_limit: 60", "time_limit: 2"))
    return root


@pytest.fixture(scope="session")
def results_schema() -> dict[str, object]:
    schema: dict[str, object] = json.loads(SCHEMA.read_text())
    return schema


@pytest.fixture
def validate_results(results_schema: dict[str, object]) -> Callable[[object], None]:
    def check(results: object) -> None:
        jsonschema.validate(results, results_schema)

    return check


@pytest.fixture
def grade_files(tmp_path: Path, problems: dict[str, LoadedProblem],
                cache_dir: Path) -> GradeFiles:
    """``grade_files({"solution.py": SOURCE}, "vmap_over_batch", ...)`` -> SubmissionResult."""

    def run(files: Mapping[str, str], *functions: str,
            problem_dirs: tuple[LoadedProblem, ...] = (), visible_only: bool = False,
            **options: Any) -> SubmissionResult:
        submission = write_files(tmp_path / "submission", files)
        chosen = [problems[f] for f in functions] + list(problem_dirs)
        return grade(submission, chosen, GradeOptions(
            cache_dir=cache_dir, compile_cache=cache_dir.parent / "jax",
            visible_only=visible_only, **options))

    return run


@pytest.fixture
def short_time_limit(tmp_path: Path, problems: dict[str, LoadedProblem]
                     ) -> Callable[[str, float], LoadedProblem]:
    """A copy of a real problem whose per-call time limit is ``seconds`` (for time-outs)."""

    def make(function: str, seconds: float) -> LoadedProblem:
        source = problems[function].directory
        target = tmp_path / "problems" / source.name
        shutil.copytree(source, target)
        spec = target / "problem.yaml"
        text = spec.read_text()
        assert "time_limit: 60" in text
        spec.write_text(text.replace("time_limit: 60", f"time_limit: {seconds}"))
        return load_problem(target)

    return make


@pytest.fixture(scope="session")
def mistakes_json(cache_dir: Path) -> dict[str, Any]:
    """``autograder check examples/classic-mistakes --json`` from the checkout."""
    status, out = run_check(str(EXAMPLES / "classic-mistakes"), "--json", cache=cache_dir)
    assert status == ExitStatus.FAILURE
    data: dict[str, Any] = json.loads(out)
    return data
