"""The Gradescope front door: grade one submission and always leave a valid ``results.json``.

``autograder grade`` and ``autograder gradescope`` (what ``run_autograder`` calls) come here.
Whatever fails on the trusted side (a malformed spec, a trusted worker, a hang stopped by the
alarm), the results file is still written: the problems graded before the fault, then a
visible "the autograder failed, contact staff" test and a hidden one with the traceback.
"""

from __future__ import annotations

import signal
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from autograder.errors import GraderError
from autograder.gradescope.results import build_results, failure_results, write_results
from autograder.grading.engine import GradeOptions, grade
from autograder.grading.outcome import ProblemResult, SubmissionResult
from autograder.spec.assignment import IN_ZIP, select_problems

#: Seconds the alarm allows past the time budget: the engine stops itself at the budget,
#: the alarm only catches a hang on the trusted side, still before Gradescope's own limit
#: (which would leave the student with nothing but a zero).
ALARM_GRACE = 30


@dataclass(frozen=True)
class Layout:
    """Where a Gradescope run reads and writes. Everything is under ``root``
    (``/autograder``) by default and each path can be moved, so tests run a whole
    Gradescope tree in a temporary folder."""

    root: Path
    problems: Path
    cache: Path
    #: The assignment the zip was built for (its order and points); None grades the
    #: problems folder as it is.
    assignment: Path | None = None

    @classmethod
    def under(cls, root: Path, problems: Path | None = None,
              cache: Path | None = None) -> Layout:
        """Gradescope's layout below ``root``: the zip unpacked in ``source`` (with the
        caches ``setup.sh`` warmed, and the assignment it was built for, if it was), the
        submission, the results folder."""
        assignment = root / "source" / IN_ZIP
        return cls(root, problems or root / "source" / "problems",
                   cache or root / "source" / ".cache" / "expected",
                   assignment if assignment.is_file() else None)

    @property
    def submission(self) -> Path:
        return self.root / "submission"

    @property
    def results(self) -> Path:
        return self.root / "results" / "results.json"


@dataclass(frozen=True)
class Graded:
    """What :func:`grade_to` did: the results file it wrote, the report when grading
    finished, and what to tell the terminal when the grader failed."""

    results_path: Path
    #: None when the grader failed (the results file then holds what was graded before).
    report: SubmissionResult | None
    #: A grader fault's message, or the traceback of an unexpected error; None if none.
    failure: str | None = None


def grade_to(submission: Path, problems_dir: Path, results_path: Path,
             options: GradeOptions, assignment: Path | None = None) -> Graded:
    """Grade ``submission`` against the problems of ``problems_dir`` (those of
    ``assignment`` only, in its order and worth its points, when given) and write
    ``results_path``; any fault of the grader still yields a valid results file, with every
    problem graded before the fault.

    Raises :class:`GraderError` only when the results file itself cannot be written."""
    graded: list[ProblemResult] = []
    start = time.monotonic()
    report: SubmissionResult | None = None
    failure = None
    try:
        problems = select_problems(problems_dir, assignment)
        report = grade(submission, problems, options, graded=graded)
        results = build_results(report)
    except Exception as exc:
        detail = traceback.format_exc()
        failure = str(exc) if isinstance(exc, GraderError) else detail
        partial = SubmissionResult(tuple(graded), {}, time.monotonic() - start, detail)
        results = build_results(partial) if graded else failure_results(detail)
        report = None
    try:
        write_results(results_path, results)
    except OSError as exc:
        raise GraderError(f"cannot write {results_path}: {exc}") from exc
    return Graded(results_path, report, failure)


def out_of_time(signum: int, frame: object) -> None:
    """The alarm's handler: stop grading with a grader fault (results are still written)."""
    raise GraderError("the grader ran past its overall time budget and was stopped")


@contextmanager
def alarm(seconds: float) -> Iterator[None]:
    """Raise :func:`out_of_time`'s fault in this (the main) thread after ``seconds`` plus
    :data:`ALARM_GRACE`, whatever hangs; the previous handler is restored on the way out."""
    previous = signal.signal(signal.SIGALRM, out_of_time)
    signal.alarm(int(seconds) + ALARM_GRACE)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def run_gradescope(layout: Layout, options: GradeOptions) -> Graded:
    """Grade ``layout.submission`` into ``layout.results`` with the expected outputs of
    ``layout.cache``, backed by the alarm when ``options`` has a time budget."""
    options = replace(options, cache_dir=layout.cache)
    if options.time_budget is None:
        return grade_to(layout.submission, layout.problems, layout.results, options,
                        layout.assignment)
    with alarm(options.time_budget):
        return grade_to(layout.submission, layout.problems, layout.results, options,
                        layout.assignment)
