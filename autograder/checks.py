"""Custom checks: extra tests a TA writes in Python with gradescope-utils' decorators.

A problem's spec may name a file of ``unittest.TestCase`` classes (``checks: checks.py``)::

    import unittest
    from gradescope_utils.autograder_utils.decorators import weight, visibility
    from autograder.checks import student

    class EnsembleChecks(unittest.TestCase):
        @weight(1)
        @visibility("visible")
        def test_members_differ(self):
            \"\"\"The ensemble's members give different outputs\"\"\"
            out = student(0.0, np.ones(3, np.float32), 4.0, 2.0).reshape(4, 2)
            self.assertFalse(np.allclose(out[0], out[1]))

``student`` calls the student's function. The trusted side reads the checks (names, weights,
visibility, numbers, tags) from the file's source, so every check is reported whatever
happens to the student's code; the checks themselves run in the student's worker, isolated as
the student's code is. Unlike gradescope-utils' own runner, nothing is lost: a failing
``subTest`` fails its check, a skipped check is reported (worth nothing), and an error in a
class fixture (``setUpClass``) fails each check of the class with that error.
"""

from __future__ import annotations

import ast
import contextlib
import io
import numbers
import traceback
import types
import unittest
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_DECORATORS = {"weight", "partial_credit", "visibility", "number", "tags", "hide_errors"}
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")


@dataclass(frozen=True)
class CustomCheck:
    """One test method of a checks file, as its decorators declare it."""

    id: str  # Class.method
    name: str  # the docstring's first line, else the method's name
    weight: float
    visibility: str = "visible"
    number: str | None = None
    tags: tuple[str, ...] = ()
    partial: bool = False
    hide_errors: str | None = None


class ChecksError(ValueError):
    """A checks file the trusted side cannot read: a message with the line."""


def _is_test_case(node: ast.ClassDef) -> bool:
    return any((isinstance(b, ast.Attribute) and b.attr == "TestCase")
               or (isinstance(b, ast.Name) and b.id == "TestCase") for b in node.bases)


def _decorator(node: ast.expr) -> tuple[str, list[Any]] | None:
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if name not in _DECORATORS:
        return None
    try:
        return name, [ast.literal_eval(arg) for arg in node.args]
    except ValueError:
        raise ChecksError(f"line {node.lineno}: @{name}(...) needs literal arguments (the "
                          "grader reads them without running the file)") from None


def collect(path: Path) -> tuple[CustomCheck, ...]:
    """The checks of ``path``, read from its source (nothing is run)."""
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except SyntaxError as exc:
        raise ChecksError(f"line {exc.lineno}: {exc.msg}") from None
    found = []
    for cls in tree.body:
        if not isinstance(cls, ast.ClassDef) or not _is_test_case(cls):
            continue
        for method in cls.body:
            if not isinstance(method, ast.FunctionDef) or not method.name.startswith("test"):
                continue
            declared: dict[str, list[Any]] = {}
            for node in method.decorator_list:
                parsed = _decorator(node)
                if parsed is not None:
                    declared[parsed[0]] = parsed[1]
            weight = declared.get("partial_credit") or declared.get("weight") or [0]
            visibility = (declared.get("visibility") or ["visible"])[0]
            if visibility not in VISIBILITIES:
                raise ChecksError(f"line {method.lineno}: @visibility({visibility!r}) must be "
                                  f"one of {', '.join(VISIBILITIES)}")
            doc = ast.get_docstring(method)
            found.append(CustomCheck(
                id=f"{cls.name}.{method.name}",
                name=doc.strip().splitlines()[0] if doc else method.name,
                weight=float(weight[0]), visibility=visibility,
                number=str(declared["number"][0]) if "number" in declared else None,
                tags=tuple(str(t) for t in declared.get("tags", [])),
                partial="partial_credit" in declared,
                hide_errors=(declared["hide_errors"] or ["Test failed"])[0]
                if "hide_errors" in declared else None))
    return tuple(found)


# -- in the worker ---------------------------------------------------------------------------

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
