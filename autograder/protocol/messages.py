"""The messages between the grader and a worker, as frozen records.

Requests (:data:`Request`) go from the trusted side to a worker; replies (:data:`Reply`) and
the worker's first message (:class:`Ready`) come back. On the wire each is one JSON object
tagged with its ``type`` and the ``id`` of the request it answers (:func:`encode`); arrays
travel as ``.npy`` (:mod:`.wire`).

Everything a worker sends is untrusted: code under test shares its process and can write on
the reply channel itself. So a reply is turned back into a record in one place,
:func:`decode_reply`, which checks everything the grader will read: that it answers the
request just made, that every field has its declared type (from the records' annotations),
that lists are of bounded length and that arrays' ``.npy`` headers account for their
payloads. Anything else is a :class:`~.wire.ProtocolError`, which costs the problem being
graded, never the grading. Past that point the engine matches on types, never on keys.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Union

import numpy as np

from autograder.protocol.wire import ProtocolError, decode_array, encode_array

#: A lift the worker recorded: plain JSON data (see :mod:`autograder.worker.trace`).
Event = Mapping[str, Any]

#: Longest list accepted in a reply (lift events: 10,000, one per lifted call is plenty).
MAX_ITEMS = 100_000


def describe_array(dtype: Any, shape: tuple[int, ...]) -> str:
    """``float32[4, 3]``: how an array is named in every message a student reads (what the
    worker says was returned, the arguments of a call, the statement's parameters)."""
    return f"{np.dtype(dtype)}[{', '.join(str(s) for s in shape)}]"


# -- requests: trusted side -> worker --------------------------------------------------------


@dataclass(frozen=True)
class Load:
    """Import ``file`` (below the submission's ``root``) and find ``function`` in it."""

    TYPE: ClassVar[str] = "load"
    function: str
    file: str
    root: str
    #: Record the lifts applied by the code below ``root`` (the student's, not a reference's).
    trace: bool = False


@dataclass(frozen=True)
class Call:
    """Call the loaded ``function`` with ``args`` (arrays and Python scalars)."""

    TYPE: ClassVar[str] = "call"
    function: str
    args: tuple[Any, ...]


@dataclass(frozen=True)
class RunChecks:
    """Run a problem's custom checks (the source of a checks file) on ``function``."""

    TYPE: ClassVar[str] = "checks"
    function: str
    source: str
    filename: str


Request = Load | Call | RunChecks


# -- replies: worker -> trusted side ---------------------------------------------------------


@dataclass(frozen=True)
class ErrorInfo:
    """What went wrong in the worker, as plain data. The defaults are what a student is shown
    when the worker could not say (a reply of another version, or a trimmed one)."""

    #: ``syntax-error``, ``import-error``, ``missing-function``, ``not-callable``,
    #: ``wrong-signature``, ``runtime-error`` or ``worker-error``.
    kind: str
    exc_type: str = "Exception"
    message: str = ""
    traceback: str = ""
    #: Whether the innermost frame is in the submission's own files (not jax's, flax's).
    raised_by_student: bool = True
    filename: str = "?"  # a syntax error's file, line and text
    lineno: int | None = None
    text: str = ""
    signature: str = "(...)"  # the student's, for a wrong signature
    found: str = "value"  # what the name is bound to, when it is not callable
    names: tuple[str, ...] = ()  # the module's public names, when the function is missing
    seconds: float | None = None


@dataclass(frozen=True)
class CellError:
    """A notebook cell that raised (the other cells ran, as in Jupyter)."""

    cell: int
    exc_type: str
    message: str


@dataclass(frozen=True)
class CheckOutcome:
    """One custom check's result (``id`` is ``Class.method``; ``*`` stands for all)."""

    id: str
    status: str  # passed, failed, error, skipped
    message: str = ""
    printed: str = ""
    score: float | None = None


@dataclass(frozen=True)
class Ready:
    """The worker's first message: imports done, the jail applied."""

    TYPE: ClassVar[str] = "ready"
    versions: Mapping[str, str]
    backend: str
    x64: bool = False
    import_seconds: float = 0.0
    #: What the jail could apply (:func:`autograder.worker.jail.apply`).
    jail: Mapping[str, Any] = field(default_factory=dict)

    def environment(self) -> dict[str, Any]:
        """What results record of the worker's environment."""
        return {"versions": dict(self.versions), "backend": self.backend, "x64": self.x64,
                "import_seconds": self.import_seconds, "jail": dict(self.jail)}


@dataclass(frozen=True)
class Loaded:
    """The function was found and is callable."""

    TYPE: ClassVar[str] = "loaded"
    signature: str = "(...)"
    cell_errors: tuple[CellError, ...] = ()
    printed: str = ""


@dataclass(frozen=True)
class Leaf:
    """One variable of a model: its path (``params/Dense_0/kernel``) and shape."""

    path: str
    shape: tuple[int, ...]


@dataclass(frozen=True)
class Variables:
    """The variables of a model the code built (an NNX module's parameters, or what Linen's
    ``init`` returned), recorded where the code handed it to a lift or got it from one."""

    kind: str  # "nnx" or "linen"
    where: str
    leaves: tuple[Leaf, ...]

    @property
    def size(self) -> int:
        """The number of parameters."""
        total = 0
        for leaf in self.leaves:
            count = 1
            for dim in leaf.shape:
                count *= dim
            total += count
        return total


@dataclass(frozen=True)
class Returned:
    """The function returned. ``output`` is the value as an array, when it was array-like
    and not ``too_large`` (then that many bytes) to send."""

    TYPE: ClassVar[str] = "returned"
    returned: str  # what it returned, described: ``float32[4, 3]``, ``tuple(...)``
    seconds: float = 0.0
    output: np.ndarray | None = None
    too_large: int | None = None
    trace: tuple[Event, ...] = ()
    models: tuple[Variables, ...] = ()
    printed: str = ""


@dataclass(frozen=True)
class Raised:
    """Loading or calling failed: the error, and the lifts applied before it."""

    TYPE: ClassVar[str] = "raised"
    error: ErrorInfo
    trace: tuple[Event, ...] | None = None
    models: tuple[Variables, ...] = ()
    cell_errors: tuple[CellError, ...] = ()
    printed: str = ""


@dataclass(frozen=True)
class ChecksRan:
    """The custom checks ran (each check's own outcome says how it went)."""

    TYPE: ClassVar[str] = "checks-ran"
    checks: tuple[CheckOutcome, ...] = ()
    printed: str = ""


Reply = Loaded | Returned | Raised | ChecksRan
Message = Request | Reply | Ready

#: The replies that answer each request (any request may fail: Raised).
ANSWERS: dict[type[Any], tuple[type[Any], ...]] = {
    Load: (Loaded, Raised), Call: (Returned, Raised), RunChecks: (ChecksRan, Raised)}

_BY_TYPE: dict[str, type[Any]] = {cls.TYPE: cls for cls in typing.get_args(Message)}
#: A lift event's keys that the grader reads, with their types.
_EVENT_KEYS: dict[str, tuple[type, ...]] = {
    "lift": (str,), "where": (str, type(None)), "wraps": (str, type(None)),
    "target": (str, list, dict, int, float, bool, type(None)), "args": (dict,),
    "calls": (int,), "scope": (str,), "id": (int,), "resolved": (dict,),
    "arity": (int,),
}


# -- the wire form ---------------------------------------------------------------------------


def encode(message: Message, request_id: int | None = None) -> dict[str, Any]:
    """The JSON object of ``message`` (arrays as ``.npy``), tagged with its type and id."""
    out: dict[str, Any] = {"type": message.TYPE}
    if request_id is not None:
        out["id"] = request_id
    for item in dataclasses.fields(message):
        out[item.name] = _plain(getattr(message, item.name))
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return encode_array(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value


def decode_request(message: Mapping[str, Any]) -> Request:
    """A request as the worker reads it (from its own trusted side)."""
    record = _decode_tagged(message, "a request")
    if not isinstance(record, Load | Call | RunChecks):
        raise ProtocolError(f"{message.get('type')!r} is not a request")
    if isinstance(record, Call):
        return Call(record.function, tuple(_argument(a) for a in record.args))
    return record


def _argument(value: Any) -> Any:
    """An argument of a call: an array (``.npy``) or a Python scalar."""
    if isinstance(value, dict):
        return decode_array(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    raise ProtocolError(f"malformed argument: {str(value)[:200]}")


def decode_ready(message: Mapping[str, Any]) -> Ready:
    """The worker's first message, checked."""
    if message.get("type") != Ready.TYPE:
        raise ProtocolError("the first message was not the worker's 'ready'")
    record = _decode_tagged(message, "ready")
    assert isinstance(record, Ready)
    return record


def decode_reply(message: Mapping[str, Any], expected_id: int, request: Request) -> Reply:
    """A reply as the trusted side may read it, or a ProtocolError: it answers ``request``,
    sent as ``expected_id``, with one of the replies that request can have, and every field
    has its declared type."""
    if message.get("id") != expected_id:
        raise ProtocolError(f"a reply to request {message.get('id')!r} came when request "
                            f"{expected_id} was waiting: something else wrote on the "
                            f"grader's reply channel")
    record = _decode_tagged(message, "the reply")
    if not isinstance(record, ANSWERS[type(request)]):
        raise ProtocolError(f"a {message.get('type')!r} message does not answer a "
                            f"{request.TYPE!r} request")
    return typing.cast(Reply, record)


def _decode_tagged(message: Mapping[str, Any], where: str) -> Any:
    cls = _BY_TYPE.get(str(message.get("type")))
    if cls is None:
        raise ProtocolError(f"{where}: unknown message type {message.get('type')!r}")
    return _record(cls, message, where)


def _record(cls: type[Any], data: Any, where: str) -> Any:
    if not isinstance(data, Mapping):
        raise ProtocolError(f"{where} is not an object")
    hints = _hints(cls)
    values = {}
    for item in dataclasses.fields(cls):
        if item.name not in data:
            if (item.default is dataclasses.MISSING
                    and item.default_factory is dataclasses.MISSING):
                raise ProtocolError(f"{where}: no {item.name!r}")
            continue
        value, at = data[item.name], f"{where}.{item.name}"
        if item.name == "trace" and cls in (Returned, Raised):  # lift events: plain data
            values["trace"] = None if value is None and cls is Raised else tuple(
                _event(e, f"{at}[{i}]") for i, e in enumerate(_items(value, at, 10_000)))
        else:
            values[item.name] = _value(hints[item.name], value, at)
    return cls(**values)


def _items(value: Any, where: str, limit: int = MAX_ITEMS) -> list[Any]:
    if not isinstance(value, list) or len(value) > limit:
        raise ProtocolError(f"{where} is not a list of at most {limit} items")
    return value


def _hints(cls: type[Any]) -> dict[str, Any]:
    cached = _HINTS.get(cls)
    if cached is None:
        cached = _HINTS[cls] = typing.get_type_hints(cls)
    return cached


_HINTS: dict[type[Any], dict[str, Any]] = {}


def _value(hint: Any, value: Any, where: str) -> Any:
    """``value`` checked against the annotation ``hint`` (the few forms records use)."""
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        (inner,) = [o for o in options if o is not type(None)]
        return _value(inner, value, where)
    if hint is np.ndarray:
        return decode_array(value)
    if dataclasses.is_dataclass(hint):
        return _record(typing.cast(type[Any], hint), value, where)
    if origin is tuple:
        item_hint = typing.get_args(hint)[0]
        return tuple(_value(item_hint, v, f"{where}[{i}]")
                     for i, v in enumerate(_items(value, where)))
    if origin is Mapping or hint is Any:
        if origin is Mapping and not isinstance(value, dict):
            raise ProtocolError(f"{where} is not an object")
        if origin is Mapping and typing.get_args(hint)[1] is str and not all(
                isinstance(v, str) for v in value.values()):
            raise ProtocolError(f"{where}: every value must be a string")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ProtocolError(f"{where} is {type(value).__name__}, not a number")
        return float(value)
    if hint in (str, int, bool):
        if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
            raise ProtocolError(f"{where} is {type(value).__name__}, not {hint.__name__}")
        return value
    raise TypeError(f"no decoder for {hint!r}")  # pragma: no cover - a record's own bug


def _event(value: Any, where: str) -> Event:
    if not isinstance(value, dict):
        raise ProtocolError(f"{where} (a lift event) is not an object")
    for key, kinds in _EVENT_KEYS.items():
        if key in value and (not isinstance(value[key], kinds)
                             or (isinstance(value[key], bool) and bool not in kinds)):
            raise ProtocolError(f"{where}: {key!r} is {type(value[key]).__name__}")
    return value
