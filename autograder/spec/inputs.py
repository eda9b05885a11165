"""Case inputs: every argument made deterministically from its spec, on the trusted side.

Arrays come from ``numpy.random.default_rng(seed)`` (or an explicit value), so the reference,
the student and every re-run see bit-identical inputs. Scalars get the parameter's declared
Python type: the seed exercises pass ``seed`` and sizes as floats where the texts say so.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autograder.spec.fields import ArrayInput
from autograder.spec.model import LoadedProblem, Parameter

Value = float | int | np.ndarray


def make_array(recipe: ArrayInput) -> np.ndarray:
    dtype = np.dtype(recipe.dtype)
    if recipe.value is not None:
        return np.asarray(recipe.value, dtype=dtype)
    shape = tuple(recipe.shape or ())
    rng = np.random.default_rng(recipe.seed)
    out: np.ndarray
    match recipe.generate:
        case "normal":
            out = rng.normal(recipe.loc, recipe.scale, size=shape)
        case "uniform":
            out = rng.uniform(recipe.low, recipe.high, size=shape)
        case "integers":
            out = rng.integers(int(recipe.low), int(recipe.high), size=shape)
        case "zeros":
            out = np.zeros(shape)
        case "ones":
            out = np.ones(shape)
        case "arange":
            out = np.arange(int(np.prod(shape))).reshape(shape)
        case other:  # pragma: no cover - the spec's Literal makes this unreachable
            raise AssertionError(other)
    return np.asarray(out, dtype=dtype)


def materialize(param: Parameter, value: Any) -> Value:
    """The concrete value of one argument, typed as the parameter declares."""
    if param.type == "array":
        return make_array(value)
    if param.type == "float":
        return float(value)
    return int(value)


def case_arguments(problem: LoadedProblem, index: int) -> list[Value]:
    """The positional arguments of case ``index``, in the function's parameter order."""
    case = problem.spec.cases[index]
    return [materialize(p, case.args[p.name]) for p in problem.spec.parameters]


def describe_value(value: Value) -> str:
    """How an argument is shown in feedback: ``3.0``, ``float32[4, 3]``."""
    if isinstance(value, np.ndarray):
        return f"{value.dtype}[{', '.join(str(s) for s in value.shape)}]"
    return repr(value)


def describe_call(problem: LoadedProblem, index: int) -> str:
    """``vmap_over_batch(seed=0.0, x_batch=float32[4, 3], features=5.0)``."""
    args = case_arguments(problem, index)
    inner = ", ".join(f"{p.name}={describe_value(v)}"
                      for p, v in zip(problem.spec.parameters, args, strict=True))
    return f"{problem.spec.function}({inner})"
