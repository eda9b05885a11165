"""What a worker is given: its environment, its limits, the user and group it runs as.

A student worker runs as the unprivileged student user (when the grader is root) in a group
id of its own, which every process it starts and every file it creates carries, so they are
found and removed without touching another worker's (:class:`Groups`).
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Environment variables passed from the grader to workers when set (JAX/XLA configuration).
PASSED_THROUGH = ("JAX_PLATFORMS", "XLA_FLAGS", "JAX_DEFAULT_MATMUL_PRECISION",
                  "JAX_COMPILATION_CACHE_DIR", "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS",
                  "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES")


def worker_environment(grader_env: Mapping[str, str], home: Path,
                       compile_cache: Path | None = None) -> dict[str, str]:
    """A minimal environment: nothing of the grader's beyond JAX's configuration, and JAX's
    persistent compilation cache when one is given (every program cached, however quick to
    compile: the reference's, warmed at setup, are the student's when the code is right).
    No ``PYTHON*`` variables: a worker is forked, or started with ``-I``, and ignores them;
    it sets in-process what they would (no bytecode written, line-buffered output)."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
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
                                    "shm_size": self.memory or 64 * 2**20,
                                    "private_tmp": True, "private_proc": True}
        if user is not None:
            # The user's own group stays a supplementary one: it reads the staged submission.
            settings.update(uid=user.uid, gid=gid if gid is not None else user.gid,
                            groups=[user.gid], nproc=self.nproc)
        return settings


class Groups:
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
                if take(claim):
                    return gid
                if stale(claim):
                    claim.unlink(missing_ok=True)
        raise RuntimeError("no free worker group id")

    def release(self, gid: int) -> None:
        (self._folder / str(gid)).unlink(missing_ok=True)


GROUPS = Groups()


def take(claim: Path) -> bool:
    """Make the claim file ``claim``, holding this process's id, unless it exists: whole
    or not at all (written aside, then linked into place), so no one reads it half made."""
    aside = claim.with_name(f".{claim.name}.{os.getpid()}.{threading.get_ident()}")
    aside.write_text(str(os.getpid()))
    try:
        os.link(aside, claim)
        return True
    except FileExistsError:
        return False
    finally:
        aside.unlink(missing_ok=True)


def stale(claim: Path) -> bool:
    """A claim whose process is gone (another process's: this one's are never stale)."""
    try:
        owner = int(claim.read_text())
    except (OSError, ValueError):
        return False
    return owner != os.getpid() and not Path(f"/proc/{owner}").exists()


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
