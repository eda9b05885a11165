"""Gradescope autograder for exercises on Flax lifted transforms.

The public API, one name per line; everything else is internal. The names are imported
when first used (PEP 562), because the student's worker process imports this package too
(for its own subpackages, ``autograder.worker`` and ``autograder.protocol``) and
must not load the grader's spec, engine, pydantic or yaml.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from autograder.errors import GraderError, SpecError, SubmissionError, WorkerError
    from autograder.gradescope.results import build_results, failure_results, write_results
    from autograder.grading.engine import GradeOptions, grade
    from autograder.grading.outcome import SubmissionResult
    from autograder.spec import LoadedProblem, Problem, load_problem, load_problems

__version__ = "0.1.0"

_WHERE = {
    "GradeOptions": "autograder.grading.engine",
    "SubmissionResult": "autograder.grading.outcome",
    "grade": "autograder.grading.engine",
    "GraderError": "autograder.errors",
    "SpecError": "autograder.errors",
    "SubmissionError": "autograder.errors",
    "WorkerError": "autograder.errors",
    "build_results": "autograder.gradescope.results",
    "failure_results": "autograder.gradescope.results",
    "write_results": "autograder.gradescope.results",
    "LoadedProblem": "autograder.spec",
    "Problem": "autograder.spec",
    "load_problem": "autograder.spec",
    "load_problems": "autograder.spec",
}

__all__ = [
    "GradeOptions",
    "GraderError",
    "LoadedProblem",
    "Problem",
    "SpecError",
    "SubmissionError",
    "SubmissionResult",
    "WorkerError",
    "__version__",
    "build_results",
    "failure_results",
    "grade",
    "load_problem",
    "load_problems",
    "write_results",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'autograder' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value
