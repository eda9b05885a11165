"""Run a command as Gradescope's default container would: 768 MB of memory, half a vCPU.

Gradescope grades in a Docker container whose cgroup limits the whole grading to 768 MB of
memory (counting what the kernel cannot reclaim) and half a vCPU. This makes that container
on a machine where we are root: a fresh memory cgroup (and cpu cgroup, for the quota) under
whichever hierarchy the machine has (cgroup v1 ``memory`` and ``cpu``, or the v2 unified
tree), the command moved into them, and, as Docker shows a container its own cgroup, a
mount namespace (``unshare -m``) in which the test cgroup's folder is bind-mounted over the
hierarchy's root, so ``/sys/fs/cgroup/memory/memory.limit_in_bytes`` (v1) or
``/sys/fs/cgroup/memory.max`` (v2) reads the container's limit, as the grader would see it.

Used by ``tests/test_container.py`` and ``make bench``; as a command::

    python tools/container.py [--memory-mb 768] [--cpu 0.5] [--runs N] -- COMMAND...

prints, per run, the exit status, the container's peak memory and how many processes the
kernel killed for memory (its OOM killer), as one JSON line.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

CGROUP = Path("/sys/fs/cgroup")
MB = 2**20


class Unavailable(RuntimeError):
    """The kernel (or our privileges) does not allow making the container here."""


@dataclass(frozen=True)
class Outcome:
    returncode: int
    peak_mb: float
    oom_kills: int
    seconds: float
    version: int  # the cgroup version used
    stdout: str = ""
    stderr: str = ""

    def line(self) -> str:
        data = asdict(self)
        del data["stdout"], data["stderr"]
        return json.dumps(data)


def _version() -> int:
    if (CGROUP / "cgroup.controllers").exists():
        return 2
    if (CGROUP / "memory" / "memory.limit_in_bytes").exists():
        return 1
    raise Unavailable("no memory cgroup hierarchy under /sys/fs/cgroup")


@contextlib.contextmanager
def cgroups(memory: int, cpu: float) -> Iterator[tuple[int, list[Path], Path]]:
    """Fresh cgroups limited to ``memory`` bytes and ``cpu`` CPUs: (version, the folders to
    join, the memory folder). Removed afterwards."""
    if os.geteuid() != 0:
        raise Unavailable("making a cgroup needs root")
    version = _version()
    name = f"autograder-container-{uuid.uuid4().hex[:8]}"
    made: list[Path] = []
    try:
        if version == 1:
            memory_dir, cpu_dir = CGROUP / "memory" / name, CGROUP / "cpu" / name
            for folder in (memory_dir, cpu_dir):
                folder.mkdir()
                made.append(folder)
            (memory_dir / "memory.limit_in_bytes").write_text(str(memory))
            with contextlib.suppress(OSError):  # no swap accounting: nothing to limit
                (memory_dir / "memory.memsw.limit_in_bytes").write_text(str(memory))
            period = int((cpu_dir / "cpu.cfs_period_us").read_text())
            (cpu_dir / "cpu.cfs_quota_us").write_text(str(int(period * cpu)))
            yield version, made, memory_dir
        else:
            folder = CGROUP / name
            folder.mkdir()
            made.append(folder)
            (folder / "memory.max").write_text(str(memory))
            with contextlib.suppress(OSError):
                (folder / "memory.swap.max").write_text("0")
            (folder / "cpu.max").write_text(f"{int(100000 * cpu)} 100000")
            yield version, made, folder
    except PermissionError as exc:
        raise Unavailable(f"the kernel refused a cgroup: {exc}") from None
    finally:
        for folder in reversed(made):
            for _ in range(50):  # the last processes may still be exiting
                try:
                    folder.rmdir()
                    break
                except OSError:
                    time.sleep(0.1)


def _peak(version: int, folder: Path) -> int:
    name = "memory.max_usage_in_bytes" if version == 1 else "memory.peak"
    with contextlib.suppress(OSError, ValueError):
        return int((folder / name).read_text())
    return 0


def _oom_kills(version: int, folder: Path) -> int:
    name = "memory.oom_control" if version == 1 else "memory.events"
    with contextlib.suppress(OSError):
        for line in (folder / name).read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
    return 0


def run(command: Sequence[str], memory_mb: int = 768, cpu: float = 0.5,
        timeout: float = 900.0, env: dict[str, str] | None = None,
        cwd: Path | None = None) -> Outcome:
    """Run ``command`` in a fresh container of ``memory_mb`` and ``cpu`` CPUs."""
    with cgroups(memory_mb * MB, cpu) as (version, folders, memory_dir):
        joins = " ".join(f"echo $$ > {shlex.quote(str(f / 'cgroup.procs'))};" for f in folders)
        root = CGROUP / "memory" if version == 1 else CGROUP
        script = (f"{joins} mount --bind {shlex.quote(str(memory_dir))} "
                  f"{shlex.quote(str(root))} && exec {shlex.join(command)}")
        start = time.monotonic()
        done = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                               script], capture_output=True, text=True, timeout=timeout,
                              env=env, cwd=cwd)
        seconds = time.monotonic() - start
        return Outcome(done.returncode, round(_peak(version, memory_dir) / MB, 1),
                       _oom_kills(version, memory_dir), round(seconds, 1), version,
                       done.stdout, done.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--memory-mb", type=int, default=768)
    parser.add_argument("--cpu", type=float, default=0.5)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("command", nargs="+")
    options = parser.parse_args(argv)
    status = 0
    for _ in range(options.runs):
        try:
            outcome = run(options.command, options.memory_mb, options.cpu)
        except Unavailable as exc:
            print(f"container.py: {exc}", file=sys.stderr)
            return 2
        sys.stderr.write(outcome.stderr[-2000:])
        print(outcome.line(), flush=True)
        status = status or outcome.returncode
    return status


if __name__ == "__main__":
    sys.exit(main())
