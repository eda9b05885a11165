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

from autograder.cli.main import ExitStatus, main
from autograder.grading.submission import scan_submission
from autograder.spec import LoadedProblem
from autograder.student.kit import version_warning
from autograder.student.precheck import not_attempted, snapshot, watch
from autograder.student.statement import COURSE_ORDER, signature, starter, statement
from tests.support import CORRECT, EXAMPLES, PROBLEMS, run_check, write_files

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
    assert lines[1:7] == [  # in the order students meet them
        "✓ passed         vmap_over_batch         5/5 visible points (10 in all)",
        "✓ passed         vmap_over_ensemble      5/5 visible points (10 in all)",
        "✓ passed         nn_vmap_forward         5/5 visible points (10 in all)",
        "✓ passed         composed_lifts_forward  5/5 visible points (10 in all)",
        "✓ passed         scan_over_layers        5/5 visible points (10 in all)",
        "✓ passed         vmap_per_input          5/5 visible points (10 in all)",
    ]
    assert ("24 of 24 visible tests passed, 30/30 visible points (60 in all; hidden tests "
            "are graded on Gradescope).") in " ".join(out.split())
    assert "not attempted" not in out
    assert "\x1b[" not in out  # plain when the output is not a terminal
    assert "Warning" not in out


@pytest.mark.worker
def test_wrong_solution_reports_each_diagnosis_with_its_numbers(cache_dir: Path) -> None:
    status, out = run_check(str(EXAMPLES / "classic-mistakes"), "--problem", "nn_vmap_forward",
                            "--problem", "vmap_over_ensemble", cache=cache_dir, color=True)
    assert status == ExitStatus.FAILURE
    assert "\x1b[" in out  # colour on a terminal
    lines = [line.rstrip() for line in _strip_ansi(out).splitlines()]
    assert lines[1] == ("✗ failed         nn_vmap_forward     0/5 visible points (10 in all)  "
                        "per-example-params (4 of 4 tests)")
    assert lines[2].startswith("✗ failed         vmap_over_ensemble  0/5 visible points (10 in "
                               "all)  identical-members (4 of 4 tests)")
    text = "\n".join(lines)
    assert "Your nn.vmap gives every example its own copy of the layer" in text
    assert "20 of 20 values differ from the expected ones" in text  # the numbers
    assert "largest absolute difference" in text
    assert "Every member of your ensemble gives the same output" in text
    assert "The same on: case 2 (wide inputs), case 3 (uniform inputs), the lifted" in text
    assert "composed_lifts_forward" not in text  # --problem: those two only
    assert "0 of 8 visible tests passed, 0/10 visible points (20 in all;" in text


def _strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


@pytest.mark.worker
def test_json_is_the_same_outcome_for_programs(mistakes_json: dict[str, Any]) -> None:
    data = mistakes_json
    assert data["passed"] is False and data["points"] == 2 and data["max_points"] == 30
    assert [p["function"] for p in data["problems"]] == [
        "vmap_over_batch", "vmap_over_ensemble", "nn_vmap_forward", "composed_lifts_forward",
        "scan_over_layers", "vmap_per_input"]
    assert data["total_points"] == 60 and data["not_attempted"] == []
    assert [p["status"] for p in data["problems"]] == ["failed"] * 6
    assert all(t["visibility"] == "visible" for p in data["problems"] for t in p["tests"]
               if t["label"] != "the lifted transforms")
    first = {p["function"]: p["messages"][p["tests"][0]["feedback"]["message"]]
             for p in data["problems"]}
    assert first["vmap_over_batch"]["id"] == "wrong-axis-order"
    tags = {p["function"]: p["tests"][0]["tags"] for p in data["problems"]}
    assert tags["vmap_over_batch"] == ["problem:vmap_over_batch", "pitfall:wrong-axis-order",
                                       "pitfall:runtime-error"]
    assert first["vmap_over_ensemble"]["id"] == "identical-members"
    assert first["vmap_over_ensemble"]["summary"].startswith("Every member of your ensemble")
    assert first["vmap_per_input"]["id"] == "identical-models"
    assert first["scan_over_layers"]["id"] == "identical-layers"
    assert data["versions"]["jax"] == "0.10.2" and data["warnings"] == []


@pytest.mark.worker  # the fixture grades a submission in real workers
def test_json_carries_each_message_once(mistakes_json: dict[str, Any]) -> None:
    """A message shared by several tests is written once; each test points at it, with its
    own details only where they differ (another case's numbers)."""
    for problem in mistakes_json["problems"]:
        assert len({(m["id"], m["summary"]) for m in problem["messages"]}) == len(
            problem["messages"])
        for test in problem["tests"]:
            if test["feedback"] is not None:
                message = problem["messages"][test["feedback"]["message"]]
                assert message["id"] == test["feedback"]["id"]
                assert test["label"] in message["tests"]
                assert set(test["feedback"]) <= {"id", "message", "details"}
                assert test["feedback"].get("details") != message["details"]
    text = json.dumps(mistakes_json)
    for problem in mistakes_json["problems"]:
        for message in problem["messages"]:
            assert text.count(json.dumps(message["summary"])) == 1


@pytest.mark.worker
def test_one_correct_exercise_passes_and_the_others_are_not_attempted(
        tmp_path: Path, cache_dir: Path, problems: dict[str, LoadedProblem]) -> None:
    """The starters as ``autograder start`` writes them, one of them solved."""
    folder = write_files(tmp_path / "work", {f"{name}.py": starter(problem)
                                             for name, problem in problems.items()})
    (folder / "vmap_over_batch.py").write_text(CORRECT)
    status, out = run_check(str(folder), cache=cache_dir)
    assert status == ExitStatus.SUCCESS, out
    lines = [line.rstrip() for line in out.splitlines()]
    assert lines[1:7] == [
        "✓ passed         vmap_over_batch         5/5 visible points (10 in all)",
        "- not attempted  vmap_over_ensemble      still the starter stub (10 points in all)",
        "- not attempted  nn_vmap_forward         still the starter stub (10 points in all)",
        "- not attempted  composed_lifts_forward  still the starter stub (10 points in all)",
        "- not attempted  scan_over_layers        still the starter stub (10 points in all)",
        "- not attempted  vmap_per_input          still the starter stub (10 points in all)",
    ]
    assert lines[-2:] == [
        "4 of 4 visible tests passed, 5/5 visible points (10 in all; hidden tests are graded on "
        "Gradescope).",
        "5 exercises not attempted (50 more points in all): `--all` checks every exercise, as "
        "Gradescope does."]
    assert "Did you mean" not in out

    # --all: every exercise, the stubs failing as on Gradescope.
    status, out = run_check(str(folder), "--all", "--json", cache=cache_dir)
    assert status == ExitStatus.FAILURE
    data = json.loads(out)
    assert data["passed"] is False and data["not_attempted"] == []
    assert [p["status"] for p in data["problems"]] == ["passed"] + ["failed"] * 5
    ids = {m["id"] for p in data["problems"][1:] for m in p["messages"]}
    assert ids == {"not-implemented"}
    summary = data["problems"][1]["messages"][0]["summary"]
    assert summary == ("Your `vmap_over_ensemble` raised `NotImplementedError` (write "
                       "vmap_over_ensemble here): it is still the starter stub. Replace "
                       "the `raise NotImplementedError` line with your solution.")


@pytest.mark.worker
def test_a_missing_exercise_asked_for_is_never_told_to_rename_another(
        tmp_path: Path, cache_dir: Path) -> None:
    solution = write_files(tmp_path, {"solution.py": CORRECT}) / "solution.py"
    status, out = run_check(str(solution), "--problem", "vmap_per_input", cache=cache_dir)
    assert status == ExitStatus.FAILURE
    text = " ".join(out.split())
    assert "No function named vmap_per_input was found in your submission (solution.py)." in text
    assert "Did you mean" not in text  # vmap_over_batch is named right, for its own exercise


def test_nothing_attempted_fails_naming_the_functions_expected(
        tmp_path: Path, cache_dir: Path, problems: dict[str, LoadedProblem]) -> None:
    """No worker starts: the check reads the files (``ast``) and stops."""
    empty = write_files(tmp_path / "a", {"notes.py": "x = 1\n"}) / "notes.py"
    status, out = run_check(str(empty), cache=cache_dir)
    assert status == ExitStatus.FAILURE
    assert " ".join(out.split()).endswith(
        f"Nothing to check in {empty}: it defines none of the exercises' functions. Define at "
        "least one of these at the top level of a .py file or notebook, with exactly this name: "
        "`vmap_over_batch(seed, x_batch, features)`, `vmap_over_ensemble(seed, x, num_models, "
        "features)`, `nn_vmap_forward(seed, x_batch, features)`, `composed_lifts_forward(seed, "
        "x_batch, num_layers, features)`, `scan_over_layers(seed, x_batch, num_layers, "
        "features)`, `vmap_per_input(seed, x_batch, features)` (`autograder start` writes a "
        "starter for each).")
    stubs = write_files(tmp_path / "b", {"one.py": starter(problems["nn_vmap_forward"])})
    status, out = run_check(str(stubs), "--json", cache=cache_dir)
    assert status == ExitStatus.FAILURE
    data = json.loads(out)
    assert data["passed"] is False and data["problems"][2]["reason"] == "still the starter stub"
    assert data["message"].startswith(f"Nothing to check yet in {stubs}: nn_vmap_forward is "
                                      "still the starter stub.")


def test_what_counts_as_not_attempted(tmp_path: Path,
                                      problems: dict[str, LoadedProblem]) -> None:
    chosen = [problems[f] for f in ("vmap_over_batch", "vmap_over_ensemble", "nn_vmap_forward",
                                    "composed_lifts_forward", "scan_over_layers")]
    folder = write_files(tmp_path, {
        "a.py": """
            def vmap_over_batch(seed, x_batch, features):
                "Docstring."
                raise NotImplementedError
            def vmap_over_ensemble(seed, x, num_models, features):
                pass
            def nn_vmap_forward(seed, x_batch, features):
                return None  # attempted, even if wrong
            """,
        "b.py": "def composed_lifts_forward(:\n",  # a syntax error: graded, to report it
    })
    skipped = not_attempted(scan_submission(folder), chosen)
    assert skipped == {"vmap_over_batch": "still the starter stub",
                       "vmap_over_ensemble": "still the starter stub"}
    folder2 = write_files(tmp_path / "c", {"n.ipynb": json.dumps({"cells": [
        {"cell_type": "code", "source": "def scan_over_layers(seed, x_batch, n, f):\n"
                                        "    raise NotImplementedError('todo')\n"},
        {"cell_type": "code", "source": "def scan_over_layers(seed, x_batch, n, f):\n"
                                        "    return x_batch\n"}]})})
    assert not_attempted(scan_submission(folder2), chosen[4:]) == {}  # the last def counts


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


# -- starting ---------------------------------------------------------------------------------

def test_start_writes_the_statement_and_starters_and_never_overwrites(tmp_path: Path) -> None:
    work = tmp_path / "lifted"
    console = Console(file=io.StringIO(), width=200)
    assert main(["start", str(work)], env={}, console=console) == ExitStatus.SUCCESS
    functions = [*COURSE_ORDER, "scan_over_layers", "vmap_per_input"]
    assert sorted(p.name for p in work.iterdir()) == sorted(
        ["PROBLEMS.md", *(f"{f}.py" for f in functions)])
    statement_text = (work / "PROBLEMS.md").read_text()
    # The order students meet them: the seeds' order, then the others.
    at = [statement_text.index(f"## `{f}`") for f in functions]
    assert at == sorted(at)
    own = (PROBLEMS / "vmap_per_input" / "starter.py").read_text()
    assert (work / "vmap_per_input.py").read_text() == own
    assert "autograder check <this file>" in (work / "vmap_over_batch.py").read_text()
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert f"wrote    {work / 'PROBLEMS.md'}" in out
    assert f"Next: read {work}/PROBLEMS.md" in out

    (work / "vmap_over_batch.py").write_text("my work\n")
    (work / "PROBLEMS.md").unlink()
    console = Console(file=io.StringIO(), width=200)
    assert main(["start", str(work)], env={}, console=console) == ExitStatus.SUCCESS
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert (work / "vmap_over_batch.py").read_text() == "my work\n"  # kept
    assert out.splitlines()[0] == f"wrote    {work / 'PROBLEMS.md'}"
    assert (f"skipped  {work / 'vmap_over_batch.py'}: already there, kept as it is (delete or "
            "rename it for a fresh copy)") in out
    assert out.count("skipped  ") == 6
    console = Console(file=io.StringIO(), width=200)
    assert main(["start", str(work / "PROBLEMS.md")], env={},
                console=console) == ExitStatus.USAGE
