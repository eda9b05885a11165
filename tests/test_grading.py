"""End-to-end grading through real workers and real JAX: one test per failure kind.

Every wrong or broken submission must lose exactly the points of the cases it affects,
with the specific feedback id and a message a student understands.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from autograder.grading.engine import GradeOptions, grade
from autograder.grading.outcome import ProblemResult
from autograder.spec import LoadedProblem, load_problem
from tests.support import BATCH, EXAMPLES, NN_VMAP, GradeFiles, only

pytestmark = pytest.mark.worker

def batch(suffix: str = "", prefix: str = "") -> str:
    return prefix + BATCH.format(suffix=suffix)


def ids(result: ProblemResult) -> list[str | None]:
    return [None if c.feedback is None else c.feedback.id for c in result.cases]


def first_summary(result: ProblemResult) -> str:
    feedback = next(c.feedback for c in result.cases if c.feedback is not None)
    return feedback.summary


def test_the_correct_example_scores_full_marks_on_every_case(
        problems: dict[str, LoadedProblem], cache_dir: Path) -> None:
    report = grade(EXAMPLES / "correct", list(problems.values()),
                   GradeOptions(cache_dir=cache_dir))
    assert report.fault is None
    assert [p.points for p in report.problems] == [10.0] * 6
    assert all(c.feedback is None for p in report.problems for c in p.cases)
    assert report.environment["versions"]["jax"] == "0.10.2"
    assert report.environment["versions"]["flax"] == "0.12.8"


def test_numpy_return_type_and_aliased_imports_are_accepted(grade_files: GradeFiles) -> None:
    source = '''
    import numpy as np
    import flax.nnx as nx


    def vmap_over_batch(seed, x_batch, features):
        model = nx.Linear(x_batch.shape[-1], int(features), rngs=nx.Rngs(int(seed)))
        forward = nx.vmap(lambda m, x: m(x), in_axes=(None, 0))
        return np.asarray(forward(model, x_batch)).ravel()
    '''
    result = only(grade_files({"answer.py": source}, "vmap_over_batch"))
    assert ids(result) == [None] * 8
    assert result.points == 10


def test_functions_spread_across_files_with_a_helper_module(grade_files: GradeFiles) -> None:
    files = {
        "helpers.py": "from flax import nnx\n\ndef make(d, f, seed):\n"
                      "    return nnx.Linear(d, f, rngs=nnx.Rngs(seed))\n",
        "batch.py": '''
            from flax import nnx
            from helpers import make


            def vmap_over_batch(seed, x_batch, features):
                model = make(x_batch.shape[-1], int(features), int(seed))
                return nnx.vmap(lambda m, x: m(x), in_axes=(None, 0))(model, x_batch).reshape(-1)
            ''',
        "linen/forward.py": NN_VMAP,
    }
    report = grade_files(files, "vmap_over_batch", "nn_vmap_forward")
    assert [p.points for p in report.problems] == [10.0, 10.0]


def test_a_colab_notebook_with_shell_and_magic_lines_is_graded(grade_files: GradeFiles) -> None:
    def cell(source: str) -> dict[str, object]:
        return {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                "source": source.splitlines(keepends=True)}

    notebook = {
        "nbformat": 4, "nbformat_minor": 0, "metadata": {},
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": ["# My homework"]},
            cell("!pip install -q flax\n%matplotlib inline"),
            cell("from google.colab import drive\ndrive.mount('/content/drive')"),
            cell(batch()),
            cell("%%time\nprint(vmap_over_batch(0.0, __import__('numpy').ones((2, 3)), 4.0))"),
        ],
    }
    result = only(grade_files({"Homework.ipynb": json.dumps(notebook)}, "vmap_over_batch"))
    assert result.points == 10
    assert result.notes == (
        "Cell 2 of `Homework.ipynb` raised `ModuleNotFoundError`: No module named "
        "'google.colab'",)


def test_an_empty_submission_says_no_python_file_was_found(grade_files: GradeFiles) -> None:
    result = only(grade_files({"notes.txt": "I ran out of time"}, "vmap_over_batch"))
    assert ids(result) == ["missing-function"] * 8
    assert result.points == 0
    assert first_summary(result) == (
        "No Python file or notebook was found in your submission (found: notes.txt), so "
        "`vmap_over_batch` could not be graded. Submit your `.py` file or `.ipynb` notebook.")


def test_a_syntax_error_names_the_file_and_line(grade_files: GradeFiles) -> None:
    result = only(grade_files({"solution.py": "def vmap_over_batch(seed, x_batch, features)\n"
                                              "    return x_batch\n"}, "vmap_over_batch"))
    assert ids(result) == ["import-error"] * 8
    assert first_summary(result).startswith(
        "Your file could not be read because of a syntax error in `solution.py`, line 1: "
        "expected ':'.")


def test_a_misspelt_function_gets_a_did_you_mean(grade_files: GradeFiles) -> None:
    source = batch().replace("def vmap_over_batch", "def vmap_over_batches")
    result = only(grade_files({"solution.py": source}, "vmap_over_batch"))
    assert ids(result) == ["missing-function"] * 8
    assert first_summary(result) == (
        "No function named `vmap_over_batch` was found in your submission (`solution.py`). "
        "Did you mean to name `vmap_over_batches` `vmap_over_batch`? Define it at the top "
        "level of a file with exactly this name: `def vmap_over_batch(...):`.")


def test_another_exercises_function_is_never_a_did_you_mean(grade_files: GradeFiles) -> None:
    """``vmap_over_batch`` is named right for its own exercise: ``vmap_per_input``, missing,
    is not told to rename it (on Gradescope as in the student's check)."""
    report = grade_files({"solution.py": batch()}, "vmap_per_input", "vmap_over_batch",
                         visible_only=True)
    missing = report.problems[0]
    assert set(ids(missing)) == {"missing-function"}
    assert first_summary(missing) == (
        "No function named `vmap_per_input` was found in your submission (`solution.py`). "
        "Define it at the top level of a file with exactly this name: "
        "`def vmap_per_input(...):`.")


def test_a_wrong_signature_shows_both_signatures(grade_files: GradeFiles) -> None:
    source = "def vmap_over_batch(seed, x_batch):\n    return x_batch.reshape(-1)\n"
    result = only(grade_files({"solution.py": source}, "vmap_over_batch"))
    assert ids(result) == ["wrong-signature"] * 8
    assert first_summary(result) == (
        "Your `vmap_over_batch` cannot be called as `vmap_over_batch(seed, x_batch, features)`:"
        " too many positional arguments. Your definition is `vmap_over_batch(seed, x_batch)`; "
        "change it to take exactly these parameters, in this order.")


def test_an_exception_shows_the_student_traceback(grade_files: GradeFiles) -> None:
    source = "def vmap_over_batch(seed, x_batch, features):\n    return helper(x_batch)\n\n" \
             "def helper(x):\n    raise ValueError('not implemented yet')\n"
    result = only(grade_files({"solution.py": source}, "vmap_over_batch"))
    assert ids(result) == ["runtime-error"] * 8
    feedback = result.cases[0].feedback
    assert feedback is not None
    assert feedback.summary == "Your `vmap_over_batch` raised `ValueError`: not implemented yet."
    assert 'File "solution.py", line 2, in vmap_over_batch' in feedback.details
    assert 'File "solution.py", line 5, in helper' in feedback.details
    assert "autograder" not in feedback.details


def test_an_exception_on_one_case_costs_only_that_case(grade_files: GradeFiles) -> None:
    guard = "\n\n_real = vmap_over_batch\n\ndef vmap_over_batch(seed, x_batch, features):\n" \
            "    if x_batch.shape[0] == 1:\n        raise IndexError('batch of one')\n" \
            "    return _real(seed, x_batch, features)\n"
    result = only(grade_files({"solution.py": batch(suffix=guard)}, "vmap_over_batch"))
    assert ids(result) == [None, None, None, "runtime-error", None, None, None, None]
    assert result.points == pytest.approx(10 - 1.0)


def test_an_infinite_loop_times_out_and_later_cases_are_skipped(
        grade_files: GradeFiles,
        short_time_limit: Callable[[str, float], LoadedProblem]) -> None:
    problem = short_time_limit("vmap_over_batch", 4)
    source = "def vmap_over_batch(seed, x_batch, features):\n    while True:\n        pass\n"
    result = only(grade_files({"solution.py": source}, problem_dirs=(problem,)))
    assert ids(result) == ["timeout"] * 8
    assert result.points == 0
    assert first_summary(result).startswith(
        "Your `vmap_over_batch` did not return within the time limit of 4 s and was stopped.")
    assert result.cases[2].feedback is not None
    assert result.cases[2].feedback.summary.startswith(
        "Not run: your `vmap_over_batch` already timed out on 2 earlier cases")


def test_a_time_out_on_one_case_costs_only_that_case(
        grade_files: GradeFiles,
        short_time_limit: Callable[[str, float], LoadedProblem]) -> None:
    problem = short_time_limit("vmap_over_batch", 10)
    guard = "\n\nimport time\n_real = vmap_over_batch\n\n" \
            "def vmap_over_batch(seed, x_batch, features):\n" \
            "    if x_batch.shape[-1] == 1:\n        time.sleep(3600)\n" \
            "    return _real(seed, x_batch, features)\n"
    result = only(grade_files({"solution.py": batch(suffix=guard)}, problem_dirs=(problem,)))
    assert ids(result) == [None, None, None, None, "timeout", None, None, None]
    assert result.points == pytest.approx(10 - 1.0)


@pytest.mark.parametrize(("suffix", "kind", "summary"), [
    (".tolist()", "wrong-type",
     "Your function returned a list of 20 Python float values, but it must return an "
     "array (a jax or numpy array of shape (20,))."),
    (".reshape(-1, 1)", "wrong-shape",
     "Your output has shape (20, 1), but the expected shape is (20,). It has the right number "
     "of elements, so the values may be right but arranged differently: check the final "
     "reshape."),
    (".astype('float16')", "wrong-dtype",
     "Your output has dtype float16, but float32 is expected. Do not cast the result (for "
     "example with .astype or np.float64); return what the model computes."),
    (" / 0.0", "non-finite",
     "Your output has non-finite values ("),
    (" * 1.01", "wrong-values",
     "values differ from the expected ones beyond the tolerance (rtol=1e-05, atol=1e-06)."),
])
def test_output_mismatches_are_named_in_order(grade_files: GradeFiles, suffix: str, kind: str,
                                              summary: str) -> None:
    result = only(grade_files({"solution.py": batch(suffix=suffix)}, "vmap_over_batch",
                              visible_only=True))
    assert [c.feedback.id if c.feedback else None for c in result.cases] == [kind] * 3
    assert summary in first_summary(result)
    assert [c.points for c in result.cases] == [0, 0, 0]
    assert result.structure is not None and result.structure.passed  # the lifts are right


def test_sys_exit_at_import_is_contained(grade_files: GradeFiles) -> None:
    source = "import sys\nsys.exit('bye')\n" + batch()
    result = only(grade_files({"solution.py": source}, "vmap_over_batch"))
    assert ids(result) == ["import-error"] * 8
    assert first_summary(result).startswith(
        "Your file called `sys.exit()` while it was being imported")


def test_os_exit_in_one_function_does_not_cost_the_other(grade_files: GradeFiles) -> None:
    files = {"a.py": "import os\n\ndef vmap_over_batch(seed, x_batch, features):\n"
                     "    os._exit(3)\n",
             "b.py": NN_VMAP}
    report = grade_files(files, "vmap_over_batch", "nn_vmap_forward")
    crashed, fine = report.problems
    assert ids(crashed) == ["runtime-error"] * 8
    assert "exited with code 3" in first_summary(crashed)
    assert fine.points == 10


def test_os_exit_at_import_is_reported_as_a_crash(grade_files: GradeFiles) -> None:
    source = "import os\nos._exit(0)\n" + batch()
    result = only(grade_files({"solution.py": source}, "vmap_over_batch"))
    assert ids(result) == ["import-error"] * 8
    assert first_summary(result).startswith(
        "The Python process importing your file exited after")


def test_what_a_hidden_case_prints_stays_in_its_hidden_test(grade_files: GradeFiles) -> None:
    from autograder.gradescope.results import build_results

    source = ("print('importing')\n\ndef vmap_over_batch(seed, x_batch, features):\n"
              "    print('shape seen:', tuple(x_batch.shape))\n    raise ValueError('nope')\n")
    results = build_results(grade_files({"solution.py": source}, "vmap_over_batch"))
    outputs = {t["name"]: (t["visibility"], t["output"]) for t in results["tests"]}
    visibility, first = outputs["vmap_over_batch: case 1 (batch of four)"]
    assert visibility == "visible"
    assert "Your file printed when it was imported:\n```\nimporting\n" in first
    assert "Your code printed:\n```\nshape seen: (4, 3)\n" in first
    hidden_shapes = ["(1, 4)", "(3, 1)", "(6, 2)", "(7, 3)", "(2, 8)"]
    for visibility, output in outputs.values():
        if visibility == "visible":
            assert not any(shape in output for shape in hidden_shapes)
    _, hidden = outputs["vmap_over_batch: case 4 (a batch of one)"]
    assert "shape seen: (1, 4)" in hidden


def test_a_tampered_or_stale_cache_is_recomputed_never_trusted(
        tmp_path: Path, problems: dict[str, LoadedProblem]) -> None:
    import shutil

    import numpy as np

    from autograder.grading.cache import ExpectedCache, fingerprint
    from autograder.sandbox import worker_environment

    problem = problems["vmap_over_batch"]
    cache_dir = tmp_path / "expected"
    options = GradeOptions(cache_dir=cache_dir, visible_only=True)
    submission = tmp_path / "sub"
    submission.mkdir()
    (submission / "solution.py").write_text(batch())
    assert only(grade(submission, [problem], options)).points == 5.0
    key = fingerprint(problem, worker_environment(dict(os.environ), tmp_path))
    (entry,) = cache_dir.glob("vmap_over_batch-reference-*.npz")
    # Tampered: every expected output replaced by zeros, the digest left as it was.
    with np.load(entry) as data:
        arrays = {name: data[name] for name in data.files}
    np.savez(entry, **{n: (a if n == "__meta__" else np.zeros_like(a))
                       for n, a in arrays.items()})
    assert ExpectedCache(cache_dir).load(problem, key) is None
    assert only(grade(submission, [problem], options)).points == 5.0  # recomputed
    assert ExpectedCache(cache_dir).load(problem, key) is not None  # and stored again
    # Stale: the spec changed, so its fingerprint did; the old entry is never used.
    changed = tmp_path / "problems" / "vmap_over_batch"
    shutil.copytree(problem.directory, changed)
    spec = changed / "problem.yaml"
    spec.write_text(spec.read_text().replace("seed: 0.0\n", "seed: 9.0\n", 1))
    moved = load_problem(changed)
    assert fingerprint(moved, worker_environment(dict(os.environ), tmp_path)) != key
    assert only(grade(submission, [moved], options)).points == 5.0


def test_the_grader_itself_never_imports_jax_when_the_cache_is_warm(
        tmp_path: Path, cache_dir: Path) -> None:
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from autograder.cli import main\n"
        f"main(['grade', {str(EXAMPLES / 'correct')!r}, '--results', "
        f"{str(tmp_path / 'r.json')!r}, '--cache', {str(cache_dir)!r}, '--quiet', "
        "'--visible-only'])\n"
        "print(sorted(m for m in ('jax', 'flax', 'jaxlib') if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True, timeout=600)
    assert done.stdout.strip().splitlines()[-1] == "[]"
