"""Custom checks, run in the student's worker: a TA's ``unittest`` classes on the student's
function, isolated as the student's code is.

The trusted side has already read what the checks declare (:mod:`autograder.spec.checkfile`)
and scores them from the outcomes given here. Unlike gradescope-utils' own runner, nothing is
lost: a failing ``subTest`` fails its check, a skipped check is reported (worth nothing), and
an error in a class fixture (``setUpClass``) fails each check of the class with that error.
Standard library only: the worker imports nothing of the trusted side.
"""

from __future__ import annotations

import contextlib
import io
import numbers
import traceback
import types
import unittest
from collections.abc import Callable
from typing import Any


class _Student:
    """``student(...)`` in a checks file: the student's function."""

    function: Callable[..., Any] | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.function is None:
            raise RuntimeError("autograder.checks.student is only callable while checks run")
        return self.function(*args, **kwargs)


student = _Student()


class _Result(unittest.TestResult):
    """Keeps everything: failures, errors, failing subtests and skips."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def _keep(self, err: Any) -> None:
        self.messages.append("".join(traceback.format_exception(*err, limit=-3)).strip())

    def addFailure(self, test: unittest.TestCase, err: Any) -> None:
        super().addFailure(test, err)
        self._keep(err)

    def addError(self, test: unittest.TestCase, err: Any) -> None:
        super().addError(test, err)
        self._keep(err)

    def addSubTest(self, test: unittest.TestCase, subtest: unittest.TestCase,
                   err: Any) -> None:
        super().addSubTest(test, subtest, err)  # records it without calling addFailure
        if err is not None:
            self._keep(err)
            where = subtest.id().removeprefix(test.id()).strip()
            self.messages[-1] = f"{where}: {self.messages[-1]}"


def run(source: str, filename: str, function: Callable[..., Any]) -> list[dict[str, Any]]:
    """Run the checks in ``source`` on ``function``; one outcome per test method."""
    student.function = function
    module = types.ModuleType("checks")
    module.__file__ = filename
    outcomes: list[dict[str, Any]] = []
    try:
        exec(compile(source, filename, "exec"), module.__dict__)
    except BaseException as exc:
        detail = "".join(traceback.format_exception(exc, limit=-3)).strip()
        return [{"id": "*", "status": "error", "message": f"the checks file failed: {detail}"}]
    classes = [v for v in vars(module).values()
               if isinstance(v, type) and issubclass(v, unittest.TestCase)
               and v.__module__ == "checks"]
    for cls in classes:
        names = unittest.TestLoader().getTestCaseNames(cls)
        try:
            cls.setUpClass()
        except BaseException as exc:
            detail = "".join(traceback.format_exception(exc, limit=-3)).strip()
            outcomes += [{"id": f"{cls.__name__}.{n}", "status": "error",
                          "message": f"setUpClass failed: {detail}"} for n in names]
            continue
        for name in names:
            result = _Result()
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                cls(name).run(result)
            method = getattr(cls, name)
            score = getattr(method, "__score__", None)
            if result.skipped:
                status, message = "skipped", f"skipped: {result.skipped[0][1]}"
            elif result.wasSuccessful():
                status, message = "passed", ""
            else:
                status, message = "failed", "\n\n".join(result.messages)
            outcomes.append({"id": f"{cls.__name__}.{name}", "status": status,
                             "message": message[:4000], "printed": printed.getvalue()[:4000],
                             "score": float(score) if isinstance(score, numbers.Real) else None})
        with contextlib.suppress(BaseException):
            cls.tearDownClass()
    student.function = None
    return outcomes
