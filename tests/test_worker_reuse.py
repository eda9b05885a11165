"""One student worker serves every problem of a submission, until something goes wrong."""

from __future__ import annotations

import re

import pytest

from tests.conftest import EXAMPLES, GradeFiles

CORRECT = (EXAMPLES / "correct" / "solution.py").read_text()

PIDS = CORRECT + '''

import os as _os

_batch, _ensemble = vmap_over_batch, vmap_over_ensemble


def vmap_over_batch(seed, x_batch, features):
    print("pid", _os.getpid())
    return _batch(seed, x_batch, features)


def vmap_over_ensemble(seed, x, num_models, features):
    print("pid", _os.getpid())
    if num_models == 3.0:  # the second visible case: the worker dies
        _os._exit(3)
    return _ensemble(seed, x, num_models, features)
'''


def _pids(text: str) -> set[str]:
    return set(re.findall(r"pid (\d+)", text))


@pytest.mark.worker
def test_problems_share_a_worker_until_one_crashes(grade_files: GradeFiles) -> None:
    # Expected outputs missing from the cache would need the trusted worker, which never runs
    # beside a kept student worker (it stops it): grade once to fill the cache, as
    # `autograder warm` does at setup.
    grade_files({"solution.py": CORRECT}, "vmap_over_batch", "vmap_over_ensemble",
                visible_only=True)
    report = grade_files({"solution.py": PIDS}, "vmap_over_batch", "vmap_over_ensemble",
                         "vmap_over_batch", visible_only=True)
    first, ensemble, again = report.problems
    assert all(c.passed for c in first.tests)
    (shared,) = _pids(first.printed)
    assert _pids(ensemble.cases[0].printed) == {shared}  # the same worker, JAX imported once
    assert not ensemble.cases[1].passed  # it crashed there...
    assert ensemble.cases[1].feedback is not None
    assert "exited with code 3" in ensemble.cases[1].feedback.summary
    assert ensemble.cases[2].passed  # ...and the next case ran in a fresh worker
    fresh = _pids(ensemble.cases[2].printed)
    assert fresh and fresh != {shared}
    # The fresh worker never failed: the next problem keeps it.
    assert all(c.passed for c in again.tests)
    assert _pids(again.printed) == fresh
