"""The grading engine: one code path behind every front door (Gradescope, student, TA).

For each problem: find the student's function, compute the expected outputs with the
reference (in a trusted worker), call the student's function on every case in a student
worker, compare, and score. Student mistakes become :class:`~autograder.feedback.Feedback`
values on the cases they affect; only grader faults raise.
"""

from __future__ import annotations

import os
import tempfile
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from autograder.errors import GraderError, WorkerError
from autograder.grading import feedback
from autograder.grading.cache import ExpectedCache, fingerprint
from autograder.grading.compare import compare
from autograder.grading.diagnose import (
    REFERENCE,
    CaseRun,
    Diagnoser,
    Source,
    check_structure,
    source_of,
)
from autograder.grading.feedback import Feedback
from autograder.grading.submission import SourceFile, Submission, scan_submission, stage
from autograder.protocol import wire as protocol
from autograder.sandbox.isolation import (
    choose,
    default_memory_limit,
    let_in,
    protect,
    share_read_only,
)
from autograder.sandbox.process import (
    Failure,
    Limits,
    Reply,
    Template,
    WorkerProcess,
    WorkerSpec,
    forking_supported,
    worker_environment,
)
from autograder.spec import LoadedProblem
from autograder.spec.inputs import case_arguments, describe_call, materialize


@dataclass(frozen=True)
class GradeOptions:
    visible_only: bool = False
    #: Where expected outputs are cached; None computes them on every run.
    cache_dir: Path | None = None
    #: JAX's persistent compilation cache, warmed with the references (``autograder warm``);
    #: student workers read it and never write it. None: no compilation cache.
    compile_cache: Path | None = None
    grader_env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    #: After this many time-outs on one problem, its remaining cases are not attempted.
    max_timeouts: int = 2
    #: Run student code as a dedicated user: None decides (yes when root), False never.
    isolate: bool | None = None
    #: Resident memory allowed to a student worker; None derives it from the container.
    memory_limit: int | None = None
    #: Let student code reach the network (blocked by default).
    allow_network: bool = False
    #: Seconds for the whole grading, kept below the platform's limit; None is unlimited.
    time_budget: float | None = None
    #: Processes and threads of the student user (the kernel counts them per user, so
    #: gradings running side by side share it: a regrade with N jobs gives N times this).
    process_limit: int = 512


@dataclass(frozen=True)
class CaseResult:
    index: int
    label: str
    visibility: str
    call: str
    max_points: float
    feedback: Feedback | None = None  # None: passed
    seconds: float | None = None
    #: Share of the points kept although the case failed (a mistake declared with credit).
    credit: float = 0.0
    #: What the student's code printed during this case (shown only in this case's test,
    #: so a hidden case's inputs cannot leak into a visible test).
    printed: str = ""
    #: The array the student's function returned, when it returned one (for TA tools).
    output: np.ndarray | None = field(default=None, repr=False, compare=False)
    #: A custom check's own Gradescope number and tags.
    number: str | None = None
    tags: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return self.feedback is None

    @property
    def points(self) -> float:
        return self.max_points if self.passed else self.max_points * self.credit


@dataclass(frozen=True)
class ProblemResult:
    problem: LoadedProblem
    cases: tuple[CaseResult, ...]
    #: What the student's code printed when its file was imported (no case inputs in it).
    printed_at_import: str = ""
    notes: tuple[str, ...] = ()
    #: The student worker's ``ready`` message: versions and backend it ran on.
    environment: Mapping[str, Any] = field(default_factory=dict)
    #: The structure test (the lifted transforms applied), when the spec declares one.
    structure: CaseResult | None = None
    #: The custom checks' tests, when the spec names a checks file.
    checks: tuple[CaseResult, ...] = ()

    @property
    def printed(self) -> str:
        """Everything the student's code printed, import first (for TAs and tests)."""
        return "\n".join(t for t in (self.printed_at_import, *(c.printed for c in self.cases))
                         if t)

    @property
    def tests(self) -> tuple[CaseResult, ...]:
        """Every Gradescope test of the problem: the cases, the structure test, the checks."""
        return (self.cases + ((self.structure,) if self.structure is not None else ())
                + self.checks)

    @property
    def points(self) -> float:
        return sum(c.points for c in self.tests)

    @property
    def max_points(self) -> float:
        return sum(c.max_points for c in self.tests)


@dataclass(frozen=True)
class Report:
    problems: tuple[ProblemResult, ...]
    environment: Mapping[str, Any]
    seconds: float
    #: The traceback of a grader fault that stopped grading early (problems graded before
    #: it are in ``problems``), or None.
    fault: str | None = None

    @property
    def points(self) -> float:
        return sum(p.points for p in self.problems)

    @property
    def max_points(self) -> float:
        return sum(p.max_points for p in self.problems)


class BudgetExceeded(GraderError):
    """The overall time budget ran out before every problem was graded."""

    def __init__(self, deadline: float) -> None:
        super().__init__("the overall time budget ran out before every problem was graded "
                         f"({time.monotonic() - deadline:+.0f} s past it); the problems "
                         "graded before are kept")


class ReferenceSource(Protocol):
    """Where the outputs of trusted code come from: :class:`References` (computed by the
    reference in a trusted worker, or cached) or the student kit's shipped data."""

    @property
    def info(self) -> Mapping[str, Any]: ...

    def expected(self, problem: LoadedProblem) -> dict[int, np.ndarray]: ...

    def outputs(self, problem: LoadedProblem,
                source: Source) -> Mapping[int, np.ndarray | None]: ...

    def release(self) -> None: ...


class References:
    """Outputs of trusted code (the reference and the mistake variants) on a problem's cases:
    from the cache, or computed in a trusted worker that is started only when needed."""

    def __init__(self, spec: WorkerSpec, cache: ExpectedCache, refresh: bool = False,
                 template: Template | None = None) -> None:
        self._spec = spec
        self._cache = cache
        self._refresh = refresh  # compute even what the cache has (to warm JAX's cache too)
        self._template = template
        self._worker: WorkerProcess | None = None
        self._info: Mapping[str, Any] = {}
        self._memo: dict[tuple[Path, Source], dict[int, np.ndarray | None]] = {}

    def __enter__(self) -> References:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    def release(self) -> None:
        """Stop the trusted worker (a later request starts a new one)."""
        if self._worker is not None:
            self._info = self._worker.info
            self._worker.stop()
            self._worker = None

    @property
    def info(self) -> Mapping[str, Any]:
        return self._worker.info if self._worker is not None else self._info

    def expected(self, problem: LoadedProblem) -> dict[int, np.ndarray]:
        """The reference output of every case of ``problem``."""
        outputs = self.outputs(problem, REFERENCE)
        return {i: a for i, a in outputs.items() if a is not None}

    def outputs(self, problem: LoadedProblem, source: Source) -> dict[int, np.ndarray | None]:
        """The outputs of ``source`` on every case (None where a variant raised)."""
        memo_key = (problem.directory, source)
        if memo_key in self._memo:
            return self._memo[memo_key]
        key = fingerprint(problem, self._spec.env)
        outputs = None if self._refresh else self._cache.load(problem, key, source.slug)
        if outputs is None:
            outputs = self._compute(problem, source)
            self._cache.store(problem, key, outputs, source.slug)
        self._memo[memo_key] = outputs
        return outputs

    def _ask(self, problem: LoadedProblem, message: dict[str, Any], what: str,
             allow_error: bool = False) -> dict[str, Any] | None:
        assert self._worker is not None
        reply = self._worker.request(message, timeout=problem.spec.time_limit * 4)
        if isinstance(reply, dict) and (reply.get("ok") or (allow_error and
                                        reply.get("error", {}).get("kind") == "runtime-error")):
            return reply if reply.get("ok") else None
        printed = self._worker.capture.text()
        self._worker.stop()
        self._worker = None
        raise WorkerError(f"{what} of {problem.id} failed: {_explain(reply)}\n{printed}")

    def _compute(self, problem: LoadedProblem, source: Source) -> dict[int, np.ndarray | None]:
        if self._worker is None:
            self._worker = WorkerProcess(self._spec, self._template)
            ready = self._worker.start()
            if isinstance(ready, Failure):
                raise WorkerError(f"the reference worker did not start: {_explain(ready)}\n"
                                  f"{self._worker.capture.text()}")
        is_variant = source.kind == "variant"
        path = (problem.variants_path if is_variant else problem.reference_path).resolve()
        function = source.name if is_variant else problem.spec.function
        what = f"the variant {source.name!r}" if is_variant else "the reference"
        self._ask(problem, {"op": "load", "function": function, "file": str(path),
                            "root": str(path.parent)}, what)
        params = {p.name: p for p in problem.spec.parameters}
        out: dict[int, np.ndarray | None] = {}
        for index in range(len(problem.spec.cases)):
            values = case_arguments(problem, index)
            for name, value in source.replacements().items():
                values[problem.spec.parameter_names.index(name)] = materialize(params[name],
                                                                               value)
            reply = self._ask(problem, {"op": "call", "function": function,
                                        "args": [protocol.encode_value(v) for v in values]},
                              f"{what} on case {index + 1}", allow_error=source != REFERENCE)
            if reply is not None and reply.get("output") is not None:
                out[index] = reply["output"]
            elif source == REFERENCE:
                raise WorkerError(f"the reference of {problem.id} returned "
                                  f"{reply and reply.get('returned')} on case {index + 1}, "
                                  f"not an array")
            else:
                out[index] = None
        return out


def _explain(reply: Reply) -> str:
    if isinstance(reply, Failure):
        return (f"{reply.kind} after {reply.seconds:.1f}s (exit code {reply.exit_code}) "
                f"{reply.detail}")
    error = reply.get("error", {})
    return f"{error.get('kind')}: {error.get('traceback') or error.get('message')}"


class _StudentFunction:
    """The student's function in a worker of its own: a fresh worker, forked from the
    grading's template, for each problem and again after any failure."""

    def __init__(self, problem: LoadedProblem, source: SourceFile, root: Path,
                 spec: WorkerSpec, template: Template | None) -> None:
        self.problem = problem
        self.source = source
        self.root = root
        self.spec = spec
        self.template = template
        self.worker: WorkerProcess | None = None
        self.printed: list[str] = []
        self.notes: list[str] = []
        self.info: Mapping[str, Any] = {}

    def load(self) -> Feedback | None:
        """Start a worker and import the function; the reason it failed, if it did.

        A first worker that does not start is the grader's fault. A *fresh* one that does
        not start after the student's code crashed or timed out is the student's: what it
        left behind (a fork bomb's processes, still counted against the student user's
        process limit until they are reaped) starves the new one. It is tried again after a
        pause, then reported on the remaining cases.
        """
        restart = self.worker is not None
        for attempt in range(3 if restart else 1):
            self.close()
            if attempt:
                time.sleep(2.0)
            worker = self.worker = WorkerProcess(self.spec, self.template)
            ready = worker.start()
            if not isinstance(ready, Failure):
                break
        if isinstance(ready, Failure):
            if restart:
                return feedback.no_fresh_worker(self.problem.spec.function)
            raise WorkerError(f"a student worker did not start: {_explain(ready)}\n"
                              f"{worker.capture.text()}")
        self.info = ready
        function = self.problem.spec.function
        limit = self.problem.spec.time_limit
        reply = worker.request({"op": "load", "function": function,
                                "file": str(self.source.path), "root": str(self.root),
                                "trace": True}, timeout=limit)
        if isinstance(reply, Failure):
            if reply.printed:
                self.printed.append(reply.printed)
            if reply.kind == "memory":
                return feedback.memory_limit(None, self.memory_limit)
            if reply.kind == "protocol":
                return feedback.protocol_violation(None, reply.detail)
            return (feedback.import_timeout(limit) if reply.kind == "timeout"
                    else feedback.import_crashed(reply.seconds, reply.signal_name))
        if reply.get("printed"):
            self.printed.append(str(reply["printed"]))
        for cell in reply.get("cell_errors", []):
            self.notes.append(f"Cell {cell['cell']} of `{self.source.relative}` raised "
                              f"`{cell['exc_type']}`: {cell['message']}")
        if reply.get("ok"):
            return None
        error = reply["error"]
        match error["kind"]:
            case "syntax-error":
                return feedback.syntax_error(error)
            case "import-error":
                return feedback.import_error(error)
            case "not-callable":
                return feedback.not_callable(function, error.get("found", "value"))
            case _:
                return feedback.missing_function(function, [self.source.relative])

    @property
    def memory_limit(self) -> int | None:
        return self.spec.limits.memory if self.spec.limits is not None else None

    def call(self, index: int, deadline: float) -> tuple[Reply, float]:
        assert self.worker is not None
        args = [protocol.encode_value(v) for v in case_arguments(self.problem, index)]
        start = time.monotonic()
        limit = self.problem.spec.time_limit_for(index)
        if deadline - start < limit:
            raise BudgetExceeded(deadline)
        reply = self.worker.request({"op": "call", "function": self.problem.spec.function,
                                     "args": args}, timeout=limit)
        return reply, time.monotonic() - start

    def close(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.worker = None


def _judge(problem: LoadedProblem, index: int, reply: Reply, expected: np.ndarray,
           memory_limit: int | None) -> CaseRun:
    """The generic verdict on one call, with the evidence the diagnosis needs."""
    function = problem.spec.function
    if isinstance(reply, Failure):
        if reply.kind == "timeout":
            failed = feedback.timeout(function, problem.spec.time_limit_for(index))
        elif reply.kind == "memory":
            failed = feedback.memory_limit(function, memory_limit)
        elif reply.kind == "protocol":
            failed = feedback.protocol_violation(function, reply.detail)
        else:
            failed = feedback.crashed(function, reply.seconds, reply.signal_name,
                                      reply.exit_code)
        return CaseRun(index, failed, printed=reply.printed)
    trace = tuple(reply.get("trace") or ())
    printed = str(reply.get("printed", ""))
    if not reply.get("ok"):
        error = reply["error"]
        if error["kind"] == "wrong-signature":
            return CaseRun(index, feedback.wrong_signature(function, problem.spec.parameter_names,
                                                           error))
        return CaseRun(index, feedback.runtime_error(function, error), error=error, trace=trace,
                       printed=printed)
    if reply.get("too_large"):
        return CaseRun(index, feedback.output_too_large(function, int(reply["too_large"])),
                       trace=trace, printed=printed)
    got = reply.get("output")  # decoded and checked at the boundary (protocol.check_reply)
    returned = str(reply.get("returned", "?"))
    mismatch = compare(got, returned, expected, problem.spec.tolerance_for(index),
                       problem.spec.returns.dtype)
    verdict = None if mismatch is None else Feedback.from_mismatch(mismatch)
    return CaseRun(index, verdict, got, returned, trace=trace, printed=printed)


def _grade_problem(problem: LoadedProblem, submission: Submission, references: ReferenceSource,
                   spec: WorkerSpec, options: GradeOptions, deadline: float,
                   template: Template | None) -> ProblemResult:
    indices = [i for i, case in enumerate(problem.spec.cases)
               if not options.visible_only or case.visibility == "visible"]

    def result(index: int, fb: Feedback | None, seconds: float | None = None,
               credit: float = 0.0, printed: str = "",
               output: np.ndarray | None = None) -> CaseResult:
        spec = problem.spec
        return CaseResult(index, spec.case_label(index), spec.cases[index].visibility,
                          describe_call(problem, index), spec.case_points(index), fb, seconds,
                          credit, printed, output)

    def structure_result(fb: Feedback | None) -> CaseResult | None:
        structure = problem.spec.structure
        if structure is None:
            return None
        return CaseResult(len(problem.spec.cases), "the lifted transforms",
                          structure.visibility, "", structure.points, fb)

    def failed_everywhere(fb: Feedback) -> ProblemResult:
        return ProblemResult(problem, tuple(result(i, fb) for i in indices),
                             structure=structure_result(fb),
                             checks=_checks_failed(problem, fb, options.visible_only))

    function = problem.spec.function
    if not submission.files:
        return failed_everywhere(feedback.no_python_files(function, submission.other_files))
    source = submission.locate(function)
    if source is not None and source.unusable:
        return failed_everywhere(feedback.unusable_file(function, source.relative,
                                                        source.error or "unreadable"))
    if source is None:
        return failed_everywhere(feedback.missing_function(
            function, [f.relative for f in submission.files], submission.near_names(function)))

    # Expected outputs first (from the cache, normally), and no trusted worker left running
    # beside the student's, so the student's memory limit can be most of the container's.
    expected = references.expected(problem)
    references.release()
    student = _StudentFunction(problem, source, submission.root, spec, template)
    runs: list[CaseRun] = []
    seconds: dict[int, float] = {}
    try:
        load_failure = first_failure = student.load()
        timeouts = 0
        for index in indices:
            if load_failure is not None:
                runs.append(CaseRun(index, load_failure))
                continue
            if timeouts >= options.max_timeouts:
                runs.append(CaseRun(index, feedback.skipped_after_timeouts(function, timeouts)))
                continue
            reply, seconds[index] = student.call(index, deadline)
            runs.append(_judge(problem, index, reply, expected[index], student.memory_limit))
            if isinstance(reply, Failure):
                timeouts += reply.kind == "timeout"
                load_failure = student.load()
        checks = (_run_checks(problem, student, load_failure, options.visible_only)
                  if problem.checks else ())
    finally:
        student.close()

    diagnoser = Diagnoser(problem, expected, references.outputs)
    cases = []
    for run in runs:
        explained, credit = diagnoser.explain(run)
        cases.append(result(run.index, explained, seconds.get(run.index), credit, run.printed,
                            run.got))
    structure = None
    if problem.spec.structure is not None:
        structure = structure_result(check_structure(problem, runs, first_failure))
    return ProblemResult(problem, tuple(cases), "\n".join(student.printed),
                         tuple(student.notes), student.info, structure, checks)


def _check_result(problem: LoadedProblem, k: int, fb: Feedback | None, credit: float = 0.0,
                  printed: str = "") -> CaseResult:
    check = problem.checks[k]
    return CaseResult(len(problem.spec.cases) + 1 + k, check.name, check.visibility, "",
                      check.weight, fb, None, credit, printed, number=check.number,
                      tags=check.tags)


def _checks_failed(problem: LoadedProblem, fb: Feedback,
                   visible_only: bool = False) -> tuple[CaseResult, ...]:
    return tuple(_check_result(problem, k, fb) for k, check in enumerate(problem.checks)
                 if not visible_only or check.visibility == "visible")


def _run_checks(problem: LoadedProblem, student: _StudentFunction,
                load_failure: Feedback | None, visible_only: bool) -> tuple[CaseResult, ...]:
    """The custom checks, run in the student's worker; every check gets a result."""
    if load_failure is not None or student.worker is None:
        return _checks_failed(problem, load_failure or feedback.check_not_run("no worker"),
                              visible_only)
    assert problem.spec.checks is not None
    source = (problem.directory / problem.spec.checks).read_text(encoding="utf-8")
    limit = problem.spec.time_limit * max(1, len(problem.checks))
    reply = student.worker.request({"op": "checks", "function": problem.spec.function,
                                    "source": source, "filename": problem.spec.checks},
                                   timeout=limit)
    if isinstance(reply, Failure):
        fb = (feedback.timeout(problem.spec.function, limit) if reply.kind == "timeout"
              else feedback.crashed(problem.spec.function, reply.seconds, reply.signal_name,
                                    reply.exit_code))
        return _checks_failed(problem, fb, visible_only)
    outcomes = {o["id"]: o for o in reply.get("checks", [])} if reply.get("ok") else {}
    everything = outcomes.get("*")
    results = []
    for k, check in enumerate(problem.checks):
        if visible_only and check.visibility != "visible":
            continue
        outcome = outcomes.get(check.id) or everything or {
            "status": "error", "message": "this check did not run"}
        score = outcome.get("score")
        credit = 1.0 if outcome["status"] == "passed" else 0.0
        if check.partial and isinstance(score, int | float) and check.weight > 0:
            credit = min(max(float(score) / check.weight, 0.0), 1.0)
        verdict = None if credit >= 1.0 else feedback.check_failed(check, outcome)
        results.append(_check_result(problem, k, verdict, credit if verdict else 0.0,
                                     str(outcome.get("printed", ""))))
    return tuple(results)


def _same_configuration(a: Mapping[str, str], b: Mapping[str, str]) -> bool:
    """Whether two worker environments configure JAX alike (each worker has its own home)."""
    def strip(env: Mapping[str, str]) -> dict[str, str]:
        return {k: v for k, v in env.items() if k not in ("HOME", "TMPDIR")}

    return strip(a) == strip(b)


class WorkerSession:
    """Keeps the worker template from one :func:`grade` call to the next (``validate``
    grading a problem's reference, starter and mistake examples; a regrade's gradings):
    JAX is imported once for the batch. The template never runs code under test, and every
    worker it forks starts from its pristine state, so sharing it shares nothing between
    the gradings but the imports."""

    def __init__(self) -> None:
        self._template: Template | None = None
        self._folder = tempfile.TemporaryDirectory(prefix="autograder-session-")

    def template(self, env: Mapping[str, str]) -> Template:
        """A template started with ``env`` (JAX reads its configuration at import)."""
        if self._template is not None and not _same_configuration(self._template.env, env):
            self._template.stop()
            self._template = None
        if self._template is None:
            self._template = Template(env, Path(self._folder.name))
        return self._template

    def __enter__(self) -> WorkerSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._template is not None:
            self._template.stop()
            self._template = None
        self._folder.cleanup()


def grade(submission_path: Path | str, problems: Sequence[LoadedProblem],
          options: GradeOptions | None = None,
          references: ReferenceSource | None = None,
          session: WorkerSession | None = None,
          graded: list[ProblemResult] | None = None) -> Report:
    """Grade one submission (a directory or a file) against ``problems``.

    The expected outputs come from ``references`` when given (the student kit's shipped
    data), else from the problems' references, run in a trusted worker or cached. Each
    problem's result is appended to ``graded`` as soon as it is known, so a caller stopped
    by an alarm still has the results so far."""
    options = options or GradeOptions()
    start = time.monotonic()
    submission = scan_submission(submission_path)
    graded = [] if graded is None else graded
    with tempfile.TemporaryDirectory(prefix="autograder-") as scratch:
        workspace = Path(scratch)
        staged = stage(submission, workspace / "submission")
        home = workspace / "home"
        home.mkdir()
        isolation = choose(options.isolate)
        if isolation.user is not None:
            protect([p.directory for p in problems]
                    + ([options.cache_dir] if options.cache_dir else []))
            let_in(workspace, staged.root)
        env = worker_environment(options.grader_env, home, options.compile_cache)
        if isolation.user is not None and options.compile_cache is not None:
            share_read_only(options.compile_cache)
        limits = Limits(memory=options.memory_limit or default_memory_limit(),
                        network=options.allow_network, nproc=options.process_limit)
        student_spec = WorkerSpec(env=env, cwd=staged.root, limits=limits, user=isolation.user,
                                  scratch=workspace)
        reference_spec = WorkerSpec(env=env, cwd=workspace)
        fault = None
        cache = ExpectedCache(options.cache_dir)
        deadline = start + (options.time_budget or float("inf"))
        template = (session.template(env) if session is not None
                    else Template(env, workspace)) if forking_supported() else None
        trusted = References(reference_spec, cache, template=template)
        source = references or trusted
        try:
            for problem in problems:
                try:
                    if time.monotonic() >= deadline:
                        raise BudgetExceeded(deadline)
                    graded.append(_grade_problem(problem, staged, source, student_spec,
                                                 options, deadline, template))
                except GraderError:
                    fault = traceback.format_exc()
                    break
        finally:
            trusted.release()
            if session is None and template is not None:
                template.stop()
        environments = [p.environment for p in graded if p.environment]
        environment = dict(environments[0] if environments else source.info)
    environment["isolation"] = isolation.note
    environment["memory_limit_mb"] = round(limits.memory / 2**20) if limits.memory else None
    return Report(tuple(graded), environment, time.monotonic() - start, fault)


def warm_cache(problems: Sequence[LoadedProblem], cache_dir: Path,
               grader_env: Mapping[str, str],
               compile_cache: Path | None = None) -> dict[str, float]:
    """Compute and cache the outputs of every reference and mistake variant (and, with
    ``compile_cache``, JAX's compiled programs for them); the seconds taken per problem."""
    with tempfile.TemporaryDirectory(prefix="autograder-warm-") as scratch:
        env = worker_environment(grader_env, Path(scratch), compile_cache)
        seconds: dict[str, float] = {}
        with References(WorkerSpec(env=env, cwd=Path(scratch)), ExpectedCache(cache_dir),
                        refresh=compile_cache is not None) as references:
            for problem in problems:
                start = time.monotonic()
                references.expected(problem)
                for mistake in problem.spec.mistakes:
                    for detect in mistake.alternatives:
                        source = source_of(detect)
                        if source is not None:
                            references.outputs(problem, source)
                seconds[problem.id] = time.monotonic() - start
    return seconds
