"""The mutation analysis on the terminal: the table of mutants, what to do about each
survivor, the cases to add, and the count.

The count is one line, ``mutants: N generated, K caught by values, S caught only by the
structure test, U survived``, with ``, E equivalent`` after it when the spec declares some
mutants equivalent (never ``, 0 equivalent``).
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from autograder.staff import suggest
from autograder.staff.mutants import VERDICTS, Analysis, Graded


def summary_line(generated: int, values: int, structure: int, survived: int,
                 equivalent: int = 0) -> str:
    """``mutants: N generated, K caught by values, S caught only by the structure test, U
    survived``, and ``, E equivalent`` when some are declared equivalent."""
    line = (f"mutants: {generated} generated, {values} caught by values, {structure} caught "
            f"only by the structure test, {survived} survived")
    return line + (f", {equivalent} equivalent" if equivalent else "")


def analysis_line(analysis: Analysis) -> str:
    return summary_line(len(analysis.graded), analysis.count("values"),
                        analysis.count("structure"), analysis.count("survived"),
                        analysis.count("equivalent"))


def _caught_by(analysis: Analysis, graded: Graded, cover: Sequence[int]) -> str:
    if graded.verdict == "structure":
        return "the structure test"
    if not graded.failing:
        return "-"
    first = next((i for i in cover if i in graded.failing), graded.failing[0])
    more = len(graded.failing) - 1
    return analysis.problem.spec.case_label(first) + (f" (+{more} more)" if more else "")


def _verdict(graded: Graded) -> str:
    text = VERDICTS[graded.verdict]
    if graded.verdict == "values":
        return f"[green]{text}[/]" + (f" ({', '.join(graded.kinds)})" if graded.kinds else "")
    if graded.verdict == "structure":
        return f"[yellow]{text}[/]" + (f" ({', '.join(graded.kinds)})" if graded.kinds else "")
    if graded.verdict == "equivalent":
        return f"[blue]{text}[/]"
    return f"[red]{text}[/]" + (" (same outputs)" if graded.same_outputs else "")


def _survivor(analysis: Analysis, graded: Graded) -> str:
    """What a survivor is, and what to do about it."""
    spec_path = analysis.problem.spec_path
    lead = f"{graded.mutant.id} (line {graded.mutant.line}: {graded.mutant.change}): "
    lead += ("same outputs on every case" if graded.same_outputs else
             "passes every case, its outputs within the tolerance of the reference's")
    if graded.catching:
        first = analysis.candidates[graded.catching[0]]
        return (f"{lead}, but a variation of {analysis.problem.spec.case_label(first.source)} "
                f"catches it ({first.what}): add the case below")
    tried = (f"none of the {len(analysis.candidates)} variations of the cases (sizes of 1 "
             "made 3, shapes transposed, seeds of 0 made 1) catches it")
    if graded.same_outputs:
        return (f"{lead}: probably equivalent; {tried}. Declare it in {spec_path} "
                "(mutants: {equivalent: [{id: ..., why: ...}]}), saying why, or add a case "
                "that tells it apart")
    return f"{lead}; {tried}: add a case that tells it apart, or tighten the tolerance"


def print_analysis(analysis: Analysis, console: Console) -> None:
    """The table of mutants, the errors, what to do about each survivor, and the count."""
    problem = analysis.problem
    cover = analysis.cover
    table = Table(title=f"Mutants of {problem.id}", title_justify="left")
    for column in ("mutant", "what changed", "line", "verdict", "mistake", "caught by"):
        table.add_column(column, justify="right" if column == "line" else "left")
    for graded in analysis.graded:
        table.add_row(graded.mutant.id, graded.mutant.change, str(graded.mutant.line),
                      _verdict(graded), ", ".join(graded.mistakes) or "-",
                      _caught_by(analysis, graded, cover))
    console.print(table)
    say = console.print
    for error in analysis.errors:
        say("[red]error[/] ", end="")
        say(error, markup=False, highlight=False)
    for warning in analysis.warnings:
        say("[yellow]warning[/] ", end="")
        say(warning, markup=False, highlight=False)
    for graded in analysis.graded:
        if graded.verdict == "equivalent":
            say(f"equivalent {graded.mutant.id}: {graded.why}", markup=False, highlight=False)
        if graded.verdict == "survived":
            say("[red]survived[/] ", end="")
            say(_survivor(analysis, graded), markup=False, highlight=False)
    to_add = analysis.to_add
    if to_add:
        say(f"cases to add, under `cases:` of {problem.spec_path} (each catches the "
            "mutants named above it):", markup=False, highlight=False)
        for candidate, caught in to_add:
            say(f"  # catches {'; '.join(g.mutant.id for g in caught)}", markup=False,
                highlight=False)
            say(suggest.case_yaml(problem, candidate.case), markup=False, highlight=False,
                end="")
    if cover:
        say("cases that catch every mutant caught by values: "
            + ", ".join(problem.spec.case_label(i) for i in cover), markup=False,
            highlight=False)
    say(f"{problem.id}: {len(analysis.graded)} mutant(s) graded in {analysis.seconds:.0f} s "
        f"({analysis.jobs} at a time)", style="dim", highlight=False)
    say(analysis_line(analysis), style="bold green" if analysis.ok else "bold red",
        highlight=False, soft_wrap=True)


def print_analyses(analyses: Sequence[Analysis], console: Console) -> None:
    for analysis in analyses:
        print_analysis(analysis, console)
    if len(analyses) > 1:
        total = summary_line(*(sum(x) for x in zip(*(
            (len(a.graded), a.count("values"), a.count("structure"), a.count("survived"),
             a.count("equivalent")) for a in analyses), strict=True)))
        ok = all(a.ok for a in analyses)
        console.print(f"{len(analyses)} problems: {total}",
                      style="bold green" if ok else "bold red", highlight=False, soft_wrap=True)
