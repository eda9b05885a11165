"""The command-line contract: ``python -m autograder grade SUBMISSION --results OUT.json``."""

from __future__ import annotations

import argparse
import io
import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console

from autograder.cli import arguments
from autograder.cli.main import HANDLERS, ExitStatus, main
from autograder.cli.status import guarded
from autograder.errors import GraderError, SpecError, UsageError
from autograder.gradescope.run import Layout
from autograder.sandbox import StudentUser, isolation
from tests.support import EXAMPLES, PROBLEMS, REPO, write_files

BROKEN_SPEC = {
    "broken/problem.yaml": "function: f\ntitle: t\npoints: 1\nparameters: []\ncases: []\n",
    "broken/reference.py": "def f():\n    return 0\n",
}


def quiet_console() -> Console:
    return Console(file=io.StringIO(), width=100, no_color=True)


@pytest.mark.worker
def test_grade_writes_valid_results_with_problem_and_pitfall_tags(
        tmp_path: Path, cache_dir: Path, validate_results: Callable[[object], None]) -> None:
    out = tmp_path / "out" / "results.json"
    console = quiet_console()
    status = main(["grade", str(EXAMPLES / "classic-mistakes"), "--results", str(out),
                   "--cache", str(cache_dir)], env={}, console=console)
    assert status == ExitStatus.SUCCESS  # 0 whenever results were written, whatever the score
    results = json.loads(out.read_text())
    validate_results(results)
    # Every case fails; the composed-lifts structure test passes (its lifts are right).
    assert results["score"] == 2
    *tests, staff = results["tests"]  # the cases and structure tests, then staff's summary
    assert len(tests) == 6 * (8 + 1)
    assert staff["name"] == "Summary with hidden tests (staff only)"
    assert staff["output"].startswith("Score: 2 / 60\n")
    assert {t["visibility"] for t in tests} == {"visible", "hidden"}
    for test in tests:
        problem_tags = [t for t in test["tags"] if t.startswith("problem:")]
        assert problem_tags == [f"problem:{test['name'].split(':')[0]}"]
        structure = test["name"].endswith("the lifted transforms")
        assert test["max_score"] == (2.0 if structure else 1.0)
        if test["name"] == "composed_lifts_forward: the lifted transforms":
            assert test["status"] == "passed" and test["tags"] == [problem_tags[0]]
        else:
            assert test["status"] == "failed"
            assert any(t.startswith("pitfall:") for t in test["tags"])
    pitfalls = {t["name"].split(":")[0]: {tag for tag in t["tags"] if tag.startswith("pitfall")}
                for t in tests if t["name"].split(": ", 1)[1].startswith("case 1 (")}
    assert pitfalls == {"composed_lifts_forward": {"pitfall:wrong-type"},
                        "nn_vmap_forward": {"pitfall:per-example-params", "pitfall:wrong-values"},
                        "scan_over_layers": {"pitfall:identical-layers", "pitfall:wrong-values"},
                        "vmap_over_batch": {"pitfall:wrong-axis-order",
                                            "pitfall:runtime-error"},
                        "vmap_over_ensemble": {"pitfall:identical-members",
                                               "pitfall:wrong-values"},
                        "vmap_per_input": {"pitfall:identical-models", "pitfall:wrong-values"}}
    assert "jax 0.10.2" in results["output"] and "flax 0.12.8" in results["output"]
    report = console.file.getvalue()  # type: ignore[attr-defined]
    assert "Total: 2 / 60" in report
    assert "composed_lifts_forward: case 1 (two layers, batch of four) (visible)" in report


def test_a_malformed_spec_still_writes_valid_results_that_blame_the_grader(
        tmp_path: Path, validate_results: Callable[[object], None]) -> None:
    problems = write_files(tmp_path / "problems", BROKEN_SPEC)
    submission = write_files(tmp_path / "sub", {"solution.py": "def f():\n    return 1\n"})
    out = tmp_path / "results.json"
    console = quiet_console()
    status = main(["grade", str(submission), "--results", str(out), "--problems", str(problems)],
                  env={}, console=console)
    assert status == ExitStatus.SUCCESS
    results = json.loads(out.read_text())
    validate_results(results)
    visible, hidden = results["tests"]
    assert visible["name"] == "The autograder failed: please contact the course staff"
    assert visible["visibility"] == "visible" and visible["max_score"] == 0
    assert hidden["visibility"] == "hidden"
    assert "problems/broken/problem.yaml:4:1: parameters: needs at least 1 entry" in (
        hidden["output"])
    assert "The grader failed" in console.file.getvalue()  # type: ignore[attr-defined]


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert main(["grade", str(tmp_path)], env={}) == ExitStatus.USAGE  # no --results
    assert main(["nonsense"], env={}) == ExitStatus.USAGE


def test_a_missing_submission_path_is_a_grader_fault_with_valid_results(
        tmp_path: Path, validate_results: Callable[[object], None]) -> None:
    out = tmp_path / "results.json"
    status = main(["grade", str(tmp_path / "nope"), "--results", str(out)], env={},
                  console=quiet_console())
    assert status == ExitStatus.SUCCESS
    results = json.loads(out.read_text())
    validate_results(results)
    assert "does not exist" in results["tests"][1]["output"]


def test_grade_exits_3_when_it_cannot_write_the_results(tmp_path: Path) -> None:
    problems = write_files(tmp_path / "problems", BROKEN_SPEC)
    taken = tmp_path / "results.json"
    taken.mkdir()  # a folder where the file should go
    out, err = quiet_console(), quiet_console()
    status = main(["grade", str(tmp_path), "--results", str(taken), "--problems", str(problems)],
                  env={}, console=out, errors=err)
    assert status == ExitStatus.ERROR
    said = " ".join(err.file.getvalue().split())  # type: ignore[attr-defined]
    assert said.startswith(f"autograder grade: cannot write {taken}: ")


def test_the_gradescope_layout_moves_every_path_under_root(tmp_path: Path) -> None:
    layout = Layout.under(tmp_path)
    assert (layout.submission, layout.results) == (
        tmp_path / "submission", tmp_path / "results" / "results.json")
    assert (layout.problems, layout.cache) == (
        tmp_path / "source" / "problems", tmp_path / "source" / ".cache" / "expected")
    moved = Layout.under(tmp_path, problems=PROBLEMS, cache=tmp_path / "c")
    assert (moved.problems, moved.cache) == (PROBLEMS, tmp_path / "c")


# -- the dispatch and the exit statuses --------------------------------------------------------

def test_every_command_of_the_parser_has_one_handler() -> None:
    (commands,) = [action for action in arguments.parser()._actions
                   if isinstance(action, argparse._SubParsersAction)]
    assert sorted(commands.choices) == sorted(HANDLERS)
    for name in HANDLERS:
        assert main([name, "--help"], env={}) == ExitStatus.SUCCESS


def test_one_map_from_exceptions_to_exit_statuses() -> None:
    def raising(error: Exception) -> Callable[[], ExitStatus]:
        def call() -> ExitStatus:
            raise error
        return call

    console = quiet_console()
    assert guarded("x", lambda: ExitStatus.FAILURE, console) == ExitStatus.FAILURE
    assert guarded("x", raising(UsageError("give a path")), console) == ExitStatus.USAGE
    assert guarded("x", raising(GraderError("a worker died")), console) == ExitStatus.ERROR
    assert guarded("x", raising(SpecError([])), console) == ExitStatus.ERROR
    assert console.file.getvalue().splitlines() == [  # type: ignore[attr-defined]
        "autograder x: give a path", "autograder x: a worker died", "autograder x: "]
    with pytest.raises(ZeroDivisionError):  # a bug keeps its traceback
        guarded("x", raising(ZeroDivisionError()), console)


def test_errors_go_to_the_error_console(tmp_path: Path) -> None:
    out, err = quiet_console(), quiet_console()
    status = main(["regrade", str(tmp_path), "--jobs", "0"], env={}, console=out, errors=err)
    assert status == ExitStatus.USAGE
    assert out.file.getvalue() == ""  # type: ignore[attr-defined]
    assert err.file.getvalue() == "autograder regrade: --jobs must be at least 1\n"  # type: ignore[attr-defined]


@pytest.mark.parametrize(("argv", "status", "said"), [
    (["regrade", "{tmp}/nope.zip"], ExitStatus.USAGE, "autograder regrade: {tmp}/nope.zip does "
                                                      "not exist"),
    (["regrade", "{tmp}/export", "--problems", "{tmp}/problems"], ExitStatus.ERROR,
     "autograder regrade: {tmp}/problems/broken/problem.yaml:4:1: parameters:"),
    (["warm", "--problems", "{tmp}/problems", "--cache", "{tmp}/cache"], ExitStatus.ERROR,
     "autograder warm: {tmp}/problems/broken/problem.yaml:4:1: parameters:"),
    (["kit", "--problems", "{tmp}/problems", "--output", "{tmp}/kit.zip"], ExitStatus.ERROR,
     "autograder kit: {tmp}/problems/broken/problem.yaml:4:1: parameters:"),
    (["report", "{tmp}/export"], ExitStatus.USAGE, "autograder report: no results in "
                                                   "{tmp}/export"),
    (["new", "Not-A-Name", "--problems", "{tmp}/problems"], ExitStatus.USAGE,
     "autograder new: 'Not-A-Name' cannot name an exercise"),
    (["harden", "--runtime-only", "--cache", "{tmp}/cache"], ExitStatus.USAGE,
     "autograder harden: --runtime-only makes no folder private"),
])
def test_what_each_command_exits_with_when_it_cannot_go_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str], status: ExitStatus,
        said: str) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    write_files(tmp_path / "problems", BROKEN_SPEC)
    write_files(tmp_path / "export", {"alice/solution.py": "x = 1\n"})
    console = Console(file=io.StringIO(), width=300)
    assert main([a.format(tmp=tmp_path) for a in argv], env={}, console=console) == status
    assert console.file.getvalue().startswith(said.format(tmp=tmp_path))  # type: ignore[attr-defined]


# -- harden ----------------------------------------------------------------------------------

@pytest.fixture
def no_host_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Harden as root without creating a user or opening the host's runtime."""
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(isolation, "ensure_student_user",
                        lambda: StudentUser("autograder-student", 4242, 4242))
    monkeypatch.setattr(isolation, "open_runtime", lambda: [Path("/opt/python")])
    monkeypatch.setattr(isolation, "readable_by_name", lambda opened: [])


def test_harden_makes_the_problems_and_cache_private_and_shares_the_compile_cache(
        tmp_path: Path, no_host_changes: None) -> None:
    problems, cache, jax = tmp_path / "problems", tmp_path / "expected", tmp_path / "jax"
    problems.mkdir(mode=0o755)
    console = quiet_console()
    status = main(["harden", "--problems", str(problems), "--cache", str(cache),
                   "--compile-cache", str(jax)], env={}, console=console)
    assert status == ExitStatus.SUCCESS
    assert stat.S_IMODE(problems.stat().st_mode) & 0o077 == 0
    assert stat.S_IMODE(cache.stat().st_mode) & 0o077 == 0  # made, then made private
    assert stat.S_IMODE(jax.stat().st_mode) & 0o077 == 0o011  # entered, never listed
    assert " ".join(console.file.getvalue().split()) == (  # type: ignore[attr-defined]
        f"Student user 'autograder-student' (uid 4242); private: {problems}, {cache}; "
        "opened for traversal: /opt/python")


def test_harden_runtime_only_makes_no_folder_private(
        tmp_path: Path, no_host_changes: None, monkeypatch: pytest.MonkeyPatch) -> None:
    protected: list[Path] = []
    monkeypatch.setattr(isolation, "protect", protected.extend)
    monkeypatch.setattr(isolation, "share_by_name", protected.append)
    console = quiet_console()
    assert main(["harden", "--runtime-only"], env={}, console=console) == ExitStatus.SUCCESS
    assert protected == []
    assert console.file.getvalue() == (  # type: ignore[attr-defined]
        "Student user 'autograder-student' (uid 4242); opened for traversal: /opt/python\n")


def test_harden_says_what_opening_a_home_for_the_runtime_exposes(
        no_host_changes: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(isolation, "readable_by_name",
                        lambda opened: [Path("/root/.gitconfig"), Path("/root/.profile")])
    console = quiet_console()
    assert main(["harden", "--runtime-only"], env={}, console=console) == ExitStatus.SUCCESS
    assert " ".join(console.file.getvalue().split()) == (  # type: ignore[attr-defined]
        "Student user 'autograder-student' (uid 4242); opened for traversal: /opt/python "
        "warning: the way to the Python runtime goes through folders others may enter, so "
        "student code can read these by name: /root/.gitconfig, /root/.profile. Install "
        "Python outside a home directory, or make them private (chmod o-r).")


def test_what_a_folder_others_may_enter_exposes_by_name(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "pyenv" / "bin").mkdir(parents=True)
    (home / ".gitconfig").write_text("[user]\n")
    (home / ".gitconfig").chmod(0o644)
    (home / ".netrc").write_text("secret\n")
    (home / ".netrc").chmod(0o600)
    home.chmod(0o711)
    (home / "pyenv").chmod(0o755)
    tmp_path.chmod(0o755)
    python = home / "pyenv" / "bin"
    assert home in isolation.traversed([python])
    assert isolation.readable_by_name([home]) == [home / ".gitconfig", home / "pyenv"]
    home.chmod(0o755)  # listable anyway: nothing more is exposed by opening it
    assert isolation.readable_by_name([home]) == []


def test_a_checkouts_history_is_private_with_its_problems(tmp_path: Path) -> None:
    checkout = tmp_path / "course"
    (checkout / ".git" / "objects").mkdir(parents=True)
    (checkout / ".git").chmod(0o755)
    problems = checkout / "problems"
    problems.mkdir(mode=0o755)
    assert isolation.histories([problems]) == [checkout / ".git"]
    isolation.protect([problems])
    assert stat.S_IMODE((checkout / ".git").stat().st_mode) == 0o700
    assert stat.S_IMODE(problems.stat().st_mode) == 0o700


def test_harden_needs_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    console = quiet_console()
    assert main(["harden", "--runtime-only"], env={}, console=console) == ExitStatus.USAGE
    assert console.file.getvalue() == (  # type: ignore[attr-defined]
        "autograder harden: needs root (it creates a user and changes permissions)\n")


def test_zip_has_setup_and_run_autograder_at_its_root(tmp_path: Path) -> None:
    import zipfile

    out = tmp_path / "autograder.zip"
    assert main(["zip", "--output", str(out)], env={}, console=quiet_console()) == 0
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in archive.infolist()}
    assert {"setup.sh", "run_autograder", "requirements.lock"} <= set(names)
    assert modes["setup.sh"] == modes["run_autograder"] == 0o755
    assert {f"problems/{p.name}/problem.yaml" for p in PROBLEMS.iterdir()} <= set(names)
    assert not [n for n in names if "__pycache__" in n or n.startswith(("tests/", "examples/"))]
    # Deterministic: the same checkout gives the same bytes.
    again = tmp_path / "again.zip"
    main(["zip", "--output", str(again)], env={}, console=quiet_console())
    assert again.read_bytes() == out.read_bytes()


def test_python_dash_m_autograder_is_the_entry_point() -> None:
    done = subprocess.run([sys.executable, "-m", "autograder", "--help"], cwd=REPO,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0
    for command in ("grade", "gradescope", "warm", "zip"):
        assert command in done.stdout


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        if "==" in line and not line.lstrip().startswith("#"):
            name, version = line.split(";")[0].strip().split("==")
            pins[name.lower()] = version
    return pins


def test_the_grader_and_ci_locks_pin_the_same_versions() -> None:
    runtime = _pins(REPO / "requirements.lock")
    dev = _pins(REPO / "requirements-dev.lock")
    assert {name: dev.get(name) for name in runtime} == runtime
    assert runtime["jax"] == runtime["jaxlib"] == "0.10.2"
    assert runtime["flax"] == "0.12.8"


def test_each_grading_claims_a_student_user_of_its_own(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from autograder.errors import GraderError

    made: list[str] = []

    def account(name: str = isolation.STUDENT_USER) -> StudentUser:
        made.append(name)
        return StudentUser(name, 5000 + len(made), 5000 + len(made))

    monkeypatch.setattr(isolation, "ensure_student_user", account)
    monkeypatch.setattr(isolation, "POOL_SIZE", 2)
    users = isolation.StudentUsers(tmp_path / "claims")
    first, second = users.claim(), users.claim()
    assert (first.name, second.name) == ("autograder-student", "autograder-student-2")
    assert stat.S_IMODE((tmp_path / "claims").stat().st_mode) == 0o700
    with pytest.raises(GraderError, match="all 2 student users are in use"):
        users.claim()  # never a fallback to root
    users.release(first)
    assert users.claim().name == "autograder-student"
    # A claim left by a process that is gone is taken back.
    users.release(second)
    (tmp_path / "claims" / "autograder-student-2").write_text("999999999")
    assert users.claim().name == "autograder-student-2"
    # Claims kept where others could write are refused.
    open_folder = tmp_path / "open"
    open_folder.mkdir(mode=0o777)
    open_folder.chmod(0o777)
    with pytest.raises(GraderError, match="is not a private folder"):
        isolation.StudentUsers(open_folder).claim()
