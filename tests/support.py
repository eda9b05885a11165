"""What the tests share that is not a fixture: the checkout's paths, writing a submission,
the shared solution sources, the attack helpers, ``autograder check`` run in-process, and
whether the student user can reach this Python.

Test modules import from here, never from one another or from ``conftest.py`` (which holds
only fixtures). Assertions here are rewritten by pytest like the tests' own (see
``tests/__init__.py``).
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from autograder.cli.main import ExitStatus, main
from autograder.grading.feedback import Feedback
from autograder.grading.outcome import CaseResult, ProblemResult, SubmissionResult
from autograder.sandbox import isolation
from autograder.spec import LoadedProblem

# -- paths and files -----------------------------------------------------------------------

REPO = Path(__file__).resolve().parent.parent
PROBLEMS = REPO / "problems"
EXAMPLES = REPO / "examples"
SCHEMA = REPO.parent / "shared" / "gradescope" / "results.schema.json"

#: The ``grade_files`` fixture: ``grade_files({"solution.py": SOURCE}, "vmap_over_batch",
#: ...)`` -> SubmissionResult.
GradeFiles = Callable[..., SubmissionResult]


def write_files(root: Path, files: Mapping[str, str]) -> Path:
    """Write ``files`` (name -> text, dedented) under ``root``; ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return root


def only(report: SubmissionResult) -> ProblemResult:
    """The one problem a report graded."""
    assert len(report.problems) == 1
    return report.problems[0]


# -- spec errors ---------------------------------------------------------------------------

_POSITIONED = re.compile(r"^(?P<file>\S+?\.yaml):[0-9]+:[0-9]+: ")


def without_positions(message: str) -> str:
    """A SpecError's text with the ``:line:col`` of each line removed, after checking that
    every line has one (the positions themselves are ``tests/test_spec_errors.py``'s golden
    strings; the other spec tests are about the locations and the wording)."""
    out = []
    for line in message.splitlines():
        found = _POSITIONED.match(line)
        assert found, f"an issue without a line and column: {line}"
        out.append(f"{found['file']}: {line[found.end():]}")
    return "\n".join(out)


# -- submissions: correct solutions the tests build on -------------------------------------

#: A correct ``vmap_over_batch``; ``{suffix}`` goes after its return value (to break it).
BATCH = '''
from flax import nnx


def vmap_over_batch(seed, x_batch, features):
    model = nnx.Linear(x_batch.shape[-1], int(features), rngs=nnx.Rngs(int(seed)))

    @nnx.vmap(in_axes=(None, 0))
    def fwd(model, x):
        return model(x)

    return fwd(model, x_batch).reshape(-1){suffix}
'''

#: A correct ``nn_vmap_forward`` (Linen).
NN_VMAP = '''
import jax
from flax import linen as nn


def nn_vmap_forward(seed, x_batch, features):
    layer = nn.vmap(nn.Dense, in_axes=0, out_axes=0, variable_axes={"params": None},
                    split_rngs={"params": False})(features=features)
    params = layer.init(jax.random.PRNGKey(seed), x_batch)
    return layer.apply(params, x_batch).reshape(-1)
'''

CORRECT = BATCH.format(suffix="")

# -- attacks: hostile code in a vmap_over_batch, graded beside a correct sibling -----------


def attack(body: str, returns: str = "_correct(seed, x_batch, features)") -> str:
    """A vmap_over_batch that runs ``body`` (indented code) and then returns ``returns``."""
    indented = "\n".join("    " + line for line in body.strip().splitlines())
    return (CORRECT.replace("def vmap_over_batch(", "def _correct(")
            + f"\n\ndef vmap_over_batch(seed, x_batch, features):\n{indented}\n"
              f"    return {returns}\n")


def graded(grade_files: GradeFiles, source: str, **options: object) -> tuple[ProblemResult,
                                                                              ProblemResult]:
    """``source`` graded as vmap_over_batch beside a correct nn_vmap_forward, visible cases
    only, as the unprivileged student user: (the hostile result, the sibling's)."""
    report = grade_files({"attack.py": source, "fine.py": NN_VMAP}, "vmap_over_batch",
                         "nn_vmap_forward", visible_only=True, **options)
    assert report.fault is None, report.fault
    hostile, sibling = report.problems
    assert sibling.points == 5.0, "the other problem must keep all its points"
    assert ISOLATED.fullmatch(report.environment["isolation"]), report.environment
    return hostile, sibling


#: What a grading as root says of its isolation: a student user of the pool (which one
#: depends on what else is grading on the machine at the time).
ISOLATED = re.compile(r"Student code runs as the unprivileged user "
                      r"'autograder-student(-[0-9]+)?'\.")


def ids(result: ProblemResult) -> list[str | None]:
    """The feedback id of every test of ``result`` (the structure test included)."""
    return [None if c.feedback is None else c.feedback.id for c in result.tests]


def student_processes() -> list[int]:
    """Live processes of the student user (zombies, already dead, are not counted), after
    giving processes killed at the end of grading a moment to finish dying."""
    deadline = time.monotonic() + 5
    while (alive := _student_processes()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive


def student_uids() -> set[int]:
    """The uids of every student user of the pool (each grading side by side has one)."""
    import pwd

    names = {isolation.pool_user_name(i) for i in range(isolation.POOL_SIZE)}
    return {isolation.ensure_student_user().uid} | {
        entry.pw_uid for entry in pwd.getpwall() if entry.pw_name in names}


def _student_processes() -> list[int]:
    uids = student_uids()
    alive = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and entry.stat().st_uid in uids and (
                    (entry / "stat").read_bytes().rsplit(b")", 1)[1].split()[0] != b"Z"):
                alive.append(int(entry.name))
        except OSError:
            continue
    return alive


# -- running the CLI -----------------------------------------------------------------------


def run_check(*argv: str, cache: Path, color: bool = False) -> tuple[ExitStatus, str]:
    """``autograder check ARGV`` through ``main``: the exit status and what it printed."""
    console = Console(file=io.StringIO(), width=100, force_terminal=color,
                      color_system="standard" if color else None)
    env = {"AUTOGRADER_CACHE": str(cache)}
    status = main(["check", *argv], env=env, console=console)
    return status, console.file.getvalue()  # type: ignore[attr-defined]


# -- the student user and this Python ------------------------------------------------------

#: What opens the way to the interpreter for the student user (``make test`` runs it).
HARDEN_RUNTIME = "-m autograder harden --runtime-only"


def runtime_unreachable() -> str | None:
    """Why the student user cannot run this Python, when the grader is root and it cannot
    (a private directory on the way to the interpreter, the standard library, the installed
    packages or the grader's code), with the command that fixes it; else None. Changes
    nothing: ``choose`` would create the student user, this only looks."""
    if os.geteuid() != 0:
        return None
    blocked = sorted({d for d in map(isolation.private_directory, isolation.runtime_paths())
                      if d is not None})
    if not blocked:
        return None
    return (f"As root, student code runs as the unprivileged user {isolation.STUDENT_USER!r}, "
            f"which cannot reach this Python: {', '.join(map(str, blocked))} "
            f"{'is' if len(blocked) == 1 else 'are'} private to others. "
            f"Run `{sys.executable} {HARDEN_RUNTIME}` (`make test` does): it creates that "
            f"user and lets others traverse (not list) the folders on the way to the "
            f"runtime. Otherwise student code would run as root, unisolated.")


# -- the report's browser ------------------------------------------------------------------

def chromium() -> str:
    """Chromium's command, to check the report in a real headless browser; the test is
    skipped where it is not installed (and fails where CI requires it)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and os.environ.get("AUTOGRADER_REQUIRE_BROWSER"):
        pytest.fail("Chromium is required here (AUTOGRADER_REQUIRE_BROWSER) but not installed")
    if found is None:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    return found


def browser_dom(browser: str, page: Path) -> str:
    """The DOM of ``page`` as headless Chromium builds it."""
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--window-size=1200,1800"]
    done = subprocess.run([browser, *flags, "--dump-dom", f"file://{page}"],
                          capture_output=True, text=True, timeout=120)
    return done.stdout


# -- a regraded class, written as a regrade writes it (no grading) -------------------------

#: A case's outcome in :func:`write_regraded`: passed (None), or its feedback with the
#: output returned (or None) and the exception type raised (or None).
Outcome = tuple[Feedback, np.ndarray | None, str | None] | None


def graded_report(problem: LoadedProblem, outcomes: Mapping[int, Outcome],
                  expected: Callable[[int], np.ndarray]) -> SubmissionResult:
    """A submission's result on ``problem``: every case passes but those in ``outcomes``."""
    spec = problem.spec
    cases = []
    for i, case in enumerate(spec.cases):
        outcome = outcomes.get(i)
        feedback, output, error = outcome if outcome is not None else (None, None, None)
        cases.append(CaseResult(i, spec.case_label(i), case.visibility, f"{spec.function}(...)",
                                spec.case_points(i), feedback, 0.5, output=output,
                                expected=expected(i), error=error))
    return SubmissionResult((ProblemResult(problem, tuple(cases)),), {"backend": "cpu"}, 1.0)


def write_regraded(output: Path, submission: str, report: SubmissionResult,
                   names: tuple[str, ...] = (), source: Path | None = None,
                   seconds: float = 3.0) -> None:
    """``submissions/<id>/``: results.json, outputs.npz and regrade.json, as ``regrade``
    saves them (``source``: where the submission's files are)."""
    from autograder.gradescope.results import build_results, write_results
    from autograder.staff import answers

    folder = output / "submissions" / submission
    folder.mkdir(parents=True, exist_ok=True)
    write_results(folder / "results.json", build_results(report), 0o600)
    answers.save(folder, answers.unexplained(report))
    record = {"submission": submission, "problems_digest": "x", "seconds": seconds,
              "fault": False, "submitters": [{"name": n, "sid": "", "email": ""}
                                             for n in names or (submission,)]}
    if source is not None:
        record["path"] = str(source)
    write_results(folder / "regrade.json", record, 0o600)
