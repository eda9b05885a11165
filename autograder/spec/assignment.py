"""Assignments: ``assignments/<name>.yaml`` names the problems of one Gradescope assignment.

A course's ``problems/`` folder is its problem bank; Gradescope grades one *assignment* per
zip. An assignment file says which problems it holds, in the order students meet them, its
title, and optionally the points of each problem (the spec's own points otherwise)::

    title: Flax lifted transforms
    problems:
      - vmap_over_batch              # a problem folder (or the function it grades)
      - problem: vmap_over_ensemble
        points: 15                   # this assignment's points for it

Every command that grades (``zip``, ``kit``, ``grade``, ``check``, ``regrade``,
``validate``) takes ``--assignment FILE`` and then works on those problems only, in that
order, worth those points. Without it they work on the whole bank.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails

from autograder.errors import SpecError, SpecIssue
from autograder.spec.fields import Number
from autograder.spec.load import (
    discover_problems,
    duplicate_functions,
    load_problem,
    load_problems,
)
from autograder.spec.model import SPEC_FILENAME, LoadedProblem
from autograder.spec.source import (
    Document,
    KeyPath,
    issues_from_validation,
    parse_yaml,
    read_text,
    read_yaml,
)
from autograder.spec.wording import explainer

#: Where a checkout keeps its assignments (beside ``problems/``), and the name the
#: Gradescope zip gives the one it was built for (at its root, beside ``problems/``).
ASSIGNMENTS = "assignments"
IN_ZIP = "assignment.yaml"


def _entries(value: Any) -> Any:
    """A bare name is the entry of that problem at its own points."""
    if isinstance(value, list | tuple):
        return [{"problem": e} if isinstance(e, str) else e for e in value]
    return value


class Entry(BaseModel):
    """One problem of an assignment, with the points it is worth there."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    problem: str = Field(description="a problem folder's name in the bank (or the function "
                                     "it grades)")
    points: Number | None = Field(None, gt=0, description="this assignment's points for it "
                                                          "(default: the spec's)")


class AssignmentSpec(BaseModel):
    """The format of ``assignments/<name>.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(min_length=1, description="the assignment's name, as students see it")
    problems: Annotated[tuple[Entry, ...], BeforeValidator(_entries)] = Field(
        min_length=1, description="its problems in the order students meet them: folder "
                                  "names, or {problem, points} mappings")


@dataclass(frozen=True)
class Assignment:
    """A validated assignment file."""

    path: Path
    spec: AssignmentSpec
    #: The file as read, for the positions of its keys in messages.
    document: Document | None = None

    @property
    def title(self) -> str:
        return self.spec.title

    @property
    def entries(self) -> tuple[Entry, ...]:
        return self.spec.problems


def read_assignment(path: Path | str) -> Assignment:
    """Read and validate an assignment file (its format, not the problems it names)."""
    path = Path(path)
    document = _read_yaml(path)
    if not isinstance(document.data, dict):
        raise SpecError([document.issue((), "", "an assignment must be a mapping with the "
                                        "keys 'title' and 'problems', e.g.\n  title: Flax "
                                        "lifted transforms\n  problems: [vmap_over_batch, "
                                        "vmap_over_ensemble]")])
    try:
        spec = AssignmentSpec.model_validate(document.data)
    except ValidationError as exc:
        raise SpecError(issues_from_validation(
            exc, document, vocabulary=set(AssignmentSpec.model_fields) | set(Entry.model_fields),
            explain=_explain)) from None
    issues = []
    seen: dict[str, int] = {}
    for i, entry in enumerate(spec.problems):
        if entry.problem in seen:
            issues.append(document.issue(("problems", i), f"problems[{i}]",
                                         f"{entry.problem!r} is listed twice (first as "
                                         f"problems[{seen[entry.problem]}])"))
        seen.setdefault(entry.problem, i)
    if issues:
        raise SpecError(issues)
    return Assignment(path, spec, document)


#: The right form of an assignment's keys, for its error messages.
EXAMPLES = {
    "title": "title: Flax lifted transforms",
    "problems": "problems: [vmap_over_batch, {problem: vmap_over_ensemble, points: 15}]",
    "problems[].problem": "problem: vmap_over_ensemble",
    "points": "points: 15",
}
_explain_keys = explainer(EXAMPLES)


def _explain(error: ErrorDetails, key: KeyPath) -> str:
    """The spec's wording, and what an entry of ``problems`` may be."""
    if len(key) == 2 and key[0] == "problems" and error["type"] == "model_type":
        return ("give a problem's folder name, or a mapping such as {problem: "
                "vmap_over_ensemble, points: 15}")
    return _explain_keys(error, key)


def _read_yaml(path: Path) -> Document:
    return parse_yaml(read_text(path, "the assignment"), path)


def _folders_by_name(problems_root: Path) -> dict[str, Path]:
    """The bank's problem folders by folder name and by the function each grades (read
    without loading the specs, which ``load_problem`` validates afterwards)."""
    names: dict[str, Path] = {}
    for folder in discover_problems(problems_root):
        names[folder.name] = folder
        try:
            raw = read_yaml(folder / SPEC_FILENAME).data
        except SpecError:
            continue
        if isinstance(raw, dict) and isinstance(raw.get("function"), str):
            names.setdefault(raw["function"], folder)
    return names


def _issue(assignment: Assignment, index: int, message: str) -> SpecIssue:
    if assignment.document is None:
        return SpecIssue(assignment.path, f"problems[{index}]", message)
    return assignment.document.issue(("problems", index), f"problems[{index}]", message)


def assignment_folders(assignment: Assignment, problems_root: Path) -> list[Path]:
    """The problem folders ``assignment`` names, in its order; a name that is no problem of
    the bank is an error that says which names there are."""
    folders = _folders_by_name(problems_root)
    found: list[Path] = []
    issues: list[SpecIssue] = []
    for i, entry in enumerate(assignment.entries):
        folder = folders.get(entry.problem)
        if folder is None:
            known = sorted({f.name for f in folders.values()})
            close = difflib.get_close_matches(entry.problem, list(folders), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            issues.append(_issue(
                assignment, i,
                f"no problem {entry.problem!r} in {problems_root}{hint}; the problems there: "
                f"{', '.join(known) or 'none'}"))
        elif folder in found:
            issues.append(_issue(assignment, i,
                                 f"{entry.problem!r} is {folder.name}, already listed"))
        else:
            found.append(folder)
    if issues:
        raise SpecError(issues)
    return found


def with_points(problem: LoadedProblem, points: float | None) -> LoadedProblem:
    """``problem`` worth ``points`` (None: its own): the cases keep their weights and the
    structure test its share, so every test is scaled alike."""
    spec = problem.spec
    if points is None or points == spec.points:
        return problem
    scale = points / spec.points
    structure = None if spec.structure is None else spec.structure.model_copy(
        update={"points": spec.structure.points * scale})
    return problem.model_copy(update={"spec": spec.model_copy(
        update={"points": points, "structure": structure})})


def load_assignment(assignment: Assignment | Path | str, problems_root: Path | str, *,
                    require_code: bool = True) -> list[LoadedProblem]:
    """The problems of ``assignment``, loaded from ``problems_root`` in its order and worth
    its points. Every issue (of the assignment and of each spec) is reported together."""
    if not isinstance(assignment, Assignment):
        assignment = read_assignment(assignment)
    problems_root = Path(problems_root)
    folders = assignment_folders(assignment, problems_root)
    points = {folder: entry.points for folder, entry in
              zip(folders, assignment.entries, strict=True)}
    problems: list[LoadedProblem] = []
    issues: list[SpecIssue] = []
    for folder in folders:
        try:
            problems.append(with_points(load_problem(folder, require_code=require_code),
                                        points[folder]))
        except SpecError as exc:
            issues += exc.issues
    issues += duplicate_functions(problems)
    if issues:
        raise SpecError(issues)
    return problems


def select_problems(problems_root: Path | str, assignment: Path | str | None, *,
                    require_code: bool = True) -> list[LoadedProblem]:
    """What a command works on: ``assignment``'s problems, or the whole bank without one."""
    if assignment is None:
        return load_problems(problems_root, require_code=require_code)
    return load_assignment(assignment, problems_root, require_code=require_code)


def assignments_beside(problems_root: Path) -> list[Path]:
    """The assignment files of the checkout whose bank is ``problems_root``."""
    folder = Path(problems_root).parent / ASSIGNMENTS
    return sorted(folder.glob("*.yaml")) if folder.is_dir() else []
