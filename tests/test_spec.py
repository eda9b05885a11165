"""Problem specs: the shipped ones load, and every malformed spec is a SpecError whose message
names the file, the key path and what was expected (golden strings, one issue per line)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from pydantic import ValidationError

from autograder.errors import GraderError, SpecError, SpecIssue
from autograder.spec import (
    ArrayInput,
    LoadedProblem,
    Tolerance,
    discover_problems,
    load_problem,
    load_problems,
)
from autograder.spec.inputs import make_array
from tests.support import without_positions

REPO = Path(__file__).resolve().parents[1]
PROBLEMS = REPO / "problems"
SHIPPED = ["composed_lifts_forward", "nn_vmap_forward", "scan_over_layers", "vmap_over_batch",
           "vmap_over_ensemble", "vmap_per_input"]

# Two cases, so that an error in one case is the only issue reported.
BASE: dict[str, Any] = {
    "function": "batch_forward",
    "title": "Batch forward",
    "parameters": [
        {"name": "seed", "type": "int"},
        {"name": "x_batch", "type": "array"},
        {"name": "features", "type": "int"},
    ],
    "points": 10,
    "constraints": ["x_batch.shape[-1] == features"],
    "cases": [
        {"name": "first", "args": {
            "seed": 0,
            "x_batch": {"generate": "normal", "shape": [4, 3], "seed": 1},
            "features": 3,
        }},
        {"name": "second", "args": {
            "seed": 1,
            "x_batch": {"generate": "uniform", "shape": [2, 5], "low": -1.0, "high": 1.0,
                        "seed": 2},
            "features": 5,
        }},
    ],
}


# The same spec as hand-written YAML, for tests about the text itself.
BASE_YAML = """\
function: batch_forward
title: Batch forward
parameters:
  - {name: seed, type: int}
  - {name: x_batch, type: array}
  - {name: features, type: int}
points: 10
constraints:
  - x_batch.shape[-1] == features
cases:
  - name: first
    args:
      seed: 0
      x_batch: {generate: normal, shape: [4, 3], seed: 1}
      features: 3
  - name: second
    args:
      seed: 1
      x_batch: {generate: uniform, shape: [2, 5], low: -1.0, high: 1.0, seed: 2}
      features: 5
"""


def base() -> dict[str, Any]:
    return copy.deepcopy(BASE)


def edit_yaml(old: str, new: str) -> str:
    assert BASE_YAML.count(old) == 1, old
    return BASE_YAML.replace(old, new)


def write_problem(root: Path, spec: dict[str, Any] | str, *, name: str = "p",
                  reference: bool = True) -> Path:
    """A problem folder ``root/name`` with ``problem.yaml`` and an empty ``reference.py``."""
    directory = root / name
    directory.mkdir(parents=True)
    text = spec if isinstance(spec, str) else yaml.safe_dump(spec, sort_keys=False)
    (directory / "problem.yaml").write_text(text, encoding="utf-8")
    if reference:
        (directory / "reference.py").write_text("", encoding="utf-8")
    return directory


def spec_error(directory: Path) -> str:
    """str() of the SpecError, without the line and column every issue has."""
    with pytest.raises(SpecError) as info:
        load_problem(directory)
    return without_positions(str(info.value))


def load_error(directory: Path) -> str | None:
    """str() of the SpecError, or None when the spec loads."""
    try:
        load_problem(directory)
    except SpecError as exc:
        return without_positions(str(exc))
    return None


def positioned_error(directory: Path) -> str:
    """str() of the SpecError as it is: ``<file>:<line>:<col>: <message>`` lines."""
    with pytest.raises(SpecError) as info:
        load_problem(directory)
    return str(info.value)


NOT_A_MAPPING = ("the spec must be a mapping of keys to values, such as `function: "
                 "vmap_over_batch` and `title: ...` lines")


def lines(directory: Path, *messages: str) -> str:
    """The expected str() of a SpecError: one ``<file>: <message>`` line per issue."""
    return "\n".join(f"{directory / 'problem.yaml'}: {m}" for m in messages)


# -- the shipped problems -------------------------------------------------------------------


def test_all_shipped_problems_load_together() -> None:
    problems = load_problems(PROBLEMS)
    assert [p.id for p in problems] == SHIPPED
    for problem in problems:
        assert problem.spec.function == problem.id
        assert problem.spec_path == PROBLEMS / problem.id / "problem.yaml"
        assert problem.reference_path.is_file()
        assert len(problem.constraints) == len(problem.spec.constraints) >= 2
        assert len(problem.spec.cases) == 8
        assert problem.spec.structure is not None
        structure = problem.spec.structure.points
        assert sum(problem.spec.case_points(i) for i in range(8)) + structure == (
            pytest.approx(problem.spec.points))
        visibilities = {case.visibility for case in problem.spec.cases}
        assert visibilities == {"visible", "hidden"}


@pytest.mark.parametrize("problem_id", SHIPPED)
def test_each_shipped_problem_loads_alone(problem_id: str) -> None:
    problem = load_problem(PROBLEMS / problem_id)
    assert isinstance(problem, LoadedProblem)
    assert problem.id == problem_id
    assert problem.spec.returns.dtype == "float32"
    assert problem.spec.tolerance == Tolerance(rtol=1e-5, atol=1e-6)


def test_shipped_parameter_types() -> None:
    batch = load_problem(PROBLEMS / "vmap_over_batch").spec
    assert batch.parameter_names == ("seed", "x_batch", "features")
    assert [p.type for p in batch.parameters] == ["float", "array", "float"]
    composed = load_problem(PROBLEMS / "composed_lifts_forward").spec
    assert [p.type for p in composed.parameters] == ["int", "array", "int", "int"]
    assert composed.constraints == ("x_batch.ndim == 2", "x_batch.shape[-1] == features",
                                    "num_layers >= 1")


def test_discover_problems_accepts_a_single_problem_folder() -> None:
    assert discover_problems(PROBLEMS / "vmap_over_batch") == [PROBLEMS / "vmap_over_batch"]
    assert discover_problems(PROBLEMS) == [PROBLEMS / p for p in SHIPPED]


# -- a valid spec and what it means ---------------------------------------------------------


def test_base_spec_loads(tmp_path: Path) -> None:
    problem = load_problem(write_problem(tmp_path, base()))
    assert problem.id == "p"
    assert problem.spec.parameter_names == ("seed", "x_batch", "features")
    assert [c.text for c in problem.constraints] == ["x_batch.shape[-1] == features"]
    recipe = problem.spec.cases[0].args["x_batch"]
    assert isinstance(recipe, ArrayInput)
    assert recipe.generate == "normal"
    assert recipe.shape == (4, 3)
    assert problem.spec.cases[0].args["seed"] == 0
    # defaults
    assert problem.spec.time_limit == 60.0
    assert problem.spec.reference == "reference.py"
    assert problem.spec.returns.dtype == "float32"
    assert problem.spec.cases[0].visibility == "visible"


def test_case_points_split_by_weight(tmp_path: Path) -> None:
    spec = base()
    spec["points"] = 12
    spec["cases"][0]["weight"] = 1
    spec["cases"][1]["weight"] = 3
    spec["cases"].append(copy.deepcopy(spec["cases"][1]) | {"weight": 2})
    problem = load_problem(write_problem(tmp_path, spec)).spec
    assert [problem.case_points(i) for i in range(3)] == [2.0, 6.0, 4.0]
    assert sum(problem.case_points(i) for i in range(3)) == 12


def test_equal_weights_split_points_evenly(tmp_path: Path) -> None:
    spec = base()
    spec["points"] = 5
    problem = load_problem(write_problem(tmp_path, spec)).spec
    assert [problem.case_points(i) for i in range(2)] == [2.5, 2.5]


def test_tolerance_and_time_limit_overrides(tmp_path: Path) -> None:
    spec = base()
    spec["tolerance"] = {"rtol": 1e-4, "atol": 1e-3}
    spec["time_limit"] = 30
    spec["cases"][1]["tolerance"] = {"rtol": 0.01}
    spec["cases"][1]["time_limit"] = 5
    problem = load_problem(write_problem(tmp_path, spec)).spec
    assert problem.tolerance_for(0) == Tolerance(rtol=1e-4, atol=1e-3)
    assert problem.time_limit_for(0) == 30.0
    # A case tolerance replaces the problem's whole tolerance; unset fields take defaults.
    assert problem.tolerance_for(1) == Tolerance(rtol=0.01, atol=1e-6)
    assert problem.time_limit_for(1) == 5.0


def test_case_labels(tmp_path: Path) -> None:
    spec = base()
    del spec["cases"][1]["name"]
    problem = load_problem(write_problem(tmp_path, spec)).spec
    assert problem.case_label(0) == "case 1 (first)"
    assert problem.case_label(1) == "case 2"


def test_loaded_spec_is_frozen(tmp_path: Path) -> None:
    problem = load_problem(write_problem(tmp_path, base()))
    with pytest.raises(ValidationError):
        problem.spec.points = 3  # type: ignore[misc]
    with pytest.raises(ValidationError):
        problem.spec.cases[0].weight = 2  # type: ignore[misc]


def test_int_parameter_accepts_an_integral_float(tmp_path: Path) -> None:
    spec = base()
    spec["cases"][0]["args"]["seed"] = 2.0
    problem = load_problem(write_problem(tmp_path, spec))
    assert problem.spec.cases[0].args["seed"] == 2.0


def test_spec_error_is_a_grader_error() -> None:
    issue = SpecIssue(Path("problems/x/problem.yaml"), "cases[2].rtol", "bad")
    assert str(issue) == "problems/x/problem.yaml: cases[2].rtol: bad"
    assert str(SpecIssue(Path("a.yaml"), "", "whole file")) == "a.yaml: whole file"
    error = SpecError([issue, SpecIssue(Path("b.yaml"), "points", "no")])
    assert isinstance(error, GraderError)
    assert str(error) == "problems/x/problem.yaml: cases[2].rtol: bad\nb.yaml: points: no"
    assert len(error.issues) == 2


# -- golden messages: unknown keys ----------------------------------------------------------


def test_unknown_case_tolerance_key_suggests_the_right_one(tmp_path: Path) -> None:
    spec = base()
    spec["cases"][0]["tolerance"] = {"rtl": 1e-5}
    directory = write_problem(tmp_path, spec)
    assert spec_error(directory) == lines(
        directory, "case 1 (first).tolerance.rtl: unknown key (did you mean 'rtol'?)")


def test_base_yaml_is_the_base_spec() -> None:
    assert yaml.safe_load(BASE_YAML) == BASE


def test_unknown_key_from_raw_yaml_text(tmp_path: Path) -> None:
    text = edit_yaml("  - name: second\n", "  - name: second\n    tolerance: {rtl: 1e-5}\n")
    directory = write_problem(tmp_path, text)
    assert spec_error(directory) == lines(
        directory, "case 2 (second).tolerance.rtl: unknown key (did you mean 'rtol'?)")


def test_unknown_top_level_key_suggestion(tmp_path: Path) -> None:
    spec = base()
    spec["constraint"] = spec.pop("constraints")
    directory = write_problem(tmp_path, spec)
    assert spec_error(directory) == lines(
        directory, "constraint: unknown key (did you mean 'constraints'?)")


def test_unknown_key_without_a_close_match(tmp_path: Path) -> None:
    spec = base()
    spec["difficulty"] = "hard"
    directory = write_problem(tmp_path, spec)
    assert spec_error(directory) == lines(directory, "difficulty: unknown key")


def test_unknown_key_in_an_array_recipe(tmp_path: Path) -> None:
    spec = base()
    spec["cases"][1]["args"]["x_batch"]["sead"] = 3
    directory = write_problem(tmp_path, spec)
    assert spec_error(directory) == lines(
        directory, "case 2 (second).args.x_batch.sead: unknown key (did you mean 'seed'?)")


def test_unknown_key_in_a_parameter(tmp_path: Path) -> None:
    spec = base()
    spec["parameters"][2]["tpye"] = "int"
    directory = write_problem(tmp_path, spec)
    assert spec_error(directory) == lines(
        directory, "parameter 3 (features).tpye: unknown key (did you mean 'type'?)")


# -- golden messages: types and required keys -----------------------------------------------


def test_wrong_type_of_a_top_level_value(tmp_path: Path) -> None:
    spec = base()
    spec["points"] = "ten"
    directory = write_problem(tmp_path, spec)
    assert spec_error(directory) == lines(
        directory, "points: must be a number such as `points: 10`, not the text 'ten'")


def test_wrong_type_of_a_nested_value(tmp_path: Path) -> None:
    spec = base()
    spec["cases"][1]["tolerance"] = {"rtol": "big"}
    directory = write_problem(tmp_path, spec)
    assert spec_error(directory) == lines(
        directory,
        "case 2 (second).tolerance.rtol: must be a number such as `rtol: 1e-5`, not the text 'big'")


def test_value_out_of_range(tmp_path: Path) -> None:
    spec = base()
    spec["cases"][1]["weight"] = 0
    spec["tolerance"] = {"atol": -1}
    directory = write_problem(tmp_path, spec)
    assert spec_error(directory) == lines(
        directory,
        "case 2 (second).weight: must be greater than 0, not 0 (e.g. `weight: 2`)",
        "tolerance.atol: must be at least 0, not -1 (e.g. `atol: 1e-6`)")


def test_literal_choices_are_listed(tmp_path: Path) -> None:
    spec = base()
    spec["cases"][1]["visibility"] = "secret"
    spec["parameters"][0]["type"] = "integer"
    directory = write_problem(tmp_path, spec)
    assert spec_error(directory) == lines(
        directory,
        "parameter 1 (seed).type: must be one of float, int, array, not the text 'integer' "
        "(did you mean 'int'?)",
        "case 2 (second).visibility: must be one of visible, hidden, after_due_date, "
        "after_published, not the text 'secret'")


def test_missing_required_top_level_key(tmp_path: Path) -> None:
    spec = base()
    del spec["title"]
    directory = write_problem(tmp_path, spec)
    assert spec_error(directory) == lines(
        directory, 'title: required key is missing: add `title: "NNX vmap over a batch"`')


def test_missing_required_nested_keys(tmp_path: Path) -> None:
    spec = base()
    del spec["cases"][1]["args"]
    del spec["parameters"][1]["type"]
    directory = write_problem(tmp_path, spec)
    assert spec_error(directory) == lines(
        directory,
        "parameter 2 (x_batch).type: required key is missing: add `type: array`",
        "case 2 (second).args: required key is missing: add `args: {seed: 0, x_batch: "
        "{generate: normal, shape: [4, 3], seed: 7}}`")


def test_empty_parameter_list(tmp_path: Path) -> None:
    spec = base()
    spec["parameters"] = []
    directory = write_problem(tmp_path, spec)
    assert spec_error(directory) == lines(
        directory, "parameters: needs at least 1 entry (e.g. `parameters: [{name: x_batch, "
                   "type: array}]`)")


def test_invalid_identifiers(tmp_path: Path) -> None:
    spec = base()
    spec["function"] = "def"
    spec["parameters"][0]["name"] = "2seed"
    directory = write_problem(tmp_path, spec)
    assert spec_error(directory) == lines(
        directory,
        "function: 'def' is not a valid Python identifier",
        "parameter 1 (2seed).name: '2seed' is not a valid Python identifier")


def test_duplicate_parameter(tmp_path: Path) -> None:
    spec = base()
    spec["parameters"].append({"name": "seed", "type": "int"})
    directory = write_problem(tmp_path, spec)
    assert spec_error(directory) == lines(
        directory, "parameter 4 (seed).name: duplicate parameter 'seed'")


def test_spec_that_is_not_a_mapping(tmp_path: Path) -> None:
    directory = write_problem(tmp_path, "- just\n- a list\n")
    assert spec_error(directory) == lines(directory, NOT_A_MAPPING)


def test_empty_spec_file(tmp_path: Path) -> None:
    directory = write_problem(tmp_path, "")
    assert spec_error(directory) == lines(directory, NOT_A_MAPPING)


def test_missing_spec_file(tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    with pytest.raises(SpecError) as info:  # no line and column: there is no file
        load_problem(tmp_path / "p")
    assert str(info.value) == lines(
        tmp_path / "p", "cannot read the spec: No such file or directory")


# -- golden messages: arguments against parameters ------------------------------------------


def test_array_parameter_given_a_number(tmp_path: Path) -> None:
    spec = base()
    spec["cases"][1]["args"]["x_batch"] = 3
    directory = write_problem(tmp_path, spec)
    assert spec_error(directory) == lines(
        directory,
        "case 2 (second).args.x_batch: parameter 'x_batch' is an array: give {generate: ..., "
        "shape: [...]}")


def test_int_parameter_given_a_fraction(tmp_path: Path) -> None:
    spec = base()
    spec["cases"][0]["args"]["seed"] = 2.5
    directory = write_problem(tmp_path, spec)
    assert spec_error(directory) == lines(
        directory, "case 1 (first).args.seed: parameter 'seed' is an int, got 2.5")


def test_float_parameter_given_an_array(tmp_path: Path) -> None:
    spec = base()
    spec["parameters"][0]["type"] = "float"
    spec["cases"][1]["args"]["seed"] = {"generate": "zeros", "shape": [1]}
    directory = write_problem(tmp_path, spec)
    assert spec_error(directory) == lines(
        directory,
        "case 2 (second).args.seed: parameter 'seed' is a float: give a number, not an array")


def test_int_parameter_given_an_array(tmp_path: Path) -> None:
    spec = base()
    spec["cases"][1]["args"]["seed"] = {"generate": "zeros", "shape": [1]}
    directory = write_problem(tmp_path, spec)
    assert spec_error(directory) == lines(
        directory,
        "case 2 (second).args.seed: parameter 'seed' is an int: give a number, not an array")


@pytest.mark.parametrize("value", ["hello", True, [1, 2, 3]])
def test_argument_that_is_neither_number_nor_recipe(tmp_path: Path, value: Any) -> None:
    spec = base()
    spec["cases"][1]["args"]["seed"] = value
    directory = write_problem(tmp_path, spec)
    assert spec_error(directory) == lines(
        directory,
        "case 2 (second).args.seed: expected a number or an array recipe such as "
        "{generate: normal, shape: [3, 4], seed: 7}")


def test_argument_name_that_is_not_a_parameter(tmp_path: Path) -> None:
    spec = base()
    spec["cases"][1]["args"]["featurs"] = 5
    directory = write_problem(tmp_path, spec)
    assert spec_error(directory) == lines(
        directory,
        "case 2 (second).args.featurs: not a parameter of batch_forward (did you mean "
        "'features'?); parameters are seed, x_batch, features")


def test_argument_name_without_a_close_parameter(tmp_path: Path) -> None:
    spec = base()
    spec["cases"][0]["args"]["zzz"] = 1
    directory = write_problem(tmp_path, spec)
    assert spec_error(directory) == lines(
        directory,
        "case 1 (first).args.zzz: not a parameter of batch_forward; parameters are seed, x_batch, "
        "features")


def test_missing_argument(tmp_path: Path) -> None:
    spec = base()
    del spec["cases"][1]["args"]["features"]
    directory = write_problem(tmp_path, spec)
    assert spec_error(directory) == lines(
        directory, "case 2 (second).args: missing argument 'features': add `features: 3`")


def test_misspelled_argument_is_both_unknown_and_missing(tmp_path: Path) -> None:
    spec = base()
    spec["cases"][1]["args"]["feature"] = spec["cases"][1]["args"].pop("features")
    directory = write_problem(tmp_path, spec)
    assert spec_error(directory) == lines(
        directory,
        "case 2 (second).args: missing argument 'features': add `features: 3`",
        "case 2 (second).args.feature: not a parameter of batch_forward (did you mean "
        "'features'?); parameters are seed, x_batch, features")


# -- golden messages: constraints -----------------------------------------------------------


def test_case_breaking_a_constraint(tmp_path: Path) -> None:
    spec = base()
    spec["cases"][1]["args"]["features"] = 4
    directory = write_problem(tmp_path, spec)
    assert spec_error(directory) == lines(
        directory,
        "case 2 (second): breaks constraints[0] `x_batch.shape[-1] == features`: "
        "`x_batch.shape[-1]` is 5 and `features` is 4")


def test_case_breaking_a_compound_constraint(tmp_path: Path) -> None:
    spec = base()
    spec["constraints"].append("x_batch.ndim == 2 and features > 3")
    directory = write_problem(tmp_path, spec)
    assert spec_error(directory) == lines(
        directory,
        "case 1 (first): breaks constraints[1] `x_batch.ndim == 2 and features > 3`: "
        "it is false for this case")


def test_constraint_that_cannot_be_evaluated_on_a_case(tmp_path: Path) -> None:
    spec = base()
    spec["constraints"] = ["x_batch.shape[2] == features"]
    directory = write_problem(tmp_path, spec)
    message = ("breaks constraints[0] `x_batch.shape[2] == features`: could not be evaluated "
               "(IndexError: tuple index out of range)")
    assert spec_error(directory) == lines(directory, f"case 1 (first): {message}",
                                          f"case 2 (second): {message}")


def test_constraint_with_an_unknown_name(tmp_path: Path) -> None:
    spec = base()
    spec["constraints"] = ["x_batch.shape[-1] == feature"]
    directory = write_problem(tmp_path, spec)
    assert spec_error(directory) == lines(
        directory,
        "constraints[0]: `x_batch.shape[-1] == feature`: unknown name 'feature'; use parameter "
        "names (features, seed, x_batch)")


def test_constraint_with_a_lambda(tmp_path: Path) -> None:
    spec = base()
    spec["constraints"] = ["(lambda: 1)() == 1", "lambda: features"]
    directory = write_problem(tmp_path, spec)
    assert spec_error(directory) == lines(
        directory,
        "constraints[0]: `(lambda: 1)() == 1`: only abs, float, int, len, max, min may be called",
        "constraints[1]: `lambda: features`: Lambda is not allowed in a constraint (use "
        "comparisons, arithmetic, .shape/.ndim/.size/.dtype, len, int, abs)")


def test_constraint_with_dunder_import(tmp_path: Path) -> None:
    spec = base()
    spec["constraints"] = ["__import__('os').system('true') == 0"]
    directory = write_problem(tmp_path, spec)
    assert spec_error(directory) == lines(
        directory,
        "constraints[0]: `__import__('os').system('true') == 0`: only abs, float, int, len, max, "
        "min may be called")


def test_constraint_with_a_forbidden_attribute(tmp_path: Path) -> None:
    spec = base()
    spec["constraints"] = ["x_batch.__class__ == features"]
    directory = write_problem(tmp_path, spec)
    assert spec_error(directory) == lines(
        directory,
        "constraints[0]: `x_batch.__class__ == features`: attribute .__class__ is not allowed "
        "(allowed: dtype, ndim, shape, size)")


def test_constraint_that_is_not_an_expression(tmp_path: Path) -> None:
    spec = base()
    spec["constraints"] = ["x_batch.shape[-1] =="]
    directory = write_problem(tmp_path, spec)
    assert spec_error(directory) == lines(
        directory,
        "constraints[0]: `x_batch.shape[-1] ==` is not a Python expression: invalid syntax")


def test_bad_constraint_skips_case_checks(tmp_path: Path) -> None:
    # With one constraint unparsable, cases are not checked (only the syntax is reported),
    # even though features=4 breaks the other constraint.
    spec = base()
    spec["constraints"].append("nope > 1")
    spec["cases"][1]["args"]["features"] = 4
    directory = write_problem(tmp_path, spec)
    assert spec_error(directory) == lines(
        directory,
        "constraints[1]: `nope > 1`: unknown name 'nope'; use parameter names "
        "(features, seed, x_batch)")


# -- golden messages: YAML, files, dtypes, recipes ------------------------------------------


def test_invalid_yaml_reports_line_and_column(tmp_path: Path) -> None:
    text = "function: f\ntitle: [unclosed\npoints: 3\n"
    directory = write_problem(tmp_path, text)
    assert positioned_error(directory) == (
        f"{directory / 'problem.yaml'}:3:7: invalid YAML: expected ',' or ']', but got ':' "
        "(while parsing a flow sequence that starts at line 2, column 8)")


def test_invalid_yaml_tab_indentation(tmp_path: Path) -> None:
    text = "function: f\n\tpoints: 3\n"
    directory = write_problem(tmp_path, text)
    assert positioned_error(directory) == (
        f"{directory / 'problem.yaml'}:2:1: invalid YAML: found character '\\t' that cannot "
        "start any token (indent with spaces, not tabs)")


def test_yaml_python_tags_are_refused(tmp_path: Path) -> None:
    text = "function: !!python/object/apply:os.system [true]\n"
    directory = write_problem(tmp_path, text)
    assert positioned_error(directory) == (
        f"{directory / 'problem.yaml'}:1:11: invalid YAML: could not determine a constructor "
        "for the tag 'tag:yaml.org,2002:python/object/apply:os.system'")


def test_missing_reference_file(tmp_path: Path) -> None:
    directory = write_problem(tmp_path, base(), reference=False)
    assert spec_error(directory) == lines(
        directory, f"reference: no reference file 'reference.py' in {directory}")


def test_missing_custom_reference_file(tmp_path: Path) -> None:
    spec = base()
    spec["reference"] = "solution.py"
    directory = write_problem(tmp_path, spec)
    assert spec_error(directory) == lines(
        directory, f"reference: no reference file 'solution.py' in {directory}")


def test_missing_reference_is_reported_with_other_issues(tmp_path: Path) -> None:
    spec = base()
    spec["cases"][1]["args"]["features"] = 4
    directory = write_problem(tmp_path, spec, reference=False)
    # In the file's order: the reference is not written, so it is at the top.
    assert spec_error(directory) == lines(
        directory,
        f"reference: no reference file 'reference.py' in {directory}",
        "case 2 (second): breaks constraints[0] `x_batch.shape[-1] == features`: "
        "`x_batch.shape[-1]` is 5 and `features` is 4")


def test_bad_dtype_name_in_a_recipe(tmp_path: Path) -> None:
    spec = base()
    spec["cases"][1]["args"]["x_batch"]["dtype"] = "float33"
    directory = write_problem(tmp_path, spec)
    assert spec_error(directory) == lines(
        directory,
        "case 2 (second).args.x_batch.dtype: unknown dtype 'float33'; use a numpy name such as "
        "'float32'")


def test_bad_dtype_name_in_returns(tmp_path: Path) -> None:
    spec = base()
    spec["returns"] = {"dtype": "flaot32"}
    directory = write_problem(tmp_path, spec)
    assert spec_error(directory) == lines(
        directory, "returns.dtype: unknown dtype 'flaot32'; use a numpy name such as 'float32'")


def test_returns_dtype_null_accepts_any(tmp_path: Path) -> None:
    spec = base()
    spec["returns"] = {"dtype": None}
    assert load_problem(write_problem(tmp_path, spec)).spec.returns.dtype is None


def test_recipe_with_both_value_and_generate(tmp_path: Path) -> None:
    spec = base()
    spec["cases"][1]["args"]["x_batch"] = {"generate": "normal", "shape": [1, 5],
                                           "value": [[1, 2, 3, 4, 5]]}
    directory = write_problem(tmp_path, spec)
    assert spec_error(directory) == lines(
        directory,
        "case 2 (second).args.x_batch: give exactly one of 'generate' (with 'shape') or 'value'")


def test_recipe_with_neither_value_nor_generate(tmp_path: Path) -> None:
    spec = base()
    spec["cases"][1]["args"]["x_batch"] = {"shape": [2, 5]}
    directory = write_problem(tmp_path, spec)
    assert spec_error(directory) == lines(
        directory,
        "case 2 (second).args.x_batch: give exactly one of 'generate' (with 'shape') or 'value'")


def test_recipe_generate_without_shape(tmp_path: Path) -> None:
    spec = base()
    spec["cases"][1]["args"]["x_batch"] = {"generate": "ones"}
    directory = write_problem(tmp_path, spec)
    assert spec_error(directory) == lines(
        directory,
        "case 2 (second).args.x_batch: 'generate: ones' needs a 'shape', e.g. shape: [3, 4]")


def test_recipe_value_disagreeing_with_shape(tmp_path: Path) -> None:
    spec = base()
    spec["cases"][1]["args"]["x_batch"] = {"value": [[1, 2, 3, 4, 5]], "shape": [2, 5]}
    directory = write_problem(tmp_path, spec)
    assert spec_error(directory) == lines(
        directory, "case 2 (second).args.x_batch: 'value' has shape [1, 5] but 'shape' says [2, 5]")


def test_recipe_low_not_below_high(tmp_path: Path) -> None:
    spec = base()
    spec["cases"][1]["args"]["x_batch"].update(low=1.0, high=1.0)
    directory = write_problem(tmp_path, spec)
    assert spec_error(directory) == lines(
        directory, "case 2 (second).args.x_batch: 'low' (1.0) must be below 'high' (1.0)")


def test_recipe_negative_sizes_and_seed(tmp_path: Path) -> None:
    spec = base()
    spec["cases"][1]["args"]["x_batch"].update(shape=[-2, 5], seed=-1)
    directory = write_problem(tmp_path, spec)
    assert spec_error(directory) == lines(
        directory,
        "case 2 (second).args.x_batch.shape[0]: must be at least 0, not -2 (e.g. `shape: [4, 3]`)",
        "case 2 (second).args.x_batch.seed: must be at least 0, not -1 (e.g. `seed: 7`)")


def test_explicit_value_recipe_loads(tmp_path: Path) -> None:
    spec = base()
    spec["cases"][1]["args"]["x_batch"] = {"value": [[1, 2, 3, 4, 5]]}
    spec["cases"][1]["args"]["features"] = 5
    problem = load_problem(write_problem(tmp_path, spec))
    recipe = problem.spec.cases[1].args["x_batch"]
    assert isinstance(recipe, ArrayInput)
    array = make_array(recipe)
    assert array.shape == (1, 5) and array.dtype == np.float32


# -- several problems -----------------------------------------------------------------------


def test_two_problems_grading_the_same_function(tmp_path: Path) -> None:
    first = write_problem(tmp_path, base(), name="a_first")
    second = write_problem(tmp_path, base(), name="b_second")
    with pytest.raises(SpecError) as info:
        load_problems(tmp_path)
    assert str(info.value) == (f"{second / 'problem.yaml'}:1:1: function: 'batch_forward' is "
                               f"also graded by {first / 'problem.yaml'}: rename one")


def test_issues_of_every_spec_are_reported_together(tmp_path: Path) -> None:
    broken = base()
    broken["points"] = -1
    first = write_problem(tmp_path, broken, name="a")
    other = base()
    other["function"] = "other_forward"
    del other["title"]
    second = write_problem(tmp_path, other, name="b")
    write_problem(tmp_path, base() | {"function": "third"}, name="c")
    with pytest.raises(SpecError) as info:
        load_problems(tmp_path)
    assert str(info.value) == "\n".join([
        f"{first / 'problem.yaml'}:10:1: points: must be greater than 0, not -1 (e.g. "
        "`points: 10`)",
        f"{second / 'problem.yaml'}:1:1: title: required key is missing: add `title: \"NNX vmap "
        'over a batch"`',
    ])


def test_load_problems_without_any_spec(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(SpecError) as info:
        load_problems(tmp_path)
    assert str(info.value) == f"{tmp_path}: no */problem.yaml found"


def test_load_problems_distinct_functions(tmp_path: Path) -> None:
    write_problem(tmp_path, base(), name="one")
    write_problem(tmp_path, base() | {"function": "second_forward"}, name="two")
    problems = load_problems(tmp_path)
    assert [(p.id, p.spec.function) for p in problems] == [("one", "batch_forward"),
                                                           ("two", "second_forward")]


# -- bugs -----------------------------------------------------------------------------------


def test_no_spurious_cases_issue_when_the_only_case_is_invalid(tmp_path: Path) -> None:
    spec = base()
    del spec["cases"][1]
    spec["cases"][0]["tolerance"] = {"rtl": 1e-5}
    directory = write_problem(tmp_path, spec)
    assert spec_error(directory) == lines(
        directory, "case 1 (first).tolerance.rtl: unknown key (did you mean 'rtol'?)")


@pytest.mark.parametrize("value", ["abc", [[1, 2], [3]]])
def test_unconvertible_value_is_a_spec_error(tmp_path: Path, value: Any) -> None:
    spec = base()
    spec["constraints"] = []
    spec["cases"][1]["args"]["x_batch"] = {"value": value}
    directory = write_problem(tmp_path, spec)
    assert spec_error(directory).startswith(f"{directory / 'problem.yaml'}: "
                                            f"case 2 (second).args.x_batch: ")


def test_integers_bounds_that_truncate_to_an_empty_range(tmp_path: Path) -> None:
    spec = base()
    spec["cases"][1]["args"]["x_batch"].update(generate="integers", low=0.2, high=0.7)
    directory = write_problem(tmp_path, spec)
    assert spec_error(directory).startswith(f"{directory / 'problem.yaml'}: "
                                            f"case 2 (second).args.x_batch: ")


def test_key_path_of_a_parameter_named_array(tmp_path: Path) -> None:
    spec = base()
    spec["parameters"][1]["name"] = "array"
    spec["constraints"] = []
    for case in spec["cases"]:
        case["args"]["array"] = case["args"].pop("x_batch")
    spec["cases"][1]["args"]["array"]["dtype"] = "float33"
    directory = write_problem(tmp_path, spec)
    assert spec_error(directory) == lines(
        directory,
        "case 2 (second).args.array.dtype: unknown dtype 'float33'; use a numpy name such as "
        "'float32'")


@pytest.mark.parametrize("dtype", ["object", "U5", "datetime64"])
def test_non_numeric_dtypes_are_refused(tmp_path: Path, dtype: str) -> None:
    spec = base()
    spec["returns"] = {"dtype": dtype}
    error = load_error(write_problem(tmp_path, spec))
    assert error is not None
    assert error.startswith(f"{tmp_path / 'p' / 'problem.yaml'}: returns.dtype: ")


def test_exponent_without_sign_or_dot_is_a_number(tmp_path: Path) -> None:
    text = edit_yaml("{name: seed, type: int}", "{name: seed, type: float}")
    text = text.replace("      seed: 0\n", "      seed: 1e3\n")
    directory = write_problem(tmp_path, text)
    assert load_error(directory) is None
    assert load_problem(directory).spec.cases[0].args["seed"] == 1000.0


def test_duplicate_keys_are_refused(tmp_path: Path) -> None:
    text = edit_yaml("points: 10\n", "points: 10\npoints: 20\n")
    directory = write_problem(tmp_path, text)
    assert load_error(directory) is not None
