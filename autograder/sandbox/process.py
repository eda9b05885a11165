"""A worker process seen from the trusted side: start, ask, time out, kill, clean up.

A worker is forked from a :class:`~.template.Template` (or, without one, is a new
interpreter). It runs in its own session (its whole process group is killed at once) and,
as the student, in a group id of its own; it gets a fresh home and temporary folder, and a
writable copy of the submission as its working folder, all removed with it, with whatever
it left in the machine's shared scratch folders and shared memory. Its memory is watched as
the kernel counts it (:mod:`.watchdog`). Every reply is decoded once, here, into a typed
record (:mod:`autograder.protocol.messages`); a reply that does not come in time, a worker
that dies, or a message that fails the protocol's checks are a :class:`Failure` value for
the caller to turn into feedback.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal

from autograder.protocol import wire
from autograder.protocol.messages import Ready, Reply, Request, decode_ready, decode_reply, encode
from autograder.sandbox import memory
from autograder.sandbox.limits import GROUPS, WorkerSpec
from autograder.sandbox.template import Template, _Forked
from autograder.sandbox.watchdog import Members, Watchdog


@dataclass(frozen=True)
class Failure:
    """A request that got no usable answer."""

    kind: Literal["timeout", "crashed", "protocol", "memory"]
    seconds: float
    exit_code: int | None = None
    detail: str = ""
    #: What the worker printed while handling the failed request (kept before the kill).
    printed: str = ""

    @property
    def signal_name(self) -> str | None:
        if self.exit_code is not None and self.exit_code < 0:
            try:
                return signal.Signals(-self.exit_code).name
            except ValueError:
                return f"signal {-self.exit_code}"
        return None

    def explain(self) -> str:
        """For staff: what happened, in one line."""
        return (f"{self.kind} after {self.seconds:.1f}s (exit code {self.exit_code}) "
                f"{self.detail}")


@dataclass
class _Capture:
    """Keeps the first ``limit`` bytes a worker prints and counts the rest."""

    limit: int
    head: bytearray = field(default_factory=bytearray)
    dropped: int = 0

    def pump(self, stream: Any) -> None:
        for chunk in iter(lambda: stream.read1(65536), b""):
            room = self.limit - len(self.head)
            self.head.extend(chunk[:room])
            self.dropped += max(0, len(chunk) - room)

    def text(self, start: int = 0) -> str:
        text = self.head[start:].decode("utf-8", errors="replace")
        if self.dropped:
            text += f"\n[... {self.dropped} more bytes of output not kept]"
        return text


class WorkerProcess:
    """One worker process. Use as a context manager; it is always killed on exit."""

    def __init__(self, spec: WorkerSpec, template: Template | None = None) -> None:
        self.spec = spec
        self.template = template
        #: The worker's ``ready`` message, once it started.
        self.ready: Ready | None = None
        self.capture = _Capture(spec.output_limit)
        self._process: subprocess.Popen[bytes] | _Forked | None = None
        self._reader: wire.LineReader | None = None
        self._read_fd = -1
        self._thread: threading.Thread | None = None
        self._dead: Failure | None = None
        self._watchdog: Watchdog | None = None
        self._members: Members | None = None
        self._mark = 0  # where in the captured output the current request began
        self._requests = 0
        self.gid: int | None = None  # this worker's own group, when it runs as the student
        self.folder: Path | None = None  # its scratch folder
        self._oom_kills: int | None = None
        self._container = memory.container()
        self._killed = False

    def __enter__(self) -> WorkerProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def memory_exceeded(self) -> bool:
        """Whether the worker was killed for using more memory than its limit."""
        return self._watchdog is not None and self._watchdog.exceeded

    def memory(self) -> int:
        """What the worker holds now that the kernel cannot reclaim (see :mod:`.watchdog`)."""
        return self._members.memory(self._members.outside_processes()) if self._members else 0

    def _prepare(self) -> tuple[Path, dict[str, str]]:
        """The worker's folder and environment: with a scratch base, a fresh folder of its
        own (home, tmp, and a copy of the submission to work in), owned by the student."""
        env = dict(self.spec.env)
        if self.spec.scratch is None:
            return self.spec.cwd, env
        self.folder = Path(tempfile.mkdtemp(prefix="worker-", dir=self.spec.scratch))
        work, home, tmp = self.folder / "work", self.folder / "home", self.folder / "tmp"
        shutil.copytree(self.spec.cwd, work, symlinks=False)
        home.mkdir()
        tmp.mkdir()
        if self.spec.user is not None:
            gid = self.gid if self.gid is not None else self.spec.user.gid
            for path in [self.folder, *self.folder.rglob("*")]:
                os.chown(path, self.spec.user.uid, gid, follow_symlinks=False)
        self.folder.chmod(0o700)
        env.update(HOME=str(home), TMPDIR=str(tmp))
        return work, env

    def start(self) -> Ready | Failure:
        """Start the worker and wait for its ``ready`` message (JAX imported)."""
        if self.spec.user is not None:
            self.gid = GROUPS.allocate()
        self._oom_kills = self._container.oom_kills()
        cwd, env = self._prepare()
        settings = self.spec.limits.jail(self.spec.user, self.gid) if self.spec.limits else {}
        read_fd, write_fd = os.pipe()
        if self.template is not None:
            self._process = self._fork(cwd, env, settings, write_fd)
        else:
            command = [self.spec.python, "-I", "-m", "autograder.worker",
                       "--reply-fd", str(write_fd), "--jail", json.dumps(settings)]
            try:
                self._process = subprocess.Popen(
                    command,
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                    pass_fds=(write_fd,), cwd=cwd, env=env,
                    start_new_session=True, close_fds=True,
                )
            finally:
                os.close(write_fd)
        self._reader = wire.LineReader(read_fd)
        self._read_fd = read_fd
        self._thread = threading.Thread(target=self.capture.pump,
                                        args=(self._process.stdout,), daemon=True)
        self._thread.start()
        process = self._process
        self._members = Members(process.pid, self.gid,
                                self.spec.user.uid if self.spec.user is not None else None,
                                self.folder, template=self.template)
        limit = self.spec.limits.memory if self.spec.limits is not None else None
        self._watchdog = Watchdog(self._members, limit, lambda: process.poll() is None,
                                  self._kill)
        self._watchdog.start()
        ready = self._receive(time.monotonic(), self.spec.startup_timeout, None)
        if isinstance(ready, Failure):
            return ready
        assert isinstance(ready, Ready)
        self.ready = ready
        self._members.private_shm = bool(ready.jail.get("private_shm"))
        return ready

    def _fork(self, cwd: Path, env: dict[str, str], settings: dict[str, Any],
              reply_w: int) -> _Forked:
        assert self.template is not None
        stdin_r, stdin_w = os.pipe()
        out_r, out_w = os.pipe()
        try:
            pid = self.template.spawn(cwd, env, settings, (stdin_r, out_w, reply_w))
        finally:
            for fd in (stdin_r, out_w, reply_w):
                os.close(fd)
        return _Forked(self.template, pid, os.fdopen(stdin_w, "wb"), os.fdopen(out_r, "rb"))

    def request(self, request: Request, timeout: float) -> Reply | Failure:
        """Send one request and wait at most ``timeout`` seconds for its reply."""
        start = time.monotonic()
        if self._dead is not None:
            return self._dead
        assert self._reader is not None
        if self._reader.pending():
            return self._fail("protocol", start, "the worker sent a message nobody asked for")
        self._mark = len(self.capture.head)
        self._requests += 1
        assert self._process is not None and self._process.stdin is not None
        stdin: BinaryIO = self._process.stdin  # type: ignore[assignment]
        try:
            wire.send(stdin, encode(request, self._requests))
        except (BrokenPipeError, OSError):
            return self._fail("crashed", start)
        reply = self._receive(start, timeout, request)
        assert not isinstance(reply, Ready)
        return reply

    def _receive(self, start: float, timeout: float,
                 request: Request | None) -> Ready | Reply | Failure:
        """The answer to ``request`` (None: the ``ready`` message), decoded and checked."""
        assert self._reader is not None
        try:
            message = self._reader.read(timeout)
            if request is None:
                return decode_ready(message)
            return decode_reply(message, self._requests, request)
        except wire.ReplyTimeout:
            return self._fail("timeout", start)
        except wire.WorkerGone:
            return self._fail("crashed", start)
        except wire.ProtocolError as exc:
            return self._fail("protocol", start, str(exc))

    def _fail(self, kind: Literal["timeout", "crashed", "protocol"], start: float,
              detail: str = "") -> Failure:
        killed_before = self._killed
        exit_code = self._kill()
        seconds = time.monotonic() - start
        if self._thread is not None:  # every process is dead: the pipe ends, the pump stops
            self._thread.join(timeout=2)
        printed = self.capture.text(self._mark).strip()
        reason: Literal["timeout", "crashed", "protocol", "memory"] = kind
        oom = (kind == "crashed" and not killed_before and exit_code == -signal.SIGKILL
               and self._oom_killed())
        if self.memory_exceeded or oom:
            if self._watchdog is not None:
                self._watchdog.exceeded = True  # the watchdog, or the kernel, killed it
            reason = "memory"
        self._dead = Failure(reason, seconds, exit_code, detail, printed)
        return self._dead

    def _oom_killed(self) -> bool:
        """Whether the kernel's OOM killer killed a process of the container meanwhile."""
        now = self._container.oom_kills()
        return now is not None and self._oom_kills is not None and now > self._oom_kills

    def _kill(self) -> int | None:
        """Kill the worker's process group and, for a worker running as the student user,
        every process in its own group (a daemon that left the session included)."""
        process = self._process
        if process is None:
            return None
        self._killed = True
        process.poll()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # its session, leader dead or not
        if self.gid is not None and self._members is not None:
            for _ in range(10):  # a fork bomb may still be forking: repeat until none is left
                pids = [p for p in self._members.processes() if p != os.getpid()]
                if not pids:
                    break
                for pid in pids:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(pid, signal.SIGKILL)
                time.sleep(0.01)
        try:
            return process.wait(timeout=30)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL does not fail
            return None

    def _clean_up(self) -> None:
        """Remove the worker's folder and whatever its group left in the shared scratch
        folders and System V shared memory; give its group id back."""
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None
        if self.gid is not None:
            uid = self.spec.user.uid if self.spec.user is not None else None
            memory.remove_files_of_group(self.gid, memory.SHARED_SCRATCH, uid)
            for segment, _ in memory.shm_segments_of_group(self.gid):
                memory.remove_shm_segment(segment)
            GROUPS.release(self.gid)
            self.gid = None

    def stop(self) -> None:
        """Kill the worker's whole process group, collect what it printed, clean up."""
        if self._process is None:
            if self.gid is not None or self.folder is not None:
                self._clean_up()
            return
        if self._watchdog is not None:
            self._watchdog.stop()
        if self._process.stdin is not None:
            with contextlib.suppress(OSError):
                self._process.stdin.close()
        self._kill()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._process.stdout is not None:
            self._process.stdout.close()
        if self._reader is not None:
            os.close(self._read_fd)
            self._reader = None
        if self._dead is None:
            self._dead = Failure("crashed", 0.0, self._process.returncode, "stopped")
        self._clean_up()
