"""Known-wrong versions of vmap_over_ensemble, run only when a student's answer is wrong.

Each function makes exactly one mistake from the catalogue in problem.yaml; a student whose
output equals one of these on a case is told which mistake it is. ``rngs_fork_split`` is the
exception: the structure the spec accepts besides the expected one (``structure.accept``),
which ``autograder validate`` proves scores full marks.
"""

import jax.numpy as jnp
from flax import nnx


def python_loop(seed, x, num_models, features):
    """Models built one by one in a Python loop from one shared Rngs, then stacked."""
    rngs = nnx.Rngs(int(seed))
    models = [nnx.Linear(x.shape[-1], int(features), rngs=rngs) for _ in range(int(num_models))]
    return jnp.stack([model(x) for model in models]).reshape(-1)


def python_loop_seeds(seed, x, num_models, features):
    """Models built in a Python loop, each from its own seed (seed + i)."""
    outputs = [nnx.Linear(x.shape[-1], int(features), rngs=nnx.Rngs(int(seed) + i))(x)
               for i in range(int(num_models))]
    return jnp.stack(outputs).reshape(-1)


def no_split_rngs(seed, x, num_models, features):
    """The constructor vmapped without nnx.split_rngs: every member gets the same key."""
    n, f = int(num_models), int(features)

    @nnx.vmap(in_axes=None, out_axes=0, axis_size=n)
    def make_model(rngs):
        return nnx.Linear(x.shape[-1], f, rngs=rngs)

    ensemble = make_model(nnx.Rngs(int(seed)))
    return nnx.vmap(lambda model, x: model(x), in_axes=(0, None))(ensemble, x).reshape(-1)


def wrong_axis_order(seed, x, num_models, features):
    """The forward nnx.vmap with in_axes=(None, 0): one shared model, mapped over x."""
    n, f = int(num_models), int(features)

    @nnx.split_rngs(splits=n)
    @nnx.vmap(in_axes=(0,), out_axes=0)
    def make_model(rngs):
        return nnx.Linear(x.shape[-1], f, rngs=rngs)

    ensemble = make_model(nnx.Rngs(int(seed)))

    @nnx.vmap(in_axes=(None, 0))
    def fwd(model, x):
        return model(x)

    out = fwd(ensemble, x)
    return out.reshape(-1)


def transposed_output(seed, x, num_models, features):
    """The (N, features) output transposed before it is flattened."""
    n, f = int(num_models), int(features)

    @nnx.split_rngs(splits=n)
    @nnx.vmap(in_axes=(0,), out_axes=0)
    def make_model(rngs):
        return nnx.Linear(x.shape[-1], f, rngs=rngs)

    ensemble = make_model(nnx.Rngs(int(seed)))

    @nnx.vmap(in_axes=(0, None))
    def fwd(model, x):
        return model(x)

    out = fwd(ensemble, x)
    return out.T.reshape(-1)


def not_flattened(seed, x, num_models, features):
    """The (N, features) output returned as it is, not flattened to 1-D."""
    n, f = int(num_models), int(features)

    @nnx.split_rngs(splits=n)
    @nnx.vmap(in_axes=(0,), out_axes=0)
    def make_model(rngs):
        return nnx.Linear(x.shape[-1], f, rngs=rngs)

    ensemble = make_model(nnx.Rngs(int(seed)))

    @nnx.vmap(in_axes=(0, None))
    def fwd(model, x):
        return model(x)

    return fwd(ensemble, x)


def seed_not_cast(seed, x, num_models, features):
    """The float seed passed to nnx.Rngs without int()."""
    n, f = int(num_models), int(features)

    @nnx.split_rngs(splits=n)
    @nnx.vmap(in_axes=(0,), out_axes=0)
    def make_model(rngs):
        return nnx.Linear(x.shape[-1], f, rngs=rngs)

    ensemble = make_model(nnx.Rngs(seed))

    @nnx.vmap(in_axes=(0, None))
    def fwd(model, x):
        return model(x)

    out = fwd(ensemble, x)
    return out.reshape(-1)


def ignored_seed(seed, x, num_models, features):
    """A hard-coded nnx.Rngs(0) instead of the seed argument."""
    n, f = int(num_models), int(features)

    @nnx.split_rngs(splits=n)
    @nnx.vmap(in_axes=(0,), out_axes=0)
    def make_model(rngs):
        return nnx.Linear(x.shape[-1], f, rngs=rngs)

    ensemble = make_model(nnx.Rngs(0))

    @nnx.vmap(in_axes=(0, None))
    def fwd(model, x):
        return model(x)

    out = fwd(ensemble, x)
    return out.reshape(-1)


def rngs_fork_split(seed, x, num_models, features):
    """Correct, another documented way: the keys split with ``Rngs.fork(split=N)`` (as
    Flax's NNX basics split them) and the vmapped constructor mapped over them."""
    n, f = int(num_models), int(features)

    @nnx.vmap(in_axes=0, out_axes=0)
    def make_model(rngs):
        return nnx.Linear(x.shape[-1], f, rngs=rngs)

    ensemble = make_model(nnx.Rngs(int(seed)).fork(split=n))

    @nnx.vmap(in_axes=(0, None))
    def fwd(model, x):
        return model(x)

    return fwd(ensemble, x).reshape(-1)
