"""Jupyter notebooks as students export them (Colab included), turned into code cells.

Shell escapes (``!pip install ...``), line magics (``%matplotlib inline``), cell magics
(``%%time``) and help syntax (``obj?``) are not Python: they are commented out so the rest
of the cell still runs. Standard library only: both the grader and the worker use it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

# ``x = !ls`` and ``files = %sx ls`` assign the output of a shell command or magic.
_ASSIGNED_ESCAPE = re.compile(r"^\s*[\w.,\s]+=\s*[!%]")
_ESCAPE = re.compile(r"^\s*(?:!(?!=)|%)")
_HELP = re.compile(r"^\s*(?:\?{1,2}[\w.]+|[\w.]+\?{1,2})\s*$")
# ``%time stmt`` and ``%timeit stmt`` run the statement: keep it, drop the magic.
_TIMING_MAGIC = re.compile(r"^(\s*)%(?:time|timeit)\s+(?:-\S+\s+)*(.*)$")
# Cell magics whose body is still Python (they only time or capture it).
_PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun"})


#: Larger files are not read (a notebook with its outputs cleared is a few hundred kB).
MAX_NOTEBOOK_BYTES = 5 * 2**20


class NotebookError(ValueError):
    """The file is not a readable notebook; the message says why."""


@dataclass(frozen=True)
class Cell:
    number: int  # 1-based, counting code cells only, as a student sees ``In [n]``
    source: str


class _Continuation:
    """Whether the next line of a cell continues a statement (inside an open bracket, a
    triple-quoted string, or after a backslash), updated line by line: one pass over the
    cell, however long (re-tokenizing the cell so far for every line was quadratic)."""

    def __init__(self) -> None:
        self.depth = 0
        self.string: str | None = None  # the open triple quote
        self.backslash = False

    @property
    def inside(self) -> bool:
        return self.depth > 0 or self.string is not None or self.backslash

    def feed(self, line: str) -> None:
        i, n = 0, len(line)
        while i < n:
            if self.string is not None:
                if line[i] == "\\":
                    i += 2
                elif line.startswith(self.string, i):
                    self.string, i = None, i + 3
                else:
                    i += 1
                continue
            char = line[i]
            if char == "#":
                break
            if char in "'\"":
                if line.startswith(char * 3, i):
                    self.string, i = char * 3, i + 3
                    continue
                i += 1
                while i < n and line[i] != char:
                    i += 2 if line[i] == "\\" else 1
            elif char in "([{":
                self.depth += 1
            elif char in ")]}":
                self.depth = max(0, self.depth - 1)
            i += 1
        self.backslash = line.rstrip("\n").endswith("\\") and self.string is None


def _clean_line(line: str) -> str:
    timing = _TIMING_MAGIC.match(line)
    if timing:
        return f"{timing.group(1)}{timing.group(2)}  # notebook-only: timed"
    if _ASSIGNED_ESCAPE.match(line) or _ESCAPE.match(line) or _HELP.match(line):
        indent = line[: len(line) - len(line.lstrip())]
        return f"{indent}pass  # notebook-only: {line.strip()}"
    return line


def clean_cell(source: str) -> str:
    """The Python a code cell means, with IPython-only syntax neutralised."""
    lines = source.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        magic = lines[0].lstrip()[2:].split(maxsplit=1)[0] if lines[0].strip() != "%%" else ""
        if magic not in _PYTHON_CELL_MAGICS:
            return "\n".join(f"# notebook-only: {line}" for line in lines) + "\n"
        lines = [f"# {lines[0]}", *lines[1:]]
    cleaned: list[str] = []
    state = _Continuation()
    for line in lines:
        cleaned.append(line if state.inside else _clean_line(line))
        state.feed(cleaned[-1])
    return "\n".join(cleaned) + "\n"


def read_cells(path: Path) -> list[Cell]:
    """The code cells of a notebook file, cleaned; raises NotebookError when unreadable."""
    try:
        if path.stat().st_size > MAX_NOTEBOOK_BYTES:
            raise NotebookError(f"{path.name} is larger than {MAX_NOTEBOOK_BYTES // 2**20} MB: "
                                f"clear its outputs (Edit > Clear all outputs) and save it again")
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NotebookError(f"{path.name} is not a valid notebook file ({exc})") from None
    except RecursionError:
        raise NotebookError(f"{path.name} is not a valid notebook file (its JSON nests too "
                            f"deeply to be read)") from None
    raw_cells = document.get("cells") if isinstance(document, dict) else None
    if not isinstance(raw_cells, list):
        raise NotebookError(f"{path.name} has no 'cells' list; is it really a .ipynb file?")
    cells: list[Cell] = []
    for raw in raw_cells:
        if not isinstance(raw, dict) or raw.get("cell_type") != "code":
            continue
        source = raw.get("source", "")
        text = "".join(source) if isinstance(source, list) else str(source)
        cells.append(Cell(len(cells) + 1, clean_cell(text)))
    return cells
