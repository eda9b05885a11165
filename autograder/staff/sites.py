"""The places a mutant changes: a reference's syntax tree, walked once, with each node's
parent and scope, the names its imports give the lifts, and the edits operators make there.

An :class:`Edit` is a change described on the reference's tree and applied to a copy of it:
the copy's nodes, in :func:`ast.walk` order, are the reference's one for one.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass

#: The lifted transforms whose arguments and places are mutated, by canonical name.
LIFTS = frozenset({"nnx.vmap", "nn.vmap", "jax.vmap", "nnx.scan", "nn.scan"})
SPLIT_RNGS = "nnx.split_rngs"
#: Module paths as the canonical names spell them.
_PREFIXES = (("flax.nnx", "nnx"), ("flax.linen", "nn"), ("jax", "jax"))


#: A change in a copy of the tree: given the copy's nodes (in ``ast.walk`` order), edit it.
Apply = Callable[[list[ast.AST]], None]


@dataclass(frozen=True)
class Edit:
    """One mutant, described on the reference's tree: its id, the code before and after,
    where, which operator, and how to make it in a copy."""

    id: str
    change: str
    line: int
    operator: str
    apply: Apply


def text(node: ast.AST) -> str:
    return ast.unparse(node)


def aliases_of(tree: ast.Module) -> dict[str, str]:
    """Local name -> the module path or object it was imported as."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    names[alias.name.split(".")[0]] = alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def qualname(node: ast.AST, aliases: dict[str, str]) -> str | None:
    """``nnx.vmap`` for ``nnx.vmap``, ``flax.nnx.vmap`` or an imported ``vmap``."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    path = ".".join([aliases.get(node.id, node.id), *reversed(parts)])
    for prefix, short in _PREFIXES:
        if path == prefix or path.startswith(prefix + "."):
            return short + path[len(prefix):]
    return path


def is_constant(node: ast.AST, value: object) -> bool:
    return (isinstance(node, ast.Constant) and type(node.value) is type(value)
            and node.value == value)


def constant(value: int | bool | None) -> ast.Constant:
    return ast.Constant(value)


class Sites:
    """The reference's tree, its nodes in walk order, their parents and their scopes."""

    def __init__(self, tree: ast.Module) -> None:
        self.tree = tree
        self.nodes = list(ast.walk(tree))
        self.index = {id(node): i for i, node in enumerate(self.nodes)}
        self.parent: dict[int, ast.AST] = {}
        for node in self.nodes:
            for child in ast.iter_child_nodes(node):
                self.parent[id(child)] = node
        self.aliases = aliases_of(tree)
        decorators = [d for n in self.nodes if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
                      for d in n.decorator_list]
        self.decorators = {id(d) for d in decorators}

    def at(self, node: ast.AST) -> int:
        return self.index[id(node)]

    def name(self, node: ast.AST) -> str | None:
        return qualname(node, self.aliases)

    def scope(self, node: ast.AST) -> str:
        """Where ``node`` is, for an id: the variable it is assigned to, else the function."""
        current: ast.AST | None = node
        while current is not None:
            up = self.parent.get(id(current))
            if isinstance(up, ast.Assign) and len(up.targets) == 1 \
                    and isinstance(up.targets[0], ast.Name):
                return up.targets[0].id
            if isinstance(up, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                return up.name
            current = up
        return "module"

    def lift_calls(self) -> Iterator[tuple[ast.Call, str]]:
        """Every call of a lift (or of ``nnx.split_rngs``) with its arguments, decorators
        included, as (call, canonical name)."""
        for node in self.nodes:
            if isinstance(node, ast.Call):
                name = self.name(node.func)
                if name in LIFTS or name == SPLIT_RNGS:
                    yield node, name


def keyword(call: ast.Call, name: str) -> ast.keyword | None:
    return next((k for k in call.keywords if k.arg == name), None)


def set_keyword(call: ast.Call, name: str, value: ast.expr) -> None:
    existing = keyword(call, name)
    if existing is not None:
        existing.value = value
    else:
        call.keywords.append(ast.keyword(name, value))


def place(sites: Sites, call: ast.Call) -> str:
    """The function a decorator lifts, else the call's scope."""
    if id(call) in sites.decorators:
        owner = sites.parent[id(call)]
        assert isinstance(owner, ast.FunctionDef | ast.AsyncFunctionDef)
        return owner.name
    return sites.scope(call)


def parent_of(nodes: list[ast.AST], child: ast.AST) -> ast.AST:
    """The node of ``nodes`` whose child ``child`` is."""
    for node in nodes:
        for value in ast.iter_child_nodes(node):
            if value is child:
                return node
    raise ValueError(f"{text(child)} has no parent")


def replace_node(nodes: list[ast.AST], old: ast.AST, new: ast.AST) -> None:
    parent = parent_of(nodes, old)
    for field, value in ast.iter_fields(parent):
        if value is old:
            setattr(parent, field, new)
        elif isinstance(value, list):
            value[:] = [new if v is old else v for v in value]

