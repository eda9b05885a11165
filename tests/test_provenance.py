"""Static provenance: which lifts a graded function's source applies, and which of them
flow to its return value, read with ``ast`` on the trusted side (nothing is run)."""

from __future__ import annotations

import textwrap

import pytest

from autograder.grading import provenance
from autograder.grading.provenance import StaticLift, notebook_source, static_lifts

Found = list[tuple[str, str, bool]]


def lifts(source: str, function: str, module: str = "solution.py",
          **others: str) -> Found:
    """``static_lifts`` of one file (plus ``others``: ``helpers="..."`` is helpers.py)."""
    sources = {module: textwrap.dedent(source)}
    sources.update({f"{name.replace('__', '/')}.py": textwrap.dedent(text)
                    for name, text in others.items()})
    return [(s.lift, s.where, s.flows) for s in static_lifts(sources, module, function)]


NNX_SOLUTION = """\
from flax import nnx

def vmap_over_batch(seed, x_batch, features):
    model = nnx.Linear(x_batch.shape[-1], int(features), rngs=nnx.Rngs(int(seed)))

    @nnx.vmap(in_axes=(None, 0))
    def fwd(model, x):
        return model(x)

    out = fwd(model, x_batch)
    return out.reshape(-1)


def vmap_over_ensemble(seed, x, num_models, features):
    n = int(num_models)
    f = int(features)

    @nnx.split_rngs(splits=n)
    @nnx.vmap(in_axes=(0,), out_axes=0)
    def make_model(rngs):
        return nnx.Linear(x.shape[-1], f, rngs=rngs)

    ensemble = make_model(nnx.Rngs(int(seed)))

    @nnx.vmap(in_axes=(0, None))
    def fwd(model, x):
        return model(x)

    out = fwd(ensemble, x)
    return out.reshape(-1)
"""

LINEN_SOLUTION = """\
import jax
from flax import linen as nn

def nn_vmap_forward(seed, x_batch, features):
    vmapped_dense = nn.vmap(nn.Dense, in_axes=0, out_axes=0,
                            variable_axes={"params": None}, split_rngs={"params": False})
    model = vmapped_dense(features=features)
    params = model.init(jax.random.PRNGKey(seed), x_batch)
    out = model.apply(params, x_batch)
    return out.reshape(-1)


class Block(nn.Module):
    features: int

    @nn.compact
    def __call__(self, x, _):
        new_x = nn.relu(nn.Dense(self.features)(x))
        return new_x, None


def composed_lifts_forward(seed, x_batch, num_layers, features):
    scan_layer = nn.scan(Block, variable_axes={"params": 0}, split_rngs={"params": True},
                         length=num_layers)
    batched_scan_layer = nn.vmap(scan_layer, in_axes=0, out_axes=0,
                                 variable_axes={"params": None}, split_rngs={"params": False})
    model = batched_scan_layer(features=features)
    params = model.init(jax.random.PRNGKey(seed), x_batch, None)
    final, _ = model.apply(params, x_batch, None)
    return final.reshape(-1)
"""


# -- 1. the canonical solutions: every lift flows -------------------------------------------


@pytest.mark.parametrize(("source", "function", "expected"), [
    (NNX_SOLUTION, "vmap_over_batch", [("nnx.vmap", "solution.py:6", True)]),
    (NNX_SOLUTION, "vmap_over_ensemble", [("nnx.split_rngs", "solution.py:18", True),
                                          ("nnx.vmap", "solution.py:19", True),
                                          ("nnx.vmap", "solution.py:25", True)]),
    (LINEN_SOLUTION, "nn_vmap_forward", [("nn.vmap", "solution.py:5", True)]),
    (LINEN_SOLUTION, "composed_lifts_forward", [("nn.scan", "solution.py:23", True),
                                                ("nn.vmap", "solution.py:25", True)]),
])
def test_canonical_solutions_apply_every_lift_they_call(source: str, function: str,
                                                        expected: Found) -> None:
    assert lifts(source, function) == expected


def test_the_result_is_frozen_static_lifts() -> None:
    found = static_lifts({"s.py": NNX_SOLUTION}, "s.py", "vmap_over_batch")
    assert found == (StaticLift("nnx.vmap", "s.py:6", True),)
    with pytest.raises(AttributeError):
        found[0].flows = False  # type: ignore[misc]


# -- 2./3. the decoy and the forge ----------------------------------------------------------


def test_a_decoy_lift_whose_result_is_thrown_away_does_not_flow() -> None:
    source = """\
    from flax import nnx

    def vmap_over_batch(seed, x_batch, features):
        model = nnx.Linear(x_batch.shape[-1], int(features), rngs=nnx.Rngs(int(seed)))
        nnx.vmap(lambda m, x: x, in_axes=(None, 0))(model, x_batch)  # for the tracer
        _ = nnx.vmap(lambda m, x: x, in_axes=(None, 0))(model, x_batch)
        unused = nnx.vmap(lambda m, x: m(x), in_axes=(None, 0))
        return model(x_batch).reshape(-1)
    """
    assert lifts(source, "vmap_over_batch") == [("nnx.vmap", "solution.py:5", False),
                                                ("nnx.vmap", "solution.py:6", False),
                                                ("nnx.vmap", "solution.py:7", False)]


def test_a_forged_trace_event_is_no_lift_at_all() -> None:
    source = """\
    from flax import nnx
    from autograder.worker.trace import TRACER

    def vmap_over_batch(seed, x_batch, features):
        model = nnx.Linear(x_batch.shape[-1], int(features), rngs=nnx.Rngs(int(seed)))
        TRACER.events.append({"lift": "nnx.vmap", "in_axes": [None, 0], "out_axes": 0})
        vmap = lambda f, **kw: f  # a look-alike name is not flax's vmap
        return vmap(model, in_axes=0)(x_batch).reshape(-1)
    """
    assert lifts(source, "vmap_over_batch") == []


def test_a_submission_file_shadowing_flax_is_not_flax() -> None:
    source = """\
    from flax import nnx

    def vmap_over_batch(seed, x_batch, features):
        return nnx.vmap(lambda x: x)(x_batch)
    """
    assert lifts(source, "vmap_over_batch", flax__nnx="def vmap(f): return f\n") == []
    assert lifts(source, "vmap_over_batch", jax="") == [("nnx.vmap", "solution.py:4", True)]


# -- 4. imports, however they are spelled --------------------------------------------------


@pytest.mark.parametrize(("imports", "call", "lift"), [
    ("from flax import nnx", "nnx.vmap(f, in_axes=0)", "nnx.vmap"),
    ("import flax.nnx as nnx", "nnx.vmap(f, in_axes=0)", "nnx.vmap"),
    ("import flax.nnx as nx", "nx.scan(f, in_axes=0)", "nnx.scan"),
    ("from flax import nnx as nx", "nx.split_rngs(splits=2)(f)", "nnx.split_rngs"),
    ("from flax.nnx import vmap, split_rngs", "vmap(f, in_axes=0)", "nnx.vmap"),
    ("from flax.nnx import vmap, split_rngs", "split_rngs(splits=2)(f)", "nnx.split_rngs"),
    ("from flax.nnx import vmap as nvmap", "nvmap(f, in_axes=0)", "nnx.vmap"),
    ("import flax", "flax.nnx.vmap(f, in_axes=0)", "nnx.vmap"),
    ("import flax.nnx", "flax.nnx.vmap(f, in_axes=0)", "nnx.vmap"),
    ("from flax import linen as nn", "nn.vmap(f, in_axes=0)", "nn.vmap"),
    ("import flax.linen as nn", "nn.scan(f, length=3)", "nn.scan"),
    ("from flax.linen import vmap, scan", "vmap(f, in_axes=0)", "nn.vmap"),
    ("from flax.linen import vmap, scan", "scan(f, length=3)", "nn.scan"),
    ("import jax", "jax.vmap(f, in_axes=0)", "jax.vmap"),
    ("from jax import vmap", "vmap(f, in_axes=0)", "jax.vmap"),
    ("import jax as j", "j.vmap(f, in_axes=0)", "jax.vmap"),
    ("from functools import partial\nfrom flax import nnx",
     "partial(nnx.vmap, in_axes=0)(f)", "nnx.vmap"),
    ("import functools\nimport flax.linen as nn",
     "functools.partial(nn.vmap, in_axes=0)(f)", "nn.vmap"),
])
def test_every_import_spelling_resolves(imports: str, call: str, lift: str) -> None:
    source = f"{imports}\n\ndef solve(f, x):\n    g = {call}\n    return g(x)\n"
    line = imports.count("\n") + 4
    assert lifts(source, "solve") == [(lift, f"solution.py:{line}", True)]


@pytest.mark.parametrize("source", [
    # an unknown object's .vmap, a parameter named like a module, a local rebinding of one
    "import numpy as np\n\ndef solve(tools, x):\n    return tools.vmap(np.sin)(x)\n",
    "def solve(nnx, x):\n    return nnx.vmap(lambda y: y)(x)\n",
    "from flax import nnx\n\ndef solve(x):\n    nnx = object()\n    return nnx.vmap(x)\n",
    "from flax import nnx\n\ndef solve(x):\n    return nnx.jit(lambda y: y)(x)\n",
])
def test_names_that_only_look_like_lifts_are_not_lifts(source: str) -> None:
    assert lifts(source, "solve") == []


def test_bare_and_partial_decorators_flax_docs_style() -> None:
    source = """\
    from functools import partial

    import jax.numpy as jnp
    from flax import nnx


    def solve(model, xs):
        @nnx.vmap
        def each(x):
            return jnp.sin(x)

        @partial(nnx.vmap, in_axes=(None, 0))
        def forward(model, x):
            return model(x)

        return forward(model, each(xs))
    """
    assert lifts(source, "solve") == [("nnx.vmap", "solution.py:8", True),
                                      ("nnx.vmap", "solution.py:12", True)]


def test_the_graded_function_itself_decorated_and_a_module_level_lambda() -> None:
    source = """\
    import jax
    from flax import nnx

    @nnx.vmap(in_axes=(None, 0))
    def forward(model, x):
        return model(x)

    squares = lambda xs: jax.vmap(lambda x: x * x)(xs)
    """
    assert lifts(source, "forward") == [("nnx.vmap", "solution.py:4", True)]
    assert lifts(source, "squares") == [("jax.vmap", "solution.py:8", True)]


# -- 5. Linen: lifted classes and lifted methods -------------------------------------------


def test_a_lifted_method_of_a_linen_module_the_function_uses() -> None:
    source = """\
    from functools import partial

    import jax
    import flax.linen as nn


    class MlpEnsemble(nn.Module):
        features: int

        @partial(nn.vmap, in_axes=0, out_axes=0,
                 variable_axes={"params": None}, split_rngs={"params": False})
        @nn.compact
        def __call__(self, x):
            return nn.Dense(self.features)(x)


    def nn_vmap_forward(seed, x_batch, features):
        model = MlpEnsemble(features)
        params = model.init(jax.random.PRNGKey(seed), x_batch)
        y = model.apply(params, x_batch)
        return y.reshape(-1)
    """
    assert lifts(source, "nn_vmap_forward") == [("nn.vmap", "solution.py:10", True)]


def test_a_lifted_class_assigned_at_module_level_flax_test_style() -> None:
    source = """\
    import jax
    import jax.numpy as jnp
    from flax import linen as nn

    VmappedDense = nn.vmap(nn.Dense, in_axes=0, out_axes=0,
                           variable_axes={'params': None}, split_rngs={'params': False})
    UnusedScan = nn.scan(nn.Dense, length=3)


    class Model(nn.Module):
        @nn.compact
        def __call__(self, x):
            return VmappedDense(4)(x)


    def nn_vmap_forward(seed, x_batch, features):
        direct = VmappedDense(features)
        params = direct.init(jax.random.PRNGKey(seed), x_batch)
        return jnp.concatenate([direct.apply(params, x_batch).ravel(),
                                Model().apply(params, x_batch).ravel()])
    """
    assert lifts(source, "nn_vmap_forward") == [("nn.vmap", "solution.py:5", True)]


def test_an_nnx_module_that_lifts_inside_its_methods_flax_test_style() -> None:
    source = """\
    from flax import nnx


    class Block(nnx.Module):
        def __init__(self, rngs: nnx.Rngs):
            self.linear = nnx.Linear(3, 3, rngs=rngs)

        def __call__(self, x):
            return nnx.relu(self.linear(x))


    class Stack(nnx.Module):
        def __init__(self, num_layers: int, rngs: nnx.Rngs):
            @nnx.split_rngs(splits=num_layers)
            @nnx.vmap(in_axes=(0,), out_axes=0)
            def create_block(rngs: nnx.Rngs):
                return Block(rngs)

            self.blocks = create_block(rngs)

        def __call__(self, x):
            @nnx.scan(in_axes=(nnx.Carry, 0), out_axes=nnx.Carry)
            def forward(x, block: Block):
                return block(x)

            return forward(x, self.blocks)


    def scan_over_layers(seed, x, num_layers):
        model = Stack(int(num_layers), rngs=nnx.Rngs(int(seed)))
        return model(x).reshape(-1)
    """
    assert lifts(source, "scan_over_layers") == [("nnx.split_rngs", "solution.py:14", True),
                                                 ("nnx.vmap", "solution.py:15", True),
                                                 ("nnx.scan", "solution.py:22", True)]


# -- 6. helpers in other files --------------------------------------------------------------


HELPERS = """\
from flax import nnx


def build(seed, num_models, in_features, features):
    @nnx.split_rngs(splits=num_models)
    @nnx.vmap(in_axes=(0,), out_axes=0)
    def make(rngs):
        return nnx.Linear(in_features, features, rngs=rngs)

    return make(nnx.Rngs(seed))


def never_used():
    return nnx.scan(lambda c, x: (c, x))
"""


@pytest.mark.parametrize(("imports", "call"), [
    ("from helpers import build", "build"),
    ("from helpers import build as make_ensemble", "make_ensemble"),
    ("import helpers", "helpers.build"),
    ("import helpers as h", "h.build"),
])
def test_a_helper_imported_from_another_file(imports: str, call: str) -> None:
    source = f"""\
    from flax import nnx
    {imports}


    def vmap_over_ensemble(seed, x, num_models, features):
        ensemble = {call}(int(seed), int(num_models), x.shape[-1], int(features))
        return nnx.vmap(lambda m, x: m(x), in_axes=(0, None))(ensemble, x).reshape(-1)
    """
    assert lifts(source, "vmap_over_ensemble", helpers=HELPERS) == [
        ("nnx.vmap", "solution.py:7", True),
        ("nnx.split_rngs", "helpers.py:5", True),
        ("nnx.vmap", "helpers.py:6", True)]


def test_a_helper_in_a_package_imported_relatively() -> None:
    source = """\
    from .helpers import build

    def vmap_over_ensemble(seed, x, num_models, features):
        return build(seed, num_models, x.shape[-1], features)(x)
    """
    assert lifts(source, "vmap_over_ensemble", module="pkg/solution.py",
                 pkg__helpers=HELPERS) == [("nnx.split_rngs", "pkg/helpers.py:5", True),
                                           ("nnx.vmap", "pkg/helpers.py:6", True)]


def test_a_helper_called_but_its_result_discarded_does_not_flow() -> None:
    source = """\
    from helpers import build

    def vmap_over_ensemble(seed, x, num_models, features):
        build(seed, num_models, x.shape[-1], features)
        return x.sum(axis=-1)
    """
    assert lifts(source, "vmap_over_ensemble", helpers=HELPERS) == [
        ("nnx.split_rngs", "helpers.py:5", False), ("nnx.vmap", "helpers.py:6", False)]


def test_mutually_recursive_helpers_terminate() -> None:
    source = """\
    import jax

    def ping(x, n):
        return pong(x, n - 1) if n else jax.vmap(lambda y: y)(x)

    def pong(x, n):
        return ping(x, n)
    """
    assert lifts(source, "pong") == [("jax.vmap", "solution.py:4", True)]


# -- 7./8. hand-written lifts and forked Rngs -----------------------------------------------


def test_a_hand_written_lift_split_vmap_merge() -> None:
    source = """\
    import jax
    from flax import nnx

    def vmap_over_batch(seed, x_batch, features):
        model = nnx.Linear(x_batch.shape[-1], features, rngs=nnx.Rngs(seed))
        graphdef, state = nnx.split(model)
        out = jax.vmap(lambda s, x: nnx.merge(graphdef, s)(x), in_axes=(None, 0))(state, x_batch)
        return out.reshape(-1)
    """
    assert lifts(source, "vmap_over_batch") == [("nnx.split", "solution.py:6", True),
                                                ("jax.vmap", "solution.py:7", True),
                                                ("nnx.merge", "solution.py:7", True)]


def test_an_update_through_a_library_call_mutates_its_first_argument() -> None:
    source = """\
    import jax
    from flax import nnx

    def vmap_over_batch(model, x_batch):
        graphdef, state = nnx.split(model)
        new_state = jax.vmap(lambda s: s, in_axes=None)(state)
        nnx.update(model, new_state)
        return model(x_batch)
    """
    assert lifts(source, "vmap_over_batch") == [("nnx.split", "solution.py:5", True),
                                                ("jax.vmap", "solution.py:6", True)]


@pytest.mark.parametrize("fork", [
    "nnx.Rngs(int(seed)).fork(split=n)",
    "rngs.fork(split=n)",
])
def test_forked_rngs_into_a_vmapped_constructor(fork: str) -> None:
    source = f"""\
    from flax import nnx

    def vmap_over_ensemble(seed, x, num_models, features, rngs):
        n = int(num_models)

        @nnx.vmap(in_axes=0, out_axes=0)
        def make_model(rngs):
            return nnx.Linear(x.shape[-1], int(features), rngs=rngs)

        ensemble = make_model({fork})
        return nnx.vmap(lambda m, x: m(x), in_axes=(0, None))(ensemble, x).reshape(-1)
    """
    assert lifts(source, "vmap_over_ensemble") == [("nnx.vmap", "solution.py:6", True),
                                                   ("Rngs.fork", "solution.py:10", True),
                                                   ("nnx.vmap", "solution.py:11", True)]


def test_fork_needs_an_rngs_or_a_split() -> None:
    source = """\
    from flax import nnx

    def solve(seed, other):
        rngs = nnx.Rngs(seed)
        return rngs.fork(), other.fork(), nnx.Rngs(0).fork()
    """
    assert lifts(source, "solve") == [("Rngs.fork", "solution.py:5", True),
                                      ("Rngs.fork", "solution.py:5", True)]


# -- 9. notebooks ---------------------------------------------------------------------------


def test_notebook_source_blanks_magics_and_broken_cells_keeping_lines() -> None:
    cells = ["%matplotlib inline\nimport jax", "x = (", "!pip install flax\ny = 1",
             "model?", "z = 2"]
    assert notebook_source(cells) == "\nimport jax\n\n\ny = 1\n\nz = 2\n"


def test_a_notebook_reports_only_the_graded_functions_lifts() -> None:
    cells = [
        "!pip install -q flax\nimport jax.numpy as jnp\nfrom flax import nnx",
        NNX_SOLUTION.split("\n\n\n")[0].replace("from flax import nnx\n\n", ""),
        "x = jnp.ones((4, 3))\nprint(vmap_over_batch(0.0, x, 3.0))\n"
        "%timeit vmap_over_batch(0.0, x, 3.0)",
        "def vmap_over_ensemble(seed, x, num_models, features):\n"
        "    make = nnx.split_rngs(splits=num_models)(nnx.vmap(nnx.Linear, in_axes=0))\n"
        "    return make(3, features, rngs=nnx.Rngs(seed))(x)",
        "print(nnx.vmap(lambda m, x: m(x), in_axes=(None, 0))(\n"
        "    nnx.Linear(3, 2, rngs=nnx.Rngs(0)), x))",
        "vmap_over_ensemble(0, x, 2, 3).shape  # check\nnot python (",
    ]
    source = notebook_source(cells)
    assert source.splitlines()[3:6] == ["def vmap_over_batch(seed, x_batch, features):",
                                        "    model = nnx.Linear(x_batch.shape[-1], int("
                                        "features), rngs=nnx.Rngs(int(seed)))", ""]
    sources = {"exercises.ipynb": source}
    assert static_lifts(sources, "exercises.ipynb", "vmap_over_batch") == (
        StaticLift("nnx.vmap", "exercises.ipynb:7", True),)
    assert static_lifts(sources, "exercises.ipynb", "vmap_over_ensemble") == (
        StaticLift("nnx.split_rngs", "exercises.ipynb:17", True),
        StaticLift("nnx.vmap", "exercises.ipynb:17", True))


# -- 10. data flow through loops, unpacking, augmented assignment, walrus --------------------


def test_lists_built_in_a_loop_github_issue_style() -> None:
    source = """\
    import jax.numpy as jnp
    from flax import nnx

    def vmap_over_ensemble(seed, x, num_models, features):
        models = [nnx.Linear(x.shape[-1], features, rngs=nnx.Rngs(seed + i))
                  for i in range(num_models)]
        outs = []
        for m in models:
            outs.append(fwd(m, x))
        return jnp.stack(outs).ravel()

    @nnx.vmap(in_axes=(None, 0))
    def fwd(m, x):
        return m(x)
    """
    assert lifts(source, "vmap_over_ensemble") == [("nnx.vmap", "solution.py:12", True)]


def test_reassignment_in_any_order_reaches_a_fixpoint() -> None:
    source = """\
    from flax import nnx

    def solve(model, x, steps):
        a = b = c = x
        for _ in range(steps):
            a = b
            b = c
            c = nnx.vmap(lambda m, y: m(y), in_axes=(None, 0))(model, x)
        return a
    """
    assert lifts(source, "solve") == [("nnx.vmap", "solution.py:8", True)]


def test_unpacking_augmented_assignment_walrus_with_and_stores() -> None:
    source = """\
    import contextlib
    import jax
    from flax import nnx

    def solve(model, params, x):
        final, _ = model.apply(params, x)
        total = 0.0
        total += jax.vmap(lambda y: y * 2)(x).sum()
        if (picked := nnx.vmap(lambda m, y: m(y), in_axes=(None, 0))(model, x)) is None:
            picked = x
        with contextlib.nullcontext(jax.vmap(jnp.sin)) as f:
            mapped = f(x)
        results = {}
        results["scan"] = nnx.scan(lambda c, y: (c, y))(0, x)
        holder = type("H", (), {})()
        holder.value = jax.vmap(jnp.cos)(x)
        squares = [y for y in jax.vmap(jnp.square)(x)]
        return final, total, picked, mapped, results, holder, squares
    """
    assert lifts(source, "solve") == [("jax.vmap", "solution.py:8", True),
                                      ("nnx.vmap", "solution.py:9", True),
                                      ("jax.vmap", "solution.py:11", True),
                                      ("nnx.scan", "solution.py:14", True),
                                      ("jax.vmap", "solution.py:16", True),
                                      ("jax.vmap", "solution.py:17", True)]


def test_a_name_assigned_a_lift_but_not_returned_does_not_flow() -> None:
    source = """\
    from flax import nnx

    def solve(model, x):
        batched = nnx.vmap(lambda m, y: m(y), in_axes=(None, 0))
        check = batched(model, x)
        print(check.shape)
        return model(x)
    """
    assert lifts(source, "solve") == [("nnx.vmap", "solution.py:4", False)]


# -- 11. unreachable code -------------------------------------------------------------------


def test_a_lift_in_another_function_is_not_reported_one_after_return_does_not_flow() -> None:
    source = """\
    import jax
    from flax import nnx

    def other_exercise(x):
        return jax.vmap(jnp.sin)(x)

    def solve(model, x):
        out = model(x)
        if x is None:
            raise ValueError("no input")
        else:
            return out
        out = nnx.vmap(lambda m, y: m(y), in_axes=(None, 0))(model, x)
        return out

    if __name__ == "__main__":
        print(solve(None, jax.vmap(jnp.cos)(1.0)))
    """
    assert lifts(source, "solve") == [("nnx.vmap", "solution.py:13", False)]


def test_a_global_mutated_by_an_uncalled_function_is_not_reached() -> None:
    source = """\
    import jax
    CACHE = []

    def warm_up(x):
        CACHE.append(jax.vmap(jnp.sin)(x))

    def solve(x):
        return CACHE, x
    """
    assert lifts(source, "solve") == []


# -- 12. what cannot be read --------------------------------------------------------------


@pytest.mark.parametrize(("sources", "module", "function"), [
    ({"solution.py": "def solve(x:\n    return nnx.vmap(x)\n"}, "solution.py", "solve"),
    ({}, "solution.py", "solve"),
    ({"solution.py": ""}, "solution.py", "solve"),
    ({"solution.py": NNX_SOLUTION}, "solution.py", "not_defined"),
    ({"solution.py": NNX_SOLUTION}, "elsewhere.py", "vmap_over_batch"),
    ({"solution.py": "x = 1\0\n"}, "solution.py", "solve"),
    ({"solution.py": "import jax\ndef solve(x):\n    return " + "(" * 150 + "x"
                     + ")" * 150 + "\n"}, "solution.py", "solve"),
])
def test_what_cannot_be_read_gives_nothing_and_never_raises(
        sources: dict[str, str], module: str, function: str) -> None:
    assert static_lifts(sources, module, function) == ()


def test_a_broken_helper_leaves_the_rest_readable() -> None:
    source = """\
    from flax import nnx
    from helpers import build

    def solve(x):
        return nnx.vmap(build)(x)
    """
    assert lifts(source, "solve", helpers="def build(:\n") == [
        ("nnx.vmap", "solution.py:5", True)]


def test_deeply_nested_code_gives_nothing_rather_than_raising() -> None:
    depth = 90
    body = "".join("    " * (i + 1) + f"def f{i}(x):\n" for i in range(depth))
    source = ("import jax\ndef solve(x):\n" + body + "    " * (depth + 1)
              + "return jax.vmap(x)\n" + "    return x\n")
    assert isinstance(static_lifts({"s.py": source}, "s.py", "solve"), tuple)
    chain = "import jax\ndef solve(x):\n    return x" + " + x" * 50_000 + "\n"
    assert static_lifts({"s.py": chain}, "s.py", "solve") == ()


def test_a_submission_past_the_node_budget_is_not_analysed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    sources = {"solution.py": NNX_SOLUTION}
    assert static_lifts(sources, "solution.py", "vmap_over_batch") != ()
    monkeypatch.setattr(provenance, "MAX_NODES", 100)
    assert static_lifts(sources, "solution.py", "vmap_over_batch") == ()


@pytest.mark.parametrize(("source", "line"), [
    # A short name for the lift, at module level.
    ("""
    from flax import nnx

    vm = nnx.vmap

    def vmap_over_batch(seed, x_batch, features):
        model = nnx.Linear(x_batch.shape[-1], int(features), rngs=nnx.Rngs(int(seed)))
        return vm(lambda m, x: m(x), in_axes=(None, 0))(model, x_batch).reshape(-1)
    """, 8),
    # The module bound to a local name inside the function.
    ("""
    import flax

    def vmap_over_batch(seed, x_batch, features):
        nnx = flax.nnx
        model = nnx.Linear(x_batch.shape[-1], int(features), rngs=nnx.Rngs(int(seed)))
        return nnx.vmap(lambda m, x: m(x), in_axes=(None, 0))(model, x_batch).reshape(-1)
    """, 7),
])
def test_a_name_bound_to_a_lift_or_to_flax_is_followed(source: str, line: int) -> None:
    assert lifts(source, "vmap_over_batch") == [("nnx.vmap", f"solution.py:{line}", True)]


def test_a_name_bound_to_something_else_is_not_a_lift() -> None:
    source = """
    from flax import nnx

    vm = nnx.Linear

    def vmap_over_batch(seed, x_batch, features):
        return vm(3, 2, rngs=nnx.Rngs(0))(x_batch).reshape(-1)
    """
    assert lifts(source, "vmap_over_batch") == []
