"""Submissions written to break the grader's honesty: each ends with its exact score.

Each attack below once gave a student something the grader must never give: another
problem's hidden inputs, a total that counts hidden tests, "the autograder failed" for the
whole class of attacks on the reply channel or the trusted side's parsing, memory outside
any process, an oversized file imported anyway. Run as root, as on Gradescope, so student
code runs as the unprivileged student user with its own group, namespaces and scratch.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from autograder.gradescope.results import build_results
from autograder.sandbox import limits, memory
from autograder.spec import LoadedProblem
from tests.support import (
    CORRECT,
    EXAMPLES,
    NN_VMAP,
    PROBLEMS,
    REPO,
    GradeFiles,
    attack,
    graded,
    ids,
    student_processes,
)

pytestmark = [
    pytest.mark.worker,
    pytest.mark.skipif(os.geteuid() != 0, reason="privilege separation needs root"),
]

MB = 2**20

# vmap_over_batch stores every call's arguments everywhere a later process might look.
STASH = CORRECT.replace("def vmap_over_batch(", "def _correct(") + '''

import os as _os
import jax as _jax
import numpy as _np
import store as _store


def vmap_over_batch(seed, x_batch, features):
    line = f"LEAK seed={seed!r} shape={tuple(x_batch.shape)} first={float(x_batch.ravel()[0])!r}\\n"
    _store.SEEN.append(line)
    result = _correct(seed, x_batch, features)  # the right answer, computed first
    for folder in ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", _os.path.expanduser("~"),
                   _os.getcwd(), _os.environ.get("TMPDIR", "/tmp")):
        try:
            with open(_os.path.join(folder, "stash.txt"), "a") as handle:
                handle.write(line)
        except OSError:
            pass
    _np.allclose = lambda *a, **k: True  # monkeypatches that a later problem could see
    _jax.config.update("jax_enable_x64", True)
    import threading
    threading.Thread(target=__import__("time").sleep, args=(3600,), daemon=True).start()
    return result
'''

# nn_vmap_forward, graded next, looks for all of it and prints what it finds.
SNOOP = NN_VMAP + '''

import glob as _glob
import os as _os
import threading as _threading
import numpy as _np2
import jax as _jax2
import store as _store2

_real_forward = nn_vmap_forward


def nn_vmap_forward(seed, x_batch, features):
    print("module store:", _store2.SEEN)
    for pattern in ("/tmp/**/stash.txt", "/var/tmp/**/stash.txt", "/dev/shm/**/stash.txt",
                    "/run/lock/**/stash.txt", _os.path.expanduser("~") + "/stash.txt",
                    "stash.txt", _os.environ.get("TMPDIR", "/tmp") + "/stash.txt"):
        for path in _glob.glob(pattern, recursive=True):
            try:
                print("file", path, open(path).read())
            except OSError:
                pass
    print("x64:", _jax2.config.jax_enable_x64, "allclose patched:",
          _np2.allclose.__name__ == "<lambda>", "threads:", _threading.active_count())
    return _real_forward(seed, x_batch, features)
'''


def _hidden_seeds(problem: LoadedProblem) -> list[str]:
    return [f"seed={case.args['seed']!r}" for case in problem.spec.cases
            if case.visibility != "visible"]


def test_hidden_inputs_never_reach_a_later_problem(
        grade_files: GradeFiles, problems: dict[str, LoadedProblem],
        validate_results: Callable[[object], None]) -> None:
    report = grade_files({"attack.py": STASH, "snoop.py": SNOOP, "store.py": "SEEN = []\n"},
                         "vmap_over_batch", "nn_vmap_forward")
    assert report.fault is None, report.fault
    batch, forward = report.problems
    assert batch.points == batch.max_points == 10  # the attacker's answers are right...
    assert forward.points == forward.max_points == 10
    snooped = "\n".join(c.printed for c in forward.cases)
    assert "LEAK" not in snooped  # ...and nothing of its calls reached the next problem
    assert "module store: []" in snooped
    assert "x64: False allclose patched: False threads: 1" in snooped
    results = build_results(report)
    validate_results(results)
    visible = "\n".join(t["output"] for t in results["tests"] if t["visibility"] == "visible")
    for seed in _hidden_seeds(problems["vmap_over_batch"]):
        assert seed not in visible
    assert student_processes() == []  # the daemon thread's process is gone too
    leftovers = [p for top in memory.SHARED_SCRATCH for p in Path(top).glob("**/stash.txt")
                 if Path(top).exists()]
    assert leftovers == []


def test_the_visible_summary_counts_visible_tests_only(
        grade_files: GradeFiles, validate_results: Callable[[object], None]) -> None:
    report = grade_files({"attack.py": attack("", "x_batch.reshape(-1) * 0"),
                          "fine.py": NN_VMAP}, "vmap_over_batch", "nn_vmap_forward")
    results = build_results(report)
    validate_results(results)
    lines = results["output"].splitlines()
    assert lines[:2] == [
        "- `vmap_over_batch`: 0/4 visible tests passed, 0/5 points",
        "- `nn_vmap_forward`: 4/4 visible tests passed, 5/5 points"]
    assert "Score" not in results["output"] and "/10" not in results["output"]
    assert ("Only the visible tests are counted above. The other tests, and your total, are "
            "shown when the course staff publish them.") in lines
    (summary,) = [t for t in results["tests"] if "summary" in t.get("tags", [])]
    assert summary["visibility"] == "hidden" and summary["max_score"] == 0
    assert summary["output"].splitlines() == [
        "Score: 10 / 20", "",
        "- `vmap_over_batch`: 0/9 tests passed, 0/10 points",
        "- `nn_vmap_forward`: 9/9 tests passed, 10/10 points"]


# Forged replies, written by the student's code on the worker's reply channel (fd 3) with
# the id of the request being answered, so each reaches the check it is aimed at.
FORGE = '''
import base64, os
_calls = globals().setdefault("_calls", [0])
_calls[0] += 1
request_id = 1 + _calls[0]  # 1 is the load; each case is the next call
'''
FORGED_REPLIES = {
    "malformed npy": """
raw = b"\\x93NUMPY junk"
""",
    "npy header claiming 50 GiB": """
header = "{'descr': '<f4', 'fortran_order': False, 'shape': (13421772800,), }"
raw = b"\\x93NUMPY\\x01\\x00" + len(header).to_bytes(2, "little") + header.encode()
raw += bytes(16)
""",
}


@pytest.mark.parametrize("what", sorted(FORGED_REPLIES))
def test_a_forged_array_costs_only_its_problem(grade_files: GradeFiles, what: str) -> None:
    body = FORGE + FORGED_REPLIES[what] + '''
import json
output = {"kind": "ndarray", "npy": base64.b64encode(raw).decode()}
os.write(3, json.dumps({"type": "returned", "id": request_id, "output": output, "returned": "x",
                        "trace": [], "printed": "", "seconds": 0.0}).encode() + b"\\n")
'''
    hostile, sibling = graded(grade_files, attack(body))
    assert ids(hostile)[:3] == ["protocol-violation"] * 3
    assert hostile.points == 0 and sibling.points == 5.0
    feedback = hostile.cases[0].feedback
    assert feedback is not None and feedback.summary.startswith(
        "While `vmap_over_batch` ran, your code wrote to the grader's private reply channel "
        "(file descriptor 3), so its answer could not be trusted and it was stopped (")
    assert "malformed array" in feedback.summary


def test_deeply_nested_json_on_the_reply_channel_costs_only_its_problem(
        grade_files: GradeFiles) -> None:
    body = 'import os\nos.write(3, b"[" * 200_000 + b"]" * 200_000 + b"\\n")'
    hostile, sibling = graded(grade_files, attack(body))
    assert ids(hostile)[:3] == ["protocol-violation"] * 3
    assert hostile.points == 0 and sibling.points == 5.0
    feedback = hostile.cases[0].feedback
    assert feedback is not None and "nests deeper than 16 levels" in feedback.summary


def test_a_reply_to_no_request_costs_only_its_problem(grade_files: GradeFiles) -> None:
    # Two answers to one request: the extra one is caught before the next request.
    body = FORGE + '''
import json
os.write(3, json.dumps({"type": "raised", "id": request_id, "printed": "",
                        "error": {"kind": "runtime-error", "message": "forged"}}).encode() + b"\\n")
'''
    hostile, sibling = graded(grade_files, attack(body))
    assert hostile.points == 0 and sibling.points == 5.0
    kinds = ids(hostile)
    assert kinds[0] == "runtime-error"  # the forged reply, read as the answer: a failure
    assert "protocol-violation" in kinds[1:3]  # the real answer came unasked


CORRECT_BOTH = {"batch.py": CORRECT, "linen.py": NN_VMAP}


@pytest.mark.parametrize(("name", "text"), [
    ("nested.ipynb", "[" * 100_000 + "]" * 100_000),
    ("minus.py", "x = " + "-" * 200_000 + "1\n"),
    ("sums.py", "x = " + "1+" * 200_000 + "1\n"),
    ("nul.py", "x = 1\0\n"),
])
def test_a_file_python_cannot_parse_costs_nothing_else(
        grade_files: GradeFiles, name: str, text: str) -> None:
    report = grade_files({**CORRECT_BOTH, name: text}, "vmap_over_batch", "nn_vmap_forward",
                         visible_only=True)
    assert report.fault is None, report.fault
    assert [p.points for p in report.problems] == [5.0, 5.0]


def test_a_helper_python_cannot_parse_fails_the_file_that_imports_it(
        grade_files: GradeFiles) -> None:
    helper = "x = " + "-" * 200_000 + "1\n"  # MemoryError in Python's parser
    report = grade_files({"batch.py": "from helper import x\n" + CORRECT, "helper.py": helper,
                          "linen.py": NN_VMAP}, "vmap_over_batch", "nn_vmap_forward",
                         visible_only=True)
    batch, linen = report.problems
    assert linen.points == 5.0
    assert batch.points == 0  # parsed in the student's worker, which fails on its own
    assert ids(batch) == ["import-error"] * 4
    feedback = batch.cases[0].feedback
    assert feedback is not None and "`MemoryError`" in feedback.summary


def _notebook(source: str) -> str:
    """A notebook of one code cell, as Jupyter saves it."""
    cell = {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
            "source": source.splitlines(True)}
    return json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def test_an_oversized_notebook_is_reported_not_imported(grade_files: GradeFiles) -> None:
    notebook = _notebook(CORRECT + "\n" + "# padding\n" * 700_000)
    assert len(notebook) > 6 * MB
    report = grade_files({"big.ipynb": notebook, "linen.py": NN_VMAP}, "vmap_over_batch",
                         "nn_vmap_forward", visible_only=True)
    batch, linen = report.problems
    assert linen.points == 5.0 and batch.points == 0
    assert ids(batch) == ["import-error"] * 4
    feedback = batch.cases[0].feedback
    assert feedback is not None
    assert feedback.summary == (
        "`vmap_over_batch` is in `big.ipynb`, which the grader could not read: big.ipynb is "
        "larger than 5 MB, so it was not read. Fix the file and submit it again; your other "
        "files are graded as usual.")


def test_a_notebook_with_one_huge_cell_is_graded(grade_files: GradeFiles) -> None:
    # Cleaning a cell used to re-tokenize everything before each line: 12,000 lines took
    # minutes. Cleaning is one pass now, and the notebook grades as any other.
    source = CORRECT + "\n" + "".join(f"_unused_{i} = [{i},\n    {i}]\n" for i in range(6000))
    notebook = _notebook(source)
    assert source.count("\n") > 12_000
    start = time.monotonic()
    report = grade_files({"solution.ipynb": notebook}, "vmap_over_batch", visible_only=True)
    assert report.problems[0].points == 5.0
    assert time.monotonic() - start < 120  # minutes before; seconds now (a loose bound)


def _mount_namespaces_allowed() -> bool:
    return subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode == 0


@pytest.mark.parametrize("private", [True, False], ids=["private-shm", "shared-shm"])
def test_shared_memory_files_count_and_are_removed(
        grade_files: GradeFiles, monkeypatch: pytest.MonkeyPatch, private: bool) -> None:
    """In a private ``/dev/shm`` (a tmpfs as large as the limit, in the worker's own mount
    namespace), or, where the kernel refuses one, in the machine's, counted by the worker's
    group: either way the files count against the worker's memory and do not outlive it."""
    if private and not _mount_namespaces_allowed():
        pytest.skip("this kernel refuses mount namespaces")
    if not private:  # as where the kernel refuses: no private /dev/shm is asked for
        jail = limits.Limits.jail
        monkeypatch.setattr(limits.Limits, "jail", lambda self, user, gid: {
            **jail(self, user, gid), "shm_size": 0})
    body = """
import os, time
for i in range(14):
    try:
        with open(f"/dev/shm/hog{i}", "wb") as handle:
            for _ in range(256):
                handle.write(b"x" * 2**20)
    except OSError as exc:
        print("refused", i, exc.errno)
        break
time.sleep(2)  # hold it while the watchdog looks
"""
    hostile, sibling = graded(grade_files, attack(body), memory_limit=768 * MB)
    assert hostile.environment["jail"]["private_shm"] is private
    assert ids(hostile)[:3] == ["memory-limit"] * 3
    assert hostile.points == 0 and sibling.points == 5.0
    assert not list(Path("/dev/shm").glob("hog*"))


def test_student_tracebacks_show_no_grader_frames(grade_files: GradeFiles) -> None:
    source = NN_VMAP + '''

from flax import nnx as _nnx
import jax.numpy as _jnp


def vmap_over_batch(seed, x_batch, features):
    def broken(x):
        raise ValueError("my own bug")
    return _nnx.vmap(broken)(_jnp.asarray(x_batch))
'''
    report = grade_files({"solution.py": source}, "vmap_over_batch", visible_only=True)
    feedback = report.problems[0].cases[0].feedback
    assert feedback is not None and "runtime-error" in feedback.tags
    assert "ValueError: my own bug" in feedback.details
    assert 'File "solution.py"' in feedback.details
    assert "autograder/" not in feedback.details and "counted" not in feedback.details


def test_a_librarys_not_implemented_error_is_not_called_the_starter_stub(
        grade_files: GradeFiles) -> None:
    source = CORRECT.replace("def vmap_over_batch(seed, x_batch, features):",
                             "def vmap_over_batch(seed, x_batch, features):\n"
                             "    first = x_batch.flat[0]  # numpy style, not in JAX")
    report = grade_files({"solution.py": source}, "vmap_over_batch", visible_only=True)
    feedback = report.problems[0].cases[0].feedback
    assert feedback is not None and feedback.id == "runtime-error"
    assert feedback.summary == (
        "Your `vmap_over_batch` raised `NotImplementedError`: JAX Arrays do not implement the "
        "arr.flat property: consider arr.flatten() instead.")


def test_the_students_process_imports_nothing_of_the_grader(grade_files: GradeFiles) -> None:
    """The worker imports the standard library, numpy, jax and flax (with what they import
    themselves) and the worker's own small modules; never the grader's spec, engine,
    pydantic, or anything else of the trusted side."""
    def modules(imports: str) -> set[str]:
        return set(subprocess.run(
            [sys.executable, "-I", "-c", f"import sys, {imports}; print(' '.join(sys.modules))"],
            capture_output=True, text=True, check=True, cwd=REPO).stdout.split())

    baseline = modules("numpy, jax, jax.numpy, flax, flax.linen, flax.nnx")
    grader_only = modules("autograder.cli, autograder.grading.engine, autograder.spec") - baseline
    body = """
import sys
print("modules:", " ".join(sorted(sys.modules)))
"""
    hostile, _ = graded(grade_files, attack(body))
    assert hostile.points == 5.0
    (line,) = {line for line in hostile.printed.splitlines() if line.startswith("modules:")}
    loaded = set(line.split()[1:])
    ours = {m for m in loaded if m.startswith("autograder")} - {"autograder"}
    assert {"autograder.worker.serve", "autograder.protocol.messages"} <= ours
    assert sorted(m for m in ours if not m.startswith(("autograder.worker",
                                                       "autograder.protocol"))) == []
    assert "pydantic" in grader_only and "autograder.spec" in grader_only
    # What both sides use: the package itself, the protocol, the notebook reader.
    shared = {m for m in grader_only if m.startswith(("autograder.protocol", "autograder.worker"))}
    assert sorted(loaded & grader_only - shared - {"autograder"}) == []


def test_worker_groups_are_unique(tmp_path: Path) -> None:
    groups = limits.Groups()
    groups._folder = tmp_path / "claims"
    other = limits.Groups()  # another grader on the same machine, sharing the claims
    other._folder = groups._folder
    taken: list[int] = []
    lock = threading.Lock()

    def take(pool: limits.Groups) -> None:
        for _ in range(50):
            gid = pool.allocate()
            with lock:
                taken.append(gid)

    threads = [threading.Thread(target=take, args=(p,)) for p in (groups, other) * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(taken) == len(set(taken)) == 200
    groups.release(taken[0])
    assert not (groups._folder / str(taken[0])).exists()



def test_the_alarm_keeps_the_problems_graded_before_it(
        tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch,
        validate_results: Callable[[object], None]) -> None:
    """The overall alarm (``SIGALRM``, the backstop for a hang on the trusted side) rings
    after the first problem: the results keep that problem, plus the fault for staff."""
    from autograder.cli.main import ExitStatus, main
    from autograder.gradescope import run as front
    from autograder.grading import engine, outcome

    def grade_then_alarm(submission: Path, problems: list[LoadedProblem],
                         options: engine.GradeOptions,
                         graded: list[outcome.ProblemResult]) -> outcome.SubmissionResult:
        engine.grade(submission, problems[:1], options, graded=graded)
        front.out_of_time(signal.SIGALRM, None)  # as if the alarm rang now
        raise AssertionError("unreachable")

    monkeypatch.setattr(front, "grade", grade_then_alarm)
    root = tmp_path / "autograder"
    (root / "submission").mkdir(parents=True)
    (root / "submission" / "solution.py").write_text(
        (EXAMPLES / "correct" / "solution.py").read_text())
    status = main(["gradescope", "--root", str(root), "--problems", str(PROBLEMS),
                   "--cache", str(cache_dir)], env={})
    assert status == ExitStatus.SUCCESS
    results = json.loads((root / "results" / "results.json").read_text())
    validate_results(results)
    first = sorted(p.name for p in PROBLEMS.iterdir() if (p / "problem.yaml").exists())[0]
    function = first  # every shipped problem's folder is named after its function
    kept = [t for t in results["tests"] if f"problem:{function}" in t.get("tags", [])]
    assert len(kept) == 9 and all(t["score"] == t["max_score"] for t in kept)
    assert results["score"] == 10
    names = [t["name"] for t in results["tests"]]
    assert "The autograder failed: please contact the course staff" in names
    (trace,) = [t for t in results["tests"] if t["name"] == "Autograder traceback (staff only)"]
    assert "ran past its overall time budget" in trace["output"]
