"""Setting up isolation on the trusted side: the student user, file permissions, limits.

When the grader runs as root (as on Gradescope), student code runs as a dedicated
unprivileged user that cannot read the problems folder (references, mistakes files,
hidden cases, specs) or the expected-output cache, and cannot write the results or the
grader's code. Not root (a student's laptop), it runs as the same user, and the grader says
so once. Memory is limited by default to what the container leaves (its cgroup limit, or the
machine's memory) minus the grader's own share.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from autograder.sandbox import memory
from autograder.sandbox.limits import StudentUser

STUDENT_USER = "autograder-student"
#: What the worker template holds that a worker does not pay for (measured: 81 MB of
#: anonymous memory after importing numpy, jax and flax, plus its page tables).
TEMPLATE_RESERVE = 112 * 2**20
#: The kernel's share of a container: page tables, sockets, pipes, and the working set of
#: library pages (jaxlib's) that it cannot drop without thrashing.
KERNEL_RESERVE = 96 * 2**20
#: No worker gets less: JAX itself needs this much to run a small program.
MINIMUM = 256 * 2**20
#: A ceiling on the default: no exercise of this course needs more.
DEFAULT_CAP = 3 * 1024 * 1024 * 1024


@dataclass(frozen=True)
class Isolation:
    """How student code is isolated on this run, and how to say it."""

    user: StudentUser | None
    note: str  # one line for the report; mentions when isolation is reduced


def container_memory() -> int:
    """The memory this container may use: its cgroup's limit, else the machine's memory."""
    return memory.container().limit or memory.machine_memory()


def default_memory_limit(share: int = 1) -> int:
    """What one student worker may hold (of ``share`` running side by side): the container's
    memory less what the grading itself keeps there (this process, the worker template and
    the kernel's own), at most ``DEFAULT_CAP``."""
    own = memory.unreclaimable_of(os.getpid())
    left = container_memory() - own - TEMPLATE_RESERVE - KERNEL_RESERVE
    return max(MINIMUM, min(DEFAULT_CAP, left // share))


def ensure_student_user(name: str = STUDENT_USER) -> StudentUser:
    """The student account, created (system account, no home, no shell) if missing."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        useradd = shutil.which("useradd") or "/usr/sbin/useradd"
        subprocess.run([useradd, "--system", "--user-group", "--no-create-home",
                        "--shell", "/usr/sbin/nologin", name], check=True,
                       capture_output=True)
        entry = pwd.getpwnam(name)
    if entry.pw_uid == 0:
        raise RuntimeError(f"the student user {name!r} must not be root")
    return StudentUser(name, entry.pw_uid, entry.pw_gid)


def runtime_paths() -> list[Path]:
    """What a worker must read: the interpreter, its standard library, the installed
    packages (jax, flax, numpy) and the grader's own package."""
    import numpy

    here = Path(__file__).resolve().parent.parent  # the autograder package
    return [Path(os.path.realpath(sys.executable)), Path(os.__file__).resolve().parent,
            Path(numpy.__file__).resolve().parent.parent, here]


def private_directory(path: Path) -> Path | None:
    """The first directory on the way to ``path`` that other users cannot enter."""
    for directory in [*reversed(path.parents), path] if path.is_dir() else reversed(path.parents):
        if not directory.stat().st_mode & 0o001:
            return directory
    return None


def open_runtime() -> list[Path]:
    """Let other users traverse (not list) the directories leading to the runtime; the
    directories changed. For machines where Python lives under a private home (pyenv in
    /root); Gradescope's image needs nothing."""
    changed = []
    for path in runtime_paths():
        while (blocked := private_directory(path)) is not None:
            blocked.chmod(blocked.stat().st_mode | 0o001)
            changed.append(blocked)
    return changed


def choose(enabled: bool | None = None) -> Isolation:
    """A dedicated user when root (unless disabled), else the same user, said once."""
    if enabled is False:
        return Isolation(None, "Student code runs as the grader's own user (isolation off).")
    if os.geteuid() != 0:
        return Isolation(None, "Not running as root, so student code runs as your own user: "
                               "isolation is reduced (fine for checking your own code).")
    blocked = [d for d in map(private_directory, runtime_paths()) if d is not None]
    if blocked:
        return Isolation(None, f"The student user could not read the Python installation "
                               f"({blocked[0]} is private), so student code runs as root: "
                               f"isolation is reduced. Fix: chmod o+x {blocked[0]}")
    try:
        user = ensure_student_user()
    except (OSError, subprocess.CalledProcessError, RuntimeError) as exc:
        return Isolation(None, f"Could not set up the student user ({exc}): student code "
                               f"runs as root, isolation is reduced.")
    return Isolation(user, f"Student code runs as the unprivileged user {user.name!r}.")


def protect(paths: Iterable[Path]) -> None:
    """Make ``paths`` (problem folders, caches) unreadable by other users."""
    for path in paths:
        if path.exists():
            mode = path.stat().st_mode & 0o7777
            if mode & 0o077:
                path.chmod(mode & ~0o077)


def let_in(workspace: Path, readable: Path) -> None:
    """Let the student user traverse (not list) ``workspace`` and read, not change, the tree
    ``readable`` in it (the staged submission: each worker works in a copy of its own)."""
    workspace.chmod(0o711)
    for path in [readable, *readable.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def share_read_only(path: Path) -> None:
    """Let other users read ``path`` (a folder tree) but not write it: JAX's compilation
    cache, which student workers read and must never be able to poison. The folders on the
    way to it become traversable (not listable) by others."""
    path.mkdir(parents=True, exist_ok=True)
    while (blocked := private_directory(path.parent)) is not None:
        blocked.chmod(blocked.stat().st_mode | 0o001)
    for item in [path, *path.rglob("*")]:
        mode = item.stat().st_mode & 0o7777
        wanted = (mode | (0o055 if item.is_dir() else 0o044)) & ~0o022
        if mode != wanted:
            item.chmod(wanted)


def lock_down(isolation: Isolation, private: Iterable[Path], workspace: Path,
              submission: Path, compile_cache: Path | None) -> None:
    """Before any student worker of a grading starts, when it runs as the student user:
    ``private`` (problems, the expected-output cache) unreadable to it, the grading's
    ``workspace`` traversable and its staged ``submission`` readable, JAX's
    ``compile_cache`` readable and never writable."""
    if isolation.user is None:
        return
    protect(private)
    let_in(workspace, submission)
    if compile_cache is not None:
        share_read_only(compile_cache)


@dataclass(frozen=True)
class Hardened:
    """What :func:`harden` did, to say so."""

    user: StudentUser
    #: Directories on the way to the Python runtime made traversable (not listable).
    opened: tuple[Path, ...]
    #: Folders made unreadable by the student user.
    private: tuple[Path, ...]
    #: The folder made readable, not writable, by the student user (the compilation cache).
    shared: Path | None


def harden(private: Sequence[Path] = (), shared: Path | None = None) -> Hardened:
    """Prepare privilege separation, as root, once (``setup.sh``): create the student user,
    let it reach the Python runtime, make ``private`` (created if missing: the problems
    folder, the expected-output cache) unreadable by it and ``shared`` (JAX's compilation
    cache) readable but not writable. With neither, only the user and the runtime: what a
    test run as root needs, with no folder of the checkout made private."""
    user = ensure_student_user()
    opened = open_runtime()
    for path in private:
        path.mkdir(parents=True, exist_ok=True)
    protect(private)
    if shared is not None:
        share_read_only(shared)
    return Hardened(user, tuple(opened), tuple(private), shared)
