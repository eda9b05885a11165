"""For TAs: ``autograder new NAME`` scaffolds a problem, ``autograder schema`` writes the
JSON Schema of the spec format (for editor completion and validation).

The scaffold is a complete, working exercise (one shared ``nnx.Linear`` lifted over a batch
with ``nnx.vmap``) that passes ``autograder validate`` as it is, so a TA edits from something
that works, one step at a time, validating as they go.
"""

from __future__ import annotations

import json
import keyword
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from autograder.errors import UsageError
from autograder.spec import LoadedProblem, Problem, load_problem
from autograder.spec.assignment import AssignmentSpec
from autograder.student.statement import starter


class ScaffoldError(UsageError):
    """The problem cannot be scaffolded (a bad name, or the folder exists)."""


def _any_of(node: Any) -> Any:
    """``oneOf`` -> ``anyOf``: pydantic writes tagged unions as ``oneOf``, which rejects
    ``11.0`` for being both a number and (to JSON Schema) an integer. The loader stays the
    judge of which member applies."""
    if isinstance(node, dict):
        return {("anyOf" if k == "oneOf" else k): _any_of(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_any_of(v) for v in node]
    return node


def spec_schema() -> dict[str, Any]:
    """The JSON Schema of ``problem.yaml``, generated from the models the loader uses."""
    schema: dict[str, Any] = _any_of(Problem.model_json_schema())
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://flax-lift-autograder/problem.schema.json"
    schema["title"] = "Flax lifted-transforms autograder problem spec (problem.yaml)"
    return schema


def assignment_schema() -> dict[str, Any]:
    """The JSON Schema of ``assignments/<name>.yaml``: the loader's model, where an entry
    may also be a bare problem name (the loader's shorthand for ``{problem: NAME}``)."""
    schema: dict[str, Any] = AssignmentSpec.model_json_schema()
    schema["properties"]["problems"]["items"] = {
        "anyOf": [{"type": "string", "description": "a problem, at its own points"},
                  {"$ref": "#/$defs/Entry"}]}
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://flax-lift-autograder/assignment.schema.json"
    schema["title"] = "Flax lifted-transforms autograder assignment (assignments/NAME.yaml)"
    return schema


#: What ``autograder schema --of KIND`` writes, and the file the repository ships it as.
SCHEMAS = {"problem": (spec_schema, "schema/problem.schema.json"),
           "assignment": (assignment_schema, "schema/assignment.schema.json")}


def schema_text(kind: str = "problem") -> str:
    return json.dumps(SCHEMAS[kind][0](), indent=2, sort_keys=True) + "\n"


#: The line that marks a spec as the scaffold ``new`` wrote, until the TA deletes it: a
#: problem that still has it goes into no zip and no kit.
SCAFFOLD_MARK = "scaffolded by `autograder new`"

_SPEC = '''\
# yaml-language-server: $schema=../../schema/problem.schema.json
# {name}: scaffolded by `autograder new`. It is a complete, working exercise (one shared
# nnx.Linear lifted over a batch with nnx.vmap): change it step by step and run
# `autograder validate problems/{name}` after each step. Every key is in docs/authoring.md.
# Delete these four lines when the exercise is yours: until then it goes into no zip or kit.

# The function students write (its name is the contract; it must be unique in problems/).
function: {name}
title: "{title}"
summary: >
  One paragraph for the statement: what to build, which lift to use, what to return.
  Here: build one nnx.Linear and apply it to every row of x_batch with
  nnx.vmap(in_axes=(None, 0)); return the (B, features) output flattened to 1-D.

# In call order. type: float | int | array. Arguments arrive as Python floats/ints or
# float32 numpy arrays.
parameters:
  - {{name: seed, type: float, doc: "PRNG seed, as a float (cast it with int())"}}
  - {{name: x_batch, type: array, doc: "batch of shape (B, D_in)"}}
  - {{name: features, type: float, doc: "output width, as a float (cast with int())"}}

returns:
  doc: "1-D array of shape (B * features,): the (B, features) output, flattened"
  dtype: float32
  shape: ["x_batch.shape[0]", features]   # the logical shape before flattening

points: 10          # cases share points - structure.points, by weight
time_limit: 60      # seconds per call, compilation included
tolerance: {{rtol: 1.0e-5, atol: 1.0e-6}}

# Checked on every case when the spec is loaded.
constraints:
  - x_batch.ndim == 2
  - features >= 1

# The lifted transforms the solution must apply (a test of its own).
structure:
  points: 2
  expect:
    - {{lift: nnx.vmap, args: {{in_axes: [null, 0]}}}}

# Known mistakes: how each is recognised and what the student is told. Each has an example in
# mistakes.py (the id with dashes as underscores) that `autograder validate` grades to prove
# the mistake is recognised.
mistakes:
  - id: wrong-axis-order
    summary: "Your `nnx.vmap` maps the wrong arguments: `in_axes` must be `(None, 0)`."
    fix: |
      `in_axes` has one entry per argument of the lifted function: `None` for the shared
      model, `0` for the rows of `x_batch`.

      ```python
      @nnx.vmap(in_axes=(None, 0))
      def fwd(model, x):
          return model(x)
      ```
    detect:
      has: [{{lift: nnx.vmap, args: {{in_axes: {{not: [null, 0]}}}}}}]
  - id: not-flattened
    summary: Your output has the right values but is still 2-D; it must be flattened to 1-D.
    fix: |
      Return `out.reshape(-1)`.
    detect: {{output: not-flattened}}

# Visible cases are shown to students (and shipped in the student kit); hidden ones are not.
# Vary every size (including 1) and seed, and use non-square shapes.
cases:
  - name: batch of four
    visibility: visible
    args:
      seed: 0.0
      x_batch: {{generate: normal, shape: [4, 3], seed: 1}}
      features: 5.0
  - name: a batch of one
    visibility: visible
    args:
      seed: 1.0
      x_batch: {{generate: normal, shape: [1, 4], seed: 2}}
      features: 2.0
  - name: one output feature
    visibility: hidden
    args:
      seed: 7.0
      x_batch: {{generate: uniform, shape: [5, 2], low: -2.0, high: 2.0, seed: 3}}
      features: 1.0
  - name: larger batch
    visibility: hidden
    args:
      seed: 11.0
      x_batch: {{generate: normal, shape: [7, 3], seed: 4}}
      features: 4.0
'''

_REFERENCE = '''\
"""The reference solution of {name}: the trusted side runs it on every case.

Never shipped to students (nor in the student kit).
"""

import jax.numpy as jnp
from flax import nnx


def {name}(seed, x_batch, features):
    model = nnx.Linear(x_batch.shape[-1], int(features), rngs=nnx.Rngs(int(seed)))

    @nnx.vmap(in_axes=(None, 0))
    def fwd(model, x):
        return model(x)

    return jnp.asarray(fwd(model, x_batch)).reshape(-1)
'''

_MISTAKES = '''\
"""Known-wrong versions of {name}: one function per mistake in problem.yaml.

`autograder validate` grades each as a student's submission and checks that it is recognised
as its mistake (tag pitfall:<id>) on at least one case. A `detect: {{variant: name}}` rule
compares a student's output with one of these functions' outputs.
"""

from flax import nnx


def wrong_axis_order(seed, x_batch, features):
    """nnx.vmap with the default in_axes=0: maps over the model's parameters too."""
    model = nnx.Linear(x_batch.shape[-1], int(features), rngs=nnx.Rngs(int(seed)))
    return nnx.vmap(lambda model, x: model(x))(model, x_batch).reshape(-1)


def not_flattened(seed, x_batch, features):
    """The right values, returned 2-D."""
    model = nnx.Linear(x_batch.shape[-1], int(features), rngs=nnx.Rngs(int(seed)))
    return nnx.vmap(lambda model, x: model(x), in_axes=(None, 0))(model, x_batch)
'''

def scaffold(problems_dir: Path, name: str) -> list[Path]:
    """Write ``problems_dir/name/`` (spec, reference, mistakes, and the starter generated
    from the spec); the files written."""
    if not name.isidentifier() or keyword.iskeyword(name) or name != name.lower():
        raise ScaffoldError(f"{name!r} cannot name an exercise: use a lowercase Python "
                            "function name, such as scan_over_layers")
    folder = problems_dir / name
    if folder.exists():
        raise ScaffoldError(f"{folder} already exists: choose another name, or edit it")
    title = name.replace("_", " ").capitalize()
    files = {"problem.yaml": _SPEC, "reference.py": _REFERENCE, "mistakes.py": _MISTAKES}
    folder.mkdir(parents=True)
    written = []
    for filename, template in files.items():
        path = folder / filename
        path.write_text(template.format(name=name, title=title), encoding="utf-8")
        written.append(path)
    # The starter is generated from the spec, as the student kit's are for problems without
    # one: the signature and docstring always say what the spec does.
    path = folder / "starter.py"
    path.write_text(starter(load_problem(folder)), encoding="utf-8")
    return [*written, path]


def scaffolds(problems: Sequence[LoadedProblem]) -> list[LoadedProblem]:
    """The problems whose spec still carries the scaffold's first comment."""
    return [p for p in problems
            if SCAFFOLD_MARK in "".join(p.spec_path.read_text(encoding="utf-8")
                                        .splitlines(keepends=True)[:3])]


#: What ``autograder catalogue`` leaves in a mistake's summary and fix for the TA to write.
TO_FILL_IN = "TO FILL IN"


def unfinished_mistakes(problem: LoadedProblem) -> list[tuple[int, str]]:
    """(index, id) of the problem's mistakes whose summary or fix still says TO FILL IN."""
    return [(i, m.id) for i, m in enumerate(problem.spec.mistakes)
            if TO_FILL_IN in m.summary or TO_FILL_IN in m.fix]


def refuse_scaffolds(problems: Sequence[LoadedProblem], what: str) -> None:
    """Stop ``what`` (the zip, the kit) from shipping a scaffold nobody finished, or a
    mistake whose message nobody wrote (students would read TO FILL IN)."""
    unwritten = [(p, i, m) for p in problems for i, m in unfinished_mistakes(p)]
    if unwritten:
        listed = ", ".join(f"{p.spec_path}: mistakes[{i}] ({m})" for p, i, m in unwritten)
        raise UsageError(
            f"{listed}: its summary or fix still says {TO_FILL_IN} (`autograder catalogue` "
            f"left it for you to write), so the {what} would show students that. Write "
            f"them, validate the problem, then build the {what} again.")
    left = scaffolds(problems)
    if left:
        names = ", ".join(str(p.spec_path) for p in left)
        raise UsageError(
            f"{names} {'is' if len(left) == 1 else 'are'} still the scaffold `autograder "
            f"new` wrote (its first comment says so), so the {what} would grade an exercise "
            f"nobody finished. Finish it and delete that comment, or leave it out: name "
            f"the problems to ship in an assignment (--assignment assignments/NAME.yaml).")
