"""The student kit: what is in it (and what must never be), and the check it installs."""

from __future__ import annotations

import ast
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rich.console import Console

from autograder.cli.main import ExitStatus, main
from autograder.grading.cache import ExpectedCache
from autograder.grading.references import References
from autograder.sandbox import WorkerSpec, worker_environment
from autograder.spec import LoadedProblem
from autograder.spec.inputs import case_arguments
from autograder.student.kit import KitReferences, load_kit
from tests.support import CORRECT, EXAMPLES, PROBLEMS, run_check

TOP = "flax-lift-kit"


@pytest.fixture(scope="module")
def kit_zip(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> Path:
    output = tmp_path_factory.mktemp("dist") / "student-kit.zip"
    console = Console(file=io.StringIO(), width=100)
    status = main(["kit", "--output", str(output), "--cache", str(cache_dir)], env={},
                  console=console)
    assert status == ExitStatus.SUCCESS, console.file.getvalue()  # type: ignore[attr-defined]
    return output


@pytest.fixture(scope="module")
def unpacked(kit_zip: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("kit")
    with zipfile.ZipFile(kit_zip) as archive:
        archive.extractall(target)
    return target / TOP


def _members(kit_zip: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(kit_zip) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _npz_arrays(kit_zip: Path) -> list[np.ndarray]:
    arrays = []
    for name, data in _members(kit_zip).items():
        if name.endswith(".npz"):
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                arrays += [npz[key] for key in npz.files if key != "__meta__"]
    return arrays


def _bodies(path: Path) -> list[tuple[str, list[str]]]:
    """Each function of ``path`` and the code lines of its body (docstring left out)."""
    source = path.read_text()
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef):
            body = node.body
            if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                body = body[1:]
            lines = [" ".join(line.split()) for statement in body
                     for line in (ast.get_source_segment(source, statement) or "").splitlines()]
            found.append((node.name, [line for line in lines if line and line[0] != "#"]))
    return found


@pytest.mark.worker
def test_the_kit_holds_no_reference_no_variant_and_no_hidden_case(
        kit_zip: Path, problems: dict[str, LoadedProblem], cache_dir: Path) -> None:
    members = _members(kit_zip)
    names = set(members)
    assert not any(n.endswith(("reference.py", "mistakes.py")) or ("/problems/" in n
                   and not n.startswith(f"{TOP}/autograder/kit_data/problems/")) for n in names)
    text = " ".join(" ".join(data.decode("utf-8", "replace").split())
                    for name, data in members.items() if not name.endswith(".npz"))
    raw = b"".join(members.values())
    trusted = [p for p in sorted(PROBLEMS.glob("*/*.py")) if p.name != "starter.py"]
    assert len(trusted) >= 8
    for path in trusted:  # references, variants and examples, custom checks
        assert path.read_bytes() not in raw
        for function, lines in _bodies(path):
            if len(lines) < 2:
                continue  # a one-liner (`return model(x)`) is in the fix messages, as on Gradescope
            found = [line for line in lines if line in text]
            # Fix messages quote fragments (as Gradescope shows them); never a whole body.
            assert len(found) < len(lines), f"{path.parent.name}/{path.name}:{function}"
            assert " ".join(lines) not in text
    # The kit's Python defines none of the exercises, except the starters' stubs.
    for name, data in members.items():
        if name.endswith(".py") and not name.startswith((f"{TOP}/starter/",
                                                         f"{TOP}/autograder/kit_data/starter/")):
            defined = {n.name for n in ast.walk(ast.parse(data)) if isinstance(n, ast.FunctionDef)}
            assert not defined & set(problems), name
    # No hidden case, by name, by input or by expected output.
    shipped = [a.tobytes() for a in _npz_arrays(kit_zip)]
    spec = WorkerSpec(env=worker_environment({}, kit_zip.parent), cwd=kit_zip.parent)
    with References(spec, ExpectedCache(cache_dir)) as references:
        for problem in problems.values():
            expected = references.expected(problem)
            for index, case in enumerate(problem.spec.cases):
                if case.visibility == "visible":
                    assert expected[index].tobytes() in shipped
                    continue
                # Not by name (names like "a batch of one" are generic: the kit's own
                # scaffold uses them), but by label, and not in the problem's shipped spec.
                shipped_spec = members[f"{TOP}/autograder/kit_data/problems/{problem.id}/"
                                       "problem.yaml"].decode()
                assert case.name and f"name: {case.name}\n" not in shipped_spec
                assert problem.spec.case_label(index) not in text
                assert expected[index].tobytes() not in shipped
                for value in case_arguments(problem, index):
                    if isinstance(value, np.ndarray):
                        assert value.tobytes() not in raw


@pytest.mark.worker
def test_the_kit_spec_is_the_visible_cases_worth_their_gradescope_points(
        unpacked: Path, problems: dict[str, LoadedProblem]) -> None:
    kit = load_kit(unpacked / "autograder" / "kit_data")
    assert sorted(p.spec.function for p in kit.problems) == sorted(problems)
    for shipped in kit.problems:
        original = problems[shipped.spec.function]
        visible = [c for c in original.spec.cases if c.visibility == "visible"]
        assert shipped.spec.cases == tuple(visible)
        assert [shipped.spec.case_points(i) for i in range(len(visible))] == [
            original.spec.case_points(i) for i, c in enumerate(original.spec.cases)
            if c.visibility == "visible"]
        assert shipped.spec.mistakes == original.spec.mistakes
        assert not (shipped.directory / "reference.py").exists()
        expected = KitReferences(kit.manifest).expected(shipped)
        assert sorted(expected) == list(range(len(visible)))
    assert kit.manifest["versions"]["jax"] == "0.10.2"
    assert kit.manifest["versions"]["flax"] == "0.12.8"


@pytest.mark.worker
def test_the_kit_names_the_same_mistakes_as_the_checkout(
        unpacked: Path, cache_dir: Path, mistakes_json: dict[str, Any]) -> None:
    status, out = run_check(str(EXAMPLES / "classic-mistakes"), "--json", "--problems",
                            str(unpacked / "autograder" / "kit_data"), cache=cache_dir)
    assert status == ExitStatus.FAILURE
    kit = json.loads(out)

    def outcome(data: dict[str, Any]) -> list[tuple[str, str, float, list[str], Any]]:
        return [(p["function"], t["label"], t["points"], t["tags"],
                 t["feedback"] and (p["messages"][t["feedback"]["message"]],
                                    t["feedback"].get("details")))
                for p in data["problems"] for t in p["tests"]]

    assert outcome(kit) == outcome(mistakes_json)
    assert (kit["points"], kit["max_points"]) == (mistakes_json["points"],
                                                 mistakes_json["max_points"])
    # The points in all are the Gradescope totals, hidden tests included, in both.
    assert kit["total_points"] == mistakes_json["total_points"] == 60
    assert [p["function"] for p in kit["problems"]] == [
        p["function"] for p in mistakes_json["problems"]]


def _kit_command(unpacked: Path, *argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``autograder ARGV`` from the unpacked kit's own package (as installed: it has its
    kit_data, so it knows it is a kit)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PYTHONPATH=str(unpacked), NO_COLOR="1", COLUMNS="100")
    return subprocess.run([sys.executable, "-m", "autograder", *argv], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.worker
def test_the_kits_command_line_is_the_students(unpacked: Path, tmp_path: Path) -> None:
    shown = _kit_command(unpacked, "--help", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    commands = shown.stdout.split("positional arguments:")[1].split("options:")[0]
    assert [line.split()[0] for line in commands.splitlines()
            if line.startswith("    ")] == ["start", "check"]
    for staff in ("grade", "gradescope", "warm", "harden", "validate", "regrade", "kit"):
        assert f"    {staff} " not in shown.stdout
    assert "notebook.check()" in " ".join(shown.stdout.split())
    refused = _kit_command(unpacked, "regrade", "x.zip", cwd=tmp_path)
    assert refused.returncode == 2 and "invalid choice: 'regrade'" in refused.stderr


@pytest.mark.worker
def test_start_in_the_kit_writes_what_the_kit_ships(unpacked: Path, tmp_path: Path) -> None:
    started = _kit_command(unpacked, "start", cwd=tmp_path)
    assert started.returncode == 0, started.stderr
    data = unpacked / "autograder" / "kit_data"
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == sorted(["PROBLEMS.md", *(p.name for p in (data / "starter").iterdir())])
    assert (tmp_path / "PROBLEMS.md").read_bytes() == (unpacked / "PROBLEMS.md").read_bytes()
    statement = (tmp_path / "PROBLEMS.md").read_text()
    order = ["vmap_over_batch", "vmap_over_ensemble", "nn_vmap_forward",
             "composed_lifts_forward", "scan_over_layers", "vmap_per_input"]
    at = [statement.index(f"## `{f}`") for f in order]
    assert at == sorted(at)  # the seeds' order, then the others
    assert "Next: read PROBLEMS.md" in started.stdout
    again = _kit_command(unpacked, "start", ".", cwd=tmp_path)
    assert again.returncode == 0 and again.stdout.count("skipped  ") == len(written)


@pytest.mark.worker
def test_other_jax_versions_are_warned_about(unpacked: Path, tmp_path: Path,
                                            cache_dir: Path) -> None:
    data = shutil.copytree(unpacked / "autograder" / "kit_data", tmp_path / "kit_data")
    manifest = json.loads((data / "kit.json").read_text())
    manifest["versions"].update(jax="0.4.30", jaxlib="0.4.30")
    (data / "kit.json").write_text(json.dumps(manifest))
    status, out = run_check(str(EXAMPLES / "correct"), "--problem", "vmap_over_batch",
                            "--problems", str(data), cache=cache_dir)
    assert status == ExitStatus.SUCCESS
    assert "Warning: Your jax 0.10.2, jaxlib 0.10.2 differ from the grader's jax 0.4.30" in (
        " ".join(out.split()))
    assert "pip install jax==0.4.30 jaxlib==0.4.30 flax==0.12.8" in " ".join(out.split())


@pytest.mark.slow
def test_pip_install_of_the_kit_gives_a_working_check(kit_zip: Path, tmp_path: Path) -> None:
    """As the kit's README says: a fresh venv, ``pip install student-kit.zip``, check."""
    readme = _members(kit_zip)[f"{TOP}/README.md"].decode()
    assert "pip install student-kit.zip" in readme and "autograder check" in readme
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", str(kit_zip)],
                         capture_output=True, text=True, timeout=900)
    assert pip.returncode == 0, pip.stderr
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "AUTOGRADER_CACHE")}
    env.update(HOME=str(tmp_path / "home"), NO_COLOR="1", COLUMNS="100")
    command = [str(venv / "bin" / "autograder"), "check"]
    starters = tmp_path / "starter"
    with zipfile.ZipFile(kit_zip) as archive:
        for name in archive.namelist():
            if name.startswith(f"{TOP}/starter/"):
                (starters / Path(name).name).parent.mkdir(exist_ok=True)
                (starters / Path(name).name).write_bytes(archive.read(name))

    right = subprocess.run([*command, str(EXAMPLES / "correct" / "solution.py")], env=env,
                           cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert right.returncode == 0, right.stdout + right.stderr
    assert ("24 of 24 visible tests passed, 30/30 visible points (60 in all; hidden tests are "
            "graded on Gradescope).") in right.stdout
    assert "problems" not in {p.name for p in (venv / "lib").glob("python*/site-packages/*")}

    wrong = subprocess.run([*command, str(EXAMPLES / "classic-mistakes"), "--json"], env=env,
                           cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert wrong.returncode == 1, wrong.stderr
    data = json.loads(wrong.stdout)
    first = {p["function"]: p["tests"][0]["feedback"]["id"] for p in data["problems"]}
    assert [p["function"] for p in data["problems"]][:4] == [
        "vmap_over_batch", "vmap_over_ensemble", "nn_vmap_forward", "composed_lifts_forward"]
    assert first == {"composed_lifts_forward": "wrong-type",
                     "nn_vmap_forward": "per-example-params",
                     "scan_over_layers": "identical-layers",
                     "vmap_over_batch": "wrong-axis-order",
                     "vmap_over_ensemble": "identical-members",
                     "vmap_per_input": "identical-models"}

    stub = subprocess.run([*command, str(starters), "--problem", "vmap_over_batch"], env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert stub.returncode == 1
    assert ("✗ failed         vmap_over_batch  0/5 visible points (10 in all)  not-implemented "
            "(4 of 4 tests)") in stub.stdout

    # As the kit's README says: `autograder start` where the student works, one exercise
    # solved, checked, the others not attempted.
    work = tmp_path / "work"
    work.mkdir()
    started = subprocess.run([str(venv / "bin" / "autograder"), "start"], env=env, cwd=work,
                             capture_output=True, text=True, timeout=120)
    assert started.returncode == 0, started.stderr
    assert (work / "PROBLEMS.md").is_file() and (work / "vmap_over_batch.py").is_file()
    (work / "vmap_over_batch.py").write_text(CORRECT)  # that exercise only
    one = subprocess.run([*command, "vmap_over_batch.py"], env=env, cwd=work,
                         capture_output=True, text=True, timeout=600)
    assert one.returncode == 0, one.stdout + one.stderr
    assert "✓ passed         vmap_over_batch " in one.stdout
    assert one.stdout.count("- not attempted") == 5
    helped = subprocess.run([str(venv / "bin" / "autograder"), "--help"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert "    start " in helped.stdout and "    regrade " not in helped.stdout
    usage = subprocess.run([*command, "missing.py"], env=env, cwd=tmp_path,
                           capture_output=True, text=True, timeout=60)
    assert usage.returncode == 2 and "missing.py does not exist" in usage.stderr
