"""Notebooks: IPython-only syntax neutralised, ordinary Python untouched, cells read from
Colab-style .ipynb files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from autograder.worker.notebook import Cell, NotebookError, clean_cell, read_cells

# -- clean_cell: IPython syntax is commented out --------------------------------------------


@pytest.mark.parametrize(("line", "cleaned"), [
    ("!pip install x", "pass  # notebook-only: !pip install x"),
    ("!nvidia-smi", "pass  # notebook-only: !nvidia-smi"),
    ("%matplotlib inline", "pass  # notebook-only: %matplotlib inline"),
    ("%load_ext autoreload", "pass  # notebook-only: %load_ext autoreload"),
    ("files = !ls", "pass  # notebook-only: files = !ls"),
    ("a, b = %sx ls", "pass  # notebook-only: a, b = %sx ls"),
    ("self.out = !pwd", "pass  # notebook-only: self.out = !pwd"),
    ("obj?", "pass  # notebook-only: obj?"),
    ("obj??", "pass  # notebook-only: obj??"),
    ("np.zeros?", "pass  # notebook-only: np.zeros?"),
    ("  !ls", "  pass  # notebook-only: !ls"),
])
def test_escapes_magics_and_help_are_neutralised(line: str, cleaned: str) -> None:
    assert clean_cell(line) == cleaned + "\n"


def test_indented_escape_keeps_the_block_valid() -> None:
    source = "def f():\n    !ls\n    return 1"
    cleaned = clean_cell(source)
    assert cleaned == "def f():\n    pass  # notebook-only: !ls\n    return 1\n"
    compile(cleaned, "cell", "exec")


def test_mixed_cell() -> None:
    source = ("!pip install -q flax\n"
              "%matplotlib inline\n"
              "import numpy as np\n"
              "x = np.ones(3)\n"
              "x?\n"
              "print(x)")
    assert clean_cell(source) == ("pass  # notebook-only: !pip install -q flax\n"
                                  "pass  # notebook-only: %matplotlib inline\n"
                                  "import numpy as np\n"
                                  "x = np.ones(3)\n"
                                  "pass  # notebook-only: x?\n"
                                  "print(x)\n")


@pytest.mark.parametrize("magic", ["%%bash", "%%writefile helpers.py", "%%html", "%%javascript",
                                   "%%"])
def test_non_python_cell_magics_comment_out_the_whole_cell(magic: str) -> None:
    source = f"{magic}\necho hi\nimport os"
    assert clean_cell(source) == (f"# notebook-only: {magic}\n"
                                  "# notebook-only: echo hi\n"
                                  "# notebook-only: import os\n")


@pytest.mark.parametrize("magic", ["%%time", "%%timeit -n 3", "%%capture out", "%%prun"])
def test_python_cell_magics_keep_their_body(magic: str) -> None:
    source = f"{magic}\nx = 1\nif x != 2:\n    y = x % 2"
    assert clean_cell(source) == f"# {magic}\nx = 1\nif x != 2:\n    y = x % 2\n"


def test_python_cell_magic_body_is_cleaned_too() -> None:
    assert clean_cell("%%time\n!ls\nx = 1") == ("# %%time\n"
                                                "pass  # notebook-only: !ls\n"
                                                "x = 1\n")


# -- clean_cell: ordinary Python is untouched -----------------------------------------------


@pytest.mark.parametrize("source", [
    "c = a % b",
    "y = x%2",
    "x = 5 % 3",
    "if x != y:\n    print(x)",
    "a = b != c",
    "x == y",
    "print('what?')",
    'print("100%")',
    "s = '%d items' % n",
    "x = a if b else c",
    "d = {1: 2}",
    "def f(x):\n    return x\n",
    "x = [1,\n     2]",
    "# a comment with ! and % and ?",
    "foo",
])
def test_ordinary_code_is_untouched(source: str) -> None:
    assert clean_cell(source) == source.rstrip("\n") + "\n"


def test_empty_cell() -> None:
    assert clean_cell("") == "\n"


# -- read_cells -----------------------------------------------------------------------------


def colab_notebook(cells: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "nbformat": 4,
        "nbformat_minor": 0,
        "metadata": {"colab": {"provenance": []}, "kernelspec": {"name": "python3",
                                                                 "display_name": "Python 3"}},
        "cells": cells,
    }


def code(source: str | list[str]) -> dict[str, Any]:
    return {"cell_type": "code", "execution_count": None, "metadata": {"id": "abc"},
            "outputs": [], "source": source}


def markdown(source: str | list[str]) -> dict[str, Any]:
    return {"cell_type": "markdown", "metadata": {}, "source": source}


def write(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_read_cells_of_a_colab_notebook(tmp_path: Path) -> None:
    notebook = write(tmp_path / "hw.ipynb", colab_notebook([
        markdown(["# Homework\n", "def not_code(): pass\n"]),
        code(["!pip install flax\n", "import jax\n"]),
        markdown("Some text"),
        code("def f(x):\n    return x + 1"),
        {"cell_type": "raw", "metadata": {}, "source": "raw text"},
        code(["%%bash\n", "ls\n"]),
        code([]),
    ]))
    assert read_cells(notebook) == [
        Cell(1, "pass  # notebook-only: !pip install flax\nimport jax\n"),
        Cell(2, "def f(x):\n    return x + 1\n"),
        Cell(3, "# notebook-only: %%bash\n# notebook-only: ls\n"),
        Cell(4, "\n"),
    ]


def test_source_list_and_string_give_the_same_cell(tmp_path: Path) -> None:
    as_list = write(tmp_path / "a.ipynb",
                    colab_notebook([code(["x = 1\n", "y = x % 2\n", "z = y != x"])]))
    as_string = write(tmp_path / "b.ipynb",
                      colab_notebook([code("x = 1\ny = x % 2\nz = y != x")]))
    assert read_cells(as_list) == read_cells(as_string) == [
        Cell(1, "x = 1\ny = x % 2\nz = y != x\n")]


def test_cells_that_are_not_mappings_are_skipped(tmp_path: Path) -> None:
    notebook = write(tmp_path / "n.ipynb", {"cells": ["junk", 3, code("a = 1")]})
    assert read_cells(notebook) == [Cell(1, "a = 1\n")]


def test_notebook_without_code_cells(tmp_path: Path) -> None:
    notebook = write(tmp_path / "n.ipynb", colab_notebook([markdown("only text")]))
    assert read_cells(notebook) == []


def test_garbage_is_a_notebook_error(tmp_path: Path) -> None:
    path = tmp_path / "garbage.ipynb"
    path.write_text("this is not json", encoding="utf-8")
    with pytest.raises(NotebookError) as info:
        read_cells(path)
    assert str(info.value) == ("garbage.ipynb is not a valid notebook file (Expecting value: "
                               "line 1 column 1 (char 0))")


def test_binary_garbage_is_a_notebook_error(tmp_path: Path) -> None:
    path = tmp_path / "binary.ipynb"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(NotebookError) as info:
        read_cells(path)
    assert str(info.value).startswith("binary.ipynb is not a valid notebook file (")


@pytest.mark.parametrize("document", [[1, 2], {"worksheets": []}, {"cells": "nope"}, "text"])
def test_json_without_a_cells_list_is_a_notebook_error(tmp_path: Path, document: Any) -> None:
    path = write(tmp_path / "odd.ipynb", document)
    with pytest.raises(NotebookError) as info:
        read_cells(path)
    assert str(info.value) == "odd.ipynb has no 'cells' list; is it really a .ipynb file?"


def test_missing_file_is_a_notebook_error(tmp_path: Path) -> None:
    with pytest.raises(NotebookError) as info:
        read_cells(tmp_path / "gone.ipynb")
    assert str(info.value).startswith("gone.ipynb is not a valid notebook file ([Errno 2] ")


def test_notebook_error_is_a_value_error() -> None:
    assert issubclass(NotebookError, ValueError)


# -- bugs -----------------------------------------------------------------------------------


@pytest.mark.parametrize("source", [
    "ok = (x\n      != y)",
    "r = (a\n     % b)",
    "total = a \\\n    % b",
])
def test_continuation_lines_starting_with_an_operator_are_untouched(source: str) -> None:
    assert clean_cell(source) == source + "\n"


def test_multiline_strings_are_untouched() -> None:
    source = 'TEMPLATE = """\n%d items\n!important\n"""'
    assert clean_cell(source) == source + "\n"


@pytest.mark.parametrize("line", ["?obj", "??np.zeros"])
def test_prefix_help_is_neutralised(line: str) -> None:
    assert clean_cell(line) == f"pass  # notebook-only: {line}\n"
