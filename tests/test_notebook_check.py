"""The check from inside a notebook: ``notebook.check()`` and ``%autograder check`` in a real
Jupyter kernel, and the pieces it is made of (the cells run so far, the notebook written)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from autograder.student.notebook import cells_run, notebook_document, notebook_name
from autograder.worker.notebook import read_cells
from tests.support import CORRECT, REPO


def test_the_cells_run_so_far_leave_out_the_check_and_keep_the_numbering() -> None:
    history = ["", "import jax", "x = 1\nfrom autograder import notebook\nnotebook.check()",
               "%load_ext autograder.notebook", "%autograder check --all", "y = 2"]
    cells = cells_run(history)
    assert cells[0] == "import jax\n"
    assert cells[1] == ("x = 1\nfrom autograder import notebook\n"
                        "pass  # the notebook check: notebook.check()\n")
    assert cells[2].startswith("pass  # the notebook check: %load_ext")
    assert len(cells) == len(history) - 1  # cell k is In [k]


def test_the_notebook_written_is_read_as_its_cells(tmp_path: Path) -> None:
    path = tmp_path / "n.ipynb"
    path.write_text(json.dumps(notebook_document(["!pip install x\nimport jax\n", "y = 1\n"])))
    cells = read_cells(path)
    assert [c.number for c in cells] == [1, 2]
    assert cells[0].source == "pass  # notebook-only: !pip install x\nimport jax\n"
    assert notebook_name({"JPY_SESSION_NAME": "/home/s/work/lifts.ipynb"}) == "lifts.ipynb"
    assert notebook_name({}) == "notebook.ipynb"


@pytest.mark.worker
def test_a_notebook_checks_itself_in_a_real_kernel(tmp_path: Path, cache_dir: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """One kernel: a cell defines a correct vmap_over_batch, a shell line runs, then
    ``notebook.check()`` shows it passed and the others not attempted; the magic checks an
    exercise by name."""
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    # This interpreter's kernel, whatever kernels the machine has installed.
    spec = tmp_path / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(CORRECT),
        nbformat.v4.new_code_cell("!echo a shell line\nx = 1"),
        nbformat.v4.new_code_cell("from autograder import notebook\nnotebook.check()"),
        nbformat.v4.new_code_cell("%load_ext autograder.notebook\n"
                                  "%autograder check vmap_over_ensemble"),
    ]
    env = {k: v for k, v in os.environ.items() if k != "JPY_SESSION_NAME"}
    env.update(PYTHONPATH=str(REPO), AUTOGRADER_CACHE=str(cache_dir), NO_COLOR="1",
               HOME=str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    client = nbclient.NotebookClient(notebook, kernel_name="python3", timeout=600,
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute(env=env)

    def shown(cell: int) -> tuple[str, str]:
        (output,) = [o for o in notebook.cells[cell].outputs if o.output_type == "display_data"]
        return output.data["text/plain"], output.data["text/html"]

    text, html = shown(2)
    lines = [line.rstrip() for line in text.splitlines()]
    assert lines[:7] == [
        "Checking this notebook (3 cells run so far) on the visible cases",
        "✓ passed         vmap_over_batch         5/5 visible points (10 in all)",
        "- not attempted  vmap_over_ensemble      no such function yet (10 points in all)",
        "- not attempted  nn_vmap_forward         no such function yet (10 points in all)",
        "- not attempted  composed_lifts_forward  no such function yet (10 points in all)",
        "- not attempted  scan_over_layers        no such function yet (10 points in all)",
        "- not attempted  vmap_per_input          no such function yet (10 points in all)",
    ]
    assert ("4 of 4 visible tests passed, 5/5 visible points (10 in all; hidden tests are "
            "graded on Gradescope).") in text
    assert "<pre" in html and "vmap_over_batch" in html and "✓ passed" in html

    text, _ = shown(3)  # asked for by name: checked although not attempted
    assert "✗ failed         vmap_over_ensemble  0/5 visible points (10 in all)  " \
           "missing-function (4 of 4 tests)" in text
    assert "No function named vmap_over_ensemble was found in your submission " \
           "(notebook.ipynb)." in " ".join(text.split())
    assert "Did you mean" not in text  # vmap_over_batch is another exercise's, named right
