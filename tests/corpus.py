"""The submissions the grading tests make: each wrong in one known way, or right in a style
of its own.

Two lists. ``CATALOGUE``: one starter edit per catalogued mistake of the four seed problems
(tests/test_catalogue.py grades them). ``CORRECT`` and ``WRONG``: a corpus of realistic
submissions, written the way Flax's own documentation, tests, examples and GitHub code write
these patterns (the comment above each one says where its style comes from), or the way
students edit a starter (a deleted line, a notebook whose last cells try the functions out),
each with the exact points (out of 5: 3 visible cases of 1 point and the 2-point structure
test) and the exact tags of every test, the cases then the structure test
(tests/test_realworld.py grades them). Together they give every catalogued mistake two
forms (tests/test_mistake_forms.py checks that).

CORRECT entries must get full marks and no tag at all, whatever their style; WRONG entries
state exactly what the grader must say.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from autograder.grading.outcome import ProblemResult, SubmissionResult
from autograder.spec import LoadedProblem
from tests.support import BATCH as BATCH_TEMPLATE

# -- the catalogue: one starter edit per mistake ------------------------------------------

ENSEMBLE = '''
from flax import nnx


def vmap_over_ensemble(seed, x, num_models, features):
    n, f = int(num_models), int(features)

    @nnx.split_rngs(splits=n)
    @nnx.vmap(in_axes=(0,), out_axes=0)
    def make_model(rngs):
        return nnx.Linear(x.shape[-1], f, rngs=rngs)

    ensemble = make_model(nnx.Rngs(int(seed)))

    @nnx.vmap(in_axes=(0, None))
    def fwd(model, x):
        return model(x)

    return fwd(ensemble, x).reshape(-1)
'''

BATCH = BATCH_TEMPLATE.format(suffix="")

NN_VMAP = '''
import jax
from flax import linen as nn


def nn_vmap_forward(seed, x_batch, features):
    vmapped = nn.vmap(nn.Dense, in_axes=0, out_axes=0,
                      variable_axes={"params": None}, split_rngs={"params": False})
    model = vmapped(features=features)
    params = model.init(jax.random.PRNGKey(seed), x_batch)
    return model.apply(params, x_batch).reshape(-1)
'''

COMPOSED = '''
import jax
from flax import linen as nn


class Block(nn.Module):
    features: int

    @nn.compact
    def __call__(self, x, _):
        return nn.relu(nn.Dense(self.features)(x)), None


def composed_lifts_forward(seed, x_batch, num_layers, features):
    scan = nn.scan(Block, variable_axes={"params": 0}, split_rngs={"params": True},
                   length=num_layers)
    batched = nn.vmap(scan, in_axes=0, out_axes=0,
                      variable_axes={"params": None}, split_rngs={"params": False})
    model = batched(features=features)
    params = model.init(jax.random.PRNGKey(seed), x_batch, None)
    final, _ = model.apply(params, x_batch, None)
    return final.reshape(-1)
'''

REVERSED = (
    "    inner = nn.vmap(Block, in_axes=(0, None), out_axes=0,\n"
    "                    variable_axes={\"params\": None}, split_rngs={\"params\": False})\n"
    "    model = nn.scan(inner, variable_axes={\"params\": 0}, split_rngs={\"params\": True},\n"
    "                    length=num_layers)(features=features)\n"
)

SOURCES = {"vmap_over_ensemble": ENSEMBLE, "vmap_over_batch": BATCH,
           "nn_vmap_forward": NN_VMAP, "composed_lifts_forward": COMPOSED}


def mutate(function: str, *edits: tuple[str, str]) -> str:
    source = SOURCES[function]
    for old, new in edits:
        assert old in source, old
        source = source.replace(old, new)
    return source


# (function, mistake id, edits, points kept out of 5: 3 visible cases + the structure test)
CATALOGUE = [
    ("vmap_over_ensemble", "identical-members",
     [("    @nnx.split_rngs(splits=n)\n    @nnx.vmap(in_axes=(0,), out_axes=0)",
       "    @nnx.vmap(in_axes=None, out_axes=0, axis_size=n)")], 0.0),
    ("vmap_over_ensemble", "python-loop",
     [("    @nnx.split_rngs(splits=n)\n    @nnx.vmap(in_axes=(0,), out_axes=0)\n"
       "    def make_model(rngs):\n        return nnx.Linear(x.shape[-1], f, rngs=rngs)\n\n"
       "    ensemble = make_model(nnx.Rngs(int(seed)))\n",
       "    import jax.numpy as jnp\n    rngs = nnx.Rngs(int(seed))\n"
       "    models = [nnx.Linear(x.shape[-1], f, rngs=rngs) for _ in range(n)]\n"
       "    return jnp.stack([m(x) for m in models]).reshape(-1)\n")], 0.0),
    ("vmap_over_ensemble", "wrong-axis-order", [("in_axes=(0, None)", "in_axes=(None, 0)")], 0.0),
    ("vmap_over_ensemble", "transposed-output", [(").reshape(-1)", ").T.reshape(-1)")], 2.0),
    ("vmap_over_ensemble", "not-flattened", [(").reshape(-1)", ")")], 2.0),
    ("vmap_over_ensemble", "seed-not-cast", [("nnx.Rngs(int(seed))", "nnx.Rngs(seed)")], 0.0),
    ("vmap_over_ensemble", "ignored-seed", [("nnx.Rngs(int(seed))", "nnx.Rngs(0)")], 3.0),
    ("vmap_over_batch", "wrong-axis-order", [("in_axes=(None, 0)", "in_axes=(0, None)")], 0.0),
    ("vmap_over_batch", "missing-lift",
     [("    return fwd(model, x_batch)", "    return model(x_batch)")], 3.0),
    ("vmap_over_batch", "transposed-output", [(").reshape(-1)", ").T.reshape(-1)")], 2.0),
    ("vmap_over_batch", "not-flattened", [(").reshape(-1)", ")")], 2.0),
    ("vmap_over_batch", "seed-not-cast", [("nnx.Rngs(int(seed))", "nnx.Rngs(seed)")], 0.0),
    ("vmap_over_batch", "ignored-seed", [("nnx.Rngs(int(seed))", "nnx.Rngs(0)")], 3.0),
    ("nn_vmap_forward", "per-example-params",
     [('variable_axes={"params": None}, split_rngs={"params": False}',
       'variable_axes={"params": 0}, split_rngs={"params": True}')], 0.0),
    ("nn_vmap_forward", "split-param-rngs",
     [('split_rngs={"params": False}', 'split_rngs={"params": True}')], 0.0),
    ("nn_vmap_forward", "wrong-axis-order", [("in_axes=0, out_axes=0", "in_axes=1, out_axes=0")],
     0.0),
    ("nn_vmap_forward", "missing-lift",
     [("    vmapped = nn.vmap(nn.Dense, in_axes=0, out_axes=0,\n"
       "                      variable_axes={\"params\": None}, split_rngs={\"params\": False})\n"
       "    model = vmapped(features=features)", "    model = nn.Dense(features)")], 3.0),
    ("nn_vmap_forward", "transposed-output", [(").reshape(-1)", ").T.reshape(-1)")], 2.0),
    ("nn_vmap_forward", "not-flattened", [(").reshape(-1)", ")")], 2.0),
    ("composed_lifts_forward", "reversed-lift-order",
     [("    scan = nn.scan(Block, variable_axes={\"params\": 0}, split_rngs={\"params\": True},\n"
       "                   length=num_layers)\n"
       "    batched = nn.vmap(scan, in_axes=0, out_axes=0,\n"
       "                      variable_axes={\"params\": None}, split_rngs={\"params\": False})\n"
       "    model = batched(features=features)\n", REVERSED)], 3.0),
    ("composed_lifts_forward", "per-example-params",
     [('variable_axes={"params": None}, split_rngs={"params": False}',
       'variable_axes={"params": 0}, split_rngs={"params": True}')], 0.0),
    ("composed_lifts_forward", "identical-layers",
     [('split_rngs={"params": True}', 'split_rngs={"params": False}')], 0.0),
    ("composed_lifts_forward", "split-param-rngs",
     [('variable_axes={"params": None}, split_rngs={"params": False}',
       'variable_axes={"params": None}, split_rngs={"params": True}')], 0.0),
    ("composed_lifts_forward", "wrong-type",
     [("    final, _ = model.apply(params, x_batch, None)\n    return final.reshape(-1)",
       "    return model.apply(params, x_batch, None)")], 2.0),
    ("composed_lifts_forward", "not-flattened", [("final.reshape(-1)", "final")], 2.0),
]


# -- the real-world corpus ------------------------------------------------------------

Tags = Sequence[Sequence[str]]
Check = Callable[[SubmissionResult, Mapping[str, LoadedProblem]], None]

FULL: Tags = ([], [], [], [])


@dataclass(frozen=True)
class Entry:
    name: str
    files: Mapping[str, str]
    #: function -> (points out of 5, tags of each test: the 3 visible cases, then structure)
    expect: Mapping[str, tuple[float, Tags]]
    checks: tuple[Check, ...] = field(default=())


def tags(result: ProblemResult) -> list[list[str]]:
    return [[] if c.feedback is None else list(c.feedback.tags) for c in result.tests]


def notebook(*cells: tuple[str, str]) -> str:
    """An nbformat-4 notebook, as Jupyter or Colab saves it: ``cells`` are (kind, source)."""
    def cell(kind: str, source: str) -> dict[str, object]:
        lines = source.strip("\n").splitlines(keepends=True)
        made: dict[str, object] = {"cell_type": kind, "metadata": {}, "source": lines}
        if kind == "code":
            made.update(execution_count=None, outputs=[])
        return made

    return json.dumps({
        "cells": [cell(kind, source) for kind, source in cells],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                    "name": "python3"},
                     "language_info": {"name": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }, indent=1)


# -- extra checks --------------------------------------------------------------------------


def no_wrong_axis_order(report: SubmissionResult, _: Mapping[str, LoadedProblem]) -> None:
    for problem in report.problems:
        for test in problem.tests:
            if test.feedback is not None:
                text = " ".join([test.feedback.id, *test.feedback.tags, test.feedback.summary,
                                 test.feedback.details])
                assert "wrong-axis-order" not in text, test.feedback


def fix_then_error(function: str, mistake: str, error: str) -> Check:
    """Every case's details start with the catalogue's fix for ``mistake`` and contain the
    error's last line (``error``) after it."""
    def check(report: SubmissionResult, problems: Mapping[str, LoadedProblem]) -> None:
        fix = next(m for m in problems[function].spec.mistakes if m.id == mistake).fix.strip()
        result = next(p for p in report.problems if p.problem.spec.function == function)
        for case in result.cases:
            assert case.feedback is not None
            details = case.feedback.details
            assert details.startswith(fix), details
            assert error in details[len(fix):], details

    return check


def details_mention(function: str, text: str) -> Check:
    def check(report: SubmissionResult, _: Mapping[str, LoadedProblem]) -> None:
        result = next(p for p in report.problems if p.problem.spec.function == function)
        for case in result.cases:
            assert case.feedback is not None
            assert text in case.feedback.details, case.feedback.details

    return check


def structure_does_not_say_no_lift(report: SubmissionResult,
                                   problems: Mapping[str, LoadedProblem]) -> None:
    missing = next(m for m in problems["vmap_over_batch"].spec.mistakes
                   if m.id == "missing-lift")
    structure = report.problems[0].tests[-1]
    assert structure.feedback is not None
    summary = structure.feedback.summary
    assert summary != missing.summary
    assert "without" not in summary.lower() and "does not use" not in summary.lower(), summary


# -- correct submissions -------------------------------------------------------------------

# style: a maintainer's pattern from Flax's nnx transforms tests and cgarciae's NCA examples,
# `state_axes = nnx.StateAxes({nnx.RngState: 0, ...: None})` with `in_axes=(state_axes, 0)`;
# the Linear has no RngState, so the whole model is shared.
BATCH_STATE_AXES = '''
from flax import nnx


def vmap_over_batch(seed, x_batch, features):
    model = nnx.Linear(x_batch.shape[-1], int(features), rngs=nnx.Rngs(int(seed)))
    state_axes = nnx.StateAxes({nnx.RngState: 0, ...: None})

    @nnx.vmap(in_axes=(state_axes, 0))
    def forward(model, x):
        return model(x)

    return forward(model, x_batch).reshape(-1)
'''

# style: flax docs 'Transforms' guide, StateAxes section (`nnx.StateAxes({nnx.Param: 0,
# Count: None})` mapping filters to axes), here every Variable on axis 0 with the `...` filter.
ENSEMBLE_STATE_AXES = '''
from flax import nnx


def vmap_over_ensemble(seed, x, num_models, features):
    n, f = int(num_models), int(features)

    @nnx.split_rngs(splits=n)
    @nnx.vmap(in_axes=(0,), out_axes=0)
    def make_model(rngs):
        return nnx.Linear(x.shape[-1], f, rngs=rngs)

    ensemble = make_model(nnx.Rngs(int(seed)))

    @nnx.vmap(in_axes=(nnx.StateAxes({...: 0}), None))
    def forward(model, x):
        return model(x)

    return forward(ensemble, x).reshape(-1)
'''

# style: flax docs 'Transforms' guide, "vmap + scan": `@nnx.vmap(in_axes=0, out_axes=0) def
# create_stack(rngs)` called on `nnx.Rngs(0).fork(split=5)` (and the Rngs.fork docstring,
# `new_rngs = rngs.fork(split=5)`). Checked: the same numbers as split_rngs + vmap.
ENSEMBLE_FORK = '''
import jax.numpy as jnp
from flax import nnx


def vmap_over_ensemble(seed, x, num_models, features):
    num_models, features = int(num_models), int(features)

    @nnx.vmap(in_axes=0, out_axes=0)
    def create_ensemble(rngs):
        return nnx.Linear(x.shape[-1], features, rngs=rngs)

    ensemble = create_ensemble(nnx.Rngs(int(seed)).fork(split=num_models))
    y = nnx.vmap(lambda model, x: model(x), in_axes=(0, None))(ensemble, x)
    return jnp.ravel(y)
'''

# style: a Colab homework notebook: `!pip install`, one cell per function, then cells that
# try the functions (print, %timeit) as the NNX basics notebook does.
NOTEBOOK = notebook(
    ("markdown", "# Homework 4: lifted transforms\n\nRun all cells before submitting."),
    ("code", "!pip install -q flax"),
    ("code", "import jax\nimport jax.numpy as jnp\nfrom flax import nnx"),
    ("code", '''
def vmap_over_batch(seed, x_batch, features):
    model = nnx.Linear(x_batch.shape[-1], int(features), rngs=nnx.Rngs(int(seed)))

    @nnx.vmap(in_axes=(None, 0))
    def fwd(model, x):
        return model(x)

    out = fwd(model, x_batch)
    return out.reshape(-1)
'''),
    ("code", '''
def vmap_over_ensemble(seed, x, num_models, features):
    N = int(num_models)
    F = int(features)

    @nnx.split_rngs(splits=N)
    @nnx.vmap(in_axes=(0,), out_axes=0)
    def make_model(rngs):
        return nnx.Linear(x.shape[-1], F, rngs=rngs)

    ensemble = make_model(nnx.Rngs(int(seed)))

    @nnx.vmap(in_axes=(0, None))
    def fwd(model, x):
        return model(x)

    out = fwd(ensemble, x)
    return out.reshape(-1)
'''),
    ("markdown", "Try it:"),
    ("code", "x = jnp.ones((4, 3))\nprint(vmap_over_batch(0.0, x, 3.0))"),
    ("code", "%timeit vmap_over_batch(0.0, x, 3.0)"),
    ("code", "print(vmap_over_ensemble(0.0, x[0], 4.0, 2.0).shape)"),
)

# style: flax linen_transforms_test.py writes lifts as `@partial(nn.scan, ...)` /
# `@partial(nn.vmap, ...)` decorators; the same with nnx.vmap.
BATCH_PARTIAL = '''
import functools

from flax import nnx


def vmap_over_batch(seed, x_batch, features):
    model = nnx.Linear(x_batch.shape[-1], int(features), rngs=nnx.Rngs(int(seed)))

    @functools.partial(nnx.vmap, in_axes=(None, 0))
    def fwd(model, x):
        return model(x)

    return fwd(model, x_batch).reshape(-1)
'''

# style: flax docs 'Transforms' guide, `vector_dot` lifted once at module level
# (`nnx.vmap(vector_dot, in_axes=0, out_axes=1)`), reused inside the function.
BATCH_MODULE_LEVEL = '''
import jax.numpy as jnp
from flax import nnx


def apply_one(model: nnx.Linear, x: jnp.ndarray) -> jnp.ndarray:
    assert x.ndim == 1, "batch dimensions not allowed"
    return model(x)


apply_batch = nnx.vmap(apply_one, in_axes=(None, 0))


def vmap_over_batch(seed, x_batch, features):
    model = nnx.Linear(x_batch.shape[-1], int(features), rngs=nnx.Rngs(int(seed)))
    return apply_batch(model, x_batch).reshape(-1)
'''

# style: cgarciae's NCA example and Flax's RNN code call nnx.vmap on a lambda without a
# decorator: `nnx.vmap(lambda ca, state: ..., in_axes=(state_axes, 0))(ca, state)`.
BATCH_LAMBDA = '''
from flax import nnx


def vmap_over_batch(seed, x_batch, features):
    rngs = nnx.Rngs(params=int(seed))
    model = nnx.Linear(in_features=x_batch.shape[-1], out_features=int(features), rngs=rngs)
    y = nnx.vmap(lambda m, x: m(x), in_axes=(None, 0))(model, x_batch)
    return y.flatten()
'''

# style: flax docs 'Transforms' guide and the NNX basics notebook wrap the forward in
# nnx.jit (`@nnx.jit` over a function taking the model).
ENSEMBLE_JIT = '''
from flax import nnx


@nnx.jit
@nnx.vmap(in_axes=(0, None))
def ensemble_forward(model, x):
    return model(x)


def vmap_over_ensemble(seed, x, num_models, features):
    n, f = int(num_models), int(features)

    @nnx.split_rngs(splits=n)
    @nnx.vmap(in_axes=(0,), out_axes=0)
    def make_model(rngs):
        return nnx.Linear(x.shape[-1], f, rngs=rngs)

    models = make_model(nnx.Rngs(int(seed)))
    return ensemble_forward(models, x).reshape(-1)
'''

# style: flax.linen.vmap API reference, `BatchFoo = nn.vmap(Foo, in_axes=0, out_axes=0,
# variable_axes={'params': None}, split_rngs={'params': False})`, with single quotes and
# `jax.random.key(seed)` (the new-style typed key) instead of PRNGKey.
LINEN_DOCS = '''
import jax
import flax.linen as nn

BatchDense = nn.vmap(
    nn.Dense,
    in_axes=0, out_axes=0,
    variable_axes={'params': None},
    split_rngs={'params': False})


def nn_vmap_forward(seed, x_batch, features):
    model = BatchDense(features=features)
    variables = model.init(jax.random.key(seed), x_batch)
    y = model.apply(variables, x_batch)
    return y.reshape((-1,))
'''

# style: flax linen_transforms_test.py test_vmap_decorated (`nn.vmap(fn, in_axes=(0,),
# variable_axes={'params': None}, split_rngs={'params': False})` built by a helper).
LINEN_HELPER = '''
import jax
from flax import linen as nn


def vmap(cls):
    return nn.vmap(cls,
                   in_axes=(0,),
                   variable_axes={'params': None},
                   split_rngs={'params': False})


def nn_vmap_forward(seed, x_batch, features):
    model = vmap(nn.Dense)(features)
    params = model.init(jax.random.PRNGKey(seed), x_batch)
    return model.apply(params, x_batch).ravel()
'''

# style: flax linen_transforms_test.py test_scan_decorated (`partial(nn.scan,
# variable_broadcast='params', split_rngs={'params': False})`) and the Flax docs' scan-over-
# layers examples: the lifts configured with functools.partial, applied to the class.
COMPOSED_PARTIAL = '''
import functools

import jax
import flax.linen as nn


class Block(nn.Module):
    features: int

    @nn.compact
    def __call__(self, x, _):
        x = nn.Dense(self.features)(x)
        return nn.relu(x), None


scan_layers = functools.partial(nn.scan, variable_axes={'params': 0},
                                split_rngs={'params': True})
share_over_batch = functools.partial(nn.vmap, in_axes=0, out_axes=0,
                                     variable_axes={'params': None},
                                     split_rngs={'params': False})


def composed_lifts_forward(seed, x_batch, num_layers, features):
    Model = share_over_batch(scan_layers(Block, length=num_layers))
    model = Model(features=features)
    variables = model.init(jax.random.key(seed), x_batch, None)
    (out, _) = model.apply(variables, x_batch, None)
    return out.reshape(-1)
'''

CORRECT = [
    Entry("batch-stateaxes-rngstate", {"solution.py": BATCH_STATE_AXES},
          {"vmap_over_batch": (5.0, FULL)}, (no_wrong_axis_order,)),
    Entry("ensemble-stateaxes-all-zero", {"solution.py": ENSEMBLE_STATE_AXES},
          {"vmap_over_ensemble": (5.0, FULL)}),
    Entry("ensemble-rngs-fork-split", {"solution.py": ENSEMBLE_FORK},
          {"vmap_over_ensemble": (5.0, FULL)}),
    Entry("notebook-batch-and-ensemble", {"Homework4.ipynb": NOTEBOOK},
          {"vmap_over_batch": (5.0, FULL), "vmap_over_ensemble": (5.0, FULL)},
          (no_wrong_axis_order,)),
    Entry("batch-functools-partial", {"solution.py": BATCH_PARTIAL},
          {"vmap_over_batch": (5.0, FULL)}),
    Entry("batch-module-level-lift", {"solution.py": BATCH_MODULE_LEVEL},
          {"vmap_over_batch": (5.0, FULL)}),
    Entry("batch-lambda-no-decorator", {"solution.py": BATCH_LAMBDA},
          {"vmap_over_batch": (5.0, FULL)}),
    Entry("ensemble-nnx-jit", {"solution.py": ENSEMBLE_JIT},
          {"vmap_over_ensemble": (5.0, FULL)}),
    Entry("linen-docs-style-random-key", {"solution.py": LINEN_DOCS},
          {"nn_vmap_forward": (5.0, FULL)}),
    Entry("linen-helper-in-axes-tuple", {"solution.py": LINEN_HELPER},
          {"nn_vmap_forward": (5.0, FULL)}),
    Entry("composed-functools-partial", {"solution.py": COMPOSED_PARTIAL},
          {"composed_lifts_forward": (5.0, FULL)}),
]

# -- wrong submissions ---------------------------------------------------------------------

RANK_ERROR = ("vmap was requested to map its argument along axis 0, which implies that its "
              "rank should be at least 1, but is only 0")

# style: the seed's canonical ensemble with its `@nnx.split_rngs(splits=n)` line deleted (a
# student "simplifying" the starter): vmap then maps the unsplit key, a scalar.
ENSEMBLE_NO_SPLIT_LINE = '''
from flax import nnx


def vmap_over_ensemble(seed, x, num_models, features):
    n = int(num_models)
    f = int(features)

    @nnx.vmap(in_axes=(0,), out_axes=0)
    def make_model(rngs):
        return nnx.Linear(x.shape[-1], f, rngs=rngs)

    ensemble = make_model(nnx.Rngs(int(seed)))

    @nnx.vmap(in_axes=(0, None))
    def fwd(model, x):
        return model(x)

    out = fwd(ensemble, x)
    return out.reshape(-1)
'''

# style: flax docs 'Transforms' guide `@partial(nnx.vmap, ...)` decorators, with axis_size
# standing in for the split (as GitHub ensemble code passes `axis_size=self.num`).
ENSEMBLE_AXIS_SIZE = '''
from functools import partial

from flax import nnx


def vmap_over_ensemble(seed, x, num_models, features):
    n, f = int(num_models), int(features)

    @partial(nnx.vmap, axis_size=n)
    def make_model(rngs):
        return nnx.Linear(x.shape[-1], f, rngs=rngs)

    ensemble = make_model(nnx.Rngs(int(seed)))

    @partial(nnx.vmap, in_axes=(0, None))
    def fwd(model, x):
        return model(x)

    return fwd(ensemble, x).reshape(-1)
'''

# style: a decoy lift: nnx.vmap called once on an identity lambda (the docs' lambda style),
# while the real work is the broadcasting `model(x_batch)`.
BATCH_DECOY = '''
from flax import nnx


def vmap_over_batch(seed, x_batch, features):
    model = nnx.Linear(x_batch.shape[-1], int(features), rngs=nnx.Rngs(int(seed)))
    nnx.vmap(lambda m, x: x, in_axes=(None, 0))(model, x_batch)
    return model(x_batch).reshape(-1)
'''

# style: a submission that forges the grader's own trace event (the event format documented
# in autograder/worker/trace.py) instead of lifting anything.
BATCH_FORGED = '''
from autograder.worker.trace import TRACER
from flax import nnx


def vmap_over_batch(seed, x_batch, features):
    TRACER.events.append({"lift": "nnx.vmap",
                          "args": {"in_axes": [None, 0], "out_axes": 0, "axis_size": None},
                          "target": "<function fwd>", "wraps": None,
                          "where": "solution.py:5", "calls": 1})
    model = nnx.Linear(x_batch.shape[-1], int(features), rngs=nnx.Rngs(int(seed)))
    return model(x_batch).reshape(-1)
'''

# style: the seed text's own "conceptually, nnx.vmap does this" (nnx.split, jax.vmap over
# the state, nnx.merge inside), as the Flax 'Transforms' guide explains NNX transforms.
BATCH_BY_HAND = '''
import jax
from flax import nnx


def vmap_over_batch(seed, x_batch, features):
    model = nnx.Linear(x_batch.shape[-1], int(features), rngs=nnx.Rngs(int(seed)))
    graphdef, state = nnx.split(model)
    out = jax.vmap(lambda s, x: nnx.merge(graphdef, s)(x), in_axes=(None, 0))(state, x_batch)
    return out.reshape(-1)
'''

# style: Flax 0.11+ "NNX modules are pytrees" (tree mode): plain jax.vmap over a Module.
BATCH_JAX_VMAP = '''
import jax
from flax import nnx


def vmap_over_batch(seed, x_batch, features):
    model = nnx.Linear(x_batch.shape[-1], int(features), rngs=nnx.Rngs(int(seed)))
    return jax.vmap(model)(x_batch).reshape(-1)
'''

# style: flax linen_transforms_test.py test_vmapped_outer_module (`@partial(nn.vmap,
# in_axes=(0,), ...)` over `@nn.compact def __call__`), with shared params: the extra module
# scope (params/Dense_0/...) changes the init.
LINEN_METHOD_DECORATOR = '''
import functools

import jax
from flax import linen as nn


class VmapDense(nn.Module):
    features: int

    @functools.partial(nn.vmap, in_axes=(0,), variable_axes={'params': None},
                       split_rngs={'params': False})
    @nn.compact
    def __call__(self, x):
        return nn.Dense(self.features)(x)


def nn_vmap_forward(seed, x_batch, features):
    model = VmapDense(features)
    params = model.init(jax.random.PRNGKey(seed), x_batch)
    return model.apply(params, x_batch).reshape(-1)
'''

# style: as BATCH_PARTIAL (linen_transforms_test's `partial(...)` decorators), with the
# ensemble's axes by mistake.
BATCH_PARTIAL_SWAPPED = BATCH_PARTIAL.replace("in_axes=(None, 0)", "in_axes=(0, None)")

# style: PyTorch-to-JAX ensembles on GitHub (`torch.func.stack_module_state` translated):
# models built in a list comprehension, their states stacked with jax.tree.map, then
# jax.vmap over split/merge as the seed text's "conceptually" block does.
ENSEMBLE_LIST_STACK = '''
import jax
import jax.numpy as jnp
from flax import nnx


def vmap_over_ensemble(seed, x, num_models, features):
    rngs = nnx.Rngs(int(seed))
    models = [nnx.Linear(x.shape[-1], int(features), rngs=rngs)
              for _ in range(int(num_models))]
    graphdef, _ = nnx.split(models[0])
    stacked = jax.tree.map(lambda *leaves: jnp.stack(leaves), *[nnx.state(m) for m in models])
    out = jax.vmap(lambda state: nnx.merge(graphdef, state)(x))(stacked)
    return out.reshape(-1)
'''

# style: the seed's ensemble with the previous problem's forward copied over (in_axes=(None,
# 0)), written as a lambda like Flax's RNN code.
ENSEMBLE_SWAPPED = '''
from flax import nnx


def vmap_over_ensemble(seed, x, num_models, features):
    n, f = int(num_models), int(features)

    @nnx.split_rngs(splits=n)
    @nnx.vmap(in_axes=(0,), out_axes=0)
    def make_model(rngs):
        return nnx.Linear(x.shape[-1], f, rngs=rngs)

    ensemble = make_model(nnx.Rngs(int(seed)))
    return nnx.vmap(lambda m, v: m(v), in_axes=(None, 0))(ensemble, x).reshape(-1)
'''

# style: the nnx.vmap call with the axes as a list, as jax.vmap accepts them
# (`in_axes=[0, None]`). nnx.vmap in Flax 0.12.8 does NOT accept a list: it raises a pytree
# structure error ("different types ... list ... tuple"), so this is a wrong submission.
ENSEMBLE_LIST_AXES = ENSEMBLE_SWAPPED.replace("in_axes=(None, 0)", "in_axes=[0, None]")

# style: flax.linen.vmap API reference's BatchDense (`variable_axes={'params': 0},
# split_rngs={'params': True}`), copied for a shared layer.
LINEN_PER_EXAMPLE = '''
import jax
import flax.linen as nn

BatchDense = nn.vmap(
    nn.Dense,
    in_axes=0, out_axes=0,
    variable_axes={'params': 0},
    split_rngs={'params': True})


def nn_vmap_forward(seed, x_batch, features):
    model = BatchDense(features=features)
    variables = model.init(jax.random.PRNGKey(seed), x_batch)
    return model.apply(variables, x_batch).reshape(-1)
'''

_COMPOSED_HEAD = '''
import jax
from flax import linen as nn


class Block(nn.Module):
    features: int

    @nn.compact
    def __call__(self, x, _):
        return nn.relu(nn.Dense(self.features)(x)), None

'''

# style: flax linen_transforms_test.py (`nn.vmap(cls, in_axes=(0,), ...)` of a module, then
# nn.scan over it): the lifts composed inside-out.
COMPOSED_REVERSED = _COMPOSED_HEAD + '''
def composed_lifts_forward(seed, x_batch, num_layers, features):
    VBlock = nn.vmap(Block, in_axes=(0, None), out_axes=0,
                     variable_axes={'params': None}, split_rngs={'params': False})
    Stack = nn.scan(VBlock, variable_axes={'params': 0}, split_rngs={'params': True},
                    length=num_layers)
    model = Stack(features)
    params = model.init(jax.random.PRNGKey(seed), x_batch, None)
    y, _ = model.apply(params, x_batch, None)
    return y.reshape(-1)
'''

# style: the LSTM examples on GitHub and linen_transforms_test test_scan (`nn.scan(...,
# variable_broadcast='params', split_rngs={'params': False})`): the RNN-cell habit of not
# splitting the params RNG, carried over to a layer stack.
COMPOSED_SCAN_NO_SPLIT = _COMPOSED_HEAD + '''
def composed_lifts_forward(seed, x_batch, num_layers, features):
    ScanLayer = nn.scan(Block, variable_axes={'params': 0}, split_rngs={'params': False},
                        length=num_layers)
    BatchedScanLayer = nn.vmap(ScanLayer, in_axes=0, out_axes=0,
                               variable_axes={'params': None}, split_rngs={'params': False})
    model = BatchedScanLayer(features=features)
    params = model.init(jax.random.PRNGKey(seed), x_batch, None)
    final, _ = model.apply(params, x_batch, None)
    return final.reshape(-1)
'''

# style: the lifted stack built in the `setup()` of a wrapper module (as the s4-jax LSTM
# model builds its nn.scan in setup): the extra `layers` scope changes the init.
COMPOSED_SETUP = _COMPOSED_HEAD + '''
class Stack(nn.Module):
    num_layers: int
    features: int

    def setup(self):
        scan = nn.scan(Block, variable_axes={'params': 0}, split_rngs={'params': True},
                       length=self.num_layers)
        self.layers = nn.vmap(scan, in_axes=0, out_axes=0, variable_axes={'params': None},
                              split_rngs={'params': False})(self.features)

    def __call__(self, x):
        final, _ = self.layers(x, None)
        return final


def composed_lifts_forward(seed, x_batch, num_layers, features):
    model = Stack(num_layers, features)
    params = model.init(jax.random.PRNGKey(seed), x_batch)
    return model.apply(params, x_batch).reshape(-1)
'''

# style: the flax docs 'Randomness' guide's named streams (`nnx.Rngs(params=0, dropout=1)`),
# given the float seed as it arrives.
BATCH_SEED_FLOAT = '''
from flax import nnx


def vmap_over_batch(seed, x_batch, features):
    model = nnx.Linear(x_batch.shape[-1], int(features), rngs=nnx.Rngs(params=seed))

    @nnx.vmap(in_axes=(None, 0))
    def fwd(model, x):
        return model(x)

    return fwd(model, x_batch).reshape(-1)
'''

# style: the docs 'Transforms' guide's lambda forward, then a `.T` (models as columns, the
# way the guide's `out_axes=1` example lays them out) before flattening.
ENSEMBLE_TRANSPOSED = '''
from flax import nnx


def vmap_over_ensemble(seed, x, num_models, features):
    n, f = int(num_models), int(features)

    @nnx.split_rngs(splits=n)
    @nnx.vmap(in_axes=(0,), out_axes=0)
    def make_model(rngs):
        return nnx.Linear(x.shape[-1], f, rngs=rngs)

    ensemble = make_model(nnx.Rngs(int(seed)))
    out = nnx.vmap(lambda model, x: model(x), in_axes=(0, None))(ensemble, x)  # (N, F)
    return out.T.flatten()
'''

# -- packed submissions: a second form of every catalogued mistake ---------------------------
#
# Each of these is one student's whole homework, several functions in one submission (one
# file, several files or a notebook), each function making ONE catalogued mistake, written
# differently from tests/test_catalogue.py's starter edit and from the problem's mistakes.py.
# Together with CATALOGUE they give every mistake id of the four seed problems two forms
# (tests/test_mistake_forms.py checks that).

# The student's first homework file, written from the Flax docs' snippets.
PACKED_DOCS = '''
import jax
import jax.numpy as jnp
from flax import linen as nn
from flax import nnx


# style: the NNX basics guide's `nnx.Linear(2, 5, rngs=nnx.Rngs(params=0))` then `y =
# model(x)`: the Linear broadcasts over the batch, so no lift at all (missing-lift).
def vmap_over_batch(seed, x_batch, features):
    rngs = nnx.Rngs(params=int(seed))
    model = nnx.Linear(in_features=x_batch.shape[-1], out_features=int(features), rngs=rngs)
    y = model(x_batch)  # (B, features)
    return jnp.ravel(y)


# style: the 'Transforms' guide's `create_stack` called on `nnx.Rngs(0).fork(split=5)`,
# with num_models and features cast but the seed not (seed-not-cast).
def vmap_over_ensemble(seed, x, num_models, features):
    num_models, features = int(num_models), int(features)

    @nnx.vmap(in_axes=0, out_axes=0)
    def create_ensemble(rngs):
        return nnx.Linear(x.shape[-1], features, rngs=rngs)

    ensemble = create_ensemble(nnx.Rngs(seed).fork(split=num_models))
    y = nnx.vmap(lambda model, x: model(x), in_axes=(0, None))(ensemble, x)
    return y.reshape(-1)


# style: google/flax issue #4973 (`nn.vmap(Model, ..., split_rngs={'params': False,
# 'dropout': True})`), the lift built inside a wrapper's `@nn.compact` and every stream split
# although the params are shared (split-param-rngs).
class BatchedDense(nn.Module):
    features: int

    @nn.compact
    def __call__(self, x):
        dense = nn.vmap(nn.Dense, in_axes=0, out_axes=0,
                        variable_axes={'params': None},
                        split_rngs={'params': True, 'dropout': True})
        return dense(self.features)(x)


def nn_vmap_forward(seed, x_batch, features):
    model = BatchedDense(features)
    variables = model.init(jax.random.PRNGKey(seed), x_batch)
    return model.apply(variables, x_batch).reshape(-1)


class Block(nn.Module):
    features: int

    @nn.compact
    def __call__(self, x, _):
        return nn.relu(nn.Dense(self.features)(x)), None


# style: a student factoring the lifts' options into one dict (the flax.linen.vmap API
# reference's `variable_axes={'params': 0}, split_rngs={'params': True}`) and reusing it for
# both lifts, so the vmap gets the scan's per-layer axes (per-example-params).
LIFT_OPTIONS = dict(variable_axes={'params': 0}, split_rngs={'params': True})


def composed_lifts_forward(seed, x_batch, num_layers, features):
    ScanBlock = nn.scan(Block, length=num_layers, **LIFT_OPTIONS)
    BatchedScanBlock = nn.vmap(ScanBlock, in_axes=0, out_axes=0, **LIFT_OPTIONS)
    model = BatchedScanBlock(features=features)
    variables = model.init(jax.random.PRNGKey(seed), x_batch, None)
    y, _ = model.apply(variables, x_batch, None)
    return y.reshape(-1)
'''

# A homework split over several files, as a GitHub project lays it out.
PACKED_FILES = {
    "batch.py": '''
from flax import nnx


# style: flax docs 'Transforms' guide, `nnx.vmap(vector_dot, in_axes=0, out_axes=1)` with its
# `assert x.ndim == 1, 'Batch dimensions not allowed'`: the guide's out_axes=1 copied, so
# the output is (features, B) before flattening (transposed-output).
def vmap_over_batch(seed, x_batch, features):
    model = nnx.Linear(x_batch.shape[-1], int(features), rngs=nnx.Rngs(int(seed)))

    def forward(model, x):
        assert x.ndim == 1, 'Batch dimensions not allowed'
        return model(x)

    y = nnx.vmap(forward, in_axes=(None, 0), out_axes=1)(model, x_batch)
    return y.reshape(-1)
''',
    "ensemble.py": '''
import jax.numpy as jnp
from flax import nnx


# style: the seed's ensemble with the forward as a lambda (Flax's RNN code), then
# `jnp.squeeze` taken for a flatten: the (N, features) output stays 2-D (not-flattened).
def vmap_over_ensemble(seed, x, num_models, features):
    n, f = int(num_models), int(features)

    @nnx.split_rngs(splits=n)
    @nnx.vmap(in_axes=(0,), out_axes=0)
    def make_model(rngs):
        return nnx.Linear(x.shape[-1], f, rngs=rngs)

    ensemble = make_model(nnx.Rngs(int(seed)))
    out = nnx.vmap(lambda m, x: m(x), in_axes=(0, None))(ensemble, x)
    return jnp.squeeze(out)
''',
    "layers.py": '''
import functools

import jax
import flax.linen as nn


# style: flax/core/lift.py's vmap docstring (`lift.vmap(nn.dense, in_axes=(0, None), ...)`,
# a dense taking (x, features)) copied for nn.Dense, whose only argument is x
# (wrong-axis-order).
def nn_vmap_forward(seed, x_batch, features):
    batch_dense = nn.vmap(nn.Dense, in_axes=(0, None), out_axes=0,
                          variable_axes={'params': None}, split_rngs={'params': False})
    model = batch_dense(features=features)
    variables = model.init(jax.random.PRNGKey(seed), x_batch)
    return model.apply(variables, x_batch).reshape(-1)


class Block(nn.Module):
    features: int

    @nn.compact
    def __call__(self, x, _):
        x = nn.Dense(self.features)(x)
        return nn.relu(x), None


# style: flax linen_transforms_test.py's `partial(nn.scan, ...)` configurations, the scan's
# `split_rngs={'params': True}` copied onto the shared-params vmap (split-param-rngs).
scan_layers = functools.partial(nn.scan, variable_axes={'params': 0},
                                split_rngs={'params': True})
share_over_batch = functools.partial(nn.vmap, in_axes=0, out_axes=0,
                                     variable_axes={'params': None},
                                     split_rngs={'params': True})


def composed_lifts_forward(seed, x_batch, num_layers, features):
    Model = share_over_batch(scan_layers(Block, length=num_layers))
    model = Model(features=features)
    variables = model.init(jax.random.key(seed), x_batch, None)
    (out, _) = model.apply(variables, x_batch, None)
    return out.reshape(-1)
''',
}

# A Colab notebook: the imports cell defines a global key, one cell per function, then cells
# trying them out.
PACKED_NOTEBOOK = notebook(
    ("markdown", "# Lifted transforms homework\n\nRun all cells, then download the .ipynb."),
    ("code", "!pip install -q flax"),
    # style: JAX tutorials' module-level `key = random.key(0)`, reused below.
    ("code", "import jax\nimport jax.numpy as jnp\nfrom jax import random, vmap\n"
             "from flax import linen as nn\nfrom flax import nnx\n\nkey = random.key(0)"),
    # style: flax examples/mnist's `x = x.reshape((x.shape[0], -1))  # flatten`, which keeps
    # the batch axis (not-flattened).
    ("code", '''
def vmap_over_batch(seed, x_batch, features):
    model = nnx.Linear(x_batch.shape[-1], int(features), rngs=nnx.Rngs(int(seed)))

    @nnx.vmap(in_axes=(None, 0))
    def fwd(model, x):
        return model(x)

    out = fwd(model, x_batch)
    return out.reshape((out.shape[0], -1))  # flatten
'''),
    # style: the notebook's global `key` handed to nnx.Rngs (the 'Randomness' guide's
    # `nnx.Rngs(params=key)`) instead of one made from the seed (ignored-seed).
    ("code", '''
def vmap_over_ensemble(seed, x, num_models, features):
    N, F = int(num_models), int(features)

    @nnx.split_rngs(splits=N)
    @nnx.vmap(in_axes=(0,), out_axes=0)
    def make_model(rngs):
        return nnx.Linear(x.shape[-1], F, rngs=rngs)

    ensemble = make_model(nnx.Rngs(params=key))

    @nnx.vmap(in_axes=(0, None))
    def fwd(model, x):
        return model(x)

    return fwd(ensemble, x).reshape(-1)
'''),
    # style: a Linen user on GitHub, `mapper = vmap(model.apply, (None, 0))` with `from jax
    # import random, vmap`: jax.vmap over apply, no nn.vmap (missing-lift).
    ("code", '''
def nn_vmap_forward(seed, x_batch, features):
    model = nn.Dense(features=features)
    params = model.init(random.key(seed), x_batch[0])
    mapper = vmap(model.apply, (None, 0))
    return mapper(params, x_batch).reshape(-1)
'''),
    # style: jax.lax.scan's `(carry, ys)` pair returned whole, the carry flattened
    # (wrong-type).
    ("code", '''
class Block(nn.Module):
    features: int

    @nn.compact
    def __call__(self, x, _):
        return nn.relu(nn.Dense(self.features)(x)), None


def composed_lifts_forward(seed, x_batch, num_layers, features):
    ScanLayer = nn.scan(Block, variable_axes={"params": 0}, split_rngs={"params": True},
                        length=num_layers)
    BatchedScanLayer = nn.vmap(ScanLayer, in_axes=0, out_axes=0,
                               variable_axes={"params": None}, split_rngs={"params": False})
    model = BatchedScanLayer(features=features)
    params = model.init(random.PRNGKey(seed), x_batch, None)
    carry, ys = model.apply(params, x_batch, None)
    return carry.reshape(-1), ys
'''),
    ("markdown", "Try it:"),
    ("code", "xb = jnp.ones((4, 3))\nprint(vmap_over_batch(0.0, xb, 5.0).shape)\n"
             "print(nn_vmap_forward(0, xb, 5).shape)"),
    ("code", "print(composed_lifts_forward(0, xb, 2, 3)[0].shape)"),
)

# A last homework file, written from GitHub helpers.
PACKED_HELPERS = '''
import jax
import jax.numpy as jnp
from flax import linen as nn
from flax import nnx


# style: a GitHub-style builder with a keyword seed defaulting to 0 (`def make_model(...,
# *, seed=0)`), called without it (ignored-seed).
def make_linear(din, dout, *, seed=0):
    return nnx.Linear(din, dout, rngs=nnx.Rngs(params=seed))


def vmap_over_batch(seed, x_batch, features):
    model = make_linear(x_batch.shape[-1], int(features))

    @nnx.vmap(in_axes=(None, 0))
    def apply(model, x):
        return model(x)

    return apply(model, x_batch).reshape(-1)


# style: flax.linen.vmap API reference's `BatchFoo = nn.vmap(Foo, in_axes=0, out_axes=0,
# ...)`, with `out_axes=1` as in the 'Transforms' guide: (features, B) (transposed-output).
BatchDense = nn.vmap(nn.Dense, in_axes=0, out_axes=1,
                     variable_axes={'params': None}, split_rngs={'params': False})


def nn_vmap_forward(seed, x_batch, features):
    model = BatchDense(features=features)
    variables = model.init(jax.random.PRNGKey(seed), x_batch)
    return jnp.ravel(model.apply(variables, x_batch))


class Block(nn.Module):
    features: int

    @nn.compact
    def __call__(self, x, _):
        return nn.relu(nn.Dense(self.features)(x)), None


# style: the carry taken with `[0]` from the pair model.apply returns, as Flax's scan
# examples index `(carry, ys)`, and not flattened (not-flattened).
def composed_lifts_forward(seed, x_batch, num_layers, features):
    stack = nn.scan(Block, variable_axes={'params': 0}, split_rngs={'params': True},
                    length=num_layers)
    model = nn.vmap(stack, in_axes=0, out_axes=0, variable_axes={'params': None},
                    split_rngs={'params': False})(features)
    variables = model.init(jax.random.PRNGKey(seed), x_batch, None)
    return model.apply(variables, x_batch, None)[0]
'''

# style: the linen docs' BatchDense, "flattened" to (B, features) with `reshape(-1,
# features)`, the PyTorch `view(-1, n)` habit (not-flattened).
PACKED_RESHAPE = '''
import jax
from flax import linen as nn


def nn_vmap_forward(seed, x_batch, features):
    BatchDense = nn.vmap(nn.Dense, in_axes=0, out_axes=0,
                         variable_axes={'params': None}, split_rngs={'params': False})
    model = BatchDense(features)
    variables = model.init(jax.random.PRNGKey(seed), x_batch)
    y = model.apply(variables, x_batch)
    return y.reshape(-1, features)
'''

IDENTICAL: Tags = (["identical-members", "runtime-error"],) * 3 + (["identical-members"],)
PARAMS_DIFFER: Tags = (["wrong-values", "params-differ"],) * 3 + ([],)

WRONG = [
    Entry("ensemble-split-rngs-line-deleted", {"solution.py": ENSEMBLE_NO_SPLIT_LINE},
          {"vmap_over_ensemble": (0.0, IDENTICAL)},
          (fix_then_error("vmap_over_ensemble", "identical-members", RANK_ERROR),)),
    Entry("ensemble-axis-size-no-split", {"solution.py": ENSEMBLE_AXIS_SIZE},
          {"vmap_over_ensemble": (0.0, IDENTICAL)},
          (fix_then_error("vmap_over_ensemble", "identical-members", RANK_ERROR),)),
    Entry("batch-decoy-lift", {"solution.py": BATCH_DECOY},
          {"vmap_over_batch": (3.0, ([], [], [], ["lift-not-used"]))}),
    Entry("batch-forged-trace", {"solution.py": BATCH_FORGED},
          {"vmap_over_batch": (3.0, ([], [], [], ["missing-lift"]))}),
    Entry("batch-lifted-by-hand", {"solution.py": BATCH_BY_HAND},
          {"vmap_over_batch": (3.0, ([], [], [], ["different-lift"]))},
          (structure_does_not_say_no_lift,)),
    Entry("batch-jax-vmap-module", {"solution.py": BATCH_JAX_VMAP},
          {"vmap_over_batch": (3.0, ([], [], [], ["different-lift"]))}),
    Entry("linen-vmap-method-decorator", {"solution.py": LINEN_METHOD_DECORATOR},
          {"nn_vmap_forward": (2.0, PARAMS_DIFFER)},
          (details_mention("nn_vmap_forward", "Dense_0"),)),
    Entry("batch-partial-swapped-axes", {"solution.py": BATCH_PARTIAL_SWAPPED},
          {"vmap_over_batch": (0.0, (["wrong-axis-order", "runtime-error"],) * 3
                               + (["wrong-axis-order"],))}),
    Entry("ensemble-list-comprehension-stacked", {"solution.py": ENSEMBLE_LIST_STACK},
          # The structure test names the mistake the cases found from the trace too.
          {"vmap_over_ensemble": (0.0, (["python-loop", "wrong-values"],) * 3
                                  + (["python-loop"],))}),
    Entry("ensemble-forward-swapped-axes", {"solution.py": ENSEMBLE_SWAPPED},
          {"vmap_over_ensemble": (0.0, (["wrong-axis-order", "runtime-error"],) * 3
                                  + (["wrong-axis-order"],))}),
    # The lift is written right (the structure test passes) but nnx.vmap rejects the list.
    Entry("ensemble-in-axes-list", {"solution.py": ENSEMBLE_LIST_AXES},
          {"vmap_over_ensemble": (2.0, (["runtime-error"],) * 3 + ([],))}),
    Entry("linen-docs-per-example-params", {"solution.py": LINEN_PER_EXAMPLE},
          {"nn_vmap_forward": (0.0, (["per-example-params", "wrong-values"],) * 3
                               + (["per-example-params"],))}),
    Entry("composed-reversed-lifts", {"solution.py": COMPOSED_REVERSED},
          {"composed_lifts_forward": (3.0, ([], [], [], ["reversed-lift-order"]))}),
    Entry("composed-scan-no-split", {"solution.py": COMPOSED_SCAN_NO_SPLIT},
          {"composed_lifts_forward": (0.0, (["identical-layers", "wrong-values"],) * 3
                                      + (["identical-layers"],))}),
    # Not in the lead's list: the same extra-scope diagnosis as the method decorator above.
    Entry("composed-in-setup", {"solution.py": COMPOSED_SETUP},
          {"composed_lifts_forward": (2.0, PARAMS_DIFFER)},
          (details_mention("composed_lifts_forward", "layers"),)),
    Entry("batch-float-seed-named-stream", {"solution.py": BATCH_SEED_FLOAT},
          # The structure test cannot see the lifts (the error comes first) and says so.
          {"vmap_over_batch": (0.0, (["seed-not-cast", "runtime-error"],) * 3
                               + (["runtime-error"],))}),
    Entry("ensemble-transposed", {"solution.py": ENSEMBLE_TRANSPOSED},
          {"vmap_over_ensemble": (2.0, (["transposed-output", "wrong-values"],) * 3
                                  + ([],))}),
]

PACKED = [
    Entry("packed-docs-snippets", {"hw4.py": PACKED_DOCS},
          {"vmap_over_batch": (3.0, ([], [], [], ["missing-lift"])),
           # The error comes before the fork and the forward: the structure test says so.
           "vmap_over_ensemble": (0.0, (["seed-not-cast", "runtime-error"],) * 3
                                  + (["runtime-error"],)),
           "nn_vmap_forward": (0.0, (["split-param-rngs", "runtime-error"],) * 3
                               + (["split-param-rngs"],)),
           "composed_lifts_forward": (0.0, (["per-example-params", "wrong-values"],) * 3
                                      + (["per-example-params"],))}),
    Entry("packed-several-files", PACKED_FILES,
          {"vmap_over_batch": (2.0, (["transposed-output", "wrong-values"],) * 3 + ([],)),
           "vmap_over_ensemble": (2.0, (["not-flattened", "wrong-shape"],) * 3 + ([],)),
           "nn_vmap_forward": (0.0, (["wrong-axis-order", "runtime-error"],) * 3
                               + (["wrong-axis-order"],)),
           "composed_lifts_forward": (0.0, (["split-param-rngs", "runtime-error"],) * 3
                                      + (["split-param-rngs"],))}),
    # The first visible case has seed 0, where ignoring the seed is right.
    Entry("packed-notebook", {"Homework.ipynb": PACKED_NOTEBOOK},
          {"vmap_over_batch": (2.0, (["not-flattened", "wrong-shape"],) * 3 + ([],)),
           "vmap_over_ensemble": (3.0, ([],) + (["ignored-seed", "wrong-values"],) * 2
                                  + ([],)),
           "nn_vmap_forward": (3.0, ([], [], [], ["missing-lift"])),
           "composed_lifts_forward": (2.0, (["wrong-type"],) * 3 + ([],))}),
    Entry("packed-github-helpers", {"solution.py": PACKED_HELPERS},
          {"vmap_over_batch": (3.0, ([],) + (["ignored-seed", "wrong-values"],) * 2 + ([],)),
           "nn_vmap_forward": (2.0, (["transposed-output", "wrong-values"],) * 3 + ([],)),
           "composed_lifts_forward": (2.0, (["not-flattened", "wrong-shape"],) * 3 + ([],))}),
    Entry("packed-reshape-minus-one", {"dense.py": PACKED_RESHAPE},
          {"nn_vmap_forward": (2.0, (["not-flattened", "wrong-shape"],) * 3 + ([],))}),
]
WRONG += PACKED

CORPUS = CORRECT + WRONG
