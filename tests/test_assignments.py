"""Assignments: which problems a Gradescope assignment holds, in which order, worth what.

The file format and its errors, the points it sets, and every command that takes
``--assignment``: the zip and the kit ship only its problems (and never an unfinished
scaffold), ``grade``/``check``/``start`` use its order and points, ``regrade`` regrades when
it changes, ``validate`` checks that it names problems that exist.
"""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console

from autograder.cli.main import ExitStatus, main
from autograder.errors import SpecError
from autograder.gradescope.run import Layout
from autograder.spec import load_problem
from autograder.spec.assignment import (
    IN_ZIP,
    load_assignment,
    read_assignment,
    select_problems,
    with_points,
)
from autograder.staff.authoring import scaffold
from autograder.staff.regrade import problems_digest
from autograder.student.kit import start_files
from autograder.student.precheck import find_target
from tests.support import EXAMPLES, PROBLEMS, REPO

SEEDS = REPO / "assignments" / "lifted-transforms.yaml"
SEED_ORDER = ["vmap_over_batch", "vmap_over_ensemble", "nn_vmap_forward",
              "composed_lifts_forward"]


def run(*argv: str) -> tuple[ExitStatus, str]:
    console = Console(file=io.StringIO(), width=200)
    status = main(list(argv), env={}, console=console)
    return status, console.file.getvalue()  # type: ignore[attr-defined]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# -- the file -------------------------------------------------------------------------------


def test_the_seed_assignment_is_the_four_seed_exercises_in_the_seeds_order() -> None:
    problems = load_assignment(SEEDS, PROBLEMS)
    assert [p.id for p in problems] == SEED_ORDER
    assert sum(p.spec.points for p in problems) == 40
    assert read_assignment(SEEDS).title == "Flax lifted transforms"


def test_points_per_problem_scale_every_test_alike(tmp_path: Path) -> None:
    path = write(tmp_path / "a.yaml", "title: Week 3\nproblems:\n"
                                      "  - {problem: composed_lifts_forward, points: 25}\n"
                                      "  - vmap_over_batch\n")
    composed, batch = load_assignment(path, PROBLEMS)
    own = load_problem(PROBLEMS / "composed_lifts_forward").spec
    assert (composed.spec.points, batch.spec.points) == (25, 10)
    assert own.structure is not None and composed.spec.structure is not None
    scale = 25 / own.points
    assert composed.spec.structure.points == pytest.approx(own.structure.points * scale)
    assert [composed.spec.case_points(i) for i in range(len(own.cases))] == pytest.approx(
        [own.case_points(i) * scale for i in range(len(own.cases))])
    total = sum(composed.spec.case_points(i) for i in range(len(own.cases)))
    assert total + composed.spec.structure.points == pytest.approx(25)
    # A function name is as good as a folder name; the same points are the same problem.
    same = with_points(batch, 10)
    assert same is batch


@pytest.mark.parametrize(("text", "message"), [
    ("title: W\nproblems: [vmap_over_bach]\n",
     "{a}:2:12: problems[0]: no problem 'vmap_over_bach' in {p} (did you mean 'vmap_over_batch'?); "
     "the problems there: composed_lifts_forward, nn_vmap_forward, scan_over_layers, "
     "vmap_over_batch, vmap_over_ensemble, vmap_per_input"),
    ("title: W\nproblems: [vmap_over_batch, vmap_over_batch]\n",
     "{a}:2:29: problems[1]: 'vmap_over_batch' is listed twice (first as problems[0])"),
    ("title: W\nproblems:\n  - {problem: vmap_over_batch, point: 5}\n",
     "{a}:3:32: problems[0].point: unknown key (did you mean 'points'?)"),
    ("problems: [vmap_over_batch]\n",
     "{a}:1:1: title: required key is missing: add `title: Flax lifted transforms`"),
    ("title: W\nproblems: []\n",
     "{a}:2:1: problems: needs at least 1 entry (e.g. `problems: [vmap_over_batch, {{problem: "
     "vmap_over_ensemble, points: 15}}]`)"),
    ("- vmap_over_batch\n",
     "{a}:1:1: an assignment must be a mapping with the keys 'title' and 'problems', e.g.\n"
     "  title: Flax lifted transforms\n  problems: [vmap_over_batch, vmap_over_ensemble]"),
])
def test_a_wrong_assignment_says_what_and_where(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path / "week.yaml", text)
    with pytest.raises(SpecError) as raised:
        load_assignment(path, PROBLEMS)
    assert str(raised.value) == message.format(a=path, p=PROBLEMS)


def test_without_an_assignment_the_whole_bank_is_graded() -> None:
    bank = select_problems(PROBLEMS, None)
    assert len(bank) == len(list(PROBLEMS.glob("*/problem.yaml"))) == 6
    assert [p.id for p in select_problems(PROBLEMS, SEEDS)] == SEED_ORDER


# -- the commands ---------------------------------------------------------------------------


def test_the_zip_holds_the_assignments_problems_and_the_assignment(tmp_path: Path) -> None:
    out = tmp_path / "autograder.zip"
    status, said = run("zip", "--output", str(out), "--assignment", str(SEEDS))
    assert status == ExitStatus.SUCCESS, said
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        shipped = archive.read(IN_ZIP)
    assert {n.split("/")[1] for n in names if n.startswith("problems/")} == set(SEED_ORDER)
    assert shipped == SEEDS.read_bytes()
    assert " ".join(said.split()) == (
        f"Wrote {out} ({len(names)} files): 4 problem(s) worth 40 points, the assignment "
        f"{SEEDS}: vmap_over_batch, vmap_over_ensemble, nn_vmap_forward, "
        "composed_lifts_forward")
    # Gradescope's run finds it where the zip is unpacked.
    root = tmp_path / "gs"
    with zipfile.ZipFile(out) as archive:
        archive.extractall(root / "source")
    layout = Layout.under(root)
    assert layout.assignment == root / "source" / IN_ZIP
    assert [p.id for p in select_problems(layout.problems, layout.assignment)] == SEED_ORDER
    assert Layout.under(tmp_path / "elsewhere").assignment is None


@pytest.fixture()
def bank_with_scaffold(tmp_path: Path) -> Path:
    bank = tmp_path / "problems"
    for name in ("vmap_over_batch", "vmap_over_ensemble"):
        shutil.copytree(PROBLEMS / name, bank / name,
                        ignore=shutil.ignore_patterns("__pycache__"))
    scaffold(bank, "scan_twice")
    return bank


def test_an_unfinished_scaffold_goes_into_no_zip_and_no_kit(bank_with_scaffold: Path,
                                                            tmp_path: Path) -> None:
    spec = bank_with_scaffold / "scan_twice" / "problem.yaml"
    refusal = (f"autograder {{command}}: {spec} is still the scaffold `autograder new` wrote "
               f"(its first comment says so), so the {{command}} would grade an exercise "
               f"nobody finished. Finish it and delete that comment, or leave it out: name "
               f"the problems to ship in an assignment (--assignment assignments/NAME.yaml).")
    for command in ("zip", "kit"):
        status, said = run(command, "--problems", str(bank_with_scaffold), "--output",
                           str(tmp_path / f"{command}.zip"))
        assert status == ExitStatus.USAGE
        assert " ".join(said.split()) == refusal.format(command=command)
        assert not (tmp_path / f"{command}.zip").exists()
    # An assignment that leaves it out ships; one that names it does not.
    week = write(tmp_path / "week.yaml", "title: W\nproblems: [vmap_over_ensemble]\n")
    status, said = run("zip", "--problems", str(bank_with_scaffold), "--assignment", str(week),
                       "--output", str(tmp_path / "zip.zip"))
    assert status == ExitStatus.SUCCESS, said
    write(week, "title: W\nproblems: [vmap_over_ensemble, scan_twice]\n")
    status, said = run("zip", "--problems", str(bank_with_scaffold), "--assignment", str(week),
                       "--output", str(tmp_path / "other.zip"))
    assert status == ExitStatus.USAGE and "still the scaffold" in said
    # Once the TA deletes the mark, it is theirs.
    spec.write_text("\n".join(spec.read_text().splitlines()[5:]) + "\n")
    status, said = run("zip", "--problems", str(bank_with_scaffold), "--output",
                       str(tmp_path / "zip.zip"))
    assert status == ExitStatus.SUCCESS, said


def test_a_broken_spec_goes_into_no_zip(tmp_path: Path) -> None:
    bank = tmp_path / "problems"
    shutil.copytree(PROBLEMS / "vmap_over_batch", bank / "vmap_over_batch",
                    ignore=shutil.ignore_patterns("__pycache__"))
    spec = bank / "vmap_over_batch" / "problem.yaml"
    spec.write_text(spec.read_text().replace("points: 10", "points: ten"))
    status, said = run("zip", "--problems", str(bank), "--output", str(tmp_path / "z.zip"))
    assert status == ExitStatus.ERROR and "points" in said and str(spec) in said
    assert not (tmp_path / "z.zip").exists()


def test_start_and_check_follow_the_assignment_in_a_checkout(tmp_path: Path) -> None:
    week = write(tmp_path / "week.yaml", "title: W\nproblems:\n  - vmap_over_ensemble\n"
                                         "  - {problem: vmap_over_batch, points: 4}\n")
    names = [name for name, _ in start_files(PROBLEMS, PROBLEMS, week)]
    assert names == ["PROBLEMS.md", "vmap_over_ensemble.py", "vmap_over_batch.py"]
    target = find_target(PROBLEMS, PROBLEMS, week)
    assert [p.id for p in target.problems] == ["vmap_over_ensemble", "vmap_over_batch"]
    assert target.totals == {"vmap_over_ensemble": 10, "vmap_over_batch": 4}
    status, said = run("start", str(tmp_path / "work"), "--assignment", str(week))
    assert status == ExitStatus.SUCCESS, said
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == [
        "PROBLEMS.md", "vmap_over_batch.py", "vmap_over_ensemble.py"]


def test_the_kits_command_line_has_no_assignment_option() -> None:
    from autograder.cli.arguments import parser

    for command in ("start", "check"):
        kit = parser(student=True).parse_args([command, "x"] if command == "check" else [command])
        assert not hasattr(kit, "assignment")
        checkout = parser().parse_args([command, "x"] if command == "check" else [command])
        assert checkout.assignment is None


def test_a_changed_assignment_regrades(tmp_path: Path) -> None:
    week = write(tmp_path / "week.yaml", "title: W\nproblems: [vmap_over_batch]\n")
    first = problems_digest(PROBLEMS, week)
    assert first == problems_digest(PROBLEMS, week)
    assert first != problems_digest(PROBLEMS)
    write(week, "title: W\nproblems:\n  - {problem: vmap_over_batch, points: 20}\n")
    assert problems_digest(PROBLEMS, week) != first


def test_validate_checks_that_an_assignment_names_existing_problems(tmp_path: Path) -> None:
    week = write(tmp_path / "week.yaml", "title: W\nproblems: [vmap_over_bach]\n")
    status, said = run("validate", "--assignment", str(week))
    assert status == ExitStatus.FAILURE
    assert (f"error {week}:2:12: problems[0]: no problem 'vmap_over_bach' in {PROBLEMS} (did you "
            f"mean 'vmap_over_batch'?)") in " ".join(said.split())
    assert "0 problem(s) and 1 assignment(s): 1 error(s), 0 warning(s)" in said  # nothing else
    status, said = run("validate", "--assignment", str(tmp_path / "nope.yaml"))
    assert status == ExitStatus.USAGE and f"no assignment file {tmp_path / 'nope.yaml'}" in said


def test_validate_checks_the_assignments_beside_a_bank(tmp_path: Path) -> None:
    """A bank's assignments are checked with it; a rename of a problem breaks them loudly."""
    from autograder.cli.commands import _assignments_to_check

    checkout = tmp_path / "course"
    shutil.copytree(PROBLEMS / "vmap_over_batch", checkout / "problems" / "vmap_over_batch",
                    ignore=shutil.ignore_patterns("__pycache__"))
    good = write(checkout / "assignments" / "a.yaml", "title: A\nproblems: [vmap_over_batch]\n")
    bad = write(checkout / "assignments" / "b.yaml", "title: B\nproblems: [nn_vmap_forward]\n")
    found, issues = _assignments_to_check([], [checkout / "problems"])
    assert found == [(good, "A", [checkout / "problems" / "vmap_over_batch"])]
    assert [str(issue).split(";")[0] for issue in issues] == [
        f"{bad}:2:12: problems[0]: no problem 'nn_vmap_forward' in {checkout / 'problems'}"]


@pytest.mark.worker
def test_grade_with_an_assignment_scores_its_problems_at_its_points(
        tmp_path: Path, cache_dir: Path, validate_results: Callable[[object], None]) -> None:
    week = write(tmp_path / "week.yaml", "title: W\nproblems:\n"
                                         "  - {problem: vmap_over_batch, points: 15}\n"
                                         "  - nn_vmap_forward\n")
    results_path = tmp_path / "results.json"
    status = main(["grade", str(EXAMPLES / "correct"), "--results", str(results_path),
                   "--assignment", str(week), "--cache", str(cache_dir), "--quiet"],
                  env={}, console=Console(file=io.StringIO()))
    assert status == ExitStatus.SUCCESS
    results = json.loads(results_path.read_text())
    validate_results(results)
    assert results["score"] == 25
    tagged = [tag for t in results["tests"] for tag in t["tags"] if tag.startswith("problem:")]
    assert list(dict.fromkeys(tagged)) == ["problem:vmap_over_batch", "problem:nn_vmap_forward"]
    batch = sum(t["max_score"] for t in results["tests"] if "problem:vmap_over_batch" in t["tags"])
    assert batch == pytest.approx(15)


def test_the_shipped_assignment_schema_is_current_and_agrees_with_the_loader(
        tmp_path: Path) -> None:
    import jsonschema
    import yaml

    from autograder.staff.authoring import assignment_schema, schema_text

    shipped = REPO / "schema" / "assignment.schema.json"
    assert shipped.read_text() == schema_text("assignment"), (
        "schema/assignment.schema.json is stale: run `autograder schema --of assignment "
        "--output schema/assignment.schema.json`")
    schema = assignment_schema()
    for path in sorted((REPO / "assignments").glob("*.yaml")):
        assert path.read_text().startswith(
            "# yaml-language-server: $schema=../schema/assignment.schema.json")
        jsonschema.validate(yaml.safe_load(path.read_text()), schema)
    texts = ["title: W\nproblems: [vmap_over_batch, {problem: nn_vmap_forward, points: 5}]\n",
             "title: W\nproblems: []\n", "title: W\nproblems: [{problem: x, point: 5}]\n",
             "title: W\nproblems: [{problem: x, points: 0}]\n", "problems: [x]\n",
             "title: W\nproblems: [vmap_over_batch]\nweek: 3\n"]
    for i, text in enumerate(texts):
        path = write(tmp_path / f"{i}.yaml", text)
        try:
            read_assignment(path)
            loads = True
        except SpecError:
            loads = False
        assert jsonschema.Draft202012Validator(schema).is_valid(yaml.safe_load(text)) == loads, text


@pytest.mark.worker
def test_the_kit_of_an_assignment_ships_its_problems_in_its_order_at_its_points(
        tmp_path: Path, cache_dir: Path) -> None:
    from autograder.student.kit import load_kit, shipped_student_files

    week = write(tmp_path / "week.yaml", "title: W\nproblems:\n  - nn_vmap_forward\n"
                                         "  - {problem: vmap_over_batch, points: 4}\n")
    output = tmp_path / "kit.zip"
    status, said = run("kit", "--output", str(output), "--cache", str(cache_dir),
                       "--assignment", str(week))
    assert status == ExitStatus.SUCCESS, said
    with zipfile.ZipFile(output) as archive:
        archive.extractall(tmp_path / "kit")
    data = tmp_path / "kit" / "flax-lift-kit" / "autograder" / "kit_data"
    kit = load_kit(data)
    assert [p.id for p in kit.problems] == ["nn_vmap_forward", "vmap_over_batch"]
    assert {k: v["points"] for k, v in kit.manifest["problems"].items()} == {
        "nn_vmap_forward": 10, "vmap_over_batch": 4}
    assert sorted(p.name for p in (data / "problems").iterdir()) == [
        "nn_vmap_forward", "vmap_over_batch"]
    names = [name for name, _ in shipped_student_files(data)]
    assert names == ["PROBLEMS.md", "nn_vmap_forward.py", "vmap_over_batch.py"]
    statement = dict(shipped_student_files(data))["PROBLEMS.md"]
    assert statement.index("`nn_vmap_forward`") < statement.index("`vmap_over_batch`")
    assert "vmap_over_ensemble" not in statement


def test_an_assignment_that_is_not_utf8_is_a_spec_error(tmp_path: Path) -> None:
    path = tmp_path / "week.yaml"
    text = "title: Semaine \u00e9t\u00e9\nproblems: [vmap_over_batch]\n"
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(SpecError) as raised:
        read_assignment(path)
    assert str(raised.value) == (f"{path}: not UTF-8 text (invalid continuation byte at byte "
                                 "15): save it as UTF-8")
