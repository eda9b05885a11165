"""Grading inside Gradescope's default container: 768 MB of memory, half a vCPU.

``tools/container.py`` makes that container here (a fresh memory and cpu cgroup, shown to
the grader at the usual path as Docker shows a container its own cgroup), and these tests
run ``python -m autograder grade`` in it, as Gradescope runs ``run_autograder``. Correct
code must get full marks every time (one run in three lost a point before the grader
counted memory as the kernel does), and a memory bomb must cost only its own problem. The
container's peak memory is printed for the record (``pytest -s``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import EXAMPLES, NN_VMAP, PROBLEMS, REPO, attack
from tools import container

pytestmark = [
    pytest.mark.worker,
    pytest.mark.skipif(os.geteuid() != 0, reason="making a cgroup needs root"),
]

SEEDS = ("vmap_over_batch", "vmap_over_ensemble", "nn_vmap_forward", "composed_lifts_forward")
RUNS = 3


@pytest.fixture(scope="module")
def seed_problems(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The four seed exercises, as a problems folder of their own."""
    folder = tmp_path_factory.mktemp("seed-problems")
    for name in SEEDS:
        (folder / name).symlink_to(PROBLEMS / name)
    return folder


@pytest.fixture(scope="module")
def warmed(seed_problems: Path, cache_dir: Path) -> Path:
    """The expected outputs and compiled programs, made before the runs as ``setup.sh``
    does on Gradescope (outside the container: that is image build time)."""
    outcome = subprocess.run(
        [sys.executable, "-m", "autograder", "warm", "--problems", str(seed_problems),
         "--cache", str(cache_dir)], capture_output=True, text=True, cwd=REPO)
    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    return cache_dir


def _grade_in_container(submission: Path, problems: Path, cache: Path,
                        results: Path) -> tuple[container.Outcome, dict[str, object]]:
    try:
        outcome = container.run(
            [sys.executable, "-m", "autograder", "grade", str(submission), "--problems",
             str(problems), "--cache", str(cache), "--results", str(results), "--quiet"],
            cwd=REPO)
    except container.Unavailable as exc:
        pytest.skip(f"no container here: {exc}")
    assert outcome.returncode == 0, outcome.stderr[-3000:]
    data: dict[str, object] = json.loads(results.read_text())
    return outcome, data


def _points(results: dict[str, object], function: str) -> float:
    tests = results["tests"]
    assert isinstance(tests, list)
    return sum(t["score"] for t in tests if f"problem:{function}" in t.get("tags", []))


def test_correct_solutions_get_full_marks_every_time(
        seed_problems: Path, warmed: Path, tmp_path: Path) -> None:
    peaks = []
    for run in range(RUNS):
        outcome, results = _grade_in_container(EXAMPLES / "correct", seed_problems, warmed,
                                               tmp_path / f"results-{run}.json")
        lost = [t["name"] for t in results["tests"]  # type: ignore[attr-defined]
                if t["score"] < t["max_score"]]
        assert lost == [], f"run {run + 1}: {lost}"
        assert results["score"] == 40
        assert outcome.oom_kills == 0
        environment = results["extra_data"]["environment"]  # type: ignore[index]
        assert 300 <= environment["memory_limit_mb"] <= 600  # from the container's cgroup
        peaks.append(outcome.peak_mb)
    print(f"\ncontainer peak memory over {RUNS} gradings of the seeds' solutions: "
          f"{max(peaks):.0f} MB (of 768); runs: {peaks}")
    assert max(peaks) < 768


# Correct code in other styles the tests use: aliased imports returning numpy, a function
# spread over files with a helper module, Linen in a sub-folder.
STYLES = {
    "answer.py": """
import numpy as np
import flax.nnx as nx
from helpers import make


def vmap_over_batch(seed, x_batch, features):
    model = make(x_batch.shape[-1], int(features), int(seed))
    forward = nx.vmap(lambda m, x: m(x), in_axes=(None, 0))
    return np.asarray(forward(model, x_batch)).ravel()
""",
    "helpers.py": "from flax import nnx\n\ndef make(d, f, seed):\n"
                  "    return nnx.Linear(d, f, rngs=nnx.Rngs(seed))\n",
}


def test_other_correct_styles_get_full_marks_every_time(
        seed_problems: Path, warmed: Path, tmp_path: Path) -> None:
    source = (EXAMPLES / "correct" / "solution.py").read_text()
    submission = tmp_path / "styles"
    (submission / "linen").mkdir(parents=True)
    for name, text in STYLES.items():
        (submission / name).write_text(text)
    (submission / "linen" / "forward.py").write_text(NN_VMAP)
    (submission / "rest.py").write_text(
        source.replace("def vmap_over_batch(", "def _unused_batch(")
        .replace("def nn_vmap_forward(", "def _unused_forward("))
    for run in range(2):
        _, results = _grade_in_container(submission, seed_problems, warmed,
                                         tmp_path / f"results-{run}.json")
        lost = [t["name"] for t in results["tests"]  # type: ignore[attr-defined]
                if t["score"] < t["max_score"]]
        assert lost == [], f"run {run + 1}: {lost}"
        assert results["score"] == 40


def test_a_memory_bomb_costs_only_its_problem(seed_problems: Path, warmed: Path,
                                              tmp_path: Path) -> None:
    source = (EXAMPLES / "correct" / "solution.py").read_text()
    bomb = attack("import numpy as np\nhog = np.ones(6 * 2**30 // 8)  # 6 GB, touched")
    submission = tmp_path / "submission"
    submission.mkdir()
    (submission / "solution.py").write_text(
        source.replace("def vmap_over_batch(", "def _unused_batch("))
    (submission / "bomb.py").write_text(bomb)
    outcome, results = _grade_in_container(submission, seed_problems, warmed,
                                           tmp_path / "results.json")
    print(f"\ncontainer peak memory with a 6 GB bomb: {outcome.peak_mb:.0f} MB")
    assert _points(results, "vmap_over_batch") == 0
    for function in SEEDS[1:]:
        assert _points(results, function) == 10, function
    bombed = [t for t in results["tests"]  # type: ignore[attr-defined]
              if "problem:vmap_over_batch" in t["tags"]]
    assert all("used more memory than the grader allows" in t["output"] for t in bombed[:3])
    assert not any("grader-error" in t.get("tags", [])
                   for t in results["tests"])  # type: ignore[attr-defined]
