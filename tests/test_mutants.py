"""Mutation analysis: ``autograder mutants`` (the mutants made, their grading, the count).

Generation is pure ``ast`` and tested without workers on the shipped references; the
grading of mutants runs real workers (``worker``) on ``vmap_over_batch`` and on a copy of it
whose cases are weakened so that mutants survive.
"""

from __future__ import annotations

import ast
import io
import shutil
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from autograder.cli.main import ExitStatus, main
from autograder.errors import SpecError
from autograder.grading.cache import compile_cache_beside
from autograder.grading.engine import GradeOptions
from autograder.spec import load_problem, visible_spec_text
from autograder.staff import suggest
from autograder.staff.mutants import analyze, smallest_cover, stale_declarations
from autograder.staff.mutate import Mutant, generate
from autograder.staff.mutation_report import print_analysis, summary_line
from tests.support import PROBLEMS

ENSEMBLE = PROBLEMS / "vmap_over_ensemble"
BATCH = PROBLEMS / "vmap_over_batch"


def mutants_of(problem: str, rank: int | None = 2) -> dict[str, Mutant]:
    source = (PROBLEMS / problem / "reference.py").read_text()
    return {m.id: m for m in generate(source, rank)}


def function_source(source: str, name: str) -> str:
    """The source of function ``name`` (decorators included) in ``source``."""
    tree = ast.parse(source)
    found = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == name)
    return "\n".join(ast.unparse(d) for d in found.decorator_list) + "\n" + ast.unparse(found)


def run(argv: list[str], cache: Path) -> tuple[ExitStatus, str]:
    console = Console(file=io.StringIO(), width=250)
    status = main(argv, env={"AUTOGRADER_CACHE": str(cache)}, console=console)
    return status, console.file.getvalue()  # type: ignore[attr-defined]


# -- generation ------------------------------------------------------------------------------

def test_the_ensemble_reference_has_the_mutants_a_ta_expects() -> None:
    mutants = mutants_of("vmap_over_ensemble")
    removed = mutants["make_model: nnx.split_rngs removed"]
    assert removed.operator == "lift-removed" and removed.line == 10
    assert function_source(removed.source, "make_model").splitlines()[0] == (
        "nnx.vmap(in_axes=(0,), out_axes=0)")
    assert "nnx.split_rngs(" not in removed.source
    swapped = mutants["fwd: nnx.vmap in_axes (0, None) -> (None, 0)"]
    assert swapped.change == "in_axes=(0, None) -> in_axes=(None, 0)"
    assert "@nnx.vmap(in_axes=(None, 0))" in function_source(swapped.source, "fwd")
    assert "in_axes=(0,)" in function_source(swapped.source, "make_model")  # only fwd's
    fixed = mutants["fixed seed: nnx.Rngs(int(seed)) -> nnx.Rngs(0)"]
    assert "make_model(nnx.Rngs(0))" in fixed.source and fixed.operator == "fixed-seed"
    splits = mutants["make_model: nnx.split_rngs splits n -> 1"]
    assert "@nnx.split_rngs(splits=1)" in splits.source
    order = mutants["make_model: nnx.split_rngs and nnx.vmap swapped"]
    decorators = function_source(order.source, "make_model").splitlines()[:2]
    assert decorators == ["nnx.vmap(in_axes=(0,), out_axes=0)", "nnx.split_rngs(splits=n)"]
    assert "n = num_models" in mutants["int(num_models) dropped"].source
    assert "out.T.reshape(-1)" in mutants["flattening: out.reshape(-1) -> out.T.reshape(-1)"
                                          ].source
    assert "fwd: nnx.vmap out_axes 0 (default) -> 1" in mutants
    assert len(mutants) == 20


def test_ids_are_stable_and_every_mutant_is_a_distinct_program() -> None:
    for folder in sorted(PROBLEMS.iterdir()):
        source = (folder / "reference.py").read_text()
        first, again = generate(source), generate(source)
        assert [m.id for m in first] == [m.id for m in again], folder.name
        assert len({m.id for m in first}) == len(first), folder.name
        reference = ast.unparse(ast.parse(source))
        sources = [m.source for m in first]
        assert len(set(sources)) == len(sources) and reference + "\n" not in sources
        for mutant in first:
            ast.parse(mutant.source)  # a program, which the grader can stage
            assert mutant.line >= 1 and mutant.change


def test_linen_lifts_get_their_collections_flipped_and_their_nesting_swapped() -> None:
    forward = mutants_of("nn_vmap_forward")
    flipped = forward["vmapped_dense: nn.vmap variable_axes params None -> 0"]
    assert "variable_axes={'params': 0}" in flipped.source
    split = forward["vmapped_dense: nn.vmap split_rngs params False -> True"]
    assert "split_rngs={'params': True}" in split.source
    assert "vmapped_dense = nn.Dense\n" in forward["vmapped_dense: nn.vmap removed"].source
    composed = mutants_of("composed_lifts_forward")
    reversed_order = composed["batched_scan_layer: nn.vmap and nn.scan swapped"].source
    assert ("scan_layer = nn.vmap(Block, in_axes=0, out_axes=0, variable_axes={'params': None}"
            in reversed_order)
    assert ("batched_scan_layer = nn.scan(scan_layer, variable_axes={'params': 0}, "
            "split_rngs={'params': True}, length=num_layers)") in reversed_order
    assert "scan_layer: nn.scan split_rngs params True -> False" in composed
    scan = mutants_of("scan_over_layers")
    assert "forward: nnx.scan in_axes (nnx.Carry, 0) -> (0, nnx.Carry)" in scan
    assert "out_axes=(nnx.Carry, 0)" in scan["forward: nnx.scan out_axes nnx.Carry -> "
                                             "(nnx.Carry, 0)"].source


def test_lifts_are_found_whatever_the_import_style_and_flattening_needs_two_axes() -> None:
    source = (
        "import flax.nnx\nfrom jax import vmap as jvmap\n\n"
        "def f(seed, x):\n"
        "    g = jvmap(lambda v: v * 2, in_axes=0)\n"
        "    rngs = flax.nnx.Rngs(int(seed))\n"
        "    return g(x).ravel()\n")
    ids = [m.id for m in generate(source, output_rank=2)]
    assert ids == ["g: jax.vmap in_axes 0 -> 1", "g: jax.vmap in_axes 0 -> None",
                   "g: jax.vmap out_axes 0 (default) -> 1",
                   "g: jax.vmap out_axes 0 (default) -> None", "g: jax.vmap removed",
                   "int(seed) dropped", "flattening: g(x).ravel() -> g(x).T.ravel()",
                   "fixed seed: flax.nnx.Rngs(int(seed)) -> flax.nnx.Rngs(0)"]
    assert not [i for i in (m.id for m in generate(source, output_rank=1))
                if i.startswith("flattening")]


# -- the count, the cover, the declarations ---------------------------------------------------

def test_the_summary_line() -> None:
    assert summary_line(11, 10, 1, 0) == (
        "mutants: 11 generated, 10 caught by values, 1 caught only by the structure test, "
        "0 survived")
    assert summary_line(11, 8, 1, 0, 2) == (
        "mutants: 11 generated, 8 caught by values, 1 caught only by the structure test, "
        "0 survived, 2 equivalent")


def test_the_smallest_cover_is_greedy_and_prefers_the_lowest_case() -> None:
    assert smallest_cover([frozenset({0, 1}), frozenset({1, 2}), frozenset({3})]) == [1, 3]
    assert smallest_cover([frozenset({2, 4}), frozenset({4, 2})]) == [2]
    assert smallest_cover([frozenset()]) == []


def declare(folder: Path, entries: list[dict[str, str]]) -> int:
    """Declare ``entries`` equivalent in the spec of ``folder``; the line of the first id."""
    spec = folder / "problem.yaml"
    text = spec.read_text()
    spec.write_text(text + yaml.safe_dump({"mutants": {"equivalent": entries}}, width=200))
    return len(text.splitlines()) + 3  # mutants:, equivalent:, then "  - id: ..."


def test_a_stale_declaration_is_an_error_naming_the_key_and_the_closest_id(
        tmp_path: Path) -> None:
    folder = Path(shutil.copytree(BATCH, tmp_path / "vmap_over_batch"))
    line = declare(folder, [{"id": "fwd: nnx.vmap in_axes (None, 0) -> (0,None)",
                             "why": "typo"}])
    problem = load_problem(folder)
    mutants = generate((folder / "reference.py").read_text())
    [error] = stale_declarations(problem, mutants)
    assert error == (
        f"{folder / 'problem.yaml'}:{line}:5: mutants.equivalent[0].id: no mutant 'fwd: nnx.vmap "
        "in_axes (None, 0) -> (0,None)' is made from reference.py (did you mean 'fwd: "
        "nnx.vmap in_axes (None, 0) -> (0, None)'?): the reference changed or the id is "
        "misspelt; fix the id (`autograder mutants` lists them) or remove the declaration")
    assert "mutants" not in yaml.safe_load(visible_spec_text(problem))  # not in the kit


def test_declarations_are_checked_when_the_spec_loads(tmp_path: Path) -> None:
    folder = Path(shutil.copytree(BATCH, tmp_path / "vmap_over_batch"))
    spec = (folder / "problem.yaml").read_text()
    declare(folder, [{"id": "int(seed) dropped", "why": "a"}, {"id": "int(seed) dropped",
                                                                "why": "b"}])
    with pytest.raises(SpecError, match="declared equivalent twice"):
        load_problem(folder)
    (folder / "problem.yaml").write_text(spec + "mutants: {equivalent: [{id: x, because: y}]}\n")
    with pytest.raises(SpecError, match=r"mutants\.equivalent\[0\]"):
        load_problem(folder)


# -- suggested cases -------------------------------------------------------------------------

def test_variations_of_the_cases_keep_the_constraints_and_paste_back_into_the_spec(
        tmp_path: Path) -> None:
    batch = load_problem(BATCH)
    found = suggest.candidates(batch)
    assert [c.what for c in found if c.source == 3] == [
        "x_batch's shape [1, 4] -> [3, 4]", "x_batch's shape [1, 4] -> [4, 1]"]
    assert all(c.case.visibility == "hidden" for c in found)
    composed = load_problem(PROBLEMS / "composed_lifts_forward")
    whats = [c.what for c in suggest.candidates(composed)]
    # x_batch.shape[-1] == features: only both widths of 1 made 3 together keep it.
    assert "every size of 1 made 3: x_batch's shape [5, 1] -> [5, 3], features 1 -> 3" in whats
    assert not [w for w in whats if w in ("features 1 -> 3", "x_batch's shape [5, 1] -> [5, 3]")]
    folder = Path(shutil.copytree(BATCH, tmp_path / "vmap_over_batch"))
    spec = folder / "problem.yaml"
    assert spec.read_text().rstrip().endswith("features: 5.0")  # cases: is the last key
    wanted = found[5]
    snippet = suggest.case_yaml(batch, wanted.case)
    assert snippet == (
        '  - name: "a batch of one, x_batch\'s shape [1, 4] -> [3, 4]"\n'
        "    visibility: hidden\n"
        "    args:\n"
        "      seed: 7.0\n"
        "      x_batch: {generate: normal, shape: [3, 4], seed: 4}\n"
        "      features: 3.0\n")
    spec.write_text(spec.read_text() + snippet)
    pasted = load_problem(folder).spec.cases[-1]
    assert pasted == wanted.case


def test_the_command_refuses_what_it_cannot_analyse(tmp_path: Path) -> None:
    status, out = run(["mutants", str(BATCH), "--jobs", "0"], tmp_path)
    assert status == ExitStatus.USAGE and "--jobs must be at least 1" in out
    status, out = run(["mutants", str(tmp_path)], tmp_path)
    assert status == ExitStatus.USAGE and "no problem.yaml" in out
    status, out = run(["mutants", "--assignment", str(tmp_path / "week.yaml")], tmp_path)
    assert status == ExitStatus.USAGE and f"no assignment file {tmp_path / 'week.yaml'}" in out
    status, out = run(["mutants", str(BATCH), str(ENSEMBLE), "--assignment",
                       str(tmp_path / "week.yaml")], tmp_path)
    assert status == ExitStatus.USAGE and "names problems of one bank" in out


def test_validate_mutants_analyses_only_the_problems_that_validate(tmp_path: Path) -> None:
    folder = Path(shutil.copytree(BATCH, tmp_path / "vmap_over_batch"))
    spec = folder / "problem.yaml"
    spec.write_text(spec.read_text().replace("tolerance: {rtol:", "tolerance: {rtl:"))
    status, out = run(["validate", str(folder), "--mutants"], tmp_path)
    assert status == ExitStatus.FAILURE
    assert "mutants: not analysed, as they do not validate: vmap_over_batch" in out


# -- grading the mutants (real workers) --------------------------------------------------------

@pytest.mark.worker
def test_the_mutants_of_vmap_over_batch_are_caught_as_measured(cache_dir: Path) -> None:
    problem = load_problem(BATCH)
    options = GradeOptions(cache_dir=cache_dir, compile_cache=compile_cache_beside(cache_dir))
    found = analyze(problem, options, jobs=2)
    by_id = {g.mutant.id: g for g in found.graded}
    swap = by_id["fwd: nnx.vmap in_axes (None, 0) -> (0, None)"]
    assert swap.verdict == "values" and swap.mistakes == ("wrong-axis-order",)
    assert swap.failing == tuple(range(8)) and "runtime-error" in swap.kinds
    seed = by_id["fixed seed: nnx.Rngs(int(seed)) -> nnx.Rngs(0)"]
    assert seed.verdict == "values" and seed.mistakes == ("ignored-seed",)
    assert seed.failing == (1, 2, 3, 4, 5, 6, 7)  # case 1 has seed 0.0
    flat = by_id["flattening: out.reshape(-1) -> out.T.reshape(-1)"]
    # A batch of one (case 4) and one output feature (case 6) look the same transposed.
    assert flat.verdict == "values" and flat.failing == (0, 1, 2, 4, 6, 7)
    assert flat.mistakes == ("transposed-output",)
    cast = by_id["int(seed) dropped"]
    assert cast.verdict == "values" and cast.mistakes == ("seed-not-cast",)
    lift = by_id["fwd: nnx.vmap removed"]
    assert lift.verdict == "structure" and lift.mistakes == ("missing-lift",)
    assert lift.failing == ()
    assert [g.mutant.id for g in found.graded if g.verdict == "structure"] == [lift.mutant.id]
    assert found.ok and found.errors == [] and found.cover == [1]
    console = Console(file=io.StringIO(), width=250)
    print_analysis(found, console)
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert out.rstrip().endswith(
        "mutants: 11 generated, 10 caught by values, 1 caught only by the structure test, "
        "0 survived")
    assert "cases that catch every mutant caught by values: case 2 (wide inputs)" in out
    assert "case 2 (wide inputs) (+6 more)" in out  # the fixed seed: 7 cases catch it


def weakened(tmp_path: Path) -> Path:
    """A copy of vmap_over_batch whose only case is a batch of one."""
    folder = Path(shutil.copytree(BATCH, tmp_path / "vmap_over_batch"))
    spec = folder / "problem.yaml"
    head = spec.read_text().split("\ncases:\n")[0]
    spec.write_text(head + "\ncases:\n" + (
        "  - name: a batch of one\n"
        "    visibility: visible\n"
        "    args:\n"
        "      seed: 7.0\n"
        "      x_batch: {generate: normal, shape: [1, 4], seed: 4}\n"
        "      features: 3.0\n"))
    return folder


@pytest.mark.worker
def test_an_undeclared_survivor_fails_and_the_same_survivor_declared_passes(
        tmp_path: Path, cache_dir: Path) -> None:
    folder = weakened(tmp_path)
    status, out = run(["mutants", str(folder), "--jobs", "2"], cache_dir)
    said = " ".join(out.split())
    assert status == ExitStatus.FAILURE
    transposed = "flattening: out.reshape(-1) -> out.T.reshape(-1)"
    out_axes = "fwd: nnx.vmap out_axes 0 (default) -> 1"
    for survivor in (transposed, out_axes):
        assert (f"survived {survivor} (line " in said and "same outputs on every case, but a "
                "variation of case 1 (a batch of one) catches it (x_batch's shape [1, 4] -> "
                "[3, 4]): add the case below" in said)
    assert f"# catches {out_axes}; {transposed}" in said
    assert ('  - name: "a batch of one, x_batch\'s shape [1, 4] -> [3, 4]"\n'
            "    visibility: hidden\n") in out
    assert out.rstrip().endswith(
        "mutants: 11 generated, 8 caught by values, 1 caught only by the structure test, "
        "2 survived")

    line = declare(folder, [{"id": transposed, "why": "a batch of one reads the same transposed"},
                            {"id": out_axes, "why": "a batch of one reads the same transposed"}])
    status, out = run(["mutants", str(folder)], cache_dir)
    said = " ".join(out.split())
    assert status == ExitStatus.SUCCESS
    assert f"equivalent {transposed}: a batch of one reads the same transposed" in said
    # A variation still catches them: the declaration is doubted, the run passes.
    assert (f"warning {folder / 'problem.yaml'}:{line}:5: mutants.equivalent[0].id: "
            f"{transposed!r} is declared equivalent, but a variation of case 1 (a batch of one) "
            "catches it") in said
    assert out.rstrip().endswith(
        "mutants: 11 generated, 8 caught by values, 1 caught only by the structure test, "
        "0 survived, 2 equivalent")
