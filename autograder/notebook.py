"""Jupyter notebooks as students export them (Colab included), turned into code cells.

Shell escapes (``!pip install ...``), line magics (``%matplotlib inline``), cell magics
(``%%time``) and help syntax (``obj?``) are not Python: they are commented out so the rest
of the cell still runs. Standard library only: both the grader and the worker use it.
"""

from __future__ import annotations

import io
import json
import re
import tokenize
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


class NotebookError(ValueError):
    """The file is not a readable notebook; the message says why."""


@dataclass(frozen=True)
class Cell:
    number: int  # 1-based, counting code cells only, as a student sees ``In [n]``
    source: str


def _inside_statement(text: str) -> bool:
    """Whether ``text`` ends inside an open bracket, string or backslash continuation, so
    its next line continues a statement (``!= y``) rather than starting one (``!ls``)."""
    try:
        for _ in tokenize.generate_tokens(io.StringIO(text).readline):
            pass
    except tokenize.TokenError:
        return True
    except (SyntaxError, ValueError):  # e.g. bad indentation: judge the line on its own
        return False
    return text.rstrip("\n").endswith("\\")


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
    for line in lines:
        continuing = bool(cleaned) and _inside_statement("\n".join(cleaned) + "\n")
        cleaned.append(line if continuing else _clean_line(line))
    return "\n".join(cleaned) + "\n"


def read_cells(path: Path) -> list[Cell]:
    """The code cells of a notebook file, cleaned; raises NotebookError when unreadable."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NotebookError(f"{path.name} is not a valid notebook file ({exc})") from None
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
