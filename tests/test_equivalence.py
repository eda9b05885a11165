"""Equivalent specifications normalised before matching, and lifts attributed to the call
that used them.

What Flax treats as the same must match the same pattern: ``(0,)`` and ``0`` for one
argument, ``0`` and ``(0, 0)`` for two, a ``StateAxes`` whose filters put the whole argument
on one axis and that axis; and a lift applied while a notebook was imported, by another
function, is never this function's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from autograder.grading.diagnose import describe_event
from autograder.protocol.messages import Event
from autograder.spec import LiftPattern
from autograder.spec.matchers import canonical_axes
from autograder.worker.serve import Worker
from autograder.worker.trace import Tracer, plain, resolve_axes


def vmap_event(in_axes: Any, arity: int | None, **extra: Any) -> dict[str, Any]:
    event = {"lift": "nnx.vmap", "args": {"in_axes": in_axes, "out_axes": 0,
                                          "axis_size": None},
             "target": "<function fwd>", "wraps": None, "where": "solution.py:9", "calls": 1,
             **extra}
    return event if arity is None else {**event, "arity": arity}


def matches(spec_axes: Any, event: dict[str, Any]) -> bool:
    return LiftPattern.model_validate({"lift": "nnx.vmap",
                                       "args": {"in_axes": spec_axes}}).matches(event)


@pytest.mark.parametrize(("value", "arity", "canonical"), [
    (0, 1, [0]), ([0], 1, [0]), (0, 2, [0, 0]), ([0, 0], 2, [0, 0]), (None, 2, [None, None]),
    ([None, 0], 2, [None, 0]), ([[None, None], 0], 2, [None, 0]),
    ([0], None, 0), ([0, 0], None, 0), ([None, 0], None, [None, 0]), (0, None, 0),
])
def test_canonical_axes(value: Any, arity: int | None, canonical: Any) -> None:
    assert canonical_axes(value, arity) == canonical


@pytest.mark.parametrize(("spec", "written", "arity", "expected"), [
    (0, [0], 1, True),  # in_axes=(0,) for a one-argument constructor is in_axes=0
    ([0], 0, 1, True),
    ([0, 0], 0, 2, True),  # in_axes=0 maps both arguments
    ([0, 0], [0], 1, False),  # the constructor's (0,) is not a forward's (0, 0)
    (0, [0, None], 2, False),
    ({"not": [None, 0]}, [None, 0], 2, False),
    ({"not": 0}, [0], 1, False),  # a negation sees the same canonical form
    ({"one_of": [[None, 0], [0, 0]]}, 0, 2, True),
    ({"one_of": [[None, 0], [0, 0]]}, [0], 1, False),
    ([0], [0], None, True),  # an event without its arity: both sides collapse
])
def test_equivalent_in_axes_match_one_pattern(spec: Any, written: Any, arity: int | None,
                                              expected: bool) -> None:
    assert matches(spec, vmap_event(written, arity)) is expected


def test_a_resolved_state_axes_is_matched_as_its_axis() -> None:
    written = ["<StateAxes({RngState: 0, ...: None})>", 0]
    event = vmap_event(written, 2, resolved={"in_axes": [None, 0]})
    assert matches([None, 0], event)
    assert not matches({"not": [None, 0]}, event)
    # Messages quote what the student wrote, readably.
    assert describe_event(event) == (
        "`nnx.vmap(fwd, in_axes=(nnx.StateAxes({RngState: 0, ...: None}), 0), out_axes=0)` "
        "at `solution.py:9`")


def test_state_axes_are_pictured_as_written_and_resolved_on_the_argument() -> None:
    from flax import nnx

    model = nnx.Linear(3, 2, rngs=nnx.Rngs(0))
    rng_only = nnx.StateAxes({nnx.RngState: 0, ...: None})  # type: ignore[arg-type]
    assert plain(rng_only) == "<StateAxes({RngState: 0, ...: None})>"
    # Linear keeps no RNG state: the filter that maps maps nothing.
    assert resolve_axes((rng_only, 0), (model, None)) == [None, 0]
    everything = nnx.StateAxes({nnx.Param: 0, ...: 0})  # type: ignore[arg-type]
    assert resolve_axes((everything, None), (model, None)) == [0, None]
    dropout = nnx.Dropout(0.5, rngs=nnx.Rngs(1))
    assert resolve_axes((rng_only,), (dropout,)) == [0]  # all it holds is RNG state
    with_rngs = nnx.List([model, dropout])
    assert resolve_axes((rng_only,), (with_rngs,)) == [  # really split: kept as written
        "<StateAxes({RngState: 0, ...: None})>"]
    assert resolve_axes(0, (model,)) == 0


# -- attribution -----------------------------------------------------------------------------


def worker_with(tracer: Tracer, at_import: list[Event]) -> Worker:
    worker = Worker()
    worker.tracer = tracer
    worker.function_files = {"f": Path("/s/solution.py"), "g": Path("/s/solution.py")}
    worker.load_events = {Path("/s/solution.py"): at_import}
    return worker


def event(index: int, scope: str, **extra: Any) -> dict[str, Any]:
    return {"lift": "nnx.vmap", "args": {"in_axes": 0}, "target": None, "wraps": None,
            "where": f"solution.py:{index + 1}", "scope": scope, "id": index, **extra}


def test_lifts_another_function_applied_at_import_are_not_this_calls() -> None:
    tracer = Tracer()
    # At import: a notebook cell called g, whose body made and used a lift (event 0); a
    # module-level lifted function (event 1) was made; a Linen class lifted at top level
    # (event 2, no call count).
    tracer.events = [event(0, "g", calls=1), event(1, "<module>", calls=0),
                     {**event(2, "<module>"), "lift": "nn.vmap"}]
    tracer.invocations = [0]
    worker = worker_with(tracer, list(tracer.events))
    marks = len(tracer.events), len(tracer.invocations)
    # f's call uses the module-level lifted function twice and makes a lift of its own.
    tracer.invocations += [1, 1]
    tracer.events.append(event(3, "f", calls=1))
    tracer.invocations.append(3)
    trace = worker._trace("f", *marks)
    assert [(e["id"], e.get("calls")) for e in trace] == [(1, 2), (2, None), (3, 1)]
    # A call that uses nothing from the import gets only the top-level Linen class.
    marks = len(tracer.events), len(tracer.invocations)
    assert [e["id"] for e in worker._trace("g", *marks)] == [2]


def test_an_event_added_by_the_students_code_without_an_id_is_never_applied() -> None:
    tracer = Tracer()
    worker = worker_with(tracer, [])
    marks = len(tracer.events), len(tracer.invocations)
    tracer.events.append({"lift": "nnx.vmap", "args": {"in_axes": [None, 0]}, "calls": 1})
    (forged,) = worker._trace("f", *marks)
    assert forged["calls"] == 0  # counted by the tracer's own log: never called
    assert not LiftPattern.model_validate({"lift": "nnx.vmap"}).matches(forged)


# -- the traceback a diagnosis is followed by --------------------------------------------------


def test_the_traceback_keeps_the_students_frames(tmp_path: Path) -> None:
    import numpy as np

    from autograder.worker import capture

    student = tmp_path / "solution.py"
    student.write_text("import numpy as np\n\n\ndef f():\n    return np.ones(3).reshape(2)\n")
    namespace: dict[str, Any] = {"np": np}
    exec(compile(student.read_text(), str(student), "exec"), namespace)
    capture.STUDENT_ROOTS.append(str(tmp_path) + "/")
    try:
        try:
            namespace["f"]()
        except ValueError as exc:
            text = capture.format_exception(exc)
    finally:
        capture.STUDENT_ROOTS.remove(str(tmp_path) + "/")
    assert text.splitlines()[:3] == ["Traceback (most recent call last):",
                                     '  File "solution.py", line 5, in f',
                                     "    return np.ones(3).reshape(2)"]
    assert "test_equivalence.py" not in text  # a frame outside the student's files
    assert "  (1 frame outside your files not shown)" in text.splitlines()
    assert text.rstrip().endswith("ValueError: cannot reshape array of size 3 into shape (2,)")
