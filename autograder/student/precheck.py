"""The student's pre-submission check: ``autograder check PATH``.

It grades the visible cases with the same engine, diagnosis and messages as Gradescope, and
reports for a terminal (or as JSON). Installed from the student kit it checks against the
kit's shipped expected outputs; in a checkout, against the problems' references.

A student works through the exercises one at a time, so the check grades the exercises a
submission *attempts* and reports the others as not attempted: a function that is not
defined anywhere, or is still the starter's stub (its body, after the docstring, only
``raise NotImplementedError(...)``, ``pass`` or ``...``). It passes when every attempted
exercise passes; ``--all`` (and ``--problem NAME``) grade every exercise asked for, missing
or not, as Gradescope does. A submission that attempts none fails, saying which functions
are expected.
"""

from __future__ import annotations

import ast
import difflib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markdown import Markdown

from autograder.errors import GraderError, UsageError
from autograder.files import parse_python
from autograder.gradescope.results import case_tags
from autograder.grading.cache import compile_cache_beside, default_cache_dir
from autograder.grading.engine import GradeOptions, grade
from autograder.grading.outcome import CaseResult, ProblemResult, SubmissionResult, format_points
from autograder.grading.references import ReferenceSource
from autograder.grading.submission import Submission, scan_submission
from autograder.spec import LoadedProblem, load_problems
from autograder.spec.assignment import load_assignment
from autograder.student.kit import KIT_DATA, is_kit, load_kit, pinned_versions, version_warning
from autograder.student.statement import in_course_order

#: A checkout's problems (what ``autograder check`` checks against outside the kit).
CHECKOUT_PROBLEMS = Path(__file__).resolve().parents[2] / "problems"


@dataclass(frozen=True)
class Target:
    """What a submission is checked against."""

    #: In the order students meet them (the kit's, or the course's in a checkout).
    problems: tuple[LoadedProblem, ...]
    #: The kit's shipped outputs; None runs the problems' references (a checkout).
    references: ReferenceSource | None
    #: The versions the expected outputs belong to (the grader's pins).
    grader_versions: Mapping[str, str]
    #: Each exercise's points in all, hidden tests included (by function).
    totals: Mapping[str, float] = field(default_factory=dict)


def find_target(problems_dir: Path | None, checkout_problems: Path,
                assignment: Path | None = None) -> Target:
    """The kit's problems when installed from the kit (or ``problems_dir`` is a kit's data),
    else a checkout's problems folder: ``assignment``'s problems when given, in its order."""
    directory = problems_dir or (KIT_DATA if is_kit(KIT_DATA) else checkout_problems)
    if is_kit(directory):
        kit = load_kit(directory)
        shipped = kit.manifest.get("problems", {})
        totals = {p.spec.function: float(shipped.get(p.id, {}).get("points", p.spec.points))
                  for p in kit.problems}
        return Target(kit.problems, kit.references, dict(kit.manifest.get("versions", {})),
                      totals)
    if not directory.is_dir():
        raise UsageError(f"no problems folder at {directory}: pass --problems DIR")
    problems = (tuple(load_assignment(assignment, directory)) if assignment
                else in_course_order(load_problems(directory)))
    return Target(problems, None, pinned_versions(checkout_problems.parent),
                  {p.spec.function: p.spec.points for p in problems})


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
            known = ", ".join(p.spec.function for p in problems)
            raise UsageError(f"no exercise {name!r}{hint} (the exercises: {known})")
        if by_name[name] not in chosen:
            chosen.append(by_name[name])
    return tuple(chosen)


# -- what the student attempted ------------------------------------------------------------

#: Why an exercise is not attempted (the reasons ``not_attempted`` gives).
MISSING = "no such function yet"
STUB = "still the starter stub"


def _docstring_dropped(body: list[ast.stmt]) -> list[ast.stmt]:
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        return body[1:]
    return body


def _is_stub(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """The body is still a starter's: nothing but ``raise NotImplementedError(...)``,
    ``pass`` or ``...`` (after its docstring)."""
    def placeholder(statement: ast.stmt) -> bool:
        if isinstance(statement, ast.Pass):
            return True
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
            return statement.value.value is Ellipsis
        if isinstance(statement, ast.Raise) and statement.exc is not None:
            raised = statement.exc.func if isinstance(statement.exc, ast.Call) else statement.exc
            return isinstance(raised, ast.Name) and raised.id == "NotImplementedError"
        return False

    return all(placeholder(s) for s in _docstring_dropped(function.body))


def _top_level_definition(source: str, name: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """The last top-level ``def name`` of ``source`` (the one Python keeps), or None."""
    try:
        tree = parse_python(source)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    found = [node for node in tree.body if isinstance(node, ast.FunctionDef
                                                       | ast.AsyncFunctionDef)
             and node.name == name]
    return found[-1] if found else None


def not_attempted(submission: Submission,
                  problems: Sequence[LoadedProblem]) -> dict[str, str]:
    """The exercises of ``problems`` the submission does not attempt, and why: no function
    of that name anywhere (and no file the grader cannot read, whose error it must see), or
    a function still the starter's stub (its body only ``raise NotImplementedError``, ``pass``
    or ``...``). Read on the trusted side with ``ast``; nothing is run."""
    sources: dict[str, str] | None = None
    skipped = {}
    for problem in problems:
        function = problem.spec.function
        found = submission.locate(function)
        if found is None:
            skipped[function] = MISSING
            continue
        if function not in found.defines:
            continue  # a file that does not parse: graded, so its error is reported
        sources = submission.sources() if sources is None else sources
        definition = _top_level_definition(sources.get(found.relative, ""), function)
        if definition is not None and _is_stub(definition):
            skipped[function] = STUB
    return skipped


# -- the check -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Checked:
    """One check's outcome: what was graded, and what was not attempted."""

    report: SubmissionResult
    #: The exercises asked for, in order (graded or not attempted).
    problems: tuple[LoadedProblem, ...]
    #: Not attempted, by function: why.
    skipped: Mapping[str, str]
    #: Each exercise's points in all (hidden tests included), by function.
    totals: Mapping[str, float]
    warnings: tuple[str, ...] = ()

    def graded(self, function: str) -> ProblemResult | None:
        return next((p for p in self.report.problems if p.problem.spec.function == function),
                    None)

    @property
    def attempted(self) -> bool:
        return bool(self.report.problems)

    @property
    def passed(self) -> bool:
        """Every attempted exercise passed every visible test (and one was attempted)."""
        return self.attempted and passed(self.report)

    @property
    def total(self) -> float:
        """The points in all of the graded exercises."""
        return sum(self.totals.get(p.problem.spec.function, p.max_points)
                   for p in self.report.problems)


def check_options(target: Target, env: Mapping[str, str],
                  memory_limit: int | None = None) -> GradeOptions:
    """How the check grades: the visible cases, against the kit's outputs or a cache of the
    references' (a checkout), with JAX's compilation cache beside it."""
    cache = default_cache_dir(env)
    return GradeOptions(visible_only=True, grader_env=env,
                        cache_dir=None if target.references is not None else cache,
                        compile_cache=compile_cache_beside(cache), memory_limit=memory_limit)


def run_check(submission: Path, target: Target, problems: Sequence[LoadedProblem],
              options: GradeOptions, require_all: bool = False) -> Checked:
    """Check ``submission`` on the visible cases of ``problems``: the exercises it attempts
    (every one of ``problems`` when ``require_all``), through the grading engine."""
    skipped = {} if require_all else not_attempted(scan_submission(submission), problems)
    attempted = [p for p in problems if p.spec.function not in skipped]
    options = replace(options, other_exercises=frozenset(
        p.spec.function for p in target.problems))
    if attempted:
        try:
            report = grade(submission, attempted, options, target.references)
        except GraderError as exc:
            raise GraderError(f"the check itself failed: {exc}") from exc
    else:
        report = SubmissionResult((), {}, 0.0)
    return Checked(report, tuple(problems), skipped, dict(target.totals),
                   tuple(warnings_for(report, target)))


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


def _call(problem: LoadedProblem) -> str:
    return f"{problem.spec.function}({', '.join(p.name for p in problem.spec.parameters)})"


def visible_points(points: float, visible: float, total: float) -> str:
    """``5/5 visible points (10 in all)``."""
    return (f"{format_points(points)}/{format_points(visible)} visible points "
            f"({format_points(total)} in all)")


def nothing_attempted(checked: Checked, name: str) -> str:
    """Why a check that graded nothing had nothing to grade, and what to do."""
    stubs = [f for f, why in checked.skipped.items() if why == STUB]
    expected = ", ".join(f"`{_call(p)}`" for p in checked.problems)
    if stubs:
        return (f"Nothing to check yet in {name}: {', '.join(stubs)} "
                f"{'is' if len(stubs) == 1 else 'are'} still the starter stub. Replace the "
                f"`raise NotImplementedError` line of one with your solution, then check "
                f"again. The exercises: {expected}.")
    return (f"Nothing to check in {name}: it defines none of the exercises' functions. "
            f"Define at least one of these at the top level of a .py file or notebook, with "
            f"exactly this name: {expected} (`autograder start` writes a starter for each).")


def print_check(checked: Checked, console: Console, name: str) -> None:
    """One line per exercise (passed, failed or not attempted), then each distinct
    failure: the diagnosis and the numbers."""
    report = checked.report
    console.print(f"Checking [bold]{name}[/] on the visible cases", highlight=False)
    width = max((len(p.spec.function) for p in checked.problems), default=0)
    for problem in checked.problems:
        function = problem.spec.function
        total = checked.totals.get(function, problem.spec.points)
        result = checked.graded(function)
        if result is None:
            why = checked.skipped.get(function, "not graded")
            console.print(f"[dim]- not attempted  {function:<{width}}  {why} "
                          f"({format_points(total)} points in all)[/]", highlight=False,
                          soft_wrap=True)
            continue
        ok = all(c.passed for c in result.tests)
        mark = "[green]✓ passed       [/]" if ok else "[red]✗ failed       [/]"
        groups = _failed_groups(result)
        why = "" if ok else "  " + ", ".join(
            f"{g[0].feedback.id} ({len(g)} of {len(result.tests)} tests)"
            for g in groups if g[0].feedback is not None)
        console.print(f"{mark}  {function:<{width}}  "
                      f"{visible_points(result.points, result.max_points, total)}{why}",
                      highlight=False, soft_wrap=True)
    for graded in report.problems:
        for group in _failed_groups(graded):
            first = group[0]
            assert first.feedback is not None
            console.rule(f"{graded.problem.spec.function}: {first.label}", align="left")
            if first.call:
                console.print(first.call, markup=False, highlight=False, style="dim")
            console.print(Markdown(first.feedback.render()))
            if first.printed:
                console.print("Your code printed:", style="bold")
                console.print(first.printed, markup=False, highlight=False)
            if len(group) > 1:
                console.print("The same on: " + ", ".join(c.label for c in group[1:]),
                              markup=False, highlight=False)
            for note in graded.notes:
                console.print(f"Note: {note}", markup=False, highlight=False)
    if report.fault:
        console.print("[bold red]The check itself failed (this is not a problem with your "
                      "code):[/]")
        console.print(report.fault, markup=False, highlight=False)
    console.rule()
    if not checked.attempted:
        console.print(nothing_attempted(checked, name), style="bold red", markup=False,
                      highlight=False)
        return
    total = sum(len(p.tests) for p in report.problems)
    good = sum(c.passed for p in report.problems for c in p.tests)
    style = "green" if checked.passed else "red"
    console.print(f"[bold {style}]{good} of {total} visible tests passed[/], "
                  f"{format_points(report.points)}/{format_points(report.max_points)} visible "
                  f"points ({format_points(checked.total)} in all; hidden tests are graded on "
                  "Gradescope).", highlight=False, soft_wrap=True)
    if checked.skipped:
        more = sum(checked.totals.get(f, 0.0) for f in checked.skipped)
        count = len(checked.skipped)
        console.print(f"{count} exercise{'s' if count > 1 else ''} not attempted "
                      f"({format_points(more)} more points in all): `--all` checks every "
                      "exercise, as Gradescope does.", markup=False, highlight=False,
                      soft_wrap=True)
    for warning in checked.warnings:
        console.print(f"[bold yellow]Warning:[/] {warning}", highlight=False)


def _messages(problem: ProblemResult) -> tuple[list[dict[str, Any]], dict[int, dict[str, Any]]]:
    """Each distinct message of a problem's failed tests once (its id and summary, with the
    details of the first test that has it), and each failed test's feedback by its position:
    the message's index, and its own details only where they differ (another case's
    numbers)."""
    messages: list[dict[str, Any]] = []
    seen: dict[tuple[str, str], int] = {}
    feedback: dict[int, dict[str, Any]] = {}
    for position, case in enumerate(problem.tests):
        fb = case.feedback
        if fb is None:
            continue
        key = (fb.id, fb.summary)
        if key not in seen:
            seen[key] = len(messages)
            messages.append({"id": fb.id, "summary": fb.summary, "details": fb.details,
                             "tests": []})
        message = messages[seen[key]]
        message["tests"].append(case.label)
        feedback[position] = {"id": fb.id, "message": seen[key]}
        if fb.details != message["details"]:
            feedback[position]["details"] = fb.details
    return messages, feedback


def _problem_data(checked: Checked, problem: LoadedProblem) -> dict[str, Any]:
    function = problem.spec.function
    total = checked.totals.get(function, problem.spec.points)
    result = checked.graded(function)
    if result is None:
        return {"function": function, "title": problem.spec.title, "status": "not attempted",
                "reason": checked.skipped.get(function), "points": None, "max_points": None,
                "total_points": total, "notes": [], "messages": [], "tests": []}
    messages, feedback = _messages(result)
    ok = all(c.passed for c in result.tests)
    return {
        "function": function, "title": problem.spec.title,
        "status": "passed" if ok else "failed", "reason": None,
        "points": result.points, "max_points": result.max_points, "total_points": total,
        "notes": list(result.notes),
        # Each message once; a test names its message by its index here.
        "messages": messages,
        "tests": [{
            "label": case.label, "visibility": case.visibility, "call": case.call,
            "passed": case.passed, "points": case.points, "max_points": case.max_points,
            "tags": case_tags(result, case),  # as in Gradescope's results.json
            "feedback": feedback.get(position),
            "printed": case.printed,
        } for position, case in enumerate(result.tests)],
    }


def check_data(checked: Checked, name: str) -> dict[str, Any]:
    """The check's outcome as JSON-ready data (what ``--json`` prints)."""
    report = checked.report
    return {
        "submission": name,
        "passed": checked.passed,
        "points": report.points,
        "max_points": report.max_points,
        "total_points": checked.total,
        "problems": [_problem_data(checked, p) for p in checked.problems],
        "not_attempted": list(checked.skipped),
        "message": None if checked.attempted else nothing_attempted(checked, name),
        "warnings": list(checked.warnings),
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
