"""Known-wrong versions of vmap_over_batch, each making one mistake of the catalogue.

Each function makes exactly one mistake from problem.yaml, the way a student would; it is
that mistake's example, graded by `autograder validate` to prove the mistake is recognised.
"""

from flax import nnx


def wrong_axis_order(seed, x_batch, features):
    """nnx.vmap without in_axes (the default 0): it maps over the model's parameters too."""
    model = nnx.Linear(x_batch.shape[-1], int(features), rngs=nnx.Rngs(int(seed)))

    @nnx.vmap
    def fwd(model, x):
        return model(x)

    out = fwd(model, x_batch)
    return out.reshape(-1)


def missing_lift(seed, x_batch, features):
    """The model applied to the whole batch directly, without nnx.vmap."""
    model = nnx.Linear(x_batch.shape[-1], int(features), rngs=nnx.Rngs(int(seed)))
    out = model(x_batch)
    return out.reshape(-1)


def transposed_output(seed, x_batch, features):
    """The (B, features) output transposed before it is flattened."""
    model = nnx.Linear(x_batch.shape[-1], int(features), rngs=nnx.Rngs(int(seed)))

    @nnx.vmap(in_axes=(None, 0))
    def fwd(model, x):
        return model(x)

    out = fwd(model, x_batch)
    return out.T.reshape(-1)


def not_flattened(seed, x_batch, features):
    """The (B, features) output returned as it is, not flattened to 1-D."""
    model = nnx.Linear(x_batch.shape[-1], int(features), rngs=nnx.Rngs(int(seed)))

    @nnx.vmap(in_axes=(None, 0))
    def fwd(model, x):
        return model(x)

    return fwd(model, x_batch)


def seed_not_cast(seed, x_batch, features):
    """The float seed passed to nnx.Rngs without int()."""
    model = nnx.Linear(x_batch.shape[-1], int(features), rngs=nnx.Rngs(seed))

    @nnx.vmap(in_axes=(None, 0))
    def fwd(model, x):
        return model(x)

    out = fwd(model, x_batch)
    return out.reshape(-1)


def ignored_seed(seed, x_batch, features):
    """A hard-coded nnx.Rngs(0) instead of the seed argument."""
    model = nnx.Linear(x_batch.shape[-1], int(features), rngs=nnx.Rngs(0))

    @nnx.vmap(in_axes=(None, 0))
    def fwd(model, x):
        return model(x)

    out = fwd(model, x_batch)
    return out.reshape(-1)
