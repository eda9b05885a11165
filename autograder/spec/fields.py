"""The values of a spec's keys: numbers as a JSON Schema counts them, tolerances, arguments.

The small models every part of a spec uses (a tolerance, an array recipe, a case argument)
and the field types under them.

pydantic's lax mode would take ``"1e-5"`` or ``true`` for a number and ``"3"`` for a whole
number, which the published JSON Schema (``schema/problem.schema.json``) refuses: an editor
would flag what the loader accepts. The types here accept what the schema's ``number`` and
``integer`` accept, and nothing else:

- :data:`Number`: ``3``, ``-2``, ``2.5``, ``1e-5``, ``.5`` (stored as floats).
- :data:`WholeNumber`: ``3``, and ``3.0`` or ``1e3`` (stored as 3 and 1000), since JSON
  Schema's ``integer`` is any number without a fractional part; ``2.5`` is refused.
- Neither: a text (``"3"``, ``"1e-5"``, and ``1_000``, which YAML 1.2 reads as text, see
  :mod:`autograder.spec.source`) or a bool (``true``).
"""

from __future__ import annotations

import keyword
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Strict,
    StrictFloat,
    StrictInt,
    Tag,
    field_validator,
)
from pydantic_core import PydanticCustomError

Generator = Literal["normal", "uniform", "integers", "zeros", "ones", "arange"]


class StrictModel(BaseModel):
    """Unknown keys are errors and nothing changes after loading."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _refuse_text_and_bools(value: Any) -> Any:
    """Only numbers go on to pydantic's lax ``int`` (which takes ``3.0`` and refuses
    ``3.5``): a bool or a text is refused here, with pydantic's own error type."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    return value


#: A YAML int or float (stored as a float); never a bool or a text.
Number = Annotated[float, Strict()]
#: A YAML int, or a float with no fractional part (stored as an int); never a bool or text.
WholeNumber = Annotated[int, BeforeValidator(_refuse_text_and_bools)]
#: A whole number of at least 0 (an array's size along one axis). The bound comes before the
#: validator: after it, pydantic could not write it as the JSON Schema's ``minimum``.
Size = Annotated[int, Field(ge=0), BeforeValidator(_refuse_text_and_bools)]


def check_dtype(name: str) -> str:
    """``name`` if it is a numeric (or bool) numpy dtype, else a ValueError saying so."""
    try:
        dtype = np.dtype(name)
    except TypeError:
        raise ValueError(f"unknown dtype {name!r}; use a numpy name such as 'float32'") from None
    if not (np.issubdtype(dtype, np.number) or dtype == np.bool_):
        raise ValueError(f"dtype {name!r} is not numeric; use one such as 'float32' or 'int32'")
    return name


def check_identifier(name: str) -> str:
    """``name`` if it is a Python identifier (not a keyword), else a ValueError saying so."""
    if not name.isidentifier() or keyword.iskeyword(name):
        raise ValueError(f"{name!r} is not a valid Python identifier")
    return name


class Tolerance(StrictModel):
    """Elementwise ``|yours - expected| <= atol + rtol * |expected|`` (as numpy.isclose)."""

    rtol: Number = Field(1e-5, ge=0, description="relative tolerance")
    atol: Number = Field(1e-6, ge=0, description="absolute tolerance")


class ArrayInput(StrictModel):
    """An array argument: explicit ``value`` or a deterministic ``generate`` recipe."""

    generate: Generator | None = Field(None, description="how to make the array")
    value: Any = Field(None, description="explicit (nested list) value instead of generate")
    shape: tuple[Size, ...] | None = None
    dtype: str = "float32"
    seed: WholeNumber = Field(0, ge=0, description="numpy Generator seed of this array")
    low: Number = Field(0.0, description="uniform/integers: lower bound")
    high: Number = Field(1.0, description="uniform/integers: upper bound (exclusive)")
    scale: Number = Field(1.0, description="normal: standard deviation")
    loc: Number = Field(0.0, description="normal: mean")

    _dtype = field_validator("dtype")(check_dtype)

    def model_post_init(self, context: Any, /) -> None:
        if (self.generate is None) == (self.value is None):
            raise ValueError("give exactly one of 'generate' (with 'shape') or 'value'")
        if self.generate is not None and self.shape is None:
            raise ValueError(f"'generate: {self.generate}' needs a 'shape', e.g. shape: [3, 4]")
        if self.value is not None:
            try:
                explicit = np.asarray(self.value, dtype=self.dtype).shape
            except (TypeError, ValueError) as exc:
                raise ValueError(f"'value' is not a {self.dtype} array: give a number or "
                                 f"nested lists of equal length ({exc})") from None
            if self.shape is not None and explicit != tuple(self.shape):
                raise ValueError(f"'value' has shape {list(explicit)} but 'shape' says "
                                 f"{list(self.shape)}")
        if self.generate == "uniform" and not self.low < self.high:
            raise ValueError(f"'low' ({self.low}) must be below 'high' ({self.high})")
        if self.generate == "integers" and not (
                self.low.is_integer() and self.high.is_integer() and self.low < self.high):
            raise ValueError(f"'integers' needs whole-number bounds with low < high, got "
                             f"low={self.low}, high={self.high}")


def _arg_kind(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, Mapping | ArrayInput):
        return "array"
    return None


Argument = Annotated[
    Annotated[StrictInt, Tag("int")]
    | Annotated[StrictFloat, Tag("float")]
    | Annotated[ArrayInput, Tag("array")],
    Discriminator(
        _arg_kind,
        custom_error_type="invalid_argument",
        custom_error_message=(
            "expected a number or an array recipe such as "
            "{generate: normal, shape: [3, 4], seed: 7}"
        ),
    ),
]
