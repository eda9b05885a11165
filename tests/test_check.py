"""The student's pre-submission check, from a checkout: ``autograder check PATH``."""

from __future__ import annotations

import ast
import io
import json
import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from autograder.cli.main import ExitStatus
from autograder.spec import LoadedProblem
from autograder.student.kit import version_warning
from autograder.student.precheck import snapshot, watch
from autograder.student.statement import signature, starter, statement
from tests.support import EXAMPLES, run_check, write_files

# -- statements and starters ---------------------------------------------------------------

SEED_SIGNATURES = {  # the contract with students, from ../shared/seeds/README.md
    "vmap_over_batch": ("seed", "x_batch", "features"),
    "vmap_over_ensemble": ("seed", "x", "num_models", "features"),
    "nn_vmap_forward": ("seed", "x_batch", "features"),
    "composed_lifts_forward": ("seed", "x_batch", "num_layers", "features"),
}


@pytest.mark.parametrize("function", sorted(SEED_SIGNATURES))
def test_starter_defines_the_contracted_signature_and_a_stub(
        problems: dict[str, LoadedProblem], function: str) -> None:
    text = starter(problems[function])
    tree = ast.parse(text)
    (defined,) = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert defined.name == function
    assert tuple(a.arg for a in defined.args.args) == SEED_SIGNATURES[function]
    assert isinstance(defined.body[-1], ast.Raise)  # the stub, nothing of a solution
    assert "nnx.vmap(" not in text.split('"""')[-1] and "nn.vmap(" not in text.split('"""')[-1]


def test_statement_gives_signature_arguments_return_and_visible_cases(
        problems: dict[str, LoadedProblem]) -> None:
    problem = problems["vmap_over_batch"]
    text = statement(problem)
    assert signature(problem) == ("def vmap_over_batch(seed: float, x_batch: jax.Array, "
                                  "features: float) -> jax.Array:")
    assert f"```python\n{signature(problem)}\n```" in text
    assert "| `x_batch` | array | batch of shape (B, D_in) |" in text
    assert "**Returns:** 1-D array of shape (B * features,)" in text
    assert "before flattening, its shape is `(x_batch.shape[0], features)`" in text
    assert "3 visible, 5 hidden" in text
    assert ("- case 1 (batch of four): "
            "`vmap_over_batch(seed=0.0, x_batch=float32[4, 3], features=5.0)`") in text
    assert "a batch of one" not in text  # a hidden case's name


# -- the check from a checkout ---------------------------------------------------------------

@pytest.mark.worker
def test_correct_solution_passes_every_visible_test(cache_dir: Path) -> None:
    status, out = run_check(str(EXAMPLES / "correct" / "solution.py"), cache=cache_dir)
    assert status == ExitStatus.SUCCESS
    lines = out.splitlines()
    assert lines[0].startswith("Checking ") and lines[0].endswith("on the visible cases")
    assert lines[1:7] == [
        "✓ passed  composed_lifts_forward  5/5 points",
        "✓ passed  nn_vmap_forward         5/5 points",
        "✓ passed  scan_over_layers        5/5 points",
        "✓ passed  vmap_over_batch         5/5 points",
        "✓ passed  vmap_over_ensemble      5/5 points",
        "✓ passed  vmap_per_input          5/5 points",
    ]
    assert ("24 of 24 visible tests passed, 30/30 points. Gradescope also runs hidden "
            "cases.") in out
    assert "\x1b[" not in out  # plain when the output is not a terminal
    assert "Warning" not in out


@pytest.mark.worker
def test_wrong_solution_reports_each_diagnosis_with_its_numbers(cache_dir: Path) -> None:
    status, out = run_check(str(EXAMPLES / "classic-mistakes"), "--problem", "nn_vmap_forward",
                            "--problem", "vmap_over_ensemble", cache=cache_dir, color=True)
    assert status == ExitStatus.FAILURE
    assert "\x1b[" in out  # colour on a terminal
    lines = [line.rstrip() for line in _strip_ansi(out).splitlines()]
    assert lines[1] == "✗ failed  nn_vmap_forward     0/5 points  per-example-params (4 of 4 tests)"
    assert lines[2].startswith("✗ failed  vmap_over_ensemble  0/5 points  identical-members "
                               "(4 of 4 tests)")
    text = "\n".join(lines)
    assert "Your nn.vmap gives every example its own copy of the layer" in text
    assert "20 of 20 values differ from the expected ones" in text  # the numbers
    assert "largest absolute difference" in text
    assert "Every member of your ensemble gives the same output" in text
    assert "The same on: case 2 (wide inputs), case 3 (uniform inputs), the lifted" in text
    assert "composed_lifts_forward" not in text  # --problem: those two only
    assert "0 of 8 visible tests passed, 0/10 points." in text


def _strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


@pytest.mark.worker
def test_json_is_the_same_outcome_for_programs(mistakes_json: dict[str, Any]) -> None:
    data = mistakes_json
    assert data["passed"] is False and data["points"] == 2 and data["max_points"] == 30
    assert [p["function"] for p in data["problems"]] == [
        "composed_lifts_forward", "nn_vmap_forward", "scan_over_layers", "vmap_over_batch",
        "vmap_over_ensemble", "vmap_per_input"]
    assert all(t["visibility"] == "visible" for p in data["problems"] for t in p["tests"]
               if t["label"] != "the lifted transforms")
    first = {p["function"]: p["tests"][0]["feedback"] for p in data["problems"]}
    assert first["vmap_over_batch"]["id"] == "wrong-axis-order"
    tags = {p["function"]: p["tests"][0]["tags"] for p in data["problems"]}
    assert tags["vmap_over_batch"] == ["problem:vmap_over_batch", "pitfall:wrong-axis-order",
                                       "pitfall:runtime-error"]
    assert first["vmap_over_ensemble"]["id"] == "identical-members"
    assert first["vmap_over_ensemble"]["text"].startswith("Every member of your ensemble")
    assert first["vmap_per_input"]["id"] == "identical-models"
    assert first["scan_over_layers"]["id"] == "identical-layers"
    assert data["versions"]["jax"] == "0.10.2" and data["warnings"] == []


@pytest.mark.worker
def test_the_starter_files_fail_politely(tmp_path: Path, cache_dir: Path,
                                         problems: dict[str, LoadedProblem]) -> None:
    folder = write_files(tmp_path / "starter", {f"{name}.py": starter(problem)
                                                for name, problem in problems.items()})
    status, out = run_check(str(folder), "--json", cache=cache_dir)
    assert status == ExitStatus.FAILURE
    data = json.loads(out)
    assert data["points"] == 0 and data["fault"] is None
    ids = {t["feedback"]["id"] for p in data["problems"] for t in p["tests"]}
    assert ids == {"not-implemented"}
    summary = data["problems"][0]["tests"][0]["feedback"]["summary"]
    assert summary == ("Your `composed_lifts_forward` raised `NotImplementedError` (write "
                       "composed_lifts_forward here): it is still the starter stub. Replace "
                       "the `raise NotImplementedError` line with your solution.")


def test_usage_errors_exit_2_with_a_message(tmp_path: Path, cache_dir: Path) -> None:
    status, out = run_check(str(tmp_path / "nope.py"), cache=cache_dir)
    assert status == ExitStatus.USAGE
    assert "nope.py does not exist" in out
    status, out = run_check(str(EXAMPLES / "correct"), "--problem", "vmap_over_bach",
                            cache=cache_dir)
    assert status == ExitStatus.USAGE
    assert "no exercise 'vmap_over_bach'; did you mean 'vmap_over_batch'?" in out
    status, _ = run_check("--frobnicate", cache=cache_dir)
    assert status == ExitStatus.USAGE


# -- versions ---------------------------------------------------------------------------------

def test_version_warning_names_the_versions_and_the_fix() -> None:
    grader = {"jax": "0.10.2", "jaxlib": "0.10.2", "flax": "0.12.8", "numpy": "2.4.6"}
    assert version_warning(grader, dict(grader, python="3.12.1")) is None
    warning = version_warning(grader, dict(grader, jax="0.4.30", jaxlib="0.4.30"))
    assert warning == (
        "Your jax 0.4.30, jaxlib 0.4.30 differ from the grader's jax 0.10.2, jaxlib 0.10.2. "
        "Random initialisation can change between versions, so your numbers may not match "
        "Gradescope's. Install the grader's versions: pip install jax==0.10.2 jaxlib==0.10.2 "
        "flax==0.12.8 numpy==2.4.6")


# -- watching ---------------------------------------------------------------------------------

def test_watch_checks_again_after_each_save_and_stops_cleanly(tmp_path: Path) -> None:
    solution = write_files(tmp_path / "work", {"solution.py": "x = 1\n"}) / "solution.py"
    runs: list[float] = []
    done = threading.Event()
    console = Console(file=io.StringIO(), width=100)
    statuses = iter([1, 1, 0])

    def run() -> int:
        runs.append(time.monotonic())
        return next(statuses)

    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(
        watch(solution.parent, run, console, poll=0.02, keep_going=lambda: not done.is_set())))
    thread.start()
    try:
        _wait_for(lambda: len(runs) == 1)
        time.sleep(0.1)
        assert len(runs) == 1  # nothing changed: no re-run
        (solution.parent / "notes.txt").write_text("not code")  # not a submission file
        time.sleep(0.1)
        assert len(runs) == 1
        solution.write_text("x = 22\n")
        _wait_for(lambda: len(runs) == 2)
        (solution.parent / "helper.py").write_text("y = 2\n")  # a new file counts
        _wait_for(lambda: len(runs) == 3)
    finally:
        done.set()
        thread.join(timeout=5)
    assert result == [0]  # the status of the last run
    assert console.file.getvalue().count("changed: checking again") == 2  # type: ignore[attr-defined]


def test_snapshot_ignores_caches_and_non_code(tmp_path: Path) -> None:
    write_files(tmp_path, {"a.py": "1", "b.ipynb": "{}", "c.txt": "x",
                           "__pycache__/a.cpython-311.py": "", ".ipynb_checkpoints/b.ipynb": ""})
    assert sorted(Path(p).name for p in snapshot(tmp_path)) == ["a.py", "b.ipynb"]


def _wait_for(condition: Any, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.01)
