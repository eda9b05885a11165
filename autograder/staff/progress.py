"""Progress bars of the staff's long commands, on the console: validate's steps, the
mutants graded, and the regrade's (from the start: the references warmed, then the
submissions with done/total, rate per minute and time left)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from autograder.staff.regrade import Outcome


@contextmanager
def validate_progress(console: Console, total: int) -> Iterator[Callable[[Path, str], None]]:
    """A transient bar of ``total`` steps; yields the ``on_step(directory, what)`` that
    names and counts each step."""
    columns = (TextColumn("{task.description}"), BarColumn(),
               TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("validating", total=total)

        def on_step(directory: Path, what: str) -> None:
            progress.update(task, description=f"{directory.name}: {what}")
            progress.advance(task)

        yield on_step


class _PerMinute(ProgressColumn):
    def render(self, task: Task) -> Text:
        if task.fields.get("warming"):
            return Text("")
        speed = task.finished_speed or task.speed
        return Text(f"{speed * 60:.1f}/min" if speed else "-/min", style="progress.data.speed")


class _Left(ProgressColumn):
    """The time left of the grading (nothing while references are warmed: unknown)."""

    def __init__(self) -> None:
        super().__init__()
        self.remaining = TimeRemainingColumn()

    def render(self, task: Task) -> Text:
        if task.fields.get("warming"):
            return Text("")
        return Text.assemble("left ", self.remaining.render(task))


@dataclass
class RegradeProgress:
    progress: Progress
    task: TaskID | None = None
    warm: TaskID | None = None

    def warming(self, problems: int) -> None:
        """A bar for the references' outputs and programs, shown before the first one is
        ready (they take the first minute of a regrade)."""
        self.warm = self.progress.add_task("warming references", total=problems,
                                           warming=True)

    def warmed(self, problem: str) -> None:
        if self.warm is not None:
            task = self.progress.tasks[self.warm]
            done = task.completed + 1 >= (task.total or 0)
            self.progress.update(self.warm, advance=1, description=(
                "references warmed" if done else f"warming references ({problem} ready)"))

    def start(self, todo: int, done: int) -> None:
        self.progress.console.print(f"{todo} submission(s) to grade"
                                    + (f", {done} already graded (resumed)" if done else ""),
                                    highlight=False)
        self.task = self.progress.add_task("grading", total=todo)

    def advance(self, outcome: Outcome) -> None:
        if self.task is not None:
            self.progress.update(self.task, advance=1,
                                 description=f"graded {outcome.submission.id}")


@contextmanager
def regrade_progress(console: Console) -> Iterator[RegradeProgress]:
    columns = (SpinnerColumn(finished_text="[green]✓[/]"),
               TextColumn("{task.description}", style="dim"), BarColumn(),
               MofNCompleteColumn(), _PerMinute(), TimeElapsedColumn(), _Left())
    with Progress(*columns, console=console) as progress:
        yield RegradeProgress(progress)


@dataclass
class MutantsProgress:
    """The mutation analysis's steps (:class:`autograder.staff.mutants.Steps`): its total
    grows as each problem's mutants are made."""

    progress: Progress
    task: TaskID

    def add(self, count: int) -> None:
        task = next(t for t in self.progress.tasks if t.id == self.task)
        self.progress.update(self.task, total=(task.total or 0) + count)

    def done(self, what: str) -> None:
        self.progress.update(self.task, advance=1, description=what)


@contextmanager
def mutants_progress(console: Console) -> Iterator[MutantsProgress]:
    """A transient bar of the mutants graded (done/total, time taken and left)."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        yield MutantsProgress(progress, progress.add_task("grading the mutants", total=0))
