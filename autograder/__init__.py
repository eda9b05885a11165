"""Gradescope autograder for exercises on Flax lifted transforms.

The public API, one import per name; everything else is internal.
"""

from autograder.engine import GradeOptions, Report, grade
from autograder.errors import GraderError, SpecError, SubmissionError, WorkerError
from autograder.results import build_results, failure_results, write_results
from autograder.spec import LoadedProblem, Problem, load_problem, load_problems

__version__ = "0.1.0"

__all__ = [
    "GradeOptions",
    "GraderError",
    "LoadedProblem",
    "Problem",
    "Report",
    "SpecError",
    "SubmissionError",
    "WorkerError",
    "__version__",
    "build_results",
    "failure_results",
    "grade",
    "load_problem",
    "load_problems",
    "write_results",
]
