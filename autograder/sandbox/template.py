"""The worker template seen from the trusted side: start it, ask it for fresh workers.

A :class:`Template` is ``python -I -m autograder.worker --template FD`` (see
:mod:`autograder.worker.forkserver`): it imports numpy, jax, flax and the worker's modules
once and never runs code under test, so every worker forked from it (one per problem, and a
fresh one after any failure) starts from the same pristine state in milliseconds. A
:class:`WorkerSession` keeps one template across gradings. Without a template (macOS) a
worker is a new interpreter.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

from autograder.errors import WorkerError
from autograder.sandbox import memory


def forking_supported() -> bool:
    """Workers are forked from a template on Linux; elsewhere (macOS, where forking a process
    that loaded system frameworks is unsafe) each is a new interpreter."""
    return sys.platform.startswith("linux")


class TemplateError(WorkerError):
    """The template process failed (a grader fault: it never runs code under test)."""


class Template:
    """The fork server (``python -I -m autograder.worker --template FD``), seen from here.

    Started with the workers' environment (JAX reads its configuration at import), it
    imports what a worker needs once; :meth:`spawn` asks it for a fresh worker. Thread-safe
    (the memory watchdog may reap while the grading thread spawns)."""

    def __init__(self, env: Mapping[str, str], cwd: Path, python: str = sys.executable,
                 startup_timeout: float = 180.0) -> None:
        self.env, self.cwd, self.python = dict(env), cwd, python
        self.startup_timeout = startup_timeout
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None
        self._log: BinaryIO | None = None
        #: Anonymous memory of the idle template: its pages that a worker shares are the
        #: template's, not the worker's (see :meth:`WorkerProcess.memory`).
        self.baseline = 0
        self.threads = 0

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start the template (again, if it died: a grading goes on with a new one)."""
        if self.running:
            return
        self._close()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - kept open while it runs
        try:
            self._process = subprocess.Popen(
                [self.python, "-I", "-m", "autograder.worker", "--template",
                 str(theirs.fileno())],
                stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log,
                pass_fds=(theirs.fileno(),), cwd=self.cwd, env=self.env,
                start_new_session=True, close_fds=True)
        finally:
            theirs.close()
        self._control = ours
        ready = self._answer(self.startup_timeout)
        if ready.get("op") != "ready":
            self.stop()
            raise TemplateError(f"the worker template did not start: {ready}")
        self.threads = int(ready.get("threads", 0))
        self.baseline = memory.anonymous_of(self._process.pid)

    def _answer(self, timeout: float) -> dict[str, Any]:
        assert self._control is not None and self._process is not None
        ready, _, _ = select.select([self._control], [], [], timeout)
        data = self._control.recv(1 << 16) if ready else b""
        if not data:
            self._process.poll()
            log = ""
            if self._log is not None:
                self._log.seek(0)
                log = self._log.read()[-4000:].decode("utf-8", "replace")
            raise TemplateError(f"the worker template stopped answering (exit code "
                                f"{self._process.returncode}):\n{log}")
        answer: dict[str, Any] = json.loads(data)
        if "error" in answer:
            raise TemplateError(f"the worker template refused: {answer['error']}")
        return answer

    def spawn(self, cwd: Path, env: Mapping[str, str], jail: Mapping[str, Any],
              fds: tuple[int, int, int]) -> int:
        """A fresh worker with ``fds`` as its stdin, output and reply channel; its pid."""
        with self._lock:
            if not self.running:
                self.start()
            assert self._control is not None
            message = json.dumps({"op": "spawn", "cwd": str(cwd), "env": dict(env),
                                  "jail": dict(jail)}).encode()
            socket.send_fds(self._control, [message], list(fds))
            return int(self._answer(30.0)["pid"])

    def reap(self, pid: int) -> int | None:
        """Wait for a worker that has exited (or was killed); its exit code."""
        with self._lock:
            if self._control is None:
                return None
            self._control.send(json.dumps({"op": "reap", "pid": pid}).encode())
            status = self._answer(30.0).get("status")
            return int(status) if isinstance(status, int) else None

    def stop(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self._control is not None:
            self._control.close()
            self._control = None
        if self._process is not None:
            if self._process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait()
            self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Template:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class _Forked:
    """A worker forked by a template, with the part of ``Popen``'s interface used here."""

    def __init__(self, template: Template, pid: int, stdin: BinaryIO, stdout: BinaryIO) -> None:
        self.template, self.pid, self.stdin, self.stdout = template, pid, stdin, stdout
        self.returncode: int | None = None
        self._lock = threading.Lock()  # the watchdog and the grading thread both poll

    def poll(self) -> int | None:
        with self._lock:
            if self.returncode is None and _exited(self.pid):
                code = self.template.reap(self.pid)
                self.returncode = -signal.SIGKILL if code is None else code
            return self.returncode

    def wait(self, timeout: float | None = None) -> int | None:
        deadline = time.monotonic() + (timeout or 30.0)
        while self.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        return self.returncode


def _exited(pid: int) -> bool:
    """Whether ``pid`` has exited (a zombie waiting for its parent to reap it, or gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (OSError, IndexError):
        return True
def _same_configuration(a: Mapping[str, str], b: Mapping[str, str]) -> bool:
    """Whether two worker environments configure JAX alike (each worker has its own home)."""
    def strip(env: Mapping[str, str]) -> dict[str, str]:
        return {k: v for k, v in env.items() if k not in ("HOME", "TMPDIR")}

    return strip(a) == strip(b)


class WorkerSession:
    """Keeps the worker template from one :func:`grade` call to the next (``validate``
    grading a problem's reference, starter and mistake examples; a regrade's gradings):
    JAX is imported once for the batch. The template never runs code under test, and every
    worker it forks starts from its pristine state, so sharing it shares nothing between
    the gradings but the imports."""

    def __init__(self) -> None:
        self._template: Template | None = None
        self._folder = tempfile.TemporaryDirectory(prefix="autograder-session-")

    def template(self, env: Mapping[str, str]) -> Template:
        """A template started with ``env`` (JAX reads its configuration at import)."""
        if self._template is not None and not _same_configuration(self._template.env, env):
            self._template.stop()
            self._template = None
        if self._template is None:
            self._template = Template(env, Path(self._folder.name))
        return self._template

    def __enter__(self) -> WorkerSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._template is not None:
            self._template.stop()
            self._template = None
        self._folder.cleanup()


