"""How spec errors read: where an issue is, in the words of the reports, and what to write.

A location names a case as the grading reports do, counted from 1 and with its name, then
the key path inside it (``case 3 (wide inputs).tolerance.rtl``); a mistake and a parameter
likewise (``mistake 2 (shared-rng).detect.variant``, ``parameter 1 (seed).type``). Inside an
entry, list indices stay those of the YAML list, from 0 (``detect[1]``, ``shape[0]``).

pydantic's generic messages ("Input should be a valid dictionary or instance of Tolerance")
become a sentence of ours with an example of the right form, chosen by the error's type and
the key (:data:`EXAMPLES`); an error type without a sentence keeps pydantic's message.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from typing import Any

from pydantic_core import ErrorDetails

from autograder.spec.source import KeyPath, format_key_path

#: The spec's lists whose entries are named as people count them: noun, key of the name.
LABELLED = {"cases": ("case", "name"), "mistakes": ("mistake", "id"),
            "parameters": ("parameter", "name")}


def location(key: KeyPath, data: Any) -> str:
    """``('cases', 2, 'tolerance', 'rtl')`` -> ``case 3 (wide inputs).tolerance.rtl``, the
    name read from ``data`` (the spec as written) where the entry has one."""
    if len(key) < 2 or not isinstance(key[0], str) or key[0] not in LABELLED \
            or not isinstance(key[1], int):
        return format_key_path(key)
    noun, name_key = LABELLED[key[0]]
    entries = data.get(key[0]) if isinstance(data, dict) else None
    entry = entries[key[1]] if isinstance(entries, list) and key[1] < len(entries) else None
    name = entry.get(name_key) if isinstance(entry, dict) else None
    head = f"{noun} {key[1] + 1}" + (f" ({name})" if isinstance(name, str) and name else "")
    rest = format_key_path(key[2:])
    return head + ("" if not rest else rest if rest.startswith("[") else f".{rest}")


# -- examples of the right form, by key ------------------------------------------------------

#: A table of examples: the right form of a key, by the end of its key path (see
#: :data:`EXAMPLES`).
Examples = Mapping[str, str]
#: A sentence of ours for one pydantic error type: (error, key, examples) -> message.
Sentence = Callable[[ErrorDetails, KeyPath, Examples], str]

#: An example of the right form of a key, by the end of its key path: ``[]`` marks a list
#: entry, ``*`` any one key (an argument's name). The longest pattern that matches wins.
EXAMPLES: dict[str, str] = {
    "function": "function: vmap_over_batch",
    "title": 'title: "NNX vmap over a batch"',
    "summary": "summary: One paragraph for the statement.",
    "parameters": "parameters: [{name: x_batch, type: array}]",
    "parameters[]": "- {name: x_batch, type: array}",
    "parameters[].name": "name: x_batch",
    "parameters[].type": "type: array",
    "doc": 'doc: "batch of shape (B, D_in)"',
    "returns": "returns: {dtype: float32, shape: [x_batch.shape[0], features]}",
    "returns.shape": "shape: [x_batch.shape[0], features]",
    "returns.shape[]": "shape: [x_batch.shape[0], features]",
    "dtype": "dtype: float32",
    "points": "points: 10",
    "structure.points": "points: 2",
    "time_limit": "time_limit: 60",
    "tolerance": "tolerance: {rtol: 1e-5, atol: 1e-6}",
    "rtol": "rtol: 1e-5",
    "atol": "atol: 1e-6",
    "constraints": 'constraints: ["x_batch.shape[-1] == features"]',
    "constraints[]": '- "x_batch.shape[-1] == features"',
    "reference": "reference: reference.py",
    "variants": "variants: mistakes.py",
    "checks": "checks: checks.py",
    "structure": "structure: {points: 2, expect: [{lift: nnx.vmap}]}",
    "expect": "expect: [{lift: nnx.vmap, args: {in_axes: [null, 0]}}]",
    "expect[]": "- {lift: nnx.vmap, args: {in_axes: [null, 0]}}",
    "accept": "accept: [{because: ..., expect: [{lift: Rngs.fork}], example: rngs_fork}]",
    "accept[]": "- {because: ..., expect: [{lift: Rngs.fork}], example: rngs_fork}",
    "because": 'because: "Rngs.fork(split=N) makes the same stacked keys"',
    "example": "example: shared_rng",
    "mistakes": "mistakes: [{id: shared-rng, summary: ..., fix: ..., detect: {...}}]",
    "mistakes[]": "- {id: shared-rng, summary: ..., fix: ..., detect: {variant: shared_rng}}",
    "mistakes[].id": "id: shared-rng",
    "mistakes[].summary": 'summary: "Every member of your ensemble gives the same output."',
    "mistakes[].fix": 'fix: "Split the key with nnx.split_rngs(splits=N) ..."',
    "credit": "credit: 0.5",
    "detect": "detect: {variant: shared_rng}",
    "detect[]": "- {variant: shared_rng}",
    "output": "output: transposed",
    "variant": "variant: shared_rng",
    "reference_args": "reference_args: {seed: 0}",
    "returned": "returned: '^tuple'",
    "error": 'error: "Invalid rng value"',
    "params": "params: extra-axis",
    "has": "has: [{lift: nnx.vmap, args: {in_axes: 0}}]",
    "has[]": "- {lift: nnx.vmap, args: {in_axes: 0}}",
    "lacks": "lacks: [{lift: nnx.split_rngs}]",
    "lacks[]": "- {lift: nnx.split_rngs}",
    "lift": "lift: nnx.vmap",
    "wraps": "wraps: nn.scan",
    "args": "args: {in_axes: [null, 0]}",
    "cases": "cases: [{name: a batch of one, args: {...}}]",
    "cases[]": "- {name: a batch of one, args: {seed: 0, x_batch: {generate: normal, "
               "shape: [1, 3]}}}",
    "cases[].name": 'name: "a batch of one"',
    "cases[].args": "args: {seed: 0, x_batch: {generate: normal, shape: [4, 3], seed: 7}}",
    "visibility": "visibility: hidden",
    "weight": "weight: 2",
    "cases[].time_limit": "time_limit: 120",
    "generate": "generate: normal",
    "shape": "shape: [4, 3]",
    "shape[]": "shape: [4, 3]",
    "seed": "seed: 7",
    "low": "low: -1.0",
    "high": "high: 1.0",
    "loc": "loc: 0.0",
    "scale": "scale: 10.0",
    "value": "value: [[1.0, 2.0], [3.0, 4.0]]",
}


def _segments(key: KeyPath) -> list[str]:
    out: list[str] = []
    for part in key:
        if isinstance(part, int):
            if out:
                out[-1] += "[]"
        else:
            out.append(part)
    return out


def example(key: KeyPath, examples: Examples = EXAMPLES) -> str | None:
    """The example for ``key`` in ``examples`` (a table like :data:`EXAMPLES`): that of its
    longest matching pattern."""
    segments = _segments(key)
    best: tuple[int, str] | None = None
    for pattern, text in examples.items():
        wanted = pattern.split(".")
        matches = len(wanted) <= len(segments) and all(
            w in ("*", s) for w, s in zip(wanted, segments[-len(wanted):], strict=True))
        if matches and (best is None or len(wanted) > best[0]):
            best = (len(wanted), text)
    return best[1] if best else None


# -- sentences -------------------------------------------------------------------------------


def _got(value: Any) -> str:
    """What was written instead, in YAML's words."""
    if value is None:
        return "empty (null)"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _as_number_hint(value: Any) -> str:
    """A text that looks like a number: why YAML read it as text."""
    if not isinstance(value, str):
        return ""
    try:
        number = float(value)
    except ValueError:
        return ""
    if "_" in value:
        return f" (YAML reads a number written with `_` as text: write {number:g})"
    return " (remove the quotes)"


def _such(key: KeyPath, examples: Examples, default: str) -> str:
    found = example(key, examples)
    return f" such as `{found}`" if found else default


def _choices(error: ErrorDetails) -> list[str]:
    ctx = error.get("ctx") or {}
    expected = str(ctx.get("expected") or ctx.get("expected_tags") or "")
    return re.findall(r"'([^']*)'", expected)


def _choice(error: ErrorDetails, key: KeyPath, examples: Examples) -> str:
    choices = _choices(error)
    if not choices:
        return error["msg"]
    value = error["input"]
    text = f"must be one of {', '.join(choices)}, not {_got(value)}"
    close = (difflib.get_close_matches(value, choices, n=1, cutoff=0.6)
             if isinstance(value, str) else [])
    return text + (f" (did you mean {close[0]!r}?)" if close else "")


def _for_example(key: KeyPath, examples: Examples) -> str:
    found = example(key, examples)
    return f" (e.g. `{found}`)" if found else ""


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _bound(word: str, name: str) -> Sentence:
    def sentence(error: ErrorDetails, key: KeyPath, examples: Examples) -> str:
        limit = (error.get("ctx") or {}).get(name)
        return (f"must be {word} {_number(limit)}, not {_number(error['input'])}"
                f"{_for_example(key, examples)}")
    return sentence


def _too_short(error: ErrorDetails, key: KeyPath, examples: Examples) -> str:
    least = (error.get("ctx") or {}).get("min_length", 1)
    entries = "entry" if least == 1 else "entries"
    return f"needs at least {least} {entries}{_for_example(key, examples)}"


def _missing(error: ErrorDetails, key: KeyPath, examples: Examples) -> str:
    found = example(key, examples)
    return "required key is missing: add " + (f"`{found}`" if found else "it")


def _pattern(error: ErrorDetails, key: KeyPath, examples: Examples) -> str:
    if key and key[-1] == "id":
        return (f"must be lowercase words of letters and digits joined by dashes"
                f"{_such(key, examples, '')}, not {_got(error['input'])}")
    pattern = (error.get("ctx") or {}).get("pattern", "")
    return f"must match the pattern {pattern}, not {_got(error['input'])}"


def _kind(noun: str, default: str, hint: bool = False) -> Sentence:
    def sentence(error: ErrorDetails, key: KeyPath, examples: Examples) -> str:
        value = error["input"]
        extra = _as_number_hint(value) if hint else ""
        return f"must be {noun}{_such(key, examples, default)}, not {_got(value)}{extra}"
    return sentence


def _text(error: ErrorDetails, key: KeyPath, examples: Examples) -> str:
    value = error["input"]
    quote = ""
    if isinstance(value, bool | int | float):
        shown = str(value).lower() if isinstance(value, bool) else repr(value)
        quote = f' (put it in quotes to keep it as text: "{shown}")'
    return f"must be text{_such(key, examples, '')}, not {_got(value)}{quote}"


def _bool(error: ErrorDetails, key: KeyPath, examples: Examples) -> str:
    return f"must be `true` or `false`, not {_got(error['input'])}"


_MAPPING = _kind("a mapping", " (`key: value` lines, or `{key: value, ...}`)")
_LIST = _kind("a list", " such as `[a, b]` (or one `- item` per line)")
_NUMBER = _kind("a number", " such as `0.5` or `1e-5`", hint=True)
_WHOLE = _kind("a whole number", " such as `3`", hint=True)

#: Our sentence for each pydantic error type that has one.
SENTENCES: dict[str, Sentence] = {
    "dict_type": _MAPPING, "model_type": _MAPPING, "model_attributes_type": _MAPPING,
    "dataclass_type": _MAPPING,
    "list_type": _LIST, "tuple_type": _LIST, "set_type": _LIST, "iterable_type": _LIST,
    "float_type": _NUMBER, "float_parsing": _NUMBER, "finite_number": _NUMBER,
    "int_type": _WHOLE, "int_parsing": _WHOLE, "int_from_float": _WHOLE,
    "bool_type": _bool, "bool_parsing": _bool,
    "string_type": _text,
    "literal_error": _choice, "enum": _choice, "union_tag_invalid": _choice,
    "greater_than": _bound("greater than", "gt"),
    "greater_than_equal": _bound("at least", "ge"),
    "less_than": _bound("less than", "lt"),
    "less_than_equal": _bound("at most", "le"),
    "too_short": _too_short,
    "missing": _missing,
    "string_pattern_mismatch": _pattern,
}


def explainer(examples: Examples) -> Callable[[ErrorDetails, KeyPath], str]:
    """The wording of a file's errors, with ``examples`` of its keys (a table like
    :data:`EXAMPLES`): for another loader, with its own keys."""
    def explain(error: ErrorDetails, key: KeyPath) -> str:
        sentence = SENTENCES.get(error["type"])
        if sentence is None:
            return error["msg"].removeprefix("Value error, ")
        return sentence(error, key, examples)
    return explain


#: Our sentence for a pydantic error about a key of a problem spec, else pydantic's own
#: message (a validator's ``ValueError`` is ours already: its text, without the prefix).
explain = explainer(EXAMPLES)
