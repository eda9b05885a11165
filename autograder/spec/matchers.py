"""Lift-argument matchers: the loose YAML of a lift pattern's ``args``, parsed once.

A spec compares the arguments of a recorded lift with values written in YAML::

    args: {in_axes: [null, 0], variable_axes: {params: {not: 0}}, out_axes: {one_of: [0, 1]}}

:func:`parse` turns each value into a tree of small frozen matchers when the spec loads (as
Flax's ``filterlib.to_predicate`` turns its filters into predicates), so grading only calls
:meth:`Matcher.matches` and feedback only :meth:`Matcher.describe`. What they are matched
against is what the worker's trace records (``autograder.worker.trace.plain``): tuples are
lists, mappings are dicts, a class is ``'<class Name>'``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: The keys that make a one-key mapping a matcher instead of a mapping to compare.
MATCHER_KEYS = frozenset({"not", "one_of", "not_one_of"})
#: Flax's axis markers, as a spec writes them and as the trace records them.
MARKERS = {"nnx.Carry": "<class Carry>"}


class Matcher(ABC):
    """A test of one recorded argument value, with the words feedback shows for it."""

    @abstractmethod
    def matches(self, recorded: Any) -> bool:
        """Whether ``recorded`` (plain data from the trace) is what the spec asks for."""

    @abstractmethod
    def describe(self) -> str:
        """The spec value as Python code would write it: ``(None, 0)``, ``one of (0, 1)``."""

    @abstractmethod
    def spec_value(self) -> Any:
        """The value as the spec wrote it (markers as the trace records them): what
        ``model_dump`` gives, and what :func:`parse` turns back into this matcher."""

    def matches_unset(self) -> bool:
        """Whether a mapping key the code did not set matches: it counts as null (Flax's
        "not split", "not batched")."""
        return self.matches(None)

    def canonical(self, arity: int | None) -> Matcher:
        """This matcher on :func:`canonical_axes` values: every literal in canonical form."""
        return self


@dataclass(frozen=True)
class Equals(Matcher):
    """A plain value. Bools compare by identity: ``True`` is not ``1``, ``False`` not ``0``."""

    value: Any

    def matches(self, recorded: Any) -> bool:
        if isinstance(self.value, bool) or isinstance(recorded, bool):
            return self.value is recorded
        return bool(self.value == recorded)

    def matches_unset(self) -> bool:
        return self.value is False or self.matches(None)

    def describe(self) -> str:
        value = self.value
        if isinstance(value, str) and value.startswith("<class ") and value.endswith(">"):
            return next((k for k, v in MARKERS.items() if v == value), value[7:-1])
        return repr(value)

    def spec_value(self) -> Any:
        return self.value

    def canonical(self, arity: int | None) -> Matcher:
        if arity is None or isinstance(self.value, list | dict):
            return self
        return SequenceOf((self,) * arity)


@dataclass(frozen=True)
class Not(Matcher):
    """``{not: V}``: anything ``V`` does not match."""

    operand: Matcher

    def matches(self, recorded: Any) -> bool:
        return not self.operand.matches(recorded)

    def describe(self) -> str:
        return f"anything but {self.operand.describe()}"

    def canonical(self, arity: int | None) -> Matcher:
        return Not(self.operand.canonical(arity))

    def spec_value(self) -> Any:
        return {"not": self.operand.spec_value()}


@dataclass(frozen=True)
class OneOf(Matcher):
    """``{one_of: [V, ...]}``: what one of the options matches."""

    options: tuple[Matcher, ...]

    def matches(self, recorded: Any) -> bool:
        return any(option.matches(recorded) for option in self.options)

    def describe(self) -> str:
        return f"one of {_tuple(self.options)}"

    def canonical(self, arity: int | None) -> Matcher:
        return OneOf(tuple(option.canonical(arity) for option in self.options))

    def spec_value(self) -> Any:
        return {"one_of": [option.spec_value() for option in self.options]}


@dataclass(frozen=True)
class NoneOf(Matcher):
    """``{not_one_of: [V, ...]}``: what none of the options matches."""

    options: tuple[Matcher, ...]

    def matches(self, recorded: Any) -> bool:
        return not any(option.matches(recorded) for option in self.options)

    def describe(self) -> str:
        return f"none of {_tuple(self.options)}"

    def canonical(self, arity: int | None) -> Matcher:
        return NoneOf(tuple(option.canonical(arity) for option in self.options))

    def spec_value(self) -> Any:
        return {"not_one_of": [option.spec_value() for option in self.options]}


@dataclass(frozen=True)
class MappingOf(Matcher):
    """A mapping: matches a recorded mapping whose listed keys match (others are ignored)."""

    entries: tuple[tuple[Any, Matcher], ...]

    def matches(self, recorded: Any) -> bool:
        if not isinstance(recorded, Mapping):
            return False
        return all(matcher.matches(recorded[key]) if key in recorded else matcher.matches_unset()
                   for key, matcher in self.entries)

    def describe(self) -> str:
        return "{" + ", ".join(f"{key!r}: {m.describe()}" for key, m in self.entries) + "}"

    def canonical(self, arity: int | None) -> Matcher:
        return MappingOf(tuple((key, m.canonical(None)) for key, m in self.entries))

    def spec_value(self) -> Any:
        return {key: matcher.spec_value() for key, matcher in self.entries}


@dataclass(frozen=True)
class SequenceOf(Matcher):
    """A list (a tuple in the code): matches element by element, with the same length."""

    items: tuple[Matcher, ...]

    def matches(self, recorded: Any) -> bool:
        return (isinstance(recorded, list) and len(recorded) == len(self.items)
                and all(m.matches(r) for m, r in zip(self.items, recorded, strict=True)))

    def describe(self) -> str:
        return _tuple(self.items)

    def canonical(self, arity: int | None) -> Matcher:
        items = tuple(item.canonical(None) for item in self.items)
        if arity is None and items and isinstance(items[0], Equals) and all(
                i == items[0] for i in items):
            return items[0]
        return SequenceOf(items)

    def spec_value(self) -> Any:
        return [matcher.spec_value() for matcher in self.items]


#: Arguments that give one axis per argument (or output) of the lifted function.
AXES_ARGUMENTS = frozenset({"in_axes", "out_axes"})


def canonical_axes(value: Any, arity: int | None = None) -> Any:
    """One form for axis specifications that JAX and Flax treat as the same, since an axis
    given for a subtree applies to all it holds. With the lifted function's ``arity``
    known: one entry per argument (``0`` for two arguments is ``[0, 0]``; ``(0,)`` for one
    is ``[0]``). Without it, and inside an argument: a list whose entries are all one axis
    is that axis (``(0,)`` is ``0``; ``((None, None), 0)`` is ``[None, 0]``)."""
    if not isinstance(value, list):
        return [value] * arity if arity is not None and not isinstance(value, dict) else value
    items = [canonical_axes(v) for v in value]
    if arity is None and items and not isinstance(items[0], list | dict) and all(
            type(i) is type(items[0]) and i == items[0] for i in items):
        return items[0]
    return items


def _tuple(items: Sequence[Matcher]) -> str:
    return "(" + ", ".join(m.describe() for m in items) + ("," if len(items) == 1 else "") + ")"


def parse(value: Any, where: str) -> Matcher:
    """The matcher of a spec value; ``where`` is its key path, for errors. Matchers may stand
    at any depth (``variable_axes: {params: {not: 0}}``).

    Raises ValueError naming the key path: ``args.in_axes.one_of: give a list of values``.
    """
    if isinstance(value, dict) and MATCHER_KEYS & set(value):
        if len(value) != 1:
            raise ValueError(f"{where}: a matcher has exactly one of "
                             f"{', '.join(sorted(MATCHER_KEYS))}")
        (key, operand), = value.items()
        if key == "not" and isinstance(operand, list):  # its items' paths are ``where.not``
            return Not(SequenceOf(tuple(parse(item, f"{where}.not") for item in operand)))
        if key == "not":
            return Not(parse(operand, f"{where}.not"))
        if not isinstance(operand, list):
            raise ValueError(f"{where}.{key}: give a list of values")
        options = tuple(parse(item, f"{where}.{key}") for item in operand)
        return OneOf(options) if key == "one_of" else NoneOf(options)
    if isinstance(value, dict):
        return MappingOf(tuple((k, parse(v, f"{where}.{k}")) for k, v in value.items()))
    if isinstance(value, list):
        return SequenceOf(tuple(parse(v, f"{where}[{i}]") for i, v in enumerate(value)))
    return Equals(MARKERS.get(value, value) if isinstance(value, str) else value)
