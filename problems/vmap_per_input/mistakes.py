"""Known-wrong versions of vmap_per_input, run only when a student's answer is wrong.

Each function makes exactly one mistake from the catalogue in problem.yaml; a student whose
output equals one of these on a case is told which mistake it is.
"""

import jax.numpy as jnp
from flax import nnx


def _make_models(seed, x_batch, features):
    """The correct stack of B models (split_rngs + vmap over the constructor)."""

    @nnx.split_rngs(splits=x_batch.shape[0])
    @nnx.vmap(in_axes=(0,), out_axes=0)
    def make_model(rngs):
        return nnx.Linear(x_batch.shape[-1], int(features), rngs=rngs)

    return make_model(nnx.Rngs(int(seed)))


def no_split_rngs(seed, x_batch, features):
    """The constructor vmapped without nnx.split_rngs: every row's model gets the same key."""
    b, f = x_batch.shape[0], int(features)

    @nnx.vmap(in_axes=None, out_axes=0, axis_size=b)
    def make_model(rngs):
        return nnx.Linear(x_batch.shape[-1], f, rngs=rngs)

    models = make_model(nnx.Rngs(int(seed)))
    return nnx.vmap(lambda model, x: model(x), in_axes=(0, 0))(models, x_batch).reshape(-1)


def unsplit_key(seed, x_batch, features):
    """The constructor vmapped with in_axes=(0,) over an Rngs that was never split."""
    f = int(features)

    @nnx.vmap(in_axes=(0,), out_axes=0)
    def make_model(rngs):
        return nnx.Linear(x_batch.shape[-1], f, rngs=rngs)

    models = make_model(nnx.Rngs(int(seed)))
    return nnx.vmap(lambda model, x: model(x), in_axes=(0, 0))(models, x_batch).reshape(-1)


def shared_model(seed, x_batch, features):
    """One nnx.Linear shared by every row, nnx.vmap(in_axes=(None, 0)) as in vmap_over_batch."""
    model = nnx.Linear(x_batch.shape[-1], int(features), rngs=nnx.Rngs(int(seed)))

    @nnx.vmap(in_axes=(None, 0))
    def fwd(model, x):
        return model(x)

    return fwd(model, x_batch).reshape(-1)


def inputs_not_mapped(seed, x_batch, features):
    """The forward nnx.vmap with in_axes=(0, None): every model sees the whole batch."""
    models = _make_models(seed, x_batch, features)

    @nnx.vmap(in_axes=(0, None))
    def fwd(model, x):
        return model(x)

    return fwd(models, x_batch).reshape(-1)


def python_loop(seed, x_batch, features):
    """One nnx.Linear per row built in a Python loop from one shared Rngs, applied row by row."""
    rngs = nnx.Rngs(int(seed))
    models = [nnx.Linear(x_batch.shape[-1], int(features), rngs=rngs)
              for _ in range(x_batch.shape[0])]
    return jnp.stack([model(x) for model, x in zip(models, x_batch, strict=True)]).reshape(-1)


def python_loop_seeds(seed, x_batch, features):
    """One nnx.Linear per row built in a Python loop, each from its own seed (seed + i)."""
    outputs = [nnx.Linear(x_batch.shape[-1], int(features), rngs=nnx.Rngs(int(seed) + i))(x)
               for i, x in enumerate(x_batch)]
    return jnp.stack(outputs).reshape(-1)


def not_flattened(seed, x_batch, features):
    """The (B, features) output returned as it is, not flattened to 1-D."""
    models = _make_models(seed, x_batch, features)

    @nnx.vmap(in_axes=(0, 0))
    def fwd(model, x):
        return model(x)

    return fwd(models, x_batch)


def seed_not_cast(seed, x_batch, features):
    """The float seed passed to nnx.Rngs without int()."""
    f = int(features)

    @nnx.split_rngs(splits=x_batch.shape[0])
    @nnx.vmap(in_axes=(0,), out_axes=0)
    def make_model(rngs):
        return nnx.Linear(x_batch.shape[-1], f, rngs=rngs)

    models = make_model(nnx.Rngs(seed))

    @nnx.vmap(in_axes=(0, 0))
    def fwd(model, x):
        return model(x)

    return fwd(models, x_batch).reshape(-1)
