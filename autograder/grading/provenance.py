"""Which lifted transforms a graded function applies, read from its source on the trusted side.

The structure test's trace is recorded inside the student's process, which can forge it or
feed it a decoy. This module reads the submission's *source* with ``ast`` (never runs it)
and reports every lift call in the code reachable from the graded function, each with
whether its result flows to the value that function returns.

Names are resolved from each file's imports and Python's scoping rules, never from a bare
attribute name: ``nnx.vmap`` is a lift only when ``nnx`` is bound by an import of
``flax.nnx`` (and no submission file shadows ``flax``). A *site* is a call of a lift
(``nnx.vmap(f)``, ``nnx.vmap(in_axes=0)``, ``partial(nnx.vmap, ...)``), a bare decorator
(``@nnx.vmap``), or ``X.fork(...)`` where ``X`` is an ``nnx.Rngs(...)`` or a name assigned
one, or any ``X.fork(split=...)``.

*Reachable* code is the graded function's top-level statement plus, transitively, every
top-level statement (of this file, or of a submission file it imports from) that binds a
module-level name read by reachable code. Lifts elsewhere (another exercise's function, a
notebook's test cell) are not reported.

*Flow* is a conservative, flow-insensitive name-dependency graph; a site flows when the
graded function's module-level name reaches it:

- an assignment target (``=``, annotated, augmented, unpacking, ``for``, ``with ... as``,
  walrus, comprehension variable) depends on every name and site in its value;
- ``ys.append(e)``, ``ys[i] = e``, ``obj.attr = e``: any discarded method call or item or
  attribute store makes the base name depend on what it is given; a discarded call of an
  imported library function (``nnx.update(model, state)``) makes its first argument's base
  name depend on the other arguments;
- a ``def`` depends on its decorators and on its ``return``/``yield`` values, so a call of
  it carries them; a lambda carries its body; a class carries everything its body uses
  (method decorators, calls in methods, class attributes);
- a name imported from another submission file is that file's module-level name;
- statements after an unconditional ``return``/``raise``/``break``/``continue`` (or an
  ``if`` whose branches all end so) add no dependencies: their sites have flows=False.

Being an over-approximation, it can be fooled (see ``static_lifts``); being static, it
cannot be fooled by anything the student's process does at run time.
"""

from __future__ import annotations

import ast
import posixpath
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from autograder.files import parse_python

#: Qualified name -> the canonical name a StaticLift reports.
LIFTS: Mapping[str, str] = {
    "flax.nnx.vmap": "nnx.vmap",
    "flax.nnx.scan": "nnx.scan",
    "flax.nnx.split_rngs": "nnx.split_rngs",
    "flax.nnx.split": "nnx.split",
    "flax.nnx.merge": "nnx.merge",
    "flax.linen.vmap": "nn.vmap",
    "flax.linen.scan": "nn.scan",
    "jax.vmap": "jax.vmap",
}
_RNGS = "flax.nnx.Rngs"
_PARTIAL = "functools.partial"
_FORK = "Rngs.fork"
#: A submission with more syntax nodes (some 50,000 lines) is not analysed: the work is
#: linear in them, a few seconds at this bound.
MAX_NODES = 500_000

#: ("var", scope, name), ("ret", scope, ""), ("site", site, "") or ("unit", unit, "").
_Node = tuple[str, int, str]
_Scoped = ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef
_Function = ast.FunctionDef | ast.AsyncFunctionDef
_Comprehension = ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp


@dataclass(frozen=True)
class StaticLift:
    lift: str  # canonical name, one of LIFTS' values or "Rngs.fork"
    where: str  # "solution.py:12": the file as given, the 1-based line of the call/decorator
    flows: bool  # its result reaches the graded function's return value


@dataclass(frozen=True)
class _Scope:
    index: int
    file: str
    node: _Scoped
    parent: _Scope | None
    bound: set[str] = field(default_factory=set)
    globals: set[str] = field(default_factory=set)
    nonlocals: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class _Site:
    file: str
    line: int
    column: int
    lift: str
    unit: _Node


def notebook_source(cells: Sequence[str]) -> str:
    """Code cells joined into one module: IPython lines (``%``, ``!``, ``?``) and cells that
    do not parse are blanked, so line numbers are those of the joined text."""
    joined: list[str] = []
    for cell in cells:
        lines = ["" if line.lstrip()[:1] in ("%", "!", "?") else line
                 for line in cell.splitlines()]
        try:
            parse_python("\n".join(lines))
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            lines = [""] * len(lines)
        joined.extend(lines)
    return "\n".join(joined) + "\n"


def static_lifts(sources: Mapping[str, str], module: str, function: str
                 ) -> tuple[StaticLift, ...]:
    """Every lift in the code reachable from ``function`` (defined at top level of the file
    ``module``), in source order (``module`` first, then other files by path), each with
    whether it flows to the function's return value.

    ``sources`` maps each ``.py`` file's relative path to its text (a notebook's through
    ``notebook_source``). Never raises: a file that does not parse is left out, and a
    submission too large (``MAX_NODES``) or deep to analyse gives ``()``.

    Known limits (an over-approximation errs towards flows=True): the analysis ignores
    order and branches (``y = fwd(m, x); y = m(x); return y`` flows), any discarded method
    call on a name counts as mutating it (``x.reshape(nnx.vmap(g)(m, x))`` makes ``x``
    carry the lift), and a class or function that is used carries every lift in it, whether
    or not the lifted part runs. A name bound to an imported one is followed (``vm =
    nnx.vmap``, ``nnx = flax.nnx``), but a lift reached only through what the analysis does
    not follow (``getattr(nnx, "vmap")``, ``from helpers import *``, a lift passed in as an
    argument) is not found.
    """
    trees: dict[str, ast.Module] = {}
    for path, text in sources.items():
        try:
            trees[path] = parse_python(text)
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            continue
    if module not in trees:
        return ()
    try:
        if sum(1 for tree in trees.values() for _ in ast.walk(tree)) > MAX_NODES:
            return ()
        return _Analysis(trees).lifts(module, function)
    except (RecursionError, MemoryError):
        return ()


def _base_name(node: ast.expr) -> ast.Name | None:
    """The name at the bottom of ``a.b[c].d``."""
    while isinstance(node, ast.Attribute | ast.Subscript | ast.Starred):
        node = node.value
    return node if isinstance(node, ast.Name) else None


def _units(body: Iterable[ast.stmt]) -> Iterable[ast.stmt]:
    """Top-level statements, looking inside ``if``/``try``/``with`` blocks."""
    for stmt in body:
        if isinstance(stmt, ast.If):
            yield from _units([*stmt.body, *stmt.orelse])
        elif isinstance(stmt, ast.Try | ast.TryStar):
            yield from _units([*stmt.body, *(h for handler in stmt.handlers
                                             for h in handler.body),
                               *stmt.orelse, *stmt.finalbody])
        elif isinstance(stmt, ast.With | ast.AsyncWith):
            yield from _units(stmt.body)
        else:
            yield stmt


class _Analysis:
    """The scopes, sites and dependency graphs of one submission."""

    def __init__(self, trees: Mapping[str, ast.Module]) -> None:
        self.trees = trees
        self.shadowed = {path.split("/")[0].removesuffix(".py") for path in trees}
        self.scopes: list[_Scope] = []
        self.scope_of: dict[int, _Scope] = {}
        self.module_scope: dict[str, _Scope] = {}
        self.imports: dict[_Node, str] = {}
        self.rngs: set[_Node] = set()
        self.sites: list[_Site] = []
        self.site_of: dict[int, int] = {}
        self.depends: dict[_Node, set[_Node]] = {}  # data: what a node's value depends on
        self.refers: dict[_Node, set[_Node]] = {}  # module name -> units binding it -> names
        self.sinks: list[set[_Node]] = []  # the classes being read: what their bodies use
        self.unit: _Node = ("unit", -1, "")
        self.live = True
        pending: list[tuple[_Scope, ast.Assign, ast.Call]] = []
        #: ``vm = nnx.vmap``, ``nnx = flax.nnx``: a name bound to an imported one.
        self.aliases: list[tuple[_Scope, str, ast.expr]] = []
        for path, tree in trees.items():
            self.module_scope[path] = self._declare(tree, path, None, pending)
        for _ in range(3):  # an alias of an alias, a few deep
            for scope, name, value in self.aliases:
                target = self._qualname(value, scope)
                if target is not None:
                    self.imports.setdefault(self._store(scope, name), target)
        for scope, assign, call in pending:  # rngs = nnx.Rngs(0): rngs.fork() is a lift
            if self._qualname(call.func, scope) == _RNGS:
                self.rngs.update(self._store(scope, t.id) for t in assign.targets
                                 if isinstance(t, ast.Name))
        units = 0
        for path, tree in trees.items():
            for stmt in _units(tree.body):
                self.unit, units = ("unit", units, ""), units + 1
                self._stmt(stmt, self.module_scope[path])

    # -- results --------------------------------------------------------------------------

    def lifts(self, module: str, function: str) -> tuple[StaticLift, ...]:
        root: _Node = ("var", self.module_scope[module].index, function)
        units = _reach(self.refers, root)
        flowing = _reach(self.depends, root)
        found = [(site, ("site", i, "") in flowing) for i, site in enumerate(self.sites)
                 if site.unit in units]
        found.sort(key=lambda f: (f[0].file != module, f[0].file, f[0].line, f[0].column))
        return tuple(StaticLift(site.lift, f"{site.file}:{site.line}", flows)
                     for site, flows in found)

    # -- pass 1: scopes, what each binds, imports -------------------------------------------

    def _declare(self, node: _Scoped, file: str, parent: _Scope | None,
                 pending: list[tuple[_Scope, ast.Assign, ast.Call]]) -> _Scope:
        scope = _Scope(len(self.scopes), file, node, parent)
        self.scopes.append(scope)
        self.scope_of[id(node)] = scope
        if not isinstance(node, ast.Module | ast.ClassDef):
            arguments = node.args
            scope.bound.update(a.arg for a in (*arguments.posonlyargs, *arguments.args,
                                               *arguments.kwonlyargs))
            scope.bound.update(a.arg for a in (arguments.vararg, arguments.kwarg) if a)
        body: list[ast.AST] = [node.body] if isinstance(node, ast.Lambda) else [*node.body]
        for child in body:
            self._scan(child, scope, pending)
        if parent is not None:
            scope.bound.difference_update(scope.globals | scope.nonlocals)
        return scope

    def _scan(self, node: ast.AST, scope: _Scope,
              pending: list[tuple[_Scope, ast.Assign, ast.Call]]) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            outer: list[ast.AST] = []
            if isinstance(node, ast.ClassDef):
                outer += [*node.bases, *node.keywords]
            else:
                outer += [*node.args.defaults, *(d for d in node.args.kw_defaults if d)]
            if not isinstance(node, ast.Lambda):
                scope.bound.add(node.name)
                outer += node.decorator_list
            for part in outer:
                self._scan(part, scope, pending)
            self._declare(node, scope.file, scope, pending)
            return
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            scope.bound.add(node.id)
        elif isinstance(node, ast.Global):
            scope.globals.update(node.names)
        elif isinstance(node, ast.Nonlocal):
            scope.nonlocals.update(node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                local = alias.asname or alias.name.split(".")[0]
                scope.bound.add(local)
                self.imports[("var", scope.index, local)] = (
                    alias.name if alias.asname else local)
        elif isinstance(node, ast.ImportFrom):
            prefix = "." * node.level + (f"{node.module}." if node.module else "")
            for alias in node.names:
                if alias.name != "*":
                    local = alias.asname or alias.name
                    scope.bound.add(local)
                    self.imports[("var", scope.index, local)] = prefix + alias.name
        elif isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) and node.name:
            scope.bound.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            scope.bound.add(node.rest)
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            pending.append((scope, node, node.value))
        elif (isinstance(node, ast.Assign) and isinstance(node.value, ast.Name | ast.Attribute)
              and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            self.aliases.append((scope, node.targets[0].id, node.value))
        for child in ast.iter_child_nodes(node):
            self._scan(child, scope, pending)

    # -- names ---------------------------------------------------------------------------

    def _lookup(self, scope: _Scope, name: str) -> _Node | None:
        """The binding a read of ``name`` in ``scope`` sees (None: a builtin or undefined)."""
        current: _Scope | None = scope
        while current is not None:
            if current.parent is not None and name in current.globals:
                current = self.module_scope[current.file]
                continue
            if name in current.bound and (current is scope
                                          or not isinstance(current.node, ast.ClassDef)):
                return ("var", current.index, name)
            current = current.parent
        return None

    def _store(self, scope: _Scope, name: str) -> _Node:
        return self._lookup(scope, name) or ("var", scope.index, name)

    def _qualname(self, node: ast.expr, scope: _Scope) -> str | None:
        """``flax.nnx.vmap`` for ``nnx.vmap`` after ``from flax import nnx``; None for what
        no import binds."""
        if isinstance(node, ast.Name):
            binding = self._lookup(scope, node.id)
            return self.imports.get(binding) if binding else None
        if isinstance(node, ast.Attribute):
            base = self._qualname(node.value, scope)
            return f"{base}.{node.attr}" if base else None
        return None

    def _lift(self, node: ast.expr, scope: _Scope) -> str | None:
        name = self._qualname(node, scope)
        if name is None or name.split(".")[0] in self.shadowed:
            return None
        return LIFTS.get(name)

    def _module_file(self, dotted: str, importer: str) -> str | None:
        """The submission file a (possibly relative) module name imports, if any."""
        level = len(dotted) - len(dotted.lstrip("."))
        parts = dotted[level:].split(".")
        here = posixpath.dirname(importer)
        for _ in range(level - 1):
            here = posixpath.dirname(here)
        for base in ([here] if level else [here, ""]):
            for candidate in (posixpath.join(base, *parts) + ".py",
                              posixpath.join(base, *parts, "__init__.py")):
                if candidate in self.trees:
                    return candidate
        return None

    def _submission_name(self, node: ast.expr | str, scope: _Scope) -> _Node | None:
        """The module-level name of another submission file that ``helpers.build`` (or an
        import's qualified name) means."""
        name = node if isinstance(node, str) else self._qualname(node, scope)
        if not name:
            return None
        owner, _, attribute = name.rpartition(".")
        path = self._module_file(owner, scope.file) if owner.strip(".") else None
        return ("var", self.module_scope[path].index, attribute) if path else None

    # -- pass 2: sites and dependencies --------------------------------------------------

    def _site(self, node: ast.expr, scope: _Scope, lift: str) -> _Node:
        index = self.site_of.get(id(node))
        if index is None:
            index = self.site_of[id(node)] = len(self.sites)
            self.sites.append(_Site(scope.file, node.lineno, node.col_offset, lift, self.unit))
        site: _Node = ("site", index, "")
        for sink in self.sinks:
            sink.add(site)
        return site

    def _call_site(self, call: ast.Call, scope: _Scope) -> _Node | None:
        lift = self._lift(call.func, scope)
        if lift is None and call.args and self._qualname(call.func, scope) == _PARTIAL:
            lift = self._lift(call.args[0], scope)
        if lift is None and isinstance(call.func, ast.Attribute) and call.func.attr == "fork":
            receiver = call.func.value
            if (any(k.arg == "split" for k in call.keywords)
                    or (isinstance(receiver, ast.Call)
                        and self._qualname(receiver.func, scope) == _RNGS)
                    or (isinstance(receiver, ast.Name)
                        and self._lookup(scope, receiver.id) in self.rngs)):
                lift = _FORK
        return self._site(call, scope, lift) if lift else None

    def _refer(self, node: _Node) -> None:
        if node[0] == "var" and isinstance(self.scopes[node[1]].node, ast.Module):
            self.refers.setdefault(self.unit, set()).add(node)

    def _bind(self, scope: _Scope, name: str, deps: set[_Node]) -> None:
        target = self._store(scope, name)
        if self.live:
            self.depends.setdefault(target, set()).update(deps)
        if isinstance(scope.node, ast.Module):  # a top-level statement binds it: a unit
            self.refers.setdefault(target, set()).add(self.unit)
        for dep in deps:
            self._refer(dep)

    def _return(self, scope: _Scope, deps: set[_Node]) -> None:
        if self.live:
            self.depends.setdefault(("ret", scope.index, ""), set()).update(deps)

    def _uses(self, node: ast.AST | None, scope: _Scope) -> set[_Node]:
        """The names and sites ``node``'s value depends on."""
        found: set[_Node] = set()
        if node is not None:
            self._collect(node, scope, found)
        for sink in self.sinks:
            sink.update(found)
        return found

    def _collect(self, node: ast.AST, scope: _Scope, found: set[_Node]) -> None:
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load) and (binding := self._lookup(scope, node.id)):
                found.add(binding)
                self._refer(binding)
            return
        if isinstance(node, ast.Lambda):
            for default in (*node.args.defaults, *node.args.kw_defaults):
                if default:
                    self._collect(default, scope, found)
            self._collect(node.body, self.scope_of[id(node)], found)
            return
        if isinstance(node, ast.NamedExpr):
            value = self._uses(node.value, scope)
            self._bind(scope, node.target.id, value)
            found.update(value)
            return
        if isinstance(node, ast.Yield | ast.YieldFrom):
            value = self._uses(node.value, scope)
            self._return(scope, value)
            found.update(value)
            return
        if isinstance(node, _Comprehension):
            for generator in node.generators:
                source = self._uses(generator.iter, scope)
                self._assign(generator.target, source, scope)
                found.update(source)
                for condition in generator.ifs:
                    self._collect(condition, scope, found)
            for part in ((node.key, node.value) if isinstance(node, ast.DictComp)
                         else (node.elt,)):
                self._collect(part, scope, found)
            return
        if isinstance(node, ast.Call) and (site := self._call_site(node, scope)):
            found.add(site)
        if isinstance(node, ast.Attribute) and (name := self._submission_name(node, scope)):
            found.add(name)
            self._refer(name)
        for child in ast.iter_child_nodes(node):
            self._collect(child, scope, found)

    def _assign(self, target: ast.expr, deps: set[_Node], scope: _Scope) -> None:
        if isinstance(target, ast.Tuple | ast.List):
            for element in target.elts:
                self._assign(element, deps, scope)
        elif isinstance(target, ast.Starred):
            self._assign(target.value, deps, scope)
        elif isinstance(target, ast.Name):
            self._bind(scope, target.id, deps)
        elif (base := _base_name(target)) is not None:  # ys[i] = e, obj.attr = e
            self._bind(scope, base.id, deps | self._uses(target, scope))
        else:
            self._uses(target, scope)

    def _block(self, body: Sequence[ast.stmt], scope: _Scope) -> bool:
        """Read a block; whether it always ends in return/raise/break/continue."""
        live, ends = self.live, False
        for stmt in body:
            if self._stmt(stmt, scope):
                ends, self.live = True, False
        self.live = live
        return ends

    def _stmt(self, stmt: ast.stmt, scope: _Scope) -> bool:
        """Read one statement; whether it always ends the block it is in."""
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            self._definition(stmt, scope)
        elif isinstance(stmt, ast.Return):
            self._return(scope, self._uses(stmt.value, scope))
            return True
        elif isinstance(stmt, ast.Raise):
            self._uses(stmt.exc, scope)
            return True
        elif isinstance(stmt, ast.Break | ast.Continue):
            return True
        elif isinstance(stmt, ast.Assign):
            value = self._uses(stmt.value, scope)
            for target in stmt.targets:
                self._assign(target, value, scope)
        elif isinstance(stmt, ast.AugAssign | ast.AnnAssign):
            if stmt.value is not None:
                self._assign(stmt.target, self._uses(stmt.value, scope), scope)
        elif isinstance(stmt, ast.For | ast.AsyncFor):
            self._assign(stmt.target, self._uses(stmt.iter, scope), scope)
            self._block(stmt.body, scope)
            self._block(stmt.orelse, scope)
        elif isinstance(stmt, ast.While):
            self._uses(stmt.test, scope)
            self._block(stmt.body, scope)
            self._block(stmt.orelse, scope)
        elif isinstance(stmt, ast.If):
            self._uses(stmt.test, scope)
            return self._block(stmt.body, scope) & self._block(stmt.orelse, scope)
        elif isinstance(stmt, ast.With | ast.AsyncWith):
            for item in stmt.items:
                value = self._uses(item.context_expr, scope)
                if item.optional_vars is not None:
                    self._assign(item.optional_vars, value, scope)
            return self._block(stmt.body, scope)
        elif isinstance(stmt, ast.Try | ast.TryStar):
            self._block(stmt.body, scope)
            for handler in stmt.handlers:
                self._uses(handler.type, scope)
                self._block(handler.body, scope)
            self._block(stmt.orelse, scope)
            return self._block(stmt.finalbody, scope)
        elif isinstance(stmt, ast.Match):
            self._uses(stmt.subject, scope)
            for case in stmt.cases:
                self._uses(case.guard, scope)
                self._block(case.body, scope)
        elif isinstance(stmt, ast.ImportFrom):
            for alias in stmt.names:
                local = alias.asname or alias.name
                imported = self.imports.get(("var", scope.index, local))
                if imported and (name := self._submission_name(imported, scope)):
                    self._bind(scope, local, {name})
        elif isinstance(stmt, ast.Expr):
            self._discarded(stmt.value, scope)
        else:
            for child in ast.iter_child_nodes(stmt):
                self._uses(child, scope)
        return False

    def _discarded(self, value: ast.expr, scope: _Scope) -> None:
        """An expression statement: a method call mutates its receiver (``ys.append(e)``),
        a library call its first argument (``nnx.update(model, state)``)."""
        deps = self._uses(value, scope)
        if not (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)):
            return
        receiver = _base_name(value.func.value)
        if receiver is None:
            return
        if self._qualname(receiver, scope) is None or self._submission_name(
                value.func.value, scope):
            self._bind(scope, receiver.id, deps)
        elif value.args and (first := _base_name(value.args[0])) is not None:
            rest = [*value.args[1:], *(k.value for k in value.keywords)]
            self._bind(scope, first.id, set().union(*(self._uses(a, scope) for a in rest)))

    def _definition(self, node: _Function | ast.ClassDef, scope: _Scope) -> None:
        inner = self.scope_of[id(node)]
        deps: set[_Node] = set()
        for decorator in node.decorator_list:
            deps |= self._uses(decorator, scope)
            if not isinstance(decorator, ast.Call) and (lift := self._lift(decorator, scope)):
                deps.add(self._site(decorator, scope, lift))
        if isinstance(node, ast.ClassDef):
            for base in (*node.bases, *node.keywords):
                deps |= self._uses(base, scope)
            self.sinks.append(deps)
            self._block(node.body, inner)
            self.sinks.pop()
            deps |= {("var", inner.index, name) for name in inner.bound}
        else:
            for default in (*node.args.defaults, *node.args.kw_defaults):
                self._uses(default, scope)
            deps.add(("ret", inner.index, ""))
            self._block(node.body, inner)
        self._bind(scope, node.name, deps)


def _reach(graph: Mapping[_Node, set[_Node]], root: _Node) -> set[_Node]:
    seen, todo = {root}, [root]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen
