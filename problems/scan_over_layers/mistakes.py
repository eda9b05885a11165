"""Known-wrong versions of scan_over_layers, run only when a student's answer is wrong.

Each function makes exactly one mistake from the catalogue in problem.yaml; a student whose
output equals one of these on a case is told which mistake it is.
"""

import jax
from flax import nnx


def _make_layers(seed, num_layers, features):
    """The correct stack of layers (split_rngs + vmap over the constructor)."""

    @nnx.split_rngs(splits=num_layers)
    @nnx.vmap(in_axes=(0,), out_axes=0)
    def make_layers(rngs):
        return nnx.Linear(features, features, rngs=rngs)

    return make_layers(nnx.Rngs(seed))


def identical_layers(seed, x_batch, num_layers, features):
    """The constructor vmapped without nnx.split_rngs: every layer gets the same key."""

    @nnx.vmap(in_axes=None, out_axes=0, axis_size=num_layers)
    def make_layers(rngs):
        return nnx.Linear(features, features, rngs=rngs)

    layers = make_layers(nnx.Rngs(seed))

    @nnx.scan(in_axes=(nnx.Carry, 0), out_axes=nnx.Carry)
    def forward(x, layer):
        return x + nnx.relu(layer(x))

    return forward(x_batch, layers).reshape(-1)


def unsplit_key(seed, x_batch, num_layers, features):
    """The constructor vmapped with in_axes=(0,) over an Rngs that was never split."""

    @nnx.vmap(in_axes=(0,), out_axes=0)
    def make_layers(rngs):
        return nnx.Linear(features, features, rngs=rngs)

    layers = make_layers(nnx.Rngs(seed))

    @nnx.scan(in_axes=(nnx.Carry, 0), out_axes=nnx.Carry)
    def forward(x, layer):
        return x + nnx.relu(layer(x))

    return forward(x_batch, layers).reshape(-1)


def python_loop(seed, x_batch, num_layers, features):
    """A list of nnx.Linear built in a Python loop from one Rngs, applied in a for loop."""
    rngs = nnx.Rngs(seed)
    layers = [nnx.Linear(features, features, rngs=rngs) for _ in range(num_layers)]
    x = x_batch
    for layer in layers:
        x = x + nnx.relu(layer(x))
    return x.reshape(-1)


def python_loop_seeds(seed, x_batch, num_layers, features):
    """Layers built in a Python loop, each from its own seed (seed + i), applied in a for loop."""
    x = x_batch
    for i in range(num_layers):
        layer = nnx.Linear(features, features, rngs=nnx.Rngs(seed + i))
        x = x + nnx.relu(layer(x))
    return x.reshape(-1)


def missing_scan(seed, x_batch, num_layers, features):
    """The stacked layers applied in a Python for loop, slicing layer i out, not nnx.scan."""
    layers = _make_layers(seed, num_layers, features)
    x = x_batch
    for i in range(num_layers):
        layer = jax.tree.map(lambda p, i=i: p[i], layers)
        x = x + nnx.relu(layer(x))
    return x.reshape(-1)


def stacked_outputs(seed, x_batch, num_layers, features):
    """Every layer's activation (the scan's ys, out_axes=(nnx.Carry, 0)) instead of the last."""
    layers = _make_layers(seed, num_layers, features)

    @nnx.scan(in_axes=(nnx.Carry, 0), out_axes=(nnx.Carry, 0))
    def forward(x, layer):
        x = x + nnx.relu(layer(x))
        return x, x

    _, ys = forward(x_batch, layers)
    return ys.reshape(-1)


def returned_tuple(seed, x_batch, num_layers, features):
    """The (final, ys) pair of a scan with out_axes=(nnx.Carry, 0) returned as it is."""
    layers = _make_layers(seed, num_layers, features)

    @nnx.scan(in_axes=(nnx.Carry, 0), out_axes=(nnx.Carry, 0))
    def forward(x, layer):
        x = x + nnx.relu(layer(x))
        return x, x

    return forward(x_batch, layers)


def wrong_scan_axes(seed, x_batch, num_layers, features):
    """in_axes=(0, nnx.Carry) on a function written forward(x, layer): x scanned, layers carried."""
    layers = _make_layers(seed, num_layers, features)

    @nnx.scan(in_axes=(0, nnx.Carry), out_axes=nnx.Carry)
    def forward(x, layer):
        return x + nnx.relu(layer(x))

    return forward(x_batch, layers).reshape(-1)


def swapped_call(seed, x_batch, num_layers, features):
    """in_axes=(nnx.Carry, 0) but called forward(layers, x_batch): the layers become the carry."""
    layers = _make_layers(seed, num_layers, features)

    @nnx.scan(in_axes=(nnx.Carry, 0), out_axes=nnx.Carry)
    def forward(x, layer):
        return x + nnx.relu(layer(x))

    return forward(layers, x_batch).reshape(-1)


def default_out_axes(seed, x_batch, num_layers, features):
    """A bare @nnx.scan (out_axes=(nnx.Carry, 0)) on a function that returns only the carry."""
    layers = _make_layers(seed, num_layers, features)

    @nnx.scan
    def forward(x, layer):
        return x + nnx.relu(layer(x))

    return forward(x_batch, layers).reshape(-1)


def no_residual(seed, x_batch, num_layers, features):
    """Each step returns relu(layer(x)) without adding x back (no skip connection)."""
    layers = _make_layers(seed, num_layers, features)

    @nnx.scan(in_axes=(nnx.Carry, 0), out_axes=nnx.Carry)
    def forward(x, layer):
        return nnx.relu(layer(x))

    return forward(x_batch, layers).reshape(-1)


def not_flattened(seed, x_batch, num_layers, features):
    """The final (B, features) activation returned as it is, not flattened to 1-D."""
    layers = _make_layers(seed, num_layers, features)

    @nnx.scan(in_axes=(nnx.Carry, 0), out_axes=nnx.Carry)
    def forward(x, layer):
        return x + nnx.relu(layer(x))

    return forward(x_batch, layers)
