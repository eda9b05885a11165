"""A worker's memory, watched as the kernel counts it, and its processes, found wherever
they went.

A worker's processes are its session and whatever runs in its own group (a daemon that left
the session included). What it holds is their proportional share of memory the kernel
cannot reclaim (:mod:`.memory`), plus what it keeps outside any process: files on tmpfs (its
private ``/dev/shm``, else the shared ones, by its group) and System V shared memory. The
:class:`Watchdog` samples that and kills the worker over its limit.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from autograder.sandbox import memory
from autograder.sandbox.template import Template

#: How often the watchdog samples a worker's memory, and (every SCAN_EVERY samples) looks
#: again for the worker's processes (a scan of the whole process table) and for the files
#: and shared memory it made outside them. Between scans only the processes already found
#: are read, so the watchdog costs the grader little CPU.
SAMPLE_SECONDS = 0.03
SCAN_EVERY = 8


def _real_gid(pid: str) -> int | None:
    """A process's real group id, from ``status`` (readable even when the process made
    itself non-dumpable, which hides the owner of its other ``/proc`` files)."""
    with open(f"/proc/{pid}/status", "rb") as handle:
        for line in handle:
            if line.startswith(b"Gid:"):
                return int(line.split()[1])
    return None


@dataclass
class Members:
    """How to find one worker's processes and files."""

    leader: int  # the worker's pid, which leads its session
    gid: int | None = None  # its own group, when it runs as the student
    uid: int | None = None
    folder: Path | None = None  # its scratch folder
    private_shm: bool = False  # it has a /dev/shm of its own (a mount namespace)
    template: Template | None = None  # where it was forked from

    def processes(self) -> list[int]:
        """Every live process of the worker. Zombies (dead, waiting to be reaped) hold
        nothing and are left out."""
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
                if int(fields[3]) == self.leader or (
                        self.gid is not None and _real_gid(entry.name) == self.gid):
                    found.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
        return found

    def outside_processes(self) -> int:
        """What the worker keeps in memory outside its processes."""
        if self.gid is None:
            return 0
        held = sum(size for _, size in memory.shm_segments_of_group(self.gid))
        mounts = memory.memory_mounts()
        tops = [m for m in mounts if m in memory.SHARED_SCRATCH]
        if self.folder is not None and any(str(self.folder).startswith(m + "/")
                                           for m in mounts):
            tops.append(str(self.folder))
        if self.private_shm:
            tops = [t for t in tops if t != "/dev/shm"]
            with contextlib.suppress(OSError):
                usage = os.statvfs(f"/proc/{self.leader}/root/dev/shm")
                held += (usage.f_blocks - usage.f_bfree) * usage.f_frsize
        return held + memory.files_of_group(self.gid, tops, self.uid)

    def memory(self, outside: int = 0, processes: list[int] | None = None) -> int:
        """What the worker holds that the kernel cannot reclaim: its ``processes``' share of
        anonymous and shared memory (all of them, found afresh, by default), plus
        ``outside`` (files, segments). Pages a forked worker still shares with its template
        are the template's: the template's share of them is added back and its idle
        baseline taken off, so only what the worker made counts."""
        if processes is None:
            processes = self.processes()
        held = memory.unreclaimable(processes) + outside
        if self.template is not None and self.template.pid is not None:
            held += memory.unreclaimable_of(self.template.pid) - self.template.baseline
        return max(0, held)


class Watchdog:
    """Samples a worker's memory in a thread of its own; calls ``kill`` over ``limit``.

    Each sample reads an upper bound in constant time (:func:`memory.resident`); only when
    that is over the limit is the exact count made, so a worker far below its limit is not
    slowed down."""

    def __init__(self, members: Members, limit: int | None, alive: Callable[[], bool],
                 kill: Callable[[], object]) -> None:
        self.members, self.limit, self._alive, self._kill = members, limit, alive, kill
        #: Set when the worker was killed for using more memory than its limit.
        self.exceeded = False
        self._watching = threading.Event()

    def start(self) -> None:
        self._watching.set()
        threading.Thread(target=self._watch, daemon=True).start()

    def stop(self) -> None:
        self._watching.clear()

    def _watch(self) -> None:
        outside, sample, found = 0, 0, []
        while self._alive() and self._watching.is_set():
            if sample % SCAN_EVERY == 0:
                found = self.members.processes()
                outside = self.members.outside_processes()
            sample += 1
            if (self.limit is not None and memory.resident(found) + outside > self.limit
                    and self.members.memory(outside, found) > self.limit):
                self.exceeded = True
                self._kill()
                return
            time.sleep(SAMPLE_SECONDS)
