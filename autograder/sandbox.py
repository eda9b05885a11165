"""Worker processes seen from the trusted side: spawn, ask, time out, kill, capture.

Every worker runs in its own session (so its whole process group can be killed at once),
with a minimal environment that configures JAX before ``import jax``, and with its printed
output captured through a pipe that keeps only the first ``output_limit`` bytes. A reply
that does not come in time, a worker that dies, or a malformed message are all returned as
a :class:`Failure` value for the caller to turn into feedback.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from autograder import protocol

#: Environment variables passed from the grader to workers when set (JAX/XLA configuration).
PASSED_THROUGH = ("JAX_PLATFORMS", "XLA_FLAGS", "JAX_DEFAULT_MATMUL_PRECISION",
                  "JAX_COMPILATION_CACHE_DIR", "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS",
                  "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "TMPDIR")


def worker_environment(grader_env: Mapping[str, str], home: Path,
                       compile_cache: Path | None = None) -> dict[str, str]:
    """A minimal environment: nothing of the grader's beyond JAX's configuration, and JAX's
    persistent compilation cache when one is given (every program cached, however quick to
    compile: the reference's, warmed at setup, are the student's when the code is right)."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "JAX_PLATFORMS": "cpu",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    env.update({k: grader_env[k] for k in PASSED_THROUGH if k in grader_env})
    if compile_cache is not None:
        env.update(JAX_COMPILATION_CACHE_DIR=str(compile_cache),
                   JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
                   JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0")
    return env


def _real_gid(pid: str) -> int | None:
    """A process's real group id, from ``status`` (readable even when the process made
    itself non-dumpable, which hides the owner of its other ``/proc`` files)."""
    with open(f"/proc/{pid}/status", "rb") as handle:
        for line in handle:
            if line.startswith(b"Gid:"):
                return int(line.split()[1])
    return None


def proportional_memory(pids: Iterable[int]) -> int:
    """Memory used by ``pids`` in bytes, each shared page split between its users (PSS), so
    forked children are not counted again for the pages they share with their parent."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup", "rb") as handle:
                for line in handle:
                    if line.startswith(b"Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
        except (OSError, ValueError, IndexError):
            continue
    return total


@dataclass(frozen=True)
class StudentUser:
    """The unprivileged account student code runs as when the grader is root."""

    name: str
    uid: int
    gid: int


@dataclass(frozen=True)
class Limits:
    """What a student worker may use. ``memory`` is the memory of all its processes
    (proportional set size: shared pages split between the processes sharing them)."""

    memory: int | None = None
    nproc: int = 512  # threads count too, and XLA starts a few dozen
    nofile: int = 1024
    fsize: int = 256 * 1024 * 1024
    network: bool = False

    def jail(self, user: StudentUser | None, gid: int | None) -> dict[str, Any]:
        settings: dict[str, Any] = {"network": self.network, "nofile": self.nofile,
                                    "fsize": self.fsize}
        if user is not None:
            settings.update(uid=user.uid, gid=gid if gid is not None else user.gid,
                            nproc=self.nproc)
        return settings


#: Group ids given to workers, one per worker: every process a worker starts keeps it (only
#: root can change it), so its processes can be found and killed without touching those of
#: another worker of the same user (concurrent gradings, ``--jobs``).
WORKER_GROUPS = range(200_000, 300_000)


@dataclass(frozen=True)
class WorkerSpec:
    """How to start a worker. A worker without ``limits`` is trusted (the reference's)."""

    env: Mapping[str, str]
    cwd: Path
    python: str = sys.executable
    startup_timeout: float = 180.0
    output_limit: int = 64 * 1024
    limits: Limits | None = None
    user: StudentUser | None = None


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


Reply = dict[str, Any] | Failure


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

    def __init__(self, spec: WorkerSpec) -> None:
        self.spec = spec
        self.info: dict[str, Any] = {}
        self.capture = _Capture(spec.output_limit)
        self._process: subprocess.Popen[bytes] | None = None
        self._reader: protocol.LineReader | None = None
        self._thread: threading.Thread | None = None
        self._dead: Failure | None = None
        #: Set when the worker was killed for using more memory than its limit.
        self.memory_exceeded = False
        self._watching = threading.Event()
        self._mark = 0  # where in the captured output the current request began
        self.gid: int | None = None  # this worker's own group, when it runs as the student

    def __enter__(self) -> WorkerProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def healthy(self) -> bool:
        """Running, and never failed a request (so it may serve another problem)."""
        return (self._process is not None and self._process.poll() is None
                and self._dead is None and not self.memory_exceeded)

    def start(self) -> Reply:
        """Spawn the worker and wait for its ``ready`` message (JAX imported)."""
        read_fd, write_fd = os.pipe()
        command = [self.spec.python, "-I", "-m", "autograder.worker", "--reply-fd", str(write_fd)]
        if self.spec.user is not None:
            self.gid = random.choice(WORKER_GROUPS)
        if self.spec.limits is not None:
            command += ["--jail", json.dumps(self.spec.limits.jail(self.spec.user, self.gid))]
        try:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                pass_fds=(write_fd,), cwd=self.spec.cwd, env=dict(self.spec.env),
                start_new_session=True, close_fds=True,
            )
        finally:
            os.close(write_fd)
        self._reader = protocol.LineReader(read_fd)
        self._read_fd = read_fd
        self._thread = threading.Thread(target=self.capture.pump,
                                        args=(self._process.stdout,), daemon=True)
        self._thread.start()
        self._watching.set()
        threading.Thread(target=self._watch_memory, daemon=True).start()
        reply = self._receive(time.monotonic(), self.spec.startup_timeout)
        if isinstance(reply, dict):
            self.info = reply
        return reply

    def request(self, message: dict[str, Any], timeout: float) -> Reply:
        """Send one request and wait at most ``timeout`` seconds for its reply."""
        start = time.monotonic()
        if self._dead is not None:
            return self._dead
        self._mark = len(self.capture.head)
        assert self._process is not None and self._process.stdin is not None
        try:
            protocol.send(self._process.stdin, message)  # type: ignore[arg-type]
        except (BrokenPipeError, OSError):
            return self._fail("crashed", start)
        return self._receive(start, timeout)

    def _receive(self, start: float, timeout: float) -> Reply:
        assert self._reader is not None
        try:
            return self._reader.read(timeout)
        except protocol.ReplyTimeout:
            return self._fail("timeout", start)
        except protocol.WorkerGone:
            return self._fail("crashed", start)
        except protocol.ProtocolError as exc:
            return self._fail("protocol", start, str(exc))

    def _fail(self, kind: Literal["timeout", "crashed", "protocol"], start: float,
              detail: str = "") -> Failure:
        exit_code = self._kill()
        seconds = time.monotonic() - start
        if self._thread is not None:  # every process is dead: the pipe ends, the pump stops
            self._thread.join(timeout=2)
        printed = self.capture.text(self._mark).strip()
        if self.memory_exceeded:  # the watchdog killed it: say why
            kind = "memory"  # type: ignore[assignment]
        self._dead = Failure(kind, seconds, exit_code, detail, printed)
        return self._dead

    def _processes(self) -> list[int]:
        """Every live process of this worker: its session, and whatever runs in its own
        group (daemons that left the session included). Zombies (dead, waiting to be reaped
        by init) hold nothing and are left out."""
        assert self._process is not None
        found: list[int] = []
        if not os.path.isdir("/proc"):  # macOS: no process table to read (nor a watchdog)
            return found
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as handle:
                    fields = handle.read().rsplit(b")", 1)[1].split()
                if fields[0] == b"Z":
                    continue
                if int(fields[3]) == self._process.pid or (
                        self.gid is not None and _real_gid(entry.name) == self.gid):
                    found.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
        return found

    def _watch_memory(self) -> None:
        """Sample the resident memory of the worker's processes; kill them over the limit."""
        limit = self.spec.limits.memory if self.spec.limits is not None else None
        process = self._process
        while process is not None and process.poll() is None and self._watching.is_set():
            rss = proportional_memory(self._processes())
            if limit is not None and rss > limit:
                self.memory_exceeded = True
                self._kill()
                return
            time.sleep(0.03)

    def _kill(self) -> int | None:
        """Kill the worker's process group and, for a worker running as the student user,
        every process in its own group (a daemon that left the session included)."""
        process = self._process
        if process is None:
            return None
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        if self.gid is not None:
            for _ in range(10):  # a fork bomb may still be forking: repeat until none is left
                pids = [p for p in self._processes() if p != os.getpid()]
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

    def stop(self) -> None:
        """Kill the worker's whole process group and collect what it printed."""
        if self._process is None:
            return
        self._watching.clear()
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
