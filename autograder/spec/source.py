"""Positioned YAML: a file read with the line and column of every key it writes.

Any loader of a YAML file that TAs write (a problem spec, an assignment) reads it with
:func:`read_yaml` and reports what is wrong with :class:`~autograder.errors.SpecIssue`\\ s
that point at the key, as compilers do (``problem.yaml:12:7: ...``)::

    document = read_yaml(path)              # SpecError on a syntax error or a duplicate key
    document.data                           # plain dicts, lists, str, int, float, bool, None
    document.position(("cases", 2, "tolerance"))   # Position(line=31, column=5)
    try:
        Model.model_validate(document.data)
    except ValidationError as exc:
        issues = issues_from_validation(exc, document, vocabulary=...)

The YAML is read as YAML 1.2's core schema reads it, which is what editors checking the JSON
Schema read: ``1e-5`` and ``.5`` are floats, ``1_000``, ``yes`` and ``2024-01-01`` are text,
and only the types JSON has exist (no dates, sets or binary). A key written twice in one
mapping is an error, not the last one silently winning.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from autograder.errors import SpecError, SpecIssue

#: Where a value is in a document: mapping keys and list indices from the root.
KeyPath = tuple[str | int, ...]

_MERGE = "tag:yaml.org,2002:merge"


@dataclass(frozen=True, order=True)
class Position:
    """A place in a file, 1-based as editors count."""

    line: int
    column: int


@dataclass(frozen=True)
class Document:
    """A YAML file's data with the position of every key path in it: of the key for a
    mapping entry, of the item for a list entry, of the first token for the root ``()``."""

    path: Path
    data: Any
    positions: Mapping[KeyPath, Position] = field(repr=False)

    def position(self, key: KeyPath) -> Position | None:
        """Where ``key`` is written, else where its nearest written ancestor is (a key left
        to its default is reported at the mapping that lacks it)."""
        for end in range(len(key), -1, -1):
            found = self.positions.get(tuple(key[:end]))
            if found is not None:
                return found
        return None

    def value(self, key: KeyPath, default: Any = None) -> Any:
        """The value written at ``key``, or ``default`` where there is none."""
        node = self.data
        for part in key:
            if isinstance(node, dict):
                if part not in node:
                    return default
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                node = node[part]
            else:
                return default
        return node

    def issue(self, key: KeyPath, location: str, message: str) -> SpecIssue:
        """An issue of this file about ``key``, at its position."""
        where = self.position(key)
        return SpecIssue(self.path, location, message,
                         where.line if where else None, where.column if where else None)


# -- the loader ------------------------------------------------------------------------------


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    text = str(loader.construct_scalar(node))
    try:
        if text.startswith("0o"):
            return int(text[2:], 8)
        if text.startswith("0x"):
            return int(text[2:], 16)
        return int(text, 10)
    except ValueError:
        raise yaml.constructor.ConstructorError(
            None, None, f"{text!r} is not a whole number", node.start_mark) from None


_JSON_TAGS = frozenset(f"tag:yaml.org,2002:{name}"
                       for name in ("null", "bool", "int", "float", "str", "seq", "map"))


class YamlLoader(yaml.SafeLoader):
    """Safe YAML with YAML 1.2's core schema: the scalars a JSON Schema can speak of, and a
    key written twice in one mapping an error instead of the last one silently winning."""

    yaml_constructors: ClassVar[dict[str | None, Callable[..., Any]]] = {
        tag: constructor for tag, constructor in yaml.SafeLoader.yaml_constructors.items()
        if tag is None or tag in _JSON_TAGS}
    #: False once the keys were checked another way (:func:`parse_yaml` reports them all).
    refuse_duplicates = True

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value if self.refuse_duplicates else ():
            if key_node.tag == _MERGE:
                raise yaml.constructor.ConstructorError(
                    None, None, _MERGE_MESSAGE, key_node.start_mark)
            key = self.construct_object(key_node, deep=deep)
            first = seen.setdefault(key, key_node) if _hashable(key) else key_node
            if first is not key_node:
                raise yaml.constructor.ConstructorError(
                    None, None, _duplicate_message(key, first), key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


_MERGE_MESSAGE = "merge keys (`<<: *anchor`) are not supported: write the keys out"

#: YAML 1.2's core schema (and ``<<``, to say merge keys are not supported).
_RESOLVERS = (
    ("null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    ("int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", list("-+0123456789")),
    ("float", r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
              r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$", list("-+0123456789.")),
    ("merge", r"^<<$", ["<"]),
)


class YamlDumper(yaml.SafeDumper):
    """Safe YAML output that :class:`YamlLoader` reads back as it was: a text that YAML 1.2
    reads as something else (``"1e-5"``, ``"0o17"``) is quoted."""


for _cls in (YamlLoader, YamlDumper):
    _cls.yaml_implicit_resolvers = {}  # SafeLoader's (YAML 1.1) replaced, not added to
for _tag, _pattern, _first in _RESOLVERS:
    for _cls in (YamlLoader, YamlDumper):
        _cls.add_implicit_resolver(f"tag:yaml.org,2002:{_tag}", re.compile(_pattern), _first)
YamlLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def _hashable(key: Any) -> bool:
    try:
        hash(key)
    except TypeError:
        return False
    return True


def _duplicate_message(key: Any, first: yaml.Node) -> str:
    return (f"key {key!r} is written twice in the same mapping (first on line "
            f"{first.start_mark.line + 1}): keep one")


# -- reading ---------------------------------------------------------------------------------


def _at(mark: Any) -> Position:
    return Position(mark.line + 1, mark.column + 1)


def _syntax_issue(path: Path, exc: yaml.YAMLError) -> SpecIssue:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    message = f"invalid YAML: {problem}"
    if "'\\t'" in problem:
        message += " (indent with spaces, not tabs)"
    elif "<block" in problem or "mapping values are not allowed" in problem:
        message += " (check the indentation)"
    context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context and context_mark is not None and (mark is None or context_mark.line != mark.line):
        start = _at(context_mark)
        message += f" ({context} that starts at line {start.line}, column {start.column})"
    where = _at(mark) if mark is not None else None
    return SpecIssue(path, "", message, where.line if where else None,
                     where.column if where else None)


def _walk(loader: YamlLoader, node: yaml.Node, key: KeyPath, positions: dict[KeyPath, Position],
          duplicates: list[tuple[KeyPath, Position, str]], walked: set[int]) -> None:
    """Record the positions below ``node``. A node met again (an alias) is not walked again:
    what is inside it is reported at the key that refers to it (nor can a cycle loop)."""
    if id(node) in walked:
        return
    walked.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, yaml.Node] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                raise yaml.constructor.ConstructorError(
                    None, None, _MERGE_MESSAGE, key_node.start_mark)
            name = loader.construct_object(key_node, deep=True)
            if not _hashable(name):
                continue  # construction refuses it, with its position
            part = name if isinstance(name, str | int) and not isinstance(name, bool) else str(name)
            first = seen.setdefault(name, key_node)
            if first is not key_node:
                duplicates.append(((*key, part), _at(key_node.start_mark),
                                   _duplicate_message(name, first)))
                continue
            positions[(*key, part)] = _at(key_node.start_mark)
            _walk(loader, value_node, (*key, part), positions, duplicates, walked)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            positions[(*key, index)] = _at(item.start_mark)
            _walk(loader, item, (*key, index), positions, duplicates, walked)


def parse_yaml(text: str, path: Path,
               locate: Callable[[KeyPath, Any], str] | None = None) -> Document:
    """``text`` (the content of ``path``) as a :class:`Document`; a syntax error, or every
    key written twice, raises :class:`SpecError` with positions. ``locate(key, data)``
    names a key path in those messages (default: :func:`format_key_path`)."""
    loader = YamlLoader(text)
    try:
        node = loader.get_single_node()
        positions: dict[KeyPath, Position] = {(): Position(1, 1)}
        duplicates: list[tuple[KeyPath, Position, str]] = []
        data: Any = None
        if node is not None:
            positions[()] = _at(node.start_mark)
            _walk(loader, node, (), positions, duplicates, set())
            loader.refuse_duplicates = False  # found by the walk, to be reported together
            data = loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise SpecError([_syntax_issue(path, exc)]) from None
    finally:
        loader.dispose()
    if duplicates:
        name = locate or (lambda key, _data: format_key_path(key))
        raise SpecError([SpecIssue(path, name(key, data), message, at.line, at.column)
                         for key, at, message in duplicates])
    return Document(path, data, positions)


def dump_yaml(data: Any) -> str:
    """``data`` as block YAML, in its own order, that :func:`parse_yaml` reads back equal."""
    return yaml.dump(data, Dumper=YamlDumper, sort_keys=False, allow_unicode=True, width=100)


def read_yaml(path: Path | str, locate: Callable[[KeyPath, Any], str] | None = None) -> Document:
    """The YAML file at ``path`` as a :class:`Document` (see :func:`parse_yaml`); a file
    that cannot be read raises :class:`SpecError` too."""
    path = Path(path)
    return parse_yaml(read_text(path), path, locate)


def read_text(path: Path, what: str = "the file") -> str:
    """The text of ``path``; a file that cannot be read, or is not UTF-8, is a
    :class:`SpecError` that says so (``what`` names it: "the spec")."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError([SpecIssue(path, "", f"cannot read {what}: {exc.strerror}")]) from None
    except UnicodeDecodeError as exc:
        raise SpecError([SpecIssue(path, "", f"not UTF-8 text ({exc.reason} at byte "
                                             f"{exc.start}): save it as UTF-8")]) from None


# -- pydantic's errors as issues -------------------------------------------------------------


def format_key_path(key: KeyPath) -> str:
    """``('cases', 2, 'tolerance', 'rtol')`` -> ``cases[2].tolerance.rtol``."""
    out = ""
    for part in key:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def key_path(loc: Sequence[int | str], data: Any,
             union_tags: Collection[str] = ()) -> KeyPath:
    """The key path an author wrote, from a pydantic error's ``loc``: without the tags of
    the union members pydantic chose (``union_tags`` that are not keys where they stand)."""
    out: list[str | int] = []
    node = data
    for part in loc:
        if part == "[key]":
            continue  # an error in a mapping's key: the key path already names it
        if (isinstance(part, str) and part in union_tags
                and not (isinstance(node, dict) and part in node)):
            continue
        out.append(part)
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            node = None
    return tuple(out)


def _plain(error: ErrorDetails, key: KeyPath) -> str:
    return error["msg"].removeprefix("Value error, ")


def _entries_reported(item: ErrorDetails, items: Sequence[ErrorDetails]) -> bool:
    """A list that is too short because its entries are all invalid: the entries say why."""
    loc = tuple(item["loc"])
    return item["type"] == "too_short" and any(
        other is not item and tuple(other["loc"][:len(loc)]) == loc for other in items)


def _errors(error: ValidationError) -> Iterator[ErrorDetails]:
    items = error.errors(include_url=False)
    for item in items:
        if not _entries_reported(item, items):
            yield item


def issues_from_validation(
    error: ValidationError,
    document: Document,
    *,
    vocabulary: Collection[str] = (),
    union_tags: Collection[str] = (),
    locate: Callable[[KeyPath, Any], str] | None = None,
    explain: Callable[[ErrorDetails, KeyPath], str] = _plain,
) -> list[SpecIssue]:
    """Every error of a pydantic validation of ``document.data``, as issues at the keys:
    an unknown key at the key (with a close word of ``vocabulary`` suggested), a missing key
    at the mapping that lacks it, anything else at the key of the wrong value.

    ``locate(key, data)`` names the key path (default :func:`format_key_path`);
    ``explain(error, key)`` words everything but an unknown key (default pydantic's).
    """
    name = locate or (lambda key, _data: format_key_path(key))
    words = sorted(vocabulary)
    issues = []
    for item in _errors(error):
        key = key_path(item["loc"], document.data, union_tags)
        if item["type"] == "extra_forbidden" and key and isinstance(key[-1], str):
            message = "unknown key"
            close = difflib.get_close_matches(key[-1], words, n=1, cutoff=0.7)
            if close:
                message += f" (did you mean {close[0]!r}?)"
            at = key
        else:
            message = explain(item, key)
            at = key[:-1] if item["type"] == "missing" else key
        where = document.position(at)
        issues.append(SpecIssue(document.path, name(key, document.data), message,
                                where.line if where else None, where.column if where else None))
    return issues
