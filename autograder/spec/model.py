"""The spec's models: what a ``problem.yaml`` becomes, a tree of frozen pydantic models.

Each model checks what it can see by itself (types, ranges, a recipe's shape against its
value, a regex that compiles, a matcher's form); what needs the whole spec (arguments against
parameters, constraints against cases, files beside the spec) is checked when it loads
(:mod:`autograder.spec.load`). The model docstrings and field descriptions are the JSON
Schema's (``autograder schema``), which TAs' editors show.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    InstanceOf,
    PlainSerializer,
    Tag,
    WithJsonSchema,
    field_validator,
)

from autograder.protocol.messages import Event
from autograder.spec.checkfile import CustomCheck
from autograder.spec.constraints import Constraint
from autograder.spec.fields import (
    Argument,
    Number,
    StrictModel,
    Tolerance,
    check_dtype,
    check_identifier,
)
from autograder.spec.matchers import AXES_ARGUMENTS, Matcher, canonical_axes
from autograder.spec.matchers import parse as parse_matcher

SPEC_FILENAME = "problem.yaml"

Visibility = Literal["visible", "hidden", "after_due_date", "after_published"]
ParamType = Literal["float", "int", "array"]


class Parameter(StrictModel):
    """One parameter of the student's function, in call order."""

    name: str
    type: ParamType = Field(description="float and int arrive as Python scalars, array as jax")
    doc: str = ""

    _name = field_validator("name")(check_identifier)


class Returns(StrictModel):
    """What the function must return."""

    doc: str = ""
    dtype: str | None = Field("float32", description="required dtype; null to accept any")
    shape: tuple[str, ...] | None = Field(
        None, description="the logical shape before flattening, as expressions over the "
                          "parameters, e.g. [num_models, features]; output signatures need it")

    @field_validator("dtype")
    @classmethod
    def _dtype(cls, value: str | None) -> str | None:
        return None if value is None else check_dtype(value)


LiftName = Literal["nnx.vmap", "nnx.scan", "nnx.split_rngs", "nn.vmap", "nn.scan",
                   "jax.vmap", "nnx.split", "nnx.merge", "Rngs.fork"]
#: The lifted transforms proper (``nnx.split``, ``nnx.merge`` and ``Rngs.fork`` are pieces).
TRANSFORMS = frozenset({"nnx.vmap", "nnx.scan", "nnx.split_rngs", "nn.vmap", "nn.scan",
                        "jax.vmap"})


def _spec_values(args: Mapping[str, Matcher]) -> dict[str, Any]:
    return {name: matcher.spec_value() for name, matcher in args.items()}


class LiftPattern(StrictModel):
    """Matches one recorded lift: its name, what it wraps, and some of its arguments.

    Argument values are compared after tuples become lists (``in_axes: [0, null]``), axis
    arguments in one canonical form (``(0,)`` is ``0``; a ``StateAxes`` that puts the whole
    argument on one axis is that axis); a mapping matches when its listed keys match (a
    missing key counts as ``false``/``null``);
    ``{not: V}``, ``{one_of: [V, ...]}`` and ``{not_one_of: [V, ...]}`` say more.
    """

    lift: LiftName
    wraps: LiftName | Literal["nothing"] | None = Field(
        None, description="the lift this one is applied to; 'nothing' for a plain function")
    #: Each value parsed once into a matcher (dumped back as the spec wrote it); for
    #: editors, any YAML value.
    args: Annotated[dict[str, InstanceOf[Matcher]], PlainSerializer(_spec_values),
                    WithJsonSchema({"additionalProperties": True, "type": "object"})] = Field(
        default_factory=dict)

    @field_validator("args", mode="before")
    @classmethod
    def _matchers(cls, args: Any) -> Any:
        if not isinstance(args, dict):
            return args  # not a mapping: pydantic says so
        return {name: parse_matcher(value, f"args.{name}") for name, value in args.items()}

    def matches(self, event: Event) -> bool:
        """Whether a recorded lift is the one described. A lifted function that was never
        called is dead code and matches nothing; an argument the event lacks is null."""
        if event.get("lift") != self.lift or event.get("calls") == 0:
            return False
        if self.wraps == "nothing" and event.get("wraps") is not None:
            return False
        if self.wraps not in (None, "nothing") and event.get("wraps") != self.wraps:
            return False
        args = event.get("args") or {}
        resolved = event.get("resolved") or {}
        for name, matcher in self.args.items():
            value = resolved.get(name, args.get(name))
            if name in AXES_ARGUMENTS:
                arity = event.get("arity") if name == "in_axes" else None
                value, matcher = canonical_axes(value, arity), matcher.canonical(arity)
            if not matcher.matches(value):
                return False
        return True

    def describe(self) -> str:
        """``nn.vmap(in_axes=0, variable_axes={'params': None}) applied to nn.scan(...)``."""
        inner = ", ".join(f"{k}={m.describe()}" for k, m in self.args.items())
        text = f"{self.lift}({inner})"
        if self.wraps and self.wraps != "nothing":
            text += f" applied to {self.wraps}(...)"
        return text


OutputSignature = Literal["identical-rows", "transposed", "not-flattened"]
#: How the variables of the model the code built differ from the reference's.
ParamsDifference = Literal["extra-scope", "missing-scope", "extra-axis", "missing-axis",
                           "different-shape", "different-paths"]


class Detect(StrictModel):
    """How a mistake is recognised. Every condition given must hold (at least one)."""

    output: OutputSignature | None = Field(
        None, description="a shape-level signature of the output (needs returns.shape)")
    variant: str | None = Field(
        None, description="a function of the problem's mistakes file that makes the mistake; "
                          "matched when the student's output equals its output")
    reference_args: dict[str, Argument] | None = Field(
        None, description="matched when the output equals the reference's with these "
                          "arguments, e.g. {seed: 0} for a hard-coded seed")
    returned: str | None = Field(
        None, description="regex on what a non-array return value was, e.g. '^tuple'")
    error: str | None = Field(
        None, description="regex searched in 'ExceptionType: message' of a runtime error")
    params: ParamsDifference | None = Field(
        None, description="how the variables of the model the code built differ from the "
                          "reference's: an extra module scope (params/Dense_0/...), an extra "
                          "leading axis on every weight (per-example params), a missing one "
                          "(no layer axis), other shapes, other paths")
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
                or self.error or self.params or self.has or self.lacks):
            raise ValueError("give at least one of output, variant, reference_args, "
                             "returned, error, params, has, lacks")

    @property
    def trace_only(self) -> bool:
        """Recognised from the lifts alone (it may not change the numbers at all)."""
        return not (self.output or self.variant or self.reference_args or self.returned
                    or self.error or self.params)

    def trace_holds(self, trace: Sequence[Event], completed: bool = True) -> bool:
        """Whether the trace has every ``has`` lift and none of the ``lacks`` ones. A lift
        cannot be said to be lacking from a run that raised before it could be applied."""
        if self.lacks and not completed:
            return False
        return (all(any(p.matches(e) for e in trace) for p in self.has)
                and not any(p.matches(e) for p in self.lacks for e in trace))


class Mistake(StrictModel):
    """A known mistake: how it is recognised and what the student is told."""

    id: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$",
                    description="tagged pitfall:<id> in results.json")
    summary: str = Field(description="one sentence: what went wrong")
    fix: str = Field(description="why it is wrong and how to fix it (markdown, with code)")
    detect: Annotated[
        Annotated[Detect, Tag("detect")] | Annotated[tuple[Detect, ...], Tag("detect-list")],
        Discriminator(lambda v: "detect-list" if isinstance(v, list | tuple) else "detect"),
    ] = Field(description="how it is recognised; a list gives alternatives (any one suffices)")
    credit: Number = Field(0.0, ge=0, le=1,
                          description="share of a case's points kept when this is the cause")
    example: str | None = Field(
        None, description="function of the mistakes file that makes this mistake, graded by "
                          "`autograder validate` to prove it is recognised (default: the id with "
                          "dashes as underscores, else the first detect variant)")


    @property
    def alternatives(self) -> tuple[Detect, ...]:
        return self.detect if isinstance(self.detect, tuple) else (self.detect,)


class Alternative(StrictModel):
    """Another structure the structure test accepts: equivalent to the one the exercise
    shows (the same stacked parameters made another documented way)."""

    because: str = Field(description="why it is equivalent, for TAs and the docs")
    expect: tuple[LiftPattern, ...] = Field(min_length=1)
    example: str = Field(description="function of the mistakes file written this way, "
                                     "graded by `autograder validate` to prove it scores "
                                     "full marks")


class Structure(StrictModel):
    """The lifts a correct solution applies, checked by one test of its own.

    The lifts must be in the trace the student's worker records *and* in the student's
    source, found there by the trusted side, with their results flowing to the returned
    value: a decoy lift or an injected event does not pass."""

    points: Number = Field(gt=0, description="taken from the problem's points")
    visibility: Visibility = "visible"
    expect: tuple[LiftPattern, ...] = Field(min_length=1)
    accept: tuple[Alternative, ...] = Field(
        (), description="equivalent structures also accepted, e.g. the keys split with "
                        "Rngs.fork(split=N) instead of nnx.split_rngs")

    @property
    def options(self) -> tuple[tuple[LiftPattern, ...], ...]:
        """Every accepted set of lifts: the expected one first."""
        return (self.expect, *(a.expect for a in self.accept))


class EquivalentMutant(StrictModel):
    """A mutant of the reference (``autograder mutants``) that computes what the reference
    computes on every input the spec allows, so no case can catch it."""

    id: str = Field(description="the mutant's id, as `autograder mutants` prints it")
    why: str = Field(min_length=1, description="why no input can tell it from the reference")


class Mutants(StrictModel):
    """What the mutation analysis of the problem's cases (``autograder mutants``) is told."""

    equivalent: tuple[EquivalentMutant, ...] = Field(
        (), description="mutants declared equivalent to the reference; an id that matches no "
                        "mutant is an error (a stale declaration)")

    @field_validator("equivalent")
    @classmethod
    def _unique(cls, value: tuple[EquivalentMutant, ...]) -> tuple[EquivalentMutant, ...]:
        ids = [e.id for e in value]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"mutant {twice[0]!r} is declared equivalent twice; keep one")
        return value


class Case(StrictModel):
    """One call of the student's function, compared with the reference."""

    name: str | None = None
    visibility: Visibility = "visible"
    args: dict[str, Argument]
    weight: Number = Field(1.0, gt=0, description="share of the problem's points")
    tolerance: Tolerance | None = Field(None, description="overrides the problem's tolerance")
    time_limit: Number | None = Field(None, gt=0, description="seconds; overrides the problem's")


class Problem(StrictModel):
    """A whole exercise: the function students implement and how it is graded."""

    function: str = Field(description="name of the function students implement")
    title: str
    summary: str = ""
    parameters: tuple[Parameter, ...] = Field(min_length=1)
    returns: Returns = Returns()
    points: Number = Field(gt=0, description="total points of the problem")
    time_limit: Number = Field(60.0, gt=0, description="seconds per call, compile included")
    tolerance: Tolerance = Tolerance()
    constraints: tuple[str, ...] = Field((), description="Python expressions over parameters")
    reference: str = Field("reference.py", description="file beside the spec")
    variants: str = Field("mistakes.py", description="the mistakes file: functions that "
                                                     "make the declared mistakes")
    checks: str | None = Field(None, description="file of extra unittest checks written with "
                                                 "gradescope-utils' decorators, run on the "
                                                 "student's function beside the cases")
    structure: Structure | None = None
    mistakes: tuple[Mistake, ...] = ()
    cases: tuple[Case, ...] = Field(min_length=1)
    mutants: Mutants = Field(Mutants(), description="for `autograder mutants`: the mutants "
                                                    "of the reference declared equivalent")

    _function = field_validator("function")(check_identifier)

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
    def mistakes_path(self) -> Path:
        """The mistakes file (the spec's ``variants`` key): functions that make the declared
        mistakes, run as ``detect.variant`` and as each mistake's ``example``."""
        return self.directory / self.spec.variants
