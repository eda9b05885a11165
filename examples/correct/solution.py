import time; t=time.time()
import jax, jax.numpy as jnp, numpy as np
from flax import nnx
import flax.linen as nn
print("import", time.time()-t)

def vmap_over_ensemble(seed, x, num_models, features):
    N = int(num_models); F = int(features)
    @nnx.split_rngs(splits=N)
    @nnx.vmap(in_axes=(0,), out_axes=0)
    def make_model(rngs):
        return nnx.Linear(x.shape[-1], F, rngs=rngs)
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
    V = nn.vmap(nn.Dense, in_axes=0, out_axes=0, variable_axes={"params": None}, split_rngs={"params": False})
    model = V(features=features)
    params = model.init(jax.random.PRNGKey(seed), x_batch)
    return model.apply(params, x_batch).reshape(-1)

class Block(nn.Module):
    features: int
    @nn.compact
    def __call__(self, x, _):
        return nn.relu(nn.Dense(self.features)(x)), None

def composed_lifts_forward(seed, x_batch, num_layers, features):
    S = nn.scan(Block, variable_axes={"params": 0}, split_rngs={"params": True}, length=num_layers)
    B = nn.vmap(S, in_axes=0, out_axes=0, variable_axes={"params": None}, split_rngs={"params": False})
    model = B(features=features)
    params = model.init(jax.random.PRNGKey(seed), x_batch, None)
    final, ys = model.apply(params, x_batch, None)
    return final.reshape(-1)

def composed_rev(seed, x_batch, num_layers, features):
    V = nn.vmap(Block, in_axes=(0, None), out_axes=0, variable_axes={"params": None}, split_rngs={"params": False})
    S = nn.scan(V, variable_axes={"params": 0}, split_rngs={"params": True}, length=num_layers)
    model = S(features=features)
    params = model.init(jax.random.PRNGKey(seed), x_batch, None)
    final, ys = model.apply(params, x_batch, None)
    return final.reshape(-1)

