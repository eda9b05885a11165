"""How messages travel between the grader and a worker: JSON lines and ``.npy`` arrays.

Messages are single JSON lines. Arrays travel as ``.npy`` bytes (base64 in the JSON) that the
trusted side reads with ``allow_pickle=False``; nothing is ever unpickled. A line from a
worker is untrusted: it must nest no deeper than any real message does (checked before the
JSON parser, which would recurse), fit in :data:`MAX_MESSAGE_BYTES`, and an array's ``.npy``
header must agree with its payload before anything is allocated. Anything else is a
:class:`ProtocolError`. What the messages mean is :mod:`.messages`.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import math
import os
import re
import select
import time
from collections.abc import Mapping
from typing import Any, BinaryIO

import numpy as np

from autograder.protocol.parsing import literal

#: Largest message the trusted side accepts from a worker (an output of ~12M float32).
MAX_MESSAGE_BYTES = 64 * 1024 * 1024


class ProtocolError(Exception):
    """A worker sent something that is not a well-formed message."""


class ReplyTimeout(Exception):
    """No complete reply arrived before the deadline."""


class WorkerGone(Exception):
    """The worker closed its end: it exited or was killed."""


def encode_array(array: np.ndarray) -> dict[str, Any]:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return {"kind": "ndarray", "npy": base64.b64encode(buffer.getvalue()).decode("ascii")}


#: Nesting deeper than any real message (a lift event's arguments are cut at depth 4).
MAX_DEPTH = 16
_NPY_MAGIC = b"\x93NUMPY"


def _npy_header(raw: bytes) -> tuple[tuple[int, ...], np.dtype[Any], bool, int]:
    """(shape, dtype, fortran order, where the data starts) of ``.npy`` bytes, read from the
    header alone, so nothing is allocated for a header that lies about its payload."""
    if len(raw) < 10 or not raw.startswith(_NPY_MAGIC):
        raise ProtocolError("malformed array: not .npy data")
    major = raw[6]
    if major == 1:
        length, start = int.from_bytes(raw[8:10], "little"), 10
    elif major in (2, 3):
        length, start = int.from_bytes(raw[8:12], "little"), 12
    else:
        raise ProtocolError(f"malformed array: unknown .npy version {major}")
    if length > 65536 or start + length > len(raw):
        raise ProtocolError("malformed array: its header is cut short")
    try:
        header: Any = literal(raw[start:start + length].decode("latin1"))
        shape = tuple(header["shape"])
        dtype = np.dtype(header["descr"])
        fortran = header["fortran_order"]
    except (ValueError, SyntaxError, TypeError, KeyError, MemoryError, RecursionError) as exc:
        raise ProtocolError(f"malformed array header: {exc}") from None
    if (not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n < 2**40
                for n in shape) or len(shape) > 32 or not isinstance(fortran, bool)):
        raise ProtocolError(f"malformed array header: shape {shape!r}")
    if dtype.hasobject or dtype.kind not in "biufc" or dtype.itemsize == 0:
        raise ProtocolError(f"malformed array header: dtype {dtype!r} is not numeric")
    return shape, dtype, fortran, start + length


def decode_array(message: Any) -> np.ndarray:
    """An ndarray from ``{"kind": "ndarray", "npy": BASE64}``, checked before allocation:
    the header's shape and dtype must account for the payload's size exactly."""
    if not isinstance(message, Mapping) or not isinstance(message.get("npy"), str):
        raise ProtocolError("malformed array: no .npy payload")
    try:
        raw = base64.b64decode(message["npy"], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProtocolError(f"malformed array: {exc}") from None
    shape, dtype, fortran, data = _npy_header(raw)
    expected = math.prod(shape) * dtype.itemsize
    if len(raw) - data != expected:
        raise ProtocolError(f"malformed array: the header says {shape} of {dtype} "
                            f"({expected} bytes) but {len(raw) - data} bytes follow")
    array = np.frombuffer(raw, dtype=dtype, count=math.prod(shape), offset=data)
    return array.reshape(shape, order="F" if fortran else "C").copy()




def send(stream: BinaryIO, message: dict[str, Any]) -> None:
    stream.write(json.dumps(message, separators=(",", ":")).encode("utf-8") + b"\n")
    stream.flush()


_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")


def _depth(line: bytes) -> int:
    """How deep ``[`` and ``{`` nest in a JSON text, strings skipped: the strings and every
    other character are dropped by regular expressions first, so only brackets are walked."""
    brackets = _NOT_BRACKET.sub(b"", _STRING.sub(b"", line))
    depth = deepest = 0
    for byte in brackets:
        if byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def parse(line: bytes) -> dict[str, Any]:
    """One message; anything but a JSON object nesting at most ``MAX_DEPTH`` deep is a
    ProtocolError (checked before the JSON parser, which would recurse into it)."""
    structural = line.count(b"[") + line.count(b"{")
    if structural > MAX_DEPTH and _depth(line) > MAX_DEPTH:
        raise ProtocolError(f"a message nests deeper than {MAX_DEPTH} levels")
    try:
        message = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ProtocolError(f"not JSON: {exc}") from None
    if not isinstance(message, dict):
        raise ProtocolError("a message must be a JSON object")
    return message


class LineReader:
    """Reads newline-terminated JSON messages from a file descriptor, with deadlines.

    Used by the trusted side on the worker's reply pipe: it never blocks past a deadline,
    never buffers more than ``limit`` bytes, and treats anything malformed as a protocol
    error rather than trusting it.
    """

    def __init__(self, fd: int, limit: int = MAX_MESSAGE_BYTES) -> None:
        self.fd = fd
        self.limit = limit
        self._buffer = bytearray()

    def pending(self) -> bool:
        """Whether a message (or part of one) arrived that no request asked for."""
        if self._buffer:
            return True
        ready, _, _ = select.select([self.fd], [], [], 0)
        if not ready:
            return False
        chunk = os.read(self.fd, min(1 << 20, self.limit + 1))
        self._buffer.extend(chunk)
        return bool(chunk)  # an empty read is the worker's end closing: not a message

    def read(self, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            newline = self._buffer.find(b"\n", 0, self.limit + 1)
            if newline >= 0:
                line = bytes(self._buffer[:newline])
                del self._buffer[: newline + 1]
                return parse(line)
            if len(self._buffer) > self.limit:
                raise ProtocolError(f"message larger than {self.limit} bytes")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ReplyTimeout
            ready, _, _ = select.select([self.fd], [], [], remaining)
            if not ready:
                raise ReplyTimeout
            chunk = os.read(self.fd, min(1 << 20, self.limit + 1 - len(self._buffer)))
            if not chunk:
                raise WorkerGone
            self._buffer.extend(chunk)
