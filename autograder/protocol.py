"""What crosses the process boundary between the grader and a worker: plain data only.

Messages are single JSON lines. Arrays travel as ``.npy`` bytes (base64 in the JSON) that the
trusted side reads with ``allow_pickle=False``; nothing is ever unpickled. This module is
imported by both sides, so it depends on the standard library and numpy only.
"""

from __future__ import annotations

import base64
import io
import json
import os
import select
import time
from typing import Any, BinaryIO

import numpy as np

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


def decode_array(message: dict[str, Any]) -> np.ndarray:
    try:
        raw = base64.b64decode(message["npy"], validate=True)
        array = np.load(io.BytesIO(raw), allow_pickle=False)
    except (KeyError, TypeError, ValueError, OSError) as exc:
        raise ProtocolError(f"malformed array: {exc}") from None
    if not isinstance(array, np.ndarray):
        raise ProtocolError("malformed array: not an ndarray")
    return array


def encode_value(value: Any) -> dict[str, Any]:
    """An argument: ndarray, or a Python float/int/bool/None."""
    if isinstance(value, np.ndarray):
        return encode_array(value)
    if value is None or isinstance(value, bool | int | float):
        return {"kind": "scalar", "value": value}
    raise TypeError(f"cannot send {type(value).__name__} to a worker")


def decode_value(message: dict[str, Any]) -> Any:
    if message.get("kind") == "ndarray":
        return decode_array(message)
    if message.get("kind") == "scalar":
        value = message.get("value")
        if value is None or isinstance(value, bool | int | float):
            return value
    raise ProtocolError(f"malformed value: {str(message)[:200]}")


def send(stream: BinaryIO, message: dict[str, Any]) -> None:
    stream.write(json.dumps(message, separators=(",", ":")).encode("utf-8") + b"\n")
    stream.flush()


def parse(line: bytes) -> dict[str, Any]:
    """One message; anything but a JSON object is a ProtocolError."""
    try:
        message = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
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
