"""The command-line contract: ``python -m autograder grade SUBMISSION --results OUT.json``."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console

from autograder.cli.main import ExitStatus, main
from tests.support import EXAMPLES, PROBLEMS, REPO, write_files


def quiet_console() -> Console:
    return Console(file=io.StringIO(), width=100, no_color=True)


@pytest.mark.worker
def test_grade_writes_valid_results_with_problem_and_pitfall_tags(
        tmp_path: Path, cache_dir: Path, validate_results: Callable[[object], None]) -> None:
    out = tmp_path / "out" / "results.json"
    console = quiet_console()
    status = main(["grade", str(EXAMPLES / "classic-mistakes"), "--results", str(out),
                   "--cache", str(cache_dir)], env={}, console=console)
    assert status == ExitStatus.SUCCESS  # 0 whenever results were written, whatever the score
    results = json.loads(out.read_text())
    validate_results(results)
    # Every case fails; the composed-lifts structure test passes (its lifts are right).
    assert results["score"] == 2
    *tests, staff = results["tests"]  # the cases and structure tests, then staff's summary
    assert len(tests) == 6 * (8 + 1)
    assert staff["name"] == "Summary with hidden tests (staff only)"
    assert staff["output"].startswith("Score: 2 / 60\n")
    assert {t["visibility"] for t in tests} == {"visible", "hidden"}
    for test in tests:
        problem_tags = [t for t in test["tags"] if t.startswith("problem:")]
        assert problem_tags == [f"problem:{test['name'].split(':')[0]}"]
        structure = test["name"].endswith("the lifted transforms")
        assert test["max_score"] == (2.0 if structure else 1.0)
        if test["name"] == "composed_lifts_forward: the lifted transforms":
            assert test["status"] == "passed" and test["tags"] == [problem_tags[0]]
        else:
            assert test["status"] == "failed"
            assert any(t.startswith("pitfall:") for t in test["tags"])
    pitfalls = {t["name"].split(":")[0]: {tag for tag in t["tags"] if tag.startswith("pitfall")}
                for t in tests if t["name"].split(": ", 1)[1].startswith("case 1 (")}
    assert pitfalls == {"composed_lifts_forward": {"pitfall:wrong-type"},
                        "nn_vmap_forward": {"pitfall:per-example-params", "pitfall:wrong-values"},
                        "scan_over_layers": {"pitfall:identical-layers", "pitfall:wrong-values"},
                        "vmap_over_batch": {"pitfall:wrong-axis-order",
                                            "pitfall:runtime-error"},
                        "vmap_over_ensemble": {"pitfall:identical-members",
                                               "pitfall:wrong-values"},
                        "vmap_per_input": {"pitfall:identical-models", "pitfall:wrong-values"}}
    assert "jax 0.10.2" in results["output"] and "flax 0.12.8" in results["output"]
    report = console.file.getvalue()  # type: ignore[attr-defined]
    assert "Total: 2 / 60" in report
    assert "composed_lifts_forward: case 1 (two layers, batch of four) (visible)" in report


def test_a_malformed_spec_still_writes_valid_results_that_blame_the_grader(
        tmp_path: Path, validate_results: Callable[[object], None]) -> None:
    problems = write_files(tmp_path / "problems", {
        "broken/problem.yaml": "function: f\ntitle: t\npoints: 1\nparameters: []\ncases: []\n",
        "broken/reference.py": "def f():\n    return 0\n",
    })
    submission = write_files(tmp_path / "sub", {"solution.py": "def f():\n    return 1\n"})
    out = tmp_path / "results.json"
    console = quiet_console()
    status = main(["grade", str(submission), "--results", str(out), "--problems", str(problems)],
                  env={}, console=console)
    assert status == ExitStatus.SUCCESS
    results = json.loads(out.read_text())
    validate_results(results)
    visible, hidden = results["tests"]
    assert visible["name"] == "The autograder failed: please contact the course staff"
    assert visible["visibility"] == "visible" and visible["max_score"] == 0
    assert hidden["visibility"] == "hidden"
    assert "problems/broken/problem.yaml: parameters: needs at least 1 entry" in (
        hidden["output"])
    assert "The grader failed" in console.file.getvalue()  # type: ignore[attr-defined]


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert main(["grade", str(tmp_path)], env={}) == ExitStatus.USAGE  # no --results
    assert main(["nonsense"], env={}) == ExitStatus.USAGE


def test_a_missing_submission_path_is_a_grader_fault_with_valid_results(
        tmp_path: Path, validate_results: Callable[[object], None]) -> None:
    out = tmp_path / "results.json"
    status = main(["grade", str(tmp_path / "nope"), "--results", str(out)], env={},
                  console=quiet_console())
    assert status == ExitStatus.SUCCESS
    results = json.loads(out.read_text())
    validate_results(results)
    assert "does not exist" in results["tests"][1]["output"]


def test_zip_has_setup_and_run_autograder_at_its_root(tmp_path: Path) -> None:
    import zipfile

    out = tmp_path / "autograder.zip"
    assert main(["zip", "--output", str(out)], env={}, console=quiet_console()) == 0
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in archive.infolist()}
    assert {"setup.sh", "run_autograder", "requirements.lock"} <= set(names)
    assert modes["setup.sh"] == modes["run_autograder"] == 0o755
    assert {f"problems/{p.name}/problem.yaml" for p in PROBLEMS.iterdir()} <= set(names)
    assert not [n for n in names if "__pycache__" in n or n.startswith(("tests/", "examples/"))]
    # Deterministic: the same checkout gives the same bytes.
    again = tmp_path / "again.zip"
    main(["zip", "--output", str(again)], env={}, console=quiet_console())
    assert again.read_bytes() == out.read_bytes()


def test_python_dash_m_autograder_is_the_entry_point() -> None:
    done = subprocess.run([sys.executable, "-m", "autograder", "--help"], cwd=REPO,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0
    for command in ("grade", "gradescope", "warm", "zip"):
        assert command in done.stdout


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        if "==" in line and not line.lstrip().startswith("#"):
            name, version = line.split(";")[0].strip().split("==")
            pins[name.lower()] = version
    return pins


def test_the_grader_and_ci_locks_pin_the_same_versions() -> None:
    runtime = _pins(REPO / "requirements.lock")
    dev = _pins(REPO / "requirements-dev.lock")
    assert {name: dev.get(name) for name in runtime} == runtime
    assert runtime["jax"] == runtime["jaxlib"] == "0.10.2"
    assert runtime["flax"] == "0.12.8"
