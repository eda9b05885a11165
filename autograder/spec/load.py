"""Loading specs: ``problems/<id>/problem.yaml`` read once, validated strictly, frozen.

A spec is read with :mod:`autograder.spec.source` (YAML with the position of every key) and
becomes the frozen models of :mod:`autograder.spec.model`; anything wrong with it (an unknown
key, a wrong type, a case that breaks a declared constraint, an argument that does not match
its parameter, a file it names that is missing) is reported as a
:class:`~autograder.errors.SpecError` naming the file, the line and column, and the key of
every issue, worded by :mod:`autograder.spec.wording`::

    problems/vmap_over_batch/problem.yaml:101:17: case 3 (uniform inputs).tolerance.rtl:
    unknown key (did you mean 'rtol'?)
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from autograder.errors import SpecError, SpecIssue
from autograder.files import parse_python
from autograder.spec.checkfile import ChecksError, CustomCheck
from autograder.spec.checkfile import collect as read_checks
from autograder.spec.constraints import Constraint, ConstraintSyntaxError
from autograder.spec.fields import ArrayInput, Tolerance
from autograder.spec.inputs import materialize
from autograder.spec.model import (
    SPEC_FILENAME,
    Alternative,
    Case,
    Detect,
    EquivalentMutant,
    LiftPattern,
    LoadedProblem,
    Mistake,
    Mutants,
    Parameter,
    Problem,
    Returns,
    Structure,
)
from autograder.spec.source import (
    Document,
    KeyPath,
    dump_yaml,
    issues_from_validation,
    parse_yaml,
    read_text,
    read_yaml,
)
from autograder.spec.wording import explain, location

# -- pydantic's errors -----------------------------------------------------------------------

#: The tags of the union members pydantic puts in error paths (an argument's ``int``,
#: ``float`` or ``array``; a detect's ``detect`` or ``detect-list``): not keys a TA wrote.
_UNION_TAGS = frozenset({"int", "float", "array", "detect", "detect-list"})


def _vocabulary() -> set[str]:
    words: set[str] = set()
    for model in (Problem, Case, Parameter, Returns, Tolerance, ArrayInput, Mistake, Detect,
                  LiftPattern, Structure, Alternative, Mutants, EquivalentMutant):
        words.update(model.model_fields)
    return words


def _validation_issues(document: Document, error: ValidationError) -> list[SpecIssue]:
    return issues_from_validation(error, document, vocabulary=_vocabulary(),
                                  union_tags=_UNION_TAGS, locate=location, explain=explain)


def _in_order(issues: list[SpecIssue]) -> list[SpecIssue]:
    """The issues of one file from its top down, as a compiler lists them."""
    return sorted(issues, key=lambda issue: (issue.line or 0, issue.column or 0))


class _Issues(list[SpecIssue]):
    """The issues of one spec, each at the position of the key it is about."""

    def __init__(self, document: Document) -> None:
        super().__init__()
        self.document = document

    def add(self, key: KeyPath, message: str) -> None:
        self.append(self.document.issue(key, location(key, self.document.data), message))


# -- what a schema cannot say ---------------------------------------------------------------


def _semantic_issues(issues: _Issues, problem: Problem) -> tuple[Constraint, ...]:
    """What a schema cannot say: arguments against parameters, constraints against cases."""
    names = problem.parameter_names
    seen: set[str] = set()
    for i, param in enumerate(problem.parameters):
        if param.name in seen:
            issues.add(("parameters", i, "name"), f"duplicate parameter {param.name!r}")
        seen.add(param.name)

    constraints: list[Constraint] = []
    for i, text in enumerate(problem.constraints):
        try:
            constraints.append(Constraint.parse(text, names))
        except ConstraintSyntaxError as exc:
            issues.add(("constraints", i), str(exc))

    for c, case in enumerate(problem.cases):
        where: KeyPath = ("cases", c, "args")
        for name in case.args:
            if name not in names:
                close = difflib.get_close_matches(name, names, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                issues.add((*where, name), f"not a parameter of {problem.function}{hint}; "
                                           f"parameters are {', '.join(names)}")
        case_ok = True
        for param in problem.parameters:
            if param.name not in case.args:
                issues.add(where, f"missing argument {param.name!r}: add `{param.name}: "
                                  f"{_argument_example(param)}`")
                case_ok = False
                continue
            problem_text = _argument_mismatch(param, case.args[param.name])
            if problem_text:
                issues.add((*where, param.name), problem_text)
                case_ok = False
        if not case_ok or len(constraints) != len(problem.constraints):
            continue
        values = {p.name: materialize(p, case.args[p.name]) for p in problem.parameters}
        for k, constraint in enumerate(constraints):
            failure = constraint.check(values)
            if failure:
                issues.add(("cases", c),
                           f"breaks constraints[{k}] `{constraint.text}`: {failure}")
    return tuple(constraints)


def _argument_example(param: Parameter) -> str:
    return {"array": "{generate: normal, shape: [3, 4], seed: 7}", "int": "3"}.get(
        param.type, "1.0")


def _argument_mismatch(param: Parameter, value: int | float | ArrayInput) -> str | None:
    if param.type == "array":
        if not isinstance(value, ArrayInput):
            return f"parameter {param.name!r} is an array: give {{generate: ..., shape: [...]}}"
        return None
    if isinstance(value, ArrayInput):
        article = "an" if param.type == "int" else "a"
        return (f"parameter {param.name!r} is {article} {param.type}: give a number, "
                f"not an array")
    if param.type == "int" and isinstance(value, float) and not value.is_integer():
        return f"parameter {param.name!r} is an int, got {value!r}"
    return None


# -- reading -----------------------------------------------------------------------------------


def load_problem(directory: Path | str, *, require_code: bool = True) -> LoadedProblem:
    """Read and validate ``<directory>/problem.yaml``; raise SpecError on any issue.

    ``require_code=False`` accepts a folder without the reference, the mistakes file and
    the checks file (the student kit's, whose expected outputs ship as data).
    """
    directory = Path(directory)
    path = directory / SPEC_FILENAME
    document = parse_yaml(read_text(path, "the spec"), path, location)
    if not isinstance(document.data, dict):
        raise SpecError([document.issue((), "", "the spec must be a mapping of keys to values, "
                                                "such as `function: vmap_over_batch` and "
                                                "`title: ...` lines")])
    try:
        problem = Problem.model_validate(document.data)
    except ValidationError as exc:
        raise SpecError(_in_order(_validation_issues(document, exc))) from None
    issues = _Issues(document)
    constraints = _semantic_issues(issues, problem)
    if require_code and not (directory / problem.reference).is_file():
        issues.add(("reference",), f"no reference file {problem.reference!r} in {directory}")
    output_shape = _output_shape(issues, problem)
    _mistake_issues(issues, directory if require_code else None, problem)
    checks: tuple[CustomCheck, ...] = ()
    if problem.checks and require_code:
        try:
            checks = read_checks(directory / problem.checks)
        except OSError as exc:
            issues.add(("checks",), f"cannot read {problem.checks!r}: {exc.strerror}")
        except ChecksError as exc:
            issues.add(("checks",), f"{problem.checks}: {exc}")
    if issues:
        raise SpecError(_in_order(issues))
    return LoadedProblem(spec=problem, directory=directory, constraints=constraints,
                         output_shape=output_shape, checks=checks)


def _output_shape(issues: _Issues, problem: Problem) -> tuple[Constraint, ...] | None:
    if problem.returns.shape is None:
        return None
    shape = []
    for i, text in enumerate(problem.returns.shape):
        try:
            shape.append(Constraint.parse(text, problem.parameter_names))
        except ConstraintSyntaxError as exc:
            issues.add(("returns", "shape", i), str(exc))
    return tuple(shape)


def defined_functions(path: Path) -> set[str] | None:
    """The top-level functions of a Python file (a mistakes file), read without running it;
    None when it cannot be read or parsed."""
    try:
        tree = parse_python(path.read_bytes())
    except (OSError, SyntaxError):
        return None
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


def _mistake_issues(issues: _Issues, directory: Path | None, problem: Problem) -> None:
    if problem.structure is not None and problem.structure.points >= problem.points:
        issues.add(("structure", "points"), f"must be less than the problem's points "
                                            f"({problem.points:g}), which the cases share "
                                            f"with it")
    seen: set[str] = set()
    for m, mistake in enumerate(problem.mistakes):
        if mistake.id in seen:
            issues.add(("mistakes", m, "id"), f"duplicate mistake id {mistake.id!r}")
        seen.add(mistake.id)
        for a, detect in enumerate(mistake.alternatives):
            where: KeyPath = ("mistakes", m, "detect")
            if isinstance(mistake.detect, tuple):
                where += (a,)
            _detect_issues(issues, directory, problem, where, detect)


def _detect_issues(issues: _Issues, directory: Path | None, problem: Problem, where: KeyPath,
                   detect: Detect) -> None:
    if detect.output and problem.returns.shape is None:
        issues.add((*where, "output"),
                   f"'{detect.output}' needs returns.shape (the logical shape before "
                   f"flattening, e.g. [num_models, features])")
    if detect.variant and directory is not None:
        defined = defined_functions(directory / problem.variants)
        if defined is None:
            issues.add((*where, "variant"), f"the variants file {problem.variants!r} is "
                                            f"missing or is not valid Python")
        elif detect.variant not in defined:
            issues.add((*where, "variant"),
                       f"no function {detect.variant!r} in {problem.variants}")
    params = {p.name: p for p in problem.parameters}
    for name, value in (detect.reference_args or {}).items():
        key = (*where, "reference_args", name)
        if name not in params:
            issues.add(key, f"not a parameter of {problem.function}")
            continue
        mismatch = _argument_mismatch(params[name], value)
        if mismatch:
            issues.add(key, mismatch)


def discover_problems(root: Path | str) -> list[Path]:
    """Problem folders below ``root``: every directory holding a ``problem.yaml``."""
    root = Path(root)
    if (root / SPEC_FILENAME).is_file():
        return [root]
    return sorted(p.parent for p in root.glob(f"*/{SPEC_FILENAME}"))


def load_problems(root: Path | str, *, require_code: bool = True) -> list[LoadedProblem]:
    """Load every problem below ``root``; all errors of all specs are reported together."""
    root = Path(root)
    directories = discover_problems(root)
    if not directories:
        raise SpecError([SpecIssue(root, "", f"no */{SPEC_FILENAME} found")])
    problems: list[LoadedProblem] = []
    errors: list[SpecError] = []
    for directory in directories:
        try:
            problems.append(load_problem(directory, require_code=require_code))
        except SpecError as exc:
            errors.append(exc)
    issues = [issue for error in errors for issue in error.issues]
    issues += duplicate_functions(problems)
    if issues:
        raise SpecError(issues)
    return problems


def duplicate_functions(problems: Sequence[LoadedProblem]) -> list[SpecIssue]:
    """An issue for each problem that grades a function an earlier one grades too (a
    submission's function would be graded twice)."""
    issues: list[SpecIssue] = []
    seen: dict[str, Path] = {}
    for problem in problems:
        other = seen.setdefault(problem.spec.function, problem.spec_path)
        if other != problem.spec_path:
            message = f"{problem.spec.function!r} is also graded by {other}: rename one"
            document = read_yaml(problem.spec_path)  # it loaded a moment ago
            issues.append(document.issue(("function",), "function", message))
    return issues


def visible_spec_text(problem: LoadedProblem) -> str:
    """The spec as the student kit ships it: the visible cases only, no file names of
    trusted code, and the points of what remains (so every visible case is worth what it is
    worth on Gradescope)."""
    raw = read_yaml(problem.spec_path).data
    spec = problem.spec
    visible = [i for i, case in enumerate(spec.cases) if case.visibility == "visible"]
    if not visible:
        raise SpecError([SpecIssue(problem.spec_path, "cases",
                                   "no visible case: the student kit would have nothing to check")])
    raw["cases"] = [raw["cases"][i] for i in visible]
    raw.pop("reference", None)
    raw.pop("variants", None)
    raw.pop("checks", None)  # checks are code: not in the kit
    raw.pop("mutants", None)  # they quote the reference's code
    raw["points"] = round(sum(spec.case_points(i) for i in visible)
                          + (spec.structure.points if spec.structure else 0.0), 6)
    if spec.structure is not None:  # an assignment's points scale it
        raw["structure"]["points"] = round(spec.structure.points, 6)
    header = (f"# {spec.title}: the visible cases of the exercise, as the grader checks them.\n"
              "# Generated for the student kit; the hidden cases are not in it.\n")
    return header + dump_yaml(raw)
