"""Loading specs: ``problems/<id>/problem.yaml`` read once, validated strictly, frozen.

This is the only module that reads YAML. A spec becomes the frozen models of
:mod:`autograder.spec.model`; anything wrong with it (an unknown key, a wrong type, a case
that breaks a declared constraint, an argument that does not match its parameter, a file it
names that is missing) is reported as a :class:`~autograder.errors.SpecError` naming the file
and the key path of every issue::

    problems/vmap_over_batch/problem.yaml: cases[2].tolerance.rtl: unknown key (did you
    mean 'rtol'?)
"""

from __future__ import annotations

import ast
import difflib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from autograder.errors import SpecError, SpecIssue
from autograder.files import parse_python
from autograder.spec.checkfile import ChecksError, CustomCheck
from autograder.spec.checkfile import collect as read_checks
from autograder.spec.constraints import Constraint, ConstraintSyntaxError
from autograder.spec.inputs import materialize
from autograder.spec.model import (
    SPEC_FILENAME,
    ArrayInput,
    Case,
    Detect,
    LiftPattern,
    LoadedProblem,
    Mistake,
    Parameter,
    Problem,
    Returns,
    Structure,
    Tolerance,
)

# -- pydantic's errors as key paths ----------------------------------------------------------

#: The tags of an argument's union members (``Argument``), in pydantic's error paths.
_UNION_TAGS = frozenset({"int", "float", "array"})
#: Union member tags pydantic puts in error paths that are not keys a TA wrote.
_HIDDEN_TAGS = frozenset({"detect", "detect-list"})


def _format_loc(loc: Sequence[int | str]) -> str:
    """``('cases', 2, 'args', 'x', 'array', 'shape')`` -> ``cases[2].args.x.shape``.

    pydantic puts the tag of the chosen union member in error paths: ``int``/``float``/
    ``array`` right after an argument's name, ``detect``/``detect-list`` after ``detect``.
    They are not keys the TA wrote, so they are dropped there (and only there).
    """
    out = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        elif not _is_union_tag(loc, i):
            out += f".{part}" if out else part
    return out


def _is_union_tag(loc: Sequence[int | str], i: int) -> bool:
    part = loc[i]
    if part in _HIDDEN_TAGS:
        return i >= 1 and loc[i - 1] == "detect"
    if part not in _UNION_TAGS or i < 2:
        return False
    return loc[i - 2] == "reference_args" or (
        loc[i - 2] == "args" and i >= 4 and loc[i - 4] == "cases")


def _vocabulary() -> set[str]:
    words: set[str] = set()
    for model in (Problem, Case, Parameter, Returns, Tolerance, ArrayInput, Mistake, Detect,
                  LiftPattern, Structure):
        words.update(model.model_fields)
    return words


def _issues_from_validation(path: Path, error: ValidationError) -> list[SpecIssue]:
    issues = []
    vocabulary = sorted(_vocabulary())
    items = error.errors(include_url=False)
    for item in items:
        loc = list(item["loc"])
        if item["type"] == "too_short" and any(
                other is not item and tuple(other["loc"][:len(loc)]) == tuple(loc)
                for other in items):
            continue  # a list whose entries are all invalid: the entries' errors say why
        message = item["msg"]
        if item["type"] == "extra_forbidden" and loc and isinstance(loc[-1], str):
            # Argument names are checked against the parameters, not the key vocabulary.
            message = "unknown key"
            close = difflib.get_close_matches(str(loc[-1]), vocabulary, n=1, cutoff=0.7)
            if close:
                message += f" (did you mean {close[0]!r}?)"
        elif item["type"] == "missing":
            message = "required key is missing"
        elif item["type"] == "too_short":
            message = f"needs at least {item.get('ctx', {}).get('min_length', 1)} entry"
        elif message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        issues.append(SpecIssue(path, _format_loc(loc), message))
    return issues


# -- what a schema cannot say ---------------------------------------------------------------


def _semantic_issues(
    path: Path, problem: Problem
) -> tuple[list[SpecIssue], tuple[Constraint, ...]]:
    """What a schema cannot say: arguments against parameters, constraints against cases."""
    issues: list[SpecIssue] = []
    names = problem.parameter_names
    seen: set[str] = set()
    for i, param in enumerate(problem.parameters):
        if param.name in seen:
            issues.append(SpecIssue(path, f"parameters[{i}].name",
                                    f"duplicate parameter {param.name!r}"))
        seen.add(param.name)

    constraints: list[Constraint] = []
    for i, text in enumerate(problem.constraints):
        try:
            constraints.append(Constraint.parse(text, names))
        except ConstraintSyntaxError as exc:
            issues.append(SpecIssue(path, f"constraints[{i}]", str(exc)))

    for c, case in enumerate(problem.cases):
        where = f"cases[{c}].args"
        for name in case.args:
            if name not in names:
                close = difflib.get_close_matches(name, names, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                issues.append(SpecIssue(path, f"{where}.{name}",
                                        f"not a parameter of {problem.function}{hint}; "
                                        f"parameters are {', '.join(names)}"))
        case_ok = True
        for param in problem.parameters:
            if param.name not in case.args:
                issues.append(SpecIssue(path, where, f"missing argument {param.name!r}"))
                case_ok = False
                continue
            problem_text = _argument_mismatch(param, case.args[param.name])
            if problem_text:
                issues.append(SpecIssue(path, f"{where}.{param.name}", problem_text))
                case_ok = False
        if not case_ok or len(constraints) != len(problem.constraints):
            continue
        values = {p.name: materialize(p, case.args[p.name]) for p in problem.parameters}
        for k, constraint in enumerate(constraints):
            failure = constraint.check(values)
            if failure:
                issues.append(SpecIssue(path, f"cases[{c}]",
                                        f"breaks constraints[{k}] `{constraint.text}`: {failure}"))
    return issues, tuple(constraints)


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


class _SpecLoader(yaml.SafeLoader):
    """Safe YAML with two fixes for authors: ``1e-5`` is a float (as in YAML 1.2), and a
    key written twice in one mapping is an error instead of the last one silently winning."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice in the same mapping",
                    key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_SpecLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?"
               r"|[0-9][0-9_]*[eE][-+]?[0-9]+|\.[0-9_]+(?:[eE][-+]?[0-9]+)?"
               r"|\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+0123456789."),
)


def load_problem(directory: Path | str, *, require_code: bool = True) -> LoadedProblem:
    """Read and validate ``<directory>/problem.yaml``; raise SpecError on any issue.

    ``require_code=False`` accepts a folder without the reference, the mistakes file and
    the checks file (the student kit's, whose expected outputs ship as data).
    """
    directory = Path(directory)
    path = directory / SPEC_FILENAME
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError([SpecIssue(path, "", f"cannot read the spec: {exc.strerror}")]) from None
    try:
        raw = yaml.load(text, Loader=_SpecLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem_text = getattr(exc, "problem", None) or str(exc)
        raise SpecError([SpecIssue(path, where, f"invalid YAML: {problem_text}")]) from None
    if not isinstance(raw, dict):
        raise SpecError([SpecIssue(path, "", "the spec must be a mapping of keys to values")])
    try:
        problem = Problem.model_validate(raw)
    except ValidationError as exc:
        raise SpecError(_issues_from_validation(path, exc)) from None
    issues, constraints = _semantic_issues(path, problem)
    if require_code and not (directory / problem.reference).is_file():
        issues.append(SpecIssue(path, "reference", f"no reference file {problem.reference!r} "
                                f"in {directory}"))
    output_shape = _output_shape(path, problem, issues)
    issues += _mistake_issues(path, directory if require_code else None, problem)
    checks: tuple[CustomCheck, ...] = ()
    if problem.checks and require_code:
        try:
            checks = read_checks(directory / problem.checks)
        except OSError as exc:
            issues.append(SpecIssue(path, "checks", f"cannot read {problem.checks!r}: "
                                    f"{exc.strerror}"))
        except ChecksError as exc:
            issues.append(SpecIssue(path, "checks", f"{problem.checks}: {exc}"))
    if issues:
        raise SpecError(issues)
    return LoadedProblem(spec=problem, directory=directory, constraints=constraints,
                         output_shape=output_shape, checks=checks)


def _output_shape(path: Path, problem: Problem,
                  issues: list[SpecIssue]) -> tuple[Constraint, ...] | None:
    if problem.returns.shape is None:
        return None
    shape = []
    for i, text in enumerate(problem.returns.shape):
        try:
            shape.append(Constraint.parse(text, problem.parameter_names))
        except ConstraintSyntaxError as exc:
            issues.append(SpecIssue(path, f"returns.shape[{i}]", str(exc)))
    return tuple(shape)


def defined_functions(path: Path) -> set[str] | None:
    """The top-level functions of a Python file (a mistakes file), read without running it;
    None when it cannot be read or parsed."""
    try:
        tree = parse_python(path.read_bytes())
    except (OSError, SyntaxError):
        return None
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


def _mistake_issues(path: Path, directory: Path | None,
                    problem: Problem) -> list[SpecIssue]:
    issues: list[SpecIssue] = []
    if problem.structure is not None and problem.structure.points >= problem.points:
        issues.append(SpecIssue(path, "structure.points", f"must be less than the problem's "
                                f"points ({problem.points:g}), which the cases share with it"))
    seen: set[str] = set()
    for m, mistake in enumerate(problem.mistakes):
        where = f"mistakes[{m}]"
        if mistake.id in seen:
            issues.append(SpecIssue(path, f"{where}.id", f"duplicate mistake id {mistake.id!r}"))
        seen.add(mistake.id)
        for a, detect in enumerate(mistake.alternatives):
            at = f"{where}.detect" + (f"[{a}]" if isinstance(mistake.detect, tuple) else "")
            issues += _detect_issues(path, directory, problem, at, detect)
    return issues


def _detect_issues(path: Path, directory: Path | None, problem: Problem, where: str,
                   detect: Detect) -> list[SpecIssue]:
    issues: list[SpecIssue] = []
    if detect.output and problem.returns.shape is None:
        issues.append(SpecIssue(path, f"{where}.output",
                                f"'{detect.output}' needs returns.shape (the logical shape "
                                f"before flattening, e.g. [num_models, features])"))
    if detect.variant and directory is not None:
        defined = defined_functions(directory / problem.variants)
        if defined is None:
            issues.append(SpecIssue(path, f"{where}.variant",
                                    f"the variants file {problem.variants!r} is missing or "
                                    f"is not valid Python"))
        elif detect.variant not in defined:
            issues.append(SpecIssue(path, f"{where}.variant",
                                    f"no function {detect.variant!r} in {problem.variants}"))
    params = {p.name: p for p in problem.parameters}
    for name, value in (detect.reference_args or {}).items():
        if name not in params:
            issues.append(SpecIssue(path, f"{where}.reference_args.{name}",
                                    f"not a parameter of {problem.function}"))
            continue
        mismatch = _argument_mismatch(params[name], value)
        if mismatch:
            issues.append(SpecIssue(path, f"{where}.reference_args.{name}", mismatch))
    return issues


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
    _check_unique_functions(problems, errors)
    if errors:
        raise SpecError([issue for error in errors for issue in error.issues])
    return problems


def _check_unique_functions(problems: list[LoadedProblem], errors: list[SpecError]) -> None:
    seen: dict[str, Path] = {}
    for problem in problems:
        other = seen.setdefault(problem.spec.function, problem.spec_path)
        if other != problem.spec_path:
            message = f"{problem.spec.function!r} is also graded by {other}"
            errors.append(SpecError([SpecIssue(problem.spec_path, "function", message)]))


def visible_spec_text(problem: LoadedProblem) -> str:
    """The spec as the student kit ships it: the visible cases only, no file names of
    trusted code, and the points of what remains (so every visible case is worth what it is
    worth on Gradescope)."""
    raw = yaml.load(problem.spec_path.read_text(encoding="utf-8"), Loader=_SpecLoader)
    spec = problem.spec
    visible = [i for i, case in enumerate(spec.cases) if case.visibility == "visible"]
    if not visible:
        raise SpecError([SpecIssue(problem.spec_path, "cases",
                                   "no visible case: the student kit would have nothing to check")])
    raw["cases"] = [raw["cases"][i] for i in visible]
    raw.pop("reference", None)
    raw.pop("variants", None)
    raw.pop("checks", None)  # checks are code: not in the kit
    raw["points"] = round(sum(spec.case_points(i) for i in visible)
                          + (spec.structure.points if spec.structure else 0.0), 6)
    if spec.structure is not None:  # an assignment's points scale it
        raw["structure"]["points"] = round(spec.structure.points, 6)
    header = (f"# {spec.title}: the visible cases of the exercise, as the grader checks them.\n"
              "# Generated for the student kit; the hidden cases are not in it.\n")
    return header + yaml.safe_dump(raw, sort_keys=False, allow_unicode=True, width=100)
