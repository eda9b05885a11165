"""Memory as the kernel counts it, and the limits the real container sets.

A container's memory cgroup charges what the kernel cannot take back: anonymous memory
(heaps, compiled programs, arrays), shared memory and files on memory-backed file systems
(tmpfs: ``/dev/shm``, a RAM ``/tmp``). It also holds clean file pages (jaxlib's shared
libraries, read from disk), but those it reclaims under pressure, so they are not the
student's to pay for. This module reads both sides from ``/proc`` and ``/sys/fs/cgroup``:

- :func:`container` finds the memory limit of the cgroup this process lives in, v1 or v2,
  whether the hierarchy shows the container's own cgroup at its root (as Docker does) or
  the whole machine's tree (as a bare host does);
- :func:`unreclaimable` is what a set of processes holds that the kernel cannot reclaim
  (``Pss_Anon`` + ``Pss_Shmem`` from ``smaps_rollup``: each shared page split between its
  users, so a forked worker is not charged for its template's pages);
- :func:`files_of_group` and :func:`shm_segments_of_group` find what a worker left in
  memory outside any process: files on tmpfs and System V shared memory, by the worker's
  own group id (every file a process creates gets its group).

Standard library only: the trusted side's watchdog samples these every few milliseconds.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

MB = 2**20
CGROUP_ROOT = Path("/sys/fs/cgroup")
_UNLIMITED = 1 << 60
#: Folders where any user may create files (sticky, world-writable), swept after a worker.
SHARED_SCRATCH = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/dev/mqueue")
#: File systems whose files live in memory.
MEMORY_FILESYSTEMS = frozenset({"tmpfs", "ramfs"})


@dataclass(frozen=True)
class Container:
    """The memory cgroup this process is charged to."""

    limit: int | None  # bytes; None when no cgroup limits it
    version: int | None  # 1 or 2; None without a memory cgroup
    folder: Path | None  # where its files are, as this process sees them

    def oom_kills(self) -> int | None:
        """How many processes the kernel's OOM killer has killed in this cgroup so far."""
        if self.folder is None:
            return None
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        with contextlib.suppress(OSError, ValueError):
            for line in (self.folder / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        return None


def _read_limit(path: Path) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        text = path.read_text().strip()
        if text != "max" and int(text) < _UNLIMITED:
            return int(text)
    return None


def _own_cgroup(version: int, proc_cgroup: str) -> str:
    """This process's cgroup path in the hierarchy (``/`` when unknown)."""
    for line in proc_cgroup.splitlines():
        number, controllers, path = [*line.split(":", 2), "", ""][:3]
        if version == 2 and number == "0" and controllers == "":
            return path or "/"
        if version == 1 and "memory" in controllers.split(","):
            return path or "/"
    return "/"


def container(root: Path = CGROUP_ROOT, proc_cgroup: str | None = None) -> Container:
    """The memory limit that applies to this process: the tightest limit between its own
    cgroup and the hierarchy's root. In Docker the container's cgroup *is* the root of
    what it sees, and ``/proc/self/cgroup`` names a host path that does not exist here, so
    the folders that exist are read, nearest first."""
    if (root / "cgroup.controllers").exists():
        version, base, name = 2, root, "memory.max"
    elif (root / "memory" / "memory.limit_in_bytes").exists():
        version, base, name = 1, root / "memory", "memory.limit_in_bytes"
    else:
        return Container(None, None, None)
    if proc_cgroup is None:
        try:
            proc_cgroup = Path("/proc/self/cgroup").read_text()
        except OSError:
            proc_cgroup = ""
    own = _own_cgroup(version, proc_cgroup)
    folders = [base / own.strip("/")] if own.strip("/") else []
    folders += [f for f in folders[0].parents if base in (f, *f.parents)] if folders else []
    folders = [f for f in folders if f.is_dir()] + [base]
    limits = [(limit, f) for f in folders if (limit := _read_limit(f / name)) is not None]
    if not limits:
        return Container(None, version, folders[0])
    limit, folder = min(limits, key=lambda item: item[0])
    return Container(limit, version, folder)


def machine_memory() -> int:
    return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))


def _rollup(pid: int) -> dict[bytes, int]:
    fields: dict[bytes, int] = {}
    with open(f"/proc/{pid}/smaps_rollup", "rb") as handle:
        for line in handle:
            key, _, rest = line.partition(b":")
            parts = rest.split()
            if parts and parts[0].isdigit():
                fields[key] = int(parts[0]) * 1024
    return fields


def unreclaimable_of(pid: int) -> int:
    """What ``pid`` holds that the kernel cannot reclaim: its share of anonymous and shared
    memory (not the clean pages of the libraries it maps). 0 for a process that is gone."""
    try:
        fields = _rollup(pid)
    except (OSError, ValueError):
        return 0
    if b"Pss_Anon" in fields:
        return fields[b"Pss_Anon"] + fields.get(b"Pss_Shmem", 0)
    return fields.get(b"Pss", 0) - fields.get(b"Pss_File", 0)  # kernels before 5.10


def proportional(pids: Iterable[int]) -> int:
    """The proportional set size (PSS) of ``pids``: every page they map, file pages too,
    each shared page split between its users (what ``make bench`` reports beside)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError):
            total += _rollup(pid).get(b"Pss", 0)
    return total


def resident_of(pid: int) -> int:
    """An upper bound of :func:`unreclaimable_of`, read in constant time: the anonymous
    and shared pages ``pid`` maps (``RssAnon`` + ``RssShmem``), whole where shared. Reading
    ``smaps_rollup`` walks every page of the process while holding its memory map's lock,
    which slows a busy worker down; this reads two counters."""
    total = 0
    try:
        with open(f"/proc/{pid}/status", "rb") as handle:
            for line in handle:
                if line.startswith((b"RssAnon:", b"RssShmem:")):
                    total += int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return 0
    return total


def resident(pids: Iterable[int]) -> int:
    return sum(resident_of(pid) for pid in pids)


def unreclaimable(pids: Iterable[int]) -> int:
    return sum(unreclaimable_of(pid) for pid in pids)


def anonymous_of(pid: int) -> int:
    """Every anonymous page ``pid`` maps, shared or not (a forking template's baseline)."""
    try:
        fields = _rollup(pid)
    except (OSError, ValueError):
        return 0
    return fields.get(b"Anonymous", fields.get(b"Pss_Anon", 0)) + fields.get(b"Pss_Shmem", 0)


def memory_mounts(mounts: str | None = None) -> list[str]:
    """Mount points of memory-backed file systems (from ``/proc/self/mounts``)."""
    if mounts is None:
        try:
            mounts = Path("/proc/self/mounts").read_text()
        except OSError:
            return []
    found = []
    for line in mounts.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[2] in MEMORY_FILESYSTEMS:
            found.append(parts[1].replace("\\040", " "))
    return found


def _walk_writable(top: str, uid: int | None, gid: int | None
                   ) -> Iterator[tuple[str, os.stat_result]]:
    """What a worker (``uid``/``gid``) could have made under ``top``: the entries of group
    ``gid`` (of owner ``uid`` when ``gid`` is None). Folders it can write (world-writable,
    or its own) are entered; nothing else is, and links are not followed, so the walk is
    short however large the rest of the tree is."""
    stack = [top]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            ours = info.st_gid == gid if gid is not None else info.st_uid == uid
            if stat.S_ISDIR(info.st_mode) and (
                    info.st_mode & 0o002 or info.st_gid == gid
                    or (uid is not None and info.st_uid == uid)):
                stack.append(entry.path)
            if ours:
                yield entry.path, info


def files_of_group(gid: int, tops: Iterable[str], uid: int | None = None) -> int:
    """Bytes held by the files of group ``gid`` under ``tops`` (allocated blocks, so a
    sparse file counts what it really holds)."""
    return sum(info.st_blocks * 512 for top in tops
               for _, info in _walk_writable(top, uid, gid) if stat.S_ISREG(info.st_mode))


def remove_files_of_group(gid: int, tops: Iterable[str], uid: int | None = None) -> int:
    """Delete what group ``gid`` left under ``tops`` (deepest first); how many entries."""
    return _remove(tops, uid, gid)


def remove_files_of_user(uid: int, tops: Iterable[str]) -> int:
    """Delete everything user ``uid`` owns under ``tops`` (deepest first), whatever its
    group; how many entries. Only for a user no one else is using (a grading's own)."""
    return _remove(tops, uid, None)


def _remove(tops: Iterable[str], uid: int | None, gid: int | None) -> int:
    removed = 0
    for top in tops:
        found = sorted(_walk_writable(top, uid, gid), key=lambda item: -item[0].count("/"))
        for path, info in found:
            with contextlib.suppress(OSError):
                if stat.S_ISDIR(info.st_mode):
                    os.rmdir(path)
                else:
                    os.unlink(path)
                removed += 1
    return removed


def shm_segments_of_group(gid: int, table: str | None = None) -> list[tuple[int, int]]:
    """System V shared memory segments created by group ``gid``: (id, bytes resident)."""
    if table is None:
        try:
            table = Path("/proc/sysvipc/shm").read_text()
        except OSError:
            return []
    lines = table.splitlines()
    if not lines:
        return []
    header = lines[0].split()
    try:
        ids, cgid = header.index("shmid"), header.index("cgid")
        rss = header.index("rss") if "rss" in header else header.index("size")
    except ValueError:
        return []
    found = []
    for line in lines[1:]:
        parts = line.split()
        with contextlib.suppress(ValueError, IndexError):
            if int(parts[cgid]) == gid:
                found.append((int(parts[ids]), int(parts[rss])))
    return found


def remove_shm_segment(segment: int) -> None:
    """Mark a System V shared memory segment for removal (``shmctl(IPC_RMID)``)."""
    import ctypes
    import ctypes.util

    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.shmctl(segment, 0, None)  # IPC_RMID
