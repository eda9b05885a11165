"""``autograder report RESULTS_DIR``: what the class got wrong, as numbers a TA wants to read.

Reads the results of a regrade (``submissions/<id>/results.json`` with its record and its
unexplained answers, ``outputs.npz``), or any folder of Gradescope ``results.json`` files,
and adds them up: the points per problem, the class's misconceptions ranked (how many
submissions made each known mistake, and which), the answers no known mistake explains
grouped across the class (:mod:`.groups`), the pass rate of every case, the cases that fail
most and the grading time per submission. :func:`write_report` writes them as one
self-contained HTML page (:mod:`.report_page`), a page per submission
(:mod:`.submission_page`) and ``summary.json``; the headline numbers go to the terminal.
"""

from __future__ import annotations

import datetime
import json
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder.errors import GraderError
from autograder.files import PRIVATE, write_atomically
from autograder.staff.gradebook import RECORD, RESULTS, pitfalls, problem_points
from autograder.staff.groups import ClassAnswers, load_groups

SUMMARY = "summary.json"


@dataclass(frozen=True)
class TestOutcome:
    """One graded test of a submission (a case, the structure test, a custom check)."""

    problem: str
    name: str
    visibility: str
    passed: bool


@dataclass(frozen=True)
class GradedSubmission:
    """One submission as the analytics see it: its points per problem, its mistakes, its
    tests and how long it took to grade (from its results.json and regrade record)."""

    id: str
    names: str
    score: float
    max_score: float
    problems: Mapping[str, tuple[float, float]]
    pitfalls: tuple[str, ...]
    failed_tests: tuple[str, ...]
    seconds: float | None
    fault: bool
    tests: tuple[TestOutcome, ...] = ()


@dataclass(frozen=True)
class CaseRate:
    """How many submissions passed one test of a problem."""

    name: str
    visibility: str
    passed: int
    graded: int


@dataclass(frozen=True)
class ClassResults:
    """The graded submissions of a class, and what their numbers add up to."""

    submissions: tuple[GradedSubmission, ...]
    #: ``problem: pitfall`` -> the mistake's summary, when the problems are at hand.
    summaries: Mapping[str, str] = field(default_factory=dict)
    #: The unexplained answers, grouped (a regrade's folder only).
    answers: ClassAnswers = field(default_factory=lambda: ClassAnswers(()))
    #: Whether the submissions are a regrade's (each with a folder, and so a page).
    regraded: bool = False

    @property
    def functions(self) -> list[str]:
        return sorted({f for s in self.submissions for f in s.problems})

    def pitfall_counts(self, declared: bool | None = None) -> list[tuple[str, int]]:
        """How many submissions carry each ``problem: pitfall`` tag, most first; ``declared``
        keeps only the problems' known mistakes (True) or only generic failures (False)."""
        counts = Counter(p for s in self.submissions for p in s.pitfalls
                         if declared is None or not self.summaries
                         or (p in self.summaries) == declared)
        return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))

    def making(self, label: str) -> list[GradedSubmission]:
        """The submissions that carry the ``problem: pitfall`` tag ``label``."""
        return [s for s in self.submissions if label in s.pitfalls]

    def failing_tests(self) -> list[tuple[str, int]]:
        counts = Counter(t for s in self.submissions for t in s.failed_tests)
        return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))

    def case_rates(self) -> dict[str, list[CaseRate]]:
        """Per problem, every test's pass rate, in the order the tests come."""
        order: dict[str, dict[str, str]] = {}
        passed: Counter[tuple[str, str]] = Counter()
        graded: Counter[tuple[str, str]] = Counter()
        for submission in self.submissions:
            for test in submission.tests:
                order.setdefault(test.problem, {}).setdefault(test.name, test.visibility)
                graded[test.problem, test.name] += 1
                passed[test.problem, test.name] += test.passed
        return {problem: [CaseRate(name, visibility, passed[problem, name],
                                   graded[problem, name])
                          for name, visibility in names.items()]
                for problem, names in sorted(order.items())}

    def headline(self) -> dict[str, Any]:
        scores = [s.score for s in self.submissions]
        most = max((s.max_score for s in self.submissions), default=0.0)
        seconds = [s.seconds for s in self.submissions if s.seconds is not None]
        return {
            "submissions": len(scores),
            "max_score": most,
            "mean": round(statistics.fmean(scores), 2) if scores else 0.0,
            "median": statistics.median(scores) if scores else 0.0,
            "full_marks": sum(s.score >= s.max_score > 0 for s in self.submissions),
            "grader_faults": sum(s.fault for s in self.submissions),
            "top_pitfalls": self.pitfall_counts(declared=True)[:5],
            "median_seconds": round(statistics.median(seconds), 1) if seconds else None,
        }

    def summary(self) -> dict[str, Any]:
        """``summary.json``: the headline, the unexplained answers' groups (largest first),
        and every test's pass rate."""
        return {**self.headline(),
                "unexplained": [g.record() for g in self.answers.groups],
                "not_grouped": list(self.answers.missing),
                "cases": [{"problem": problem, "test": rate.name,
                           "visibility": rate.visibility, "passed": rate.passed,
                           "graded": rate.graded}
                          for problem, rates in self.case_rates().items() for rate in rates]}


def _submission(identifier: str, results: Mapping[str, Any],
                record: Mapping[str, Any]) -> GradedSubmission:
    points = problem_points(results)
    failed = []
    tests = []
    for test in results.get("tests", []):
        if float(test.get("max_score", 0)) <= 0:
            continue  # the staff summary, a grader fault's tests
        if test.get("status") == "failed":
            failed.append(str(test.get("name", "?")))
        problem = next((t.removeprefix("problem:") for t in test.get("tags", [])
                        if t.startswith("problem:")), "")
        tests.append(TestOutcome(problem, str(test.get("name", "?")),
                                 str(test.get("visibility", "visible")),
                                 test.get("status") == "passed"))
    seconds = record.get("seconds", results.get("execution_time"))
    people = record.get("submitters", [])
    return GradedSubmission(
        id=identifier, names="; ".join(p.get("name", "") for p in people) or identifier,
        score=float(results.get("score", 0)),
        max_score=sum(m for _, m in points.values()), problems=points,
        pitfalls=tuple(pitfalls(results)), failed_tests=tuple(failed),
        seconds=float(seconds) if seconds is not None else None,
        fault=bool(record.get("fault")) or any("grader-error" in t.get("tags", [])
                                                for t in results.get("tests", [])),
        tests=tuple(tests))


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def load(results_dir: Path, summaries: Mapping[str, str] | None = None) -> ClassResults:
    """The graded submissions under ``results_dir`` (a regrade's output, or results files)."""
    found: list[GradedSubmission] = []
    regraded = sorted((results_dir / "submissions").glob(f"*/{RESULTS}"))
    if regraded:
        for path in regraded:
            try:
                results = read_json(path)
                record_path = path.parent / RECORD
                record = read_json(record_path) if record_path.is_file() else {}
            except (OSError, ValueError):
                continue
            found.append(_submission(path.parent.name, results, record))
        return ClassResults(tuple(found), dict(summaries or {}), load_groups(results_dir),
                            regraded=True)
    for path in sorted(results_dir.rglob("*.json")):
        try:
            results = read_json(path)
        except (OSError, ValueError):
            continue
        if isinstance(results, dict) and "tests" in results:
            found.append(_submission(path.stem if path.stem != "results"
                                     else path.parent.name, results, {}))
    return ClassResults(tuple(found), dict(summaries or {}))


def headline_lines(graded: ClassResults) -> list[str]:
    """The headline numbers, as lines for the terminal."""
    head = graded.headline()
    lines = [f"{head['submissions']} submissions: mean {head['mean']:g} / {head['max_score']:g}, "
             f"median {head['median']:g}, {head['full_marks']} with full marks, "
             f"{head['grader_faults']} grader fault(s)"]
    if head["top_pitfalls"]:
        lines.append("Most common mistakes: " + ", ".join(
            f"{label} ({n})" for label, n in head["top_pitfalls"]))
    lines += unexplained_lines(graded.answers)
    if head["median_seconds"] is not None:
        lines.append(f"Median grading time: {head['median_seconds']:g} s per submission")
    return lines


def unexplained_lines(answers: ClassAnswers) -> list[str]:
    """What the terminal says of the answers no known mistake explains."""
    lines = []
    shared = [g for g in answers.groups if g.size > 1]
    alone = len(answers.groups) - len(shared)
    once = f"{alone} given by one submission each" if alone else "none given by one alone"
    if shared:
        top = shared[0]
        lines.append(f"Answers no known mistake explains: {len(shared)} shared by several "
                     f"submissions (the largest, {top.id}: {top.size} submissions, "
                     f"{top.describe()}), {once}")
    elif alone:
        lines.append(f"Answers no known mistake explains: none shared, {once}")
    if answers.missing:
        lines.append(f"{len(answers.missing)} submission(s) were graded before their outputs "
                     "were kept, so their answers are not grouped: run the regrade again "
                     "with --force")
    return lines


def mistake_summaries(problems: Sequence[Any]) -> dict[str, str]:
    """``function: id`` -> summary, for the problems' declared mistakes."""
    return {f"{p.spec.function}: {m.id}": m.summary for p in problems for m in p.spec.mistakes}


def write_report(results_dir: Path, page: Path, summaries: Mapping[str, str],
                 title: str, now: datetime.datetime | None = None) -> ClassResults:
    """Load the results under ``results_dir``; when there are any, write the HTML page to
    ``page``, a page per submission of a regrade (``submissions/<id>/index.html``) and the
    numbers to ``results_dir/summary.json``, all readable by their owner only. Returns
    what was loaded (no submissions: nothing was written)."""
    from autograder.staff import report_page, submission_page

    graded = load(results_dir, summaries)
    if not graded.submissions:
        return graded
    written = now or datetime.datetime.now().astimezone()
    try:
        text = report_page.render(graded, title, written, page.parent, results_dir)
    except ImportError:
        raise GraderError("the HTML report needs matplotlib: pip install "
                          "'flax-lift-autograder[ta]'") from None
    write_atomically(page, text, PRIVATE)
    if graded.regraded:
        submission_page.write_pages(results_dir, graded, page)
    write_atomically(results_dir / SUMMARY,
                     json.dumps(graded.summary(), indent=2, allow_nan=False) + "\n", PRIVATE)
    return graded
