"""``make bench``: the grader against an in-process, unisolated baseline on the same cases.

Every measured run is a fresh process tree started from here: CPU is user + system time of
the whole tree (``wait4`` accounts for every descendant that was waited for), memory is the
peak of the summed resident memory (PSS) of the tree, sampled every 20 ms. The baseline is
the simplest grader there is: one process imports jax and flax, then for every case runs the
reference and the student function and compares them.
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

from autograder.memory import unreclaimable

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

BASELINE = r'''
import importlib.util, sys
import numpy as np
import jax, jax.numpy as jnp
import flax.nnx, flax.linen
from autograder.spec import load_problems
from autograder.inputs import case_arguments

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
    peak_mb: float


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
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, unreclaimable(_tree(process.pid)))
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
    return Run(usage.ru_utime + usage.ru_stime, wall, peak / 2**20)


def median(runs: list[Run]) -> Run:
    return Run(statistics.median(r.cpu for r in runs), statistics.median(r.wall for r in runs),
               max(r.peak_mb for r in runs))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--one-core", action="store_true",
                        help="pin every process to CPU 0 (closer to Gradescope's half vCPU)")
    options = parser.parse_args()
    pin = ["taskset", "-c", "0"] if options.one_core else []
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
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
        "baseline (in-process, correct)": [*pin, PYTHON, "-c", BASELINE, str(problems),
                                           str(correct / "solution.py")],
        "grader, correct": [*pin, *grade, str(correct)],
        "grader, correct, visible cases": [*pin, *grade, "--visible-only", str(correct)],
        "grader, classic mistakes": [*pin, *grade, str(wrong)],
    }
    results = {}
    for name, command in plans.items():
        results[name] = median([measure(command, env) for _ in range(options.runs)])
        r = results[name]
        print(f"{name:34s} cpu {r.cpu:6.1f} s  wall {r.wall:6.1f} s  peak {r.peak_mb:5.0f} MB",
              flush=True)
    base = results["baseline (in-process, correct)"]
    ours = results["grader, correct"]
    wrong_run = results["grader, classic mistakes"]
    visible = results["grader, correct, visible cases"]
    per_case = (ours.cpu - visible.cpu) / (4 * 5)
    print()
    print(f"CPU, grader / baseline:           {ours.cpu / base.cpu:5.2f}  (target <= 0.5)")
    print(f"peak tree memory, grader:         {ours.peak_mb:5.0f} MB (target <= 600)")
    print(f"CPU, wrong / correct submission:  {wrong_run.cpu / ours.cpu:5.2f}  (target <= 2)")
    print(f"marginal CPU per extra case:      {per_case:5.2f} s")
    shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
