"""Known-wrong versions of vmap_over_ensemble, run only when a student's answer is wrong.

Each function makes exactly one mistake from the catalogue in problem.yaml; a student whose
output equals one of these on a case is told which mistake it is.
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
