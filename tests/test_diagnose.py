"""Naming the mistake: trace matching, output signatures, the Diagnoser and the structure test.

Pure Python: no worker, no JAX. Trace events are built exactly as the worker records them
(``autograder.worker.trace``: plain data, defaults filled in, ``calls`` on lifts that return a
function); the oracle that gives the outputs of known-wrong variants is a plain callable
that counts its calls.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import replace as dataclass_replace
from typing import Any

import numpy as np
import pytest

from autograder.grading import feedback
from autograder.grading.compare import compare
from autograder.grading.diagnose import (
    CaseRun,
    Diagnoser,
    Event,
    check_structure,
    describe_event,
    logical_shape,
    output_signature,
)
from autograder.grading.feedback import Feedback
from autograder.grading.provenance import StaticLift
from autograder.grading.references import Source
from autograder.protocol.messages import ErrorInfo
from autograder.spec import Detect, LiftPattern, LoadedProblem, Mistake, load_problem
from autograder.spec.constraints import Constraint
from autograder.spec.inputs import case_arguments
from autograder.spec.matchers import parse
from autograder.worker.trace import plain
from tests.support import PROBLEMS

RTOL, ATOL = 1e-5, 1e-6

# -- trace events, as the worker records them -------------------------------------------------


def nn_vmap(*, variable_axes: Any, split_rngs: Any, in_axes: Any = 0, out_axes: Any = 0,
            target: str = "<class Dense>", wraps: str | None = None,
            where: str = "solution.py:12") -> dict[str, Any]:
    """``nn.vmap`` on a module class (the product is a class: no ``calls``)."""
    return {"lift": "nn.vmap",
            "args": {"variable_axes": variable_axes, "split_rngs": split_rngs,
                     "in_axes": in_axes, "out_axes": out_axes, "axis_size": None},
            "target": target, "wraps": wraps, "where": where}


def nn_scan(*, variable_axes: Any, split_rngs: Any, length: int | None,
            target: str = "<class Block>", wraps: str | None = None,
            where: str = "solution.py:20") -> dict[str, Any]:
    return {"lift": "nn.scan",
            "args": {"variable_axes": variable_axes, "variable_broadcast": False,
                     "variable_carry": False, "split_rngs": split_rngs, "in_axes": 0,
                     "out_axes": 0, "length": length, "reverse": False},
            "target": target, "wraps": wraps, "where": where}


def nnx_vmap(*, in_axes: Any, target: str, out_axes: Any = 0, axis_size: int | None = None,
             wraps: str | None = None, where: str = "solution.py:9",
             calls: int = 1, arity: int | None = None) -> dict[str, Any]:
    """``nnx.vmap`` on a function, called ``calls`` times with ``arity`` arguments (by
    default one per ``in_axes`` entry)."""
    event = {"lift": "nnx.vmap",
             "args": {"in_axes": in_axes, "out_axes": out_axes, "axis_size": axis_size},
             "target": target, "wraps": wraps, "where": where, "calls": calls}
    arity = arity if arity is not None or not isinstance(in_axes, list) else len(in_axes)
    return event if arity is None or not calls else {**event, "arity": arity}


def split_rngs(*, splits: int, target: str, where: str = "solution.py:8",
               calls: int = 1) -> dict[str, Any]:
    return {"lift": "nnx.split_rngs", "args": {"splits": splits, "only": "...", "squeeze": False},
            "target": target, "wraps": "nnx.vmap", "where": where, "calls": calls}


def jax_vmap(*, in_axes: Any = 0, target: str = "<function forward>",
             where: str = "solution.py:5") -> dict[str, Any]:
    event = {"lift": "jax.vmap", "args": {"in_axes": in_axes, "out_axes": 0, "axis_size": None},
             "target": target, "wraps": None, "where": where, "calls": 1}
    return {**event, "arity": len(in_axes)} if isinstance(in_axes, list) else event


DENSE_SHARED = nn_vmap(variable_axes={"params": None}, split_rngs={"params": False})
ENSEMBLE_OK = (
    nnx_vmap(in_axes=[0], target="<function vmap_over_ensemble.<locals>.make_model>"),
    split_rngs(splits=4, target="<function vmap_over_ensemble.<locals>.make_model>"),
    nnx_vmap(in_axes=[0, None], target="<function vmap_over_ensemble.<locals>.fwd>",
             where="solution.py:14"),
)
BATCH_OK = (nnx_vmap(in_axes=[None, 0], target="<function vmap_over_batch.<locals>.fwd>"),)


def pattern(**fields: Any) -> LiftPattern:
    return LiftPattern.model_validate(fields)


def detect(**fields: Any) -> Detect:
    return Detect.model_validate(fields)


def same(expected: Any, recorded: Any) -> bool:
    """Whether the spec value ``expected``, parsed as the loader does, matches ``recorded``."""
    return parse(expected, "args.x").matches(recorded)


# -- matchers -------------------------------------------------------------------------------


@pytest.mark.parametrize(("expected", "recorded", "result"), [
    ([None, 0], [None, 0], True),
    ([None, 0], [0, None], False),
    ([None, 0], [None, 0, 1], False),
    ([0], 0, False),
    ([[0, None], 1], [[0, None], 1], True),
    ([], [], True),
])
def test_same_compares_lists_element_by_element(expected: Any, recorded: Any,
                                                result: bool) -> None:
    assert same(expected, recorded) is result


def test_recorded_tuples_arrive_as_lists_and_match_yaml_lists() -> None:
    assert same([None, 0], plain((None, 0)))
    assert same([0], plain((0,)))
    assert not same([0, None], plain((None, 0)))


@pytest.mark.parametrize(("expected", "recorded", "result"), [
    ({"params": None}, {"params": None}, True),
    ({"params": None}, {"params": None, "batch_stats": 0}, True),  # a subset matches
    ({"params": None, "batch_stats": 1}, {"params": None}, False),
    ({"params": 0}, {"params": None}, False),
    ({"params": None}, None, False),  # not a mapping
    ({"params": None}, [None], False),
    ({"params": False}, {"params": False, "dropout": True}, True),
    ({"params": {"inner": [0, 1]}}, {"params": {"inner": [0, 1]}}, True),
])
def test_same_matches_mappings_by_their_listed_keys(expected: Any, recorded: Any,
                                                    result: bool) -> None:
    assert same(expected, recorded) is result


@pytest.mark.parametrize(("expected", "result"), [
    ({"params": None}, True),
    ({"params": False}, True),
    ({"params": True}, False),
    ({"params": 1}, False),
    ({"params": "x"}, False),
])
def test_a_missing_recorded_key_counts_as_false_or_null(expected: Any, result: bool) -> None:
    assert same(expected, {}) is result
    assert same(expected, {"other": 0}) is result


@pytest.mark.parametrize("zero", [0, 0.0])
def test_a_missing_recorded_key_is_not_zero(zero: float) -> None:
    assert not same({"params": zero}, {})


def test_a_matcher_applies_to_a_missing_key_as_null() -> None:
    assert same({"params": {"not": 0}}, {})
    assert same({"params": {"one_of": [0, None]}}, {})


@pytest.mark.parametrize(("expected", "recorded", "result"), [
    ({"not": 0}, 1, True),
    ({"not": 0}, 0, False),
    ({"not": 0}, None, True),
    ({"not": 0}, False, True),  # False is not 0
    ({"not": [None, 0]}, [0, None], True),
    ({"not": [None, 0]}, [None, 0], False),
    ({"one_of": [[None, 0], [0, 0], [None, None]]}, [0, 0], True),
    ({"one_of": [[None, 0], [0, 0], [None, None]]}, [0, None], False),
    ({"one_of": [0, None]}, None, True),
    ({"one_of": []}, 0, False),
    ({"not_one_of": [0, 1]}, 2, True),
    ({"not_one_of": [0, 1]}, 1, False),
    ({"not_one_of": [0, 1]}, True, True),  # True is not 1
    ({"params": {"not": 0}}, {"params": None}, True),  # nested in a mapping
    ({"params": {"not": 0}}, {"params": 0}, False),
])
def test_matchers(expected: Any, recorded: Any, result: bool) -> None:
    assert same(expected, recorded) is result


@pytest.mark.parametrize(("expected", "recorded", "result"), [
    (True, 1, False),
    (1, True, False),
    (False, 0, False),
    (0, False, False),
    (True, True, True),
    (False, False, True),
    (True, False, False),
    (None, False, False),
    (None, 0, False),
    (None, None, True),
    (1, 1.0, True),
    ("nn.scan", "nn.scan", True),
    ("<class Dense>", "<class Linear>", False),
])
def test_bool_is_not_int(expected: Any, recorded: Any, result: bool) -> None:
    assert same(expected, recorded) is result


@pytest.mark.parametrize(("expected", "result"), [
    ({"params": {"not": False}}, True),  # unset is null, which is not false
    ({"params": {"one_of": [False]}}, False),  # only a plain false stands for unset
    ({"params": {"not_one_of": [None]}}, False),
    ({"params": [None]}, False),
    ({"params": {}}, False),
])
def test_an_unset_key_is_null_inside_a_matcher(expected: Any, result: bool) -> None:
    assert same(expected, {}) is result


def test_nnx_carry_in_a_spec_is_the_recorded_marker_class() -> None:
    carry_first = {"one_of": [["nnx.Carry", 0], [0, "nnx.Carry"]]}
    assert same(carry_first, plain(("<class Carry>", 0)))
    assert same(carry_first, [0, "<class Carry>"])
    assert not same(carry_first, ["nnx.Carry", 0])  # the trace never records the name
    assert not same(carry_first, [0, 0])
    assert parse(carry_first, "args.in_axes").describe() == (
        "one of ((nnx.Carry, 0), (0, nnx.Carry))")


def test_matchers_are_parsed_once_into_a_frozen_tree() -> None:
    from autograder.spec.matchers import Equals, MappingOf, NoneOf, Not, OneOf, SequenceOf

    value = {"params": {"not": 0}, "batch": [None, {"one_of": [0, 1]}],
             "rest": {"not_one_of": ["nnx.Carry"]}}
    assert parse(value, "args.x") == MappingOf((
        ("params", Not(Equals(0))),
        ("batch", SequenceOf((Equals(None), OneOf((Equals(0), Equals(1)))))),
        ("rest", NoneOf((Equals("<class Carry>"),)))))
    loaded = pattern(lift="nn.vmap", args={"variable_axes": value})
    assert loaded.args["variable_axes"] == parse(value, "args.variable_axes")
    # Dumped as the spec wrote it (markers as recorded), and loaded back to the same matchers.
    assert loaded.model_dump()["args"]["variable_axes"]["rest"] == {
        "not_one_of": ["<class Carry>"]}
    assert LiftPattern.model_validate(loaded.model_dump()) == loaded


# -- LiftPattern.matches / Detect.trace_holds -----------------------------------------------


def test_matches_needs_the_same_lift() -> None:
    assert pattern(lift="nn.vmap").matches(DENSE_SHARED)
    assert not pattern(lift="nnx.vmap").matches(DENSE_SHARED)
    assert not pattern(lift="nn.scan").matches(DENSE_SHARED)


@pytest.mark.parametrize(("wraps", "recorded", "result"), [
    (None, None, True),
    (None, "nn.scan", True),  # not said: anything
    ("nothing", None, True),
    ("nothing", "nn.scan", False),
    ("nn.scan", "nn.scan", True),
    ("nn.scan", None, False),
    ("nn.scan", "nn.vmap", False),
])
def test_matches_wraps(wraps: str | None, recorded: str | None, result: bool) -> None:
    event = nn_vmap(variable_axes={"params": None}, split_rngs={"params": False},
                    target="<class ScanBlock>", wraps=recorded)
    assert pattern(lift="nn.vmap", wraps=wraps).matches(event) is result


def test_matches_compares_only_the_listed_arguments() -> None:
    shared = pattern(lift="nn.vmap", args={"variable_axes": {"params": None},
                                           "split_rngs": {"params": False}, "in_axes": 0})
    assert shared.matches(DENSE_SHARED)
    assert not shared.matches(nn_vmap(variable_axes={"params": 0},
                                      split_rngs={"params": True}))
    assert not shared.matches(nn_vmap(variable_axes={"params": None},
                                      split_rngs={"params": False}, in_axes=1))
    # An argument the event lacks is None.
    no_args = {"lift": "nn.vmap", "target": "<class Dense>", "wraps": None, "where": "s.py:1"}
    assert pattern(lift="nn.vmap").matches(no_args)
    assert pattern(lift="nn.vmap", args={"axis_size": None}).matches(no_args)
    assert not pattern(lift="nn.vmap", args={"in_axes": 0}).matches(no_args)


def test_matches_flax_frozendict_arguments_after_plain() -> None:
    from flax.core import FrozenDict

    shared: Any = FrozenDict({"params": None})  # type: ignore[no-untyped-call]
    unsplit: Any = FrozenDict({"params": False})  # type: ignore[no-untyped-call]
    event = nn_vmap(variable_axes=plain(shared), split_rngs=plain(unsplit))
    problem = load("nn_vmap_forward")
    assert problem.spec.structure is not None
    assert problem.spec.structure.expect[0].matches(event)


def test_a_lifted_function_never_called_matches_nothing() -> None:
    dead = nnx_vmap(in_axes=[None, 0], target="<function fwd>", calls=0)
    assert not pattern(lift="nnx.vmap").matches(dead)
    assert pattern(lift="nnx.vmap").matches({**dead, "calls": 2})


def test_trace_holds_with_has_and_lacks() -> None:
    vmap_any = pattern(lift="nnx.vmap")
    split = pattern(lift="nnx.split_rngs")
    wrong_axes = pattern(lift="nnx.vmap", args={"in_axes": [None, 0]})
    assert detect(has=[vmap_any, split]).trace_holds(ENSEMBLE_OK)
    assert not detect(has=[vmap_any, split]).trace_holds(ENSEMBLE_OK[2:])
    assert not detect(has=[wrong_axes]).trace_holds(ENSEMBLE_OK)
    assert detect(lacks=[wrong_axes]).trace_holds(ENSEMBLE_OK)
    assert not detect(lacks=[split]).trace_holds(ENSEMBLE_OK)
    assert not detect(has=[vmap_any], lacks=[split]).trace_holds(ENSEMBLE_OK)
    assert detect(has=[vmap_any], lacks=[split]).trace_holds(ENSEMBLE_OK[2:])
    assert detect(lacks=[vmap_any]).trace_holds(())
    assert not detect(has=[vmap_any]).trace_holds(())
    # Each pattern of `has` may be met by a different event.
    assert detect(has=[pattern(lift="nnx.vmap", args={"in_axes": [0]}),
                       pattern(lift="nnx.vmap", args={"in_axes": [0, None]})]).trace_holds(
        ENSEMBLE_OK)


# -- describe_event -------------------------------------------------------------------------


def test_describe_event_golden_strings() -> None:
    assert describe_event(DENSE_SHARED) == (
        "`nn.vmap(Dense, variable_axes={'params': None}, split_rngs={'params': False}, "
        "in_axes=0, out_axes=0)` at `solution.py:12`")
    assert describe_event(BATCH_OK[0]) == (
        "`nnx.vmap(vmap_over_batch.<locals>.fwd, in_axes=(None, 0), out_axes=0)` "
        "at `solution.py:9`")
    assert describe_event(ENSEMBLE_OK[0]) == (
        "`nnx.vmap(vmap_over_ensemble.<locals>.make_model, in_axes=(0,), out_axes=0)` "
        "at `solution.py:9`")
    # `only=...` (Ellipsis, the default) is left out.
    assert describe_event(ENSEMBLE_OK[1]) == (
        "`nnx.split_rngs(vmap_over_ensemble.<locals>.make_model, splits=4, squeeze=False)` "
        "at `solution.py:8`")
    assert describe_event(nn_scan(variable_axes={"params": 0}, split_rngs={"params": True},
                                  length=2)) == (
        "`nn.scan(Block, variable_axes={'params': 0}, variable_broadcast=False, "
        "variable_carry=False, split_rngs={'params': True}, in_axes=0, out_axes=0, length=2, "
        "reverse=False)` at `solution.py:20`")


def test_describe_event_without_target_or_where() -> None:
    assert describe_event({"lift": "jax.vmap", "args": {"in_axes": [0, None]},
                           "target": None}) == "`jax.vmap(in_axes=(0, None))` at `?`"
    assert describe_event({"lift": "nnx.vmap"}) == "`nnx.vmap()` at `?`"


def test_describe_event_of_a_lambda_target() -> None:
    event = nnx_vmap(in_axes=[0, None], target="<function <lambda>>")
    assert describe_event(event) == (
        "`nnx.vmap(<lambda>, in_axes=(0, None), out_axes=0)` at `solution.py:9`")


def test_describe_event_of_an_object_target() -> None:
    event = {"lift": "nnx.split_rngs", "args": {"splits": 4, "only": "...", "squeeze": False},
             "target": "<Rngs>", "wraps": None, "where": "solution.py:3"}
    assert describe_event(event) == (
        "`nnx.split_rngs(<Rngs>, splits=4, squeeze=False)` at `solution.py:3`")


def test_describe_event_keeps_an_explicit_in_axes_none() -> None:
    event = nnx_vmap(in_axes=None, axis_size=4, target="<function make_model>")
    assert describe_event(event) == (
        "`nnx.vmap(make_model, in_axes=None, out_axes=0, axis_size=4)` at `solution.py:9`")


# -- output signatures ----------------------------------------------------------------------


EXPECTED_4x2 = np.arange(1, 9, dtype=np.float32)  # rows [1, 2], [3, 4], [5, 6], [7, 8]


def signature(kind: str, got: np.ndarray, expected: np.ndarray = EXPECTED_4x2,
              shape: tuple[int, ...] = (4, 2)) -> bool:
    return output_signature(kind, got, expected, shape, RTOL, ATOL)


def test_identical_rows() -> None:
    want = EXPECTED_4x2.reshape(4, 2)
    assert signature("identical-rows", np.tile(want[0], 4))
    assert signature("identical-rows", np.tile(want[2], (4, 1)))  # 2-D also counts
    assert not signature("identical-rows", EXPECTED_4x2)
    assert not signature("identical-rows", EXPECTED_4x2 * 2)


def test_identical_rows_negative_cases() -> None:
    # One row: rows are trivially identical.
    assert not signature("identical-rows", EXPECTED_4x2[:4], EXPECTED_4x2[:4], (1, 4))
    # The expected output's own rows are identical: nothing to tell apart.
    same_rows = np.tile(np.array([1.0, 2.0], dtype=np.float32), 4)
    assert not signature("identical-rows", same_rows, same_rows)
    # Wrong size, or a logical shape that does not fit the expected output.
    assert not signature("identical-rows", np.tile(EXPECTED_4x2[:2], 3))
    assert not signature("identical-rows", np.tile(EXPECTED_4x2[:2], 4), shape=(3, 2))
    assert not signature("identical-rows", EXPECTED_4x2[:1], EXPECTED_4x2[:1], ())


def test_identical_rows_within_tolerance() -> None:
    rows = np.tile(EXPECTED_4x2[:2], 4)
    rows[2] += 1e-7
    assert signature("identical-rows", rows)


def test_transposed() -> None:
    want = EXPECTED_4x2.reshape(4, 2)
    assert signature("transposed", want.T.reshape(-1))
    assert signature("transposed", want.reshape(-1, order="F"))  # Fortran-order flatten
    assert signature("transposed", want.T.copy())  # (features, B), not flattened
    assert signature("transposed", want.T.reshape(-1) + 1e-7)
    assert not signature("transposed", EXPECTED_4x2)
    assert not signature("transposed", want.T.reshape(-1) + 0.1)


def test_transposed_square_shape() -> None:
    square = np.arange(9, dtype=np.float32)
    assert signature("transposed", square.reshape(3, 3).T.reshape(-1), square, (3, 3))
    # A symmetric expected output is its own transpose: not a signature.
    symmetric = np.array([[1, 2, 3], [2, 4, 5], [3, 5, 6]], dtype=np.float32).reshape(-1)
    assert not signature("transposed", symmetric, symmetric, (3, 3))


def test_transposed_negative_cases() -> None:
    flat = EXPECTED_4x2
    assert not signature("transposed", flat, flat, (1, 8))  # a single row
    assert not signature("transposed", flat, flat, (8, 1))  # a single column
    assert not signature("transposed", flat, flat, (8,))  # 1-D: nothing to transpose
    assert not signature("transposed", flat[:6])  # wrong size
    assert not signature("transposed", EXPECTED_4x2.reshape(4, 2).T.reshape(-1), shape=(2, 3))


def test_transposed_three_dimensional_swaps_the_first_two_axes() -> None:
    expected = np.arange(12, dtype=np.float32)
    got = np.swapaxes(expected.reshape(2, 3, 2), 0, 1).reshape(-1)
    assert signature("transposed", got, expected, (2, 3, 2))


def test_not_flattened() -> None:
    assert signature("not-flattened", EXPECTED_4x2.reshape(4, 2))
    assert signature("not-flattened", EXPECTED_4x2.reshape(4, 2) + 1e-7)
    assert not signature("not-flattened", EXPECTED_4x2)  # flattened: nothing wrong
    assert not signature("not-flattened", EXPECTED_4x2.reshape(2, 4))  # not the logical shape
    assert not signature("not-flattened", EXPECTED_4x2.reshape(4, 2).T)
    assert not signature("not-flattened", EXPECTED_4x2.reshape(4, 2) * 2)
    assert not signature("not-flattened", EXPECTED_4x2, shape=(8,))
    square = np.arange(9, dtype=np.float32)
    assert signature("not-flattened", square.reshape(3, 3), square, (3, 3))
    assert not signature("not-flattened", square.reshape(3, 3).T, square, (3, 3))


def test_unknown_signature_kind() -> None:
    with pytest.raises(ValueError, match="sideways"):
        signature("sideways", EXPECTED_4x2)


# -- logical_shape on the real problems -----------------------------------------------------


@functools.cache
def load(name: str) -> LoadedProblem:
    return load_problem(PROBLEMS / name)


@pytest.mark.parametrize(("name", "rows", "columns"), [
    ("nn_vmap_forward", "x_batch", "features"),
    ("vmap_over_batch", "x_batch", "features"),
    ("composed_lifts_forward", "x_batch", "features"),
    ("vmap_over_ensemble", "num_models", "features"),
])
def test_logical_shape_of_every_case(name: str, rows: str, columns: str) -> None:
    problem = load(name)
    for index in range(len(problem.spec.cases)):
        values = dict(zip(problem.spec.parameter_names, case_arguments(problem, index),
                          strict=True))
        row_value = values[rows]
        want_rows = row_value.shape[0] if isinstance(row_value, np.ndarray) else int(row_value)
        shape = logical_shape(problem, index)
        assert shape == (want_rows, int(values[columns]))
        assert shape is not None and all(type(s) is int for s in shape)


def test_logical_shape_examples() -> None:
    assert logical_shape(load("vmap_over_batch"), 0) == (4, 5)
    assert logical_shape(load("vmap_over_batch"), 3) == (1, 3)  # a batch of one
    assert logical_shape(load("vmap_over_ensemble"), 0) == (4, 2)
    assert logical_shape(load("vmap_over_ensemble"), 4) == (1, 4)  # a one-model ensemble
    assert logical_shape(load("composed_lifts_forward"), 1) == (2, 5)


def test_logical_shape_without_returns_shape_or_uncomputable() -> None:
    problem = load("nn_vmap_forward")
    assert logical_shape(problem.model_copy(update={"output_shape": None}), 0) is None
    names = problem.spec.parameter_names
    broken = problem.model_copy(update={"output_shape": (
        Constraint.parse("x_batch.shape[5]", names), Constraint.parse("features", names))})
    assert logical_shape(broken, 0) is None


# -- the Diagnoser --------------------------------------------------------------------------


class FakeOracle:
    """Outputs of each source, counting every call."""

    def __init__(self, outputs: Mapping[Source, Mapping[int, np.ndarray | None]] | None = None
                 ) -> None:
        self.outputs = dict(outputs or {})
        self.calls: list[Source] = []

    def __call__(self, problem: LoadedProblem, source: Source
                 ) -> Mapping[int, np.ndarray | None]:
        self.calls.append(source)
        return self.outputs.get(source, {})


def expected_outputs(problem: LoadedProblem) -> dict[int, np.ndarray]:
    """Expected outputs of the logical sizes (random rows: never identical, never symmetric)."""
    rng = np.random.default_rng(0)
    out = {}
    for index in range(len(problem.spec.cases)):
        shape = logical_shape(problem, index)
        assert shape is not None
        out[index] = rng.normal(size=int(np.prod(shape))).astype(np.float32)
    return out


def values_run(problem: LoadedProblem, expected: Mapping[int, np.ndarray], index: int,
               got: np.ndarray | None, *, returned: str | None = None,
               trace: tuple[Event, ...] = ()) -> CaseRun:
    """A run that returned (as the engine builds it): the comparison's verdict."""
    if returned is None:
        assert got is not None
        returned = f"{got.dtype}[{', '.join(str(s) for s in got.shape)}]"
    mismatch = compare(got, returned, expected[index], problem.spec.tolerance_for(index),
                       problem.spec.returns.dtype)
    verdict = None if mismatch is None else Feedback.from_mismatch(mismatch)
    return CaseRun(index, verdict, got, returned, trace=trace)


def error_run(problem: LoadedProblem, index: int, exc_type: str, message: str,
              trace: tuple[Event, ...] = ()) -> CaseRun:
    error = ErrorInfo("runtime-error", exc_type, message,
                      f"Traceback (most recent call last):\n{exc_type}: {message}")
    return CaseRun(index, feedback.runtime_error(problem.spec.function, error), error=error,
                   trace=trace)


def ids(mistakes: list[Mistake]) -> list[str]:
    return [m.id for m in mistakes]


def mistake(problem: LoadedProblem, mistake_id: str) -> Mistake:
    return next(m for m in problem.spec.mistakes if m.id == mistake_id)


def with_mistakes(problem: LoadedProblem, *mistakes: Mistake) -> LoadedProblem:
    spec = problem.spec.model_copy(update={"mistakes": mistakes})
    return problem.model_copy(update={"spec": spec})


def make_mistake(mistake_id: str, detect: Any, credit: float = 0.0) -> Mistake:
    return Mistake.model_validate({"id": mistake_id, "summary": f"Summary of {mistake_id}.",
                                   "fix": f"Fix {mistake_id}.\n", "detect": detect,
                                   "credit": credit})


ENSEMBLE_VARIANTS = ("python_loop", "python_loop_seeds", "no_split_rngs")
IGNORED_SEED = Source("args", args=(("seed", "0.0"),))


def ensemble(outputs: Mapping[Source, Mapping[int, np.ndarray | None]] | None = None
             ) -> tuple[LoadedProblem, dict[int, np.ndarray], FakeOracle, Diagnoser]:
    problem = load("vmap_over_ensemble")
    expected = expected_outputs(problem)
    oracle = FakeOracle(outputs)
    return problem, expected, oracle, Diagnoser(problem, expected, oracle)


@pytest.mark.parametrize(("kind", "mistake_id"), [
    ("identical-rows", "identical-members"),
    ("transposed", "transposed-output"),
    ("not-flattened", "not-flattened"),
])
def test_output_signatures_name_their_mistake(kind: str, mistake_id: str) -> None:
    problem, expected, _, diagnoser = ensemble()
    want = expected[0].reshape(4, 2)
    got = {"identical-rows": np.tile(want[1], 4), "transposed": want.T.reshape(-1),
           "not-flattened": want}[kind]
    run = values_run(problem, expected, 0, got, trace=ENSEMBLE_OK)
    assert ids(diagnoser.named(run)) == [mistake_id]


def test_a_variant_alternative_names_the_mistake() -> None:
    problem, expected, oracle, diagnoser = ensemble()
    got = expected[0] + 0.5
    oracle.outputs[Source("variant", "python_loop_seeds")] = {0: got.copy()}
    run = values_run(problem, expected, 0, got, trace=())  # a loop: no lift at all
    assert ids(diagnoser.named(run)) == ["python-loop"]  # its second alternative
    # The same numbers from code that vmaps are not a Python loop.
    assert diagnoser.named(values_run(problem, expected, 0, got, trace=ENSEMBLE_OK)) == []


def test_a_variant_that_raised_names_nothing() -> None:
    problem, expected, oracle, diagnoser = ensemble()
    got = expected[0] + 0.5
    oracle.outputs[Source("variant", "python_loop")] = {0: None}
    run = values_run(problem, expected, 0, got, trace=ENSEMBLE_OK)
    assert diagnoser.named(run) == []


def test_reference_args_name_the_mistake() -> None:
    problem, expected, oracle, diagnoser = ensemble()
    got = expected[1] * 3
    oracle.outputs[IGNORED_SEED] = {1: got.copy()}
    run = values_run(problem, expected, 1, got, trace=ENSEMBLE_OK)
    assert ids(diagnoser.named(run)) == ["ignored-seed"]
    assert IGNORED_SEED.slug == "args-seed=0.0"


def test_error_regex_names_the_mistake() -> None:
    problem, _, oracle, diagnoser = ensemble()
    run = error_run(problem, 0, "ValueError", "Invalid rng value: 0.0, expected a jax.Array "
                    "of jax.dtypes.prng_key sub-dtype")
    assert ids(diagnoser.named(run)) == ["seed-not-cast"]
    assert oracle.calls == []  # no output: no variant is computed


def test_error_regex_is_searched_in_type_and_message() -> None:
    problem = with_mistakes(load("nn_vmap_forward"),
                            make_mistake("type-error", {"error": "^TypeError: "}),
                            make_mistake("shape", {"error": "shapes \\(\\d+,\\)"}))
    diagnoser = Diagnoser(problem, expected_outputs(problem), FakeOracle())
    assert ids(diagnoser.named(error_run(problem, 0, "TypeError", "bad"))) == ["type-error"]
    assert ids(diagnoser.named(error_run(problem, 0, "ValueError", "TypeError: bad"))) == []
    assert ids(diagnoser.named(error_run(problem, 0, "ValueError", "shapes (3,) and (4,)"))) \
        == ["shape"]
    # An error condition never holds on a run that returned.
    expected = expected_outputs(problem)
    assert diagnoser.named(values_run(problem, expected, 0, expected[0] + 1)) == []


def test_error_and_trace_together() -> None:
    problem, _, _, diagnoser = ensemble()
    vmapped_both = (ENSEMBLE_OK[0], ENSEMBLE_OK[1],
                    nnx_vmap(in_axes=0, target="<function fwd>", where="solution.py:14"))
    message = "vmap got inconsistent sizes for array axes to be mapped:"
    run = error_run(problem, 0, "ValueError", message, trace=vmapped_both)
    assert ids(diagnoser.named(run)) == ["wrong-axis-order"]
    # The same error with another in_axes: the second alternative does not hold.
    assert diagnoser.named(error_run(problem, 0, "ValueError", message,
                                     trace=ENSEMBLE_OK)) == []


def test_returned_regex_names_the_mistake() -> None:
    problem = load("composed_lifts_forward")
    expected = expected_outputs(problem)
    diagnoser = Diagnoser(problem, expected, FakeOracle())
    correct = (nn_scan(variable_axes={"params": 0}, split_rngs={"params": True}, length=2),
               nn_vmap(variable_axes={"params": None}, split_rngs={"params": False},
                       target="<class ScanBlock>", wraps="nn.scan", where="solution.py:22"))
    run = values_run(problem, expected, 0, None, returned="tuple(float32[4, 3], None)",
                     trace=correct)
    assert run.verdict is not None and run.verdict.id == "wrong-type"
    assert ids(diagnoser.named(run)) == ["wrong-type"]
    other = values_run(problem, expected, 0, None, returned="list(float32[4, 3], None)",
                       trace=correct)
    assert diagnoser.named(other) == []


def test_has_names_a_trace_mistake() -> None:
    problem = load("nn_vmap_forward")
    expected = expected_outputs(problem)
    diagnoser = Diagnoser(problem, expected, FakeOracle())
    axis_1 = nn_vmap(variable_axes={"params": None}, split_rngs={"params": False}, in_axes=1)
    run = values_run(problem, expected, 0, expected[0] + 1, trace=(axis_1,))
    assert ids(diagnoser.named(run)) == ["wrong-axis-order"]


def test_lacks_names_a_trace_mistake() -> None:
    problem = load("nn_vmap_forward")
    expected = expected_outputs(problem)
    diagnoser = Diagnoser(problem, expected, FakeOracle())
    run = values_run(problem, expected, 0, expected[0] + 1, trace=(jax_vmap(),))
    assert ids(diagnoser.named(run)) == ["missing-lift"]
    with_vmap = values_run(problem, expected, 0, expected[0] + 1,
                           trace=(DENSE_SHARED, jax_vmap()))
    assert diagnoser.named(with_vmap) == []


def test_a_trace_condition_needs_a_trace() -> None:
    problem = load("nn_vmap_forward")
    expected = expected_outputs(problem)
    diagnoser = Diagnoser(problem, expected, FakeOracle())
    timed_out = CaseRun(0, feedback.timeout("nn_vmap_forward", 60.0))
    assert diagnoser.named(timed_out) == []


def test_alternatives_either_one_suffices() -> None:
    problem = load("nn_vmap_forward")
    expected = expected_outputs(problem)
    got = expected[0] + 1
    variant = Source("variant", "per_example_params")
    per_example = nn_vmap(variable_axes={"params": 0}, split_rngs={"params": True})

    by_numbers = Diagnoser(problem, expected, FakeOracle({variant: {0: got.copy()}}))
    assert ids(by_numbers.named(values_run(problem, expected, 0, got,
                                           trace=(DENSE_SHARED,)))) == ["per-example-params"]

    by_trace = Diagnoser(problem, expected, FakeOracle({variant: {0: got + 1}}))
    assert ids(by_trace.named(values_run(problem, expected, 0, got,
                                         trace=(per_example,)))) == ["per-example-params"]

    neither = Diagnoser(problem, expected, FakeOracle({variant: {0: got + 1}}))
    assert neither.named(values_run(problem, expected, 0, got, trace=(DENSE_SHARED,))) == []


def test_evidence_from_numbers_comes_before_trace_only() -> None:
    problem = load("nn_vmap_forward")
    expected = expected_outputs(problem)
    diagnoser = Diagnoser(problem, expected, FakeOracle())
    axis_1 = nn_vmap(variable_axes={"params": 0}, split_rngs={"params": False}, in_axes=1)
    got = expected[0].reshape(4, 5).T.reshape(-1)
    run = values_run(problem, expected, 0, got, trace=(axis_1,))
    # In the YAML, per-example-params and wrong-axis-order come before transposed-output;
    # trace-only ones keep their YAML order after it.
    assert ids(diagnoser.named(run)) == ["transposed-output", "per-example-params",
                                         "wrong-axis-order"]


def test_the_oracle_is_lazy_and_called_once_per_source() -> None:
    problem, expected, oracle, diagnoser = ensemble()

    passing = values_run(problem, expected, 0, expected[0].copy(), trace=ENSEMBLE_OK)
    assert passing.verdict is None
    assert diagnoser.explain(passing) == (None, 1.0)
    assert diagnoser.named(passing) == []
    assert oracle.calls == []

    crashed = error_run(problem, 0, "ZeroDivisionError", "division by zero")
    assert diagnoser.named(crashed) == []
    assert oracle.calls == []

    # identical-rows holds, so identical-members's variant alternative is never computed.
    identical = values_run(problem, expected, 0, np.tile(expected[0][:2], 4), trace=ENSEMBLE_OK)
    assert ids(diagnoser.named(identical)) == ["identical-members"]
    assert sorted(s.slug for s in oracle.calls) == [
        "args-seed=0.0", "variant-python_loop", "variant-python_loop_seeds"]

    for index in (0, 1, 2):
        diagnoser.explain(values_run(problem, expected, index, expected[index] + 1,
                                     trace=ENSEMBLE_OK))
    assert sorted(s.slug for s in oracle.calls) == [
        "args-seed=0.0", "variant-no_split_rngs", "variant-python_loop",
        "variant-python_loop_seeds"]
    assert all(oracle.calls.count(s) == 1 for s in oracle.calls)
    assert {Source("variant", name) for name in ENSEMBLE_VARIANTS} | {IGNORED_SEED} == set(
        oracle.calls)


def test_no_known_mistake_note_on_wrong_values() -> None:
    problem, expected, _, diagnoser = ensemble()
    run = values_run(problem, expected, 0, expected[0] + 1, trace=ENSEMBLE_OK)
    assert run.verdict is not None and run.verdict.id == "wrong-values"
    explained, credit = diagnoser.explain(run)
    assert credit == 0.0
    assert explained == Feedback(
        "wrong-values", run.verdict.summary,
        run.verdict.details + "\n\nThis does not match any of the known mistakes for this "
        "exercise; compare your code with the problem statement step by step.")
    assert explained.tags == ("wrong-values",)


def test_no_known_mistake_note_on_wrong_shape() -> None:
    problem, expected, _, diagnoser = ensemble()
    run = values_run(problem, expected, 0, np.zeros(3, dtype=np.float32), trace=ENSEMBLE_OK)
    assert run.verdict is not None and run.verdict.id == "wrong-shape"
    assert run.verdict.details == ""
    explained, credit = diagnoser.explain(run)
    assert credit == 0.0
    assert explained == Feedback(
        "wrong-shape", run.verdict.summary,
        "This does not match any of the known mistakes for this exercise; compare your code "
        "with the problem statement step by step.")


def test_no_note_for_other_verdicts_or_without_a_catalogue() -> None:
    problem, expected, _, diagnoser = ensemble()
    as_float64 = values_run(problem, expected, 0, expected[0].astype(np.float64),
                            trace=ENSEMBLE_OK)
    assert as_float64.verdict is not None and as_float64.verdict.id == "wrong-dtype"
    assert diagnoser.explain(as_float64) == (as_float64.verdict, 0.0)
    crashed = error_run(problem, 0, "ZeroDivisionError", "division by zero")
    assert diagnoser.explain(crashed) == (crashed.verdict, 0.0)

    bare = with_mistakes(problem)
    wrong = values_run(bare, expected, 0, expected[0] + 1)
    assert Diagnoser(bare, expected, FakeOracle()).explain(wrong) == (wrong.verdict, 0.0)


def test_explain_combines_named_mistakes_golden() -> None:
    problem = load("nn_vmap_forward")
    expected = expected_outputs(problem)
    diagnoser = Diagnoser(problem, expected, FakeOracle())
    axis_1 = nn_vmap(variable_axes={"params": None}, split_rngs={"params": False}, in_axes=1)
    got = expected[0].reshape(4, 5).T.reshape(-1)
    run = values_run(problem, expected, 0, got, trace=(axis_1,))
    assert run.verdict is not None
    explained, credit = diagnoser.explain(run)
    transposed = mistake(problem, "transposed-output")
    axis = mistake(problem, "wrong-axis-order")
    assert credit == 0.0
    assert explained == Feedback(
        "transposed-output", transposed.summary,
        transposed.fix.strip() + "\n\n"
        + f"**Also:** {axis.summary} {axis.fix.strip()}\n\n"
        + f"What the grader measured: {run.verdict.summary}\n\n"
        + run.verdict.details,
        ("wrong-axis-order", "wrong-values"))
    assert explained.tags == ("transposed-output", "wrong-axis-order", "wrong-values")
    assert explained.details.startswith(
        "Flatten the `(B, features)` output row by row: `out.reshape(-1)`.")


def test_tags_are_unique_when_a_mistake_id_equals_the_verdict() -> None:
    problem = load("composed_lifts_forward")
    expected = expected_outputs(problem)
    diagnoser = Diagnoser(problem, expected, FakeOracle())
    run = values_run(problem, expected, 0, None, returned="tuple(float32[4, 3], None)")
    explained, _ = diagnoser.explain(run)
    assert explained is not None
    assert explained.id == "wrong-type"
    assert explained.extra_tags == ()
    assert explained.tags == ("wrong-type",)


def test_credit_is_the_smallest_of_the_named_mistakes() -> None:
    base = load("nn_vmap_forward")
    transposed = make_mistake("transposed-output", {"output": "transposed"}, credit=0.5)
    axis = make_mistake("wrong-axis-order",
                        {"has": [{"lift": "nn.vmap", "args": {"in_axes": {"not": 0}}}]},
                        credit=0.25)
    uncredited = make_mistake("missing-split", {"lacks": [{"lift": "nnx.split_rngs"}]})
    expected = expected_outputs(base)
    got = expected[0].reshape(4, 5).T.reshape(-1)
    axis_1 = nn_vmap(variable_axes={"params": None}, split_rngs={"params": False}, in_axes=1)

    def credit(problem: LoadedProblem, trace: tuple[Event, ...]) -> float:
        diagnoser = Diagnoser(problem, expected, FakeOracle())
        return diagnoser.explain(values_run(problem, expected, 0, got, trace=trace))[1]

    assert credit(with_mistakes(base, transposed, axis), (DENSE_SHARED,)) == 0.5
    assert credit(with_mistakes(base, transposed, axis), (axis_1,)) == 0.25
    assert credit(with_mistakes(base, axis, transposed), (axis_1,)) == 0.25
    assert credit(with_mistakes(base, transposed, axis, uncredited), (axis_1,)) == 0.0


def test_reference_args_with_an_array_recipe() -> None:
    problem = with_mistakes(load("nn_vmap_forward"), make_mistake(
        "fixed-input", {"reference_args": {"x_batch": {"generate": "ones", "shape": [4, 3]}}}))
    expected = expected_outputs(problem)
    got = expected[0] + 1
    oracle = FakeOracle()
    diagnoser = Diagnoser(problem, expected, oracle)
    assert diagnoser.named(values_run(problem, expected, 0, got)) == []
    assert len(oracle.calls) == 1
    assert oracle.calls[0].kind == "args"
    assert [name for name, _ in oracle.calls[0].args] == ["x_batch"]


def test_reference_args_with_an_explicit_array_value() -> None:
    problem = with_mistakes(load("nn_vmap_forward"), make_mistake(
        "fixed-input", {"reference_args": {"x_batch": {"value": [[1.0, 2.0, 3.0]]}}}))
    expected = expected_outputs(problem)
    diagnoser = Diagnoser(problem, expected, FakeOracle())
    assert diagnoser.named(values_run(problem, expected, 0, expected[0] + 1)) == []


def test_lacks_does_not_hold_on_a_run_that_raised_before_the_lift() -> None:
    problem = load("vmap_over_batch")
    diagnoser = Diagnoser(problem, expected_outputs(problem), FakeOracle())
    run = error_run(problem, 0, "ValueError", "Invalid rng value: 0.0, expected a jax.Array "
                    "of jax.dtypes.prng_key sub-dtype")
    assert ids(diagnoser.named(run)) == ["seed-not-cast"]


def test_nn_vmap_without_variable_axes_is_not_per_example_params() -> None:
    problem = load("nn_vmap_forward")
    diagnoser = Diagnoser(problem, expected_outputs(problem), FakeOracle())
    no_axes = nn_vmap(variable_axes={}, split_rngs={})  # what nn.vmap's defaults record
    run = error_run(problem, 0, "ScopeCollectionNotFound", 'Tried to access "kernel" from '
                    'collection "params" in "/vmap()" but the collection is empty.',
                    trace=(no_axes,))
    assert "per-example-params" not in ids(diagnoser.named(run))


# -- the structure test ---------------------------------------------------------------------


def passing(index: int, trace: tuple[Event, ...]) -> CaseRun:
    return CaseRun(index, None, np.zeros(1, dtype=np.float32), "float32[1]", trace=trace)


def test_structure_passes() -> None:
    assert check_structure(load("nn_vmap_forward"), [passing(0, (DENSE_SHARED,)),
                                                     passing(1, (DENSE_SHARED,))], None) is None
    assert check_structure(load("vmap_over_ensemble"), [passing(0, ENSEMBLE_OK)], None) is None
    assert check_structure(load("vmap_over_batch"), [passing(0, BATCH_OK)], None) is None
    composed = (nn_scan(variable_axes={"params": 0}, split_rngs={"params": True}, length=2),
                nn_vmap(variable_axes={"params": None}, split_rngs={"params": False},
                        target="<class ScanBlock>", wraps="nn.scan", where="solution.py:22"))
    assert check_structure(load("composed_lifts_forward"), [passing(0, composed)], None) is None


def test_structure_passes_on_a_failing_case_with_the_right_lifts() -> None:
    problem = load("vmap_over_ensemble")
    wrong = CaseRun(0, Feedback("wrong-values", "1 of 8 values differ."),
                    np.zeros(8, dtype=np.float32), "float32[8]", trace=ENSEMBLE_OK)
    assert check_structure(problem, [wrong], None) is None


def test_structure_missing_lift_golden() -> None:
    problem = load("vmap_over_ensemble")
    no_split = (ENSEMBLE_OK[0], ENSEMBLE_OK[2])
    result = check_structure(problem, [passing(0, no_split), passing(1, no_split)], None)
    assert result == Feedback(
        "missing-lift",
        "Your numbers are right on every case, but the exercise is about the lifted transform "
        "itself. Your code does not use `nnx.split_rngs`, which this exercise is about.",
        "Your code applies:\n"
        "- `nnx.vmap(vmap_over_ensemble.<locals>.make_model, in_axes=(0,), out_axes=0)` "
        "at `solution.py:9`\n"
        "- `nnx.vmap(vmap_over_ensemble.<locals>.fwd, in_axes=(0, None), out_axes=0)` "
        "at `solution.py:14`\n"
        "\n"
        "Expected, and not found:\n"
        "- `nnx.split_rngs()`")
    assert result.tags == ("missing-lift",)


def test_structure_lift_misconfigured_golden() -> None:
    problem = load("vmap_over_ensemble")
    odd_axes = (*ENSEMBLE_OK[:2], nnx_vmap(in_axes=[0, 1], target="<function fwd>",
                                           where="solution.py:14"))
    result = check_structure(problem, [passing(0, odd_axes)], None)
    assert result == Feedback(
        "lift-misconfigured",
        "Your numbers are right on every case, but the exercise is about the lifted transform "
        "itself. Your code applies the lifted transforms with different arguments from "
        "the ones this exercise asks for.",
        "Your code applies:\n"
        "- `nnx.vmap(vmap_over_ensemble.<locals>.make_model, in_axes=(0,), out_axes=0)` "
        "at `solution.py:9`\n"
        "- `nnx.split_rngs(vmap_over_ensemble.<locals>.make_model, splits=4, squeeze=False)` "
        "at `solution.py:8`\n"
        "- `nnx.vmap(fwd, in_axes=(0, 1), out_axes=0)` at `solution.py:14`\n"
        "\n"
        "Expected, and not found:\n"
        "- `nnx.vmap(in_axes=(0, None))`")


def test_structure_names_a_trace_only_mistake_golden() -> None:
    problem = load("composed_lifts_forward")

    def reversed_order(length: int) -> tuple[Event, ...]:
        return (nn_vmap(variable_axes={"params": None}, split_rngs={"params": False},
                        target="<class Block>", where="solution.py:20"),
                nn_scan(variable_axes={"params": 0}, split_rngs={"params": True},
                        length=length, target="<class VmapBlock>", wraps="nn.vmap",
                        where="solution.py:22"))

    # The scan line runs once per case with another length: listed once, as first seen.
    runs = [passing(0, reversed_order(2)), passing(1, reversed_order(3)),
            passing(2, reversed_order(2))]
    result = check_structure(problem, runs, None)
    reversed_mistake = mistake(problem, "reversed-lift-order")
    assert result == Feedback(
        "reversed-lift-order", reversed_mistake.summary,
        reversed_mistake.fix.strip() + "\n\n"
        "Your code applies:\n"
        "- `nn.vmap(Block, variable_axes={'params': None}, split_rngs={'params': False}, "
        "in_axes=0, out_axes=0)` at `solution.py:20`\n"
        "- `nn.scan(VmapBlock, variable_axes={'params': 0}, variable_broadcast=False, "
        "variable_carry=False, split_rngs={'params': True}, in_axes=0, out_axes=0, length=2, "
        "reverse=False)` at `solution.py:22`\n"
        "\n"
        "Expected, and not found:\n"
        "- `nn.vmap(variable_axes={'params': None}, split_rngs={'params': False}) applied to "
        "nn.scan(...)`")
    assert result.summary == ("Your lifts are composed in the wrong order: "
                              "`nn.scan(nn.vmap(Block))` instead of `nn.vmap(nn.scan(Block))`.")


def test_structure_names_every_trace_only_mistake() -> None:
    problem = load("nn_vmap_forward")
    bad = nn_vmap(variable_axes={"params": 0}, split_rngs={"params": True}, in_axes=1)
    result = check_structure(problem, [passing(0, (bad,))], None)
    assert result is not None
    assert result.id == "per-example-params"
    assert result.tags == ("per-example-params", "wrong-axis-order")
    axis = mistake(problem, "wrong-axis-order")
    assert f"**Also:** {axis.summary} {axis.fix.strip()}" in result.details
    assert result.details.endswith(
        "Your code applies:\n"
        "- `nn.vmap(Dense, variable_axes={'params': 0}, split_rngs={'params': True}, "
        "in_axes=1, out_axes=0)` at `solution.py:12`\n"
        "\n"
        "Expected, and not found:\n"
        "- `nn.vmap(in_axes=0, variable_axes={'params': None}, "
        "split_rngs={'params': False})`")


def test_structure_with_no_lift_at_all() -> None:
    problem = load("vmap_over_batch")
    result = check_structure(problem, [passing(0, ()), passing(1, ())], None)
    missing = mistake(problem, "missing-lift")
    assert result == Feedback(
        "missing-lift", missing.summary,
        missing.fix.strip() + "\n\n"
        "Your code applies:\n"
        "- no lifted transform at all\n"
        "\n"
        "Expected, and not found:\n"
        "- `nnx.vmap(in_axes=(None, 0))`")


def test_structure_ignores_a_lift_that_is_never_called() -> None:
    problem = load("vmap_over_batch")
    dead = (nnx_vmap(in_axes=[None, 0], target="<function fwd>", calls=0),)
    result = check_structure(problem, [passing(0, dead)], None)
    assert result is not None
    assert result.id == "missing-lift"
    assert "- `nnx.vmap(fwd, in_axes=(None, 0), out_axes=0)` at `solution.py:9`" in (
        result.details)


def test_structure_when_the_function_never_ran() -> None:
    problem = load("nn_vmap_forward")
    timed_out = [CaseRun(i, feedback.timeout("nn_vmap_forward", 60.0)) for i in range(3)]
    assert check_structure(problem, timed_out, None) == Feedback(
        "runtime-error",
        "The lifted transforms could not be checked because your function did not run: it "
        "did not run on any case.")
    missing = feedback.missing_function("nn_vmap_forward", ["solution.py"])
    assert check_structure(problem, [], missing) == Feedback(
        "missing-function",
        "The lifted transforms could not be checked because your function did not run: "
        "No function named `nn_vmap_forward` was found in your submission (`solution.py`). "
        "Define it at the top level of a file with exactly this name: "
        "`def nn_vmap_forward(...):`.")


def test_structure_when_every_run_raised_before_the_lifts() -> None:
    problem = load("vmap_over_ensemble")
    runs = [error_run(problem, i, "ZeroDivisionError", "division by zero") for i in range(2)]
    result = check_structure(problem, runs, None)
    assert result is not None
    assert result.id == "runtime-error"
    assert result.summary == (
        "The lifted transforms could not all be checked because your function raised an error "
        "before applying them: fix that error first (see the failed cases).")
    assert result.details.startswith("Your code applies:\n- no lifted transform at all\n\n")


def test_structure_does_not_name_missing_lift_when_every_run_raised_early() -> None:
    problem = load("vmap_over_batch")
    runs = [error_run(problem, i, "ValueError", "Invalid rng value: 0.0") for i in range(3)]
    result = check_structure(problem, runs, None)
    assert result is not None
    assert "missing-lift" not in result.tags


# -- evidence the student's process cannot forge, and documented alternatives ----------------


def static(*lifts: tuple[str, str, bool]) -> tuple[StaticLift, ...]:
    return tuple(StaticLift(lift, where, flows) for lift, where, flows in lifts)


BATCH_SOURCE = static(("nnx.vmap", "solution.py:9", True))


def test_structure_rests_on_the_source_too() -> None:
    problem = load("vmap_over_batch")
    assert check_structure(problem, [passing(0, BATCH_OK)], None, BATCH_SOURCE) is None


def test_a_decoy_lift_does_not_pass_golden() -> None:
    problem = load("vmap_over_batch")
    decoy = static(("nnx.vmap", "solution.py:6", False))
    result = check_structure(problem, [passing(0, BATCH_OK)], None, decoy)
    assert result == Feedback(
        "lift-not-used",
        "The `nnx.vmap` in your code (`solution.py:6`) does not compute what your function "
        "returns: its result is thrown away or unused, and the output comes from elsewhere. "
        "Return the result of the lifted function.",
        "Your code applies:\n"
        "- `nnx.vmap(vmap_over_batch.<locals>.fwd, in_axes=(None, 0), out_axes=0)` at "
        "`solution.py:9`")


def test_an_injected_event_does_not_pass_golden() -> None:
    problem = load("vmap_over_batch")
    result = check_structure(problem, [passing(0, BATCH_OK)], None, static())
    assert result is not None and result.id == "missing-lift"
    assert result.summary == (
        "Your code does not use `nnx.vmap`, which this exercise is about: no call of it was "
        "found in your source. Write the lift in your function (as the problem statement "
        "shows) and return its result.")


def test_a_lift_written_by_hand_is_described_as_such_golden() -> None:
    problem = load("vmap_over_batch")
    by_hand = ({"lift": "nnx.split", "args": {}, "target": None, "wraps": None,
                "where": "solution.py:6"},
               jax_vmap(in_axes=[None, 0], target="<function forward>",
                        where="solution.py:11"),
               {"lift": "nnx.merge", "args": {}, "target": None, "wraps": None,
                "where": "solution.py:9"})
    result = check_structure(problem, [passing(0, by_hand)], None, static())
    assert result == Feedback(
        "different-lift",
        "Your numbers are right on every case, but the exercise is about the lifted "
        "transform itself. Your code lifts the model by hand: `nnx.split` into a graph and a "
        "state, `jax.vmap` over a function that `nnx.merge`s them back (what `nnx.vmap` does "
        "for you); this exercise asks for `nnx.vmap(in_axes=(None, 0))`.",
        "Your code applies:\n"
        "- `jax.vmap(forward, in_axes=(None, 0), out_axes=0)` at `solution.py:11`\n"
        "\n"
        "Expected, and not found:\n"
        "- `nnx.vmap(in_axes=(None, 0))`")
    # jax.vmap straight over the module: another lift, never "no lift".
    result = check_structure(problem, [passing(0, (jax_vmap(),))], None, static())
    assert result is not None and result.id == "different-lift"
    assert "lifts with `jax.vmap` instead of Flax's lifted transform" in result.summary


def test_no_lift_at_all_golden() -> None:
    problem = with_mistakes(load("vmap_over_batch"))  # no catalogue: the generic words
    result = check_structure(problem, [passing(0, ())], None, static())
    assert result is not None and result.id == "missing-lift"
    assert result.summary == (
        "Your numbers are right on every case, but the exercise is about the lifted transform "
        "itself. Your code applies no lifted transform at all; this exercise asks for "
        "`nnx.vmap(in_axes=(None, 0))`.")


FORK = {"lift": "Rngs.fork", "args": {"split": 4}, "target": None, "wraps": None,
        "where": "solution.py:7"}
FORKED = (nnx_vmap(in_axes=0, target="<function make_model>", arity=1), FORK,
          ENSEMBLE_OK[2])


def test_an_accepted_alternative_passes_and_others_do_not() -> None:
    problem = load("vmap_over_ensemble")
    sources = static(("nnx.vmap", "solution.py:9", True), ("Rngs.fork", "solution.py:7", True),
                     ("nnx.vmap", "solution.py:14", True))
    assert check_structure(problem, [passing(0, FORKED)], None, sources) is None
    # The alternative's own lifts must be in the source as well.
    result = check_structure(problem, [passing(0, FORKED)], None, sources[::2])
    assert result is not None and result.id == "missing-lift"
    assert "`Rngs.fork`" in result.summary
    # Without the fork nor split_rngs, it is not accepted.
    result = check_structure(problem, [passing(0, (FORKED[0], FORKED[2]))], None, sources)
    assert result is not None and result.id == "missing-lift"


def test_a_mistake_named_on_the_cases_from_the_trace_is_the_structures_too() -> None:
    problem = load("vmap_over_ensemble")
    constructor = nnx_vmap(in_axes=[0], target="<function make_model>")
    rank = "vmap was requested to map its argument along axis 0, which implies that its " \
           "rank should be at least 1, but is only 0 (its shape is ())"
    run = error_run(problem, 0, "ValueError", rank, trace=(constructor,))
    diagnoser = Diagnoser(problem, expected_outputs(problem), FakeOracle())
    named = diagnoser.named(run)
    assert ids(named) == ["identical-members"]
    explained, _ = diagnoser.explain(run)
    assert explained is not None and explained.tags == ("identical-members", "runtime-error")
    assert explained.details.startswith(mistake(problem, "identical-members").fix.strip())
    result = check_structure(problem, [run], None, static(), named)
    assert result is not None and result.id == "identical-members"
    # Without the cases' diagnosis, the structure test could only say it did not get there.
    result = check_structure(problem, [run], None, static())
    assert result is not None and result.id == "runtime-error"


def test_params_evidence_names_a_mistake_and_says_what_is_known() -> None:
    from autograder.protocol.messages import Leaf, Variables

    problem = load("nn_vmap_forward")
    expected = expected_outputs(problem)
    shared = Variables("linen", "solution.py:9", (Leaf("params/bias", (5,)),
                                                  Leaf("params/kernel", (3, 5))))
    wrapped = Variables("linen", "solution.py:9", (Leaf("params/Dense_0/bias", (5,)),
                                                   Leaf("params/Dense_0/kernel", (3, 5))))
    diagnoser = Diagnoser(problem, expected, FakeOracle(), {0: (shared,)})
    run = dataclass_replace(values_run(problem, expected, 0, expected[0] + 1.0,
                                       trace=(DENSE_SHARED,)), models=(wrapped,))
    assert diagnoser.named(run) == []
    explained, _ = diagnoser.explain(run)
    assert explained is not None and explained.tags == ("wrong-values", "params-differ")
    assert "Your parameters live at `params/Dense_0/kernel` with shape (3, 5)" in (
        explained.details)
    assert explained.details.endswith("compare your code with the problem statement step by "
                                      "step.")
    # A detect rule on the same evidence names it.
    scoped = make_mistake("extra-scope", {"params": "extra-scope"})
    diagnoser = Diagnoser(with_mistakes(problem, scoped), expected, FakeOracle(),
                          {0: (shared,)})
    assert ids(diagnoser.named(run)) == ["extra-scope"]
    assert diagnoser.named(dataclass_replace(run, models=(shared,))) == []


def test_an_unexplained_answer_says_which_rows_are_right_golden() -> None:
    problem = with_mistakes(load("vmap_over_ensemble"))
    expected = expected_outputs(problem)
    diagnoser = Diagnoser(problem, expected, FakeOracle())
    got = expected[0].reshape(4, 2).copy()
    got[1:3] += 1.0
    explained, _ = diagnoser.explain(values_run(problem, expected, 0, got.reshape(-1)))
    assert explained is not None and explained.tags == ("wrong-values",)
    assert explained.details.endswith(
        "Rows 0, 3 (counting from 0) of your output, read as shape (4, 2), equal the "
        "expected ones; the other 2 of 4 differ.")


def test_an_unexplained_answer_that_is_another_cases_says_so() -> None:
    problem = with_mistakes(load("vmap_over_batch"))
    first = expected_outputs(problem)[0]
    expected = {0: first, 1: first + 5.0, 2: first * 2.0}
    diagnoser = Diagnoser(problem, expected, FakeOracle())
    explained, _ = diagnoser.explain(values_run(problem, expected, 1, first * 2.0))
    assert explained is not None
    assert explained.details.endswith(
        "Your output is the expected output of case 3 (uniform inputs): does your code use "
        "all of its arguments?")
