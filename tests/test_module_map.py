"""The README's module map is the one ``tools/module_map.py`` makes from the package, and
every module has a docstring to make it from."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import REPO
from tools import module_map

README = REPO / "README.md"
WRITE = "python tools/module_map.py --write README.md"

#: Modules without a docstring today, each to be given one under ``autograder/`` (on another
#: branch). Each is an expected failure that must fail: once its docstring is there, its test
#: passes, strict xfail turns that into a failure, and it is removed from here.
UNDOCUMENTED: frozenset[str] = frozenset()

MODULES = module_map.modules()


def test_the_readme_module_map_is_current() -> None:
    text = README.read_text(encoding="utf-8")
    diff = module_map.difference(text, module_map.render(MODULES), "README.md")
    assert not diff, f"README.md's module map is out of date: run {WRITE}\n{diff}"


@pytest.mark.parametrize("module", [
    pytest.param(m, id=str(m.path), marks=pytest.mark.xfail(
        strict=True, reason="no docstring yet; once it has one, remove it from UNDOCUMENTED"))
    if str(m.path) in UNDOCUMENTED else pytest.param(m, id=str(m.path))
    for m in MODULES])
def test_every_module_has_a_docstring(module: module_map.Module) -> None:
    assert module.summary is not None, (
        f"{module.path} has no docstring: open it with a one-line summary of what it is "
        f"(the README's module map shows it), then run {WRITE}")


def test_undocumented_names_only_modules_that_exist() -> None:
    gone = UNDOCUMENTED - {str(m.path) for m in MODULES}
    assert not gone, f"UNDOCUMENTED names modules that are not there: {sorted(gone)}"


def test_every_module_and_package_is_mapped_once_and_caches_are_not() -> None:
    names = [m.name for m in MODULES]
    assert len(names) == len(set(names))
    files = {Path(p).relative_to(REPO) for p in (REPO / "autograder").rglob("*.py")
             if "__pycache__" not in p.parts and "kit_data" not in p.parts}
    assert {m.path for m in MODULES} == files
    assert "autograder.sandbox" in names and "autograder.sandbox.process" in names
    assert names[0] == "autograder"


def test_summary_is_the_first_line_or_the_sentence_it_starts() -> None:
    assert module_map.summary("One line.\n\nMore.") == "One line."
    assert module_map.summary("A sentence that\nwraps onto a line.\nThen more.") == (
        "A sentence that wraps onto a line.")
    assert module_map.summary("No full stop\n\nat all.") == "No full stop"
    assert module_map.summary(None) is None
    assert module_map.summary("  \n") is None


def test_rows_are_markdown_a_table_cell_can_hold() -> None:
    table = module_map.render([module_map.Module(
        "autograder.cli.main", Path("autograder/cli/main.py"), "autograder.cli",
        "Front doors: ``grade|check``, see :mod:`~autograder.cli`.")])
    assert table.splitlines()[2] == (
        r"| | `main` | Front doors: `grade\|check`, see `autograder.cli`. |")


def test_check_and_write(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\n{module_map.START}\n| old |\n{module_map.END}\n\nAfter.\n")
    assert module_map.main(["--check", str(readme)]) == 1
    out, err = capsys.readouterr()
    assert "-| old |" in out and "+| package | module | summary |" in out
    assert f"run python tools/module_map.py --write {readme}" in err
    assert module_map.main(["--write", str(readme)]) == 0
    text = readme.read_text()
    assert text.startswith(f"# Title\n\n{module_map.START}\n| package |")
    assert text.endswith(f"|\n{module_map.END}\n\nAfter.\n")
    assert module_map.main(["--check", str(readme)]) == 0
    assert capsys.readouterr().out == ""


def test_a_file_without_markers_is_refused(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# Title\n")
    assert module_map.main(["--write", str(readme)]) == 2
    assert f"put the lines {module_map.START} and {module_map.END}" in capsys.readouterr().err
    assert readme.read_text() == "# Title\n"
