"""The zip, run the way Gradescope runs it, in a temporary /autograder tree.

Unpack ``dist/autograder.zip`` into ``ROOT/source``, run ``setup.sh`` (which builds its own
virtual environment from the pinned lock and warms the reference cache), put a submission in
``ROOT/submission``, run ``run_autograder`` from ``ROOT``, and check ``results.json``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from autograder.gradescope.package import build_zip
from autograder.spec.assignment import load_assignment
from tests.support import EXAMPLES, ISOLATED, REPO, write_files

#: The seed exercises, in the order lifted-transforms.yaml gives them.
SEEDS = ("vmap_over_batch", "vmap_over_ensemble", "nn_vmap_forward", "composed_lifts_forward")


def _run(command: list[str], root: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AUTOGRADER_ROOT": str(root)}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                          check=False, timeout=1800)


@pytest.mark.slow
@pytest.mark.worker
def test_the_zip_installs_and_grades_like_gradescope(
        tmp_path: Path, validate_results: Callable[[object], None]) -> None:
    root = tmp_path / "autograder"
    (root / "source").mkdir(parents=True)
    # What `make zip ASSIGNMENT=assignments/lifted-transforms.yaml` builds: the four seed
    # exercises, and no other problem of the bank.
    assignment = REPO / "assignments" / "lifted-transforms.yaml"
    archive = build_zip(REPO, tmp_path / "autograder.zip",
                        load_assignment(assignment, REPO / "problems"), assignment)
    assert {"setup.sh", "run_autograder", "assignment.yaml"} <= set(archive)
    assert {name.split("/")[1] for name in archive if name.startswith("problems/")} == set(SEEDS)
    with zipfile.ZipFile(tmp_path / "autograder.zip") as zipped:
        zipped.extractall(root / "source")
    for name in ("setup.sh", "run_autograder"):  # zipfile does not restore modes
        (root / "source" / name).chmod(0o755)

    setup = _run(["bash", "setup.sh"], root, root / "source")
    assert setup.returncode == 0, setup.stdout + setup.stderr
    assert "expected outputs ready" in setup.stdout
    assert list((root / "source" / ".cache" / "expected").glob("*.npz"))

    shutil.copytree(EXAMPLES / "correct", root / "submission")
    graded = _run([str(root / "source" / "run_autograder")], root, root)
    assert graded.returncode == 0, graded.stdout + graded.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    validate_results(results)
    assert results["score"] == 40  # 40/40: the assignment's points, not the bank's 60
    assert len(results["tests"]) == 4 * 9 + 1  # and the staff summary (tests are hidden)
    graded = [tag.removeprefix("problem:") for t in results["tests"] for tag in t["tags"]
              if tag.startswith("problem:")]
    assert list(dict.fromkeys(graded)) == list(SEEDS)  # in the assignment's order
    if os.geteuid() == 0:  # as on Gradescope: setup.sh prepared the unprivileged user
        assert ISOLATED.fullmatch(results["extra_data"]["environment"]["isolation"])
    assert all(t["status"] == "passed" for t in results["tests"])

    shutil.rmtree(root / "submission")
    shutil.copytree(EXAMPLES / "classic-mistakes", root / "submission")
    graded = _run([str(root / "source" / "run_autograder")], root, root)
    assert graded.returncode == 0, graded.stdout + graded.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    validate_results(results)
    # Only the composed-lifts structure test passes: its lifts are right, its return is not.
    assert results["score"] == 2 and len(results["tests"]) == 4 * 9 + 1

    # A hostile submission: forge the results, hunt the references, rewrite the grader.
    shutil.rmtree(root / "submission")
    write_files(root / "submission", {"hack.py": FORGER.format(root=root)})
    before = (root / "source" / "run_autograder").read_bytes()
    graded = _run([str(root / "source" / "run_autograder")], root, root)
    assert graded.returncode == 0, graded.stdout + graded.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    validate_results(results)
    assert results["score"] == 0
    assert (root / "source" / "run_autograder").read_bytes() == before
    printed = next(t["output"] for t in results["tests"] if "Your code printed" in t["output"])
    assert "stolen" not in printed and "forged" not in printed and "appended" not in printed


FORGER = '''
import glob, json

ROOT = "{root}"


def vmap_over_batch(seed, x_batch, features):
    for path in glob.glob(ROOT + "/source/problems/*/reference.py") + [
            ROOT + "/source/problems/vmap_over_batch/reference.py"]:
        try:
            print("stolen", len(open(path).read()))
        except OSError as exc:
            print("no reference:", type(exc).__name__)
    for path in (ROOT + "/results/results.json", ROOT + "/source/run_autograder"):
        try:
            with open(path, "a") as handle:
                handle.write(json.dumps({{"score": 100}}))
            print("forged", path)
        except OSError as exc:
            print("no write:", type(exc).__name__)
    return x_batch.reshape(-1)
'''


def test_run_autograder_writes_valid_results_when_the_install_is_broken(
        tmp_path: Path, validate_results: Callable[[object], None]) -> None:
    root = tmp_path / "autograder"
    (root / "submission").mkdir(parents=True)
    done = _run(["bash", str(REPO / "run_autograder")], root, root)
    assert done.returncode == 0
    results = json.loads((root / "results" / "results.json").read_text())
    validate_results(results)
    assert results["tests"][0]["name"] == "The autograder failed: please contact the course staff"
