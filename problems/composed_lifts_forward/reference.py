"""Reference: the seed's canonical solution, nn.vmap(nn.scan(Block))."""

import jax
from flax import linen as nn


class Block(nn.Module):
    features: int

    @nn.compact
    def __call__(self, x, _):
        new_x = nn.relu(nn.Dense(self.features)(x))
        return new_x, None


def composed_lifts_forward(seed, x_batch, num_layers, features):
    scan_layer = nn.scan(
        Block,
        variable_axes={"params": 0},
        split_rngs={"params": True},
        length=num_layers,
    )
    batched_scan_layer = nn.vmap(
        scan_layer,
        in_axes=0,
        out_axes=0,
        variable_axes={"params": None},
        split_rngs={"params": False},
    )
    model = batched_scan_layer(features=features)
    params = model.init(jax.random.PRNGKey(seed), x_batch, None)
    final, _ = model.apply(params, x_batch, None)
    return final.reshape(-1)
