"""Checks files, read on the trusted side: what a TA's custom checks declare.

A problem's spec may name a file of ``unittest.TestCase`` classes written with
gradescope-utils' decorators (``checks: checks.py``; see :mod:`autograder.checks`). The
grader reads every check's name, weight, visibility, number and tags from the file's source
with :mod:`ast`, without running it, so every check is reported whatever happens to the
student's code. The checks run in the student's worker (:mod:`autograder.worker.checks`).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder.files import parse_python

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
        tree = parse_python(path.read_bytes(), filename=str(path))
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

