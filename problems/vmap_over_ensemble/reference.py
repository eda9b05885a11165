"""Reference: the seed's canonical solution (split_rngs + vmap over the constructor)."""

from flax import nnx


def vmap_over_ensemble(seed, x, num_models, features):
    n = int(num_models)
    f = int(features)

    @nnx.split_rngs(splits=n)
    @nnx.vmap(in_axes=(0,), out_axes=0)
    def make_model(rngs):
        return nnx.Linear(x.shape[-1], f, rngs=rngs)

    ensemble = make_model(nnx.Rngs(int(seed)))

    @nnx.vmap(in_axes=(0, None))
    def fwd(model, x):
        return model(x)

    out = fwd(ensemble, x)
    return out.reshape(-1)
