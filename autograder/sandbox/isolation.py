"""Setting up isolation on the trusted side: the student user, file permissions, limits.

When the grader runs as root (as on Gradescope), student code runs as a dedicated
unprivileged user that cannot read the problems folder (references, mistakes files,
hidden cases, specs) or the expected-output cache, and cannot write the results or the
grader's code. Not root (a student's laptop), it runs as the same user, and the grader says
so once. Memory is limited by default to what the container leaves (its cgroup limit, or the
machine's memory) minus the grader's own share.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from autograder.errors import GraderError
from autograder.sandbox import memory
from autograder.sandbox.limits import StudentUser, stale, take

STUDENT_USER = "autograder-student"
#: Gradings side by side on one machine (a regrade's jobs, a Dask worker's threads) each run
#: student code as a user of their own, from a pool of at most this many.
POOL_SIZE = 64
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


def pool_user_name(index: int) -> str:
    """``autograder-student``, then ``autograder-student-2``, ``-3``, ..."""
    return STUDENT_USER if index == 0 else f"{STUDENT_USER}-{index + 1}"


class StudentUsers:
    """The pool of student users: each grading claims one for its whole run, so gradings
    side by side are as separate as on separate machines. Another grading's processes are
    another user's (no signal, ptrace or /proc read of them), the process limit (counted
    per user by the kernel) is this grading's alone, and what a user left behind is this
    grading's to remove. A claim is a file holding the claimer's process id, linked into a
    folder only root can write (:func:`~autograder.sandbox.limits.take`), so it holds
    across the processes of a machine (Dask workers); a claim whose process is gone is
    taken back. Accounts are created when first needed."""

    def __init__(self, folder: Path | None = None) -> None:
        base = Path("/run") if os.access("/run", os.W_OK) else Path(tempfile.gettempdir())
        self._folder = folder or base / f"autograder-users-{os.geteuid()}"
        self._lock = threading.Lock()

    def _claims(self) -> Path:
        self._folder.mkdir(mode=0o700, exist_ok=True)
        info = self._folder.lstat()
        if info.st_uid != os.geteuid() or info.st_mode & 0o077 or not stat.S_ISDIR(
                info.st_mode):
            # Not a fallback to root: the grading fails, saying why.
            raise GraderError(f"{self._folder} is not a private folder of this user; "
                              "refusing to keep the student users' claims there")
        return self._folder

    def claim(self) -> StudentUser:
        """A user no other grading on this machine is using, now this one's."""
        with self._lock:
            folder = self._claims()
            for index in range(POOL_SIZE):
                name = pool_user_name(index)
                claim = folder / name
                if not take(claim):
                    if not stale(claim):
                        continue
                    claim.unlink(missing_ok=True)
                    if not take(claim):  # another process took it meanwhile
                        continue
                try:
                    user = ensure_student_user(name)
                except BaseException:
                    claim.unlink(missing_ok=True)
                    raise
                if processes_of_user(user.uid):
                    # Still running (or zombies holding its process budget) from before:
                    # this grading would start with less than its own budget. Next user.
                    claim.unlink(missing_ok=True)
                    continue
                return user
        # Never fall back to running student code as root: this grading fails instead.
        raise GraderError(f"all {POOL_SIZE} student users are in use: more gradings side by "
                          f"side on this machine than the pool has users")

    def release(self, user: StudentUser) -> None:
        """Give ``user`` back, once none of its processes is left running."""
        end_processes_of_user(user.uid)
        (self._folder / user.name).unlink(missing_ok=True)


def processes_of_user(uid: int, zombies: bool = True) -> list[int]:
    """Every process whose real user id is ``uid``, zombies included unless told not to
    (they hold nothing, but count against the user's process limit until reaped)."""
    found: list[int] = []
    if not os.path.isdir("/proc"):
        return found
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/status", "rb") as handle:
                    fields = dict(line.split(b":", 1) for line in handle if b":" in line)
                if (int(fields[b"Uid"].split()[0]) == uid
                        and (zombies or not fields[b"State"].strip().startswith(b"Z"))):
                    found.append(int(entry.name))
            except (OSError, ValueError, IndexError, KeyError):
                continue
    return found


def end_processes_of_user(uid: int, seconds: float = 5.0) -> None:
    """Kill whatever of ``uid`` is still running (a process that left its worker's group,
    children of a fork bomb), until none is left or ``seconds`` have passed."""
    end = time.monotonic() + seconds
    while (left := processes_of_user(uid, zombies=False)) and time.monotonic() < end:
        for pid in left:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.02)


USERS = StudentUsers()


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
        user = USERS.claim()
    except (OSError, subprocess.CalledProcessError, RuntimeError) as exc:
        return Isolation(None, f"Could not set up the student user ({exc}): student code "
                               f"runs as root, isolation is reduced.")
    return Isolation(user, f"Student code runs as the unprivileged user {user.name!r}.")


@contextlib.contextmanager
def claimed(enabled: bool | None = None) -> Iterator[Isolation]:
    """The isolation of one grading (:func:`choose`), its student user given back when the
    grading is over, after its processes still running are killed and what it left in the
    shared scratch folders (``/tmp``, ``/dev/shm``, ...) is removed, whatever its group."""
    isolation = choose(enabled)
    try:
        yield isolation
    finally:
        if isolation.user is not None:
            end_processes_of_user(isolation.user.uid)  # first: nothing writes after the sweep
            memory.remove_files_of_user(isolation.user.uid, memory.SHARED_SCRATCH)
            USERS.release(isolation.user)


def protect(paths: Iterable[Path]) -> None:
    """Make ``paths`` (problem folders, caches) unreadable by other users, and the history
    of a checkout holding one (its ``.git``, where every version of a reference and of the
    hidden cases can be read back)."""
    for path in [*paths, *histories(paths)]:
        if path.exists():
            mode = path.stat().st_mode & 0o7777
            if mode & 0o077:
                path.chmod(mode & ~0o077)


def histories(paths: Iterable[Path]) -> list[Path]:
    """The ``.git`` folders of the checkouts that hold ``paths``."""
    found: list[Path] = []
    for path in paths:
        for folder in [path, *path.resolve().parents]:
            history = folder / ".git"
            if history.is_dir() and history not in found:
                found.append(history)
                break
    return found


def readable_by_name(opened: Iterable[Path]) -> list[Path]:
    """What opening ``opened`` for traversal lets other users read by name: the entries
    of a folder they may enter but not list that are readable to them (``/root/.gitconfig``
    once ``/root`` is opened for a runtime under it)."""
    exposed: list[Path] = []
    for folder in opened:
        mode = folder.stat().st_mode
        if not mode & 0o001 or mode & 0o004:
            continue  # closed, or listable by anyone anyway
        with contextlib.suppress(OSError):
            exposed += sorted(entry for entry in folder.iterdir()
                              if entry.lstat().st_mode & 0o004 and not entry.is_symlink())
    return exposed


def traversed(paths: Iterable[Path]) -> list[Path]:
    """The folders on the way to ``paths`` that others may enter but not list."""
    found: list[Path] = []
    for path in paths:
        for folder in reversed(path.parents):
            mode = folder.stat().st_mode
            if mode & 0o001 and not mode & 0o004 and folder not in found:
                found.append(folder)
    return found


def let_in(workspace: Path, readable: Path, user: StudentUser) -> None:
    """Let ``user`` traverse (not list) ``workspace`` and read, not change, the tree
    ``readable`` in it (the staged submission: each worker works in a copy of its own):
    root's, in the user's own group, which its workers keep as a supplementary group. No
    other user, a grading side by side included, can read it."""
    workspace.chmod(0o711)
    for path in [readable, *readable.rglob("*")]:
        os.chown(path, 0, user.gid, follow_symlinks=False)
        path.chmod(0o750 if path.is_dir() else 0o640)


def share_by_name(path: Path) -> None:
    """Let other users read the entries of ``path`` (a folder tree) whose names they already
    know, and nothing else: its folders can be entered but not listed (``0711``), its files
    read (``0644``), nothing written. This is JAX's compilation cache: an entry's name is a
    hash of the program it compiles (debug information stripped), so a student worker finds
    the entry of a program its own code produced (a correct solution compiles nothing), but
    cannot list the references' programs, nor poison one. The folders on the way to it
    become traversable (not listable) by others."""
    path.mkdir(parents=True, exist_ok=True)
    while (blocked := private_directory(path.parent)) is not None:
        blocked.chmod(blocked.stat().st_mode | 0o001)
    for item in [path, *path.rglob("*")]:
        mode = item.stat().st_mode & 0o7777
        wanted = (mode & ~0o077) | (0o011 if item.is_dir() else 0o044)
        if mode != wanted:
            item.chmod(wanted)


def lock_down(isolation: Isolation, private: Iterable[Path], workspace: Path,
              submission: Path, compile_cache: Path | None) -> None:
    """Before any student worker of a grading starts, when it runs as the student user:
    ``private`` (problems, the expected-output cache) unreadable to it, the grading's
    ``workspace`` traversable and its staged ``submission`` readable, JAX's
    ``compile_cache`` readable by entry name only, never listed or written."""
    if isolation.user is None:
        return
    protect(private)
    let_in(workspace, submission, isolation.user)
    if compile_cache is not None:
        share_by_name(compile_cache)


@dataclass(frozen=True)
class Hardened:
    """What :func:`harden` did, to say so."""

    user: StudentUser
    #: Directories on the way to the Python runtime made traversable (not listable).
    opened: tuple[Path, ...]
    #: What others can read by name in the folders they may enter but not list on the way
    #: to the runtime (a home directory's dotfiles, when Python lives under it).
    exposed: tuple[Path, ...]
    #: Folders made unreadable by the student user.
    private: tuple[Path, ...]
    #: The folder whose entries the student user may read by name (the compilation cache).
    shared: Path | None


def harden(private: Sequence[Path] = (), shared: Path | None = None) -> Hardened:
    """Prepare privilege separation, as root, once (``setup.sh``): create the student user,
    let it reach the Python runtime, make ``private`` (created if missing: the problems
    folder, the expected-output cache) unreadable by it and ``shared`` (JAX's compilation
    cache) readable by entry name only (:func:`share_by_name`). With neither, only the user
    and the runtime: what a test run as root needs, with no folder of the checkout made
    private."""
    user = ensure_student_user()
    opened = open_runtime()
    for path in private:
        path.mkdir(parents=True, exist_ok=True)
    protect(private)
    if shared is not None:
        share_by_name(shared)
    exposed = readable_by_name(traversed(runtime_paths()))
    return Hardened(user, tuple(opened), tuple(exposed), tuple(private), shared)
