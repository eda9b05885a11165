"""Progress bars of the staff's long commands, on the console: validate's steps, the
mutants graded, and the regrade's submissions (done/total, rate per minute and time left)."""

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
        speed = task.finished_speed or task.speed
        return Text(f"{speed * 60:.1f}/min" if speed else "-/min", style="progress.data.speed")


@dataclass
class RegradeProgress:
    progress: Progress
    task: TaskID | None = None

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
    columns = (TextColumn("{task.description}", style="dim"), BarColumn(),
               MofNCompleteColumn(), _PerMinute(), TimeElapsedColumn(), TextColumn("left"),
               TimeRemainingColumn())
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
