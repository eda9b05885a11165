"""The grading engine: one code path behind every front door (Gradescope, student, TA).

For each problem: find the student's function, take the expected outputs from the
references (:mod:`.references`: cached, or run in a trusted worker), call the student's
function on every case in a fresh worker of its own (:mod:`.student`), compare, name the
known mistakes (:mod:`.diagnose`) and score (:mod:`.outcome`). Student mistakes become
:class:`~autograder.grading.feedback.Feedback` values on the cases they affect; only grader
faults raise.
"""

from __future__ import annotations

import os
import tempfile
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from autograder.errors import GraderError
from autograder.grading import customchecks, feedback
from autograder.grading.cache import ExpectedCache
from autograder.grading.diagnose import CaseRun, Diagnoser, check_structure
from autograder.grading.feedback import Feedback
from autograder.grading.outcome import CaseResult, ProblemResult, SubmissionResult
from autograder.grading.params import decode_models
from autograder.grading.provenance import static_lifts
from autograder.grading.references import PARAMS, References, ReferenceSource
from autograder.grading.student import BudgetExceeded, StudentFunction, judge
from autograder.grading.submission import Submission, scan_submission, stage
from autograder.sandbox import (
    Failure,
    Limits,
    Template,
    WorkerSession,
    WorkerSpec,
    forking_supported,
    worker_environment,
)
from autograder.sandbox.isolation import claimed, default_memory_limit, lock_down
from autograder.spec import LoadedProblem, Mistake
from autograder.spec.inputs import describe_call


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
    #: The functions of exercises not graded this time (the student's check of one
    #: exercise): correctly named already, so never suggested as a misspelling.
    other_exercises: frozenset[str] = frozenset()


def _grade_problem(problem: LoadedProblem, submission: Submission, references: ReferenceSource,
                   spec: WorkerSpec, options: GradeOptions, deadline: float,
                   template: Template | None, exercises: frozenset[str] = frozenset()
                   ) -> ProblemResult:
    indices = [i for i, case in enumerate(problem.spec.cases)
               if not options.visible_only or case.visibility == "visible"]

    def result(index: int, fb: Feedback | None, seconds: float | None = None,
               credit: float = 0.0, printed: str = "",
               output: np.ndarray | None = None, expected: np.ndarray | None = None,
               error: str | None = None, params: str | None = None) -> CaseResult:
        spec = problem.spec
        return CaseResult(index, spec.case_label(index), spec.cases[index].visibility,
                          describe_call(problem, index), spec.case_points(index), fb, seconds,
                          credit, printed, output, expected, error, params)

    def structure_result(fb: Feedback | None) -> CaseResult | None:
        structure = problem.spec.structure
        if structure is None:
            return None
        return CaseResult(len(problem.spec.cases), "the lifted transforms",
                          structure.visibility, "", structure.points, fb)

    def failed_everywhere(fb: Feedback) -> ProblemResult:
        return ProblemResult(problem, tuple(result(i, fb) for i in indices),
                             structure=structure_result(fb),
                             checks=customchecks.failed_everywhere(problem, fb,
                                                                   options.visible_only))

    function = problem.spec.function
    if not submission.files:
        return failed_everywhere(feedback.no_python_files(function, submission.other_files))
    found = submission.locate(function)
    if found is not None and found.unusable:
        return failed_everywhere(feedback.unusable_file(function, found.relative,
                                                        found.error or "unreadable"))
    if found is None:
        # Another exercise's function is named right already: never a renaming suggestion.
        near = submission.near_names(function, exercises - {function})
        return failed_everywhere(feedback.missing_function(
            function, [f.relative for f in submission.files], near))

    # Expected outputs first (from the cache, normally), and no trusted worker left running
    # beside the student's, so the student's memory limit can be most of the container's.
    expected = references.expected(problem)
    reference_models = {index: decode_models(array) for index, array in
                        references.outputs(problem, PARAMS).items()}
    references.release()
    student = StudentFunction(problem, found, submission.root, spec, template)
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
            runs.append(judge(problem, index, reply, expected[index], student.memory_limit))
            if isinstance(reply, Failure):
                timeouts += reply.kind == "timeout"
                load_failure = student.load()
        checks = (customchecks.run_checks(problem, student, load_failure, options.visible_only)
                  if problem.checks else ())
    finally:
        student.close()

    diagnoser = Diagnoser(problem, expected, references.outputs, reference_models)
    cases = []
    named: list[Mistake] = []
    for run in runs:
        explained, credit = diagnoser.explain(run)
        tags = explained.tags if explained is not None else ()
        named += [m for m in problem.spec.mistakes if m.id in tags and m not in named]
        params = diagnoser.params_difference(run) if explained is not None else None
        cases.append(result(run.index, explained, seconds.get(run.index), credit, run.printed,
                            run.got, expected.get(run.index),
                            run.error.exc_type if run.error is not None else None,
                            params.text if params is not None else None))
    structure = None
    if problem.spec.structure is not None:
        static = static_lifts(submission.sources(), found.relative, function)
        structure = structure_result(check_structure(problem, runs, first_failure, static,
                                                     named))
    return ProblemResult(problem, tuple(cases), "\n".join(student.printed),
                         tuple(student.notes), student.environment, structure, checks)


def grade(submission_path: Path | str, problems: Sequence[LoadedProblem],
          options: GradeOptions | None = None,
          references: ReferenceSource | None = None,
          session: WorkerSession | None = None,
          graded: list[ProblemResult] | None = None) -> SubmissionResult:
    """Grade one submission (a directory or a file) against ``problems``.

    The expected outputs come from ``references`` when given (the student kit's shipped
    data), else from the problems' references, run in a trusted worker or cached. Each
    problem's result is appended to ``graded`` as soon as it is known, so a caller stopped
    by an alarm still has the results so far."""
    options = options or GradeOptions()
    start = time.monotonic()
    submission = scan_submission(submission_path)
    graded = [] if graded is None else graded
    with tempfile.TemporaryDirectory(prefix="autograder-") as scratch, \
            claimed(options.isolate) as isolation:
        workspace = Path(scratch)
        staged = stage(submission, workspace / "submission")
        home = workspace / "home"
        home.mkdir()
        lock_down(isolation, [p.directory for p in problems]
                  + ([options.cache_dir] if options.cache_dir else []),
                  workspace, staged.root, options.compile_cache)
        env = worker_environment(options.grader_env, home, options.compile_cache)
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
        outputs = references or trusted
        exercises = options.other_exercises | {p.spec.function for p in problems}
        try:
            for problem in problems:
                try:
                    if time.monotonic() >= deadline:
                        raise BudgetExceeded(deadline)
                    graded.append(_grade_problem(problem, staged, outputs, student_spec,
                                                 options, deadline, template, exercises))
                except GraderError:
                    fault = traceback.format_exc()
                    break
        finally:
            trusted.release()
            if session is None and template is not None:
                template.stop()
        environments = [p.environment for p in graded if p.environment]
        environment = dict(environments[0] if environments else outputs.info)
    environment["isolation"] = isolation.note
    environment["memory_limit_mb"] = round(limits.memory / 2**20) if limits.memory else None
    return SubmissionResult(tuple(graded), environment, time.monotonic() - start, fault)
