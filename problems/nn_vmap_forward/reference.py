"""Reference: the seed's canonical solution (Linen nn.vmap with shared params)."""

import jax
from flax import linen as nn


def nn_vmap_forward(seed, x_batch, features):
    vmapped_dense = nn.vmap(
        nn.Dense,
        in_axes=0,
        out_axes=0,
        variable_axes={"params": None},
        split_rngs={"params": False},
    )
    model = vmapped_dense(features=features)
    params = model.init(jax.random.PRNGKey(seed), x_batch)
    out = model.apply(params, x_batch)
    return out.reshape(-1)
