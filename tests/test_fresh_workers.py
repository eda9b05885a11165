"""Every problem starts from a fresh worker, forked from one template per grading.

The template imports numpy, jax and flax once and never runs student code; each problem's
worker is a new process forked from it (so nothing of one problem's run reaches the next),
and a fresh one replaces a worker that failed. The tests print process ids from the
student's code to see which process ran what.
"""

from __future__ import annotations

import re

import pytest

from tests.support import EXAMPLES, GradeFiles

CORRECT = (EXAMPLES / "correct" / "solution.py").read_text()

PIDS = CORRECT + '''

import os as _os
import sys as _sys

_batch, _ensemble = vmap_over_batch, vmap_over_ensemble
_seen = []


def vmap_over_batch(seed, x_batch, features):
    print("pid", _os.getpid(), "parent", _os.getppid())
    print("seen before", len(_seen), "jax imported", "jax" in _sys.modules)
    _seen.append(seed)
    return _batch(seed, x_batch, features)


def vmap_over_ensemble(seed, x, num_models, features):
    print("pid", _os.getpid(), "parent", _os.getppid())
    if num_models == 3.0:  # the second visible case: the worker dies
        _os._exit(3)
    return _ensemble(seed, x, num_models, features)
'''


def _pids(text: str) -> set[str]:
    return set(re.findall(r"pid (\d+)", text))


def _parents(text: str) -> set[str]:
    return set(re.findall(r"parent (\d+)", text))


@pytest.mark.worker
def test_each_problem_gets_a_fresh_worker_from_one_template(grade_files: GradeFiles) -> None:
    report = grade_files({"solution.py": PIDS}, "vmap_over_batch", "vmap_over_ensemble",
                         "vmap_over_batch", visible_only=True)
    first, ensemble, again = report.problems
    assert all(c.passed for c in first.tests)
    (one,) = _pids(first.printed)  # one worker serves a problem's cases...
    (template,) = _parents(first.printed + ensemble.printed + again.printed)
    assert template != one  # ...forked from the template, which imported jax once
    assert "seen before 0" in first.cases[0].printed
    assert "seen before 2" in first.cases[2].printed  # module state lives for one problem
    assert not ensemble.cases[1].passed  # it crashed there...
    assert ensemble.cases[1].feedback is not None
    assert "exited with code 3" in ensemble.cases[1].feedback.summary
    assert ensemble.cases[2].passed  # ...and the next case ran in a fresh worker
    before, after = _pids(ensemble.cases[0].printed), _pids(ensemble.cases[2].printed)
    assert before and after and before != after and one not in before | after
    # The same function again: a new process, whose module state starts empty.
    (last,) = _pids(again.printed)
    assert last not in {one} | before | after
    assert "seen before 0" in again.cases[0].printed
    assert "jax imported True" in again.cases[0].printed
