"""Known-wrong versions of composed_lifts_forward, run only when a student's answer is wrong."""

import jax
from flax import linen as nn


class Block(nn.Module):
    features: int

    @nn.compact
    def __call__(self, x, _):
        return nn.relu(nn.Dense(self.features)(x)), None


def _forward(seed, x_batch, num_layers, features, scan_split, vmap_axes, vmap_split):
    scan_layer = nn.scan(Block, variable_axes={"params": 0},
                         split_rngs={"params": scan_split}, length=num_layers)
    model = nn.vmap(scan_layer, in_axes=0, out_axes=0, variable_axes={"params": vmap_axes},
                    split_rngs={"params": vmap_split})(features=features)
    params = model.init(jax.random.PRNGKey(seed), x_batch, None)
    final, _ = model.apply(params, x_batch, None)
    return final.reshape(-1)


def per_example_params(seed, x_batch, num_layers, features):
    """The vmap with variable_axes={"params": 0} and split RNGs: B * N independent layers."""
    return _forward(seed, x_batch, num_layers, features, True, 0, True)


def identical_layers(seed, x_batch, num_layers, features):
    """The scan with split_rngs={"params": False}: every layer gets the same weights."""
    return _forward(seed, x_batch, num_layers, features, False, None, False)
