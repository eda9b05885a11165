"""The README's module map, generated from the package itself: every module's summary.

One row per package and module under ``autograder/`` (``__pycache__`` and ``kit_data``
skipped), grouped by package, each with the summary of its docstring (its first line, or
its first sentence where that line wraps), read with ``ast``: nothing is imported, so the
map is made the same on any machine and from code that does not import yet. ::

    python tools/module_map.py                    # print the map
    python tools/module_map.py --check README.md  # exit 1, with a diff, if README's differs
    python tools/module_map.py --write README.md  # replace README's copy

README's copy lies between the lines ``<!-- module-map:start -->`` and
``<!-- module-map:end -->``; ``tests/test_module_map.py`` fails when it is out of date and
when a module has no docstring.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "autograder"
SKIPPED = frozenset({"__pycache__", "kit_data"})
START = "<!-- module-map:start -->"
END = "<!-- module-map:end -->"
NO_DOCSTRING = "*(no docstring)*"
HEADER = ("| package | module | summary |", "|---|---|---|")


class MapError(Exception):
    """A file the map cannot be written into (no markers); the message says how to fix it."""


@dataclass(frozen=True)
class Module:
    """One module of the package, as the map shows it."""

    name: str  # dotted: ``autograder.sandbox.process``; a package's is its own name
    path: Path  # its file: ``autograder/sandbox/process.py``, a package's ``__init__.py``
    package: str  # the package it belongs to (a package belongs to itself)
    summary: str | None  # None: no docstring

    @property
    def is_package(self) -> bool:
        """Whether this is a package (its ``__init__.py``) rather than a module in one."""
        return self.path.name == "__init__.py"


def summary(docstring: str | None) -> str | None:
    """A docstring's summary: its first line, continued to the end of the first sentence
    where that line wraps (never past the first paragraph); None for no docstring."""
    if docstring is None or not docstring.strip():
        return None
    lines: list[str] = []
    for line in docstring.strip().splitlines():
        if not line.strip():
            break
        lines.append(line.strip())
        if line.rstrip().endswith((".", "!", "?")):
            break
    return " ".join(lines)


def modules(package: Path = PACKAGE) -> list[Module]:
    """Every package and module under ``package``: each package, then its modules, then its
    subpackages, each group sorted by name (``__init__`` and ``__main__`` first, as ``_``
    sorts)."""
    root = package.parent
    found: list[Module] = []

    def visit(directory: Path) -> None:
        name = ".".join(directory.relative_to(root).parts)
        found.append(_module(directory / "__init__.py", name, name, root))
        children = sorted(p for p in directory.iterdir() if p.name not in SKIPPED)
        for path in children:
            if path.is_file() and path.suffix == ".py" and path.name != "__init__.py":
                found.append(_module(path, f"{name}.{path.stem}", name, root))
        for path in children:
            if path.is_dir() and (path / "__init__.py").is_file():
                visit(path)

    visit(package)
    return found


def _module(path: Path, name: str, package: str, root: Path) -> Module:
    source = path.read_text(encoding="utf-8") if path.is_file() else ""
    docstring = ast.get_docstring(ast.parse(source, filename=str(path)))
    return Module(name, path.relative_to(root), package, summary(docstring))


def _markdown(text: str) -> str:
    """reStructuredText's inline markup as markdown, safe in a table cell."""
    text = re.sub(r":[a-z]+:`~?([^`]+)`", r"`\1`", text)  # :mod:`.serve` -> `.serve`
    return text.replace("``", "`").replace("|", r"\|")


def render(found: Sequence[Module]) -> str:
    """The map as a markdown table: a row per package (its name in the first column), then
    a row per module in it (its name within the package in the second)."""
    rows = list(HEADER)
    for module in found:
        text = NO_DOCSTRING if module.summary is None else _markdown(module.summary)
        if module.is_package:
            rows.append(f"| `{module.name}` | | {text} |")
        else:
            rows.append(f"| | `{module.name.rpartition('.')[2]}` | {text} |")
    return "\n".join(rows) + "\n"


def _span(text: str, where: str) -> tuple[int, int]:
    """Where the map lies in ``text``: from after the start marker's line to the start of
    the end marker's line."""
    start, end = text.find(START + "\n"), text.find(END)
    if start < 0 or end < start or text.count(START) != 1 or text.count(END) != 1:
        raise MapError(f"{where}: no module map to replace; put the lines {START} and {END} "
                       f"(once each, in that order) where it goes, then run "
                       f"python tools/module_map.py --write {where}")
    return start + len(START) + 1, end


def current(text: str, where: str) -> str:
    """The copy of the map in ``text`` (a README), between the markers."""
    start, end = _span(text, where)
    return text[start:end]


def replaced(text: str, table: str, where: str) -> str:
    """``text`` with its copy of the map replaced by ``table``."""
    start, end = _span(text, where)
    return text[:start] + table + text[end:]


def difference(text: str, table: str, where: str) -> str:
    """A unified diff from the copy in ``text`` to ``table``; empty when they are the same."""
    return "".join(difflib.unified_diff(
        current(text, where).splitlines(keepends=True), table.splitlines(keepends=True),
        fromfile=f"{where} (module map)", tofile="generated"))


def main(argv: Sequence[str] | None = None) -> int:
    """Print the map, or check or write a file's copy; 0 when done or current, 1 when the
    copy differs, 2 when the file has no place for it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--check", type=Path, metavar="FILE",
                        help="exit 1, printing a diff, when FILE's copy of the map differs")
    action.add_argument("--write", type=Path, metavar="FILE",
                        help="replace FILE's copy of the map")
    args = parser.parse_args(argv)
    found = modules()
    table = render(found)
    for module in found:
        if module.summary is None:
            print(f"{module.path}: no docstring", file=sys.stderr)
    target: Path | None = args.check or args.write
    if target is None:
        sys.stdout.write(table)
        return 0
    text = target.read_text(encoding="utf-8")
    try:
        if args.write is not None:
            new = replaced(text, table, str(target))
            if new != text:
                target.write_text(new, encoding="utf-8")
            return 0
        diff = difference(text, table, str(target))
    except MapError as exc:
        print(exc, file=sys.stderr)
        return 2
    if diff:
        sys.stdout.write(diff)
        print(f"{target}: the module map is out of date; run "
              f"python tools/module_map.py --write {target}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
