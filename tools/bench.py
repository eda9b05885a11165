"""``make bench``: the grader against an in-process, unisolated baseline on the same cases.

Every measured run is a fresh process tree started from here: CPU is user + system time of
the whole tree (``wait4`` accounts for every descendant that was waited for: workers forked
by the template are its children, reaped by it), memory is the peak of the summed
proportional set size (PSS) of the tree and, beside it, of what the kernel cannot reclaim
(anonymous and shared memory), sampled every 20 ms. The baseline is the simplest grader
there is: one process imports jax and flax, then for every case runs the reference and the
student function and compares them.

Then, on their own: what starting one worker costs (forked from a template, against a new
interpreter), and, as root, the container's peak memory while grading the correct example
inside Gradescope's 768 MB / half-vCPU limits (``tools/container.py``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from autograder.sandbox import Template, WorkerProcess, WorkerSpec, memory, worker_environment
from autograder.spec import load_problems

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

BASELINE = r'''
import importlib.util, sys
import numpy as np
import jax, jax.numpy as jnp
import flax.nnx, flax.linen
from autograder.spec import load_problems
from autograder.spec.inputs import case_arguments

def load(path, name):
    spec = importlib.util.spec_from_file_location(name + "_" + path.parent.name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)

problems = load_problems(sys.argv[1])
student = sys.argv[2]
ok = 0
for problem in problems:
    ref = load(problem.reference_path, problem.spec.function)
    mine = load(__import__("pathlib").Path(student), problem.spec.function)
    for i in range(len(problem.spec.cases)):
        args = [jnp.asarray(a) if isinstance(a, np.ndarray) else a
                for a in case_arguments(problem, i)]
        ok += bool(np.allclose(np.asarray(ref(*args)), np.asarray(mine(*args)),
                               rtol=1e-5, atol=1e-6))
print("cases passed:", ok)
'''


@dataclass
class Run:
    cpu: float
    wall: float
    peak_mb: float  # PSS
    held_mb: float  # unreclaimable


def _tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as handle:
                    ppid = int(handle.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def measure(command: list[str], env: dict[str, str]) -> Run:
    start = time.monotonic()
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    peak = held = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak, held
        while not done.is_set():
            tree = _tree(process.pid)
            peak = max(peak, memory.proportional(tree))
            held = max(held, memory.unreclaimable(tree))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(process.pid, 0)
    done.set()
    sampler.join()
    wall = time.monotonic() - start
    if status != 0:
        errors = process.stderr.read().decode()[-2000:] if process.stderr else ""
        raise SystemExit(f"{command} failed: {errors}")
    return Run(usage.ru_utime + usage.ru_stime, wall, peak / 2**20, held / 2**20)


def median(runs: list[Run]) -> Run:
    return Run(statistics.median(r.cpu for r in runs), statistics.median(r.wall for r in runs),
               max(r.peak_mb for r in runs), max(r.held_mb for r in runs))


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a live process, from ``/proc``."""
    fields = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _starts(what: str, spec: WorkerSpec, template: Template | None, count: int) -> None:
    """Start ``count`` workers one after the other; print the median wall and CPU time."""
    walls, cpus, held = [], [], []
    for _ in range(count):
        start = time.monotonic()
        with WorkerProcess(spec, template) as worker:
            worker.start()
            walls.append(time.monotonic() - start)
            assert worker.pid is not None
            cpus.append(_cpu_seconds(worker.pid))
            held.append(worker.memory())
    print(f"{what} {statistics.median(walls) * 1000:5.0f} ms wall, "
          f"{statistics.median(cpus) * 1000:4.0f} ms CPU, "
          f"{statistics.median(held) / 2**20:5.1f} MB of its own once ready "
          f"(median of {count})")


def worker_start(env: dict[str, str], count: int = 10) -> None:
    """What one worker costs to start: forked from a template, and as a new interpreter."""
    scratch = Path(tempfile.mkdtemp(prefix="bench-worker-"))
    worker_env = worker_environment(env, scratch)
    spec = WorkerSpec(env=worker_env, cwd=scratch)
    begin = time.monotonic()
    with Template(worker_env, scratch) as template:
        template.start()
        assert template.pid is not None
        print(f"template start (imports numpy, jax, flax once): "
              f"{time.monotonic() - begin:5.2f} s wall, "
              f"{_cpu_seconds(template.pid):5.2f} s CPU, "
              f"{memory.anonymous_of(template.pid) / 2**20:4.0f} MB anonymous, "
              f"{template.threads} thread(s) when it forks")
        _starts("worker forked from the template: ", spec, template, count)
    _starts("worker as a new interpreter:     ", spec, None, 3)
    shutil.rmtree(scratch, ignore_errors=True)


def in_container(grade: list[str], correct: Path) -> None:
    """The correct example graded in a 768 MB / half-vCPU container (root only)."""
    sys.path.insert(0, str(REPO))
    from tools import container

    try:
        outcome = container.run([*grade, str(correct)], cwd=REPO)
    except container.Unavailable as exc:
        print(f"container: not measured ({exc})")
        return
    print(f"in a 768 MB / 0.5 vCPU container (cgroup v{outcome.version}): peak "
          f"{outcome.peak_mb:.0f} MB, {outcome.seconds:.1f} s wall, "
          f"{outcome.oom_kills} OOM kills, exit {outcome.returncode}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--one-core", action="store_true",
                        help="pin every process to CPU 0 (closer to Gradescope's half vCPU)")
    parser.add_argument("--workers-only", action="store_true",
                        help="measure only what a worker costs to start")
    options = parser.parse_args()
    pin = ["taskset", "-c", "0"] if options.one_core else []
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    if options.workers_only:
        worker_start(env)
        return 0
    scratch = Path(tempfile.mkdtemp(prefix="bench-"))
    cache = scratch / "expected"
    problems = REPO / "problems"
    correct = REPO / "examples" / "correct"
    wrong = REPO / "examples" / "classic-mistakes"
    grade = [PYTHON, "-m", "autograder", "grade", "--quiet", "--cache", str(cache),
             "--problems", str(problems), "--results", str(scratch / "r.json")]
    subprocess.run([PYTHON, "-m", "autograder", "warm", "--problems", str(problems),
                    "--cache", str(cache)], cwd=REPO, env=env, check=True,
                   capture_output=True)
    plans = {
        "baseline (in-process, correct)": [*pin, PYTHON, "-B", "-c", BASELINE, str(problems),
                                           str(correct / "solution.py")],
        "grader, correct": [*pin, *grade, str(correct)],
        "grader, correct, visible cases": [*pin, *grade, "--visible-only", str(correct)],
        "grader, classic mistakes": [*pin, *grade, str(wrong)],
    }
    results = {}
    for name, command in plans.items():
        results[name] = median([measure(command, env) for _ in range(options.runs)])
        r = results[name]
        print(f"{name:34s} cpu {r.cpu:6.1f} s  wall {r.wall:6.1f} s  "
              f"peak PSS {r.peak_mb:4.0f} MB  unreclaimable {r.held_mb:4.0f} MB", flush=True)
    base = results["baseline (in-process, correct)"]
    ours = results["grader, correct"]
    wrong_run = results["grader, classic mistakes"]
    visible = results["grader, correct, visible cases"]
    specs = [p.spec for p in load_problems(problems)]
    extra = sum(1 for spec in specs for case in spec.cases if case.visibility != "visible")
    per_case = (ours.cpu - visible.cpu) / extra
    print()
    print(f"CPU, grader / baseline:           {ours.cpu / base.cpu:5.2f}  (target <= 0.25)")
    print(f"peak tree PSS, grader:            {ours.peak_mb:5.0f} MB (target <= 450)")
    print(f"CPU, wrong / correct submission:  {wrong_run.cpu / ours.cpu:5.2f}  (target <= 2)")
    print(f"marginal CPU per extra case:      {per_case:5.2f} s ({extra} hidden cases)")
    print()
    worker_start(env)
    if os.geteuid() == 0 and not options.one_core:
        in_container(grade, correct)
    shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
