"""The real-world corpus (tests/corpus.py), graded through real workers: every entry gets
exactly the points and tags it states."""

from __future__ import annotations

import pytest

from autograder.spec import LoadedProblem
from tests.corpus import CORPUS, CORRECT, WRONG, Entry, tags
from tests.support import GradeFiles

pytestmark = pytest.mark.worker


def test_the_corpus_is_large_and_correct_entries_expect_full_marks() -> None:
    assert len(CORRECT) >= 10 and len(WRONG) >= 10
    assert len({e.name for e in CORPUS}) == len(CORPUS)
    for entry in CORRECT:
        assert all(points == 5.0 and [list(t) for t in tags_] == [[]] * 4
                   for points, tags_ in entry.expect.values()), entry.name
    for entry in WRONG:
        assert all(points < 5.0 for points, _ in entry.expect.values()), entry.name


@pytest.mark.parametrize("entry", CORPUS, ids=[e.name for e in CORPUS])
def test_realworld_submission(grade_files: GradeFiles, problems: dict[str, LoadedProblem],
                              entry: Entry) -> None:
    report = grade_files(entry.files, *entry.expect, visible_only=True)
    assert report.fault is None, report.fault
    got = {p.problem.spec.function: (p.points, tags(p)) for p in report.problems}
    want = {f: (points, [list(t) for t in tags_]) for f, (points, tags_) in entry.expect.items()}
    assert got == want
    for check in entry.checks:
        check(report, problems)
