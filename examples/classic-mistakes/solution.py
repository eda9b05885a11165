"""A submission with the classic mistakes the seed texts warn about, one per exercise."""

import jax
from flax import linen as nn
from flax import nnx


def vmap_over_ensemble(seed, x, num_models, features):
    # Mistake: no nnx.split_rngs, so every member gets the same key: identical members.
    n, f = int(num_models), int(features)

    @nnx.vmap(in_axes=None, out_axes=0, axis_size=n)
    def make_model(rngs):
        return nnx.Linear(x.shape[-1], f, rngs=rngs)

    ensemble = make_model(nnx.Rngs(int(seed)))

    @nnx.vmap(in_axes=(0, None))
    def fwd(model, x):
        return model(x)

    return fwd(ensemble, x).reshape(-1)


def vmap_over_batch(seed, x_batch, features):
    # Mistake: in_axes swapped, vmapping over the model instead of the batch.
    model = nnx.Linear(x_batch.shape[-1], int(features), rngs=nnx.Rngs(int(seed)))

    @nnx.vmap(in_axes=(0, None))
    def fwd(model, x):
        return model(x)

    return fwd(model, x_batch).reshape(-1)


def nn_vmap_forward(seed, x_batch, features):
    # Mistake: variable_axes={"params": 0} with split RNGs: one layer per example.
    vmapped_dense = nn.vmap(nn.Dense, in_axes=0, out_axes=0,
                            variable_axes={"params": 0}, split_rngs={"params": True})
    model = vmapped_dense(features=features)
    params = model.init(jax.random.PRNGKey(seed), x_batch)
    return model.apply(params, x_batch).reshape(-1)


class Block(nn.Module):
    features: int

    @nn.compact
    def __call__(self, x, _):
        return nn.relu(nn.Dense(self.features)(x)), None


def composed_lifts_forward(seed, x_batch, num_layers, features):
    # Mistake: returns the (final, ys) tuple instead of the flattened final activation.
    scan_layer = nn.scan(Block, variable_axes={"params": 0}, split_rngs={"params": True},
                         length=num_layers)
    batched = nn.vmap(scan_layer, in_axes=0, out_axes=0,
                      variable_axes={"params": None}, split_rngs={"params": False})
    model = batched(features=features)
    params = model.init(jax.random.PRNGKey(seed), x_batch, None)
    return model.apply(params, x_batch, None)


def vmap_per_input(seed, x_batch, features):
    # Mistake: no nnx.split_rngs, so every row's model gets the same key: identical models.
    b, f = x_batch.shape[0], int(features)

    @nnx.vmap(in_axes=None, out_axes=0, axis_size=b)
    def make_model(rngs):
        return nnx.Linear(x_batch.shape[-1], f, rngs=rngs)

    models = make_model(nnx.Rngs(int(seed)))

    @nnx.vmap(in_axes=(0, 0))
    def fwd(model, x):
        return model(x)

    return fwd(models, x_batch).reshape(-1)


def scan_over_layers(seed, x_batch, num_layers, features):
    # Mistake: no nnx.split_rngs, so every layer gets the same key: identical layers.
    @nnx.vmap(in_axes=None, out_axes=0, axis_size=num_layers)
    def make_layers(rngs):
        return nnx.Linear(features, features, rngs=rngs)

    layers = make_layers(nnx.Rngs(seed))

    @nnx.scan(in_axes=(nnx.Carry, 0), out_axes=nnx.Carry)
    def forward(x, layer):
        return x + nnx.relu(layer(x))

    return forward(x_batch, layers).reshape(-1)
