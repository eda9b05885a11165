"""Lift tracing: ``plain()`` pictures of arguments, and ``Tracer.wrap`` on fake lift functions.

The tracer is tested in-process on small fake lifts (no JAX): a recorder records only calls
made from files under a registered root, fills in defaults, handles the decorator-factory
form, and notes which recorded lift a target came from. One test installs the real tracer in
a subprocess to check that the real Flax and JAX lifts are wrapped, exactly once.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from autograder.worker.trace import Tracer, plain
from tests.support import REPO

# -- plain() ---------------------------------------------------------------------------------


class Dense:
    """A stand-in for a module class."""


class CallableObject:
    def __call__(self) -> None:
        return None


def forward(x: Any) -> Any:
    return x


#: A lambda made at module level, so that its qualified name is just ``<lambda>``.
LAMBDAS: list[Callable[[Any], Any]] = [lambda x: x]


def outer() -> Callable[[Any], Any]:
    def inner(x: Any) -> Any:
        return x

    return inner


@pytest.mark.parametrize("value", [None, True, False, 0, 3, -2.5, "in_axes", ""])
def test_plain_keeps_json_scalars(value: Any) -> None:
    result = plain(value)
    assert result == value
    assert type(result) is type(value)  # True stays a bool, never becomes 1


def test_plain_turns_tuples_into_lists_recursively() -> None:
    assert plain((None, 0)) == [None, 0]
    assert plain((0,)) == [0]
    assert plain(((0, None), [1, (2, 3)])) == [[0, None], [1, [2, 3]]]
    assert type(plain((1, 2))) is list


def test_plain_turns_mappings_into_dicts_with_string_keys() -> None:
    assert plain({"params": None, "batch_stats": (0, 1)}) == {"params": None,
                                                               "batch_stats": [0, 1]}
    assert plain({1: "a", None: "b"}) == {"1": "a", "None": "b"}


def test_plain_turns_a_flax_frozendict_into_a_dict() -> None:
    from flax.core import FrozenDict

    frozen: Any = FrozenDict({"params": 0, "dropout": True})  # type: ignore[no-untyped-call]
    result = plain(frozen)
    assert result == {"params": 0, "dropout": True}
    assert type(result) is dict
    assert plain(FrozenDict()) == {}  # type: ignore[no-untyped-call]


def test_plain_names_classes_and_functions() -> None:
    assert plain(Dense) == "<class Dense>"
    assert plain(forward) == "<function forward>"
    assert plain(outer()) == "<function outer.<locals>.inner>"
    assert plain(LAMBDAS[0]) == "<function <lambda>>"
    assert plain(lambda x: x) == (
        "<function test_plain_names_classes_and_functions.<locals>.<lambda>>")
    assert plain(len) == "<function len>"
    # No __qualname__: the type's name.
    assert plain(functools.partial(forward, 1)) == "<partial>"
    assert plain(CallableObject()) == "<CallableObject>"


def test_plain_of_other_objects_and_ellipsis() -> None:
    assert plain(...) == "..."
    assert plain(object()) == "<object>"
    assert plain(np.zeros(3)) == "<ndarray>"
    assert plain([..., Dense]) == ["...", "<class Dense>"]


def test_plain_stops_at_depth_five() -> None:
    nested: Any = 1
    for _ in range(6):
        nested = [nested]
    assert plain(nested) == [[[[["..."]]]]]
    # Scalars are returned before the depth check: five levels keep their leaf.
    assert plain([[[[[1]]]]]) == [[[[[1]]]]]
    deep_mapping: Any = {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}
    assert plain(deep_mapping) == {"a": {"b": {"c": {"d": {"e": "..."}}}}}


# -- Tracer.wrap on fake lifts ---------------------------------------------------------------


def fake_vmap(f: Any = None, *, in_axes: Any = 0, out_axes: Any = 0,
              axis_size: int | None = None) -> Any:
    """Shaped like ``nnx.vmap``: a call with ``f``, or a decorator factory without it."""
    if f is None:
        return functools.partial(fake_vmap, in_axes=in_axes, out_axes=out_axes,
                                 axis_size=axis_size)

    def lifted(*args: Any) -> Any:
        return ("vmapped", f(*args))

    return lifted


def fake_scan(target: Any, length: int | None = None, reverse: bool = False) -> Any:
    """Shaped like ``nn.scan``: the target has no default."""

    def lifted(*args: Any) -> Any:
        return ("scanned", target(*args))

    return lifted


STUDENT = """\
def layer(model, x):
    return x


def build(vmap, scan):
    lifted = vmap(layer, in_axes=(None, 0))  # vmap-call
    stacked = scan(lifted, length=3)  # scan-call
    return lifted, stacked


def decorated(vmap):
    @vmap(in_axes=1)  # vmap-decorator
    def fwd(model, x):
        return x

    return fwd


def decorated_twice(vmap, scan_factory):
    @scan_factory(length=2)  # scan-decorator
    @vmap(in_axes=(0, None))  # inner-vmap-decorator
    def fwd(model, x):
        return x

    return fwd


def plain_scan(scan, fn):
    return scan(fn, 4)  # plain-scan


def bad_call(vmap):
    return vmap(layer, bogus=1)  # bad-call
"""


def line_of(text: str, marker: str) -> int:
    """The 1-based line of ``text`` holding the comment ``# marker``."""
    found = [i for i, line in enumerate(text.splitlines(), 1) if line.endswith(f"# {marker}")]
    assert len(found) == 1, marker
    return found[0]


def import_file(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"student_{path.stem}_{id(path)}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def student_module(root: Path, name: str = "solution.py", text: str = STUDENT) -> ModuleType:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return import_file(path)


def recorders(tracer: Tracer) -> tuple[Callable[..., Any], Callable[..., Any]]:
    vmap = tracer.wrap("nnx.vmap", fake_vmap, "f", ("in_axes", "out_axes", "axis_size"))
    scan = tracer.wrap("nn.scan", fake_scan, "target", ("length", "reverse"))
    return vmap, scan


def test_a_call_from_a_student_file_is_recorded_with_defaults(tmp_path: Path) -> None:
    tracer = Tracer()
    tracer.add_root(str(tmp_path / "submission"))
    vmap, scan = recorders(tracer)
    module = student_module(tmp_path / "submission")

    lifted, stacked = module.build(vmap, scan)

    vmap_line = line_of(STUDENT, "vmap-call")
    scan_line = line_of(STUDENT, "scan-call")
    # A lift that returns a function counts the calls of that function (0 so far).
    assert tracer.events == [
        {"lift": "nnx.vmap", "args": {"in_axes": [None, 0], "out_axes": 0, "axis_size": None},
         "target": "<function layer>", "wraps": None, "where": f"solution.py:{vmap_line}",
         "scope": "build", "id": 0, "calls": 0},
        {"lift": "nn.scan", "args": {"length": 3, "reverse": False},
         "target": "<function fake_vmap.<locals>.lifted>", "wraps": "nnx.vmap",
         "where": f"solution.py:{scan_line}", "scope": "build", "id": 1, "calls": 0},
    ]
    # The originals run unchanged; each call of a product is counted on its event.
    assert lifted("m", 5) == ("vmapped", 5)
    assert [e["calls"] for e in tracer.events] == [1, 0]
    assert stacked("m", 5) == ("scanned", ("vmapped", 5))
    assert [e["calls"] for e in tracer.events] == [2, 1]
    json.dumps(tracer.events)  # plain data only


def test_a_call_from_outside_the_roots_is_not_recorded(tmp_path: Path) -> None:
    tracer = Tracer()
    tracer.add_root(str(tmp_path / "submission"))
    vmap, scan = recorders(tracer)

    lifted = vmap(forward, in_axes=1)  # from this test file: not the student's code
    assert lifted(7) == ("vmapped", 7)
    assert scan(lifted)(7) == ("scanned", ("vmapped", 7))
    assert tracer.events == []


def test_a_sibling_folder_sharing_the_roots_prefix_is_not_a_root(tmp_path: Path) -> None:
    tracer = Tracer()
    tracer.add_root(str(tmp_path / "sub"))
    vmap, scan = recorders(tracer)
    module = student_module(tmp_path / "sub2")
    module.build(vmap, scan)
    assert tracer.events == []


def test_where_is_relative_to_the_root_in_subfolders(tmp_path: Path) -> None:
    tracer = Tracer()
    tracer.add_root(str(tmp_path / "submission") + os.sep)  # a trailing slash is the same root
    tracer.add_root(str(tmp_path / "submission"))
    assert tracer.roots == [os.path.join(str(tmp_path / "submission"), "")]
    vmap, scan = recorders(tracer)
    module = student_module(tmp_path / "submission", "pkg/helpers.py")
    module.build(vmap, scan)
    assert [e["where"] for e in tracer.events] == [
        f"pkg/helpers.py:{line_of(STUDENT, 'vmap-call')}",
        f"pkg/helpers.py:{line_of(STUDENT, 'scan-call')}",
    ]


def test_decorator_factory_records_the_decorated_function(tmp_path: Path) -> None:
    tracer = Tracer()
    tracer.add_root(str(tmp_path))
    vmap, _ = recorders(tracer)
    module = student_module(tmp_path)

    fwd = module.decorated(vmap)

    assert tracer.events == [
        {"lift": "nnx.vmap", "args": {"in_axes": 1, "out_axes": 0, "axis_size": None},
         "target": "<function decorated.<locals>.fwd>", "wraps": None,
         "where": f"solution.py:{line_of(STUDENT, 'vmap-decorator')}", "scope": "decorated",
         "id": 0, "calls": 0},
    ]
    assert fwd("m", 2) == ("vmapped", 2)
    assert tracer.events[0]["calls"] == 1


def test_stacked_decorators_record_what_they_wrap(tmp_path: Path) -> None:
    tracer = Tracer()
    tracer.add_root(str(tmp_path))
    vmap, _ = recorders(tracer)

    def scan_factory(length: int | None = None, reverse: bool = False,
                     target: Any = None) -> Any:
        if target is None:
            return lambda fn: fake_scan(fn, length, reverse)
        return fake_scan(target, length, reverse)

    scan = tracer.wrap("nn.scan", scan_factory, "target", ("length", "reverse"))
    module = student_module(tmp_path)
    fwd = module.decorated_twice(vmap, scan)

    # Decorators apply bottom-up: the vmap first, then the scan on the vmap's product.
    assert [(e["lift"], e["wraps"], e["where"]) for e in tracer.events] == [
        ("nnx.vmap", None, f"solution.py:{line_of(STUDENT, 'inner-vmap-decorator')}"),
        ("nn.scan", "nnx.vmap", f"solution.py:{line_of(STUDENT, 'scan-decorator')}"),
    ]
    assert tracer.events[0]["args"] == {"in_axes": [0, None], "out_axes": 0, "axis_size": None}
    assert tracer.events[1]["args"] == {"length": 2, "reverse": False}
    assert fwd("m", 1) == ("scanned", ("vmapped", 1))
    assert [e["calls"] for e in tracer.events] == [1, 1]


def test_wraps_is_none_for_a_function_no_recorded_lift_made(tmp_path: Path) -> None:
    tracer = Tracer()
    tracer.add_root(str(tmp_path))
    vmap, scan = recorders(tracer)
    module = student_module(tmp_path)

    unrecorded = vmap(forward)  # made from this test file: not remembered as a product
    module.plain_scan(scan, unrecorded)
    module.plain_scan(scan, forward)

    where = f"solution.py:{line_of(STUDENT, 'plain-scan')}"
    assert tracer.events == [
        {"lift": "nn.scan", "args": {"length": 4, "reverse": False},
         "target": "<function fake_vmap.<locals>.lifted>", "wraps": None, "where": where,
         "scope": "plain_scan", "id": 0, "calls": 0},
        {"lift": "nn.scan", "args": {"length": 4, "reverse": False},
         "target": "<function forward>", "wraps": None, "where": where, "scope": "plain_scan",
         "id": 1, "calls": 0},
    ]


def test_a_call_that_does_not_bind_raises_the_originals_error_unrecorded(
        tmp_path: Path) -> None:
    tracer = Tracer()
    tracer.add_root(str(tmp_path))
    vmap, _ = recorders(tracer)
    module = student_module(tmp_path)
    with pytest.raises(TypeError, match="bogus"):
        module.bad_call(vmap)
    assert tracer.events == []


def fake_linen_vmap(target: Any, in_axes: Any = 0) -> Any:
    """Shaped like ``nn.vmap`` on a module class: returns a new class."""
    return type(f"Vmap{target.__name__}", (target,), {})


CLASS_STUDENT = """\
class Block:
    pass


def build(vmap, scan):
    Batched = vmap(Block)  # class-vmap
    return scan(Batched, length=2)  # class-scan
"""


def test_a_class_product_has_no_call_count_but_is_remembered(tmp_path: Path) -> None:
    tracer = Tracer()
    tracer.add_root(str(tmp_path))
    vmap = tracer.wrap("nn.vmap", fake_linen_vmap, "target", ("in_axes",))
    _, scan = recorders(tracer)
    module = student_module(tmp_path, text=CLASS_STUDENT)
    module.build(vmap, scan)
    assert tracer.events == [
        {"lift": "nn.vmap", "args": {"in_axes": 0}, "target": "<class Block>", "wraps": None,
         "where": f"solution.py:{line_of(CLASS_STUDENT, 'class-vmap')}", "scope": "build",
         "id": 0},
        {"lift": "nn.scan", "args": {"length": 2, "reverse": False},
         "target": "<class VmapBlock>", "wraps": "nn.vmap",
         "where": f"solution.py:{line_of(CLASS_STUDENT, 'class-scan')}", "scope": "build",
         "id": 1, "calls": 0},
    ]


def test_the_recorder_keeps_the_original() -> None:
    vmap, _ = recorders(Tracer())
    assert vmap.__autograder_original__ is fake_vmap  # type: ignore[attr-defined]
    assert vmap.__name__ == "fake_vmap"
    assert vmap.__wrapped__ is fake_vmap  # type: ignore[attr-defined]


# -- install() on the real lifts -------------------------------------------------------------


INSTALL_SCRIPT = textwrap.dedent("""
    import json

    import flax.linen
    import flax.nnx
    import jax

    from autograder.worker import trace

    def lifts():
        return {
            "flax.nnx.vmap": flax.nnx.vmap,
            "flax.nnx.scan": flax.nnx.scan,
            "flax.nnx.split_rngs": flax.nnx.split_rngs,
            "flax.linen.vmap": flax.linen.vmap,
            "flax.linen.scan": flax.linen.scan,
            "jax.vmap": jax.vmap,
            "flax.nnx.transforms.iteration.vmap": flax.nnx.transforms.iteration.vmap,
            "flax.linen.transforms.vmap": flax.linen.transforms.vmap,
        }

    before = lifts()
    trace.install()
    first = {name: f.__autograder_original__ for name, f in lifts().items()}
    trace.install()
    report = {}
    for name, f in lifts().items():
        original = getattr(f, "__autograder_original__", None)
        report[name] = {
            "wrapped": original is not None,
            "original_is_the_real_one": original is before[name],
            "same_original_after_second_install": original is first[name],
            "double_wrapped": hasattr(original, "__autograder_original__"),
        }
    print(json.dumps(report))
""")


def test_install_wraps_the_real_lifts_once() -> None:
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    done = subprocess.run([sys.executable, "-c", INSTALL_SCRIPT], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(report) == {
        "flax.nnx.vmap", "flax.nnx.scan", "flax.nnx.split_rngs", "flax.linen.vmap",
        "flax.linen.scan", "jax.vmap", "flax.nnx.transforms.iteration.vmap",
        "flax.linen.transforms.vmap"}
    for name, facts in report.items():
        assert facts == {"wrapped": True, "original_is_the_real_one": True,
                         "same_original_after_second_install": True,
                         "double_wrapped": False}, name
