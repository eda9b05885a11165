"""Small, safe Python expressions over a problem's parameters: input constraints and shapes.

A spec may declare ``constraints: ["x_batch.shape[-1] == features", "x.ndim == 1"]``.
They are parsed once (only a whitelisted subset of Python is allowed, and only parameter
names) and evaluated on every case when the spec loads, so a TA learns about a case that
breaks them before any student does.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from autograder.files import parse_expression

_ATTRIBUTES = frozenset({"shape", "ndim", "size", "dtype"})
_FUNCTIONS: dict[str, Callable[..., Any]] = {"len": len, "int": int, "float": float,
                                             "abs": abs, "min": min, "max": max}
_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
}


class ConstraintSyntaxError(ValueError):
    """The expression is not in the allowed subset; the message says what and where."""


@dataclass(frozen=True)
class Constraint:
    text: str
    tree: ast.Expression

    @classmethod
    def parse(cls, text: str, names: Sequence[str]) -> Constraint:
        try:
            tree = parse_expression(text)
        except SyntaxError as exc:
            raise ConstraintSyntaxError(f"`{text}` is not a Python expression: {exc.msg}") from None
        _Checker(text, frozenset(names)).visit(tree)
        return cls(text, tree)

    def value(self, values: Mapping[str, Any]) -> Any:
        """The expression's value for these arguments (used for output shapes)."""
        return _evaluate(self.tree.body, values)

    def check(self, values: Mapping[str, Any]) -> str | None:
        """``None`` when the constraint holds, else a sentence saying which values break it."""
        body = self.tree.body
        try:
            held = bool(_evaluate(body, values))
        except Exception as exc:  # an error in evaluation is a failed constraint, explained
            return f"could not be evaluated ({type(exc).__name__}: {exc})"
        if held:
            return None
        if isinstance(body, ast.Compare) and len(body.ops) == 1:
            left = _evaluate(body.left, values)
            right = _evaluate(body.comparators[0], values)
            return (f"`{ast.unparse(body.left)}` is {left!r} and "
                    f"`{ast.unparse(body.comparators[0])}` is {right!r}")
        return "it is false for this case"


class _Checker(ast.NodeVisitor):
    _ALLOWED = (ast.Expression, ast.Compare, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp,
                ast.Not, ast.USub, ast.BinOp, ast.Name, ast.Load, ast.Constant, ast.Subscript,
                ast.Attribute, ast.Call, ast.Tuple, ast.Slice, *_BINARY, *_COMPARE)

    def __init__(self, text: str, names: frozenset[str]) -> None:
        self.text = text
        self.names = names

    def generic_visit(self, node: ast.AST) -> None:
        if not isinstance(node, self._ALLOWED):
            raise ConstraintSyntaxError(
                f"`{self.text}`: {type(node).__name__} is not allowed in a constraint "
                "(use comparisons, arithmetic, .shape/.ndim/.size/.dtype, len, int, abs)")
        super().generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id not in self.names and node.id not in _FUNCTIONS:
            raise ConstraintSyntaxError(
                f"`{self.text}`: unknown name {node.id!r}; use parameter names "
                f"({', '.join(sorted(self.names))})")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr not in _ATTRIBUTES:
            raise ConstraintSyntaxError(
                f"`{self.text}`: attribute .{node.attr} is not allowed "
                f"(allowed: {', '.join(sorted(_ATTRIBUTES))})")
        self.visit(node.value)

    def visit_Call(self, node: ast.Call) -> None:
        if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS or node.keywords:
            raise ConstraintSyntaxError(
                f"`{self.text}`: only {', '.join(sorted(_FUNCTIONS))} may be called")
        for arg in node.args:
            self.visit(arg)


def _evaluate(node: ast.AST, values: Mapping[str, Any]) -> Any:
    match node:
        case ast.Constant(value=value):
            return value
        case ast.Name(id=name):
            return values[name] if name in values else _FUNCTIONS[name]
        case ast.Attribute(value=inner, attr=attr):
            return getattr(_evaluate(inner, values), attr)
        case ast.Subscript(value=inner, slice=index):
            return _evaluate(inner, values)[_evaluate(index, values)]
        case ast.Slice(lower=lower, upper=upper, step=step):
            parts = [None if p is None else _evaluate(p, values) for p in (lower, upper, step)]
            return slice(*parts)
        case ast.Tuple(elts=elts):
            return tuple(_evaluate(e, values) for e in elts)
        case ast.Call(func=func, args=args):
            return _evaluate(func, values)(*(_evaluate(a, values) for a in args))
        case ast.UnaryOp(op=ast.Not(), operand=operand):
            return not _evaluate(operand, values)
        case ast.UnaryOp(op=ast.USub(), operand=operand):
            return -_evaluate(operand, values)
        case ast.BinOp(left=left, op=op, right=right):
            return _BINARY[type(op)](_evaluate(left, values), _evaluate(right, values))
        case ast.BoolOp(op=ast.And(), values=items):
            return all(_evaluate(v, values) for v in items)
        case ast.BoolOp(op=ast.Or(), values=items):
            return any(_evaluate(v, values) for v in items)
        case ast.Compare(left=left, ops=ops, comparators=comparators):
            current = _evaluate(left, values)
            for cmp, right_node in zip(ops, comparators, strict=True):
                right = _evaluate(right_node, values)
                if not _COMPARE[type(cmp)](current, right):
                    return False
                current = right
            return True
    raise ConstraintSyntaxError(f"cannot evaluate {ast.unparse(node)}")
