"""Course-scale regrading (local jobs, Dask, resume, interruption) and the class report."""

from __future__ import annotations

import ast
import csv
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rich.console import Console

from autograder.cli.main import ExitStatus, main
from autograder.gradescope.results import build_results
from autograder.grading.engine import GradeOptions, grade
from autograder.sandbox.isolation import ensure_student_user
from autograder.spec import load_problems
from autograder.staff import answers
from autograder.staff.export import METADATA as METADATA_FILE
from autograder.staff.export import ExportError, Limits, read_export
from autograder.staff.gradebook import cell
from autograder.staff.regrade import PROCESSES, Settings, done, problems_digest
from tests.support import EXAMPLES, PROBLEMS, REPO, chromium

HANG = "def vmap_over_batch(seed, x_batch, features):\n    while True:\n        pass\n"
CRASH = "import os\n\n\ndef vmap_over_batch(seed, x_batch, features):\n    os.abort()\n"
SYNTAX = "def vmap_over_batch(seed, x_batch, features)\n    return x_batch\n"

METADATA = """\
submission_1001:
  :submitters:
  - :name: Ada Lovelace
    :sid: '1001'
    :email: ada@example.edu
  :created_at: 2026-11-02 10:00:00.000000000 -07:00
  :score: 10.0
submission_1002: !ruby/hash:ActiveSupport::HashWithIndifferentAccess
  :submitters:
  - :name: Alan Turing
    :sid: '1002'
    :email: alan@example.edu
  - :name: Grace Hopper
    :sid: '1003'
    :email: grace@example.edu
submission_1003:
  :submitters:
  - :name: Broken Syntax
    :sid: '1004'
submission_1004:
  :submitters:
  - :name: Hanging Loop
    :sid: '1005'
submission_1005:
  :submitters:
  - :name: Crashing Process
    :sid: '1006'
submission_1006:
  :submitters:
  - :name: Not In The Export
    :sid: '1007'
"""


@pytest.fixture(scope="module")
def export_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("export") / "export.zip"
    files = {
        "submission_1001/solution.py": (EXAMPLES / "correct" / "solution.py").read_text(),
        "submission_1002/work.py": (EXAMPLES / "classic-mistakes" / "solution.py").read_text(),
        "submission_1003/solution.py": SYNTAX,
        "submission_1004/solution.py": HANG,
        "submission_1005/solution.py": CRASH,
    }
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("assignment_42_export/submission_metadata.yml", METADATA)
        for name, text in files.items():
            archive.writestr(f"assignment_42_export/{name}", text)
    return path


def regrade(*argv: str, cache: Path) -> tuple[ExitStatus, str]:
    console = Console(file=io.StringIO(), width=120)
    status = main(["regrade", *argv, "--cache", str(cache)], env=dict(os.environ),
                  console=console)
    return status, " ".join(console.file.getvalue().split())  # type: ignore[attr-defined]


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(handle)]


def outcome(results: dict[str, Any]) -> list[tuple[str, float, list[str]]]:
    return [(t["name"], t["score"], t["tags"]) for t in results["tests"]]


@pytest.fixture(scope="module")
def local_run(export_zip: Path, problems_dir: Path, cache_dir: Path,
              tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    output = tmp_path_factory.mktemp("regrade") / "out"
    status, out = regrade(str(export_zip), "--problems", str(problems_dir), "--jobs", "2",
                          "--output", str(output), cache=cache_dir)
    assert status == ExitStatus.SUCCESS, out
    return output, out


def test_reading_exports(tmp_path: Path, export_zip: Path) -> None:
    submissions = read_export(export_zip, tmp_path)
    assert [s.id for s in submissions] == [f"submission_{i}" for i in range(1001, 1006)]
    assert [p.name for p in submissions[1].submitters] == ["Alan Turing", "Grace Hopper"]
    assert submissions[0].submitters[0].email == "ada@example.edu"
    plain = tmp_path / "plain"
    for name in ("alice", "bob"):
        (plain / name).mkdir(parents=True)
        (plain / name / "solution.py").write_text("x = 1\n")
    assert [(s.id, s.submitters[0].name) for s in read_export(plain, tmp_path)] == [
        ("alice", "alice"), ("bob", "bob")]
    with pytest.raises(ExportError, match="does not exist"):
        read_export(tmp_path / "nope.zip", tmp_path)
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as archive:
        archive.writestr("../escape/solution.py", "x = 1\n")
    with pytest.raises(ExportError, match="points outside the export"):
        read_export(evil, tmp_path / "scratch")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ExportError, match="no submissions"):
        read_export(tmp_path / "empty", tmp_path)


def test_settings_share_the_machine_between_the_gradings_side_by_side(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from autograder.sandbox import isolation

    monkeypatch.setattr(isolation, "default_memory_limit", lambda share=1: 3000 // share)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    cache = tmp_path / "cache" / "expected"
    local = Settings.for_local(3, cache, 60.0)
    # Each grading runs as a student user of its own: a process budget of its own too.
    assert (local.memory_limit, local.process_limit, local.time_budget) == (
        1000, PROCESSES, 60.0)
    assert (local.cache_dir, local.compile_cache) == (str(cache), str(tmp_path / "cache" / "jax"))
    cluster = Settings.for_cluster(3, cache, 60.0)  # a Dask worker: one grading's memory
    assert (cluster.memory_limit, cluster.process_limit) == (3000, PROCESSES)


@pytest.mark.worker
def test_regrade_agrees_with_grading_each_submission_alone(
        local_run: tuple[Path, str], problems_dir: Path, cache_dir: Path,
        validate_results: Any) -> None:
    output, out = local_run
    assert "5 submission(s) to grade" in out and "Graded 5 submission(s) 2 at a time" in out
    table = rows(output / "grades.csv")
    assert [r["submission"] for r in table] == [f"submission_{i}" for i in range(1001, 1006)]
    assert table[1]["names"] == "Alan Turing; Grace Hopper"
    assert table[1]["sids"] == "1002; 1003"
    scores = {r["submission"]: float(r["score"]) for r in table}
    assert scores["submission_1001"] == 10
    assert scores["submission_1003"] == scores["submission_1004"] == 0  # broken, hanging
    assert scores["submission_1005"] == 0 and table[4]["grader_fault"] == "no"  # a crash
    assert "vmap_over_batch: wrong-axis-order" in table[1]["pitfalls"]
    problems = load_problems(problems_dir)
    folder = output / "export" / "assignment_42_export"
    for row in table:
        results = json.loads((output / "submissions" / row["submission"] / "results.json")
                             .read_text())
        validate_results(results)
        assert float(row["vmap_over_batch"]) == results["score"]
        if row["submission"] == "submission_1004":
            continue  # the hang: same outcome, but twice the time limits again
        alone = build_results(grade(folder / row["submission"], problems, GradeOptions(
            cache_dir=cache_dir, compile_cache=cache_dir.parent / "jax")))
        assert outcome(alone) == outcome(results), row["submission"]
    hung = json.loads((output / "submissions" / "submission_1004" / "results.json").read_text())
    assert {"pitfall:timeout"} <= {tag for t in hung["tests"] for tag in t["tags"]}
    summary = json.loads((output / "summary.json").read_text())
    assert summary["submissions"] == 5 and summary["full_marks"] == 1
    assert summary["mean"] == pytest.approx(np.mean(list(scores.values())), abs=0.01)
    assert "5 submissions: mean" in out


@pytest.mark.worker
def test_a_rerun_resumes_and_a_changed_problem_regrades(
        local_run: tuple[Path, str], export_zip: Path, problems_dir: Path,
        cache_dir: Path, tmp_path: Path) -> None:
    output, _ = local_run
    before = {p: p.stat().st_mtime_ns for p in (output / "submissions").glob("*/results.json")}
    status, out = regrade(str(export_zip), "--problems", str(problems_dir), "--output",
                          str(output), cache=cache_dir)
    assert status == ExitStatus.SUCCESS
    assert "0 submission(s) to grade, 5 already graded (resumed)" in out
    assert before == {p: p.stat().st_mtime_ns
                      for p in (output / "submissions").glob("*/results.json")}
    changed = shutil.copytree(problems_dir, tmp_path / "problems")
    spec = changed / "vmap_over_batch" / "problem.yaml"
    spec.write_text(spec.read_text() + "\n# fixed mid-semester\n")
    submissions = read_export(export_zip, tmp_path / "scratch")
    digest = problems_digest(changed)
    assert digest != problems_digest(problems_dir)
    assert not any(done(output, s, digest) for s in submissions)
    assert all(done(output, s, problems_digest(problems_dir)) for s in submissions)


@pytest.mark.worker
def test_an_interrupted_regrade_resumes_where_it_stopped(
        export_zip: Path, problems_dir: Path, cache_dir: Path, tmp_path: Path) -> None:
    output = tmp_path / "out"
    command = [sys.executable, "-m", "autograder", "regrade", str(export_zip), "--problems",
               str(problems_dir), "--output", str(output), "--cache", str(cache_dir)]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while not list((output / "submissions").glob("*/regrade.json")):
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    stdout, _ = process.communicate(timeout=120)
    assert process.returncode == ExitStatus.INTERRUPTED, stdout
    assert "run the same command to grade the rest" in " ".join(stdout.split())
    graded = len(list((output / "submissions").glob("*/regrade.json")))
    assert 1 <= graded < 5
    status, out = regrade(str(export_zip), "--problems", str(problems_dir), "--output",
                          str(output), cache=cache_dir)
    assert status == ExitStatus.SUCCESS
    assert f"{5 - graded} submission(s) to grade, {graded} already graded (resumed)" in out
    assert len(rows(output / "grades.csv")) == 5


@pytest.mark.worker
def test_the_dask_path_gives_identical_results(
        local_run: tuple[Path, str], export_zip: Path, problems_dir: Path, cache_dir: Path,
        tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    output = tmp_path / "dask"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        status, out = regrade(str(export_zip), "--problems", str(problems_dir), "--output",
                              str(output), "--scheduler", cluster.scheduler_address,
                              cache=cache_dir)
    assert status == ExitStatus.SUCCESS, out
    assert f"Graded 5 submission(s) on {cluster.scheduler_address}" in out
    local, _ = local_run
    assert rows(output / "grades.csv") == rows(local / "grades.csv")
    for path in sorted((local / "submissions").glob("*/results.json")):
        theirs = output / "submissions" / path.parent.name / "results.json"
        assert outcome(json.loads(theirs.read_text())) == outcome(json.loads(path.read_text()))
        # The unexplained answers come back from the cluster's workers as plain arrays too.
        ours, kept = answers.load(path.parent), answers.load(theirs.parent)
        assert ours is not None and kept is not None and ours == kept
        for mine, other in zip(ours, kept, strict=True):
            assert (mine.output is None) == (other.output is None)
            if mine.output is not None:
                np.testing.assert_array_equal(mine.output, other.output)


@pytest.mark.worker
def test_the_report_renders_in_a_real_headless_browser(local_run: tuple[Path, str],
                                                       tmp_path: Path) -> None:
    browser = chromium()
    output, _ = local_run
    status = main(["report", str(output), "--output", str(tmp_path / "report.html"),
                   "--problems", str(PROBLEMS)], env={},
                  console=Console(file=io.StringIO()))
    assert status == ExitStatus.SUCCESS
    page = (tmp_path / "report.html").read_text()
    assert "http://" not in page and "https://" not in page  # self-contained
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--window-size=1200,1800"]
    dom = subprocess.run([browser, *flags, "--dump-dom", f"file://{tmp_path / 'report.html'}"],
                         capture_output=True, text=True, timeout=120)
    assert "<b>5</b>submissions" in dom.stdout
    assert "vmap_over_batch: wrong-axis-order" in dom.stdout
    assert dom.stdout.count("data:image/png;base64,") == 3
    shot = tmp_path / "report.png"
    subprocess.run([browser, *flags, f"--screenshot={shot}", f"file://{tmp_path / 'report.html'}"],
                   capture_output=True, timeout=120, check=True)
    from matplotlib.image import imread

    pixels = imread(shot)
    assert pixels.shape[:2] == (1800, 1200)
    assert pixels.std() > 0.05  # text and charts, not a blank page
    if os.environ.get("AUTOGRADER_SCREENSHOT_DIR"):  # to look at it
        shutil.copy(shot, Path(os.environ["AUTOGRADER_SCREENSHOT_DIR"]) / "report.png")


def _as_student(*argv: str) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` as the student user (the identity student code has while grading)."""
    user = ensure_student_user()
    return subprocess.run(argv, user=user.uid, group=user.gid, extra_groups=[],
                          capture_output=True, text=True, check=False)


@pytest.mark.worker
def test_class_data_is_the_tas_alone(local_run: tuple[Path, str]) -> None:
    output, _ = local_run
    assert output.stat().st_mode & 0o777 == 0o700
    shared = [p for p in [output, *output.rglob("*")] if p.stat().st_mode & 0o077]
    assert not shared, [(str(p), oct(p.stat().st_mode)) for p in shared[:5]]
    if os.geteuid() != 0:
        pytest.skip("needs root to act as the student user")
    csv_file = output / "grades.csv"
    source = next((output / "export").rglob("*.py"))
    graded = output / "submissions" / "submission_1002"
    for path in (csv_file, source, output / "summary.json", graded / "results.json",
                 graded / "outputs.npz", graded / "index.html"):
        read = _as_student("cat", str(path))
        assert read.returncode != 0 and "Permission denied" in read.stderr, path
    listed = _as_student("ls", str(output))
    assert listed.returncode != 0 and "Permission denied" in listed.stderr


def test_ids_must_be_one_safe_path_component(tmp_path: Path) -> None:
    export = tmp_path / "export"
    (export / "submission_1").mkdir(parents=True)
    (export / "submission_1" / "solution.py").write_text("x = 1\n")
    target = tmp_path / "elsewhere"
    target.mkdir()
    (export / METADATA_FILE).write_text(
        f"submission_1:\n  :submitters: [{{':name': Ada}}]\n{target}:\n  :submitters: []\n")
    with pytest.raises(ExportError) as info:
        read_export(export, tmp_path)
    assert str(info.value) == (
        f"{export / METADATA_FILE}: 1 submission folder name(s) are not one safe path component "
        f"('{target}'); an id is letters, digits, '.', '_' and '-', as Gradescope writes them "
        "(submission_123456). Refusing the export")
    (export / METADATA_FILE).write_text("../submission_1:\n  :submitters: []\n")
    with pytest.raises(ExportError, match=re.escape("('../submission_1')")):
        read_export(export, tmp_path)
    # A plain folder export: a link to a folder elsewhere is not a submission.
    plain = tmp_path / "plain"
    (plain / "alice").mkdir(parents=True)
    (plain / "mallory").symlink_to(target)
    assert [s.id for s in read_export(plain, tmp_path)] == ["alice"]


def test_extraction_is_bounded(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("submission_1/zeros.bin", b"\0" * (8 * 2**20))
    with pytest.raises(ExportError) as info:
        read_export(bomb, tmp_path / "a")
    assert "entry 'submission_1/zeros.bin' unpacks to 8 MB from" in str(info.value)
    assert "(more than 200 times: a zip bomb?); refusing the export" in str(info.value)
    assert not any((tmp_path / "a").rglob("zeros.bin"))  # checked before anything is written
    small = Limits(total_bytes=3000, file_bytes=2000, files=3, ratio=200.0, ratio_from=2**20)
    big = tmp_path / "big.zip"
    with zipfile.ZipFile(big, "w") as archive:
        archive.writestr("submission_1/data.bin", b"x" * 2500)
    with pytest.raises(ExportError, match="unpacks to 2,500 bytes, more than the 2,000 bytes "
                                          "a file of an export may have"):
        read_export(big, tmp_path / "b", small)
    many = tmp_path / "many.zip"
    with zipfile.ZipFile(many, "w") as archive:
        for i in range(4):
            archive.writestr(f"submission_{i}/solution.py", "x = 1\n")
    with pytest.raises(ExportError, match="holds 4 entries, more than the 3 an export may "
                                          "have"):
        read_export(many, tmp_path / "c", small)
    total = tmp_path / "total.zip"
    with zipfile.ZipFile(total, "w") as archive:
        for i in range(2):
            archive.writestr(f"submission_{i}/data.bin", b"y" * 1800)
    with pytest.raises(ExportError, match="passes the 2,000 bytes an export may unpack to"):
        read_export(total, tmp_path / "d", small)
    # Within the limits, everything is there.
    assert [s.id for s in read_export(many, tmp_path / "e", Limits(files=10))] == [
        f"submission_{i}" for i in range(4)]


def test_the_class_table_never_runs_a_students_text_as_a_formula() -> None:
    assert cell("=HYPERLINK(\"http://evil\", \"x\")") == "'=HYPERLINK(\"http://evil\", \"x\")"
    for risky in ("+1", "-1+2", "@SUM(A1)", "\tx", "\rx"):
        assert cell(risky) == "'" + risky
    assert cell("Ada Lovelace") == "Ada Lovelace"
    assert cell(None) == ""


ATTACK = """
import glob, os, signal, time

from flax import nnx

REPORT = {"seen": 0, "cmdlines": 0, "signalled": 0, "read": 0, "written": 0, "found": 0,
          "planted": 0, "forked": 0, "refused": 0}
ME = os.getuid()


def _owner(pid):
    with open(f"/proc/{pid}/status") as handle:
        return next(int(line.split()[1]) for line in handle if line.startswith("Uid:"))


def _attack():
    visible = set()
    for entry in os.listdir("/proc"):  # others' processes, the grader's command line
        if entry.isdigit():
            visible.add(int(entry))
            try:
                if _owner(entry) != ME:
                    REPORT["seen"] += 1
                    with open(f"/proc/{entry}/cmdline", "rb") as handle:
                        handle.read()
                    REPORT["cmdlines"] += 1
            except (OSError, StopIteration):
                pass
    for pid in range(2, 1 << 16):  # signals to processes it cannot see
        if pid not in visible:
            try:
                if os.path.exists(f"/proc/{pid}") and _owner(pid) == ME:
                    continue  # a thread of its own
                os.kill(pid, signal.SIGKILL)  # what it may signal: its own user's
                REPORT["signalled"] += 1
            except OSError:
                pass
    for path in glob.glob("/tmp/autograder-*/submission/*.py"):  # the staged copies
        try:
            with open(path) as handle:
                if "REPORT = " in handle.read():
                    continue  # its own staged copy, which it may read
            REPORT["read"] += 1
            with open(path, "w") as handle:
                handle.write("raise RuntimeError('overwritten')\\n")
            REPORT["written"] += 1
        except OSError:
            pass
    for folder in ("/tmp", "/var/tmp", "/dev/shm"):
        mine = f"{folder}/planted-{os.getpid()}"
        REPORT["found"] += len([p for p in glob.glob(f"{folder}/planted-*") if p != mine
                                and os.stat(p).st_uid != ME])
        try:
            with open(mine, "w") as handle:
                handle.write("left behind")
            os.chmod(mine, 0o666)
            REPORT["planted"] += 1
        except OSError:
            pass


def _fork_bomb(deadline):
    # Spawned, not forked: forking a process that has JAX loaded takes milliseconds each. The
    # children outlive the call, so the bomb goes on where it stopped in the next call.
    try:
        while REPORT["forked"] < 5000 and time.monotonic() < deadline:
            os.posix_spawn("/bin/sleep", ["sleep", "60"], {})
            REPORT["forked"] += 1
    except OSError:
        REPORT["refused"] = 1  # the process budget: its own user's, not the machine's


def vmap_over_batch(seed, x_batch, features):  # within the 2 s a call may take
    end = time.monotonic() + 1.0
    _attack()
    print("attack:", REPORT)  # after every pass: a call stopped at its time limit says too
    if not REPORT["refused"]:
        _fork_bomb(end)
        print("attack:", REPORT)
    while time.monotonic() < end:
        time.sleep(0.05)
        _attack()
        print("attack:", REPORT)
    return x_batch.reshape(-1)
"""


@pytest.mark.worker
@pytest.mark.parametrize("where", ["jobs", "dask"])
def test_gradings_side_by_side_cannot_reach_each_other(
        where: str, problems_dir: Path, cache_dir: Path, tmp_path: Path) -> None:
    """A two-job regrade (or one Dask worker with two threads) in which two submissions
    attack the others (signals, /proc, their staged files, shared /tmp, a fork bomb): the
    others keep their exact scores, and the attackers reach nothing."""
    if os.geteuid() != 0:
        pytest.skip("needs root: gradings side by side run as student users of their own")
    export = tmp_path / "class"
    correct = (EXAMPLES / "correct" / "solution.py").read_text()
    attackers = ("submission_1", "submission_3")
    for name in ("submission_1", "submission_2", "submission_3", "submission_4"):
        (export / name).mkdir(parents=True)
        (export / name / "solution.py").write_text(ATTACK if name in attackers else correct)
    output = tmp_path / "out"
    argv = ["--problems", str(problems_dir), "--output", str(output)]
    if where == "jobs":
        status, out = regrade(str(export), *argv, "--jobs", "2", cache=cache_dir)
    else:
        distributed = pytest.importorskip("distributed")
        with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=True,
                                      host="127.0.0.1", dashboard_address=None) as cluster:
            status, out = regrade(str(export), *argv, "--scheduler",
                                  cluster.scheduler_address, cache=cache_dir)
    assert status == ExitStatus.SUCCESS, out
    scores = {r["submission"]: (float(r["score"]), r["grader_fault"])
              for r in rows(output / "grades.csv")}
    assert scores == {"submission_1": (0.0, "no"), "submission_2": (10.0, "no"),
                      "submission_3": (0.0, "no"), "submission_4": (10.0, "no")}
    for attacker in attackers:
        results = json.loads((output / "submissions" / attacker / "results.json").read_text())
        said = "\n".join(t.get("output", "") for t in results["tests"])
        reports = re.findall(r"attack: (\{.*?\})", said)
        assert reports, said  # it ran, beside the others
        found = [ast.literal_eval(report) for report in reports]
        for report in found:
            assert {k: v for k, v in report.items()
                    if k not in ("planted", "forked", "refused", "signalled")} == {
                "seen": 0, "cmdlines": 0, "read": 0, "written": 0, "found": 0}, report
        assert max(r["planted"] for r in found) >= 3, found
        assert max(r["refused"] for r in found) == 1, found  # it used up its process budget
    from tests.support import student_processes, student_uids

    uids = student_uids()
    left = [str(p) for top in ("/tmp", "/var/tmp", "/dev/shm") for p in Path(top).glob("planted-*")
            if p.lstat().st_uid in uids]
    assert not left, left
    assert not student_processes()  # the bombs' children, sleeping for a minute, were ended
