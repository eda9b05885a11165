"""The one place the worker calls code under test, as pytest's ``CallInfo.from_call`` is.

:func:`call` runs a callable and keeps what happened: its value, or the exception it raised
(any ``BaseException``: ``SystemExit`` and ``KeyboardInterrupt`` from student code are
outcomes too), and how long it took. :func:`error_info` turns such an exception into the
plain :class:`~autograder.protocol.messages.ErrorInfo` a reply carries, with the traceback as
a student should read it: the student's frames and the libraries', never the grader's.
:class:`Printed` keeps what the code prints during one request.
"""

from __future__ import annotations

import contextlib
import io
import os
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from autograder.protocol.messages import ErrorInfo

T = TypeVar("T")

TRACEBACK_LIMIT = 6000
MESSAGE_LIMIT = 2000
#: The grader's own package: its frames (the worker, the lift recorders) are not the
#: student's and are left out of the tracebacks students read.
_PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "")
#: Folders whose files are the student's (the submission's root, added on load): removed
#: from the paths in tracebacks, and where a frame must be to be the student's own.
STUDENT_ROOTS: list[str] = []


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """What a call of foreign code did: returned ``value`` or raised ``error``."""

    value: T | None
    error: BaseException | None
    seconds: float


def call(function: Callable[[], T]) -> Outcome[T]:
    """Run ``function()``; whatever it does, return what happened."""
    start = time.perf_counter()
    try:
        value = function()
    except BaseException as exc:  # SystemExit and KeyboardInterrupt are the code's outcomes
        return Outcome(None, exc, time.perf_counter() - start)
    return Outcome(value, None, time.perf_counter() - start)


def error_info(kind: str, exc: BaseException, **extra: Any) -> ErrorInfo:
    """The reply's account of ``exc``."""
    if isinstance(exc, SyntaxError):
        return ErrorInfo(kind, exc_type=type(exc).__name__, message=exc.msg or "",
                         traceback=format_exception(exc),
                         raised_by_student=raised_by_student(exc),
                         filename=Path(exc.filename or "?").name, lineno=exc.lineno,
                         text=(exc.text or "").rstrip(), **extra)
    return ErrorInfo(kind, exc_type=type(exc).__name__, message=str(exc)[:MESSAGE_LIMIT],
                     traceback=format_exception(exc),
                     raised_by_student=raised_by_student(exc), **extra)


def _short_path(filename: str) -> str:
    """``solution.py`` for the submission's files, ``flax/nnx/...`` for installed packages."""
    for prefix in STUDENT_ROOTS:
        if filename.startswith(prefix):
            return filename[len(prefix):]
    marker = "site-packages" + os.sep
    return filename.split(marker, 1)[1] if marker in filename else filename


#: JAX's note under an error whose traceback it filtered: not the student's concern.
_JAX_NOTE = "--------------------\nFor simplicity, JAX has removed its internal frames"


def format_exception(exc: BaseException) -> str:
    """The traceback as a student should see it: the grader's own frames removed, and the
    libraries' (jax, flax) too when the student's own frames are there to read."""
    kept = [f for f in traceback.extract_tb(exc.__traceback__)
            if not os.path.abspath(f.filename).startswith(_PACKAGE)]
    own = [f for f in kept if f.filename.startswith(tuple(STUDENT_ROOTS))]
    hidden = len(kept) - len(own) if own else 0
    frames = traceback.StackSummary.from_list([
        traceback.FrameSummary(_short_path(f.filename), f.lineno, f.name, line=f.line)
        for f in (own or kept)])
    text = "Traceback (most recent call last):\n" if frames else ""
    text += "".join(traceback.format_list(frames))
    if hidden:
        text += f"  ({hidden} frame{'s' if hidden > 1 else ''} outside your files not shown)\n"
    text += "".join(traceback.format_exception_only(type(exc), exc)).split(_JAX_NOTE)[0]
    if len(text) > TRACEBACK_LIMIT:
        text = "...\n" + text[-TRACEBACK_LIMIT:]
    return text


def raised_by_student(exc: BaseException) -> bool:
    """Whether the innermost frame of ``exc`` is in the submission's own files (not in
    jax, flax or numpy, whose errors a student caused but did not write)."""
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and any(frames[-1].filename.startswith(p) for p in STUDENT_ROOTS)


class Printed(io.StringIO):
    """What the code under test prints during one request, kept up to a limit, and passed on
    to the real stream (the grader keeps that copy in case the request never returns)."""

    LIMIT = 8192

    def __init__(self, tee: Any) -> None:
        super().__init__()
        self.tee = tee
        self.dropped = 0

    def write(self, text: str) -> int:
        with contextlib.suppress(Exception):
            self.tee.write(text)
        room = self.LIMIT - self.tell()
        if room > 0:
            super().write(text[:room])
        self.dropped += max(0, len(text) - max(room, 0))
        return len(text)

    def text(self) -> str:
        return self.getvalue() + (f"\n[... {self.dropped} more characters]"
                                  if self.dropped else "")


@contextlib.contextmanager
def printing_into(buffer: Printed) -> Iterator[Printed]:
    """Print into ``buffer`` (and, for a crash, still to the real streams' pipe)."""
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        yield buffer
