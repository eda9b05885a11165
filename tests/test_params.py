"""The parameter tree as evidence: ``params.difference`` and its wire form, golden messages."""

from __future__ import annotations

import numpy as np

from autograder.grading.params import decode_models, difference, encode_models, main_model
from autograder.protocol.messages import Leaf, Variables


def model(kind: str = "linen", **leaves: tuple[int, ...]) -> Variables:
    """``model(params__kernel=(3, 5))``: double underscores are path separators."""
    return Variables(kind, "solution.py:9", tuple(Leaf(path.replace("__", "/"), shape)
                                                   for path, shape in sorted(leaves.items())))


DENSE = model(params__kernel=(3, 5), params__bias=(5,))


def test_the_same_variables_differ_in_nothing() -> None:
    assert difference([DENSE], [model(params__bias=(5,), params__kernel=(3, 5))]) is None


def test_nothing_to_compare_is_no_difference() -> None:
    assert difference([], [DENSE]) is None
    assert difference([DENSE], []) is None
    assert difference([model("nnx", kernel=(3, 5))], [DENSE]) is None  # other libraries


def test_an_extra_module_scope_golden() -> None:
    wrapped = model(params__Dense_0__kernel=(3, 5), params__Dense_0__bias=(5,))
    found = difference([wrapped], [DENSE])
    assert found is not None and found.kind == "extra-scope"
    assert found.text == (
        "Your parameters live at `params/Dense_0/kernel` with shape (3, 5); the reference's "
        "at `params/kernel` with shape (3, 5): your model has an extra module scope around "
        "the layer (a wrapper module, or a lift applied to a method instead of the layer "
        "class), which changes how Flax derives each layer's random initialisation.")


def test_a_missing_module_scope() -> None:
    wrapped = model(params__Dense_0__kernel=(3, 5), params__Dense_0__bias=(5,))
    found = difference([DENSE], [wrapped])
    assert found is not None and found.kind == "missing-scope"
    assert found.text.startswith("Your parameters live at `params/kernel` with shape (3, 5); "
                                 "the reference's at `params/Dense_0/kernel`")


def test_an_extra_leading_axis_on_every_weight_golden() -> None:
    per_example = model(params__kernel=(4, 3, 5), params__bias=(4, 5))
    found = difference([per_example], [DENSE])
    assert found is not None and found.kind == "extra-axis"
    assert found.text == (
        "Every one of your weights has an extra leading axis of size 4: `params/kernel` with "
        "shape (4, 3, 5), where the reference's has shape (3, 5). Your model holds 4 copies of the "
        "parameters (one per example or row) where the exercise wants one set.")


def test_a_missing_layer_axis_golden() -> None:
    found = difference([model("nnx", kernel=(5, 5), bias=(5,))],
                       [model("nnx", kernel=(3, 5, 5), bias=(3, 5))])
    assert found is not None and found.kind == "missing-axis"
    assert found.text == (
        "Your weights lack the reference's leading axis of size 3: `kernel` with shape (5, "
        "5), where the reference's has shape (3, 5, 5). The reference stacks 3 sets of parameters "
        "(one per model or layer) along axis 0; your model has one.")


def test_a_wrong_width_golden() -> None:
    found = difference([model(params__kernel=(3, 4), params__bias=(4,))], [DENSE])
    assert found is not None and found.kind == "different-shape"
    assert found.text == ("Your model's parameter `params/kernel` with shape (3, 4) has "
                          "another shape than the reference's, (3, 5) (and 1 more).")


def test_other_paths_golden() -> None:
    found = difference([model(params__w=(3, 5))], [DENSE])
    assert found is not None and found.kind == "different-paths"
    assert found.text == (
        "Your model's parameters are not the reference's: yours has `params/w` that the "
        "reference has not; the reference has `params/bias`, `params/kernel` that yours has "
        "not.")


def test_the_main_model_is_the_largest() -> None:
    small = model("nnx", kernel=(2, 2))
    assert main_model([small, DENSE]) is DENSE
    assert main_model([]) is None


def test_models_survive_the_cache_as_bytes() -> None:
    models = (DENSE, model("nnx", kernel=(3, 5, 5)))
    array = encode_models(models)
    assert array.dtype == np.uint8 and array.ndim == 1
    assert decode_models(array) == models
    assert decode_models(np.zeros(3, dtype=np.float32)) == ()  # a foreign entry
    assert decode_models(np.frombuffer(b"[{]", dtype=np.uint8)) == ()
    assert decode_models(None) == ()
