"""How spec errors read for a TA: golden messages with the line and column of the key, the
cases named as the reports name them, our sentences with an example of the right form; and
the loader agreeing with the published JSON Schema on every shipped spec and every spelling
of a number."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from autograder.errors import SpecError, SpecIssue
from autograder.spec import discover_problems, load_problem
from autograder.spec.assignment import assignment_folders, read_assignment
from autograder.spec.source import (
    Position,
    dump_yaml,
    issues_from_validation,
    key_path,
    parse_yaml,
    read_yaml,
)
from autograder.spec.wording import location
from autograder.staff.authoring import spec_schema
from tests.support import PROBLEMS

# Line numbers matter here: every golden message below names a line of this text.
SPEC = """\
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
  - args:
      seed: 1
      x_batch: {generate: normal, shape: [2, 5], seed: 2}
      features: 5
  - name: wide inputs
    tolerance: {rtol: 1e-5, atol: 1e-6}
    args:
      seed: 2
      x_batch: {generate: uniform, shape: [3, 7], low: -1.0, high: 1.0, seed: 3}
      features: 7
"""


def edit(old: str, new: str, text: str = SPEC) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def errors(tmp_path: Path, text: str, **files: str) -> list[str]:
    """The lines of the SpecError of ``text`` as problem.yaml, with ``<spec>`` for its path."""
    directory = tmp_path / "p"
    directory.mkdir(parents=True)
    (directory / "problem.yaml").write_text(text, encoding="utf-8")
    (directory / "reference.py").write_text("", encoding="utf-8")
    for name, content in files.items():
        (directory / name).write_text(content, encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_problem(directory)
    return str(info.value).replace(str(directory / "problem.yaml"), "<spec>").splitlines()


def test_the_spec_loads(tmp_path: Path) -> None:
    directory = tmp_path / "p"
    directory.mkdir()
    (directory / "problem.yaml").write_text(SPEC, encoding="utf-8")
    (directory / "reference.py").write_text("", encoding="utf-8")
    spec = load_problem(directory).spec
    assert [spec.case_label(i) for i in range(3)] == ["case 1 (first)", "case 2",
                                                      "case 3 (wide inputs)"]


# -- SpecIssue ------------------------------------------------------------------------------


def test_an_issue_reads_file_line_column_location_message() -> None:
    path = Path("problems/x/problem.yaml")
    assert str(SpecIssue(path, "case 3 (wide).tolerance.rtl", "unknown key", 22, 17)) == (
        "problems/x/problem.yaml:22:17: case 3 (wide).tolerance.rtl: unknown key")
    assert str(SpecIssue(path, "", "invalid YAML: ...", 3, 7)) == (
        "problems/x/problem.yaml:3:7: invalid YAML: ...")
    assert str(SpecIssue(path, "points", "no", 7)) == "problems/x/problem.yaml:7: points: no"
    # Without a position (a file that cannot be read), the form it always had.
    assert str(SpecIssue(path, "cases[2].rtol", "bad")) == (
        "problems/x/problem.yaml: cases[2].rtol: bad")
    assert SpecIssue(path, "points", "no", 7, 1).where == "problems/x/problem.yaml:7:1: points"


# -- golden messages: what pydantic finds ---------------------------------------------------


def test_an_unknown_key_in_a_case_is_at_the_key(tmp_path: Path) -> None:
    assert errors(tmp_path, edit("{rtol: 1e-5,", "{rtl: 1e-5,")) == [
        "<spec>:21:17: case 3 (wide inputs).tolerance.rtl: unknown key (did you mean 'rtol'?)"]


def test_an_unknown_key_in_a_block_mapping_and_in_a_case_without_a_name(
        tmp_path: Path) -> None:
    text = edit("      features: 5\n", "      features: 5\n    wieght: 2\n")
    text = edit("points: 10\n", "points: 10\ndifficulty: hard\n", text)
    assert errors(tmp_path, text) == [
        "<spec>:8:1: difficulty: unknown key",
        "<spec>:21:5: case 2.wieght: unknown key (did you mean 'weight'?)"]


def test_a_missing_key_is_at_the_mapping_that_lacks_it(tmp_path: Path) -> None:
    text = edit("    args:\n      seed: 2\n", "    argz:\n      seed: 2\n")
    text = edit("title: Batch forward\n", "", text)
    assert errors(tmp_path, text) == [
        '<spec>:1:1: title: required key is missing: add `title: "NNX vmap over a batch"`',
        "<spec>:19:5: case 3 (wide inputs).args: required key is missing: add `args: {seed: "
        "0, x_batch: {generate: normal, shape: [4, 3], seed: 7}}`",
        "<spec>:21:5: case 3 (wide inputs).argz: unknown key (did you mean 'args'?)"]


def test_a_wrong_type_says_what_to_write(tmp_path: Path) -> None:
    text = edit("tolerance: {rtol: 1e-5, atol: 1e-6}", "tolerance: 1e-5")
    text = edit("  - args:\n", "  - weight: yes\n    args:\n", text)
    text = edit("{name: x_batch, type: array}", "{name: x_batch, type: [array]}", text)
    assert errors(tmp_path, text) == [
        "<spec>:5:21: parameter 2 (x_batch).type: must be one of float, int, array, not a list",
        "<spec>:16:5: case 2.weight: must be a number such as `weight: 2`, not the text 'yes'",
        "<spec>:22:5: case 3 (wide inputs).tolerance: must be a mapping such as `tolerance: "
        "{rtol: 1e-5, atol: 1e-6}`, not the number 1e-05"]


def test_a_number_written_as_text(tmp_path: Path) -> None:
    text = edit("{rtol: 1e-5, atol: 1e-6}", '{rtol: "1e-5", atol: 1_000}')
    text = edit("shape: [4, 3], seed: 1}", "shape: [4, 3], seed: 1.5}", text)
    text = edit("points: 10", "points: true", text)
    assert errors(tmp_path, text) == [
        "<spec>:7:1: points: must be a number such as `points: 10`, not `true`",
        "<spec>:14:50: case 1 (first).args.x_batch.seed: must be a whole number such as "
        "`seed: 7`, not the number 1.5",
        "<spec>:21:17: case 3 (wide inputs).tolerance.rtol: must be a number such as "
        "`rtol: 1e-5`, not the text '1e-5' (remove the quotes)",
        "<spec>:21:31: case 3 (wide inputs).tolerance.atol: must be a number such as "
        "`atol: 1e-6`, not the text '1_000' (YAML reads a number written with `_` as text: "
        "write 1000)"]


def test_bounds_and_choices(tmp_path: Path) -> None:
    text = edit("atol: 1e-6}", "atol: -1}")
    text = edit("{name: seed, type: int}", "{name: seed, type: integer}", text)
    assert errors(tmp_path, text) == [
        "<spec>:4:18: parameter 1 (seed).type: must be one of float, int, array, not the text "
        "'integer' (did you mean 'int'?)",
        "<spec>:21:29: case 3 (wide inputs).tolerance.atol: must be at least 0, not -1 (e.g. "
        "`atol: 1e-6`)"]


def test_an_empty_list(tmp_path: Path) -> None:
    text = edit("constraints:\n  - x_batch.shape[-1] == features\n", "")
    text = text[:text.index("cases:")] + "cases: []\n"
    assert errors(tmp_path, text) == [
        "<spec>:8:1: cases: needs at least 1 entry (e.g. `cases: [{name: a batch of one, "
        "args: {...}}]`)"]


# -- golden messages: the YAML itself -------------------------------------------------------


def test_keys_written_twice_are_all_reported_at_the_second(tmp_path: Path) -> None:
    text = edit("points: 10\n", "points: 10\npoints: 12\n")
    text = edit("      seed: 2\n", "      seed: 2\n      seed: 3\n", text)
    assert errors(tmp_path, text) == [
        "<spec>:8:1: points: key 'points' is written twice in the same mapping (first on "
        "line 7): keep one",
        "<spec>:25:7: case 3 (wide inputs).args.seed: key 'seed' is written twice in the same "
        "mapping (first on line 24): keep one"]


def test_a_yaml_syntax_error_is_at_the_token(tmp_path: Path) -> None:
    text = edit("  - {name: features, type: int}\n", "  - {name: features, type: int\n")
    assert errors(tmp_path, text) == [
        "<spec>:7:7: invalid YAML: expected ',' or '}', but got ':' (while parsing a flow "
        "mapping that starts at line 6, column 5)"]


def test_bad_indentation_and_merge_keys(tmp_path: Path) -> None:
    assert errors(tmp_path, edit("  - name: first\n", "  - name: first\n   weight: 2\n")) == [
        "<spec>:12:4: invalid YAML: expected <block end>, but found '<block mapping start>' "
        "(check the indentation) (while parsing a block collection that starts at line 11, "
        "column 3)"]
    text = edit("  - name: first\n", "  - name: first\n    <<: {weight: 2}\n")
    assert errors(tmp_path / "merge", text) == [
        "<spec>:12:5: invalid YAML: merge keys (`<<: *anchor`) are not supported: write the "
        "keys out"]


# -- golden messages: what only the whole spec can say -------------------------------------


def test_arguments_against_parameters_are_at_the_argument(tmp_path: Path) -> None:
    text = edit("      features: 7\n", "      featurs: 7\n")
    text = edit("      seed: 0\n", "      seed: 0.5\n", text)
    assert errors(tmp_path, text) == [
        "<spec>:13:7: case 1 (first).args.seed: parameter 'seed' is an int, got 0.5",
        "<spec>:22:5: case 3 (wide inputs).args: missing argument 'features': add "
        "`features: 3`",
        "<spec>:25:7: case 3 (wide inputs).args.featurs: not a parameter of batch_forward (did "
        "you mean 'features'?); parameters are seed, x_batch, features"]


def test_a_broken_constraint_is_at_the_case(tmp_path: Path) -> None:
    text = edit("      features: 7\n", "      features: 6\n")
    text = edit("  - {name: features, type: int}\n",
                "  - {name: features, type: int}\n  - {name: seed, type: int}\n", text)
    assert errors(tmp_path, text) == [
        "<spec>:7:6: parameter 4 (seed).name: duplicate parameter 'seed'",
        "<spec>:21:5: case 3 (wide inputs): breaks constraints[0] `x_batch.shape[-1] == "
        "features`: `x_batch.shape[-1]` is 7 and `features` is 6"]


def test_constraint_syntax_returns_shape_and_files(tmp_path: Path) -> None:
    text = edit("  - x_batch.shape[-1] == features\n",
                "  - x_batch.shape[-1] == features\n  - width > 0\n")
    text = edit("points: 10\n", "points: 10\nreturns: {shape: [features +]}\nchecks: c.py\n",
                text)
    assert errors(tmp_path, text) == [
        "<spec>:8:19: returns.shape[0]: `features +` is not a Python expression: invalid "
        "syntax",
        "<spec>:9:1: checks: cannot read 'c.py': No such file or directory",
        "<spec>:12:5: constraints[1]: `width > 0`: unknown name 'width'; use parameter names "
        "(features, seed, x_batch)"]


def test_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    directory = tmp_path / "p"
    directory.mkdir()
    (directory / "problem.yaml").write_bytes(b"title: caf\xe9\n")
    with pytest.raises(SpecError) as info:
        load_problem(directory)
    assert str(info.value) == (f"{directory / 'problem.yaml'}: not UTF-8 text (invalid "
                               "continuation byte at byte 10): save it as UTF-8")


def test_an_issue_about_a_default_is_at_the_whole_spec(tmp_path: Path) -> None:
    directory = tmp_path / "p"
    directory.mkdir()
    (directory / "problem.yaml").write_text("# a comment\n\n" + SPEC, encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_problem(directory)  # no reference.py, and the spec does not name one
    (issue,) = info.value.issues
    assert (issue.line, issue.column, issue.location) == (3, 1, "reference")


def test_mistakes_are_named_by_their_id(tmp_path: Path) -> None:
    text = SPEC.replace("points: 10\n", """\
points: 10
mistakes:
  - id: shared-rng
    summary: All the same.
    fix: Split the key.
    detect: {variant: shared_rng}
  - id: hard-coded-seed
    summary: The seed is ignored.
    fix: Use the seed.
    detect:
      - {error: "(unclosed"}
      - {reference_args: {sead: 0}}
""")
    assert errors(tmp_path, text, **{"mistakes.py": "def other():\n    pass\n"}) == [
        "<spec>:17:10: mistake 2 (hard-coded-seed).detect[0].error: not a valid regular "
        "expression: missing ), unterminated subpattern at position 0"]
    text = text.replace('{error: "(unclosed"}', '{error: "x"}')
    assert errors(tmp_path / "2", text, **{"mistakes.py": "def other():\n    pass\n"}) == [
        "<spec>:12:14: mistake 1 (shared-rng).detect.variant: no function 'shared_rng' in "
        "mistakes.py",
        "<spec>:18:27: mistake 2 (hard-coded-seed).detect[1].reference_args.sead: not a "
        "parameter of batch_forward"]


# -- locations ------------------------------------------------------------------------------


@pytest.mark.parametrize("directory", discover_problems(PROBLEMS), ids=lambda p: p.name)
def test_a_case_is_named_as_the_reports_name_it(directory: Path) -> None:
    spec = load_problem(directory).spec
    data = read_yaml(directory / "problem.yaml").data
    for index in range(len(spec.cases)):
        assert location(("cases", index), data) == spec.case_label(index)


def test_locations_of_entries_and_key_paths() -> None:
    data = {"cases": [{"name": "a"}, {}], "mistakes": [{"id": "x-y"}, {"id": 3}],
            "parameters": [{"name": "seed"}]}
    assert location(("cases", 0, "args", "x", "shape", 1), data) == "case 1 (a).args.x.shape[1]"
    assert location(("cases", 1), data) == "case 2"
    assert location(("cases", 5, "weight"), data) == "case 6.weight"  # past the end
    assert location(("mistakes", 0, "detect", 1, "has", 0), data) == (
        "mistake 1 (x-y).detect[1].has[0]")
    assert location(("mistakes", 1, "id"), data) == "mistake 2.id"  # not a text: no name
    assert location(("parameters", 0, "type"), data) == "parameter 1 (seed).type"
    assert location(("returns", "shape", 0), data) == "returns.shape[0]"
    assert location(("cases",), data) == "cases"
    assert location((), data) == ""


def test_pydantic_union_tags_are_not_keys() -> None:
    data = {"cases": [{"args": {"array": {"generate": "normal"}, "x": {}}}],
            "mistakes": [{"detect": [{"error": "("}]}]}
    assert key_path(("cases", 0, "args", "x", "array", "dtype"), data, {"array"}) == (
        "cases", 0, "args", "x", "dtype")
    # A parameter named like a tag is a key where it stands, and only there.
    assert key_path(("cases", 0, "args", "array", "array"), data, {"array"}) == (
        "cases", 0, "args", "array")
    assert key_path(("mistakes", 0, "detect", "detect-list", 0, "error"), data,
                    {"detect-list"}) == ("mistakes", 0, "detect", 0, "error")


# -- the reader, for any loader -------------------------------------------------------------


def test_yaml_is_read_as_yaml_1_2_core() -> None:
    document = parse_yaml("a: [1e-5, 1E-5, .5, 3, 0o17, 017, 0x1f, 1_000, yes, 2024-01-01, "
                          "~, .inf, TRUE]\n", Path("x.yaml"))
    assert document.data == {"a": [1e-5, 1e-5, 0.5, 3, 15, 17, 31, "1_000", "yes",
                                   "2024-01-01", None, float("inf"), True]}


def test_positions_of_keys_and_items() -> None:
    document = parse_yaml("# c\ntop:\n  - {k: 1}\n  - [a, b]\nother: &x {v: 1}\nsame: *x\n",
                          Path("x.yaml"))
    assert document.positions[()] == Position(2, 1)
    assert document.position(("top", 0, "k")) == Position(3, 6)
    assert document.position(("top", 1, 1)) == Position(4, 9)
    assert document.position(("other", "v")) == Position(5, 12)
    # What an alias holds is at the key that refers to it; a key never written, at the
    # nearest one that is.
    assert document.position(("same", "v")) == Position(6, 1)
    assert document.position(("top", 0, "missing")) == Position(3, 5)
    assert document.value(("top", 1, 0)) == "a" and document.value(("nope", 3), 7) == 7


def test_what_is_not_json_is_refused() -> None:
    for text, message in [
        ("a: !!binary aGk=\n", "x.yaml:1:4: invalid YAML: could not determine a constructor "
                               "for the tag 'tag:yaml.org,2002:binary'"),
        ("a: !!python/name:os.system\n", "x.yaml:1:4: invalid YAML: could not determine a "
                                         "constructor for the tag "
                                         "'tag:yaml.org,2002:python/name:os.system'"),
        ("a: !!int 2.5\n", "x.yaml:1:4: invalid YAML: '2.5' is not a whole number"),
    ]:
        with pytest.raises(SpecError) as info:
            parse_yaml(text, Path("x.yaml"))
        assert str(info.value) == message


def test_dump_yaml_reads_back_the_same() -> None:
    data = {"texts": ["1e-5", ".5", "0o17", "3", "true", "null", "", "yes", "1_000"],
            "numbers": [1e-5, 0.5, 3, -2.5, float("inf")], "flags": [True, None],
            "nested": {"b": 1, "a": [{"k": "v"}]}}
    text = dump_yaml(data)
    assert parse_yaml(text, Path("x.yaml")).data == data
    assert text.index("b: 1") < text.index("a:")  # the order kept


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    problem: str
    points: float = 1.0


class _Assignment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str
    problems: list[_Entry]


def test_issues_from_validation_serves_any_loader() -> None:
    document = parse_yaml("title: HW\nproblems:\n  - {problem: a, pionts: 2}\n  - {}\n",
                          Path("hw.yaml"))
    with pytest.raises(ValidationError) as info:
        _Assignment.model_validate(document.data)
    issues = issues_from_validation(info.value, document, vocabulary=_Entry.model_fields)
    assert [str(issue) for issue in issues] == [
        "hw.yaml:3:18: problems[0].pionts: unknown key (did you mean 'points'?)",
        "hw.yaml:4:5: problems[1].problem: Field required"]


def test_the_assignment_loader_points_at_its_keys(tmp_path: Path) -> None:
    path = tmp_path / "hw.yaml"
    path.write_text("title: HW\nproblems:\n  - vmap_over_batch\n  - {problem: x, pionts: 3}\n"
                    "  - {problem: vmap_over_batch, points: '3'}\n  - 3\n", encoding="utf-8")
    with pytest.raises(SpecError) as info:
        read_assignment(path)
    assert str(info.value).replace(str(path), "hw.yaml").splitlines() == [
        "hw.yaml:4:18: problems[1].pionts: unknown key (did you mean 'points'?)",
        "hw.yaml:5:32: problems[2].points: must be a number such as `points: 15`, not the "
        "text '3' (remove the quotes)",
        "hw.yaml:6:5: problems[3]: give a problem's folder name, or a mapping such as "
        "{problem: vmap_over_ensemble, points: 15}"]
    path.write_text("title: HW\nproblems:\n  - vmap_over_batch\n  - vmap_over_btach\n",
                    encoding="utf-8")
    with pytest.raises(SpecError) as info:
        assignment_folders(read_assignment(path), PROBLEMS)
    assert str(info.value).startswith(f"{path}:4:5: problems[1]: no problem 'vmap_over_btach' "
                                      f"in {PROBLEMS} (did you mean 'vmap_over_batch'?)")


# -- the loader and the JSON Schema agree ---------------------------------------------------


@pytest.fixture(scope="module")
def schema() -> jsonschema.protocols.Validator:
    validator_class = jsonschema.validators.validator_for(spec_schema())
    assert validator_class is jsonschema.Draft202012Validator
    return validator_class(spec_schema())


@pytest.mark.parametrize("directory", discover_problems(PROBLEMS), ids=lambda p: p.name)
def test_every_shipped_spec_is_valid_for_both(directory: Path,
                                              schema: jsonschema.protocols.Validator) -> None:
    load_problem(directory)
    assert list(schema.iter_errors(read_yaml(directory / "problem.yaml").data)) == []


SPELLINGS = ["1e-5", "1E-5", "1.0e-5", ".5", "3", "3.0", "1e3", "-1", '"1e-5"', '"3"', "true",
             "1_000", "0x10", ".inf", "null", "[3]"]
#: Where a spelling goes, by what the key takes: (old text, new text with {v}).
PLACES: dict[str, tuple[str, str]] = {
    "rtol (number >= 0)": ("{rtol: 1e-5,", "{rtol: {v},"),
    "weight (number > 0)": ("  - args:\n", "  - weight: {v}\n    args:\n"),
    "time_limit (number > 0)": ("points: 10\n", "points: 10\ntime_limit: {v}\n"),
    "points (number > 0)": ("points: 10\n", "points: {v}\n"),
    "loc (number)": ("shape: [4, 3], seed: 1}", "shape: [4, 3], seed: 1, loc: {v}}"),
    "seed (whole number >= 0)": ("shape: [4, 3], seed: 1}", "shape: [4, 3], seed: {v}}"),
    "shape[0] (size)": ("shape: [4, 3], seed: 1}", "shape: [{v}, 3], seed: 1}"),
    "float argument": ("{name: seed, type: int}", "{name: seed, type: float}"),
    "title (text)": ("title: Batch forward", "title: {v}"),
}


def _place(name: str, value: str) -> str:
    old, new = PLACES[name]
    text = edit(old, new.replace("{v}", value))
    if name == "float argument":
        text = edit("      seed: 0\n", f"      seed: {value}\n", text)
    return text


@pytest.mark.parametrize("place", list(PLACES))
def test_the_loader_and_the_schema_accept_the_same_numbers(
        tmp_path: Path, place: str, schema: jsonschema.protocols.Validator) -> None:
    verdicts: dict[str, tuple[bool, bool]] = {}
    for i, value in enumerate(SPELLINGS):
        directory = tmp_path / str(i)
        directory.mkdir()
        text = _place(place, value)
        (directory / "problem.yaml").write_text(text, encoding="utf-8")
        (directory / "reference.py").write_text("", encoding="utf-8")
        try:
            load_problem(directory)
            loads = True
        except SpecError:
            loads = False
        valid = schema.is_valid(parse_yaml(text, directory / "problem.yaml").data)
        verdicts[value] = (loads, valid)
    disagree = {value: v for value, v in verdicts.items() if v[0] != v[1]}
    assert not disagree, f"(loader, schema) disagree on {place}: {disagree}"
    accepted = {value for value, (loads, _) in verdicts.items() if loads}
    assert accepted == EXPECTED[place]


_POSITIVE = {"1e-5", "1E-5", "1.0e-5", ".5", "3", "3.0", "1e3", "0x10", ".inf"}
EXPECTED: dict[str, set[str]] = {
    "rtol (number >= 0)": _POSITIVE,
    "weight (number > 0)": _POSITIVE,
    "time_limit (number > 0)": _POSITIVE,
    "points (number > 0)": _POSITIVE,
    "loc (number)": _POSITIVE | {"-1"},
    "seed (whole number >= 0)": {"3", "3.0", "1e3", "0x10"},
    "shape[0] (size)": {"3", "3.0", "1e3", "0x10"},
    "float argument": _POSITIVE | {"-1"},
    "title (text)": {'"1e-5"', '"3"', "1_000"},
}


def test_expected_verdicts_cover_every_place() -> None:
    assert set(EXPECTED) == set(PLACES)
