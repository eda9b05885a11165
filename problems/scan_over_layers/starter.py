"""Scan over layers with nnx.scan: the `scan_over_layers` exercise.

Check it before you submit:  autograder check <this file>
(in a notebook: from autograder import notebook; notebook.check())
"""

import jax
from flax import nnx


def scan_over_layers(seed: int, x_batch: jax.Array, num_layers: int,
                     features: int) -> jax.Array:
    """Apply num_layers residual layers, x <- x + nnx.relu(layer(x)), in sequence with nnx.scan.

    Build the num_layers nnx.Linear(features, features) layers in one call
    (nnx.split_rngs(splits=num_layers) on top of nnx.vmap(in_axes=(0,), out_axes=0) over
    the constructor, from nnx.Rngs(seed)), then scan over them with
    nnx.scan(in_axes=(nnx.Carry, 0), out_axes=nnx.Carry): the activation is the carry, the
    layers are scanned along axis 0. Return the final (B, features) activation flattened to
    1-D, float32.
    """
    raise NotImplementedError("write scan_over_layers here")
