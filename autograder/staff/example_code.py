"""A student's function turned into a mistake's example for ``mistakes.py``, as source text.

:func:`extract` reads the file of a submission that defines the exercise's function (a
``.py`` file, or a notebook cell by cell), never running it, and takes that function with
what it uses from the top level of the file: the imports that bind names it uses, and the
helper functions, classes and constants it calls, transitively, in the order they come.
:func:`example` renames the function (to the new mistake's id, dashes as underscores),
gives it the problem's parameter names when the student named them otherwise, and checks
the result against the ``mistakes.py`` it will join: an import or helper already there
identically is not repeated, and one that would rebind a name there differently is refused,
as is an import of the submission's own files (which ``mistakes.py`` cannot import).
"""

from __future__ import annotations

import ast
import builtins
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from autograder.errors import UsageError
from autograder.files import parse_python
from autograder.grading.provenance import notebook_source
from autograder.grading.submission import scan_submission
from autograder.worker.notebook import NotebookError, read_cells

_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Assign, ast.AnnAssign)
_IMPORTS = (ast.Import, ast.ImportFrom)


@dataclass(frozen=True)
class Statement:
    """A top-level statement of the student's file, with the text it was parsed from."""

    node: ast.stmt
    text: str

    @property
    def source(self) -> str:
        lines = self.text.splitlines()
        decorators = getattr(self.node, "decorator_list", [])
        first = min([self.node.lineno, *(d.lineno for d in decorators)])
        return "\n".join(lines[first - 1:self.node.end_lineno])

    @property
    def binds(self) -> list[str]:
        return binds(self.node)


def binds(node: ast.stmt) -> list[str]:
    """The names a top-level statement binds (none for other statements)."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [node.name]
    if isinstance(node, _IMPORTS):
        return [(a.asname or a.name).split(".")[0] for a in node.names]
    targets = node.targets if isinstance(node, ast.Assign) else [
        node.target] if isinstance(node, ast.AnnAssign) else []
    return [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]


@dataclass(frozen=True)
class Extracted:
    """The function and what it needs, from one file of a submission."""

    file: str  # as the student named it
    function: ast.FunctionDef | ast.AsyncFunctionDef
    target: Statement
    needs: tuple[Statement, ...]  # imports and helpers, in the file's order
    unresolved: tuple[str, ...]  # names it uses that nothing at the top level defines
    local_modules: frozenset[str]  # the submission's own importable names


def _statements(path: Path, relative: str) -> list[Statement]:
    if path.suffix == ".ipynb":
        try:
            cells = read_cells(path)
        except NotebookError as exc:
            raise UsageError(f"{relative} cannot be read: {exc}") from None
        found = []
        for cell in cells:  # cell by cell: one that does not parse is left out
            text = notebook_source([cell.source])
            found += [Statement(node, text) for node in parse_python(text).body]
        return found
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        return [Statement(node, text) for node in parse_python(text).body]
    except SyntaxError as exc:
        raise UsageError(f"{relative} does not parse (line {exc.lineno}: {exc.msg})") from None


def _used(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _free(node: ast.AST) -> list[str]:
    """The names a statement uses from outside it (not built in), sorted."""
    return sorted(_used(node) - _arguments_and_locals(node) - set(dir(builtins)))


def extract(submission: Path, function: str) -> Extracted:
    """``function`` of the submission in ``submission`` (a folder or a file), with what it
    needs from its file's top level."""
    scanned = scan_submission(submission)
    found = scanned.locate(function)
    if found is None or found.unusable or function not in found.defines:
        raise UsageError(f"no file of {submission} defines `{function}` at its top level")
    statements = _statements(found.path, found.relative)
    defining = [s for s in statements if isinstance(s.node, ast.FunctionDef
                                                    | ast.AsyncFunctionDef)
                and s.node.name == function]
    if not defining:
        raise UsageError(f"`{function}` in {found.relative} is not a plain function definition "
                         "(assigned, or behind an `if`): copy it into mistakes.py by hand")
    target = defining[-1]  # as Python would call it: the last definition
    binders = {name: s for s in statements if isinstance(s.node, _DEFINITIONS + _IMPORTS)
               and s is not target for name in s.binds}
    needed: list[Statement] = []
    unresolved: set[str] = set()
    todo = _free(target.node)
    while todo:
        name = todo.pop()
        statement = binders.get(name)
        if statement is None:
            unresolved.add(name)
        elif statement not in needed:
            needed.append(statement)
            if not isinstance(statement.node, _IMPORTS):
                todo += _free(statement.node)
    modules = frozenset(Path(f.relative).parts[0] if len(Path(f.relative).parts) > 1
                        else Path(f.relative).stem for f in scanned.files)
    assert isinstance(target.node, ast.FunctionDef | ast.AsyncFunctionDef)
    return Extracted(found.relative, target.node, target,
                     tuple(s for s in statements if s in needed),
                     tuple(sorted(unresolved - {function})),  # a call of itself: said apart
                     modules)


def _arguments_and_locals(node: ast.AST) -> set[str]:
    """Names bound inside a function (its arguments, assignments, nested definitions)."""
    bound = {a.arg for a in ast.walk(node) if isinstance(a, ast.arg)}
    for n in ast.walk(node):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
            bound.add(n.id)
        elif isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) \
                and n is not node:
            bound.add(n.name)
        elif isinstance(n, ast.alias):
            bound.add((n.asname or n.name).split(".")[0])
        elif isinstance(n, ast.ExceptHandler) and n.name:
            bound.add(n.name)
    return bound


class _Rename(ast.NodeTransformer):
    def __init__(self, names: dict[str, str]) -> None:
        self.names = names

    def visit_Name(self, node: ast.Name) -> ast.Name:
        node.id = self.names.get(node.id, node.id)
        return node

    def visit_arg(self, node: ast.arg) -> ast.arg:
        node.arg = self.names.get(node.arg, node.arg)
        return node


@dataclass(frozen=True)
class Example:
    """What goes into ``mistakes.py``: new imports (at the top), then the helpers and the
    renamed function (at the end), and what the TA should know about them."""

    imports: tuple[str, ...]
    body: str
    notes: tuple[str, ...]
    helpers: int


def _signature(function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str] | None:
    args = function.args
    if args.vararg or args.kwarg or args.kwonlyargs:
        return None
    return [a.arg for a in (*args.posonlyargs, *args.args)]


def example(extracted: Extracted, name: str, parameters: Sequence[str],
            mistakes: ast.Module | None, header: str) -> Example:
    """The example ``name(parameters)`` made from ``extracted``, to join ``mistakes`` (the
    parsed mistakes file, or None when there is none yet)."""
    function = extracted.function
    notes = []
    existing = {bound: ast.dump(node) for node in (mistakes.body if mistakes else [])
                for bound in binds(node)}
    imports, helpers = [], []
    for statement in extracted.needs:
        dumped = ast.dump(statement.node)
        clashes = [b for b in statement.binds if b in existing and existing[b] != dumped]
        if clashes:
            raise UsageError(f"the example needs `{clashes[0]}` as the student's "
                             f"{extracted.file} defines it ({statement.source.splitlines()[0]}"
                             f"), and mistakes.py already binds that name otherwise: rename "
                             "one of them by hand, then run the command again")
        if all(b in existing for b in statement.binds):
            continue  # already there, the same
        if isinstance(statement.node, _IMPORTS):
            node = statement.node
            relative = isinstance(node, ast.ImportFrom) and node.level > 0
            module = ((node.module or "") if isinstance(node, ast.ImportFrom)
                      else node.names[0].name).split(".")[0]
            if relative or module in extracted.local_modules:
                raise UsageError(f"the example imports from the submission's own files "
                                 f"({statement.source.strip()}), which mistakes.py cannot "
                                 "import: copy what it needs into mistakes.py by hand")
            imports.append(statement.source)
        else:
            helpers.append(statement.source)
    text = extracted.target.source
    wanted = list(parameters)
    own = _signature(function)
    if own is not None and len(own) == len(wanted) and own != wanted:
        tree = parse_python(text).body[0]
        renamed = _Rename(dict(zip(own, wanted, strict=True))).visit(tree)
        text = ast.unparse(renamed)
        changed = ", ".join(f"{a} -> {b}" for a, b in zip(own, wanted, strict=True) if a != b)
        notes.append(f"its parameters were renamed to the problem's ({changed}); the "
                     "function's comments were dropped in doing so")
    elif own is None or len(own) != len(wanted):
        notes.append(f"its parameters are not the problem's ({', '.join(wanted)}): the "
                     "grader calls it with those, in that order")
    text = re.sub(rf"\bdef\s+{re.escape(function.name)}\b", f"def {name}", text, count=1)
    if function.name in _used(function):
        notes.append(f"it calls `{function.name}` by name, which mistakes.py does not define: "
                     f"rename those calls to `{name}`")
    if extracted.unresolved:
        notes.append("it uses names its file does not define at the top level: "
                     + ", ".join(f"`{n}`" for n in extracted.unresolved))
    body = "\n\n\n".join([*helpers, header + text])
    return Example(tuple(imports), body, tuple(notes), len(helpers))
