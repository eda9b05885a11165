"""Problem specs: ``problems/<id>/problem.yaml`` read once, validated strictly, frozen.

This is the only module that reads YAML. A spec becomes a tree of frozen pydantic models;
anything wrong with it (an unknown key, a wrong type, a case that breaks a declared
constraint, an argument that does not match its parameter) is reported as a
:class:`~autograder.errors.SpecError` naming the file and the key path of every issue::

    problems/vmap_over_batch/problem.yaml: cases[2].tolerance.rtl: unknown key (did you
    mean 'rtol'?)
"""

from __future__ import annotations

import ast
import difflib
import keyword
import re
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictFloat,
    StrictInt,
    Tag,
    ValidationError,
    field_validator,
)

from autograder.checks import ChecksError, CustomCheck
from autograder.checks import collect as collect_checks
from autograder.errors import SpecError, SpecIssue
from autograder.spec.constraints import Constraint, ConstraintSyntaxError

SPEC_FILENAME = "problem.yaml"

Visibility = Literal["visible", "hidden", "after_due_date", "after_published"]
ParamType = Literal["float", "int", "array"]
Generator = Literal["normal", "uniform", "integers", "zeros", "ones", "arange"]


class _Strict(BaseModel):
    """Unknown keys are errors and nothing changes after loading."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_dtype(name: str) -> str:
    try:
        dtype = np.dtype(name)
    except TypeError:
        raise ValueError(f"unknown dtype {name!r}; use a numpy name such as 'float32'") from None
    if not (np.issubdtype(dtype, np.number) or dtype == np.bool_):
        raise ValueError(f"dtype {name!r} is not numeric; use one such as 'float32' or 'int32'")
    return name


def _check_identifier(name: str) -> str:
    if not name.isidentifier() or keyword.iskeyword(name):
        raise ValueError(f"{name!r} is not a valid Python identifier")
    return name


class Tolerance(_Strict):
    """Elementwise ``|yours - expected| <= atol + rtol * |expected|`` (as numpy.isclose)."""

    rtol: float = Field(1e-5, ge=0, description="relative tolerance")
    atol: float = Field(1e-6, ge=0, description="absolute tolerance")


class ArrayInput(_Strict):
    """An array argument: explicit ``value`` or a deterministic ``generate`` recipe."""

    generate: Generator | None = Field(None, description="how to make the array")
    value: Any = Field(None, description="explicit (nested list) value instead of generate")
    shape: tuple[Annotated[int, Field(ge=0)], ...] | None = None
    dtype: str = "float32"
    seed: int = Field(0, ge=0, description="numpy Generator seed of this array")
    low: float = Field(0.0, description="uniform/integers: lower bound")
    high: float = Field(1.0, description="uniform/integers: upper bound (exclusive)")
    scale: float = Field(1.0, description="normal: standard deviation")
    loc: float = Field(0.0, description="normal: mean")

    _dtype = field_validator("dtype")(_check_dtype)

    def model_post_init(self, context: Any, /) -> None:
        if (self.generate is None) == (self.value is None):
            raise ValueError("give exactly one of 'generate' (with 'shape') or 'value'")
        if self.generate is not None and self.shape is None:
            raise ValueError(f"'generate: {self.generate}' needs a 'shape', e.g. shape: [3, 4]")
        if self.value is not None:
            try:
                explicit = np.asarray(self.value, dtype=self.dtype).shape
            except (TypeError, ValueError) as exc:
                raise ValueError(f"'value' is not a {self.dtype} array: give a number or "
                                 f"nested lists of equal length ({exc})") from None
            if self.shape is not None and explicit != tuple(self.shape):
                raise ValueError(f"'value' has shape {list(explicit)} but 'shape' says "
                                 f"{list(self.shape)}")
        if self.generate == "uniform" and not self.low < self.high:
            raise ValueError(f"'low' ({self.low}) must be below 'high' ({self.high})")
        if self.generate == "integers" and not (
                self.low.is_integer() and self.high.is_integer() and self.low < self.high):
            raise ValueError(f"'integers' needs whole-number bounds with low < high, got "
                             f"low={self.low}, high={self.high}")

    def describe(self) -> str:
        """``float32[4, 3]``: how the array is shown to students."""
        shape = self.shape if self.shape is not None else np.asarray(self.value).shape
        return f"{self.dtype}[{', '.join(str(s) for s in shape)}]"


def _arg_kind(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, Mapping | ArrayInput):
        return "array"
    return None


Argument = Annotated[
    Annotated[StrictInt, Tag("int")]
    | Annotated[StrictFloat, Tag("float")]
    | Annotated[ArrayInput, Tag("array")],
    Discriminator(
        _arg_kind,
        custom_error_type="invalid_argument",
        custom_error_message=(
            "expected a number or an array recipe such as "
            "{generate: normal, shape: [3, 4], seed: 7}"
        ),
    ),
]
_UNION_TAGS = frozenset({"int", "float", "array"})
#: Union member tags pydantic puts in error paths that are not keys a TA wrote.
_HIDDEN_TAGS = frozenset({"detect", "detect-list"})


class Parameter(_Strict):
    """One parameter of the student's function, in call order."""

    name: str
    type: ParamType = Field(description="float and int arrive as Python scalars, array as jax")
    doc: str = ""

    _name = field_validator("name")(_check_identifier)


class Returns(_Strict):
    """What the function must return."""

    doc: str = ""
    dtype: str | None = Field("float32", description="required dtype; null to accept any")
    shape: tuple[str, ...] | None = Field(
        None, description="the logical shape before flattening, as expressions over the "
                          "parameters, e.g. [num_models, features]; output signatures need it")

    @field_validator("dtype")
    @classmethod
    def _dtype(cls, value: str | None) -> str | None:
        return None if value is None else _check_dtype(value)


LiftName = Literal["nnx.vmap", "nnx.scan", "nnx.split_rngs", "nn.vmap", "nn.scan",
                   "jax.vmap"]
_MATCHER_KEYS = frozenset({"not", "one_of", "not_one_of"})


class LiftPattern(_Strict):
    """Matches one recorded lift: its name, what it wraps, and some of its arguments.

    Argument values are compared after tuples become lists (``in_axes: [0, null]``); a
    mapping matches when its listed keys match (a missing key counts as ``false``/``null``);
    ``{not: V}``, ``{one_of: [V, ...]}`` and ``{not_one_of: [V, ...]}`` say more.
    """

    lift: LiftName
    wraps: LiftName | Literal["nothing"] | None = Field(
        None, description="the lift this one is applied to; 'nothing' for a plain function")
    args: dict[str, Any] = Field(default_factory=dict)

    @field_validator("args")
    @classmethod
    def _matchers(cls, args: dict[str, Any]) -> dict[str, Any]:
        for name, value in args.items():
            _check_matchers(value, f"args.{name}")
        return {name: _markers(value) for name, value in args.items()}

    def describe(self) -> str:
        inner = ", ".join(f"{k}={_describe_value(v)}" for k, v in self.args.items())
        text = f"{self.lift}({inner})"
        if self.wraps and self.wraps != "nothing":
            text += f" applied to {self.wraps}(...)"
        return text


def _check_matchers(value: Any, where: str) -> None:
    """Matchers may stand at any depth (``variable_axes: {params: {not: 0}}``)."""
    if isinstance(value, dict) and _MATCHER_KEYS & set(value):
        if len(value) != 1:
            raise ValueError(f"{where}: a matcher has exactly one of "
                             f"{', '.join(sorted(_MATCHER_KEYS))}")
        key, operand = next(iter(value.items()))
        if key != "not" and not isinstance(operand, list):
            raise ValueError(f"{where}.{key}: give a list of values")
        for item in operand if isinstance(operand, list) else [operand]:
            _check_matchers(item, f"{where}.{key}")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_matchers(item, f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_matchers(item, f"{where}[{i}]")


#: Flax's axis markers, as a spec writes them and as the trace records them.
_MARKERS = {"nnx.Carry": "<class Carry>"}


def _markers(value: Any) -> Any:
    """``nnx.Carry`` in a spec means the marker class the trace records as ``<class Carry>``."""
    if isinstance(value, str):
        return _MARKERS.get(value, value)
    if isinstance(value, list):
        return [_markers(v) for v in value]
    if isinstance(value, dict):
        return {k: _markers(v) for k, v in value.items()}
    return value


def _describe_value(value: Any) -> str:
    if isinstance(value, dict) and _MATCHER_KEYS & set(value):
        key, operand = next(iter(value.items()))
        words = {"not": "anything but", "one_of": "one of", "not_one_of": "none of"}[key]
        return f"{words} {_describe_value(operand)}"
    if isinstance(value, list):
        return "(" + ", ".join(_describe_value(v) for v in value) + ("," if len(value) == 1
                                                                     else "") + ")"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_describe_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, str) and value.startswith("<class ") and value.endswith(">"):
        return next((k for k, v in _MARKERS.items() if v == value), value[7:-1])
    return repr(value)


OutputSignature = Literal["identical-rows", "transposed", "not-flattened"]


class Detect(_Strict):
    """How a mistake is recognised. Every condition given must hold (at least one)."""

    output: OutputSignature | None = Field(
        None, description="a shape-level signature of the output (needs returns.shape)")
    variant: str | None = Field(
        None, description="a function in the problem's variants file that makes the mistake; "
                          "matched when the student's output equals its output")
    reference_args: dict[str, Argument] | None = Field(
        None, description="matched when the output equals the reference's with these "
                          "arguments, e.g. {seed: 0} for a hard-coded seed")
    returned: str | None = Field(
        None, description="regex on what a non-array return value was, e.g. '^tuple'")
    error: str | None = Field(
        None, description="regex searched in 'ExceptionType: message' of a runtime error")
    has: tuple[LiftPattern, ...] = Field((), description="lifts the code must apply")
    lacks: tuple[LiftPattern, ...] = Field((), description="lifts the code must not apply")

    @field_validator("error", "returned")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return value

    def model_post_init(self, context: Any, /) -> None:
        if not (self.output or self.variant or self.reference_args or self.returned
                or self.error or self.has or self.lacks):
            raise ValueError("give at least one of output, variant, reference_args, "
                             "returned, error, has, lacks")

    @property
    def trace_only(self) -> bool:
        """Recognised from the lifts alone (it may not change the numbers at all)."""
        return not (self.output or self.variant or self.reference_args or self.returned
                    or self.error)


class Mistake(_Strict):
    """A known mistake: how it is recognised and what the student is told."""

    id: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$",
                    description="tagged pitfall:<id> in results.json")
    summary: str = Field(description="one sentence: what went wrong")
    fix: str = Field(description="why it is wrong and how to fix it (markdown, with code)")
    detect: Annotated[
        Annotated[Detect, Tag("detect")] | Annotated[tuple[Detect, ...], Tag("detect-list")],
        Discriminator(lambda v: "detect-list" if isinstance(v, list | tuple) else "detect"),
    ] = Field(description="how it is recognised; a list gives alternatives (any one suffices)")
    credit: float = Field(0.0, ge=0, le=1,
                          description="share of a case's points kept when this is the cause")
    example: str | None = Field(
        None, description="function of the variants file that makes this mistake, graded by "
                          "`autograder validate` to prove it is recognised (default: the id with "
                          "dashes as underscores, else the first detect variant)")


    @property
    def alternatives(self) -> tuple[Detect, ...]:
        return self.detect if isinstance(self.detect, tuple) else (self.detect,)


class Structure(_Strict):
    """The lifts a correct solution applies, checked by one test of its own."""

    points: float = Field(gt=0, description="taken from the problem's points")
    visibility: Visibility = "visible"
    expect: tuple[LiftPattern, ...] = Field(min_length=1)


class Case(_Strict):
    """One call of the student's function, compared with the reference."""

    name: str | None = None
    visibility: Visibility = "visible"
    args: dict[str, Argument]
    weight: float = Field(1.0, gt=0, description="share of the problem's points")
    tolerance: Tolerance | None = Field(None, description="overrides the problem's tolerance")
    time_limit: float | None = Field(None, gt=0, description="seconds; overrides the problem's")


class Problem(_Strict):
    """A whole exercise: the function students implement and how it is graded."""

    function: str = Field(description="name of the function students implement")
    title: str
    summary: str = ""
    parameters: tuple[Parameter, ...] = Field(min_length=1)
    returns: Returns = Returns()
    points: float = Field(gt=0, description="total points of the problem")
    time_limit: float = Field(60.0, gt=0, description="seconds per call, compile included")
    tolerance: Tolerance = Tolerance()
    constraints: tuple[str, ...] = Field((), description="Python expressions over parameters")
    reference: str = Field("reference.py", description="file beside the spec")
    variants: str = Field("mistakes.py", description="file of mistake variants")
    checks: str | None = Field(None, description="file of extra unittest checks written with "
                                                 "gradescope-utils' decorators, run on the "
                                                 "student's function beside the cases")
    structure: Structure | None = None
    mistakes: tuple[Mistake, ...] = ()
    cases: tuple[Case, ...] = Field(min_length=1)

    _function = field_validator("function")(_check_identifier)

    @cached_property
    def parameter_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parameters)

    @property
    def case_share(self) -> float:
        """The points shared by the cases: all but the structure test's."""
        return self.points - (self.structure.points if self.structure else 0.0)

    def case_points(self, index: int) -> float:
        total = sum(case.weight for case in self.cases)
        return self.case_share * self.cases[index].weight / total

    def case_label(self, index: int) -> str:
        case = self.cases[index]
        return f"case {index + 1}" + (f" ({case.name})" if case.name else "")

    def tolerance_for(self, index: int) -> Tolerance:
        return self.cases[index].tolerance or self.tolerance

    def time_limit_for(self, index: int) -> float:
        return self.cases[index].time_limit or self.time_limit


class LoadedProblem(BaseModel):
    """A validated spec together with where it came from."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    spec: Problem
    directory: Path
    constraints: tuple[Constraint, ...]
    output_shape: tuple[Constraint, ...] | None = None
    #: The custom checks of ``spec.checks``, as their decorators declare them.
    checks: tuple[CustomCheck, ...] = ()

    @property
    def id(self) -> str:
        return self.directory.name

    @property
    def spec_path(self) -> Path:
        return self.directory / SPEC_FILENAME

    @property
    def reference_path(self) -> Path:
        return self.directory / self.spec.reference

    @property
    def variants_path(self) -> Path:
        return self.directory / self.spec.variants


# -- loading -------------------------------------------------------------------------------


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


def _semantic_issues(
    path: Path, problem: Problem
) -> tuple[list[SpecIssue], tuple[Constraint, ...]]:
    """What a schema cannot say: arguments against parameters, constraints against cases."""
    from autograder.spec.inputs import materialize

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

    ``require_code=False`` accepts a folder without the reference and the mistake variants
    (the student kit's, whose expected outputs ship as data).
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
            checks = collect_checks(directory / problem.checks)
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
    try:
        tree = ast.parse(path.read_bytes())
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
        variants = defined_functions(directory / problem.variants)
        if variants is None:
            issues.append(SpecIssue(path, f"{where}.variant",
                                    f"the variants file {problem.variants!r} is missing or "
                                    f"is not valid Python"))
        elif detect.variant not in variants:
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
    header = (f"# {spec.title}: the visible cases of the exercise, as the grader checks them.\n"
              "# Generated for the student kit; the hidden cases are not in it.\n")
    return header + yaml.safe_dump(raw, sort_keys=False, allow_unicode=True, width=100)
