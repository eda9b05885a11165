"""A problem's custom checks (``checks: checks.py``) run in the student's worker, as tests.

The trusted side knows every check from the checks file's source (the spec loader reads its
decorators), so each check gets a result whatever happens to the student's code; the checks
themselves run in the student's worker (:mod:`autograder.worker.checks`), isolated as the
student's code is.
"""

from __future__ import annotations

from autograder.grading import feedback
from autograder.grading.feedback import Feedback
from autograder.grading.outcome import CaseResult
from autograder.grading.student import StudentFunction
from autograder.protocol.messages import CheckOutcome, ChecksRan, RunChecks
from autograder.sandbox import Failure
from autograder.spec import LoadedProblem


def _result(problem: LoadedProblem, k: int, fb: Feedback | None, credit: float = 0.0,
            printed: str = "") -> CaseResult:
    check = problem.checks[k]
    return CaseResult(len(problem.spec.cases) + 1 + k, check.name, check.visibility, "",
                      check.weight, fb, None, credit, printed, number=check.number,
                      tags=check.tags)


def failed_everywhere(problem: LoadedProblem, fb: Feedback,
                      visible_only: bool = False) -> tuple[CaseResult, ...]:
    """Every check failed with ``fb`` (the function could not be loaded, say)."""
    return tuple(_result(problem, k, fb) for k, check in enumerate(problem.checks)
                 if not visible_only or check.visibility == "visible")


def run_checks(problem: LoadedProblem, student: StudentFunction,
               load_failure: Feedback | None, visible_only: bool) -> tuple[CaseResult, ...]:
    """The custom checks, run in the student's worker; every check gets a result."""
    if load_failure is not None or student.worker is None:
        return failed_everywhere(problem, load_failure or feedback.check_not_run("no worker"),
                                 visible_only)
    assert problem.spec.checks is not None
    source = (problem.directory / problem.spec.checks).read_text(encoding="utf-8")
    function = problem.spec.function
    limit = problem.spec.time_limit * max(1, len(problem.checks))
    reply = student.worker.request(RunChecks(function, source, problem.spec.checks), limit)
    if isinstance(reply, Failure):
        fb = (feedback.timeout(function, limit) if reply.kind == "timeout"
              else feedback.crashed(function, reply.seconds, reply.signal_name,
                                    reply.exit_code))
        return failed_everywhere(problem, fb, visible_only)
    outcomes = {o.id: o for o in reply.checks} if isinstance(reply, ChecksRan) else {}
    everything = outcomes.get("*")
    results = []
    for k, check in enumerate(problem.checks):
        if visible_only and check.visibility != "visible":
            continue
        outcome = (outcomes.get(check.id) or everything
                   or CheckOutcome(check.id, "error", "this check did not run"))
        credit = 1.0 if outcome.status == "passed" else 0.0
        if check.partial and outcome.score is not None and check.weight > 0:
            credit = min(max(outcome.score / check.weight, 0.0), 1.0)
        verdict = None if credit >= 1.0 else feedback.check_failed(check, outcome)
        results.append(_result(problem, k, verdict, credit if verdict else 0.0,
                               outcome.printed))
    return tuple(results)
