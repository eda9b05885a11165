"""Case inputs: deterministic arrays from recipes, scalars typed as their parameter declares."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from autograder.spec import ArrayInput, Parameter, load_problem
from autograder.spec.inputs import (
    case_arguments,
    describe_call,
    describe_value,
    make_array,
    materialize,
)

PROBLEMS = Path(__file__).resolve().parents[1] / "problems"


def recipe(**fields: Any) -> ArrayInput:
    return ArrayInput.model_validate(fields)


# -- make_array -----------------------------------------------------------------------------


@pytest.mark.parametrize("generate", ["normal", "uniform", "integers", "zeros", "ones", "arange"])
def test_same_recipe_gives_bit_identical_arrays(generate: str) -> None:
    fields = {"generate": generate, "shape": [5, 4], "seed": 11, "low": -3, "high": 7}
    first = make_array(recipe(**fields))
    second = make_array(recipe(**fields))
    assert first is not second
    assert first.dtype == second.dtype == np.float32
    assert first.shape == (5, 4)
    assert first.tobytes() == second.tobytes()


@pytest.mark.parametrize("generate", ["normal", "uniform", "integers"])
def test_different_seed_gives_different_arrays(generate: str) -> None:
    fields = {"generate": generate, "shape": [5, 4], "low": -3, "high": 7}
    first = make_array(recipe(seed=1, **fields))
    second = make_array(recipe(seed=2, **fields))
    assert first.shape == second.shape
    assert not np.array_equal(first, second)


def test_arrays_are_fresh_copies() -> None:
    r = recipe(generate="normal", shape=[3], seed=4)
    first = make_array(r)
    expected = first.copy()
    first[:] = 0
    np.testing.assert_array_equal(make_array(r), expected)


def test_normal_uses_loc_scale_and_seed() -> None:
    got = make_array(recipe(generate="normal", shape=[3, 4], seed=7, loc=0.5, scale=2.0))
    want = np.random.default_rng(7).normal(0.5, 2.0, size=(3, 4)).astype(np.float32)
    assert got.dtype == np.float32
    assert got.tobytes() == want.tobytes()


def test_normal_defaults_are_standard() -> None:
    got = make_array(recipe(generate="normal", shape=[2, 2]))
    want = np.random.default_rng(0).standard_normal((2, 2)).astype(np.float32)
    assert got.tobytes() == want.tobytes()


def test_uniform_uses_low_high() -> None:
    got = make_array(recipe(generate="uniform", shape=[50], seed=3, low=-2.0, high=2.0))
    want = np.random.default_rng(3).uniform(-2.0, 2.0, size=(50,)).astype(np.float32)
    assert got.tobytes() == want.tobytes()
    assert got.min() >= -2.0
    assert got.max() < 2.0


def test_integers_are_whole_numbers_in_range() -> None:
    got = make_array(recipe(generate="integers", shape=[200], seed=5, low=-2, high=5,
                            dtype="int32"))
    assert got.dtype == np.int32
    assert set(got.tolist()) == {-2, -1, 0, 1, 2, 3, 4}
    want = np.random.default_rng(5).integers(-2, 5, size=(200,)).astype(np.int32)
    assert got.tobytes() == want.tobytes()


def test_integers_in_a_float_dtype() -> None:
    got = make_array(recipe(generate="integers", shape=[20], seed=5, low=0, high=3))
    assert got.dtype == np.float32
    assert set(got.tolist()) <= {0.0, 1.0, 2.0}


def test_zeros_ones_arange() -> None:
    np.testing.assert_array_equal(make_array(recipe(generate="zeros", shape=[2, 3])),
                                  np.zeros((2, 3), np.float32))
    np.testing.assert_array_equal(make_array(recipe(generate="ones", shape=[4])),
                                  np.ones(4, np.float32))
    arange = make_array(recipe(generate="arange", shape=[2, 3]))
    assert arange.dtype == np.float32
    assert arange.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]


def test_seed_does_not_affect_constant_generators() -> None:
    for generate in ("zeros", "ones", "arange"):
        first = make_array(recipe(generate=generate, shape=[3], seed=1))
        second = make_array(recipe(generate=generate, shape=[3], seed=2))
        assert first.tobytes() == second.tobytes()


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int32", "int64", "bool"])
def test_dtypes(dtype: str) -> None:
    got = make_array(recipe(generate="arange", shape=[2, 2], dtype=dtype))
    assert got.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got, np.arange(4).reshape(2, 2).astype(dtype))


def test_scalar_and_empty_shapes() -> None:
    scalar = make_array(recipe(generate="normal", shape=[]))
    assert scalar.shape == ()
    assert scalar.dtype == np.float32
    empty = make_array(recipe(generate="normal", shape=[0, 3]))
    assert empty.shape == (0, 3)


def test_explicit_value() -> None:
    got = make_array(recipe(value=[[1, 2, 3], [4, 5, 6]]))
    assert got.dtype == np.float32
    assert got.shape == (2, 3)
    assert got.tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]


def test_explicit_value_with_dtype_and_shape() -> None:
    got = make_array(recipe(value=[1, 2, 3], dtype="int64", shape=[3]))
    assert got.dtype == np.int64
    assert got.tolist() == [1, 2, 3]


def test_explicit_scalar_value() -> None:
    got = make_array(recipe(value=2.5))
    assert got.shape == ()
    assert got.dtype == np.float32
    assert float(got) == 2.5


def test_explicit_value_ignores_seed() -> None:
    assert make_array(recipe(value=[1.5], seed=1)).tobytes() == \
        make_array(recipe(value=[1.5], seed=9)).tobytes()


# -- materialize ----------------------------------------------------------------------------


def test_float_parameter_gets_a_float_from_an_int() -> None:
    value = materialize(Parameter(name="features", type="float"), 5)
    assert type(value) is float
    assert value == 5.0


def test_int_parameter_gets_an_int_from_an_integral_float() -> None:
    value = materialize(Parameter(name="features", type="int"), 5.0)
    assert type(value) is int
    assert value == 5


def test_int_and_float_parameters_keep_their_types() -> None:
    assert type(materialize(Parameter(name="a", type="int"), 3)) is int
    assert type(materialize(Parameter(name="a", type="float"), 2.5)) is float


def test_array_parameter_gets_an_ndarray() -> None:
    value = materialize(Parameter(name="x", type="array"),
                        recipe(generate="ones", shape=[2], dtype="float64"))
    assert isinstance(value, np.ndarray)
    assert value.dtype == np.float64
    assert value.tolist() == [1.0, 1.0]


def write_float_problem(root: Path) -> Path:
    directory = root / "float_problem"
    directory.mkdir()
    (directory / "reference.py").write_text("")
    (directory / "problem.yaml").write_text(
        "function: scaled\n"
        "title: Scaled\n"
        "parameters:\n"
        "  - {name: seed, type: float}\n"
        "  - {name: x, type: array}\n"
        "  - {name: count, type: int}\n"
        "points: 1\n"
        "cases:\n"
        "  - args: {seed: 3, x: {generate: ones, shape: [2, 2], dtype: float64}, count: 4.0}\n"
    )
    return directory


def test_case_arguments_are_typed_as_declared_even_if_yaml_differs(tmp_path: Path) -> None:
    problem = load_problem(write_float_problem(tmp_path))
    seed, x, count = case_arguments(problem, 0)
    assert type(seed) is float
    assert seed == 3.0
    assert type(count) is int
    assert count == 4
    assert isinstance(x, np.ndarray)
    assert x.dtype == np.float64
    assert describe_call(problem, 0) == "scaled(seed=3.0, x=float64[2, 2], count=4)"


def test_case_arguments_of_a_shipped_problem() -> None:
    problem = load_problem(PROBLEMS / "vmap_over_batch")
    seed, x_batch, features = case_arguments(problem, 2)
    assert (type(seed), seed) == (float, 2.0)
    assert (type(features), features) == (float, 2.0)
    assert isinstance(x_batch, np.ndarray)
    assert x_batch.shape == (5, 4)
    assert x_batch.dtype == np.float32
    assert x_batch.min() >= -2.0
    assert x_batch.max() < 2.0
    again = case_arguments(problem, 2)[1]
    assert isinstance(again, np.ndarray)
    assert again.tobytes() == x_batch.tobytes()


# -- describe -------------------------------------------------------------------------------


@pytest.mark.parametrize(("problem_id", "index", "expected"), [
    ("vmap_over_batch", 0, "vmap_over_batch(seed=0.0, x_batch=float32[4, 3], features=5.0)"),
    ("vmap_over_batch", 7, "vmap_over_batch(seed=5.0, x_batch=float32[2, 8], features=5.0)"),
    ("vmap_over_ensemble", 0,
     "vmap_over_ensemble(seed=0.0, x=float32[3], num_models=4.0, features=2.0)"),
    ("nn_vmap_forward", 1, "nn_vmap_forward(seed=1, x_batch=float32[2, 6], features=3)"),
    ("composed_lifts_forward", 0,
     "composed_lifts_forward(seed=0, x_batch=float32[4, 3], num_layers=2, features=3)"),
])
def test_describe_call(problem_id: str, index: int, expected: str) -> None:
    assert describe_call(load_problem(PROBLEMS / problem_id), index) == expected


def test_describe_value() -> None:
    assert describe_value(3.0) == "3.0"
    assert describe_value(7) == "7"
    assert describe_value(np.zeros((4, 3), np.float32)) == "float32[4, 3]"
    assert describe_value(np.zeros((), np.int32)) == "int32[]"
    assert describe_value(np.zeros((0,), np.float64)) == "float64[0]"
