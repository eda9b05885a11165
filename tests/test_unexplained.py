"""End to end: students who share an answer no known mistake explains are one group of the
regrade (on the page, in a real browser, and in summary.json), and one command makes that
group a catalogue entry that ``validate`` proves and grading then names.

The class: three students apply a ReLU after the layer (not a mistake of vmap_over_batch's
catalogue), each in their own style; one is correct; one seeds with ``seed + 1``. The regrade
runs once for the module, through real workers."""

from __future__ import annotations

import io
import json
import os
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from autograder.cli.main import ExitStatus, main
from autograder.gradescope.results import build_results
from autograder.grading.engine import GradeOptions, grade
from autograder.spec import load_problems
from tests.support import EXAMPLES, browser_dom, chromium

pytestmark = pytest.mark.worker

RELU_DECORATED = '''\
from flax import nnx


def vmap_over_batch(seed, x_batch, features):
    model = nnx.Linear(x_batch.shape[-1], int(features), rngs=nnx.Rngs(int(seed)))

    @nnx.vmap(in_axes=(None, 0))
    def fwd(model, x):
        return nnx.relu(model(x))

    return fwd(model, x_batch).reshape(-1)
'''

RELU_LAMBDA = '''\
import jax
from flax import nnx


def vmap_over_batch(seed, x_batch, features):
    layer = nnx.Linear(x_batch.shape[-1], int(features), rngs=nnx.Rngs(int(seed)))
    forward = nnx.vmap(lambda m, row: jax.nn.relu(m(row)), in_axes=(None, 0))
    return forward(layer, x_batch).reshape(-1)
'''

RELU_HELPER = '''\
import jax.numpy as jnp
from flax import nnx


def activation(v):
    return jnp.maximum(v, 0.0)


def vmap_over_batch(s, xb, f):
    net = nnx.Linear(xb.shape[1], int(f), rngs=nnx.Rngs(int(s)))

    @nnx.vmap(in_axes=(None, 0))
    def one(model, x):
        return activation(model(x))

    return jnp.ravel(one(net, xb))
'''

SEED_PLUS_ONE = RELU_DECORATED.replace("nnx.relu(model(x))", "model(x)").replace(
    "nnx.Rngs(int(seed))", "nnx.Rngs(int(seed) + 1)")

CLASS = {"submission_2001": RELU_DECORATED, "submission_2002": RELU_LAMBDA,
         "submission_2003": RELU_HELPER, "submission_2004": SEED_PLUS_ONE,
         "submission_2005": (EXAMPLES / "correct" / "solution.py").read_text()}
RELU = ["submission_2001", "submission_2002", "submission_2003"]
TITLE = "Week 3: lifted transforms"


def _metadata() -> str:
    return "".join(f"{name}:\n  :submitters:\n  - :name: Student {name[-4:]}\n"
                   f"    :sid: '{name[-4:]}'\n" for name in CLASS)


@pytest.fixture(scope="module")
def bank_dir(problems_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The regrade tests' bank, with a time limit a first compilation meets on a busy
    machine (no submission here hangs; a student's own program is compiled afresh, and two
    time-outs would end its grading)."""
    bank = shutil.copytree(problems_dir, tmp_path_factory.mktemp("bank") / "problems")
    spec = bank / "vmap_over_batch" / "problem.yaml"
    spec.write_text(spec.read_text().replace("time_limit: 2", "time_limit: 30"))
    return bank


@pytest.fixture(scope="module")
def class_run(bank_dir: Path, cache_dir: Path,
              tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, Path]:
    """The class regraded for an assignment: (output folder, what it printed, the zip)."""
    root = tmp_path_factory.mktemp("unexplained")
    export = root / "export.zip"
    with zipfile.ZipFile(export, "w") as archive:
        archive.writestr("assignment_7_export/submission_metadata.yml", _metadata())
        for name, text in CLASS.items():
            archive.writestr(f"assignment_7_export/{name}/solution.py", text)
    assignment = root / "week3.yaml"
    assignment.write_text(f"title: '{TITLE}'\nproblems: [vmap_over_batch]\n")
    output = root / "out"
    console = Console(file=io.StringIO(), width=200)
    status = main(["regrade", str(export), "--problems", str(bank_dir), "--output",
                   str(output), "--jobs", "2", "--assignment", str(assignment), "--cache",
                   str(cache_dir)], env=dict(os.environ), console=console)
    said = console.file.getvalue()  # type: ignore[attr-defined]
    assert status == ExitStatus.SUCCESS, said
    return output, said, export


def _results(output: Path, name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(
        (output / "submissions" / name / "results.json").read_text())
    return loaded


def test_students_sharing_an_unexplained_answer_are_one_group(
        class_run: tuple[Path, str, Path], bank_dir: Path) -> None:
    output, said, _ = class_run
    declared = {f"pitfall:{m.id}" for p in load_problems(bank_dir) for m in p.spec.mistakes}
    for name in RELU:  # really unexplained: no known mistake is named on any test
        tags = {t for test in _results(output, name)["tests"] for t in test["tags"]}
        assert "pitfall:wrong-values" in tags and not tags & declared, (name, tags)
    summary = json.loads((output / "summary.json").read_text())
    groups = summary["unexplained"]
    assert [(g["id"], g["size"], g["submissions"]) for g in groups] == [
        ("vmap_over_batch/1", 3, RELU), ("vmap_over_batch/2", 1, ["submission_2004"])]
    relu = groups[0]
    assert relu["example"] in RELU and relu["has_output"] and relu["failures"] == [
        "wrong-values"]
    # The ReLU is right wherever the expected output is positive: case 5's is, throughout.
    assert "case 5 (one input feature)" not in [c["label"] for c in relu["cases"]]
    assert all(c["max_rel"] == 1.0 and c["shape"] == c["expected_shape"]
               for c in relu["cases"])
    assert "references warmed" in said
    assert ("Answers no known mistake explains: 1 shared by several submissions (the largest, "
            "vmap_over_batch/1: 3 submissions, wrong-values on 7 cases (3 visible, 4 hidden)), "
            "1 given by one submission each") in " ".join(said.split())
    shared = [p for p in [output, *output.rglob("*")] if p.stat().st_mode & 0o077]
    assert not shared, shared[:3]  # outputs.npz and the pages too: the TA's alone


def test_the_report_shows_the_group_in_a_real_browser(
        class_run: tuple[Path, str, Path]) -> None:
    browser = chromium()
    output, _, _ = class_run
    dom = browser_dom(browser, output / "report.html")
    assert f"<h1>{TITLE}</h1>" in dom
    shared = dom[dom.index('<table id="groups">'):dom.index('<table id="singletons">')]
    assert '<code>vmap_over_batch/1</code></td><td class="n">3</td>' in shared
    for name in RELU:
        assert (f'<a href="submissions/{name}/index.html" title="Student {name[-4:]}">{name}'
                f'</a>') in shared
    assert "submission_2004" in dom[dom.index('<table id="singletons">'):]
    grid = dom[dom.index('<table id="cases">'):]
    assert grid.index("visible tests") < grid.index("hidden tests")
    page = browser_dom(browser, output / "submissions" / "submission_2003" / "index.html")
    assert "<h1>submission_2003: Student 2003</h1>" in page
    assert "vmap_over_batch: case 1 (batch of four)" in page
    assert ('<a href="../../report.html#group-vmap_over_batch-1"><code>vmap_over_batch/1'
            '</code></a>') in page
    assert "values differ from the expected ones beyond the tolerance" in page


def test_the_group_becomes_a_catalogue_entry_that_validate_proves(
        class_run: tuple[Path, str, Path], bank_dir: Path, cache_dir: Path,
        tmp_path: Path) -> None:
    output, _, _ = class_run
    bank = shutil.copytree(bank_dir, tmp_path / "bank")
    folder = bank / "vmap_over_batch"
    console = Console(file=io.StringIO(), width=400)
    status = main(["catalogue", str(output), "vmap_over_batch/1", "--id", "relu-after-linear",
                   "--problems", str(bank)], env={}, console=console)
    said = console.file.getvalue().splitlines()  # type: ignore[attr-defined]
    assert status == ExitStatus.SUCCESS, said
    assert said[-1] == (f"Next: write the mistake's summary and fix in {folder}/problem.yaml "
                        f"(marked TO FILL IN), then run `autograder validate {folder}`, which "
                        "proves the mistake is recognised on at least one test.")
    validated = Console(file=io.StringIO(), width=200)
    status = main(["validate", str(folder), "--cache", str(cache_dir)], env=dict(os.environ),
                  console=validated)
    report = validated.file.getvalue()  # type: ignore[attr-defined]
    assert status == ExitStatus.SUCCESS, report
    assert "7/7 recognised" in report
    assert (f"warning {folder}/problem.yaml: mistakes[6]: the summary or fix of "
            "'relu-after-linear' still says TO FILL IN (`autograder catalogue` left them for "
            "you): write what students will read; zip and kit refuse to ship it until then"
            ) in " ".join(report.split())
    # The class's answer is now a known mistake: grading names it.
    student = output / "export" / "assignment_7_export" / "submission_2002"
    results = build_results(grade(student, load_problems(bank), GradeOptions(
        cache_dir=cache_dir, compile_cache=cache_dir.parent / "jax")))
    named = [t["name"] for t in results["tests"] if "pitfall:relu-after-linear" in t["tags"]]
    assert len(named) == 7, results
