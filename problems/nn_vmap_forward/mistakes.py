"""Known-wrong versions of nn_vmap_forward, run only when a student's answer is wrong."""

import jax
from flax import linen as nn


def per_example_params(seed, x_batch, features):
    """variable_axes={"params": 0} with split RNGs: B independent layers, one per example."""
    layer = nn.vmap(nn.Dense, in_axes=0, out_axes=0, variable_axes={"params": 0},
                    split_rngs={"params": True})(features=features)
    params = layer.init(jax.random.PRNGKey(seed), x_batch)
    return layer.apply(params, x_batch).reshape(-1)


def split_param_rngs(seed, x_batch, features):
    """Shared params (variable_axes={"params": None}) but split_rngs={"params": True}."""
    vmapped_dense = nn.vmap(nn.Dense, in_axes=0, out_axes=0, variable_axes={"params": None},
                            split_rngs={"params": True})
    model = vmapped_dense(features=features)
    params = model.init(jax.random.PRNGKey(seed), x_batch)
    out = model.apply(params, x_batch)
    return out.reshape(-1)


def wrong_axis_order(seed, x_batch, features):
    """nn.vmap with in_axes=1: it maps over the input features instead of the examples."""
    vmapped_dense = nn.vmap(nn.Dense, in_axes=1, out_axes=0, variable_axes={"params": None},
                            split_rngs={"params": False})
    model = vmapped_dense(features=features)
    params = model.init(jax.random.PRNGKey(seed), x_batch)
    out = model.apply(params, x_batch)
    return out.reshape(-1)


def missing_lift(seed, x_batch, features):
    """A plain nn.Dense applied to the whole batch, without nn.vmap."""
    model = nn.Dense(features=features)
    params = model.init(jax.random.PRNGKey(seed), x_batch)
    out = model.apply(params, x_batch)
    return out.reshape(-1)


def transposed_output(seed, x_batch, features):
    """The (B, features) output transposed before it is flattened."""
    vmapped_dense = nn.vmap(nn.Dense, in_axes=0, out_axes=0, variable_axes={"params": None},
                            split_rngs={"params": False})
    model = vmapped_dense(features=features)
    params = model.init(jax.random.PRNGKey(seed), x_batch)
    out = model.apply(params, x_batch)
    return out.T.reshape(-1)


def not_flattened(seed, x_batch, features):
    """The (B, features) output returned as it is, not flattened to 1-D."""
    vmapped_dense = nn.vmap(nn.Dense, in_axes=0, out_axes=0, variable_axes={"params": None},
                            split_rngs={"params": False})
    model = vmapped_dense(features=features)
    params = model.init(jax.random.PRNGKey(seed), x_batch)
    return model.apply(params, x_batch)
