"""What a student worker does to itself before it runs anything of the student's.

Run first thing in the worker (standard library only), while it may still be root:

1. a network namespace of its own (``unshare(CLONE_NEWNET)``), so no connection can leave
   the machine however the code tries (sockets, ctypes, a subprocess running curl); where
   the kernel does not allow it, a Python-level guard still refuses connections with a
   clear message (see :func:`install_network_guard`);
2. resource limits: no core files, open files, size of files written, and (when running as
   the dedicated student user) the number of processes;
3. when the grader is root: drop to the unprivileged student user for good (supplementary
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
from collections.abc import Callable
from typing import Any

CLONE_NEWNET = 0x40000000
PR_SET_DUMPABLE = 4
NETWORK_MESSAGE = (
    "network access is blocked for code under test: the grader cannot download anything. "
    "Put everything your code needs in your submission."
)


class NetworkBlockedError(PermissionError):
    """Raised when code under test tries to reach the network."""


def _libc() -> Any:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _own_network_namespace() -> bool:
    try:
        return bool(_libc().unshare(CLONE_NEWNET) == 0)
    except (OSError, AttributeError):
        return False


def _set_limit(kind: int, value: int) -> None:
    _, hard = resource.getrlimit(kind)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(kind, (value, value))


def apply(settings: dict[str, Any]) -> dict[str, Any]:
    """Apply the jail described by ``settings`` to this process; what was applied."""
    applied: dict[str, Any] = {"network_namespace": False, "user": None}
    if not settings.get("network", True):
        applied["network_namespace"] = _own_network_namespace()
    _set_limit(resource.RLIMIT_CORE, 0)
    if settings.get("nofile"):
        _set_limit(resource.RLIMIT_NOFILE, int(settings["nofile"]))
    if settings.get("fsize"):
        _set_limit(resource.RLIMIT_FSIZE, int(settings["fsize"]))
    uid, gid = settings.get("uid"), settings.get("gid")
    if uid is not None and gid is not None:
        if settings.get("nproc"):
            _set_limit(resource.RLIMIT_NPROC, int(settings["nproc"]))
        os.setgroups([])
        os.setgid(int(gid))
        os.setuid(int(uid))
        if os.getuid() == 0 or os.geteuid() == 0:  # pragma: no cover - setuid cannot fail open
            raise SystemExit("autograder.jail: could not drop root privileges")
        # After a credential change /proc/self is root's: make it ours again.
        with contextlib.suppress(OSError, AttributeError):
            _libc().prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)
        applied["user"] = int(uid)
    return applied


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
