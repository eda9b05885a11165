"""The class's unexplained answers: kept per submission (outputs.npz), grouped across the
class, and shown in the report, its summary.json and a page per submission."""

from __future__ import annotations

import datetime
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from autograder.cli.main import ExitStatus, main
from autograder.grading.feedback import Feedback
from autograder.spec import LoadedProblem, Tolerance
from autograder.staff import analytics, answers
from autograder.staff.answers import Answer
from autograder.staff.groups import ClassAnswers, Profile, group, load_groups, profiles
from autograder.staff.progress import regrade_progress
from tests.support import PROBLEMS, Outcome, graded_report, write_regraded

WRONG = Feedback("wrong-values", "3 of 20 values differ from the expected ones.")
TOL = 1e-5


def answer(case: int, output: np.ndarray | None, kind: str = "wrong-values",
           error: str | None = None, problem: str = "f") -> Answer:
    return Answer(problem, case, f"case {case + 1}", "visible" if case < 2 else "hidden",
                  kind, TOL, 1e-6, error, output=output)


def profile(submission: str, *found: Answer) -> Profile:
    return Profile(submission, found[0].problem, found)


def base(value: float = 1.0) -> np.ndarray:
    return np.full(4, value, dtype=np.float32)


def test_answers_within_the_tolerance_are_one_group_and_others_are_not() -> None:
    close = base(1.0 + 0.5 * TOL)  # within rtol of 1.0
    far = base(1.0 + 3 * TOL)
    found = group([profile("a", answer(0, base())), profile("b", answer(0, close)),
                   profile("c", answer(0, far))])
    assert [(g.id, g.submissions) for g in found] == [("f/1", ["a", "b"]), ("f/2", ["c"])]


def test_a_group_never_chains_answers_that_are_far_apart() -> None:
    # b is within tolerance of a and of c, but c is not of a: c starts a group of its own.
    found = group([profile("a", answer(0, base())), profile("b", answer(0, base(1 + .9 * TOL))),
                   profile("c", answer(0, base(1 + 1.8 * TOL)))])
    assert [g.submissions for g in found] == [["a", "b"], ["c"]]


def test_failures_without_an_output_group_by_their_kind_and_exception_type() -> None:
    type_error = answer(0, None, "runtime-error", "TypeError")
    found = group([profile("a", type_error), profile("b", type_error),
                   profile("c", answer(0, None, "runtime-error", "ValueError")),
                   profile("d", answer(0, None, "timeout"))])
    assert [(g.submissions, g.failures, g.has_output) for g in found] == [
        (["a", "b"], ["runtime-error (TypeError)"], False),
        (["c"], ["runtime-error (ValueError)"], False), (["d"], ["timeout"], False)]


def test_the_same_answer_means_the_same_cases_failed() -> None:
    found = group([profile("a", answer(0, base()), answer(1, base())),
                   profile("b", answer(0, base())),
                   profile("c", answer(0, base()), answer(1, base(2.0)))])
    assert [g.submissions for g in found] == [["a"], ["b"], ["c"]]


def test_groups_rank_largest_first_and_their_example_is_the_medoid() -> None:
    spread = [profile(name, answer(0, base(1 + k * 0.45 * TOL)))
              for name, k in (("s1", 0), ("s2", 1), ("s3", 2))]
    other = [profile("s4", answer(0, base(5.0), problem="g"))]
    nan = np.array([np.nan, 1.0], dtype=np.float32)
    nans = [profile("s5", answer(0, nan)), profile("s6", answer(0, nan.copy()))]
    found = group([*other, *spread, *nans])
    assert [(g.id, g.size, g.example.submission) for g in found] == [
        ("f/1", 3, "s2"), ("f/2", 2, "s5"), ("g/1", 1, "s4")]
    assert found[0].describe() == "wrong-values on 1 case (1 visible)"


def test_a_summary_record_names_the_group_its_example_and_how_it_differs() -> None:
    mine = Answer("f", 3, "case 4 (a batch of one)", "hidden", "wrong-values", TOL, 1e-6,
                  shape=(3,), expected_shape=(3,), max_abs=1.5, max_rel=float("inf"),
                  differing=2, params="Every one of your weights has an extra leading axis.",
                  output=base())
    (made,) = group([profile("s1", mine)])
    assert made.record() == {
        "id": "f/1", "problem": "f", "size": 1, "submissions": ["s1"], "example": "s1",
        "failures": ["wrong-values"], "description": "wrong-values on 1 case (1 hidden)",
        "has_output": True, "params": ["Every one of your weights has an extra leading axis."],
        "cases": [{"case": 3, "label": "case 4 (a batch of one)", "visibility": "hidden",
                   "kind": "wrong-values", "error": None, "shape": (3,),
                   "expected_shape": (3,), "max_abs": 1.5, "max_rel": "inf", "differing": 2}]}
    json.dumps(made.record(), allow_nan=False)  # valid JSON, for any browser


def test_differences_are_counted_as_the_comparison_counts_them() -> None:
    tolerance = Tolerance(rtol=1e-5, atol=1e-6)
    got = np.array([1.0, 2.0, 3.5, np.nan], dtype=np.float32)
    want = np.array([1.0, 2.0, 3.0, 4.0], dtype=np.float32)
    assert answers.difference(got, want, tolerance) == {
        "shape": (4,), "expected_shape": (4,), "max_abs": float("inf"),
        "max_rel": float("inf"), "differing": 2}
    assert answers.difference(got[:2], want, tolerance) == {"shape": (2,),
                                                            "expected_shape": (4,)}
    assert answers.difference(None, want, tolerance) == {"shape": None,
                                                         "expected_shape": (4,)}


def test_only_failures_no_declared_mistake_explains_are_kept(
        problems: dict[str, LoadedProblem]) -> None:
    problem = problems["vmap_over_batch"]
    named = Feedback("wrong-axis-order", "in_axes", extra_tags=("wrong-values",))
    report = graded_report(problem, {
        1: (WRONG, base(2.0), None), 2: (named, base(3.0), None),
        3: (Feedback("runtime-error", "Your `vmap_over_batch` raised `TypeError`."), None,
            "TypeError")}, lambda i: base(1.0))
    kept = answers.unexplained(report)
    assert [(a.case, a.failure, a.max_abs, a.differing) for a in kept] == [
        (1, "wrong-values", 1.0, 4), (3, "runtime-error (TypeError)", None, None)]
    assert (kept[0].rtol, kept[0].atol, kept[0].label) == (1e-5, 1e-6, "case 2 (wide inputs)")
    np.testing.assert_array_equal(kept[0].output, base(2.0))


def test_outputs_npz_is_private_read_without_pickle_and_round_trips(tmp_path: Path) -> None:
    found = (answer(0, base(2.0)), answer(2, None, "runtime-error", "KeyError"))
    answers.save(tmp_path, found)
    path = tmp_path / answers.ANSWERS
    assert path.stat().st_mode & 0o777 == 0o600
    back = answers.load(tmp_path)
    assert back == found
    assert back is not None and back[0].output is not None
    np.testing.assert_array_equal(back[0].output, base(2.0))
    with np.load(path, allow_pickle=False) as data:  # plain arrays only
        assert sorted(data.files) == ["index", "output_0"]
    path.write_bytes(b"not a zip")
    assert answers.load(tmp_path) is None
    assert answers.load(tmp_path / "nowhere") is None


def test_the_terminal_says_what_is_unexplained() -> None:
    shared = group([profile("a", answer(0, base())), profile("b", answer(0, base())),
                    profile("c", answer(0, base(3.0)))])
    assert analytics.unexplained_lines(ClassAnswers(tuple(shared))) == [
        "Answers no known mistake explains: 1 shared by several submissions (the largest, "
        "f/1: 2 submissions, wrong-values on 1 case (1 visible)), 1 given by one submission "
        "each"]
    alone = group([profile("c", answer(0, base(3.0)))])
    assert analytics.unexplained_lines(ClassAnswers(tuple(alone), ("old",))) == [
        "Answers no known mistake explains: none shared, 1 given by one submission each",
        "1 submission(s) were graded before their outputs were kept, so their answers are "
        "not grouped: run the regrade again with --force"]
    assert analytics.unexplained_lines(ClassAnswers(())) == []


def test_the_progress_bar_shows_the_references_warming_before_anything_is_ready() -> None:
    console = Console(file=io.StringIO(), width=100, force_terminal=True)
    with regrade_progress(console) as bar:
        bar.warming(2)
        bar.progress.refresh()
        first = console.file.getvalue()  # type: ignore[attr-defined]
        bar.warmed("vmap_over_batch")
        bar.warmed("vmap_per_input")
        bar.start(3, 0)
    plain = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", first)
    assert "warming references" in plain and "0/2" in plain and "/min" not in plain
    quiet = Console(file=io.StringIO(), width=100)
    with regrade_progress(quiet) as bar:
        bar.warming(1)
        bar.warmed("vmap_over_batch")
    assert quiet.file.getvalue().split() == [  # type: ignore[attr-defined]
        "✓", "references", "warmed", "━" * 40, "1/1", "0:00:00"]


# -- the report -------------------------------------------------------------------------------

NASTY = "<script>alert(1)</script>"


@pytest.fixture
def regraded_class(tmp_path: Path, problems: dict[str, LoadedProblem]) -> Path:
    """A regrade's folder: s1 correct, s2-s4 the same wrong answer (s4 within tolerance,
    not equal), s5 another, s6 a TypeError; s3's name is HTML."""
    problem = problems["vmap_over_batch"]
    output = tmp_path / "out"
    wrong: dict[int, Outcome] = {i: (WRONG, base(2.0), None) for i in (0, 3)}
    near: dict[int, Outcome] = {i: (WRONG, base(2.0 + 1e-6), None) for i in (0, 3)}
    error = Feedback("runtime-error", f"Your `vmap_over_batch` raised `TypeError`: {NASTY}.")
    outcomes: dict[str, dict[int, Outcome]] = {"s1": {}, "s2": wrong, "s3": wrong, "s4": near,
                "s5": {0: (WRONG, base(7.0), None)}, "s6": {i: (error, None, "TypeError")
                                                            for i in range(8)}}
    for name, found in outcomes.items():
        write_regraded(output, name, graded_report(problem, found, lambda i: base(1.0)),
                       names=(NASTY if name == "s3" else f"Student {name}",))
    return output


def test_the_report_ranks_groups_beside_the_misconceptions_and_links_every_student(
        regraded_class: Path, tmp_path: Path) -> None:
    assignment = tmp_path / "week3.yaml"
    assignment.write_text("title: Week 3 <lifted> transforms\nproblems: [vmap_over_batch]\n")
    console = Console(file=io.StringIO(), width=300)
    status = main(["report", str(regraded_class), "--problems", str(PROBLEMS),
                   "--assignment", str(assignment)], env={}, console=console)
    assert status == ExitStatus.SUCCESS
    assert console.file.getvalue().splitlines() == [  # type: ignore[attr-defined]
        "6 submissions: mean 5.5 / 8, median 6, 1 with full marks, 0 grader fault(s)",
        "Answers no known mistake explains: 1 shared by several submissions (the largest, "
        "vmap_over_batch/1: 3 submissions, wrong-values on 2 cases (1 visible, 1 hidden)), "
        "2 given by one submission each",
        "Median grading time: 3 s per submission",
        f"Report: {regraded_class / 'report.html'}"]
    summary = json.loads((regraded_class / "summary.json").read_text())
    assert [(g["id"], g["size"], g["submissions"], g["example"]) for g in
            summary["unexplained"]] == [
        ("vmap_over_batch/1", 3, ["s2", "s3", "s4"], "s2"),
        ("vmap_over_batch/2", 1, ["s5"], "s5"), ("vmap_over_batch/3", 1, ["s6"], "s6")]
    assert summary["unexplained"][2]["failures"] == ["runtime-error (TypeError)"]
    first = summary["cases"][0]
    assert first == {"problem": "vmap_over_batch", "test": "vmap_over_batch: case 1 (batch of "
                     "four)", "visibility": "visible", "passed": 1, "graded": 6}
    page = (regraded_class / "report.html").read_text()
    assert "<title>Week 3 &lt;lifted&gt; transforms</title>" in page
    assert re.search(r"<p class='muted' id='written'>Report written \d{4}-\d\d-\d\d \d\d:\d\d",
                     page)
    assert NASTY not in page and "&lt;script&gt;" in page  # a student's name, escaped
    shared = page[page.index("<table id='groups'>"):page.index("<table id='singletons'>")]
    assert "<code>vmap_over_batch/1</code></td><td class='n'>3</td>" in shared
    assert "max abs diff 1, max rel diff 1, 4 of 4 values" in shared
    assert "<a href='submissions/s2/index.html' title='Student s2'>s2</a>" in shared
    singles = page[page.index("<table id='singletons'>"):]
    assert "vmap_over_batch/2" in singles and "runtime-error (TypeError)" in singles
    grid = page[page.index("<table id='cases'>"):page.index("<h2>The tests that fail most")]
    assert grid.index("visible tests") < grid.index("case 3 (uniform") < grid.index(
        "hidden tests") < grid.index("case 4 (a batch of one)")
    for name in ("s1", "s2", "s3", "s4", "s5", "s6"):
        own = regraded_class / "submissions" / name / "index.html"
        assert own.stat().st_mode & 0o777 == 0o600


def test_the_page_is_dated_and_titled(regraded_class: Path) -> None:
    when = datetime.datetime(2026, 11, 20, 14, 5, tzinfo=datetime.UTC)
    analytics.write_report(regraded_class, regraded_class / "r.html", {}, "Week 3", when)
    page = (regraded_class / "r.html").read_text()
    assert "<h1>Week 3</h1>\n<p class='muted' id='written'>Report written 2026-11-20 14:05 UTC " \
           "from 6 graded submission(s) in out</p>" in page
    own = (regraded_class / "submissions" / "s1" / "index.html").read_text()
    assert "<a href='../../r.html'>&larr; the class report</a>" in own


def test_a_submissions_page_shows_its_tests_and_outputs_as_gradescope_does(
        regraded_class: Path) -> None:
    main(["report", str(regraded_class), "--problems", str(PROBLEMS)], env={},
         console=Console(file=io.StringIO()))
    page = (regraded_class / "submissions" / "s3" / "index.html").read_text()
    assert "<a href='../../report.html'>&larr; the class report</a>" in page
    assert f"<h1>s3: {NASTY.replace('<', '&lt;').replace('>', '&gt;')}</h1>" in page
    assert "<b>6</b> / 8 points; graded in 3.0 s" in page
    assert ("In the groups of unexplained answers: <a href='../../report.html#group-"
            "vmap_over_batch-1'><code>vmap_over_batch/1</code></a>") in page
    assert "<td>case 1 (batch of four) (visible)</td><td>wrong-values</td><td>(4,)</td>" in page
    assert "<code>[2, 2, 2, 2]</code>" in page
    assert page.count("<section class='test failed'>") == 2
    assert page.count("<section class='test passed'>") == 7  # and the staff summary
    assert "<h3>vmap_over_batch: case 8 (large-magnitude inputs)</h3>" in page
    errors = (regraded_class / "submissions" / "s6" / "index.html").read_text()
    assert NASTY not in errors and "raised <code>TypeError</code>: &lt;script&gt;" in errors


def test_a_page_runs_and_fetches_nothing_a_student_wrote() -> None:
    from autograder.staff.submission_page import markdown

    assert markdown("raised `ValueError`: ![t](http://evil/x.png) [a](javascript:alert(1)) "
                    "<img src=x onerror=alert(1)>") == (
        "<p>raised <code>ValueError</code>: !<a href=\"http://evil/x.png\">t</a> "
        "[a](javascript:alert(1)) "
        "&lt;img src=x onerror=alert(1)&gt;</p>\n")


def test_a_folder_of_results_files_still_gets_a_report_without_groups(
        regraded_class: Path, tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    for name in ("s1", "s5"):
        (plain / f"{name}.json").write_text(
            (regraded_class / "submissions" / name / "results.json").read_text())
    console = Console(file=io.StringIO(), width=300)
    assert main(["report", str(plain), "--problems", str(PROBLEMS)], env={},
                console=console) == ExitStatus.SUCCESS
    page = (plain / "report.html").read_text()
    assert "id='unexplained'" not in page and "<a href=" not in page
    assert "Other failures (not a known mistake): vmap_over_batch: wrong-values (1)" in page
    assert json.loads((plain / "summary.json").read_text())["unexplained"] == []


def test_groups_are_found_again_from_disk(regraded_class: Path) -> None:
    found = load_groups(regraded_class)
    assert [g.submissions for g in found.groups] == [["s2", "s3", "s4"], ["s5"], ["s6"]]
    assert found.missing == ()
    (regraded_class / "submissions" / "s5" / answers.ANSWERS).unlink()
    again = load_groups(regraded_class)
    assert again.missing == ("s5",) and [g.id for g in again.groups] == [
        "vmap_over_batch/1", "vmap_over_batch/2"]
    assert [p.problem for p in profiles("x", [answer(0, base()), answer(1, base(), problem="g")])
            ] == ["f", "g"]


def test_a_submission_graded_before_answers_were_kept_is_graded_again(
        regraded_class: Path, tmp_path: Path) -> None:
    from autograder.staff.export import ExportedSubmission
    from autograder.staff.regrade import done

    submission = ExportedSubmission("s2", tmp_path, ())
    assert done(regraded_class, submission, "x")  # the digest write_regraded records
    (regraded_class / "submissions" / "s2" / answers.ANSWERS).unlink()
    assert not done(regraded_class, submission, "x")


def test_a_huge_output_is_not_kept_and_groups_by_its_failure(
        problems: dict[str, LoadedProblem]) -> None:
    huge = np.zeros(answers.MAX_KEPT // 4 + 1, np.float32)
    shape = Feedback("wrong-shape", "Your output has shape (16385,).")
    report = graded_report(problems["vmap_over_batch"], {0: (shape, huge, None)},
                           lambda i: base(1.0))
    (kept,) = answers.unexplained(report)
    assert (kept.output, kept.shape, kept.expected_shape) == (None, (16385,), (4,))
    assert group([profile("a", kept), profile("b", kept)])[0].has_output is False
