"""The mistake catalogue and the structure test in problem specs: validation with golden
messages (the file, the key path, what is wrong), and the shipped catalogues."""

from __future__ import annotations

import ast
import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from autograder.errors import SpecError
from autograder.spec import Detect, LiftPattern, Mistake, load_problem, load_problems
from tests.support import PROBLEMS, without_positions

SHIPPED = ["composed_lifts_forward", "nn_vmap_forward", "scan_over_layers", "vmap_over_batch",
           "vmap_over_ensemble", "vmap_per_input"]
ID_PATTERN = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")

BASE: dict[str, Any] = {
    "function": "batch_forward",
    "title": "Batch forward",
    "parameters": [
        {"name": "seed", "type": "int"},
        {"name": "x_batch", "type": "array"},
        {"name": "features", "type": "int"},
    ],
    "returns": {"shape": ["x_batch.shape[0]", "features"]},
    "points": 10,
    "cases": [
        {"name": "first", "args": {
            "seed": 0, "x_batch": {"generate": "normal", "shape": [4, 3], "seed": 1},
            "features": 3}},
        {"name": "second", "args": {
            "seed": 1, "x_batch": {"generate": "normal", "shape": [2, 5], "seed": 2},
            "features": 5}},
    ],
}

VARIANTS = '''\
"""Known-wrong versions of batch_forward."""


def per_example_params(seed, x_batch, features):
    return x_batch


class NotAFunction:
    pass


def _helper():
    def nested_variant(seed, x_batch, features):
        return x_batch
    return nested_variant
'''


def mistake(mistake_id: str = "some-mistake", **fields: Any) -> dict[str, Any]:
    return {"id": mistake_id, "summary": "What went wrong.", "fix": "How to fix it.", **fields}


def write_problem(root: Path, *, mistakes: list[dict[str, Any]] | None = None,
                  structure: dict[str, Any] | None = None, variants_py: str | None = VARIANTS,
                  **changes: Any) -> Path:
    """A problem folder with problem.yaml, an empty reference.py and (unless variants_py is
    None) mistakes.py; a change whose value is None removes that key."""
    spec = copy.deepcopy(BASE)
    if mistakes is not None:
        spec["mistakes"] = mistakes
    if structure is not None:
        spec["structure"] = structure
    for key, value in changes.items():
        if value is None:
            spec.pop(key, None)
        else:
            spec[key] = value
    directory = root / "p"
    directory.mkdir(parents=True)
    (directory / "problem.yaml").write_text(yaml.safe_dump(spec, sort_keys=False),
                                            encoding="utf-8")
    (directory / "reference.py").write_text("", encoding="utf-8")
    if variants_py is not None:
        (directory / "mistakes.py").write_text(variants_py, encoding="utf-8")
    return directory


def spec_error(directory: Path) -> str:
    """str() of the SpecError, without the line and column every issue has."""
    with pytest.raises(SpecError) as info:
        load_problem(directory)
    return without_positions(str(info.value))


def lines(directory: Path, *messages: str) -> str:
    """The expected str() of a SpecError: one ``<file>: <message>`` line per issue."""
    return "\n".join(f"{directory / 'problem.yaml'}: {m}" for m in messages)


# -- a valid catalogue ----------------------------------------------------------------------


def test_a_full_catalogue_loads(tmp_path: Path) -> None:
    directory = write_problem(tmp_path, structure={
        "points": 2,
        "expect": [{"lift": "nn.vmap", "args": {"in_axes": 0,
                                                 "variable_axes": {"params": None}}}],
    }, mistakes=[
        mistake("per-example-params", detect=[
            {"variant": "per_example_params"},
            {"has": [{"lift": "nn.vmap", "args": {"variable_axes": {"params": 0}}}]}]),
        mistake("ignored-seed", detect={"reference_args": {"seed": 0}}, credit=0.5),
        mistake("wrong-type", detect={"returned": "^tuple\\("}),
        mistake("seed-not-cast", detect={"error": "Invalid rng value"}),
        mistake("transposed-output", detect={"output": "transposed"}),
        mistake("missing-lift", detect={"lacks": [{"lift": "nn.vmap"}]}),
        mistake("wrong-axis-order", detect={"has": [{"lift": "nn.vmap", "args": {
            "in_axes": {"not_one_of": [0, [0]]}}}]}),
    ])
    problem = load_problem(directory)
    spec = problem.spec
    assert [m.id for m in spec.mistakes] == [
        "per-example-params", "ignored-seed", "wrong-type", "seed-not-cast",
        "transposed-output", "missing-lift", "wrong-axis-order"]
    first = spec.mistakes[0]
    assert isinstance(first.detect, tuple)
    assert [d.trace_only for d in first.alternatives] == [False, True]
    assert spec.mistakes[1].alternatives == (spec.mistakes[1].detect,)
    assert spec.mistakes[1].credit == 0.5
    assert spec.mistakes[0].credit == 0.0
    assert spec.structure is not None
    assert spec.structure.visibility == "visible"
    assert spec.structure.expect[0].describe() == (
        "nn.vmap(in_axes=0, variable_axes={'params': None})")
    assert problem.output_shape is not None
    assert [c.text for c in problem.output_shape] == ["x_batch.shape[0]", "features"]


def test_case_points_leave_the_structure_tests_share(tmp_path: Path) -> None:
    structure = {"points": 2, "expect": [{"lift": "nn.vmap"}]}
    spec = load_problem(write_problem(tmp_path / "a", structure=structure)).spec
    assert spec.case_share == 8.0
    assert [spec.case_points(i) for i in range(2)] == [4.0, 4.0]

    weighted = copy.deepcopy(BASE["cases"])
    weighted[1]["weight"] = 3
    spec = load_problem(write_problem(tmp_path / "b", structure=structure,
                                      cases=weighted)).spec
    assert [spec.case_points(i) for i in range(2)] == [2.0, 6.0]
    assert spec.case_points(0) + spec.case_points(1) + 2 == spec.points

    without = load_problem(write_problem(tmp_path / "c")).spec
    assert without.case_share == 10.0
    assert [without.case_points(i) for i in range(2)] == [5.0, 5.0]


def test_trace_only_and_alternatives() -> None:
    assert Detect(has=(LiftPattern(lift="nn.vmap"),)).trace_only
    assert Detect(lacks=(LiftPattern(lift="nn.vmap"),)).trace_only
    assert not Detect(error="x", has=(LiftPattern(lift="nn.vmap"),)).trace_only
    assert not Detect(output="transposed").trace_only
    assert not Detect(variant="v").trace_only
    assert not Detect(reference_args={"seed": 0}).trace_only
    assert not Detect(returned="^tuple").trace_only
    one = Mistake(id="a", summary="s", fix="f", detect=Detect(output="transposed"))
    assert one.alternatives == (Detect(output="transposed"),)


def test_lift_pattern_describe() -> None:
    assert LiftPattern(lift="nnx.vmap", args={"in_axes": [None, 0]}).describe() == (
        "nnx.vmap(in_axes=(None, 0))")
    assert LiftPattern(lift="nnx.vmap", args={"in_axes": [0]}).describe() == (
        "nnx.vmap(in_axes=(0,))")
    assert LiftPattern(lift="nn.vmap", wraps="nn.scan").describe() == (
        "nn.vmap() applied to nn.scan(...)")
    assert LiftPattern(lift="nn.vmap", wraps="nothing").describe() == "nn.vmap()"
    assert LiftPattern(lift="nnx.vmap", args={
        "in_axes": {"not": [None, 0]}, "out_axes": {"one_of": [0, 1]},
        "axis_size": {"not_one_of": [None]}}).describe() == (
        "nnx.vmap(in_axes=anything but (None, 0), out_axes=one of (0, 1), "
        "axis_size=none of (None,))")


# -- golden messages ------------------------------------------------------------------------


def test_duplicate_mistake_ids(tmp_path: Path) -> None:
    directory = write_problem(tmp_path, mistakes=[
        mistake("same", detect={"output": "transposed"}),
        mistake("other", detect={"output": "not-flattened"}),
        mistake("same", detect={"variant": "per_example_params"}),
        mistake("same", detect={"output": "identical-rows"}),
    ])
    assert spec_error(directory) == lines(
        directory,
        "mistake 3 (same).id: duplicate mistake id 'same'",
        "mistake 4 (same).id: duplicate mistake id 'same'")


def test_an_output_signature_needs_returns_shape(tmp_path: Path) -> None:
    directory = write_problem(tmp_path, returns={"doc": "flat"}, mistakes=[
        mistake("transposed-output", detect={"output": "transposed"}),
        mistake("rows", detect=[{"variant": "per_example_params"},
                                {"output": "identical-rows"}]),
    ])
    assert spec_error(directory) == lines(
        directory,
        "mistake 1 (transposed-output).detect.output: 'transposed' needs returns.shape (the "
        "logical shape before flattening, e.g. [num_models, features])",
        "mistake 2 (rows).detect[1].output: 'identical-rows' needs returns.shape (the logical "
        "shape before flattening, e.g. [num_models, features])")


def test_a_variant_must_be_a_top_level_function_of_mistakes_py(tmp_path: Path) -> None:
    directory = write_problem(tmp_path, mistakes=[
        mistake("a", detect={"variant": "per_exmaple_params"}),
        mistake("b", detect={"variant": "NotAFunction"}),
        mistake("c", detect={"variant": "nested_variant"}),
        mistake("d", detect={"variant": "per_example_params"}),
    ])
    assert spec_error(directory) == lines(
        directory,
        "mistake 1 (a).detect.variant: no function 'per_exmaple_params' in mistakes.py",
        "mistake 2 (b).detect.variant: no function 'NotAFunction' in mistakes.py",
        "mistake 3 (c).detect.variant: no function 'nested_variant' in mistakes.py")


def test_the_detect_list_form_names_the_alternative(tmp_path: Path) -> None:
    directory = write_problem(tmp_path, mistakes=[
        mistake("a", detect=[{"output": "transposed"}, {"variant": "nope"}]),
        mistake("b", detect=[{"reference_args": {"width": 3}}, {"output": "transposed"}]),
    ])
    assert spec_error(directory) == lines(
        directory,
        "mistake 1 (a).detect[1].variant: no function 'nope' in mistakes.py",
        "mistake 2 (b).detect[0].reference_args.width: not a parameter of batch_forward")


def test_a_missing_variants_file(tmp_path: Path) -> None:
    directory = write_problem(tmp_path, variants_py=None, mistakes=[
        mistake("a", detect={"variant": "per_example_params"})])
    assert spec_error(directory) == lines(
        directory,
        "mistake 1 (a).detect.variant: the variants file 'mistakes.py' is missing or is not "
        "valid Python")


def test_a_variants_file_that_is_not_python(tmp_path: Path) -> None:
    directory = write_problem(tmp_path, variants_py="def broken(:\n", mistakes=[
        mistake("a", detect={"variant": "per_example_params"})])
    assert spec_error(directory) == lines(
        directory,
        "mistake 1 (a).detect.variant: the variants file 'mistakes.py' is missing or is not "
        "valid Python")


def test_a_renamed_variants_file(tmp_path: Path) -> None:
    directory = write_problem(tmp_path, variants_py=None, variants="wrong.py",
                              mistakes=[mistake("a", detect={"variant": "per_example_params"})])
    assert spec_error(directory) == lines(
        directory,
        "mistake 1 (a).detect.variant: the variants file 'wrong.py' is missing or is not valid "
        "Python")
    (directory / "wrong.py").write_text(VARIANTS, encoding="utf-8")
    problem = load_problem(directory)
    assert problem.spec.variants == "wrong.py"
    assert problem.mistakes_path == directory / "wrong.py"


def test_no_variants_file_is_needed_without_variants(tmp_path: Path) -> None:
    directory = write_problem(tmp_path, variants_py=None, mistakes=[
        mistake("a", detect={"output": "transposed"})])
    assert [m.id for m in load_problem(directory).spec.mistakes] == ["a"]


def test_reference_args_must_name_parameters_of_the_right_type(tmp_path: Path) -> None:
    directory = write_problem(tmp_path, mistakes=[
        mistake("a", detect={"reference_args": {"sede": 0}}),
        mistake("b", detect={"reference_args": {"x_batch": 0}}),
        mistake("c", detect={"reference_args": {
            "seed": {"generate": "normal", "shape": [2]}}}),
        mistake("d", detect={"reference_args": {"seed": 0.5}}),
        mistake("e", detect={"reference_args": {"seed": 2.0, "features": 4}}),
    ])
    assert spec_error(directory) == lines(
        directory,
        "mistake 1 (a).detect.reference_args.sede: not a parameter of batch_forward",
        "mistake 2 (b).detect.reference_args.x_batch: parameter 'x_batch' is an array: give "
        "{generate: ..., shape: [...]}",
        "mistake 3 (c).detect.reference_args.seed: parameter 'seed' is an int: give a number, "
        "not an array",
        "mistake 4 (d).detect.reference_args.seed: parameter 'seed' is an int, got 0.5")


def test_structure_points_must_leave_points_for_the_cases(tmp_path: Path) -> None:
    for points in (10, 12):
        directory = write_problem(tmp_path / str(points), structure={
            "points": points, "expect": [{"lift": "nn.vmap"}]})
        assert spec_error(directory) == lines(
            directory,
            "structure.points: must be less than the problem's points (10), which the cases "
            "share with it")


def test_structure_points_must_be_positive_and_expect_not_empty(tmp_path: Path) -> None:
    directory = write_problem(tmp_path, structure={"points": 0, "expect": []})
    assert spec_error(directory) == lines(
        directory,
        "structure.points: must be greater than 0, not 0 (e.g. `points: 2`)",
        "structure.expect: needs at least 1 entry (e.g. `expect: [{lift: nnx.vmap, args: "
        "{in_axes: [null, 0]}}]`)")


def test_a_bad_returns_shape_expression(tmp_path: Path) -> None:
    directory = write_problem(tmp_path, returns={
        "shape": ["x_batch.shape[0]", "features +", "width"]})
    assert spec_error(directory) == lines(
        directory,
        "returns.shape[1]: `features +` is not a Python expression: invalid syntax",
        "returns.shape[2]: `width`: unknown name 'width'; use parameter names (features, seed, "
        "x_batch)")


def test_issues_of_every_section_are_reported_together(tmp_path: Path) -> None:
    directory = write_problem(
        tmp_path, returns={"shape": ["x_batch.shape[0]", "features +"]},
        structure={"points": 10, "expect": [{"lift": "nn.vmap"}]},
        mistakes=[mistake("a", detect={"variant": "nope"}),
                  mistake("a", detect={"reference_args": {"x_batch": 1}})])
    assert spec_error(directory) == lines(
        directory,
        "returns.shape[1]: `features +` is not a Python expression: invalid syntax",
        "mistake 1 (a).detect.variant: no function 'nope' in mistakes.py",
        "mistake 2 (a).id: duplicate mistake id 'a'",
        "mistake 2 (a).detect.reference_args.x_batch: parameter 'x_batch' is an array: give "
        "{generate: ..., shape: [...]}",
        "structure.points: must be less than the problem's points (10), which the cases share "
        "with it")


def test_mistake_id_format_and_credit_range(tmp_path: Path) -> None:
    directory = write_problem(tmp_path, mistakes=[
        mistake("Bad_Id", detect={"output": "transposed"}),
        mistake("good-id", detect={"output": "transposed"}, credit=1.5),
    ])
    assert spec_error(directory) == lines(
        directory,
        "mistake 1 (Bad_Id).id: must be lowercase words of letters and digits joined by dashes "
        "such as `id: shared-rng`, not the text 'Bad_Id'",
        "mistake 2 (good-id).credit: must be at most 1, not 1.5 (e.g. `credit: 0.5`)")


# -- errors inside a detect: pydantic paths -------------------------------------------------


def test_a_matcher_has_exactly_one_key() -> None:
    with pytest.raises(ValidationError) as info:
        LiftPattern(lift="nn.vmap", args={"in_axes": {"not": 0, "one_of": [1]}})
    assert [e["msg"] for e in info.value.errors()] == [
        "Value error, args.in_axes: a matcher has exactly one of not, not_one_of, one_of"]
    with pytest.raises(ValidationError) as info:
        LiftPattern(lift="nn.vmap", args={"in_axes": {"one_of": 0}})
    assert [e["msg"] for e in info.value.errors()] == [
        "Value error, args.in_axes.one_of: give a list of values"]
    # A mapping argument that is not a matcher is fine, and so is `not` with a scalar.
    LiftPattern(lift="nn.vmap", args={"variable_axes": {"params": None}, "in_axes": {"not": 0}})


def test_a_nested_matcher_is_validated() -> None:
    with pytest.raises(ValidationError):
        LiftPattern(lift="nn.vmap", args={"variable_axes": {"params": {"one_of": 0}}})


def test_a_detect_needs_a_condition() -> None:
    with pytest.raises(ValidationError) as info:
        Detect()
    assert [e["msg"] for e in info.value.errors()] == [
        "Value error, give at least one of output, variant, reference_args, returned, error, "
        "params, has, lacks"]


# What a TA must read for a mistake in a detect: the key path they wrote, once. The
# messages are there (checked below), but the paths name pydantic's union members.
DETECT_ERRORS: list[tuple[str, Any, str]] = [
    ("bad regex in error", {"error": "(unclosed"},
     "mistake 1 (a).detect.error: not a valid regular expression: missing ), unterminated "
     "subpattern at position 0"),
    ("bad regex in returned", {"returned": "[z-a]"},
     "mistake 1 (a).detect.returned: not a valid regular expression: bad character range z-a "
     "at position 1"),
    ("no condition", {},
     "mistake 1 (a).detect: give at least one of output, variant, reference_args, returned, "
     "error, params, has, lacks"),
    ("matcher with two keys",
     {"has": [{"lift": "nn.vmap", "args": {"in_axes": {"not": 0, "one_of": [1]}}}]},
     "mistake 1 (a).detect.has[0].args: args.in_axes: a matcher has exactly one of not, "
     "not_one_of, one_of"),
    ("unknown key", {"outptu": "transposed"},
     "mistake 1 (a).detect.outptu: unknown key (did you mean 'output'?)"),
    ("unknown lift", {"has": [{"lift": "nn.map"}]},
     "mistake 1 (a).detect.has[0].lift: must be one of nnx.vmap, nnx.scan, nnx.split_rngs, "
     "nn.vmap, nn.scan, jax.vmap, nnx.split, nnx.merge, Rngs.fork, not the text 'nn.map' (did "
     "you mean 'nn.vmap'?)"),
    ("a bool reference argument", {"reference_args": {"seed": True}},
     "mistake 1 (a).detect.reference_args.seed: expected a number or an array recipe such as "
     "{generate: normal, shape: [3, 4], seed: 7}"),
    ("array recipe without shape", {"reference_args": {"x_batch": {"generate": "normal"}}},
     "mistake 1 (a).detect.reference_args.x_batch: 'generate: normal' needs a 'shape', e.g. "
     "shape: [3, 4]"),
    ("list form, bad regex", [{"output": "transposed"}, {"error": "(unclosed"}],
     "mistake 1 (a).detect[1].error: not a valid regular expression: missing ), unterminated "
     "subpattern at position 0"),
    ("list form, no condition", [{"output": "transposed"}, {}],
     "mistake 1 (a).detect[1]: give at least one of output, variant, reference_args, returned, "
     "error, params, has, lacks"),
]


@pytest.mark.parametrize(("detect", "message"), [(d, m) for _, d, m in DETECT_ERRORS],
                         ids=[label for label, _, _ in DETECT_ERRORS])
def test_errors_inside_a_detect_are_reported(tmp_path: Path, detect: Any, message: str) -> None:
    directory = write_problem(tmp_path, mistakes=[mistake("a", detect=detect)])
    error = spec_error(directory)
    text = message.split(": ", 1)[1]
    # The message itself is there, on a line about this mistake's detect.
    assert any(line.startswith(f"{directory / 'problem.yaml'}: mistake 1 (a).detect")
               and line.endswith(f": {text}") for line in error.splitlines()), error


@pytest.mark.parametrize(("detect", "message"), [(d, m) for _, d, m in DETECT_ERRORS],
                         ids=[label for label, _, _ in DETECT_ERRORS])
def test_errors_inside_a_detect_name_the_key_path_once(tmp_path: Path, detect: Any,
                                                       message: str) -> None:
    directory = write_problem(tmp_path, mistakes=[mistake("a", detect=detect)])
    assert spec_error(directory) == lines(directory, message)


# -- the shipped catalogues -----------------------------------------------------------------


def test_the_shipped_problems_load() -> None:
    problems = {p.id: p for p in load_problems(PROBLEMS)}
    assert sorted(problems) == SHIPPED
    for problem in problems.values():
        assert problem.spec.structure is not None
        assert 0 < problem.spec.structure.points < problem.spec.points
        assert problem.spec.mistakes
        assert problem.output_shape is not None


@pytest.mark.parametrize("problem_id", SHIPPED)
def test_shipped_mistake_ids_are_slugs_and_unique(problem_id: str) -> None:
    spec = load_problem(PROBLEMS / problem_id).spec
    found = [m.id for m in spec.mistakes]
    assert all(ID_PATTERN.fullmatch(i) for i in found), found
    assert len(set(found)) == len(found)


def _variants_in_yaml(raw: dict[str, Any]) -> list[str]:
    names = []
    for entry in raw.get("mistakes", []):
        detects = entry["detect"] if isinstance(entry["detect"], list) else [entry["detect"]]
        names += [d["variant"] for d in detects if "variant" in d]
    return names


@pytest.mark.parametrize("problem_id", SHIPPED)
def test_every_shipped_variant_exists(problem_id: str) -> None:
    directory = PROBLEMS / problem_id
    raw = yaml.safe_load((directory / "problem.yaml").read_text(encoding="utf-8"))
    named = _variants_in_yaml(raw)
    if not named:
        return
    tree = ast.parse((directory / raw.get("variants", "mistakes.py")).read_text("utf-8"))
    defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert set(named) <= defined, set(named) - defined


def test_the_shipped_catalogues_use_variants() -> None:
    named = {problem_id: _variants_in_yaml(yaml.safe_load(
        (PROBLEMS / problem_id / "problem.yaml").read_text(encoding="utf-8")))
        for problem_id in SHIPPED}
    assert named == {
        "composed_lifts_forward": ["per_example_params", "identical_layers"],
        "nn_vmap_forward": ["per_example_params"],
        "scan_over_layers": ["identical_layers", "python_loop", "python_loop_seeds",
                             "stacked_outputs", "no_residual"],
        "vmap_over_batch": [],
        "vmap_over_ensemble": ["no_split_rngs", "python_loop", "python_loop_seeds"],
        "vmap_per_input": ["no_split_rngs", "python_loop", "python_loop_seeds"],
    }
