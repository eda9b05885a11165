"""A fully correct submission: the seeds' canonical solutions, as a student would write them."""

import jax
from flax import linen as nn
from flax import nnx


def vmap_over_ensemble(seed, x, num_models, features):
    n, f = int(num_models), int(features)

    @nnx.split_rngs(splits=n)
    @nnx.vmap(in_axes=(0,), out_axes=0)
    def make_model(rngs):
        return nnx.Linear(x.shape[-1], f, rngs=rngs)

    ensemble = make_model(nnx.Rngs(int(seed)))

    @nnx.vmap(in_axes=(0, None))
    def fwd(model, x):
        return model(x)

    return fwd(ensemble, x).reshape(-1)


def vmap_over_batch(seed, x_batch, features):
    model = nnx.Linear(x_batch.shape[-1], int(features), rngs=nnx.Rngs(int(seed)))

    @nnx.vmap(in_axes=(None, 0))
    def fwd(model, x):
        return model(x)

    return fwd(model, x_batch).reshape(-1)


def nn_vmap_forward(seed, x_batch, features):
    vmapped_dense = nn.vmap(nn.Dense, in_axes=0, out_axes=0,
                            variable_axes={"params": None}, split_rngs={"params": False})
    model = vmapped_dense(features=features)
    params = model.init(jax.random.PRNGKey(seed), x_batch)
    return model.apply(params, x_batch).reshape(-1)


class Block(nn.Module):
    features: int

    @nn.compact
    def __call__(self, x, _):
        return nn.relu(nn.Dense(self.features)(x)), None


def composed_lifts_forward(seed, x_batch, num_layers, features):
    scan_layer = nn.scan(Block, variable_axes={"params": 0}, split_rngs={"params": True},
                         length=num_layers)
    batched = nn.vmap(scan_layer, in_axes=0, out_axes=0,
                      variable_axes={"params": None}, split_rngs={"params": False})
    model = batched(features=features)
    params = model.init(jax.random.PRNGKey(seed), x_batch, None)
    final, _ = model.apply(params, x_batch, None)
    return final.reshape(-1)


def vmap_per_input(seed, x_batch, features):
    b, f = x_batch.shape[0], int(features)

    @nnx.split_rngs(splits=b)
    @nnx.vmap(in_axes=(0,), out_axes=0)
    def make_model(rngs):
        return nnx.Linear(x_batch.shape[-1], f, rngs=rngs)

    models = make_model(nnx.Rngs(int(seed)))
    out = nnx.vmap(lambda model, x: model(x), in_axes=(0, 0))(models, x_batch)
    return out.reshape(-1)


def scan_over_layers(seed, x_batch, num_layers, features):
    @nnx.split_rngs(splits=num_layers)
    @nnx.vmap(in_axes=(0,), out_axes=0)
    def make_layers(rngs):
        return nnx.Linear(features, features, rngs=rngs)

    layers = make_layers(nnx.Rngs(seed))

    @nnx.scan(in_axes=(nnx.Carry, 0), out_axes=(nnx.Carry, 0))
    def forward(x, layer):
        x = x + nnx.relu(layer(x))
        return x, None

    final, _ = forward(x_batch, layers)
    return final.reshape(-1)
