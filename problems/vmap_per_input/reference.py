"""Reference: a per-input model, nnx.split_rngs + nnx.vmap over the constructor, then
nnx.vmap(in_axes=(0, 0)) over the models and the inputs together.

Never shipped to students (nor in the student kit).
"""

from flax import nnx


def vmap_per_input(seed, x_batch, features):
    b = x_batch.shape[0]
    f = int(features)

    @nnx.split_rngs(splits=b)
    @nnx.vmap(in_axes=(0,), out_axes=0)
    def make_model(rngs):
        return nnx.Linear(x_batch.shape[-1], f, rngs=rngs)

    models = make_model(nnx.Rngs(int(seed)))

    @nnx.vmap(in_axes=(0, 0))
    def fwd(model, x):
        return model(x)

    out = fwd(models, x_batch)
    return out.reshape(-1)
