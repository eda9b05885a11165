"""The package's layout keeps the trust boundary's direction, and no imports go in circles.

A worker process runs ``autograder.worker``, and both sides share ``autograder.protocol``:
neither may import the trusted side (spec, engine, sandbox, pydantic's models...), and the
protocol may not import the worker. Checked statically, with ``ast``, on every ``import``
and ``from ... import`` statement (at the top of a module, in a function, or under
``TYPE_CHECKING``), so an import only made on some path is caught as well.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.support import REPO
from tools import module_map

MODULES = {m.name: m for m in module_map.modules()}
UNTRUSTED = ("autograder.worker", "autograder.protocol")

#: Imports of the trusted side from the untrusted one that are known and being removed, as
#: (file, module imported): each must still be there (its test is a strict expected
#: failure), so once it is gone its test fails, saying to remove it from here.


@dataclass(frozen=True)
class Import:
    """One module an import statement names, of this package."""

    path: Path  # the importing file, relative to the checkout
    line: int
    module: str  # dotted; for ``from P import N`` it is ``P.N`` when that is a module
    name: str | None  # for ``from autograder import N`` where N is not a module: N

    def __str__(self) -> str:
        what = self.module if self.name is None else f"{self.name} from {self.module}"
        return f"{self.path}:{self.line}: imports {what}"


def _within(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _top_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The statements run when a module is imported: into ``if``, ``try`` and ``with``
    blocks and class bodies, not into functions or ``if TYPE_CHECKING:``."""
    for node in body:
        yield node
        if isinstance(node, ast.If):
            if not _type_checking(node):
                yield from _top_level(node.body)
            yield from _top_level(node.orelse)
        elif isinstance(node, ast.Try | ast.TryStar):
            for block in (node.body, node.orelse, node.finalbody,
                          *(h.body for h in node.handlers)):
                yield from _top_level(block)
        elif isinstance(node, ast.With | ast.ClassDef):
            yield from _top_level(node.body)


def imports(module: module_map.Module, top_level_only: bool = False,
            root: Path = REPO) -> list[Import]:
    """The modules of this package that ``module``'s import statements name (relative
    imports resolved), with their lines; all of them, or only those run on import."""
    path = root / module.path
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    nodes = _top_level(tree.body) if top_level_only else ast.walk(tree)
    found = []
    for node in nodes:
        if isinstance(node, ast.Import):
            targets = [(a.name, None) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.name.split(".")[:None if module.is_package else -1]
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base
                                                                            else []))
            targets = [(f"{base}.{a.name}", None) if f"{base}.{a.name}" in MODULES
                       else (base, a.name if base == "autograder" else None)
                       for a in node.names]
        else:
            continue
        found += [Import(module.path, node.lineno, name, attribute)
                  for name, attribute in targets if _within(name, ("autograder",))]
    return found


def _under(*packages: str) -> list[module_map.Module]:
    return [m for m in MODULES.values() if _within(m.name, packages)]


def _crosses(found: Import) -> bool:
    """Whether an import from the untrusted side reaches the trusted one: a module outside
    worker and protocol, or a public name of the package (loaded lazily from there)."""
    if found.module == "autograder":
        return found.name not in (None, "__version__")
    return not _within(found.module, UNTRUSTED)


def _offences() -> list[Import]:
    return [i for m in _under(*UNTRUSTED) for i in imports(m) if _crosses(i)]


def test_the_untrusted_side_imports_nothing_of_the_trusted_side() -> None:
    offences = _offences()
    assert not offences, (
        "autograder.worker and autograder.protocol run in the worker process and may import "
        "only each other (and the lazy autograder package itself):\n"
        + "\n".join(map(str, offences)))


def test_the_protocol_does_not_import_the_worker() -> None:
    offences = [i for m in _under("autograder.protocol") for i in imports(m)
                if _within(i.module, ("autograder.worker",))]
    assert not offences, (
        "autograder.protocol is shared by both sides and may not depend on the worker:\n"
        + "\n".join(map(str, offences)))


def _graph() -> dict[str, dict[str, Import]]:
    """Module -> the modules it imports when imported (top-level imports), each with the
    statement that does."""
    graph: dict[str, dict[str, Import]] = {}
    for name, module in MODULES.items():
        edges = graph.setdefault(name, {})
        for found in imports(module, top_level_only=True):
            if found.module != name and found.module in MODULES:
                edges.setdefault(found.module, found)
    return graph


def cycles(graph: Mapping[str, Mapping[str, object]]) -> list[list[str]]:
    """One cycle (its modules, the first repeated at the end) through each group of
    modules that import each other, directly or not (Tarjan's strongly connected
    components)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph.get(node, {}):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while (member := stack.pop()) != node:
                group.append(member)
            groups.append([node, *group])

    for node in sorted(graph):
        if node not in index:
            connect(node)
    found = []
    for group in groups:
        if len(group) > 1:
            start, members = min(group), set(group)
            paths = {start: [start]}
            queue = [start]
            while queue:  # breadth first, within the group, back to the start
                node = queue.pop(0)
                for target in sorted(graph.get(node, {})):
                    if target == start:
                        found.append([*paths[node], start])
                        queue = []
                        break
                    if target in members and target not in paths:
                        paths[target] = [*paths[node], target]
                        queue.append(target)
    return sorted(found)


def test_no_module_imports_a_module_that_imports_it_back() -> None:
    graph = _graph()
    report = []
    for cycle in cycles(graph):
        steps = [f"  {graph[a][b]}" for a, b in itertools.pairwise(cycle)]
        report.append(" -> ".join(cycle) + "\n" + "\n".join(steps))
    assert not report, ("import cycles among autograder's modules (top-level imports; "
                        "move one import into the function that needs it, or the shared "
                        "part into a module of its own):\n" + "\n".join(report))


def test_cycles_are_found_and_reported_whole() -> None:
    graph = {"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1, "d": 1}, "d": {}, "e": {"e": 1}}
    assert cycles(graph) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b": 1}, "b": {}}) == []


def test_imports_are_resolved_as_python_would(tmp_path: Path) -> None:
    source = tmp_path / "autograder" / "worker" / "example.py"
    source.parent.mkdir(parents=True)
    source.write_text("""\
from . import jail
from ..protocol import wire
from .. import grade
from autograder import __version__
import autograder.spec.model
import numpy
from typing import TYPE_CHECKING
if TYPE_CHECKING:
    from autograder.grading import engine
try:
    import autograder.sandbox.memory
except ImportError:
    pass
def later():
    from autograder import checks
""")
    example = module_map.Module("autograder.worker.example", source.relative_to(tmp_path),
                                "autograder.worker", None)
    found = imports(example, root=tmp_path)
    assert sorted((i.line, i.module, i.name) for i in found) == [
        (1, "autograder.worker.jail", None), (2, "autograder.protocol.wire", None),
        (3, "autograder", "grade"), (4, "autograder", "__version__"),
        (5, "autograder.spec.model", None), (9, "autograder.grading.engine", None),
        (11, "autograder.sandbox.memory", None), (15, "autograder.checks", None)]
    assert [i.line for i in found if _crosses(i)] == [3, 5, 9, 11, 15]
    assert "autograder/worker/example.py:3: imports grade from autograder" in map(str, found)
    run_on_import = imports(example, top_level_only=True, root=tmp_path)
    assert [i.line for i in run_on_import] == [1, 2, 3, 4, 5, 11]


def test_the_real_modules_are_read_as_they_are() -> None:
    serve = MODULES["autograder.worker.serve"]
    found = {i.module for i in imports(serve)}
    assert {"autograder.protocol.wire", "autograder.worker.jail",
            "autograder.worker.trace"} <= found  # trace: imported in a function
    assert "autograder.worker.trace" not in {
        i.module for i in imports(serve, top_level_only=True)}
    package = MODULES["autograder"]
    assert imports(package, top_level_only=True) == []  # its imports are for type checking
    assert {"autograder.errors", "autograder.grading.engine"} <= {
        i.module for i in imports(package)}


def test_the_trusted_side_parses_python_one_parse_at_a_time() -> None:
    """Gradings run in threads side by side (a regrade's jobs), and CPython 3.11's parser
    fails when two threads parse at once ("AST constructor recursion depth mismatch"): every
    parse on the trusted side goes through ``files.parse_python``'s lock. (The worker parses
    in a process of its own.)"""
    package = REPO / "autograder"
    locked = {"files.py", "parsing.py"}  # where the lock is taken
    on_trees = {"checkfile.py"}  # literal_eval of a node already parsed: no parse
    unlocked = [f"{path.relative_to(REPO)}:{number}"
                for path in sorted(package.rglob("*.py"))
                if "worker" not in path.relative_to(package).parts and path.name not in locked
                for number, line in enumerate(path.read_text().splitlines(), 1)
                if "ast.parse(" in line
                or ("literal_eval(" in line and path.name not in on_trees)
                or ("np.load(" in line and "PARSING" not in path.read_text())]
    assert not unlocked, unlocked
