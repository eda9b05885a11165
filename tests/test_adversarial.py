"""Hostile and broken submissions: each attack ends with the honest score.

These run as root in CI, as the grader does on Gradescope, so student code runs as the
unprivileged ``autograder-student`` user in its own network namespace: the privilege
separation exercised here is the real one. Each attack is paired with a correct solution of
another problem, which must keep all its points.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from autograder.cli.main import ExitStatus, main
from autograder.gradescope.results import build_results
from autograder.grading.engine import GradeOptions, grade
from autograder.grading.outcome import SubmissionResult
from autograder.grading.references import warm_cache
from autograder.spec import LoadedProblem, load_problem
from tests.support import (
    CORRECT,
    NN_VMAP,
    PROBLEMS,
    REPO,
    GradeFiles,
    attack,
    graded,
    ids,
    student_processes,
    write_files,
)

pytestmark = [
    pytest.mark.worker,
    pytest.mark.skipif(os.geteuid() != 0, reason="privilege separation needs root"),
]

MB = 2**20


def test_forged_results_files_and_printed_json_change_nothing(
        tmp_path: Path, cache_dir: Path, validate_results: Callable[[object], None]) -> None:
    out = tmp_path / "out" / "results.json"
    out.parent.mkdir()
    out.write_text("{}")
    fake = {"score": 999, "tests": [{"name": "forged", "score": 999, "max_score": 1}]}
    body = f"""
import glob, json, os
fake = {fake!r}
targets = ["/autograder/results/results.json", {str(out)!r}, "results.json",
           "../results.json", os.path.expanduser("~/results.json")]
targets += glob.glob("/tmp/*/results.json") + glob.glob("/tmp/*/*/results.json")
for target in targets:
    try:
        with open(target, "w") as handle:
            json.dump(fake, handle)
        print("forged", target)
    except OSError as exc:
        print("refused", target, type(exc).__name__)
print(json.dumps(fake))
"""
    submission = write_files(tmp_path / "sub", {"attack.py": attack(body, "x_batch.reshape(-1)")})
    status = main(["grade", str(submission), "--results", str(out), "--cache", str(cache_dir),
                   "--quiet"], env={})
    assert status == ExitStatus.SUCCESS
    results = json.loads(out.read_text())
    validate_results(results)
    batch = [t for t in results["tests"] if "problem:vmap_over_batch" in t["tags"]]
    assert len(batch) == 9 and sum(t["score"] for t in batch) == 0
    assert all(t["score"] <= t["max_score"] for t in results["tests"])
    # Under /tmp the grader's output is not even there: the worker's /tmp is its own.
    assert (f"refused {out} PermissionError" in batch[0]["output"]
            or f"refused {out} FileNotFoundError" in batch[0]["output"]), batch[0]["output"]


def test_references_hidden_cases_and_cache_cannot_be_read(
        grade_files: GradeFiles, cache_dir: Path) -> None:
    secret_paths = [PROBLEMS / "vmap_over_batch" / "reference.py",
                    PROBLEMS / "vmap_over_batch" / "problem.yaml",
                    PROBLEMS / "vmap_over_batch" / "mistakes.py", cache_dir]
    body = f"""
import os, sys
for path in {[str(p) for p in secret_paths]!r}:
    try:
        if os.path.isdir(path):
            print("listed", path, os.listdir(path))
        else:
            print("read", path, len(open(path).read()))
    except OSError as exc:
        print("blocked", path, type(exc).__name__)
for entry in sys.path:
    candidate = os.path.join(entry, "reference.py")
    if os.path.exists(candidate):
        print("found on sys.path", candidate)
"""
    hostile, _ = graded(grade_files, attack(body, "x_batch.reshape(-1) * 0"))
    assert hostile.points == 0
    for path in secret_paths:
        assert f"blocked {path} PermissionError" in hostile.printed
    assert "found on sys.path" not in hostile.printed
    assert "read " not in hostile.printed and "listed " not in hostile.printed


def test_the_compilation_cache_gives_code_only_the_programs_it_makes(
        problems: dict[str, LoadedProblem], cache_dir: Path, tmp_path: Path) -> None:
    """The references' compiled programs (hidden cases included) cannot be listed or
    searched; the program the student's own code makes is found by its key and reused."""
    compiled = tmp_path / "jax"
    problem = problems["vmap_over_batch"]
    warm_cache([problem], cache_dir, {}, compiled)
    assert len(list(compiled.glob("*-cache"))) > 1  # the references' programs are there
    body = f"""
import glob, os
from jax._src import monitoring
hits = []
monitoring.register_event_listener(
    lambda event, **_: hits.append(event) if event.endswith("/cache_hits") else None)
try:
    print("listed", os.listdir({str(compiled)!r}))
except OSError as exc:
    print("blocked", type(exc).__name__)
print("found", glob.glob({str(compiled)!r} + "/*"), glob.glob({str(compiled)!r} + "/**"))
result = _correct(seed, x_batch, features)
print("reused", len(hits))
"""
    submission = write_files(tmp_path / "submission", {"attack.py": attack(body, "result")})
    report = grade(submission, [problem], GradeOptions(
        cache_dir=cache_dir, compile_cache=compiled, visible_only=True))
    assert report.fault is None, report.fault
    (hostile,) = report.problems
    assert hostile.points == hostile.max_points  # a correct solution, graded as one
    assert "blocked PermissionError" in hostile.printed and "listed" not in hostile.printed
    assert "found [] []" in hostile.printed
    reused = [int(line.split()[1]) for line in hostile.printed.splitlines()
              if line.startswith("reused ")]
    assert reused and reused[0] > 0, hostile.printed  # its first call compiled nothing new


def test_the_grader_cannot_be_killed_or_signalled(grade_files: GradeFiles) -> None:
    body = """
import os, signal
for target in (os.getppid(), 1):
    for sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGSTOP):
        try:
            os.kill(target, sig)
            print("signalled", target)
        except OSError as exc:
            print("refused", type(exc).__name__)
"""
    hostile, _ = graded(grade_files, attack(body))
    assert hostile.points == 5.0  # the answer itself is correct: honest full marks
    assert "signalled" not in hostile.printed
    assert hostile.printed.count("refused PermissionError") == 6 * 3  # 6 tries, 3 cases


def test_a_memory_bomb_gets_memory_limit_exceeded_and_nothing_else_is_lost(
        grade_files: GradeFiles) -> None:
    body = """
import numpy as np
hog = np.ones(6 * 2**30 // 8)  # 6 GB, touched
"""
    hostile, _ = graded(grade_files, attack(body), memory_limit=1024 * MB)
    assert ids(hostile)[:3] == ["memory-limit"] * 3
    assert hostile.points == 0
    feedback = hostile.cases[0].feedback
    assert feedback is not None
    assert feedback.summary.startswith(
        "Your `vmap_over_batch` used more memory than the grader allows (1024 MB) and was "
        "stopped (memory limit exceeded).")
    assert student_processes() == []


def test_forked_processes_do_not_survive_grading(grade_files: GradeFiles) -> None:
    body = """
import os, time
if os.fork() == 0:
    os.setsid()  # leave the worker's process group
    if os.fork() == 0:
        time.sleep(3600)
    os._exit(0)
"""
    hostile, _ = graded(grade_files, attack(body))
    assert hostile.points == 5.0
    assert student_processes() == []


def test_a_fork_bomb_is_capped_and_cleaned_up(
        grade_files: GradeFiles,
        short_time_limit: Callable[[str, float], LoadedProblem]) -> None:
    body = """
import os
children = 0
try:
    for _ in range(5000):
        if os.fork() == 0:
            import time
            time.sleep(3600)
        children += 1
except OSError as exc:
    print("fork refused after", children, type(exc).__name__)
"""
    # The process limit stops the bomb; the bomb then starves its own worker of threads, so
    # the attacker's function times out or cannot start a thread, and only it. (Whether XLA
    # still finds a thread for a case depends on the kernel's timing: either way the score
    # is what the function did.)
    problem = short_time_limit("vmap_over_batch", 10)
    report = grade_files({"attack.py": attack(body), "fine.py": NN_VMAP}, "nn_vmap_forward",
                         problem_dirs=(problem,), visible_only=True)
    sibling, hostile = report.problems
    assert sibling.points == 5.0
    assert "fork refused after" in hostile.printed
    assert {c.feedback.id for c in hostile.cases if c.feedback is not None} <= {
        "timeout", "runtime-error"}
    assert student_processes() == []


@pytest.mark.parametrize("body", [
    "import sys\nsys.exit(0)",
    "import os\nos._exit(0)",
    "import ctypes\nctypes.string_at(0)",
])
def test_exits_and_crashes_cost_only_their_own_problem(grade_files: GradeFiles,
                                                        body: str) -> None:
    hostile, _ = graded(grade_files, attack(body))
    assert ids(hostile)[:3] == ["runtime-error"] * 3
    assert sum(c.points for c in hostile.cases) == 0


def test_killing_every_process_it_may_signal_reaches_only_its_own(
        grade_files: GradeFiles) -> None:
    # kill(-1) signals every process of the student user but the caller: nothing of ours.
    hostile, _ = graded(grade_files, attack("import os, signal\nos.kill(-1, signal.SIGKILL)"))
    assert hostile.points == 5.0


def test_a_segfault_is_named(grade_files: GradeFiles) -> None:
    hostile, _ = graded(grade_files, attack("import ctypes\nctypes.string_at(0)"))
    feedback = hostile.cases[0].feedback
    assert feedback is not None and "was killed by SIGSEGV" in feedback.summary


def test_huge_output_is_truncated_not_stored(grade_files: GradeFiles) -> None:
    hostile, _ = graded(grade_files, attack("print('x' * 50_000_000)"))
    assert hostile.points == 5.0
    assert len(hostile.printed) < 3 * 9_000  # 8192 characters kept per case
    assert "more characters]" in hostile.printed


def test_monkeypatched_numpy_builtins_and_jax_config_stay_in_their_problem(
        grade_files: GradeFiles) -> None:
    body = """
import builtins, os
import jax, numpy
numpy.allclose = numpy.isclose = numpy.array_equal = lambda *args, **kwargs: True
builtins.abs = lambda value: 0
jax.config.update("jax_enable_x64", True)
os.environ["JAX_PLATFORMS"] = "gpu"
"""
    hostile, _ = graded(grade_files, attack(body, "x_batch.reshape(-1)"))
    assert sum(c.points for c in hostile.cases) == 0  # comparison happens on the trusted side


def test_the_graders_environment_and_arguments_are_not_visible(
        grade_files: GradeFiles) -> None:
    body = """
import os, sys
print("environ", dict(os.environ))
print("argv", sys.argv)
for name in ("environ", "cmdline"):
    try:
        print(name, open(f"/proc/{os.getppid()}/{name}", "rb").read())
    except OSError as exc:
        print("blocked", name, type(exc).__name__)
"""
    env = {**os.environ, "GRADER_SECRET": "s3cr3t-token"}
    hostile, _ = graded(grade_files, attack(body), grader_env=env)
    assert "s3cr3t-token" not in hostile.printed
    # Its parent (the template, root's) is not even listed: /proc shows its own user's only.
    assert "blocked environ FileNotFoundError" in hostile.printed
    assert "blocked cmdline FileNotFoundError" in hostile.printed
    assert hostile.points == 5.0


def test_network_access_is_blocked_with_a_clear_message(grade_files: GradeFiles) -> None:
    body = """
import urllib.request
urllib.request.urlopen("http://example.com/weights.bin", timeout=5)
"""
    hostile, _ = graded(grade_files, attack(body))
    assert ids(hostile)[:3] == ["network-blocked"] * 3
    feedback = hostile.cases[0].feedback
    assert feedback is not None
    assert feedback.summary == (
        "Your `vmap_over_batch` tried to use the network, which the grader blocks for "
        "submitted code: nothing can be downloaded while grading. Put everything your code "
        "needs in your submission (and remove `pip install` or download calls).")


def _network_namespaces_allowed() -> bool:
    unshare = shutil.which("unshare")
    return unshare is not None and subprocess.run([unshare, "-n", "true"],
                                                  capture_output=True).returncode == 0


@pytest.mark.skipif(not _network_namespaces_allowed(),
                    reason="this kernel refuses network namespaces; the Python guard stands "
                           "alone (tested above)")
def test_raw_sockets_cannot_leave_the_network_namespace(grade_files: GradeFiles) -> None:
    body = """
import ctypes, socket, struct
libc = ctypes.CDLL(None, use_errno=True)
fd = socket.socket(socket.AF_INET, socket.SOCK_STREAM).detach()
# struct sockaddr_in for 1.1.1.1:80, connected through libc to bypass any Python-level guard
address = struct.pack("=H", socket.AF_INET) + struct.pack("!H", 80) + bytes([1, 1, 1, 1]) + bytes(8)
result = libc.connect(fd, address, len(address))
print("connect", result, ctypes.get_errno())
"""
    hostile, _ = graded(grade_files, attack(body))
    assert "connect -1 101" in hostile.printed  # ENETUNREACH: no route out of the namespace
    assert hostile.points == 5.0


def test_the_graders_code_and_run_autograder_cannot_be_changed(
        grade_files: GradeFiles) -> None:
    import autograder.grading.engine

    targets = [Path(autograder.grading.engine.__file__), REPO / "run_autograder", REPO / "setup.sh"]
    before = [hashlib.sha256(p.read_bytes()).hexdigest() for p in targets]
    body = f"""
for path in {[str(p) for p in targets]!r}:
    try:
        with open(path, "a") as handle:
            handle.write("\\nimport os; os.system('echo pwned')\\n")
        print("appended", path)
    except OSError as exc:
        print("refused", type(exc).__name__)
"""
    hostile, _ = graded(grade_files, attack(body))
    assert [hashlib.sha256(p.read_bytes()).hexdigest() for p in targets] == before
    assert hostile.printed.count("refused PermissionError") == 3 * 3  # 3 files, 3 cases


def test_running_out_of_the_time_budget_keeps_what_was_graded(
        grade_files: GradeFiles, validate_results: Callable[[object], None]) -> None:
    report: SubmissionResult = grade_files({"linen.py": NN_VMAP}, "vmap_over_batch",
                                           "nn_vmap_forward", time_budget=30)
    (batch,) = report.problems  # graded without a worker: the function is missing
    assert batch.problem.spec.function == "vmap_over_batch"
    assert report.fault is not None and "time budget ran out" in report.fault
    results = build_results(report)
    validate_results(results)
    assert [t["name"] for t in results["tests"][-2:]] == [
        "The autograder failed: please contact the course staff",
        "Autograder traceback (staff only)"]
    assert len(results["tests"]) == 9 + 1 + 2  # the cases, the staff summary, the fault


def test_a_broken_reference_is_a_grader_fault_not_a_student_zero(
        grade_files: GradeFiles, tmp_path: Path,
        validate_results: Callable[[object], None]) -> None:
    broken_dir = tmp_path / "broken" / "vmap_over_batch"
    shutil.copytree(PROBLEMS / "vmap_over_batch", broken_dir)
    (broken_dir / "reference.py").write_text(
        "def vmap_over_batch(seed, x_batch, features):\n    raise RuntimeError('typo')\n")
    broken: LoadedProblem = load_problem(broken_dir)
    report = grade_files({"fine.py": NN_VMAP, "attack.py": CORRECT}, "nn_vmap_forward",
                         problem_dirs=(broken,))
    (fine,) = report.problems
    assert fine.points == 10
    assert report.fault is not None and "RuntimeError: typo" in report.fault
    validate_results(build_results(report))
