"""Every mistake in the seed exercises' catalogues, made on purpose, through real workers.

Each wrong submission below makes exactly one known mistake (or two, where that is the
point): it must get ``pitfall:<id>`` on the affected tests, the catalogue's message, and lose
exactly the points the spec says. Correct solutions in other styles must get full marks and
no pitfall at all. Visible cases only (3 per problem, 1 point each, plus the 2-point
structure test) keep this fast; the full Gradescope run is covered elsewhere.
"""

from __future__ import annotations

import json

import pytest

from autograder.grading.outcome import ProblemResult
from autograder.spec import LoadedProblem
from tests.support import BATCH as BATCH_TEMPLATE
from tests.support import GradeFiles, only

pytestmark = pytest.mark.worker

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


def tags(result: ProblemResult) -> list[list[str]]:
    return [[] if c.feedback is None else list(c.feedback.tags) for c in result.tests]


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


@pytest.mark.parametrize(("function", "mistake_id", "edits", "points"), CATALOGUE,
                         ids=[f"{f}:{m}" for f, m, _, _ in CATALOGUE])
def test_each_known_mistake_is_named_with_its_message(
        grade_files: GradeFiles, problems: dict[str, LoadedProblem], function: str,
        mistake_id: str, edits: list[tuple[str, str]], points: float) -> None:
    source = mutate(function, *edits)
    result = only(grade_files({"solution.py": source}, function, visible_only=True))
    mistake = next(m for m in problems[function].spec.mistakes if m.id == mistake_id)
    failed = [c for c in result.tests if c.feedback is not None]
    assert failed, "the mistake went unnoticed"
    named = [c for c in failed if mistake_id in c.feedback.tags]  # type: ignore[union-attr]
    assert named, f"{mistake_id} not named; got {tags(result)}"
    for case in named:
        assert case.feedback is not None
        if case.feedback.id == mistake_id:
            assert case.feedback.summary == mistake.summary
            assert mistake.fix.strip()[:60] in case.feedback.details
    assert result.points == pytest.approx(points), tags(result)


def test_correct_solutions_in_other_styles_get_full_marks_and_no_pitfall(
        grade_files: GradeFiles) -> None:
    files = {
        "ensemble.py": '''
            import flax.nnx as nx
            import numpy as np


            def _build(x, n, f, seed):
                rngs = nx.Rngs(int(seed))
                make = nx.vmap(lambda r: nx.Linear(x.shape[-1], f, rngs=r), in_axes=(0,))
                return nx.split_rngs(splits=n)(make)(rngs)


            def vmap_over_ensemble(seed, x, num_models, features):
                ensemble = _build(x, int(num_models), int(features), seed)
                out = nx.vmap(lambda m, v: m(v), in_axes=(0, None))(ensemble, x)
                return np.asarray(out).ravel()
            ''',
        "linen_parts.py": '''
            from flax.linen import Dense, Module, compact, relu, scan, vmap


            class Block(Module):
                features: int

                @compact
                def __call__(self, x, _):
                    return relu(Dense(self.features)(x)), None


            def make_model(num_layers, features):
                stack = scan(Block, variable_axes={"params": 0}, split_rngs={"params": True},
                             length=num_layers)
                return vmap(stack, variable_axes={"params": None},
                            split_rngs={"params": False})(features=features)
            ''',
        "composed.py": '''
            from jax import random
            from linen_parts import make_model


            def composed_lifts_forward(seed, x_batch, num_layers, features):
                model = make_model(num_layers, features)
                params = model.init(random.key(seed), x_batch, None)
                return model.apply(params, x_batch, None)[0].reshape(-1)
            ''',
        "dense.py": '''
            import jax
            from flax import linen

            VmappedDense = linen.vmap(linen.Dense, variable_axes={"params": None},
                                      split_rngs={"params": False})


            def nn_vmap_forward(seed, x_batch, features):
                model = VmappedDense(features)
                variables = model.init(jax.random.PRNGKey(seed), x_batch)
                return model.apply(variables, x_batch).flatten()
            ''',
    }
    report = grade_files(files, "vmap_over_ensemble", "composed_lifts_forward",
                         "nn_vmap_forward", visible_only=True)
    assert [(p.problem.spec.function, tags(p)) for p in report.problems] == [
        (p.problem.spec.function, [[]] * 4) for p in report.problems]
    assert [p.points for p in report.problems] == [5.0, 5.0, 5.0]


def test_two_mistakes_at_once_are_both_named(grade_files: GradeFiles) -> None:
    source = mutate("composed_lifts_forward",
                    ("    final, _ = model.apply(params, x_batch, None)\n"
                     "    return final.reshape(-1)",
                     "    return model.apply(params, x_batch, None)"),
                    ('split_rngs={"params": True}', 'split_rngs={"params": False}'))
    result = only(grade_files({"solution.py": source}, "composed_lifts_forward",
                              visible_only=True))
    for case_tags in tags(result)[:3]:
        assert case_tags[:2] == ["wrong-type", "identical-layers"]
    assert tags(result)[3] == ["identical-layers"]  # the structure test
    assert result.points == 0


def test_an_unknown_mistake_says_so_and_shows_the_numbers(grade_files: GradeFiles) -> None:
    source = mutate("vmap_over_batch", (").reshape(-1)", ").reshape(-1) * 2.0"))
    result = only(grade_files({"solution.py": source}, "vmap_over_batch", visible_only=True))
    assert tags(result) == [["wrong-values"]] * 3 + [[]]
    feedback = result.cases[0].feedback
    assert feedback is not None
    assert "largest absolute difference" in feedback.details
    assert feedback.details.endswith(
        "This does not match any of the known mistakes for this exercise; compare your code "
        "with the problem statement step by step.")
    assert result.points == 2.0


def test_results_json_carries_every_named_pitfall_as_a_tag(
        grade_files: GradeFiles) -> None:
    from autograder.gradescope.results import build_results

    source = mutate("vmap_over_batch", ("in_axes=(None, 0)", "in_axes=(0, None)"))
    report = grade_files({"solution.py": source}, "vmap_over_batch", visible_only=True)
    results = json.loads(json.dumps(build_results(report)))
    assert [t["tags"] for t in results["tests"]] == [
        ["problem:vmap_over_batch", "pitfall:wrong-axis-order", "pitfall:runtime-error"]] * 3 + [
        ["problem:vmap_over_batch", "pitfall:wrong-axis-order"]]
