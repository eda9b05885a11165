"""The check from inside a notebook: ``notebook.check()`` in Jupyter or Colab, rendered there.

A student who writes the exercises in Jupyter or Colab checks them without leaving the
notebook (the kit installs there with ``!pip install student-kit.zip``)::

    from autograder import notebook
    notebook.check()                      # the exercises the notebook attempts
    notebook.check("vmap_over_batch")     # one exercise (attempted or not)
    notebook.check(all=True)              # every exercise, as Gradescope grades them

or, as a magic, ``%load_ext autograder.notebook`` then ``%autograder check [NAME...] [--all]``.

The functions live in the kernel's ``__main__``, but the check never grades them there: it
takes the source of the cells run so far, in the order they ran (IPython's raw input
history, which Colab keeps too; the notebook file may not be saved, or findable), writes
them as the cells of a temporary ``.ipynb`` and checks that file like any other, with the
same engine, worker isolation and messages as ``autograder check``. Cell ``k`` of that file
is ``In [k]``, so a traceback's ``[cell 3]`` is the cell the student ran third. Shell
(``!``) and magic (``%``) lines are neutralised by the engine's own notebook reading, as in
an uploaded notebook; a line that calls the check is left out (and the check does nothing
outside a kernel), so grading never checks again. The report is shown as HTML through
``IPython.display`` with a plain-text copy beside it, or printed where there is no display.
"""

from __future__ import annotations

import io
import json
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from autograder.errors import GraderError, UsageError
from autograder.student import precheck

#: A line that runs the check (left out of what is graded).
_CHECK_LINE = re.compile(r"^\s*(?:[\w.]*\bnotebook\.check\(|%autograder\b|%load_ext\s+autograder)")
#: The notebook file's name when Jupyter says it (``JPY_SESSION_NAME``), else this.
DEFAULT_NAME = "notebook.ipynb"


def _ipython() -> Any:
    """The running IPython shell, or None (a plain process, such as a grading worker)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def cells_run(history: Sequence[str]) -> list[str]:
    """The cells of IPython's raw input history (``In``: entry ``k`` is ``In [k]``, entry 0
    empty), each with the lines that run the check left out."""
    cells = []
    for source in history[1:]:
        lines = [f"pass  # the notebook check: {line.strip()}" if _CHECK_LINE.match(line)
                 else line for line in source.splitlines()]
        cells.append("\n".join(lines) + ("\n" if lines else ""))
    return cells


def notebook_document(cells: Sequence[str]) -> dict[str, Any]:
    """A minimal nbformat-4 notebook with ``cells`` as its code cells, in order."""
    return {
        "cells": [{"cell_type": "code", "execution_count": None, "id": f"cell-{k}",
                   "metadata": {}, "outputs": [], "source": source}
                  for k, source in enumerate(cells, start=1)],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                    "name": "python3"}},
        "nbformat": 4, "nbformat_minor": 5,
    }


def notebook_name(env: Any = os.environ) -> str:
    """The notebook's file name where Jupyter gives it (not in Colab), else a generic one."""
    session = str(env.get("JPY_SESSION_NAME", ""))
    name = Path(session).name
    return name if name.endswith(".ipynb") else DEFAULT_NAME


def check(*problems: str, all: bool = False, problems_dir: str | Path | None = None,
          memory_limit: int | None = None) -> None:
    """Check the functions this notebook defines, as ``autograder check`` would check the
    notebook: the exercises it attempts (those named, or with ``all=True`` every one), on
    the visible cases, and show the report here."""
    shell = _ipython()
    if shell is None or getattr(shell, "history_manager", None) is None:
        print("notebook.check() checks the notebook it runs in (Jupyter or Colab); outside "
              "a notebook run: autograder check YOUR_FILE")
        return
    history = list(shell.history_manager.input_hist_raw)
    name = notebook_name()
    try:
        checked = _check(cells_run(history), name, problems, all, problems_dir, memory_limit)
    except (UsageError, GraderError) as error:
        _show_error(f"autograder check: {error}")
        return
    _show(checked, f"this notebook ({len(history) - 1} cells run so far)")


def _check(cells: Sequence[str], name: str, names: Sequence[str], everything: bool,
           problems_dir: str | Path | None, memory_limit: int | None) -> precheck.Checked:
    target = precheck.find_target(Path(problems_dir) if problems_dir else None,
                                  precheck.CHECKOUT_PROBLEMS)
    chosen = precheck.select(target.problems, names)
    options = precheck.check_options(target, dict(os.environ),
                                     memory_limit * 2**20 if memory_limit else None)
    with tempfile.TemporaryDirectory(prefix="autograder-notebook-") as scratch:
        path = Path(scratch) / name
        path.write_text(json.dumps(notebook_document(cells)), encoding="utf-8")
        return precheck.run_check(path, target, chosen, options, everything or bool(names))


def _display(html: str, text: str) -> None:
    try:
        from IPython.display import display
    except ImportError:
        print(text)
        return
    display({"text/html": html, "text/plain": text}, raw=True)  # type: ignore[no-untyped-call]


def _show(checked: precheck.Checked, name: str) -> None:
    console = Console(file=io.StringIO(), record=True, width=100, force_terminal=True,
                      color_system="truecolor", force_jupyter=False)
    precheck.print_check(checked, console, name)
    text = console.export_text(clear=False)
    html = console.export_html(inline_styles=True, code_format=(
        '<pre style="font-family: Menlo, Consolas, monospace; font-size: 12px; '
        'line-height: 1.35; white-space: pre-wrap">{code}</pre>'))
    _display(html, text)


def _show_error(message: str) -> None:
    from html import escape

    _display(f'<pre style="color: #b00">{escape(message)}</pre>', message)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext autograder.notebook``: the ``%autograder check [NAME...] [--all]`` magic."""

    def autograder(line: str) -> None:
        words = line.split()
        if not words or words[0] != "check":
            print("usage: %autograder check [NAME ...] [--all]")
            return
        names = [w for w in words[1:] if w != "--all"]
        check(*names, all="--all" in words[1:])

    ipython.register_magic_function(autograder, "line", "autograder")
