"""Memory as the kernel counts it: cgroup limits (v1 and v2, Docker's view and a host's),
what a process holds that cannot be reclaimed, and what a worker's group left in files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from autograder.sandbox import memory

MB = 2**20


def _v1(root: Path, limits: dict[str, int]) -> None:
    for folder, limit in limits.items():
        path = root / "memory" / folder.strip("/")
        path.mkdir(parents=True, exist_ok=True)
        (path / "memory.limit_in_bytes").write_text(f"{limit}\n")
        (path / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n")


def test_v1_as_docker_shows_it_the_containers_own_cgroup_at_the_root(tmp_path: Path) -> None:
    _v1(tmp_path, {"/": 768 * MB})
    found = memory.container(tmp_path, "4:memory:/docker/0123abcd\n1:cpu:/docker/0123abcd\n")
    assert found.limit == 768 * MB and found.version == 1
    assert found.folder == tmp_path / "memory"
    assert found.oom_kills() == 3


def test_v1_on_a_host_reads_the_tightest_limit_on_the_way_to_the_root(tmp_path: Path) -> None:
    _v1(tmp_path, {"/": 9223372036854771712, "/grading": 2048 * MB, "/grading/job": 768 * MB})
    found = memory.container(tmp_path, "4:memory:/grading/job\n")
    assert found.limit == 768 * MB and found.folder == tmp_path / "memory" / "grading" / "job"
    loose = memory.container(tmp_path, "4:memory:/grading\n")
    assert loose.limit == 2048 * MB


def test_v2_unified_hierarchy(tmp_path: Path) -> None:
    (tmp_path / "cgroup.controllers").write_text("cpu memory pids\n")
    (tmp_path / "memory.max").write_text("805306368\n")
    (tmp_path / "memory.events").write_text("low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n")
    found = memory.container(tmp_path, "0::/\n")
    assert found.limit == 768 * MB and found.version == 2 and found.oom_kills() == 1
    (tmp_path / "memory.max").write_text("max\n")
    assert memory.container(tmp_path, "0::/\n").limit is None


def test_no_memory_cgroup(tmp_path: Path) -> None:
    assert memory.container(tmp_path, "") == memory.Container(None, None, None)


def test_unreclaimable_memory_grows_with_anonymous_pages_not_with_libraries() -> None:
    before = memory.unreclaimable_of(os.getpid())
    block = np.ones(64 * MB // 8)  # 64 MB, touched
    after = memory.unreclaimable_of(os.getpid())
    assert after - before >= 60 * MB
    assert memory.proportional([os.getpid()]) >= after  # PSS counts library pages too
    del block
    assert memory.unreclaimable_of(2**22 + 7) == 0  # a process that does not exist


def test_memory_mounts_are_read_from_the_mount_table() -> None:
    table = ("/dev/vda / ext4 rw 0 0\ntmpfs /dev/shm tmpfs rw,size=65536k 0 0\n"
             "tmpfs /run/my\\040dir tmpfs rw 0 0\nproc /proc proc rw 0 0\n")
    assert memory.memory_mounts(table) == ["/dev/shm", "/run/my dir"]


def test_shared_memory_segments_are_found_by_the_group_that_made_them() -> None:
    table = ("       key      shmid perms       size  cpid  lpid nattch   uid   gid  cuid  cgid "
             "     atime      dtime      ctime        rss       swap\n"
             "         0         7   600   1048576   100   100      0  1000  1000  1000 201234 "
             "         0          0 1700000000    1048576          0\n"
             "         0         8   600      4096   100   100      0     0     0     0     0 "
             "         0          0 1700000000       4096          0\n")
    assert memory.shm_segments_of_group(201234, table) == [(7, 1048576)]
    assert memory.shm_segments_of_group(5, table) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="giving files to another group needs root")
def test_a_groups_files_are_counted_and_removed_and_nothing_else(tmp_path: Path) -> None:
    gid = 201_777
    shared = tmp_path / "tmp"
    shared.mkdir(mode=0o777)
    shared.chmod(0o1777)
    theirs = shared / "theirs"
    theirs.mkdir()
    os.chown(theirs, 0, gid)
    (theirs / "big").write_bytes(b"x" * (3 * MB))
    (shared / "top").write_bytes(b"y" * MB)
    for path in (theirs / "big", shared / "top"):
        os.chown(path, 0, gid)
    private = shared / "someone-elses"
    private.mkdir(mode=0o700)
    (private / "hidden").write_bytes(b"z" * MB)
    os.chown(private / "hidden", 0, gid)  # inside a folder the worker could not enter
    mine = shared / "mine"
    mine.write_bytes(b"m" * MB)
    assert memory.files_of_group(gid, [str(shared)]) == 4 * MB
    assert memory.remove_files_of_group(gid, [str(shared)]) == 3  # big, top, theirs/
    assert sorted(p.name for p in shared.iterdir()) == ["mine", "someone-elses"]
    assert (private / "hidden").exists()
