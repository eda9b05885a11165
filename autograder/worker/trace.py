"""Lift tracing, inside the worker: which lifted transforms the student's code applies.

``install()`` replaces the public lift functions (``nnx.vmap``, ``nnx.scan``,
``nnx.split_rngs``, ``nn.vmap``, ``nn.scan``, ``jax.vmap``) with thin recorders, before any
student module is imported, so every import style (``from flax.linen import vmap``,
``import flax.nnx as nnx``, decorators or calls) reaches them. A recorder notes the call
only when it comes from the student's own files (Flax's internal uses of ``jax.vmap`` are
not the student's choices), with its arguments as plain data (defaults filled in), where it
was written, and which earlier lift it wraps, then calls the original unchanged.

An event is plain JSON: ``{"lift": "nn.vmap", "args": {"in_axes": 0, ...},
"wraps": "nn.scan", "target": "Block", "where": "solution.py:12"}``; a lift that returns a
function also counts how often that function was called (``"calls": 3``).
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any

#: (lift name, module attribute paths, the target parameter, the arguments worth recording)
_LIFTS: tuple[tuple[str, tuple[str, ...], str, tuple[str, ...]], ...] = (
    ("nnx.vmap", ("flax.nnx.vmap", "flax.nnx.transforms.iteration.vmap"), "f",
     ("in_axes", "out_axes", "axis_size")),
    ("nnx.scan", ("flax.nnx.scan", "flax.nnx.transforms.iteration.scan"), "f",
     ("in_axes", "out_axes", "length", "reverse")),
    ("nnx.split_rngs", ("flax.nnx.split_rngs", "flax.nnx.rnglib.split_rngs"), "node",
     ("splits", "only", "squeeze")),
    ("nn.vmap", ("flax.linen.vmap", "flax.linen.transforms.vmap"), "target",
     ("variable_axes", "split_rngs", "in_axes", "out_axes", "axis_size")),
    ("nn.scan", ("flax.linen.scan", "flax.linen.transforms.scan"), "target",
     ("variable_axes", "variable_broadcast", "variable_carry", "split_rngs", "in_axes",
      "out_axes", "length", "reverse")),
    ("jax.vmap", ("jax.vmap",), "fun", ("in_axes", "out_axes", "axis_size")),
)


def plain(value: Any, depth: int = 0) -> Any:
    """A JSON-able picture of an argument: tuples become lists, classes their names."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if depth > 4:
        return "..."
    if isinstance(value, tuple | list):
        return [plain(v, depth + 1) for v in value]
    if isinstance(value, Mapping):
        return {str(k): plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, type):
        return f"<class {value.__qualname__}>"
    if inspect.isfunction(value) or inspect.ismethod(value) or inspect.isbuiltin(value):
        return f"<function {value.__qualname__}>"
    if value is Ellipsis:
        return "..."
    return f"<{type(value).__name__}>"


class Tracer:
    """Records lift events coming from files under ``roots``."""

    def __init__(self) -> None:
        self.roots: list[str] = []
        self.events: list[dict[str, Any]] = []
        self._products: dict[int, tuple[Any, str]] = {}  # id(lifted object) -> (it, lift)

    def add_root(self, root: str) -> None:
        prefix = os.path.join(os.path.abspath(root), "")
        if prefix not in self.roots:
            self.roots.append(prefix)

    def _student_site(self, depth: int) -> str | None:
        """``file:line`` of the caller ``depth`` frames up, if it is the student's code."""
        try:
            frame = sys._getframe(depth + 1)
        except ValueError:
            return None
        filename = frame.f_code.co_filename
        for root in self.roots:
            if filename.startswith(root):
                return f"{filename[len(root):]}:{frame.f_lineno}"
        return None

    def record(self, lift: str, args: dict[str, Any], target: Any, where: str) -> None:
        wrapped = self._products.get(id(target))
        self.events.append({
            "lift": lift,
            "args": args,
            "target": None if target is None else plain(target),
            "wraps": wrapped[1] if wrapped is not None and wrapped[0] is target else None,
            "where": where,
        })

    def remember(self, product: Any, lift: str) -> Any:
        """Note what a lift returned; a lifted *function* is wrapped to count its calls, so
        a lift that is written but never used (dead code) does not count as applied."""
        if product is None:
            return None
        if callable(product) and not isinstance(product, type):
            event = self.events[-1]
            event["calls"] = 0
            inner = product

            @functools.wraps(inner)
            def counted(*args: Any, **kwargs: Any) -> Any:
                event["calls"] += 1
                return inner(*args, **kwargs)

            product = counted
        self._products[id(product)] = (product, lift)
        return product

    def wrap(self, lift: str, original: Callable[..., Any], target_param: str,
             recorded: tuple[str, ...]) -> Callable[..., Any]:
        signature = inspect.signature(original)
        absent = signature.parameters[target_param].default
        tracer = self

        def apply(where: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError:
                return original(*args, **kwargs)  # let the original raise its own error
            bound.apply_defaults()
            info = {name: plain(bound.arguments.get(name)) for name in recorded}
            target = bound.arguments.get(target_param, absent)
            if target is absent:
                # Decorator-factory use, ``@nnx.vmap(in_axes=...)``: the original's own
                # decorator does the work; the event is recorded when it is applied.
                real_decorator = original(*args, **kwargs)

                def decorator(fn: Any) -> Any:
                    tracer.record(lift, info, fn, where)
                    return tracer.remember(real_decorator(fn), lift)

                return decorator
            tracer.record(lift, info, target, where)
            return tracer.remember(original(*args, **kwargs), lift)

        @functools.wraps(original)
        def recorder(*args: Any, **kwargs: Any) -> Any:
            where = tracer._student_site(1)
            if where is None:
                return original(*args, **kwargs)
            return apply(where, args, kwargs)

        recorder.__autograder_original__ = original  # type: ignore[attr-defined]
        return recorder


TRACER = Tracer()


def install() -> None:
    """Put recorders in place of the lift functions (idempotent)."""
    for lift, paths, target_param, recorded in _LIFTS:
        original = None
        for path in paths:
            module_name, attr = path.rsplit(".", 1)
            module = sys.modules.get(module_name)
            current = getattr(module, attr, None) if module is not None else None
            if current is None:
                continue
            current = getattr(current, "__autograder_original__", current)
            if original is None:
                original = current
            if current is original:
                setattr(module, attr, TRACER.wrap(lift, original, target_param, recorded))
