"""The wire: plain JSON lines and .npy bytes, never pickles; a reader with deadlines."""

from __future__ import annotations

import base64
import io
import json
import os
import pickle
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from autograder.protocol.wire import (
    LineReader,
    ProtocolError,
    ReplyTimeout,
    WorkerGone,
    decode_array,
    encode_array,
    parse,
    send,
)

# -- arrays and values ----------------------------------------------------------------------


@pytest.mark.parametrize("array", [
    np.arange(12, dtype=np.float32).reshape(3, 4),
    np.array([[1.5, np.nan], [np.inf, -np.inf]], dtype=np.float64),
    np.zeros((), dtype=np.int32),
    np.zeros((0, 3), dtype=np.float16),
    np.array([True, False]),
    np.asfortranarray(np.arange(6, dtype=np.int64).reshape(2, 3)),
])
def test_array_round_trip(array: np.ndarray) -> None:
    message = encode_array(array)
    assert message["kind"] == "ndarray"
    assert isinstance(message["npy"], str)
    decoded = decode_array(json.loads(json.dumps(message)))
    assert decoded.dtype == array.dtype
    assert decoded.shape == array.shape
    np.testing.assert_array_equal(decoded, array)


def test_array_message_is_npy_in_base64() -> None:
    array = np.array([1, 2, 3], dtype=np.int16)
    raw = base64.b64decode(encode_array(array)["npy"])
    assert raw.startswith(b"\x93NUMPY")
    np.testing.assert_array_equal(np.load(io.BytesIO(raw), allow_pickle=False), array)


def npy_message(raw: bytes) -> dict[str, Any]:
    return {"kind": "ndarray", "npy": base64.b64encode(raw).decode("ascii")}


def test_decode_rejects_object_arrays() -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(ProtocolError) as info:
        decode_array(npy_message(buffer.getvalue()))
    assert str(info.value) == "malformed array header: dtype dtype('O') is not numeric"


class Boom:
    """Would run code if it were ever unpickled."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, ("echo pwned",))


def test_decode_rejects_pickles() -> None:
    with pytest.raises(ProtocolError) as info:
        decode_array(npy_message(pickle.dumps(Boom())))
    assert str(info.value) == "malformed array: not .npy data"  # never unpickled


def test_decode_rejects_npz_archives() -> None:
    buffer = io.BytesIO()
    np.savez(buffer, x=np.zeros(3))
    with pytest.raises(ProtocolError) as info:
        decode_array(npy_message(buffer.getvalue()))
    assert str(info.value) == "malformed array: not .npy data"


@pytest.mark.parametrize(("message", "error"), [
    ({"kind": "ndarray", "npy": "!!!not base64!!!"},
     "malformed array: Only base64 data is allowed"),
    ({"kind": "ndarray", "npy": "YWJ"}, "malformed array: Incorrect padding"),
    ({"kind": "ndarray"}, "malformed array: no .npy payload"),
    ({"kind": "ndarray", "npy": 5}, "malformed array: no .npy payload"),
])
def test_decode_rejects_malformed_base64(message: dict[str, Any], error: str) -> None:
    with pytest.raises(ProtocolError) as info:
        decode_array(message)
    assert str(info.value) == error


def test_decode_rejects_truncated_npy() -> None:
    raw = base64.b64decode(encode_array(np.arange(100, dtype=np.float64))["npy"])
    with pytest.raises(ProtocolError) as info:
        decode_array(npy_message(raw[:-8]))
    assert str(info.value).startswith("malformed array: ")


# -- lines ----------------------------------------------------------------------------------


def test_send_writes_one_compact_json_line() -> None:
    stream = io.BytesIO()
    send(stream, {"op": "call", "args": [1, 2.5]})
    send(stream, {"ok": True})
    assert stream.getvalue() == b'{"op":"call","args":[1,2.5]}\n{"ok":true}\n'


def test_parse() -> None:
    assert parse(b'{"a": [1, 2]}') == {"a": [1, 2]}


@pytest.mark.parametrize(("line", "error"), [
    (b"[1, 2]", "a message must be a JSON object"),
    (b'"text"', "a message must be a JSON object"),
    (b"nope", "not JSON: Expecting value: line 1 column 1 (char 0)"),
    (b"", "not JSON: Expecting value: line 1 column 1 (char 0)"),
    (b'{"a": 1', "not JSON: Expecting ',' delimiter: line 1 column 8 (char 7)"),
])
def test_parse_rejects_non_objects(line: bytes, error: str) -> None:
    with pytest.raises(ProtocolError) as info:
        parse(line)
    assert str(info.value) == error


def test_parse_rejects_invalid_utf8() -> None:
    with pytest.raises(ProtocolError) as info:
        parse(b'{"a": "\xff"}')
    assert str(info.value).startswith("not JSON: ")


# -- LineReader over a real pipe ------------------------------------------------------------


class Pipe:
    """Both ends of an os.pipe; each end is closed exactly once (never a reused fd number)."""

    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe()
        self._open = {self.read_fd, self.write_fd}

    def write(self, data: bytes) -> None:
        os.write(self.write_fd, data)

    def close_writer(self) -> None:
        self._close(self.write_fd)

    def _close(self, fd: int) -> None:
        if fd in self._open:
            self._open.discard(fd)
            os.close(fd)

    def close(self) -> None:
        for fd in sorted(self._open):
            self._close(fd)


@pytest.fixture
def pipe() -> Iterator[Pipe]:
    ends = Pipe()
    yield ends
    ends.close()


def test_several_messages_in_one_chunk(pipe: Pipe) -> None:
    pipe.write(b'{"n":1}\n{"n":2}\n{"n":3}\n')
    reader = LineReader(pipe.read_fd)
    assert [reader.read(1.0) for _ in range(3)] == [{"n": 1}, {"n": 2}, {"n": 3}]


def test_message_split_across_writes(pipe: Pipe) -> None:
    reader = LineReader(pipe.read_fd)
    pipe.write(b'{"ok": tr')
    with pytest.raises(ReplyTimeout):
        reader.read(0.05)  # half a message is not a message
    pipe.write(b'ue, "x": 1}\n{"next"')
    assert reader.read(1.0) == {"ok": True, "x": 1}
    pipe.write(b": 2}\n")
    assert reader.read(1.0) == {"next": 2}


def test_message_arriving_from_another_thread(pipe: Pipe) -> None:

    def writer() -> None:
        for part in (b'{"slow', b'": ', b"1}", b"\n"):
            time.sleep(0.01)
            pipe.write(part)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert LineReader(pipe.read_fd).read(5.0) == {"slow": 1}
    finally:
        thread.join()


def test_array_message_through_the_pipe(pipe: Pipe) -> None:
    array = np.arange(20_000, dtype=np.float32)  # ~100 kB of base64: several pipe buffers

    def writer() -> None:
        with os.fdopen(os.dup(pipe.write_fd), "wb") as stream:
            send(stream, {"ok": True, "output": encode_array(array)})

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        message = LineReader(pipe.read_fd).read(5.0)
    finally:
        thread.join()
    np.testing.assert_array_equal(decode_array(message["output"]), array)


def test_timeout_raises_reply_timeout(pipe: Pipe) -> None:
    reader = LineReader(pipe.read_fd)
    start = time.monotonic()
    with pytest.raises(ReplyTimeout):
        reader.read(0.1)
    elapsed = time.monotonic() - start
    assert 0.09 <= elapsed < 2.0


def test_zero_timeout_with_nothing_buffered(pipe: Pipe) -> None:
    with pytest.raises(ReplyTimeout):
        LineReader(pipe.read_fd).read(0)


def test_buffered_message_is_returned_even_with_zero_timeout(pipe: Pipe) -> None:
    pipe.write(b'{"a":1}\n{"b":2}\n')
    reader = LineReader(pipe.read_fd)
    assert reader.read(1.0) == {"a": 1}
    assert reader.read(0) == {"b": 2}


def test_closed_writer_raises_worker_gone(pipe: Pipe) -> None:
    pipe.write(b'{"last":true}\n{"partial"')
    pipe.close_writer()
    reader = LineReader(pipe.read_fd)
    assert reader.read(1.0) == {"last": True}
    with pytest.raises(WorkerGone):
        reader.read(1.0)


def test_oversize_message_raises_protocol_error(pipe: Pipe) -> None:
    reader = LineReader(pipe.read_fd, limit=64)
    pipe.write(b'{"x":"' + b"a" * 100)
    with pytest.raises(ProtocolError) as info:
        reader.read(1.0)
    assert str(info.value) == "message larger than 64 bytes"


def test_oversize_in_several_writes(pipe: Pipe) -> None:
    reader = LineReader(pipe.read_fd, limit=64)
    pipe.write(b'{"x":"' + b"a" * 40)
    with pytest.raises(ReplyTimeout):
        reader.read(0.05)
    pipe.write(b"a" * 40)
    with pytest.raises(ProtocolError):
        reader.read(1.0)


def test_malformed_line_then_good_line(pipe: Pipe) -> None:
    pipe.write(b'garbage\n{"ok":1}\n')
    reader = LineReader(pipe.read_fd)
    with pytest.raises(ProtocolError) as info:
        reader.read(1.0)
    assert str(info.value) == "not JSON: Expecting value: line 1 column 1 (char 0)"
    assert reader.read(1.0) == {"ok": 1}


def test_complete_oversize_message_in_one_chunk_is_refused(pipe: Pipe) -> None:
    reader = LineReader(pipe.read_fd, limit=64)
    pipe.write(b'{"x":"' + b"a" * 200 + b'"}\n')
    try:
        reader.read(1.0)
    except ProtocolError:
        return
    raise AssertionError("a 209-byte message passed a 64-byte limit")


def _npy(shape: tuple[int, ...], payload: bytes, descr: str = "<f4") -> dict[str, Any]:
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}"
    header += " " * (-(len(header) + 11) % 64) + "\n"
    raw = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + payload
    return npy_message(raw)


def test_a_header_must_account_for_its_payload_before_anything_is_allocated() -> None:
    # 50 GiB claimed, 16 bytes sent: refused from the header, nothing allocated.
    with pytest.raises(ProtocolError) as info:
        decode_array(_npy((13_421_772_800,), bytes(16)))
    assert str(info.value) == ("malformed array: the header says (13421772800,) of float32 "
                               "(53687091200 bytes) but 16 bytes follow")
    with pytest.raises(ProtocolError, match="but 20 bytes follow"):
        decode_array(_npy((4,), bytes(20)))  # trailing bytes are not ignored either
    assert decode_array(_npy((2, 2), np.arange(4, dtype="<f4").tobytes())).tolist() == [
        [0.0, 1.0], [2.0, 3.0]]


@pytest.mark.parametrize(("shape", "descr", "error"), [
    ((-1,), "<f4", "shape (-1,)"),
    ((True,), "<f4", "shape (True,)"),
    ((2,), "|V8", "is not numeric"),
    ((2,), "<U3", "is not numeric"),
])
def test_a_header_must_be_plain_numbers(shape: tuple[int, ...], descr: str,
                                        error: str) -> None:
    with pytest.raises(ProtocolError, match=re.escape(error)):
        decode_array(_npy(shape, bytes(8), descr))


def test_nesting_is_bounded_before_the_json_parser_recurses() -> None:
    with pytest.raises(ProtocolError, match="nests deeper than 16 levels"):
        parse(b"[" * 200_000 + b"]" * 200_000)
    assert parse(b'{"a": "[[[[[[[[[[[[[[[[[[[[[[[[", "b": [[1]]}')["b"] == [[1]]
