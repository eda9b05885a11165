"""The student's pre-submission check: ``autograder check PATH``.

It grades the visible cases with the same engine, diagnosis and messages as Gradescope, and
reports for a terminal (or as JSON). Installed from the student kit it checks against the
kit's shipped expected outputs; in a checkout, against the problems' references.
"""

from __future__ import annotations

import difflib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markdown import Markdown

from autograder.errors import UsageError
from autograder.gradescope.results import case_tags
from autograder.grading.outcome import CaseResult, ProblemResult, SubmissionResult, format_points
from autograder.grading.references import ReferenceSource
from autograder.spec import LoadedProblem, load_problems
from autograder.student.kit import KIT_DATA, is_kit, load_kit, pinned_versions, version_warning


@dataclass(frozen=True)
class Target:
    """What a submission is checked against."""

    problems: tuple[LoadedProblem, ...]
    #: The kit's shipped outputs; None runs the problems' references (a checkout).
    references: ReferenceSource | None
    #: The versions the expected outputs belong to (the grader's pins).
    grader_versions: Mapping[str, str]


def find_target(problems_dir: Path | None, checkout_problems: Path) -> Target:
    """The kit's problems when installed from the kit (or ``problems_dir`` is a kit's data),
    else a checkout's problems folder."""
    directory = problems_dir or (KIT_DATA if is_kit(KIT_DATA) else checkout_problems)
    if is_kit(directory):
        kit = load_kit(directory)
        return Target(kit.problems, kit.references, dict(kit.manifest.get("versions", {})))
    if not directory.is_dir():
        raise UsageError(f"no problems folder at {directory}: pass --problems DIR")
    return Target(tuple(load_problems(directory)), None,
                  pinned_versions(checkout_problems.parent))


def select(problems: Sequence[LoadedProblem], names: Sequence[str]) -> tuple[LoadedProblem, ...]:
    """The problems named (by function or folder name), in the order given."""
    if not names:
        return tuple(problems)
    by_name = {p.spec.function: p for p in problems} | {p.id: p for p in problems}
    chosen = []
    for name in names:
        if name not in by_name:
            close = difflib.get_close_matches(name, list(by_name), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            known = ", ".join(sorted(p.spec.function for p in problems))
            raise UsageError(f"no exercise {name!r}{hint} (the exercises: {known})")
        if by_name[name] not in chosen:
            chosen.append(by_name[name])
    return tuple(chosen)


def warnings_for(report: SubmissionResult, target: Target) -> list[str]:
    student = report.environment.get("versions", {})
    warning = version_warning(target.grader_versions, student)
    return [warning] if warning else []


def passed(report: SubmissionResult) -> bool:
    return report.fault is None and all(c.passed for p in report.problems for c in p.tests)


def _failed_groups(problem: ProblemResult) -> list[list[CaseResult]]:
    """The failed tests, grouped by what went wrong (first occurrence first)."""
    groups: dict[str, list[CaseResult]] = {}
    for case in problem.tests:
        if case.feedback is not None:
            groups.setdefault(case.feedback.id, []).append(case)
    return list(groups.values())


def print_check(report: SubmissionResult, console: Console, submission: Path,
                warnings: Sequence[str]) -> None:
    """One line per exercise, then each distinct failure: the diagnosis and the numbers."""
    console.print(f"Checking [bold]{submission}[/] on the visible cases", highlight=False)
    width = max((len(p.problem.spec.function) for p in report.problems), default=0)
    for problem in report.problems:
        ok = all(c.passed for c in problem.tests)
        mark = "[green]✓ passed[/]" if ok else "[red]✗ failed[/]"
        points = f"{format_points(problem.points)}/{format_points(problem.max_points)} points"
        groups = _failed_groups(problem)
        why = "" if ok else "  " + ", ".join(
            f"{g[0].feedback.id} ({len(g)} of {len(problem.tests)} tests)"
            for g in groups if g[0].feedback is not None)
        console.print(f"{mark}  {problem.problem.spec.function:<{width}}  {points}{why}",
                      highlight=False)
    for problem in report.problems:
        for group in _failed_groups(problem):
            first = group[0]
            assert first.feedback is not None
            console.rule(f"{problem.problem.spec.function}: {first.label}", align="left")
            if first.call:
                console.print(first.call, markup=False, highlight=False, style="dim")
            console.print(Markdown(first.feedback.render()))
            if first.printed:
                console.print("Your code printed:", style="bold")
                console.print(first.printed, markup=False, highlight=False)
            if len(group) > 1:
                console.print("The same on: " + ", ".join(c.label for c in group[1:]),
                              markup=False, highlight=False)
            for note in problem.notes:
                console.print(f"Note: {note}", markup=False, highlight=False)
    if report.fault:
        console.print("[bold red]The check itself failed (this is not a problem with your "
                      "code):[/]")
        console.print(report.fault, markup=False, highlight=False)
    total = sum(len(p.tests) for p in report.problems)
    good = sum(c.passed for p in report.problems for c in p.tests)
    console.rule()
    style = "green" if passed(report) else "red"
    console.print(f"[bold {style}]{good} of {total} visible tests passed[/], "
                  f"{format_points(report.points)}/{format_points(report.max_points)} points. "
                  "Gradescope also runs hidden cases.", highlight=False)
    for warning in warnings:
        console.print(f"[bold yellow]Warning:[/] {warning}", highlight=False)


def _case_data(problem: ProblemResult, case: CaseResult) -> dict[str, Any]:
    fb = case.feedback
    return {
        "label": case.label, "visibility": case.visibility, "call": case.call,
        "passed": case.passed, "points": case.points, "max_points": case.max_points,
        "tags": case_tags(problem, case),  # as in Gradescope's results.json
        "feedback": None if fb is None else {"id": fb.id, "summary": fb.summary,
                                             "details": fb.details, "text": fb.render()},
        "printed": case.printed,
    }


def check_data(report: SubmissionResult, submission: Path,
               warnings: Sequence[str]) -> dict[str, Any]:
    """The check's outcome as JSON-ready data (what ``--json`` prints)."""
    return {
        "submission": str(submission),
        "passed": passed(report),
        "points": report.points,
        "max_points": report.max_points,
        "problems": [{
            "function": p.problem.spec.function, "title": p.problem.spec.title,
            "passed": all(c.passed for c in p.tests), "points": p.points,
            "max_points": p.max_points, "notes": list(p.notes),
            "tests": [_case_data(p, c) for c in p.tests],
        } for p in report.problems],
        "warnings": list(warnings),
        "versions": dict(report.environment.get("versions", {})),
        "fault": report.fault,
        "seconds": round(report.seconds, 2),
    }


def print_json(data: Mapping[str, Any], console: Console) -> None:
    console.out(json.dumps(data, indent=2), highlight=False)


# -- watching -------------------------------------------------------------------------------

_IGNORED = frozenset({"__pycache__", ".ipynb_checkpoints", ".git", ".venv"})


def snapshot(path: Path) -> dict[str, tuple[int, int]]:
    """The modification time and size of every submission file below ``path``."""
    files = [path] if path.is_file() else [
        p for p in path.rglob("*") if p.is_file() and not _IGNORED.intersection(p.parts)
        and p.suffix in (".py", ".ipynb")]
    state = {}
    for file in files:
        try:
            info = file.stat()
        except OSError:
            continue
        state[str(file)] = (info.st_mtime_ns, info.st_size)
    return state


def watch(path: Path, run: Callable[[], int], console: Console, poll: float = 0.5,
          keep_going: Callable[[], bool] = lambda: True) -> int:
    """Run ``run`` now and again after every change below ``path``, until Ctrl-C (or
    ``keep_going`` says stop); the status of the last run."""
    status = run()
    seen = snapshot(path)
    console.print(f"Watching {path} for changes (Ctrl-C to stop)...", style="dim",
                  highlight=False)
    try:
        while keep_going():
            time.sleep(poll)
            now = snapshot(path)
            if now == seen:
                continue
            time.sleep(poll)  # let an editor finish writing
            seen = snapshot(path)
            console.rule("changed: checking again")
            status = run()
            console.print(f"Watching {path} for changes (Ctrl-C to stop)...", style="dim",
                          highlight=False)
    except KeyboardInterrupt:
        console.print("Stopped watching.", style="dim")
    return status
