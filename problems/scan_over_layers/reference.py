"""Reference: scan over layers, the Flax NNX pattern. nnx.split_rngs + nnx.vmap over the
constructor stack num_layers nnx.Linear layers (a leading layer axis on every parameter);
nnx.scan(in_axes=(nnx.Carry, 0), out_axes=nnx.Carry) applies them in sequence.

Never shipped to students (nor in the student kit).
"""

from flax import nnx


def scan_over_layers(seed, x_batch, num_layers, features):
    @nnx.split_rngs(splits=num_layers)
    @nnx.vmap(in_axes=(0,), out_axes=0)
    def make_layers(rngs):
        return nnx.Linear(features, features, rngs=rngs)

    layers = make_layers(nnx.Rngs(seed))

    @nnx.scan(in_axes=(nnx.Carry, 0), out_axes=nnx.Carry)
    def forward(x, layer):
        return x + nnx.relu(layer(x))

    final = forward(x_batch, layers)
    return final.reshape(-1)
