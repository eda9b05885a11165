"""Grader faults: the one small error hierarchy of the trusted side.

Student mistakes are never exceptions: they are feedback values (see ``feedback``).
Everything here means the *grader* or its configuration is at fault, so the student must
not lose points for it; ``gradescope.results.failure_results`` turns any of them into a valid
``results.json`` that tells the student to contact staff.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


class GraderError(Exception):
    """Base class of every fault of the grader, its specs or its environment."""


class UsageError(GraderError):
    """A command was given what it cannot use as given (a missing path, an unknown exercise,
    a folder that exists): the message says what is wrong and what to give instead. The
    command line exits with its usage status."""


@dataclass(frozen=True)
class SpecIssue:
    """One problem found in a spec: which file, where in it (a key path, and the line and
    column of the key when known, 1-based), and what is wrong and how to fix it."""

    path: Path
    location: str
    message: str
    line: int | None = None
    column: int | None = None

    @property
    def where(self) -> str:
        """``file:line:col: location`` (the compilers' form, which editors and terminals
        make clickable), ``file: location`` when the line is not known."""
        place = str(self.path)
        if self.line is not None:
            place += f":{self.line}" + (f":{self.column}" if self.column is not None else "")
        return f"{place}: {self.location}" if self.location else place

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class SpecError(GraderError):
    """A problem spec (``problems/<id>/problem.yaml``) is malformed.

    The message names the file, the line and column, the key path and what was expected,
    one line per issue::

        problems/vmap_over_batch/problem.yaml:94:5: case 2 (wide inputs).weight: must be a
        number such as `weight: 2`, not the text '2' (remove the quotes)
    """

    def __init__(self, issues: Sequence[SpecIssue]) -> None:
        self.issues = tuple(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))


class SubmissionError(GraderError):
    """The submission path itself cannot be used (it does not exist, or is not readable)."""


class WorkerError(GraderError):
    """A *trusted* worker (the one running reference code) failed.

    A failing student worker is a student outcome, never this exception.
    """
