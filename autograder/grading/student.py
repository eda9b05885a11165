"""The student's function in a worker of its own, and the generic verdict on each call.

A :class:`StudentFunction` is a fresh worker, forked from the grading's template, for each
problem and again after any failure; it loads the function and calls it on cases. Every
reply is a typed record or a :class:`~autograder.sandbox.Failure`, and :func:`judge` turns
one into a :class:`~autograder.grading.diagnose.CaseRun`: the verdict before any mistake is
named, with the evidence the diagnosis needs.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from autograder.errors import GraderError, WorkerError
from autograder.grading import feedback
from autograder.grading.compare import compare
from autograder.grading.diagnose import CaseRun
from autograder.grading.feedback import Feedback
from autograder.grading.submission import SourceFile
from autograder.protocol.messages import Call, Load, Loaded, Raised, Reply, Returned
from autograder.sandbox import Failure, Template, WorkerProcess, WorkerSpec
from autograder.spec import LoadedProblem
from autograder.spec.inputs import case_arguments


class BudgetExceeded(GraderError):
    """The overall time budget ran out before every problem was graded."""

    def __init__(self, deadline: float) -> None:
        super().__init__("the overall time budget ran out before every problem was graded "
                         f"({time.monotonic() - deadline:+.0f} s past it); the problems "
                         "graded before are kept")


class StudentFunction:
    """The student's function of one problem, in a fresh worker."""

    def __init__(self, problem: LoadedProblem, file: SourceFile, root: Path,
                 spec: WorkerSpec, template: Template | None) -> None:
        self.problem = problem
        self.file = file  # the submission's file that defines the function
        self.root = root
        self.spec = spec
        self.template = template
        self.worker: WorkerProcess | None = None
        self.printed: list[str] = []
        self.notes: list[str] = []
        self.environment: Mapping[str, Any] = {}

    @property
    def memory_limit(self) -> int | None:
        return self.spec.limits.memory if self.spec.limits is not None else None

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
            raise WorkerError(f"a student worker did not start: {ready.explain()}\n"
                              f"{worker.capture.text()}")
        self.environment = ready.environment()
        function = self.problem.spec.function
        limit = self.problem.spec.time_limit
        reply = worker.request(Load(function, str(self.file.path), str(self.root),
                                    trace=True), limit)
        if reply.printed:
            self.printed.append(reply.printed)
        match reply:
            case Failure(kind="memory"):
                return feedback.memory_limit(None, self.memory_limit)
            case Failure(kind="protocol"):
                return feedback.protocol_violation(None, reply.detail)
            case Failure(kind="timeout"):
                return feedback.import_timeout(limit)
            case Failure():
                return feedback.import_crashed(reply.seconds, reply.signal_name)
        for cell in getattr(reply, "cell_errors", ()):
            self.notes.append(f"Cell {cell.cell} of `{self.file.relative}` raised "
                              f"`{cell.exc_type}`: {cell.message}")
        match reply:
            case Loaded():
                return None
            case Raised(error=error) if error.kind == "syntax-error":
                return feedback.syntax_error(error)
            case Raised(error=error) if error.kind == "import-error":
                return feedback.import_error(error)
            case Raised(error=error) if error.kind == "not-callable":
                return feedback.not_callable(function, error.found)
            case Raised():  # missing, or the module broke the worker's own lookup of it
                return feedback.missing_function(function, [self.file.relative])
        raise AssertionError(f"{reply!r} does not answer a load")  # decode_reply checked

    def call(self, index: int, deadline: float) -> tuple[Reply | Failure, float]:
        """Call the function on case ``index``; the reply and the seconds it took."""
        assert self.worker is not None
        args = tuple(case_arguments(self.problem, index))
        start = time.monotonic()
        limit = self.problem.spec.time_limit_for(index)
        if deadline - start < limit:
            raise BudgetExceeded(deadline)
        reply = self.worker.request(Call(self.problem.spec.function, args), limit)
        return reply, time.monotonic() - start

    def close(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.worker = None


def judge(problem: LoadedProblem, index: int, reply: Reply | Failure, expected: np.ndarray,
          memory_limit: int | None) -> CaseRun:
    """The generic verdict on one call, with the evidence the diagnosis needs."""
    function = problem.spec.function
    match reply:
        case Failure(kind="timeout"):
            failed = feedback.timeout(function, problem.spec.time_limit_for(index))
        case Failure(kind="memory"):
            failed = feedback.memory_limit(function, memory_limit)
        case Failure(kind="protocol"):
            failed = feedback.protocol_violation(function, reply.detail)
        case Failure():
            failed = feedback.crashed(function, reply.seconds, reply.signal_name,
                                      reply.exit_code)
        case Raised(error=error) if error.kind == "wrong-signature":
            return CaseRun(index, feedback.wrong_signature(
                function, problem.spec.parameter_names, error))
        case Raised(error=error, trace=trace, printed=printed, models=models):
            return CaseRun(index, feedback.runtime_error(function, error), error=error,
                           trace=trace, printed=printed, models=models)
        case Returned(too_large=int(size), trace=trace, printed=printed, models=models):
            return CaseRun(index, feedback.output_too_large(function, size), trace=trace,
                           printed=printed, models=models)
        case Returned(output=got, returned=returned, trace=trace, printed=printed,
                      models=models):
            mismatch = compare(got, returned, expected, problem.spec.tolerance_for(index),
                               problem.spec.returns.dtype)
            verdict = None if mismatch is None else Feedback.from_mismatch(mismatch)
            return CaseRun(index, verdict, got, returned, trace=trace, printed=printed,
                           models=models)
        case _:
            raise AssertionError(f"{reply!r} does not answer a call")  # decode_reply checked
    return CaseRun(index, failed, printed=reply.printed)
