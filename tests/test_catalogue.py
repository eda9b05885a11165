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

from autograder.spec import LoadedProblem
from tests.corpus import CATALOGUE, mutate, tags
from tests.support import GradeFiles, only

pytestmark = pytest.mark.worker



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
