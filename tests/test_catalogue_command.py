"""``autograder catalogue``: a group of the class's unexplained answers becomes a mistake.

Its example's function goes into ``mistakes.py`` with what it uses, an entry into
``problem.yaml`` as text (comments and layout kept), nothing is ever overwritten, and a
failure puts both files back. (The end-to-end run, with ``validate`` proving the new
mistake, is in ``tests/test_unexplained.py``.)"""

from __future__ import annotations

import ast
import io
import json
import shutil
import textwrap
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from autograder.cli.main import ExitStatus, main
from autograder.errors import SpecError, SpecIssue, UsageError
from autograder.grading.feedback import Feedback
from autograder.spec import LoadedProblem, load_problem
from autograder.staff import catalogue
from autograder.staff.answers import Answer
from autograder.staff.example_code import example, extract
from autograder.staff.groups import Group, Profile, group
from tests.support import PROBLEMS, graded_report, write_files, write_regraded

SPEC = """\
function: f
# the mistakes: each with an example
mistakes:
  - id: first
    summary: One.
    fix: |
      Do this.

      # A heading inside the fix

    detect: {variant: first}

# Visible cases first.
cases: []
"""

ENTRY = """\
  - id: relu-after-linear
    # From `autograder catalogue`: the answer of group f/1 (2 submission(s)).
    summary: "TO FILL IN: what went wrong, in one sentence to the student."
    fix: |
      TO FILL IN: why it is wrong and how to fix it, with code.
    detect: {variant: relu_after_linear}
"""


@pytest.fixture
def two_like_this() -> Group:
    out = np.ones(3, np.float32)
    made = [Profile(s, "f", (Answer("f", 0, "case 1", "visible", "wrong-values", 1e-5, 1e-6,
                                    output=out),)) for s in ("a", "b")]
    return group(made)[0]


def test_the_entry_goes_after_the_last_mistake_keeping_every_comment(
        two_like_this: Group) -> None:
    done = catalogue.append_entry(SPEC, "relu-after-linear", "relu_after_linear",
                                  two_like_this, Path("p.yaml"))
    mark = "      # A heading inside the fix\n"
    assert done == SPEC.replace(mark, mark + "\n" + "    detect: {variant: first}\n" + ENTRY,
                                1).replace("\n    detect: {variant: first}\n\n# Visible",
                                           "\n# Visible")
    assert done.index(ENTRY) < done.index("# Visible cases first.")
    assert done.count("# the mistakes: each with an example") == 1


def test_an_entry_starts_the_list_when_there_is_none(two_like_this: Group) -> None:
    add = ("relu-after-linear", "relu_after_linear", two_like_this, Path("p.yaml"))
    assert catalogue.append_entry("function: f\ncases: []\n", *add) == (
        "function: f\ncases: []\n\nmistakes:\n" + ENTRY)
    assert catalogue.append_entry("function: f\nmistakes: []  # none yet\ncases: []\n",
                                  *add) == ("function: f\nmistakes:  # none yet\n" + ENTRY
                                            + "cases: []\n")
    with pytest.raises(UsageError) as info:
        catalogue.append_entry("function: f\nmistakes: [{id: a}]\n", *add)
    assert str(info.value) == ("p.yaml: `mistakes` is not a block list (`- id: ...` items): "
                               "write it as one, then run the command again")


STUDENT = '''\
import math
import os

import jax.numpy as jnp
from flax import nnx

SCALE = 1.0


def _act(v):
    return jnp.maximum(v, 0.0) * SCALE


def unused():
    return os.getcwd()


def vmap_over_batch(s, xb, f):
    """Mine."""
    m = nnx.Linear(xb.shape[1], int(f), rngs=nnx.Rngs(int(s)))

    @nnx.vmap(in_axes=(None, 0))
    def one(model, x):
        return _act(model(x))  # the activation

    return jnp.ravel(one(m, xb))
'''


def test_the_example_takes_the_function_and_what_it_uses(tmp_path: Path) -> None:
    folder = write_files(tmp_path / "sub", {"sol.py": STUDENT, "notes.txt": "hi"})
    mistakes = ast.parse((PROBLEMS / "vmap_over_batch" / "mistakes.py").read_text())
    made = example(extract(folder, "vmap_over_batch"), "relu_after_linear",
                   ("seed", "x_batch", "features"), mistakes, "# header\n")
    assert made.imports == ("import jax.numpy as jnp",)  # nnx is there already
    assert made.helpers == 2
    assert made.body == textwrap.dedent('''\
        SCALE = 1.0


        def _act(v):
            return jnp.maximum(v, 0.0) * SCALE


        # header
        def relu_after_linear(seed, x_batch, features):
            """Mine."""
            m = nnx.Linear(x_batch.shape[1], int(features), rngs=nnx.Rngs(int(seed)))

            @nnx.vmap(in_axes=(None, 0))
            def one(model, x):
                return _act(model(x))
            return jnp.ravel(one(m, x_batch))''')
    assert made.notes == ("its parameters were renamed to the problem's (s -> seed, xb -> "
                          "x_batch, f -> features); the function's comments were dropped in "
                          "doing so",)
    same = example(extract(folder, "vmap_over_batch"), "g", ("s", "xb", "f"), None, "")
    assert "# the activation" in same.body and same.notes == ()
    assert same.imports == ("import jax.numpy as jnp", "from flax import nnx")


def test_what_the_example_cannot_take_is_refused(tmp_path: Path) -> None:
    folder = write_files(tmp_path / "sub", {
        "sol.py": "from helpers import act\n\n\ndef vmap_over_batch(a, b, c):\n"
                  "    return act(b)\n", "helpers.py": "def act(x):\n    return x\n"})
    with pytest.raises(UsageError) as info:
        example(extract(folder, "vmap_over_batch"), "g", ("a", "b", "c"), None, "")
    assert str(info.value) == ("the example imports from the submission's own files (from "
                               "helpers import act), which mistakes.py cannot import: copy "
                               "what it needs into mistakes.py by hand")
    clash = write_files(tmp_path / "clash", {
        "sol.py": "import numpy as nnx\n\n\ndef vmap_over_batch(a, b, c):\n"
                  "    return nnx.ones(3)\n"})
    existing = ast.parse("from flax import nnx\n")
    with pytest.raises(UsageError) as info:
        example(extract(clash, "vmap_over_batch"), "g", ("a", "b", "c"), existing, "")
    assert str(info.value) == ("the example needs `nnx` as the student's sol.py defines it "
                               "(import numpy as nnx), and mistakes.py already binds that name "
                               "otherwise: rename one of them by hand, then run the command "
                               "again")


# -- the command ------------------------------------------------------------------------------

WRONG = Feedback("wrong-values", "2 of 4 values differ.")


@pytest.fixture
def class_folder(tmp_path: Path, problems: dict[str, LoadedProblem]) -> Path:
    """A regrade's folder: s1 and s2 the same unexplained answer (s1's code in sol.py), s3
    a TypeError everywhere."""
    problem = problems["vmap_over_batch"]
    output = tmp_path / "out"
    source = write_files(tmp_path / "export" / "s1", {"sol.py": STUDENT})
    same = {0: (WRONG, np.full(4, 2.0, np.float32), None)}
    error = {i: (Feedback("runtime-error", "raised TypeError"), None, "TypeError")
             for i in range(8)}
    for name, found in (("s1", same), ("s2", same), ("s3", error)):
        write_regraded(output, name, graded_report(problem, found,
                                                   lambda i: np.ones(4, np.float32)),
                       source=source if name == "s1" else None)
    return output


@pytest.fixture
def bank(tmp_path: Path) -> Path:
    target = tmp_path / "bank"
    shutil.copytree(PROBLEMS / "vmap_over_batch", target / "vmap_over_batch",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return target


def run(*argv: str) -> tuple[ExitStatus, list[str]]:
    console = Console(file=io.StringIO(), width=400)
    status = main(list(argv), env={}, console=console)
    return status, console.file.getvalue().splitlines()  # type: ignore[attr-defined]


def test_a_group_becomes_a_mistake_of_its_problem(class_folder: Path, bank: Path) -> None:
    folder = bank / "vmap_over_batch"
    spec_before = (folder / "problem.yaml").read_text()
    code_before = (folder / "mistakes.py").read_text()
    status, said = run("catalogue", str(class_folder), "vmap_over_batch/1", "--id",
                       "relu-after-linear", "--problems", str(bank))
    assert status == ExitStatus.SUCCESS, said
    assert said == [
        f"Added the mistake `relu-after-linear` to {folder} from the group vmap_over_batch/1 "
        "(2 submission(s); its example is s1's code):",
        f"  {folder}/mistakes.py: def relu_after_linear(seed, x_batch, features), with 1 "
        "import(s) and 2 helper(s) it uses",
        f"  {folder}/problem.yaml: mistakes[6], detect: {{variant: relu_after_linear}}",
        "Note: its parameters were renamed to the problem's (s -> seed, xb -> x_batch, f -> "
        "features); the function's comments were dropped in doing so.",
        "It is a student's code, and mistakes.py runs on the grader's trusted side: read it "
        "before you validate.",
        f"Next: write the mistake's summary and fix in {folder}/problem.yaml (marked TO FILL "
        f"IN), then run `autograder validate {folder}`, which proves the mistake is "
        "recognised on at least one test."]
    spec = (folder / "problem.yaml").read_text()
    assert spec.startswith(spec_before.split("constraints:")[0])  # appended, not re-dumped
    assert spec.count("# yaml-language-server") == 1
    assert "    detect: {variant: relu_after_linear}\nconstraints:" in spec
    code = (folder / "mistakes.py").read_text()
    head, _, tail = code.partition("\n\n\nSCALE = 1.0")
    assert head + "\n" == code_before.replace("from flax import nnx\n",
                                       "from flax import nnx\nimport jax.numpy as jnp\n")
    assert "# Mistake `relu-after-linear`, from `autograder catalogue`: the answer of group " \
           "vmap_over_batch/1\n# (2 submission(s)), its example's code renamed." in tail
    assert "s1" not in tail and "s2" not in tail  # no submission named in the bank
    loaded = load_problem(folder)
    assert loaded.spec.mistakes[-1].id == "relu-after-linear"
    again = run("catalogue", str(class_folder), "vmap_over_batch/1", "--id",
                "relu-after-linear", "--problems", str(bank))
    assert again == (ExitStatus.USAGE, [
        f"autograder catalogue: {folder}/problem.yaml already declares the mistake "
        "'relu-after-linear': choose another id (the catalogue is never overwritten)"])


@pytest.mark.parametrize(("group_id", "mistake", "said"), [
    ("vmap_over_batch/9", "x", "no group 'vmap_over_batch/9' in {out}: its groups are "
                               "vmap_over_batch/1 (2), vmap_over_batch/2 (1) (see its "
                               "report.html)"),
    ("vmap_over_batch/2", "x", "the group vmap_over_batch/2 kept no output (runtime-error "
                               "(TypeError): an error, or an output over 64 kB): a `variant` "
                               "rule compares outputs, so it cannot recognise these; declare "
                               "the mistake by hand, with an `error:` or `has`/`lacks` rule "
                               "(docs/authoring.md)"),
    ("vmap_over_batch/1", "Relu_After", "'Relu_After' cannot be a mistake id: lowercase words "
                                        "joined by dashes, e.g. relu-after-linear"),
    ("vmap_over_batch/1", "wrong-axis-order", "{bank}/vmap_over_batch/problem.yaml already "
                                              "declares the mistake 'wrong-axis-order': choose "
                                              "another id (the catalogue is never "
                                              "overwritten)"),
    ("vmap_over_batch/1", "old-helper", "{bank}/vmap_over_batch/mistakes.py already defines "
                                        "`old_helper`: choose another id (a mistake's example "
                                        "is never overwritten)"),
])
def test_what_cannot_be_catalogued_is_refused_and_nothing_changes(
        class_folder: Path, bank: Path, group_id: str, mistake: str, said: str) -> None:
    mistakes = bank / "vmap_over_batch" / "mistakes.py"
    mistakes.write_text(mistakes.read_text() + "\n\ndef old_helper():\n    return 1\n")
    before = {p: p.read_text() for p in (bank / "vmap_over_batch").iterdir() if p.is_file()}
    status, lines = run("catalogue", str(class_folder), group_id, "--id", mistake,
                        "--problems", str(bank))
    assert (status, lines) == (ExitStatus.USAGE, [
        "autograder catalogue: " + said.format(out=class_folder, bank=bank)])
    assert before == {p: p.read_text() for p in (bank / "vmap_over_batch").iterdir()
                      if p.is_file()}


def test_a_failure_after_writing_puts_both_files_back(
        class_folder: Path, bank: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = bank / "vmap_over_batch"
    before = {p: p.read_text() for p in folder.iterdir() if p.is_file()}
    calls = []

    def load(directory: Path) -> LoadedProblem:
        calls.append(directory)
        if len(calls) > 1:  # the check after writing
            raise SpecError([SpecIssue(folder / "problem.yaml", "mistakes[6]", "broken")])
        return load_problem(directory)

    monkeypatch.setattr(catalogue, "load_problem", load)
    status, lines = run("catalogue", str(class_folder), "vmap_over_batch/1", "--id",
                        "relu-after-linear", "--problems", str(bank))
    assert (status, lines) == (ExitStatus.ERROR, [
        "autograder catalogue: the catalogue entry did not load, so nothing was changed: "
        f"{folder}/problem.yaml: mistakes[6]: broken"])
    assert before == {p: p.read_text() for p in folder.iterdir() if p.is_file()}


def test_an_entry_still_to_fill_in_is_never_shipped(class_folder: Path, bank: Path,
                                                    tmp_path: Path) -> None:
    assert run("catalogue", str(class_folder), "vmap_over_batch/1", "--id", "relu-after-linear",
               "--problems", str(bank))[0] == ExitStatus.SUCCESS
    spec = bank / "vmap_over_batch" / "problem.yaml"
    status, lines = run("zip", "--problems", str(bank), "--output", str(tmp_path / "a.zip"))
    assert (status, lines) == (ExitStatus.USAGE, [
        f"autograder zip: {spec}: mistakes[6] (relu-after-linear): its summary or fix still "
        "says TO FILL IN (`autograder catalogue` left it for you to write), so the zip would "
        "show students that. Write them, validate the problem, then build the zip again."])
    assert not (tmp_path / "a.zip").exists()


def test_a_notebooks_function_is_taken_cell_by_cell(tmp_path: Path) -> None:
    cells = ["!pip install flax", "import jax.numpy as jnp\nfrom flax import nnx",
             "def broken(:\n    pass", "def vmap_over_batch(seed, x_batch, features):\n"
             "    return jnp.zeros(3)"]
    notebook = {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                "cells": [{"cell_type": "code", "metadata": {}, "source": c, "outputs": [],
                           "execution_count": None} for c in cells]}
    folder = tmp_path / "nb"
    folder.mkdir()
    (folder / "work.ipynb").write_text(json.dumps(notebook))
    made = example(extract(folder, "vmap_over_batch"), "zeros_out",
                   ("seed", "x_batch", "features"), None, "")
    assert made.imports == ("import jax.numpy as jnp",)
    assert made.body == "def zeros_out(seed, x_batch, features):\n    return jnp.zeros(3)"


def test_what_the_ta_should_check_in_the_example_is_said(tmp_path: Path) -> None:
    folder = write_files(tmp_path / "sub", {"sol.py": (
        "def vmap_over_batch(*args):\n"
        "    if not args:\n"
        "        return vmap_over_batch(1, 2, 3)\n"
        "    try:\n"
        "        import numpy as np\n"
        "    except ImportError:\n"
        "        pass\n"
        "    return np.zeros(3) + missing\n")})
    made = example(extract(folder, "vmap_over_batch"), "g", ("seed", "x_batch", "features"),
                   None, "")
    assert made.notes == (
        "its parameters are not the problem's (seed, x_batch, features): the grader calls "
        "it with those, in that order",
        "it calls `vmap_over_batch` by name, which mistakes.py does not define: rename those "
        "calls to `g`",
        "it uses names its file does not define at the top level: `missing`")
    assert made.body.startswith("def g(*args):\n")


@pytest.mark.parametrize(("where", "said"), [
    ("problems", "no problem in {bank} grades `vmap_over_batch` (give the bank the regrade "
                 "used: --problems DIR)"),
    ("source", "the files of s1 are not where the regrade found them; regrade again from "
               "the export to {out}"),
])
def test_a_group_whose_problem_or_files_are_gone_is_refused(
        class_folder: Path, bank: Path, tmp_path: Path, where: str, said: str) -> None:
    if where == "problems":
        shutil.rmtree(bank / "vmap_over_batch")
        write_files(bank / "other", {"problem.yaml": "function: other\n"})  # broken: skipped
    else:
        shutil.rmtree(tmp_path / "export" / "s1")
    status, lines = run("catalogue", str(class_folder), "vmap_over_batch/1", "--id", "x",
                        "--problems", str(bank))
    assert (status, lines) == (ExitStatus.USAGE, [
        "autograder catalogue: " + said.format(bank=bank, out=class_folder)])
