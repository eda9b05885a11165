"""``autograder regrade EXPORT``: grade a whole class again, here or on a Dask cluster.

The submissions come from an export (:mod:`.export`). Each is graded by the same engine as
on Gradescope, in its own isolated workers, and gets its own ``results.json``; the class gets
a CSV (:mod:`.gradebook`), a summary and the analytics report.

The output folder is the state of the batch: a submission whose results are there, graded
against the same problems (by a digest of the problems folders), is not graded again, so an
interrupted regrade resumes where it stopped, and a regrade after fixing a spec regrades
everything. Results are written atomically, one by one, as gradings finish, each with the
answers no known mistake explains (``outputs.npz``, :mod:`.answers`), which the report
groups across the class.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import os
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder.errors import GraderError
from autograder.files import PRIVATE, folder_digest
from autograder.gradescope.results import build_results, failure_results, write_results
from autograder.grading.cache import compile_cache_beside
from autograder.grading.engine import GradeOptions, grade
from autograder.grading.references import warm_cache
from autograder.sandbox import WorkerSession, isolation
from autograder.spec import LoadedProblem, discover_problems
from autograder.spec.assignment import assignment_folders, read_assignment, select_problems
from autograder.staff import answers
from autograder.staff.export import ExportedSubmission
from autograder.staff.gradebook import RECORD, RESULTS

#: The student user's processes and threads for one grading (``GradeOptions``' default).
PROCESSES = 512


def problems_digest(problems_dir: Path, assignment: Path | None = None) -> str:
    """What the grades depend on in the problems folder (specs, references, mistakes files,
    checks: of ``assignment``'s problems only when given, and the assignment file itself,
    which sets their points): a submission graded against another digest is graded again."""
    if assignment is None:
        return folder_digest(discover_problems(problems_dir), problems_dir)
    folders = assignment_folders(read_assignment(assignment), problems_dir)
    digest = hashlib.sha256(folder_digest(folders, problems_dir).encode())
    digest.update(assignment.read_bytes())
    return digest.hexdigest()


# -- grading one submission (also what a Dask worker runs) ---------------------------------

_PROBLEMS: dict[tuple[str, str | None], list[LoadedProblem]] = {}
_LOCK = threading.Lock()
#: One worker template per grading thread, kept across its submissions: JAX is imported
#: once per thread, not once per submission. A template never runs student code, and each
#: worker it forks starts from its pristine state, so submissions share nothing through it.
_SESSIONS = threading.local()


def _session() -> WorkerSession:
    session: WorkerSession | None = getattr(_SESSIONS, "session", None)
    if session is None:
        session = _SESSIONS.session = WorkerSession()
    return session


@dataclass(frozen=True)
class Settings:
    """How each submission is graded (plain data: it travels to Dask workers)."""

    cache_dir: str | None = None
    compile_cache: str | None = None
    memory_limit: int | None = None
    time_budget: float | None = 540.0
    isolate: bool | None = None
    #: The student user's process limit: one grading's, as each grading side by side
    #: runs student code as a user of its own (the kernel counts processes per user).
    process_limit: int = PROCESSES
    #: The assignment whose problems are graded (an absolute path); None: all of them.
    assignment: str | None = None

    @classmethod
    def for_local(cls, jobs: int, cache: Path, time_budget: float,
                  assignment: Path | None = None) -> Settings:
        """``jobs`` gradings side by side on this machine: each worker gets its share of
        the memory; each grading's student user has a process budget of its own."""
        return cls._for(cache, time_budget, isolation.default_memory_limit(jobs), assignment)

    @classmethod
    def for_cluster(cls, jobs: int, cache: Path, time_budget: float,
                    assignment: Path | None = None) -> Settings:
        """Gradings on Dask workers: the memory of one grading at a time (``jobs`` is the
        cluster's business there, not a share of this machine)."""
        return cls._for(cache, time_budget, isolation.default_memory_limit(1), assignment)

    @classmethod
    def _for(cls, cache: Path, time_budget: float, memory: int,
             assignment: Path | None) -> Settings:
        return cls(cache_dir=str(cache), compile_cache=str(compile_cache_beside(cache)),
                   memory_limit=memory, time_budget=time_budget, process_limit=PROCESSES,
                   assignment=None if assignment is None else str(assignment.resolve()))

    def options(self) -> GradeOptions:
        return GradeOptions(
            cache_dir=Path(self.cache_dir) if self.cache_dir else None,
            compile_cache=Path(self.compile_cache) if self.compile_cache else None,
            memory_limit=self.memory_limit, time_budget=self.time_budget, isolate=self.isolate,
            process_limit=self.process_limit)


def grade_one(submission: str, problems_dir: str, settings: Settings) -> dict[str, Any]:
    """Grade one submission folder; plain data in and out, so it can run anywhere.

    Never raises: a grader fault becomes failure results (the batch goes on). Beside the
    results, the answers of the cases no declared mistake explains (:mod:`.answers`, as
    records with numpy arrays)."""
    start = time.monotonic()
    kept: list[dict[str, Any]] = []
    try:
        with _LOCK:
            key = (problems_dir, settings.assignment)
            if key not in _PROBLEMS:
                _PROBLEMS[key] = select_problems(problems_dir, settings.assignment)
            problems = _PROBLEMS[key]
        report = grade(submission, problems, settings.options(), session=_session())
        results = build_results(report)
        fault = report.fault is not None
        kept = answers.to_plain(answers.unexplained(report))
    except Exception:
        results = failure_results(traceback.format_exc())
        fault = True
    return {"results": results, "seconds": time.monotonic() - start, "fault": fault,
            "host": os.uname().nodename, "answers": kept}


# -- the batch ---------------------------------------------------------------------------------


def private_folder(output: Path) -> None:
    """The regrade's output folder, created or tightened to its owner alone (0700): it holds
    the class's names, sources and grades, and a student process that learns its path (from
    the grader's command line in /proc, say) must not be able to list or read it."""
    output.mkdir(parents=True, exist_ok=True)
    output.chmod(0o700)


@dataclass(frozen=True)
class Outcome:
    submission: ExportedSubmission
    results: dict[str, Any]
    seconds: float
    fault: bool
    answers: tuple[answers.Answer, ...] = ()

    @classmethod
    def of(cls, submission: ExportedSubmission, data: Mapping[str, Any]) -> Outcome:
        """From what :func:`grade_one` returned."""
        return cls(submission, data["results"], data["seconds"], data["fault"],
                   answers.from_plain(data.get("answers", [])))


def done(output: Path, submission: ExportedSubmission, digest: str) -> bool:
    """Whether ``submission`` has results graded against these problems (and its answers:
    one graded before they were kept is graded again)."""
    folder = output / "submissions" / submission.id
    try:
        record = json.loads((folder / RECORD).read_text(encoding="utf-8"))
        json.loads((folder / RESULTS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not (folder / answers.ANSWERS).is_file():
        return False
    return isinstance(record, dict) and record.get("problems_digest") == digest


def _save(output: Path, outcome: Outcome, digest: str) -> None:
    folder = output / "submissions" / outcome.submission.id
    write_results(folder / RESULTS, outcome.results, PRIVATE)
    answers.save(folder, outcome.answers)
    record = {"submission": outcome.submission.id, "problems_digest": digest,
              "seconds": round(outcome.seconds, 3), "fault": outcome.fault,
              "submitters": [vars(s) for s in outcome.submission.submitters],
              "path": str(outcome.submission.path.resolve())}
    write_results(folder / RECORD, record, PRIVATE)


Runner = Callable[[Sequence[ExportedSubmission], Callable[[Outcome], None], threading.Event],
                  None]


def local_runner(jobs: int, problems_dir: Path, settings: Settings) -> Runner:
    """Grade ``jobs`` submissions at a time in this process (each in its own workers)."""

    def run(todo: Sequence[ExportedSubmission], finished: Callable[[Outcome], None],
            stop: threading.Event) -> None:
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=jobs,
                                                     thread_name_prefix="regrade")
        futures = {pool.submit(grade_one, str(s.path), str(problems_dir), settings): s
                   for s in todo}
        reported: set[concurrent.futures.Future[dict[str, Any]]] = set()

        def report(future: concurrent.futures.Future[dict[str, Any]]) -> None:
            reported.add(future)
            finished(Outcome.of(futures[future], future.result()))

        try:
            for future in concurrent.futures.as_completed(futures):
                report(future)
        except KeyboardInterrupt:
            stop.set()
            pool.shutdown(wait=True, cancel_futures=True)  # the running ones finish
            for future in futures:
                if future.done() and not future.cancelled() and future not in reported:
                    report(future)
            raise
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    return run


def dask_runner(address: str, problems_dir: Path, settings: Settings) -> Runner:
    """The same work on a Dask distributed cluster (paths must be visible to its workers)."""
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise GraderError("--scheduler needs Dask: pip install "
                          "'flax-lift-autograder[ta]'") from None

    def run(todo: Sequence[ExportedSubmission], finished: Callable[[Outcome], None],
            stop: threading.Event) -> None:
        with Client(address, timeout="30s") as client:  # type: ignore[no-untyped-call]
            futures = {client.submit(grade_one, str(s.path.resolve()),
                                     str(problems_dir.resolve()), settings,
                                     key=f"grade-{i}-{s.id}", pure=False): s
                       for i, s in enumerate(todo)}
            try:
                for future in as_completed(list(futures)):  # type: ignore[no-untyped-call]
                    finished(Outcome.of(futures[future], future.result()))
            except KeyboardInterrupt:
                stop.set()
                client.cancel([f for f in futures if not f.done()])
                raise

    return run


def runner_for(problems_dir: Path, settings: Settings, jobs: int,
               scheduler: str | None = None) -> Runner:
    """On the Dask cluster at ``scheduler`` when given, else ``jobs`` at a time here."""
    if scheduler:
        return dask_runner(scheduler, problems_dir, settings)
    return local_runner(jobs, problems_dir, settings)


def warm_for(submissions: Sequence[ExportedSubmission], output: Path,
             problems: Sequence[LoadedProblem], digest: str, cache: Path,
             grader_env: Mapping[str, str], force: bool = False,
             on_start: Callable[[int], None] = lambda _: None,
             on_problem: Callable[[str], None] = lambda _: None) -> None:
    """Compute the references' outputs and compiled programs once for the batch (as
    ``setup.sh`` does on Gradescope), unless nothing is left to grade against ``digest``
    (:func:`problems_digest`): a correct submission's programs are then cache reads.
    ``on_start(problems)`` is called before, when there is something to warm, and
    ``on_problem(id)`` as each problem's are ready."""
    if force or not all(done(output, s, digest) for s in submissions):
        on_start(len(problems))
        warm_cache(problems, cache, grader_env, compile_cache_beside(cache), on_problem)


def regrade(submissions: Sequence[ExportedSubmission], output: Path, digest: str,
            runner: Runner, force: bool = False,
            progress: Callable[[Outcome], None] = lambda _: None,
            on_start: Callable[[int, int], None] = lambda *_: None) -> list[Outcome]:
    """Grade what is not done yet against ``digest`` (:func:`problems_digest`; everything
    with ``force``); the outcomes graded now.

    Ctrl-C (KeyboardInterrupt) stops taking new submissions, keeps the finished ones, and
    propagates."""
    private_folder(output)
    todo = [s for s in submissions if force or not done(output, s, digest)]
    on_start(len(todo), len(submissions) - len(todo))
    graded: list[Outcome] = []

    def finished(outcome: Outcome) -> None:
        _save(output, outcome, digest)
        graded.append(outcome)
        progress(outcome)

    if todo:
        runner(todo, finished, threading.Event())
    return graded
