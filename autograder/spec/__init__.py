"""The spec language: ``problems/<id>/problem.yaml`` read once, validated strictly, frozen.

The only package that reads YAML (with :mod:`autograder.spec.source`, which any loader of a
YAML file TAs write can use). What the rest of the grader uses is imported here."""

from autograder.spec.fields import ArrayInput, Tolerance
from autograder.spec.load import (
    defined_functions,
    discover_problems,
    load_problem,
    load_problems,
    visible_spec_text,
)
from autograder.spec.model import (
    SPEC_FILENAME,
    Detect,
    LiftPattern,
    LoadedProblem,
    Mistake,
    Parameter,
    Problem,
)

__all__ = [
    "SPEC_FILENAME",
    "ArrayInput",
    "Detect",
    "LiftPattern",
    "LoadedProblem",
    "Mistake",
    "Parameter",
    "Problem",
    "Tolerance",
    "defined_functions",
    "discover_problems",
    "load_problem",
    "load_problems",
    "visible_spec_text",
]
