"""The terminal report: what a student or TA reads after ``autograder grade``.

Rendered with rich, which degrades to plain text when the output is not a terminal or when
``NO_COLOR`` is set, so the same code serves a colour terminal, a pipe and a CI log.
"""

from __future__ import annotations

from rich.console import Console
from rich.markdown import Markdown
from rich.table import Table

from autograder.gradescope.results import environment_lines
from autograder.grading.outcome import SubmissionResult, format_points


def print_report(report: SubmissionResult, console: Console, details: bool = True) -> None:
    table = Table(title="Grading summary", title_justify="left")
    table.add_column("problem")
    table.add_column("tests passed", justify="right")
    table.add_column("points", justify="right")
    table.add_column("first problem found")
    for problem in report.problems:
        passed = sum(c.passed for c in problem.tests)
        ids = [c.feedback.id for c in problem.tests if c.feedback is not None]
        status = f"[red]{ids[0]}[/]" if ids else "[green]all correct[/]"
        table.add_row(problem.problem.spec.function, f"{passed}/{len(problem.tests)}",
                      f"{format_points(problem.points)}/{format_points(problem.max_points)}",
                      status)
    console.print(table)
    console.print(f"[bold]Total: {format_points(report.points)} / "
                  f"{format_points(report.max_points)}[/]")
    env = environment_lines(report.environment)
    if env:
        console.print(env, style="dim")
    if report.environment.get("isolation"):
        console.print(str(report.environment["isolation"]), style="dim", markup=False)
    if report.fault:
        console.print("[bold red]The grader failed; results hold what was graded before:[/]")
        console.print(report.fault, markup=False)
    if not details:
        return
    for problem in report.problems:
        failed = [c for c in problem.tests if c.feedback is not None]
        if not failed:
            continue
        case = failed[0]
        assert case.feedback is not None
        console.rule(f"{problem.problem.spec.function}: {case.label} ({case.visibility})")
        if case.call:
            console.print(case.call, markup=False, highlight=False)
        console.print(Markdown(case.feedback.render()))
        for case in failed[1:]:
            assert case.feedback is not None
            console.print(f"  {case.label} ({case.visibility}): {case.feedback.id}",
                          markup=False, highlight=False)
