"""The messages: frozen records that round-trip through JSON, checked once at the boundary."""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import pytest

from autograder.protocol.messages import (
    Call,
    CellError,
    CheckOutcome,
    ChecksRan,
    ErrorInfo,
    Load,
    Loaded,
    Raised,
    Ready,
    Returned,
    RunChecks,
    decode_ready,
    decode_reply,
    decode_request,
    describe_array,
    encode,
)
from autograder.protocol.wire import ProtocolError


def through_json(message: dict[str, Any]) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(json.dumps(message))
    return decoded


@pytest.mark.parametrize("request_", [
    Load("f", "/s/solution.py", "/s", trace=True),
    RunChecks("f", "import unittest\n", "checks.py"),
])
def test_requests_round_trip(request_: Load | RunChecks) -> None:
    assert decode_request(through_json(encode(request_, 7))) == request_


@pytest.mark.parametrize("value", [0, -7, 2.5, float("inf"), True, False, None])
def test_scalar_arguments_keep_their_python_type(value: Any) -> None:
    (decoded,) = decode_request(through_json(encode(Call("f", (value,)), 1))).args
    assert decoded == value and type(decoded) is type(value)


def test_array_arguments_travel_as_npy() -> None:
    array = np.linspace(0, 1, 5, dtype=np.float32)
    message = encode(Call("f", (array, np.float32(2.0))), 1)
    assert message["args"][0]["kind"] == "ndarray" and message["args"][1] == 2.0
    decoded = decode_request(through_json(message))
    assert isinstance(decoded, Call)
    np.testing.assert_array_equal(decoded.args[0], array)


@pytest.mark.parametrize("argument", ["text", [1], {"kind": "pickle"}])
def test_malformed_arguments_are_refused(argument: Any) -> None:
    message = {"type": "call", "id": 1, "function": "f", "args": [argument]}
    with pytest.raises(ProtocolError, match="malformed"):
        decode_request(message)


@pytest.mark.parametrize("reply_and_request", [
    (Loaded("(seed, x)", (CellError(3, "NameError", "name 'x' is not defined"),)),
     Load("f", "a", "b")),
    (Returned("float32[2]", 0.5, np.ones(2, np.float32),
              trace=({"lift": "nnx.vmap", "args": {"in_axes": [None, 0]}, "calls": 1},)),
     Call("f", ())),
    (Returned("tuple(float32[2], None)", 0.1), Call("f", ())),
    (Raised(ErrorInfo("runtime-error", "ValueError", "bad", "Traceback...", False, seconds=1.5),
            trace=()), Call("f", ())),
    (ChecksRan((CheckOutcome("A.test_x", "passed", score=1.0),)), RunChecks("f", "", "c.py")),
])
def test_replies_round_trip(reply_and_request: tuple[Any, Any]) -> None:
    reply, request = reply_and_request
    decoded = decode_reply(through_json(encode(reply, 4)), 4, request)
    assert type(decoded) is type(reply)
    if isinstance(reply, Returned) and reply.output is not None:
        assert isinstance(decoded, Returned) and decoded.output is not None
        np.testing.assert_array_equal(decoded.output, reply.output)
        assert decoded.trace == reply.trace
    else:
        assert decoded == reply


def test_ready_round_trips_and_must_come_first() -> None:
    ready = Ready({"jax": "0.10.2"}, "cpu", False, 0.3, {"private_shm": True})
    assert decode_ready(through_json(encode(ready))) == ready
    with pytest.raises(ProtocolError, match="the first message was not the worker's 'ready'"):
        decode_ready(encode(Loaded(), 1))


def test_a_reply_must_answer_the_request_waiting() -> None:
    with pytest.raises(ProtocolError, match="a reply to request 3 came when request 4"):
        decode_reply(encode(Loaded(), 3), 4, Load("f", "a", "b"))


def test_a_reply_must_be_one_that_answers_its_request() -> None:
    """A forged 'loaded' in answer to a call is the worker's protocol violation, never a
    grader fault."""
    with pytest.raises(ProtocolError, match="a 'loaded' message does not answer a 'call'"):
        decode_reply(encode(Loaded(), 1), 1, Call("f", ()))
    with pytest.raises(ProtocolError, match="a 'call' message does not answer a 'call'"):
        decode_reply(encode(Call("f", ()), 1), 1, Call("f", ()))


@pytest.mark.parametrize(("reply", "error"), [
    ({"type": "returned"}, "the reply: no 'returned'"),
    ({"type": "returned", "returned": "x", "printed": 5}, "the reply.printed is int, not str"),
    ({"type": "returned", "returned": "x", "seconds": True}, "seconds is bool, not a number"),
    ({"type": "returned", "returned": "x", "trace": [{"lift": 5}]},
     "the reply.trace[0]: 'lift' is int"),
    ({"type": "returned", "returned": "x", "trace": "x"}, "is not a list of at most 10000"),
    ({"type": "returned", "returned": "x", "trace": [{}] * 10_001}, "at most 10000 items"),
    ({"type": "raised"}, "the reply: no 'error'"),
    ({"type": "raised", "error": "boom"}, "the reply.error is not an object"),
    ({"type": "raised", "error": {"message": "x"}}, "the reply.error: no 'kind'"),
    ({"type": "raised", "error": {"kind": "runtime-error", "lineno": "3"}},
     "the reply.error.lineno is str, not int"),
    ({"type": "checks-ran", "checks": [{"id": "a"}]}, "the reply.checks[0]: no 'status'"),
    ({"type": "returned", "returned": "x", "output": {"kind": "ndarray", "npy": "AAAA"}},
     "not .npy data"),
    ({"type": "pickle"}, "unknown message type 'pickle'"),
])
def test_replies_are_typed_at_the_boundary(reply: dict[str, Any], error: str) -> None:
    request = RunChecks("f", "", "c.py") if reply["type"] == "checks-ran" else Call("f", ())
    with pytest.raises(ProtocolError, match=re.escape(error)):
        decode_reply({**reply, "id": 1}, 1, request)


def test_versions_must_be_strings() -> None:
    with pytest.raises(ProtocolError, match="every value must be a string"):
        decode_ready({"type": "ready", "versions": {"jax": 1}, "backend": "cpu"})


def test_arrays_are_described_one_way() -> None:
    assert describe_array(np.float32, (4, 3)) == "float32[4, 3]"
    assert describe_array("int32", ()) == "int32[]"
