"""Worker processes seen from the trusted side: start, ask, time out, kill, clean up.

A worker is forked from a :class:`Template`, a process that imported numpy, jax, flax and the
worker's modules once and never runs code under test, so every worker (one per problem,
and a fresh one after any failure) starts from the same pristine state in milliseconds.
Without a template (macOS, or a one-off trusted job) a worker is a new interpreter.

Every worker runs in its own session (its whole process group is killed at once) and, as
the student, in a group id of its own that every process and file it makes carries; it
gets a fresh home and temporary folder, and a writable copy of the submission as its working
folder, all removed with it, with whatever it left in the machine's shared scratch folders
and shared memory. Its memory is watched as the kernel counts it (:mod:`autograder.sandbox.memory`).
A reply that does not come in time, a worker that dies, or a message that fails the
protocol's checks are all returned as a :class:`Failure` value for the caller to turn into
feedback.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal

from autograder.errors import WorkerError
from autograder.protocol import wire as protocol
from autograder.sandbox import memory

#: Environment variables passed from the grader to workers when set (JAX/XLA configuration).
PASSED_THROUGH = ("JAX_PLATFORMS", "XLA_FLAGS", "JAX_DEFAULT_MATMUL_PRECISION",
                  "JAX_COMPILATION_CACHE_DIR", "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS",
                  "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES")


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
        # numpy's BLAS would start a thread per core at import: none in a forking template.
        "OPENBLAS_NUM_THREADS": "1",
    }
    env.update({k: grader_env[k] for k in PASSED_THROUGH if k in grader_env})
    if compile_cache is not None:
        env.update(JAX_COMPILATION_CACHE_DIR=str(compile_cache),
                   JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
                   JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0")
    return env


@dataclass(frozen=True)
class StudentUser:
    """The unprivileged account student code runs as when the grader is root."""

    name: str
    uid: int
    gid: int


@dataclass(frozen=True)
class Limits:
    """What a student worker may use. ``memory`` is what its processes and files hold that
    the kernel cannot reclaim (see :mod:`autograder.sandbox.memory`)."""

    memory: int | None = None
    nproc: int = 512  # threads count too, and XLA starts a few dozen
    nofile: int = 1024
    fsize: int = 256 * 1024 * 1024
    network: bool = False

    def jail(self, user: StudentUser | None, gid: int | None) -> dict[str, Any]:
        settings: dict[str, Any] = {"network": self.network, "nofile": self.nofile,
                                    "fsize": self.fsize, "oom_first": True,
                                    "shm_size": self.memory or 64 * 2**20}
        if user is not None:
            settings.update(uid=user.uid, gid=gid if gid is not None else user.gid,
                            nproc=self.nproc)
        return settings


class _Groups:
    """Group ids for workers, one per live worker: every process a worker starts keeps it
    (only root can change it) and so does every file it creates, so its processes and files
    are found without touching another worker's. Unique within this grader (a counter) and
    across graders on the machine (a lock file per id, made with ``O_EXCL``)."""

    FIRST, COUNT = 200_000, 100_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next = os.getpid() % self.COUNT
        self._folder = Path(tempfile.gettempdir()) / f"autograder-groups-{os.geteuid()}"

    def allocate(self) -> int:
        with self._lock:
            self._folder.mkdir(mode=0o700, exist_ok=True)
            for _ in range(self.COUNT):
                gid = self.FIRST + self._next
                self._next = (self._next + 1) % self.COUNT
                claim = self._folder / str(gid)
                try:
                    fd = os.open(claim, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
                except FileExistsError:
                    if self._stale(claim):
                        claim.unlink(missing_ok=True)
                    continue
                os.write(fd, str(os.getpid()).encode())
                os.close(fd)
                return gid
        raise RuntimeError("no free worker group id")

    @staticmethod
    def _stale(claim: Path) -> bool:
        """A claim whose grader is gone."""
        try:
            owner = int(claim.read_text() or "0")
        except (OSError, ValueError):
            return False
        return owner != os.getpid() and not Path(f"/proc/{owner}").exists()

    def release(self, gid: int) -> None:
        (self._folder / str(gid)).unlink(missing_ok=True)


GROUPS = _Groups()


@dataclass(frozen=True)
class WorkerSpec:
    """How to start a worker. A worker without ``limits`` is trusted (the reference's).

    With ``scratch``, each worker gets a folder of its own there (a fresh ``home``, ``tmp``
    and a copy of ``cwd`` to work in), removed when it stops."""

    env: Mapping[str, str]
    cwd: Path
    python: str = sys.executable
    startup_timeout: float = 180.0
    output_limit: int = 64 * 1024
    limits: Limits | None = None
    user: StudentUser | None = None
    scratch: Path | None = None


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


def _real_gid(pid: str) -> int | None:
    """A process's real group id, from ``status`` (readable even when the process made
    itself non-dumpable, which hides the owner of its other ``/proc`` files)."""
    with open(f"/proc/{pid}/status", "rb") as handle:
        for line in handle:
            if line.startswith(b"Gid:"):
                return int(line.split()[1])
    return None


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


#: How often the watchdog samples a worker's memory, and (every SCAN_EVERY samples) looks
#: again for the worker's processes (a scan of the whole process table) and for the files
#: and shared memory it made outside them. Between scans only the processes already found
#: are read, so the watchdog costs the grader little CPU.
SAMPLE_SECONDS = 0.03
SCAN_EVERY = 8


class WorkerProcess:
    """One worker process. Use as a context manager; it is always killed on exit."""

    def __init__(self, spec: WorkerSpec, template: Template | None = None) -> None:
        self.spec = spec
        self.template = template
        self.info: dict[str, Any] = {}
        self.capture = _Capture(spec.output_limit)
        self._process: subprocess.Popen[bytes] | _Forked | None = None
        self._reader: protocol.LineReader | None = None
        self._thread: threading.Thread | None = None
        self._dead: Failure | None = None
        #: Set when the worker was killed for using more memory than its limit.
        self.memory_exceeded = False
        self._watching = threading.Event()
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
    def _uid(self) -> int | None:
        return self.spec.user.uid if self.spec.user is not None else None

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

    def start(self) -> Reply:
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
        self._reader = protocol.LineReader(read_fd)
        self._read_fd = read_fd
        self._thread = threading.Thread(target=self.capture.pump,
                                        args=(self._process.stdout,), daemon=True)
        self._thread.start()
        self._watching.set()
        threading.Thread(target=self._watch_memory, daemon=True).start()
        reply = self._receive(time.monotonic(), self.spec.startup_timeout, None)
        if isinstance(reply, dict):
            self.info = reply
        return reply

    def _fork(self, cwd: Path, env: Mapping[str, str], settings: Mapping[str, Any],
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

    def request(self, message: dict[str, Any], timeout: float) -> Reply:
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
        try:
            protocol.send(self._process.stdin, {**message, "id": self._requests})  # type: ignore[arg-type]
        except (BrokenPipeError, OSError):
            return self._fail("crashed", start)
        return self._receive(start, timeout, self._requests)

    def _receive(self, start: float, timeout: float, request_id: int | None) -> Reply:
        assert self._reader is not None
        try:
            return protocol.check_reply(self._reader.read(timeout), request_id)
        except protocol.ReplyTimeout:
            return self._fail("timeout", start)
        except protocol.WorkerGone:
            return self._fail("crashed", start)
        except protocol.ProtocolError as exc:
            return self._fail("protocol", start, str(exc))

    def _fail(self, kind: Literal["timeout", "crashed", "protocol"], start: float,
              detail: str = "") -> Failure:
        killed_before = self._killed
        exit_code = self._kill()
        seconds = time.monotonic() - start
        if self._thread is not None:  # every process is dead: the pipe ends, the pump stops
            self._thread.join(timeout=2)
        printed = self.capture.text(self._mark).strip()
        if self.memory_exceeded or (kind == "crashed" and not killed_before
                                    and exit_code == -signal.SIGKILL and self._oom_killed()):
            self.memory_exceeded = True  # the watchdog, or the kernel, killed it: say why
            kind = "memory"  # type: ignore[assignment]
        self._dead = Failure(kind, seconds, exit_code, detail, printed)
        return self._dead

    def _oom_killed(self) -> bool:
        """Whether the kernel's OOM killer killed a process of the container meanwhile."""
        now = self._container.oom_kills()
        return now is not None and self._oom_kills is not None and now > self._oom_kills

    def _processes(self) -> list[int]:
        """Every live process of this worker: its session, and whatever runs in its own
        group (daemons that left the session included). Zombies (dead, waiting to be reaped)
        hold nothing and are left out."""
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

    def _outside_processes(self) -> int:
        """What the worker keeps in memory outside its processes: files on tmpfs (its private
        ``/dev/shm``, else the shared ones, by its group) and System V shared memory."""
        if self.gid is None or self._process is None:
            return 0
        held = sum(size for _, size in memory.shm_segments_of_group(self.gid))
        mounts = memory.memory_mounts()
        tops = [m for m in mounts if m in memory.SHARED_SCRATCH]
        if self.folder is not None and any(str(self.folder).startswith(m + "/")
                                           for m in mounts):
            tops.append(str(self.folder))
        if self.info.get("jail", {}).get("private_shm"):
            tops = [t for t in tops if t != "/dev/shm"]
            with contextlib.suppress(OSError):
                usage = os.statvfs(f"/proc/{self._process.pid}/root/dev/shm")
                held += (usage.f_blocks - usage.f_bfree) * usage.f_frsize
        return held + memory.files_of_group(self.gid, tops, self._uid)

    def memory(self, outside: int = 0, processes: list[int] | None = None) -> int:
        """What the worker holds that the kernel cannot reclaim: its ``processes``' share of
        anonymous and shared memory (all of them, found afresh, by default), plus
        ``outside`` (files, segments). Pages a forked worker still shares with its template
        are the template's: the template's share of them is added back and its idle
        baseline taken off, so only what the worker made counts."""
        if processes is None:
            processes = self._processes()
        held = memory.unreclaimable(processes) + outside
        if self.template is not None and self.template.pid is not None:
            held += memory.unreclaimable_of(self.template.pid) - self.template.baseline
        return max(0, held)

    def _watch_memory(self) -> None:
        """Sample the worker's memory; kill it over the limit. Each sample reads an upper
        bound in constant time (:func:`memory.resident`); only when that is over the limit
        is the exact count made, so a worker far below its limit is not slowed down."""
        limit = self.spec.limits.memory if self.spec.limits is not None else None
        process = self._process
        outside, sample, members = 0, 0, []
        while process is not None and process.poll() is None and self._watching.is_set():
            if sample % SCAN_EVERY == 0:
                members = self._processes()
                outside = self._outside_processes()
            sample += 1
            # The exact count (smaps_rollup) only when the cheap upper bound is over.
            if (limit is not None and memory.resident(members) + outside > limit
                    and self.memory(outside, members) > limit):
                self.memory_exceeded = True
                self._kill()
                return
            time.sleep(SAMPLE_SECONDS)

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

    def _clean_up(self) -> None:
        """Remove the worker's folder and whatever its group left in the shared scratch
        folders and System V shared memory; give its group id back."""
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None
        if self.gid is not None:
            memory.remove_files_of_group(self.gid, memory.SHARED_SCRATCH, self._uid)
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
        self._clean_up()
