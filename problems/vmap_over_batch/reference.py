"""Reference: the seed's canonical solution (shared model, batched inputs)."""

from flax import nnx


def vmap_over_batch(seed, x_batch, features):
    model = nnx.Linear(x_batch.shape[-1], int(features), rngs=nnx.Rngs(int(seed)))

    @nnx.vmap(in_axes=(None, 0))
    def fwd(model, x):
        return model(x)

    out = fwd(model, x_batch)
    return out.reshape(-1)
