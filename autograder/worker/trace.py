"""Lift tracing, inside the worker: which lifted transforms the student's code applies.

``install()`` replaces the public lift functions (``nnx.vmap``, ``nnx.scan``,
``nnx.split_rngs``, ``nn.vmap``, ``nn.scan``, ``jax.vmap``, and the pieces of a lift written
by hand: ``nnx.split``, ``nnx.merge``, ``Rngs.fork``) with thin recorders, before any student
module is imported, so every import style (``from flax.linen import vmap``, ``import
flax.nnx as nnx``, decorators or calls) reaches them. A recorder notes the call only when it
comes from the student's own files (Flax's internal uses of ``jax.vmap`` are not the
student's choices), with its arguments as plain data (defaults filled in), where it was
written, and which earlier lift it wraps, then calls the original unchanged.

An event is plain JSON: ``{"lift": "nn.vmap", "args": {"in_axes": 0, ...},
"wraps": "nn.scan", "target": "Block", "where": "solution.py:12", "scope": "<module>"}``;
a lift that returns a function also counts how often that function was called (``"calls"``)
and, from its first call, what its axis arguments mean for the arguments it got
(``"arity"``: how many arguments it got; ``"resolved"``: a ``StateAxes`` whose filters put
all of an argument's state on one axis is that axis). Every call of a lifted function is
logged (``invocations``), so the worker can attribute a lift defined at import time to the
call that used it, not to the import.

The tracer also records the variables of the models the code builds (:func:`variables`):
NNX modules and states going into or out of a lifted function, and what Linen's
``Module.init`` returns, as ``path -> shape`` lists the trusted side compares with the
reference's.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any

#: (lift name, attribute paths, the target parameter or None, the arguments worth recording,
#: whether the lift returns a function whose calls are counted)
_LIFTS: tuple[tuple[str, tuple[str, ...], str | None, tuple[str, ...], bool], ...] = (
    ("nnx.vmap", ("flax.nnx.vmap", "flax.nnx.transforms.iteration.vmap"), "f",
     ("in_axes", "out_axes", "axis_size"), True),
    ("nnx.scan", ("flax.nnx.scan", "flax.nnx.transforms.iteration.scan"), "f",
     ("in_axes", "out_axes", "length", "reverse"), True),
    ("nnx.split_rngs", ("flax.nnx.split_rngs", "flax.nnx.rnglib.split_rngs"), "node",
     ("splits", "only", "squeeze"), True),
    ("nn.vmap", ("flax.linen.vmap", "flax.linen.transforms.vmap"), "target",
     ("variable_axes", "split_rngs", "in_axes", "out_axes", "axis_size"), True),
    ("nn.scan", ("flax.linen.scan", "flax.linen.transforms.scan"), "target",
     ("variable_axes", "variable_broadcast", "variable_carry", "split_rngs", "in_axes",
      "out_axes", "length", "reverse"), True),
    ("jax.vmap", ("jax.vmap",), "fun", ("in_axes", "out_axes", "axis_size"), True),
    ("nnx.split", ("flax.nnx.split", "flax.nnx.graphlib.split"), None, (), False),
    ("nnx.merge", ("flax.nnx.merge", "flax.nnx.graphlib.merge"), None, (), False),
    ("Rngs.fork", ("flax.nnx.Rngs.fork", "flax.nnx.rnglib.Rngs.fork"), None, ("split",), False),
)

#: Most variables lists kept per worker (a loop building models must not fill the reply).
MAX_VARIABLES = 16
#: Most leaves described per model.
MAX_LEAVES = 200


def plain(value: Any, depth: int = 0) -> Any:
    """A JSON-able picture of an argument: tuples become lists, classes their names, a
    ``StateAxes`` the way it is written (``<StateAxes({RngState: 0, ...: None})>``)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if depth > 4:
        return "..."
    if _is_state_axes(value):
        entries = ", ".join(f"{_filter_text(f)}: {_axis_text(a)}"
                            for f, a in zip(value.filters, value.axes, strict=True))
        return f"<StateAxes({{{entries}}})>"
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


def _is_state_axes(value: Any) -> bool:
    return type(value).__name__ == "StateAxes" and hasattr(value, "filters") and hasattr(
        value, "axes")


def _filter_text(value: Any) -> str:
    if value is Ellipsis:
        return "..."
    if isinstance(value, type):
        return value.__qualname__
    return repr(value)


def _axis_text(value: Any) -> str:
    return value.__qualname__ if isinstance(value, type) else repr(value)


def resolve_axes(in_axes: Any, args: tuple[Any, ...]) -> Any:
    """``in_axes`` with each ``StateAxes`` replaced by the one axis its filters give the
    state of the argument it maps, when there is one (``StateAxes({RngState: 0, ...: None})``
    on a model without RNG state maps nothing: ``None``); plain data, as :func:`plain`."""
    if not isinstance(in_axes, tuple | list):
        return plain(in_axes)
    resolved = []
    for index, axes in enumerate(in_axes):
        if _is_state_axes(axes) and index < len(args):
            axes = _state_axis(axes, args[index])
        resolved.append(plain(axes))
    return resolved


def _state_axis(axes: Any, node: Any) -> Any:
    unique = set(map(_axis_text, axes.axes))
    if len(unique) == 1:
        return axes.axes[0]
    try:
        import jax
        from flax import nnx

        _, *states = nnx.split(node, *axes.filters)
        used = [a for a, s in zip(axes.axes, states, strict=True) if jax.tree.leaves(s)]
    except Exception:  # filters Flax itself would reject: keep what was written
        return axes
    return used[0] if len({_axis_text(a) for a in used}) == 1 else axes


# -- the variables of built models ---------------------------------------------------------


def variables(value: Any, where: str, linen: bool = False) -> dict[str, Any] | None:
    """``{"kind", "where", "leaves": [[path, shape], ...]}`` of an NNX module or state, or
    (``linen``) of a Linen variables dict; None for anything else."""
    try:
        nnx = sys.modules.get("flax.nnx")
        if nnx is not None and isinstance(value, nnx.Module | nnx.State):
            return _nnx_variables(value, where)
        if linen and isinstance(value, Mapping) and value and all(
                isinstance(k, str) for k in value):
            return _linen_variables(value, where)
    except Exception:  # a value that cannot be described is no evidence
        return None
    return None


def _nnx_variables(value: Any, where: str) -> dict[str, Any] | None:
    from flax import nnx

    if isinstance(value, nnx.Module):
        state = nnx.state(value, nnx.Param)
    elif isinstance(value, nnx.State):
        state = value
    else:
        return None
    leaves = []
    for path, leaf in state.flat_state():
        array = leaf.get_value() if hasattr(leaf, "get_value") else leaf
        shape = getattr(array, "shape", None)
        if shape is not None:
            leaves.append(["/".join(map(str, path)), [int(d) for d in shape]])
    return _described("nnx", where, leaves)


def _linen_variables(value: Mapping[str, Any], where: str) -> dict[str, Any] | None:
    import jax

    flat = jax.tree_util.tree_flatten_with_path(dict(value))[0]
    leaves = []
    for path, leaf in flat:
        shape = getattr(leaf, "shape", None)
        if shape is None:
            return None
        keys = [str(getattr(k, "key", getattr(k, "name", getattr(k, "idx", k)))) for k in path]
        leaves.append(["/".join(keys), [int(d) for d in shape]])
    return _described("linen", where, leaves)


def _described(kind: str, where: str, leaves: list[list[Any]]) -> dict[str, Any] | None:
    if not leaves:
        return None
    return {"kind": kind, "where": where, "leaves": sorted(leaves)[:MAX_LEAVES]}


class Tracer:
    """Records lift events coming from files under ``roots``."""

    def __init__(self) -> None:
        self.roots: list[str] = []
        self.events: list[dict[str, Any]] = []
        #: The index of the event of every call of a lifted function, in call order.
        self.invocations: list[int] = []
        #: The variables of the models built, in the order they were seen.
        self.models: list[dict[str, Any]] = []
        self._products: dict[int, tuple[Any, str]] = {}  # id(lifted object) -> (it, lift)

    def add_root(self, root: str) -> None:
        prefix = os.path.join(os.path.abspath(root), "")
        if prefix not in self.roots:
            self.roots.append(prefix)

    def _student_site(self, depth: int) -> tuple[str, str] | None:
        """``(file:line, function name)`` of the caller ``depth`` frames up, if it is the
        student's code."""
        try:
            frame = sys._getframe(depth + 1)
        except ValueError:
            return None
        filename = frame.f_code.co_filename
        for root in self.roots:
            if filename.startswith(root):
                return f"{filename[len(root):]}:{frame.f_lineno}", frame.f_code.co_name
        return None

    def record(self, lift: str, args: dict[str, Any], target: Any,
               site: tuple[str, str]) -> dict[str, Any]:
        wrapped = self._products.get(id(target))
        event = {
            "lift": lift,
            "args": args,
            "target": None if target is None else plain(target),
            "wraps": wrapped[1] if wrapped is not None and wrapped[0] is target else None,
            "where": site[0],
            "scope": site[1],
            "id": len(self.events),
        }
        self.events.append(event)
        return event

    def note_model(self, value: Any, where: str, linen: bool = False) -> None:
        if len(self.models) >= MAX_VARIABLES or value is None or isinstance(
                value, int | float | str):
            return
        described = variables(value, where, linen)
        if described is None:
            return
        if all(m["leaves"] != described["leaves"] for m in self.models):
            self.models.append(described)

    def remember(self, product: Any, lift: str, event: dict[str, Any]) -> Any:
        """Note what a lift returned; a lifted *function* is wrapped to count its calls, so
        a lift that is written but never used (dead code) does not count as applied."""
        if product is None:
            return None
        if callable(product) and not isinstance(product, type):
            event["calls"] = 0
            inner = product
            tracer = self

            @functools.wraps(inner)
            def counted(*args: Any, **kwargs: Any) -> Any:
                event["calls"] += 1
                tracer.invocations.append(event["id"])
                if event["calls"] == 1 and "in_axes" in event["args"]:
                    if not lift.startswith("nn."):  # Linen's in_axes skip the module
                        event["arity"] = len(args)
                    original = event.pop("_in_axes", None)
                    if original is not None:
                        event["resolved"] = {"in_axes": resolve_axes(original, args)}
                for arg in args:
                    tracer.note_model(arg, event["where"])
                result = inner(*args, **kwargs)
                for value in result if isinstance(result, tuple) else (result,):
                    tracer.note_model(value, event["where"])
                return result

            product = counted
        self._products[id(product)] = (product, lift)
        return product

    def wrap(self, lift: str, original: Callable[..., Any], target_param: str | None,
             recorded: tuple[str, ...], counts: bool = True) -> Callable[..., Any]:
        signature = inspect.signature(original)
        absent = (signature.parameters[target_param].default if target_param is not None
                  else None)
        tracer = self

        def applied(event: dict[str, Any], bound: inspect.BoundArguments) -> None:
            in_axes = bound.arguments.get("in_axes")
            if isinstance(in_axes, tuple | list) and any(map(_is_state_axes, in_axes)):
                event["_in_axes"] = in_axes  # resolved against the first call's arguments

        def apply(site: tuple[str, str], args: tuple[Any, ...],
                  kwargs: dict[str, Any]) -> Any:
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError:
                return original(*args, **kwargs)  # let the original raise its own error
            bound.apply_defaults()
            info = {name: plain(bound.arguments.get(name)) for name in recorded}
            if target_param is None:
                tracer.record(lift, info, None, site)
                result = original(*args, **kwargs)
                if lift == "nnx.merge":
                    tracer.note_model(result, site[0])
                return result
            target = bound.arguments.get(target_param, absent)
            if target is absent:
                # Decorator-factory use, ``@nnx.vmap(in_axes=...)``: the original's own
                # decorator does the work; the event is recorded when it is applied.
                real_decorator = original(*args, **kwargs)

                def decorator(fn: Any) -> Any:
                    event = tracer.record(lift, info, fn, site)
                    applied(event, bound)
                    return tracer.remember(real_decorator(fn), lift, event)

                return decorator
            event = tracer.record(lift, info, target, site)
            applied(event, bound)
            product = original(*args, **kwargs)
            return tracer.remember(product, lift, event) if counts else product

        @functools.wraps(original)
        def recorder(*args: Any, **kwargs: Any) -> Any:
            site = tracer._student_site(1)
            if site is None:
                return original(*args, **kwargs)
            return apply(site, args, kwargs)

        recorder.__autograder_original__ = original  # type: ignore[attr-defined]
        return recorder

    def wrap_init(self, original: Callable[..., Any]) -> Callable[..., Any]:
        """Linen's ``Module.init``: the variables it returns are the model's."""
        tracer = self

        @functools.wraps(original)
        def init(*args: Any, **kwargs: Any) -> Any:
            site = tracer._student_site(1)
            result = original(*args, **kwargs)
            if site is not None:
                tracer.note_model(result, site[0], linen=True)
            return result

        init.__autograder_original__ = original  # type: ignore[attr-defined]
        return init


TRACER = Tracer()


def _attribute(path: str) -> tuple[Any, str] | None:
    """The object holding the last attribute of ``path`` (a module, or a class in one)."""
    parts = path.split(".")
    for split in range(len(parts) - 1, 0, -1):
        holder: Any = sys.modules.get(".".join(parts[:split]))
        if holder is None:
            continue
        for name in parts[split:-1]:
            holder = getattr(holder, name, None)
        return (holder, parts[-1]) if holder is not None else None
    return None


def install() -> None:
    """Put recorders in place of the lift functions (idempotent)."""
    for lift, paths, target_param, recorded, counts in _LIFTS:
        original = None
        for path in paths:
            found = _attribute(path)
            if found is None:
                continue
            holder, attr = found
            current = getattr(holder, attr, None)
            if current is None:
                continue
            current = getattr(current, "__autograder_original__", current)
            if original is None:
                original = current
            if current is original:
                setattr(holder, attr, TRACER.wrap(lift, original, target_param, recorded,
                                                  counts))
    linen = sys.modules.get("flax.linen")
    if linen is not None:
        init = linen.Module.init
        linen.Module.init = TRACER.wrap_init(getattr(init, "__autograder_original__", init))
