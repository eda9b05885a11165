"""What grading found, as plain frozen values: per case, per problem, per submission.

Every front door reads these: ``results.json`` (:mod:`autograder.gradescope.results`), the
terminal report and the student's check, the TA's validation and regrade.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from autograder.grading.feedback import Feedback
from autograder.spec import LoadedProblem


def format_points(value: float) -> str:
    """Points as people read them: ``2.5``, ``3.33``, ``10`` (two decimals at most)."""
    return f"{round(value, 2):g}"


@dataclass(frozen=True)
class CaseResult:
    index: int
    label: str
    visibility: str
    call: str
    max_points: float
    feedback: Feedback | None = None  # None: passed
    seconds: float | None = None
    #: Share of the points kept although the case failed (a mistake declared with credit).
    credit: float = 0.0
    #: What the student's code printed during this case (shown only in this case's test,
    #: so a hidden case's inputs cannot leak into a visible test).
    printed: str = ""
    #: The array the student's function returned, when it returned one (for TA tools).
    output: np.ndarray | None = field(default=None, repr=False, compare=False)
    #: The reference's output on this case, when it was computed (for TA tools).
    expected: np.ndarray | None = field(default=None, repr=False, compare=False)
    #: The exception type the student's code raised on this case, when it raised one.
    error: str | None = None
    #: How the student's model variables differ from the reference's here (the sentence
    #: of :func:`autograder.grading.params.difference`), when the case failed and they do.
    params: str | None = None
    #: A custom check's own Gradescope number and tags.
    number: str | None = None
    tags: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return self.feedback is None

    @property
    def points(self) -> float:
        return self.max_points if self.passed else self.max_points * self.credit


@dataclass(frozen=True)
class ProblemResult:
    problem: LoadedProblem
    cases: tuple[CaseResult, ...]
    #: What the student's code printed when its file was imported (no case inputs in it).
    printed_at_import: str = ""
    notes: tuple[str, ...] = ()
    #: The student worker's ``ready`` message: versions and backend it ran on.
    environment: Mapping[str, Any] = field(default_factory=dict)
    #: The structure test (the lifted transforms applied), when the spec declares one.
    structure: CaseResult | None = None
    #: The custom checks' tests, when the spec names a checks file.
    checks: tuple[CaseResult, ...] = ()

    @property
    def printed(self) -> str:
        """Everything the student's code printed, import first (for TAs and tests)."""
        return "\n".join(t for t in (self.printed_at_import, *(c.printed for c in self.cases))
                         if t)

    @property
    def tests(self) -> tuple[CaseResult, ...]:
        """Every Gradescope test of the problem: the cases, the structure test, the checks."""
        return (self.cases + ((self.structure,) if self.structure is not None else ())
                + self.checks)

    @property
    def points(self) -> float:
        return sum(c.points for c in self.tests)

    @property
    def max_points(self) -> float:
        return sum(c.max_points for c in self.tests)


@dataclass(frozen=True)
class SubmissionResult:
    problems: tuple[ProblemResult, ...]
    environment: Mapping[str, Any]
    seconds: float
    #: The traceback of a grader fault that stopped grading early (problems graded before
    #: it are in ``problems``), or None.
    fault: str | None = None

    @property
    def points(self) -> float:
        return sum(p.points for p in self.problems)

    @property
    def max_points(self) -> float:
        return sum(p.max_points for p in self.problems)
