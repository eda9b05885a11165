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


def reversed_lift_order(seed, x_batch, num_layers, features):
    """The lifts composed inside-out: nn.scan(nn.vmap(Block)) instead of nn.vmap(nn.scan(Block))."""
    batched_block = nn.vmap(Block, in_axes=(0, None), out_axes=0,
                            variable_axes={"params": None}, split_rngs={"params": False})
    scan_layer = nn.scan(batched_block, variable_axes={"params": 0},
                         split_rngs={"params": True}, length=num_layers)
    model = scan_layer(features=features)
    params = model.init(jax.random.PRNGKey(seed), x_batch, None)
    final, _ = model.apply(params, x_batch, None)
    return final.reshape(-1)


def split_param_rngs(seed, x_batch, num_layers, features):
    """The vmap shares the params (variable_axes None) but splits their RNG (split_rngs True)."""
    scan_layer = nn.scan(Block, variable_axes={"params": 0}, split_rngs={"params": True},
                         length=num_layers)
    batched_scan_layer = nn.vmap(scan_layer, in_axes=0, out_axes=0,
                                 variable_axes={"params": None}, split_rngs={"params": True})
    model = batched_scan_layer(features=features)
    params = model.init(jax.random.PRNGKey(seed), x_batch, None)
    final, _ = model.apply(params, x_batch, None)
    return final.reshape(-1)


def wrong_type(seed, x_batch, num_layers, features):
    """The (final, ys) tuple from model.apply returned as it is."""
    scan_layer = nn.scan(Block, variable_axes={"params": 0}, split_rngs={"params": True},
                         length=num_layers)
    batched_scan_layer = nn.vmap(scan_layer, in_axes=0, out_axes=0,
                                 variable_axes={"params": None}, split_rngs={"params": False})
    model = batched_scan_layer(features=features)
    params = model.init(jax.random.PRNGKey(seed), x_batch, None)
    return model.apply(params, x_batch, None)


def not_flattened(seed, x_batch, num_layers, features):
    """The final (B, features) activation returned as it is, not flattened to 1-D."""
    scan_layer = nn.scan(Block, variable_axes={"params": 0}, split_rngs={"params": True},
                         length=num_layers)
    batched_scan_layer = nn.vmap(scan_layer, in_axes=0, out_axes=0,
                                 variable_axes={"params": None}, split_rngs={"params": False})
    model = batched_scan_layer(features=features)
    params = model.init(jax.random.PRNGKey(seed), x_batch, None)
    final, _ = model.apply(params, x_batch, None)
    return final
