"""The mutation operators: where each applies in a reference, and the edits it makes there.

Each operator is a function of the reference's :class:`~autograder.staff.sites.Sites` that
yields one :class:`~autograder.staff.sites.Edit` per mutant, named by a stable id (where,
then what); :mod:`autograder.staff.mutate` lists what they change.
"""

from __future__ import annotations

import ast
import copy
import itertools
from collections.abc import Callable, Iterator

from autograder.staff.sites import (
    LIFTS,
    SPLIT_RNGS,
    Edit,
    Sites,
    constant,
    is_constant,
    keyword,
    place,
    qualname,
    replace_node,
    set_keyword,
    text,
)

_VMAPS = frozenset({"nnx.vmap", "nn.vmap", "jax.vmap"})
_SEEDED = frozenset({"nnx.Rngs", "jax.random.key", "jax.random.PRNGKey"})
_FLATTEN = {"reshape": "reshape(-1)", "ravel": "ravel()", "flatten": "flatten()"}


def _atom_alternatives(node: ast.expr) -> list[ast.expr]:
    """Other values of one axis: 0 <-> 1, 0 <-> None."""
    if is_constant(node, 0):
        return [constant(1), constant(None)]
    if is_constant(node, 1):
        return [constant(0), constant(None)]
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return [constant(0)]
    if is_constant(node, None):
        return [constant(0)]
    return []


def _axes_alternatives(node: ast.expr, aliases: dict[str, str]) -> list[ast.expr]:
    """Every other value of an ``in_axes``/``out_axes`` argument (distinct, in order)."""
    found: list[ast.expr] = []
    if isinstance(node, ast.Tuple | ast.List):
        items = node.elts
        if len(items) <= 3:
            for order in itertools.permutations(range(len(items))):
                if list(order) != sorted(order):
                    found.append(ast.Tuple([copy.deepcopy(items[i]) for i in order], ast.Load()))
        for i, item in enumerate(items):
            for other in _atom_alternatives(item):
                elts = [copy.deepcopy(e) for e in items]
                elts[i] = other
                found.append(ast.Tuple(elts, ast.Load()))
    elif qualname(node, aliases) == "nnx.Carry":
        found.append(ast.Tuple([copy.deepcopy(node), constant(0)], ast.Load()))
    else:
        found += _atom_alternatives(node)
    seen = {text(node)}
    distinct = []
    for candidate in found:
        if text(candidate) not in seen:
            seen.add(text(candidate))
            distinct.append(candidate)
    return distinct


def _axes_edits(sites: Sites) -> Iterator[Edit]:
    for call, lift in sites.lift_calls():
        if lift == SPLIT_RNGS:
            continue
        where = place(sites, call)
        for arg in ("in_axes", "out_axes"):
            written = keyword(call, arg)
            if written is None and not (arg == "out_axes" and lift in _VMAPS):
                continue
            old: ast.expr = written.value if written is not None else constant(0)
            shown = text(old) + ("" if written is not None else " (default)")
            before = f"{arg}={text(old)}" if written is not None else f"no {arg} (0)"
            for new in _axes_alternatives(old, sites.aliases):
                at = sites.at(call)

                def apply(nodes: list[ast.AST], at: int = at, arg: str = arg,
                          new: ast.expr = new) -> None:
                    target = nodes[at]
                    assert isinstance(target, ast.Call)
                    set_keyword(target, arg, copy.deepcopy(new))

                yield Edit(f"{where}: {lift} {arg} {shown} -> {text(new)}",
                            f"{before} -> {arg}={text(new)}", call.lineno, arg, apply)


def _collection_edits(sites: Sites) -> Iterator[Edit]:
    """Linen's ``variable_axes`` and ``split_rngs``, one collection at a time."""
    flips: dict[str, Callable[[ast.expr], ast.expr | None]] = {
        "variable_axes": lambda v: constant(None) if isinstance(v, ast.Constant)
        and type(v.value) is int else (constant(0) if is_constant(v, None) else None),
        "split_rngs": lambda v: constant(not v.value) if isinstance(v, ast.Constant)
        and isinstance(v.value, bool) else None,
    }
    for call, lift in sites.lift_calls():
        if not lift.startswith("nn."):
            continue
        for arg, flip in flips.items():
            written = keyword(call, arg)
            if written is None or not isinstance(written.value, ast.Dict):
                continue
            for position, (key, value) in enumerate(zip(written.value.keys, written.value.values,
                                                        strict=True)):
                new = flip(value)
                if key is None or new is None:
                    continue
                label = (key.value if isinstance(key, ast.Constant) and isinstance(key.value, str)
                         else text(key))
                at = sites.at(written.value)

                def apply(nodes: list[ast.AST], at: int = at, position: int = position,
                          new: ast.expr = new) -> None:
                    target = nodes[at]
                    assert isinstance(target, ast.Dict)
                    target.values[position] = copy.deepcopy(new)

                yield Edit(f"{sites.scope(call)}: {lift} {arg} {label} {text(value)} -> "
                            f"{text(new)}", f"{arg}={{{text(key)}: {text(value)}}} -> "
                            f"{arg}={{{text(key)}: {text(new)}}}", call.lineno, arg, apply)


def _splits_edits(sites: Sites) -> Iterator[Edit]:
    for call, lift in sites.lift_calls():
        written = keyword(call, "splits")
        if lift != SPLIT_RNGS or written is None:
            continue
        new = constant(2) if is_constant(written.value, 1) else constant(1)
        at = sites.at(call)

        def apply(nodes: list[ast.AST], at: int = at, new: ast.expr = new) -> None:
            target = nodes[at]
            assert isinstance(target, ast.Call)
            set_keyword(target, "splits", copy.deepcopy(new))

        yield Edit(f"{place(sites, call)}: {lift} splits {text(written.value)} -> "
                    f"{text(new)}", f"splits={text(written.value)} -> splits={text(new)}",
                    call.lineno, "splits", apply)


def _decorator_edits(sites: Sites) -> Iterator[Edit]:
    """Each lift decorator removed; each two stacked lift decorators swapped."""
    for function in sites.nodes:
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        lifts = [(i, sites.name(d.func if isinstance(d, ast.Call) else d))
                 for i, d in enumerate(function.decorator_list)]
        lifts = [(i, n) for i, n in lifts if n in LIFTS or n == SPLIT_RNGS]
        at = sites.at(function)
        for i, name in lifts:

            def drop(nodes: list[ast.AST], at: int = at, i: int = i) -> None:
                target = nodes[at]
                assert isinstance(target, ast.FunctionDef | ast.AsyncFunctionDef)
                del target.decorator_list[i]

            yield Edit(f"{function.name}: {name} removed",
                        f"@{text(function.decorator_list[i])} removed from def "
                        f"{function.name}", function.decorator_list[i].lineno,
                        "lift-removed", drop)
        for (i, first), (j, second) in itertools.pairwise(lifts):
            if j != i + 1:
                continue

            def swap(nodes: list[ast.AST], at: int = at, i: int = i) -> None:
                target = nodes[at]
                assert isinstance(target, ast.FunctionDef | ast.AsyncFunctionDef)
                found = target.decorator_list
                found[i], found[i + 1] = found[i + 1], found[i]

            yield Edit(f"{function.name}: {first} and {second} swapped",
                        f"@{text(function.decorator_list[i])} @"
                        f"{text(function.decorator_list[j])} -> @"
                        f"{text(function.decorator_list[j])} @"
                        f"{text(function.decorator_list[i])}",
                        function.decorator_list[i].lineno, "lifts-swapped", swap)


def _inner_lift(sites: Sites, call: ast.Call) -> ast.Call | None:
    """The lift call ``call`` lifts, written inline or assigned once to the variable it
    lifts (``scan_layer = nn.scan(Block, ...)``; ``nn.vmap(scan_layer, ...)``)."""
    if not call.args:
        return None
    target = call.args[0]
    if isinstance(target, ast.Name):
        assigned = [n.value for n in sites.nodes if isinstance(n, ast.Assign)
                    and any(isinstance(t, ast.Name) and t.id == target.id for t in n.targets)]
        target = assigned[0] if len(assigned) == 1 else target
    if isinstance(target, ast.Call) and sites.name(target.func) in LIFTS:
        return target
    return None


def _call_edits(sites: Sites) -> Iterator[Edit]:
    """Lifts called as functions: each removed (the call becomes what it lifts), and two
    nested ones swapped (each keeps its own arguments)."""
    for call, lift in sites.lift_calls():
        if id(call) in sites.decorators or lift == SPLIT_RNGS:
            continue
        parent = sites.parent.get(id(call))
        if call.args:
            replaced, by = call, call.args[0]
        elif isinstance(parent, ast.Call) and parent.func is call and parent.args:
            replaced, by = parent, parent.args[0]  # nnx.vmap(in_axes=...)(f)
        else:
            continue
        at, by_at = sites.at(replaced), sites.at(by)

        def drop(nodes: list[ast.AST], at: int = at, by_at: int = by_at) -> None:
            replace_node(nodes, nodes[at], nodes[by_at])

        yield Edit(f"{sites.scope(call)}: {lift} removed",
                    f"{text(replaced)} -> {text(by)}", call.lineno, "lift-removed", drop)
        inner = _inner_lift(sites, call)
        if inner is None:
            continue
        outer_at, inner_at = sites.at(call), sites.at(inner)

        def swap(nodes: list[ast.AST], outer_at: int = outer_at, inner_at: int = inner_at) -> None:
            outer, inside = nodes[outer_at], nodes[inner_at]
            assert isinstance(outer, ast.Call) and isinstance(inside, ast.Call)
            outer.func, inside.func = inside.func, outer.func
            outer.keywords, inside.keywords = inside.keywords, outer.keywords

        inner_name = sites.name(inner.func)
        yield Edit(f"{sites.scope(call)}: {lift} and {inner_name} swapped",
                    f"{lift}({inner_name}(...)) -> {inner_name}({lift}(...))", call.lineno,
                    "lifts-swapped", swap)


def _cast_edits(sites: Sites) -> Iterator[Edit]:
    for node in sites.nodes:
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id == "int" and len(node.args) == 1 and not node.keywords):
            at, arg_at = sites.at(node), sites.at(node.args[0])

            def drop(nodes: list[ast.AST], at: int = at, arg_at: int = arg_at) -> None:
                replace_node(nodes, nodes[at], nodes[arg_at])

            yield Edit(f"{text(node)} dropped", f"{text(node)} -> {text(node.args[0])}",
                        node.lineno, "int-cast", drop)


def _flatten_edits(sites: Sites) -> Iterator[Edit]:
    for node in sites.nodes:
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        method = node.func.attr
        if method not in _FLATTEN:
            continue
        if method == "reshape" and not (len(node.args) == 1 and (
                is_constant(node.args[0], -1) or (isinstance(node.args[0], ast.UnaryOp)
                                          and text(node.args[0]) == "-1"))):
            continue
        if method != "reshape" and (node.args or node.keywords):
            continue
        receiver = node.func.value
        at = sites.at(receiver)

        def transpose(nodes: list[ast.AST], at: int = at) -> None:
            old = nodes[at]
            assert isinstance(old, ast.expr)
            replace_node(nodes, old, ast.Attribute(copy.deepcopy(old), "T", ast.Load()))

        after = f"{text(receiver)}.T.{_FLATTEN[method]}"
        yield Edit(f"flattening: {text(node)} -> {after}", f"{text(node)} -> {after}",
                    node.lineno, "flattening", transpose)


def _seed_edits(sites: Sites) -> Iterator[Edit]:
    for node in sites.nodes:
        if not (isinstance(node, ast.Call) and sites.name(node.func) in _SEEDED):
            continue
        seeds = node.args[:1] + [k.value for k in node.keywords]
        if not seeds or all(isinstance(s, ast.Constant) for s in seeds):
            continue
        at = sites.at(node)

        def fix(nodes: list[ast.AST], at: int = at) -> None:
            target = nodes[at]
            assert isinstance(target, ast.Call)
            target.args[:1] = [constant(0)] * len(target.args[:1])
            for k in target.keywords:
                k.value = constant(0)

        fixed = copy.deepcopy(node)
        fixed.args[:1] = [constant(0)] * len(fixed.args[:1])
        for k in fixed.keywords:
            k.value = constant(0)
        yield Edit(f"fixed seed: {text(node)} -> {text(fixed)}",
                    f"{text(node)} -> {text(fixed)}", node.lineno, "fixed-seed", fix)


OPERATORS = (_axes_edits, _collection_edits, _splits_edits, _decorator_edits, _call_edits,
              _cast_edits, _flatten_edits, _seed_edits)

