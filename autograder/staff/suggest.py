"""Cases to suggest: variations of a problem's own cases that might catch a surviving mutant.

A mutant that survives every case often only shows on a size the cases never use (a batch
of more than one, a non-square input) or another seed. :func:`candidates` varies the spec's
own cases the way its generators allow: a size of 1 made 3 (one at a time, then all
together), the two leading axes of a generated array swapped (a square one made
non-square), a seed of 0 made 1. Each variation keeps every ``constraints`` expression
true and differs from every case already there. :func:`candidate_problem` is the problem
with those cases only, which the mutation analysis grades the survivors against through the
real grading path; :func:`case_yaml` writes a catching variation as a snippet to paste under
``cases:``.

What this does not cover: arrays given by explicit ``value`` (their shapes are not varied),
sizes that constraints tie to each other in other ways than equal ones (``x.shape[-1] ==
features`` is kept only when both are 1 and made 3 together), and values other than sizes
and seeds (input scales, distributions).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from autograder.spec import ArrayInput, LoadedProblem
from autograder.spec.inputs import Value, materialize
from autograder.spec.model import Case

Arguments = dict[str, int | float | ArrayInput]
#: At most this many variations are tried (the first ones, in case order).
LIMIT = 32
#: What a size of 1 becomes.
SIZE = 3


@dataclass(frozen=True)
class Candidate:
    """A variation of case ``source`` (0-based), as the spec would write it."""

    case: Case
    source: int
    #: What was changed, e.g. ``x_batch's shape [1, 4] -> [3, 4]``.
    what: str


def _key(args: Mapping[str, Any]) -> str:
    return json.dumps({name: value.model_dump(exclude_defaults=True)
                       if isinstance(value, ArrayInput) else value
                       for name, value in sorted(args.items())}, sort_keys=True)


def _scalar(value: int | float, new: int) -> int | float:
    return float(new) if isinstance(value, float) else new


def _variations(problem: LoadedProblem, case: Case) -> list[tuple[Arguments, str]]:
    """Each variation of ``case``'s arguments, and what it changed."""
    args: Arguments = dict(case.args)
    found: list[tuple[Arguments, str]] = []
    ones: Arguments = dict(args)
    changed_ones: list[str] = []
    for param in problem.spec.parameters:
        value = args[param.name]
        if isinstance(value, ArrayInput):
            if value.generate is None or value.shape is None:
                continue
            shape = list(value.shape)
            for axis, size in enumerate(shape):
                if size == 1:
                    bigger = [*shape[:axis], SIZE, *shape[axis + 1:]]
                    found.append(({**args, param.name: value.model_copy(
                        update={"shape": tuple(bigger)})},
                        f"{param.name}'s shape {shape} -> {bigger}"))
            if len(shape) >= 2:
                other = ([shape[1], shape[0], *shape[2:]] if shape[0] != shape[1]
                         else [shape[0], shape[1] + 1, *shape[2:]])
                found.append(({**args, param.name: value.model_copy(
                    update={"shape": tuple(other)})}, f"{param.name}'s shape {shape} -> {other}"))
            if 1 in shape:
                every = [SIZE if s == 1 else s for s in shape]
                ones[param.name] = value.model_copy(update={"shape": tuple(every)})
                changed_ones.append(f"{param.name}'s shape {shape} -> {every}")
        elif value == 1:
            found.append(({**args, param.name: _scalar(value, SIZE)},
                          f"{param.name} {value!r} -> {_scalar(value, SIZE)!r}"))
            ones[param.name] = _scalar(value, SIZE)
            changed_ones.append(f"{param.name} {value!r} -> {_scalar(value, SIZE)!r}")
        elif value == 0:
            found.append(({**args, param.name: _scalar(value, 1)},
                          f"{param.name} {value!r} -> {_scalar(value, 1)!r}"))
    if len(changed_ones) > 1:
        found.insert(0, (ones, "every size of 1 made 3: " + ", ".join(changed_ones)))
    return found


def _holds(problem: LoadedProblem, args: Arguments) -> bool:
    values: dict[str, Value] = {p.name: materialize(p, args[p.name])
                                for p in problem.spec.parameters}
    return all(c.check(values) is None for c in problem.constraints)


def candidates(problem: LoadedProblem, limit: int = LIMIT) -> list[Candidate]:
    """The variations of ``problem``'s cases worth trying, hidden, at most ``limit``."""
    seen = {_key(case.args) for case in problem.spec.cases}
    found: list[Candidate] = []
    for index, case in enumerate(problem.spec.cases):
        label = case.name or f"case {index + 1}"
        for args, what in _variations(problem, case):
            key = _key(args)
            if key in seen or not _holds(problem, args):
                continue
            seen.add(key)
            found.append(Candidate(case.model_copy(update={
                "args": args, "visibility": "hidden", "name": f"{label}, {what}"}), index, what))
            if len(found) >= limit:
                return found
    return found


def candidate_problem(problem: LoadedProblem, found: list[Candidate]) -> LoadedProblem:
    """``problem`` with the candidates as its only cases, and nothing graded but them: no
    structure test, custom checks or mistakes to diagnose. Its folder is the problem's, so
    its expected outputs must be cached apart from the problem's own (a scratch cache)."""
    spec = problem.spec.model_copy(update={
        "cases": tuple(c.case for c in found), "structure": None, "checks": None,
        "mistakes": ()})
    return problem.model_copy(update={"spec": spec, "checks": ()})


def _number(value: int | float) -> str:
    return repr(float(value)) if isinstance(value, float) else str(value)


def _recipe(recipe: ArrayInput) -> str:
    data = recipe.model_dump(exclude_defaults=True)
    order = ["generate", "value", "shape", "low", "high", "loc", "scale", "seed", "dtype"]
    parts = []
    for key in order + sorted(set(data) - set(order)):
        if key not in data:
            continue
        value = data[key]
        if key == "shape":
            value = list(value)
        if isinstance(value, float):
            text = _number(value)
        elif isinstance(value, str) and value.isidentifier():
            text = value  # normal, float32: plain, as the shipped specs write them
        else:
            text = json.dumps(value)
        parts.append(f"{key}: {text}")
    return "{" + ", ".join(parts) + "}"


def case_yaml(problem: LoadedProblem, case: Case, indent: str = "  ") -> str:
    """``case`` as a ``cases:`` entry of ``problem.yaml``, in the shipped specs' style."""
    lines = [f"{indent}- name: {json.dumps(case.name)}"] if case.name else []
    lines += [f"{indent}  visibility: {case.visibility}", f"{indent}  args:"]
    if not case.name:
        lines[0] = f"{indent}- " + lines[0].lstrip()
    for param in problem.spec.parameters:
        value = case.args[param.name]
        shown = _recipe(value) if isinstance(value, ArrayInput) else _number(value)
        lines.append(f"{indent}    {param.name}: {shown}")
    return "\n".join(lines) + "\n"
