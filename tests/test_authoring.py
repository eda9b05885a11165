"""TA authoring: ``autograder new``, ``autograder schema`` and ``autograder validate``."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from rich.console import Console

from autograder.cli.main import ExitStatus, main
from autograder.spec import load_problem
from autograder.staff.authoring import ScaffoldError, scaffold, schema_text, spec_schema
from tests.support import PROBLEMS, REPO


def run(argv: list[str], cache: Path | None = None) -> tuple[ExitStatus, str]:
    console = Console(file=io.StringIO(), width=200)
    env = {"AUTOGRADER_CACHE": str(cache)} if cache else {}
    status = main(argv, env=env, console=console)
    return status, " ".join(console.file.getvalue().split())  # type: ignore[attr-defined]


# -- schema ----------------------------------------------------------------------------------

def test_the_shipped_schema_is_the_loaders() -> None:
    shipped = REPO / "schema" / "problem.schema.json"
    assert shipped.read_text() == schema_text(), (
        "schema/problem.schema.json is stale: run `autograder schema --output "
        "schema/problem.schema.json`")
    status, out = run(["schema"])
    assert status == ExitStatus.SUCCESS and json.loads(out) == spec_schema()


def test_every_shipped_spec_validates_against_the_schema_and_typos_do_not() -> None:
    schema = spec_schema()
    specs = sorted(PROBLEMS.glob("*/problem.yaml"))
    assert len(specs) >= 4
    for path in specs:
        text = path.read_text()
        assert text.startswith("# yaml-language-server: $schema=../../schema/problem.schema.json")
        jsonschema.validate(yaml.safe_load(text), schema)
    broken = yaml.safe_load(specs[0].read_text())
    broken["tolerence"] = broken.pop("tolerance")
    with pytest.raises(jsonschema.ValidationError, match="tolerence"):
        jsonschema.validate(broken, schema)
    broken = yaml.safe_load(specs[0].read_text())
    broken["cases"][0]["visibility"] = "secret"
    with pytest.raises(jsonschema.ValidationError, match="secret"):
        jsonschema.validate(broken, schema)


# -- new -------------------------------------------------------------------------------------

def test_new_scaffolds_a_loadable_problem_and_refuses_bad_names(tmp_path: Path) -> None:
    status, out = run(["new", "my_lift", "--problems", str(tmp_path)])
    assert status == ExitStatus.SUCCESS
    folder = tmp_path / "my_lift"
    assert sorted(p.name for p in folder.iterdir()) == [
        "mistakes.py", "problem.yaml", "reference.py", "starter.py"]
    assert f"autograder validate {folder}" in out
    problem = load_problem(folder)
    assert problem.spec.function == "my_lift"
    assert [m.id for m in problem.spec.mistakes] == ["wrong-axis-order", "not-flattened"]
    jsonschema.validate(yaml.safe_load((folder / "problem.yaml").read_text()), spec_schema())
    for bad in ("My-Lift", "class", "2fast", "CamelCase"):
        with pytest.raises(ScaffoldError, match="lowercase Python function name"):
            scaffold(tmp_path, bad)
    status, out = run(["new", "my_lift", "--problems", str(tmp_path)])
    assert status == ExitStatus.USAGE and "already exists" in out


# -- validate --------------------------------------------------------------------------------

def test_validate_reports_spec_errors_with_file_key_and_fix(tmp_path: Path) -> None:
    scaffold(tmp_path, "typo")
    spec = tmp_path / "typo" / "problem.yaml"
    spec.write_text(spec.read_text().replace("tolerance:", "tolerence:"))
    scaffold(tmp_path, "bad_case")
    spec2 = tmp_path / "bad_case" / "problem.yaml"
    text = spec2.read_text()
    spec2.write_text(text.replace("      features: 2.0", "      features: 0.0", 1))
    status, out = run(["validate", str(tmp_path)])
    assert status == ExitStatus.FAILURE
    assert (f"error {spec}:29:1: tolerence: unknown key (did you mean 'tolerance'?)") in out
    assert re.search(rf"error {re.escape(str(spec2))}:74:5: case 2 \(a batch of one\): "
                     r"breaks constraints\[1\] `features >= 1`", out), out
    assert "2 problem(s): 2 error(s)" in out


def test_validate_usage_error_without_problems(tmp_path: Path) -> None:
    status, out = run(["validate", str(tmp_path)])
    assert status == ExitStatus.USAGE and "no problem.yaml" in out


@pytest.mark.worker
def test_a_scaffolded_problem_validates_through_the_real_grading_path(
        tmp_path: Path, cache_dir: Path) -> None:
    scaffold(tmp_path, "fresh_lift")
    status, out = run(["validate", str(tmp_path / "fresh_lift")], cache_dir)
    assert status == ExitStatus.SUCCESS, out
    assert re.search(r"fresh_lift │ 10/10 │ 0/10 │ 2/2 recognised │ ok │ \d+ │ ok", out), out
    assert "1 problem(s): 0 error(s), 0 warning(s)" in out


@pytest.mark.worker
def test_validate_catches_useless_mistakes_missing_examples_and_tight_tolerances(
        tmp_path: Path, cache_dir: Path) -> None:
    scaffold(tmp_path, "broken_lift")
    folder = tmp_path / "broken_lift"
    # A mistake "example" that is in fact the reference: no case tells it apart.
    mistakes = folder / "mistakes.py"
    mistakes.write_text(mistakes.read_text().replace(
        "    return nnx.vmap(lambda model, x: model(x), in_axes=(None, 0))(model, x_batch)\n",
        "    return nnx.vmap(lambda model, x: model(x), in_axes=(None, 0))(model, x_batch)"
        ".reshape(-1)\n"))
    # An accepted alternative that is not in fact correct (not flattened), and one whose
    # example is missing.
    mistakes.write_text(mistakes.read_text() + """

def by_hand(seed, x_batch, features):
    import jax

    model = nnx.Linear(x_batch.shape[-1], int(features), rngs=nnx.Rngs(int(seed)))
    graphdef, state = nnx.split(model)
    return jax.vmap(lambda s, x: nnx.merge(graphdef, s)(x), in_axes=(None, 0))(state, x_batch)
""")
    spec = folder / "problem.yaml"
    text = spec.read_text().replace("tolerance: {rtol: 1.0e-5, atol: 1.0e-6}",
                                    "tolerance: {rtol: 1.0e-9, atol: 0.0}")
    text = text.replace("    - {lift: nnx.vmap, args: {in_axes: [null, 0]}}\n", """\
    - {lift: nnx.vmap, args: {in_axes: [null, 0]}}
  accept:
    - {because: the same lift written by hand, expect: [{lift: jax.vmap}], example: by_hand}
    - {because: nothing, expect: [{lift: jax.vmap}], example: nowhere}
""", 1)
    text = text.replace("# Visible cases are shown", """  - id: ignored-seed
    summary: Your output ignores the seed.
    fix: Use `nnx.Rngs(int(seed))`.
    detect: {reference_args: {seed: 0.0}}

# Visible cases are shown""")
    spec.write_text(text)
    status, out = run(["validate", str(folder)], cache_dir)
    assert status == ExitStatus.FAILURE
    lines = spec.read_text().splitlines()

    def at(written: str, key: str) -> str:  # validate's findings point at the key
        line = next(i for i, text in enumerate(lines, 1) if written in text)
        return f"{spec}:{line}:{lines[line - 1].index(key) + 1}"

    assert (f"error {at('- id: not-flattened', 'id')}: mistake 2 (not-flattened): the example "
            "'not_flattened' of mistake 'not-flattened' scores full marks (10/10): no case "
            "tells this mistake from the reference.") in out
    assert (f"error {at('- id: ignored-seed', 'id')}: mistake 3 (ignored-seed): mistake "
            "'ignored-seed' has no example: add a function `def ignored_seed(seed, x_batch, "
            "features)` to mistakes.py") in out
    assert (f"error {at('example: by_hand', 'example')}: structure.accept[0].example: the accepted "
            "alternative 'by_hand' scores 2/10, not full marks:") in out
    assert (f"error {at('example: nowhere', 'example')}: structure.accept[1].example: "
            "'nowhere' is not a function of mistakes.py: add `def nowhere(seed, x_batch, "
            "features)` written the accepted way, so validate can prove it scores full "
            "marks") in out
    assert f"warning {at('tolerance: ', 'tolerance')}: tolerance: rtol below 1.2e-06" in out
    assert re.search(r"broken_lift │ 10/10 │ 0/10 │ 1/3 recognised │ too tight │", out), out
    assert "1 problem(s): 4 error(s), 1 warning(s)" in out


def test_the_authoring_guide_documents_every_key_of_the_schema() -> None:
    guide = (REPO / "docs" / "authoring.md").read_text()
    schema = spec_schema()
    keys = set(schema["properties"])
    for definition in schema["$defs"].values():
        keys |= set(definition.get("properties", {}))
    missing = sorted(k for k in keys if f"`{k}`" not in guide)
    assert not missing, f"docs/authoring.md does not document {missing}"
