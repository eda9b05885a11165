"""What a student worker does to itself before it runs anything of the student's.

Run first thing in the worker (standard library only), while it may still be root:

1. a network namespace of its own (``unshare(CLONE_NEWNET)``), so no connection can leave
   the machine however the code tries (sockets, ctypes, a subprocess running curl); where
   the kernel does not allow it, a Python-level guard still refuses connections with a
   clear message (see :func:`install_network_guard`);
2. when root, a mount namespace of its own, in which: a private, size-limited ``/dev/shm``
   (a tmpfs of its own, gone with the worker's last process) and a System V IPC namespace
   of its own, so shared memory outside any process is bounded and never outlives the
   worker; ``/tmp`` and ``/var/tmp`` are the worker's own temporary folder (counted with its
   files, removed with it), the folders it needs under them mounted back at their paths; and
   a ``/proc`` that shows only its own user's processes (``hidepid=2``), so no command line,
   environment or file descriptor of the grader or of another grading can be read. Where
   the kernel refuses, the trusted side counts and removes such files by the worker's
   group, and the other gradings' processes stay out of reach by their user ids;
3. the kernel's OOM killer told to pick this process first (``oom_score_adj``), so in a
   full container it is the student's worker that goes, never the grader;
4. resource limits: no core files, open files, size of files written, and (when running as
   the dedicated student user) the number of processes;
5. when the grader is root: drop to the unprivileged student user for good (supplementary
   groups, gid, then uid), so the references, hidden cases and results are out of reach.

It returns what it could apply, for the grader to report.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import resource
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

CLONE_NEWNET = 0x40000000
CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND, MS_REC, MS_PRIVATE = (
    0x2, 0x4, 0x8, 0x1000, 0x4000, 0x40000)
MNT_DETACH = 2
#: Shared temporary folders every user may write, replaced by the worker's own.
SHARED_TEMPORARY = ("/tmp", "/var/tmp")
PR_SET_DUMPABLE = 4
PR_SET_PDEATHSIG = 1
NETWORK_MESSAGE = (
    "network access is blocked for code under test: the grader cannot download anything. "
    "Put everything your code needs in your submission."
)


class NetworkBlockedError(PermissionError):
    """Raised when code under test tries to reach the network."""


def _libc() -> Any:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _unshare(flags: int) -> bool:
    try:
        return bool(_libc().unshare(flags) == 0)
    except (OSError, AttributeError):
        return False


def _own_network_namespace() -> bool:
    return _unshare(CLONE_NEWNET)


def _private_shared_memory(size: int) -> bool:
    """A tmpfs of ``size`` bytes over ``/dev/shm``, seen by this process and its children
    only, and a System V IPC namespace whose segments are capped at ``size`` in all."""
    libc = _libc()
    if not _unshare(CLONE_NEWNS):
        return False
    options = f"size={size},mode=1777".encode()
    if (libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None) != 0
            or libc.mount(b"tmpfs", b"/dev/shm", b"tmpfs", MS_NOSUID | MS_NODEV,
                          options) != 0):
        return False
    if _unshare(CLONE_NEWIPC):
        with contextlib.suppress(OSError):
            Path("/proc/sys/kernel/shmmax").write_text(str(size))
            Path("/proc/sys/kernel/shmall").write_text(str(max(1, size // 4096)))
    return True


def _needed_paths() -> list[str]:
    """The paths this worker reads or writes (its folders, the caches, the runtime), so
    that those under a shared temporary folder can be mounted back where they were."""
    found = [os.getcwd(), sys.prefix, sys.base_prefix, sys.exec_prefix,
             *(entry for entry in sys.path if entry)]
    for name in ("HOME", "TMPDIR", "JAX_COMPILATION_CACHE_DIR"):
        if os.environ.get(name):
            found.append(os.environ[name])
    temporary = os.environ.get("TMPDIR")
    if temporary:  # the grading's folder (the staged submission, the workers' folders)
        found.append(os.path.dirname(os.path.dirname(temporary)))
    return found


def _private_temporary(own: str) -> bool:
    """``/tmp`` and ``/var/tmp`` become ``own`` (the worker's temporary folder) in this
    mount namespace; every path the worker needs under them is mounted back in place."""
    libc = _libc()
    wanted = sorted({os.path.realpath(p) for p in _needed_paths()
                     if os.path.isabs(p) and os.path.exists(p)})
    kept: list[str] = []
    for path in wanted:  # the outermost needed paths under a shared temporary folder
        if (any(path.startswith(top + "/") for top in SHARED_TEMPORARY)
                and not any(path.startswith(k + "/") for k in kept)):
            kept.append(path)
    handles: dict[str, int] = {}
    mounted: list[str] = []

    def bind(source: int, target: str) -> None:
        if libc.mount(f"/proc/self/fd/{source}".encode(), target.encode(), None, MS_BIND,
                      None) != 0:
            raise OSError(ctypes.get_errno(), f"bind on {target}")
        mounted.append(target)

    try:
        # By descriptor: once /tmp is replaced, the paths under the old one lead nowhere.
        for path in [own, *kept]:
            handles[path] = os.open(path, os.O_PATH | os.O_CLOEXEC)
        for top in SHARED_TEMPORARY:
            if os.path.isdir(top) and not os.path.islink(top):
                bind(handles[own], top)
        for path in kept:
            if os.path.isdir(f"/proc/self/fd/{handles[path]}"):
                os.makedirs(path, exist_ok=True)
            else:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                open(path, "a").close()  # a mount point
            bind(handles[path], path)
    except OSError:
        for target in reversed(mounted):  # as it was: the shared folders, swept by group
            libc.umount2(target.encode(), MNT_DETACH)
        return False
    finally:
        for handle in handles.values():
            os.close(handle)
    return True


def _private_processes() -> bool:
    """A ``/proc`` of this mount namespace that lists only this user's processes."""
    return bool(_libc().mount(b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                              b"hidepid=2") == 0)


def _set_limit(kind: int, value: int) -> None:
    _, hard = resource.getrlimit(kind)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(kind, (value, value))


def apply(settings: dict[str, Any]) -> dict[str, Any]:
    """Apply the jail described by ``settings`` to this process; what was applied."""
    applied: dict[str, Any] = {"network_namespace": False, "user": None,
                               "private_shm": False, "private_tmp": False,
                               "private_proc": False}
    if not settings.get("network", True):
        applied["network_namespace"] = _own_network_namespace()
    if settings.get("shm_size") and os.geteuid() == 0:
        applied["private_shm"] = _private_shared_memory(int(settings["shm_size"]))
        if applied["private_shm"] and settings.get("private_tmp") and os.environ.get("TMPDIR"):
            applied["private_tmp"] = _private_temporary(os.environ["TMPDIR"])
        if applied["private_shm"] and settings.get("private_proc"):
            applied["private_proc"] = _private_processes()
    if settings.get("oom_first"):
        with contextlib.suppress(OSError):
            Path("/proc/self/oom_score_adj").write_text("1000")
    _set_limit(resource.RLIMIT_CORE, 0)
    if settings.get("nofile"):
        _set_limit(resource.RLIMIT_NOFILE, int(settings["nofile"]))
    if settings.get("fsize"):
        _set_limit(resource.RLIMIT_FSIZE, int(settings["fsize"]))
    uid, gid = settings.get("uid"), settings.get("gid")
    if uid is not None and gid is not None:
        if settings.get("nproc"):
            _set_limit(resource.RLIMIT_NPROC, int(settings["nproc"]))
        os.setgroups([int(g) for g in settings.get("groups", [])])
        os.setgid(int(gid))
        os.setuid(int(uid))
        os.umask(0o077)  # what the code writes in /tmp is its own, not the machine's
        if os.getuid() == 0 or os.geteuid() == 0:  # pragma: no cover - setuid cannot fail open
            raise SystemExit("autograder.worker.jail: could not drop root privileges")
        # After a credential change /proc/self is root's: make it ours again.
        with contextlib.suppress(OSError, AttributeError):
            _libc().prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)
        applied["user"] = int(uid)
    return applied


def parent_death_signal() -> None:
    """Die with the process that started this one (a template outliving its grader)."""
    _libc().prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)


def install_network_guard() -> None:
    """Refuse Internet connections from Python with a message a student understands.

    Unix sockets and the loopback interface stay usable (some libraries talk to themselves).
    """
    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex
    original_getaddrinfo = socket.getaddrinfo

    def blocked(host: Any) -> bool:
        return isinstance(host, str) and host not in ("localhost", "127.0.0.1", "::1", "")

    def guard(method: Callable[..., Any]) -> Callable[..., Any]:
        def connect(self: socket.socket, address: Any, *args: Any) -> Any:
            if self.family in (socket.AF_INET, socket.AF_INET6) and blocked(address[0]):
                raise NetworkBlockedError(f"connecting to {address[0]}: {NETWORK_MESSAGE}")
            return method(self, address, *args)

        return connect

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if blocked(host):
            raise NetworkBlockedError(f"looking up {host}: {NETWORK_MESSAGE}")
        return original_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = guard(original_connect)  # type: ignore[method-assign]
    socket.socket.connect_ex = guard(original_connect_ex)  # type: ignore[method-assign]
    socket.getaddrinfo = getaddrinfo
