"""Submissions on the trusted side: files are parsed (never run) to find functions by name."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from autograder.errors import GraderError, SubmissionError
from autograder.grading.submission import (
    MAX_FILE_BYTES,
    SourceFile,
    Submission,
    scan_submission,
    stage,
)

MAIN_PY = """\
import numpy as np
import jax.numpy as jnp
from helpers import vmap_over_batch
from os import path as ospath

if __name__ == "__main__":
    def guarded():
        pass
else:
    def other_branch():
        pass

try:
    def in_try():
        pass
except ImportError:
    pass

with open(__file__) as handle:
    def in_with():
        pass

CONSTANT = 3
annotated: int = 5
first = second = 1
alias = np.zeros


class Model:
    def method(self):
        pass


async def coroutine():
    pass


def outer():
    def inner():
        pass
    return inner
"""

HELPERS_PY = """\
def vmap_over_batch(seed, x_batch, features):
    return x_batch


def vmap_over_ensmble(seed, x, num_models, features):
    return x
"""


def notebook(*sources: str) -> str:
    cells: list[dict[str, Any]] = [
        {"cell_type": "markdown", "metadata": {}, "source": ["def in_markdown(): pass"]}]
    cells += [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
               "source": source.splitlines(keepends=True)} for source in sources]
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def submission_dir(tmp_path: Path) -> Path:
    root = tmp_path / "submission"
    write(root / "main.py", MAIN_PY)
    write(root / "helpers.py", HELPERS_PY)
    write(root / "broken.py", "x = 1\n\ndef f(\n")
    write(root / "pkg" / "extra.py", "def nn_vmap_forward(seed, x_batch, features):\n"
                                     "    return x_batch\n")
    write(root / "homework.ipynb", notebook(
        "!pip install flax\nimport jax",
        "def vmap_over_batch(seed, x_batch, features):\n    return None",
        "def (broken cell",
        "def composed_lifts_forward(seed, x_batch, num_layers, features):\n    return None",
    ))
    write(root / "__pycache__" / "cached.py", "def in_pycache(): pass\n")
    write(root / ".ipynb_checkpoints" / "homework-checkpoint.ipynb",
          notebook("def in_checkpoint(): pass"))
    write(root / ".hidden" / "secret.py", "def in_hidden(): pass\n")
    write(root / "__MACOSX" / "mac.py", "def in_macosx(): pass\n")
    write(root / ".dotfile.py", "def in_dotfile(): pass\n")
    write(root / "notes.txt", "notes")
    write(root / "data" / "weights.csv", "1,2,3")
    return root


def by_name(submission: Submission) -> dict[str, SourceFile]:
    return {f.relative: f for f in submission.files}


# -- scan_submission ------------------------------------------------------------------------


def test_scan_finds_source_files_and_ignores_junk(submission_dir: Path) -> None:
    submission = scan_submission(submission_dir)
    assert submission.root == submission_dir.resolve()
    assert [f.relative for f in submission.files] == [
        "broken.py", "helpers.py", "homework.ipynb", "main.py", "pkg/extra.py"]
    assert submission.other_files == ("data/weights.csv", "notes.txt")
    for source in submission.files:
        assert source.path == submission_dir.resolve() / source.relative
        assert source.path.is_absolute()


def test_scan_records_top_level_names(submission_dir: Path) -> None:
    files = by_name(scan_submission(submission_dir))
    assert files["main.py"].defines == frozenset({
        "np", "jnp", "vmap_over_batch", "ospath", "guarded", "other_branch", "in_try",
        "in_with", "CONSTANT", "annotated", "first", "second", "alias", "Model", "coroutine",
        "outer"})
    assert files["main.py"].error is None
    assert files["helpers.py"].defines == frozenset({"vmap_over_batch", "vmap_over_ensmble"})
    assert files["pkg/extra.py"].defines == frozenset({"nn_vmap_forward"})


def test_nested_definitions_do_not_count(submission_dir: Path) -> None:
    defines = by_name(scan_submission(submission_dir))["main.py"].defines
    assert "inner" not in defines
    assert "method" not in defines


def test_import_of_a_dotted_module_records_the_package(tmp_path: Path) -> None:
    write(tmp_path / "a.py", "import os.path\nimport numpy.linalg as la\n")
    assert scan_submission(tmp_path).files[0].defines == frozenset({"os", "la"})


def test_notebook_names_skip_markdown_and_broken_cells(submission_dir: Path) -> None:
    homework = by_name(scan_submission(submission_dir))["homework.ipynb"]
    assert homework.defines == frozenset({"jax", "vmap_over_batch", "composed_lifts_forward"})
    assert homework.error is None


def test_syntax_errors_are_recorded_per_file(submission_dir: Path) -> None:
    files = by_name(scan_submission(submission_dir))
    assert files["broken.py"].defines == frozenset()
    assert files["broken.py"].error == "line 3: '(' was never closed"
    assert [f.relative for f in files.values() if f.error] == ["broken.py"]


@pytest.mark.parametrize(("source", "error"), [
    ("def f(:\n", "line 1: invalid syntax"),
    ("def f():\nreturn 1\n", "line 2: expected an indented block after function definition "
                             "on line 1"),
    ('print "hi"\n', "line 1: Missing parentheses in call to 'print'. Did you mean print(...)?"),
])
def test_syntax_error_messages(tmp_path: Path, source: str, error: str) -> None:
    write(tmp_path / "bad.py", source)
    assert scan_submission(tmp_path).files == (
        SourceFile(tmp_path.resolve() / "bad.py", "bad.py", frozenset(), error),)


def test_garbage_notebook_is_an_error(tmp_path: Path) -> None:
    write(tmp_path / "hw.ipynb", "not json at all")
    (source,) = scan_submission(tmp_path).files
    assert source.defines == frozenset()
    assert source.error == ("hw.ipynb is not a valid notebook file (Expecting value: line 1 "
                            "column 1 (char 0))")


def test_file_too_large(tmp_path: Path) -> None:
    write(tmp_path / "huge.py", "#" * (MAX_FILE_BYTES + 1))
    write(tmp_path / "ok.py", "#" * MAX_FILE_BYTES)
    files = by_name(scan_submission(tmp_path))
    assert files["huge.py"].error == "huge.py is larger than 5 MB, so it was not read"
    assert files["huge.py"].unusable
    assert files["ok.py"].error is None


def test_null_bytes_are_an_error_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "nul.py").write_bytes(b"x = 1\x00\n")
    (source,) = scan_submission(tmp_path).files
    assert source.error is not None
    assert source.defines == frozenset()


def test_symlinks_are_ignored(tmp_path: Path) -> None:
    outside = write(tmp_path / "outside" / "target.py", "def leaked(): pass\n")
    root = tmp_path / "submission"
    write(root / "real.py", "def real(): pass\n")
    os.symlink(outside, root / "link.py")
    submission = scan_submission(root)
    assert [f.relative for f in submission.files] == ["real.py"]
    assert submission.other_files == ()


def test_empty_directory(tmp_path: Path) -> None:
    submission = scan_submission(tmp_path)
    assert submission.files == ()
    assert submission.other_files == ()
    assert submission.locate("f") is None
    assert submission.near_names("f") == []


def test_directory_without_python(tmp_path: Path) -> None:
    write(tmp_path / "report.pdf", "%PDF")
    submission = scan_submission(tmp_path)
    assert submission.files == ()
    assert submission.other_files == ("report.pdf",)


# -- a single file --------------------------------------------------------------------------


def test_single_file_submission(submission_dir: Path) -> None:
    submission = scan_submission(submission_dir / "helpers.py")
    assert submission.root == submission_dir.resolve()
    assert [f.relative for f in submission.files] == ["helpers.py"]
    assert submission.other_files == ()
    assert submission.locate("vmap_over_batch") == submission.files[0]


def test_single_notebook_submission(submission_dir: Path) -> None:
    submission = scan_submission(submission_dir / "homework.ipynb")
    assert [f.relative for f in submission.files] == ["homework.ipynb"]
    located = submission.locate("composed_lifts_forward")
    assert located is not None
    assert located.relative == "homework.ipynb"


def test_single_non_source_file(tmp_path: Path) -> None:
    path = write(tmp_path / "answer.txt", "42")
    submission = scan_submission(path)
    assert submission.files == ()
    assert submission.other_files == ("answer.txt",)


def test_missing_path_is_a_submission_error(tmp_path: Path) -> None:
    with pytest.raises(SubmissionError) as info:
        scan_submission(tmp_path / "nowhere")
    assert str(info.value) == f"submission {tmp_path.resolve() / 'nowhere'} does not exist"
    assert isinstance(info.value, GraderError)


def test_relative_path_is_resolved(submission_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(submission_dir.parent)
    submission = scan_submission("submission")
    assert submission.root == submission_dir.resolve()


# -- locate and near_names ------------------------------------------------------------------


def located(submission: Submission, function: str) -> str | None:
    source = submission.locate(function)
    return None if source is None else source.relative


def test_locate_prefers_a_python_file_over_a_notebook(submission_dir: Path) -> None:
    submission = scan_submission(submission_dir)
    # defined in helpers.py, re-exported by main.py, and defined in homework.ipynb
    assert located(submission, "vmap_over_batch") == "helpers.py"


def test_locate_finds_re_exports(tmp_path: Path) -> None:
    write(tmp_path / "a_main.py", "from z_helpers import f\n")
    write(tmp_path / "z_helpers.py", "def g(): pass\n")
    write(tmp_path / "nb.ipynb", notebook("def f(): pass"))
    assert located(scan_submission(tmp_path), "f") == "a_main.py"


def test_locate_ties_between_python_files_are_by_path(tmp_path: Path) -> None:
    # the first by relative path wins (NB: the docstring says "later files win ties")
    write(tmp_path / "b.py", "def f(): pass\n")
    write(tmp_path / "a.py", "def f(): pass\n")
    write(tmp_path / "sub" / "c.py", "def f(): pass\n")
    assert located(scan_submission(tmp_path), "f") == "a.py"


def test_locate_falls_back_to_a_notebook(submission_dir: Path) -> None:
    submission = scan_submission(submission_dir)
    assert located(submission, "composed_lifts_forward") == "homework.ipynb"
    assert located(submission, "nn_vmap_forward") == "pkg/extra.py"
    assert located(submission, "guarded") == "main.py"


def test_locate_returns_a_broken_file_when_nothing_defines_the_function(
        submission_dir: Path) -> None:
    source = scan_submission(submission_dir).locate("vmap_over_ensemble")
    assert source is not None
    assert source.relative == "broken.py"
    assert source.error == "line 3: '(' was never closed"


def test_locate_returns_the_first_broken_file(tmp_path: Path) -> None:
    write(tmp_path / "b_broken.py", "def (\n")
    write(tmp_path / "a_broken.ipynb", "garbage")
    write(tmp_path / "ok.py", "def g(): pass\n")
    assert located(scan_submission(tmp_path), "f") == "a_broken.ipynb"


def test_locate_none_when_nothing_defines_it_and_nothing_is_broken(tmp_path: Path) -> None:
    write(tmp_path / "ok.py", "def g(): pass\n")
    assert scan_submission(tmp_path).locate("f") is None


def test_near_names(submission_dir: Path) -> None:
    submission = scan_submission(submission_dir)
    assert submission.near_names("vmap_over_ensemble") == ["vmap_over_ensmble"]
    assert submission.near_names("vmap_over_bach") == ["vmap_over_batch"]
    assert submission.near_names("completely_different") == []


def test_near_names_ignore_hidden_and_ignored_dirs(submission_dir: Path) -> None:
    submission = scan_submission(submission_dir)
    assert submission.near_names("in_pycach") == []
    assert submission.near_names("in_checkpoin") == []
    assert submission.near_names("in_hidde") == []


# -- stage ----------------------------------------------------------------------------------


def test_stage_copies_source_files(submission_dir: Path, tmp_path: Path) -> None:
    original = scan_submission(submission_dir)
    destination = tmp_path / "workspace" / "submission"
    staged = stage(original, destination)
    assert staged.root == destination
    assert staged.other_files == original.other_files
    assert [f.relative for f in staged.files] == [f.relative for f in original.files]
    for before, after in zip(original.files, staged.files, strict=True):
        assert after.path == destination / before.relative
        assert after.path.read_bytes() == before.path.read_bytes()
        assert after.defines == before.defines
        assert after.error == before.error
    # only source files are copied; the original is untouched
    assert sorted(str(p.relative_to(destination)) for p in destination.rglob("*")
                  if p.is_file()) == ["broken.py", "helpers.py", "homework.ipynb", "main.py",
                                      "pkg/extra.py"]
    assert (submission_dir / "main.py").read_text(encoding="utf-8") == MAIN_PY


def test_staged_copies_are_independent(submission_dir: Path, tmp_path: Path) -> None:
    staged = stage(scan_submission(submission_dir), tmp_path / "copy")
    (tmp_path / "copy" / "helpers.py").write_text("changed", encoding="utf-8")
    assert (submission_dir / "helpers.py").read_text(encoding="utf-8") == HELPERS_PY
    located_file = staged.locate("vmap_over_batch")
    assert located_file is not None
    assert located_file.path == tmp_path / "copy" / "helpers.py"


def test_stage_a_single_file(submission_dir: Path, tmp_path: Path) -> None:
    staged = stage(scan_submission(submission_dir / "helpers.py"), tmp_path / "one")
    assert [p.name for p in (tmp_path / "one").iterdir()] == ["helpers.py"]
    assert staged.files[0].path.read_text(encoding="utf-8") == HELPERS_PY


# -- bugs -----------------------------------------------------------------------------------


def test_definitions_in_except_and_finally_count(tmp_path: Path) -> None:
    write(tmp_path / "a.py", "try:\n    from fast import f\nexcept ImportError:\n"
                             "    def g():\n        pass\nfinally:\n    def h():\n        pass\n")
    assert scan_submission(tmp_path).files[0].defines == frozenset({"f", "g", "h"})


def test_tuple_unpacking_defines_names(tmp_path: Path) -> None:
    write(tmp_path / "a.py", "f, (g, h) = 1, (2, 3)\n")
    assert scan_submission(tmp_path).files[0].defines == frozenset({"f", "g", "h"})


def test_near_names_never_suggest_another_exercises_function(submission_dir: Path) -> None:
    submission = scan_submission(submission_dir)
    assert submission.near_names("vmap_over_bach") == ["vmap_over_batch"]
    assert "vmap_over_batch" not in submission.near_names("vmap_over_bach",
                                                          exclude={"vmap_over_batch"})
