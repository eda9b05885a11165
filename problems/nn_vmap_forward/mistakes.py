"""Known-wrong versions of nn_vmap_forward, run only when a student's answer is wrong."""

import jax
from flax import linen as nn


def per_example_params(seed, x_batch, features):
    """variable_axes={"params": 0} with split RNGs: B independent layers, one per example."""
    layer = nn.vmap(nn.Dense, in_axes=0, out_axes=0, variable_axes={"params": 0},
                    split_rngs={"params": True})(features=features)
    params = layer.init(jax.random.PRNGKey(seed), x_batch)
    return layer.apply(params, x_batch).reshape(-1)
