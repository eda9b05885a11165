"""The class report: one self-contained HTML page a TA drills into from the top.

Charts are embedded as PNG (matplotlib, imported only here), so the page is one file that
opens anywhere. Top to bottom: the headline, the scores per problem, the class's known
misconceptions ranked, the answers no known mistake explains grouped across the class
(groups of several submissions first, then those given once), the pass rate of every case
(visible and hidden apart), the tests that fail most, and the grading time. Every mistake
and group lists its submissions, each linked to its own page (:mod:`.submission_page`).
Everything students wrote (names, outputs) is escaped.
"""

from __future__ import annotations

import base64
import datetime
import html
import io
import os
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from autograder.staff.analytics import ClassResults, GradedSubmission
from autograder.staff.groups import Group

esc = html.escape
PAGE = "index.html"


def submission_href(where: Path, results_dir: Path, submission: str) -> str:
    """The link from a page in ``where`` to a submission's page."""
    target = results_dir / "submissions" / submission / PAGE
    return Path(os.path.relpath(target.resolve(), where.resolve())).as_posix()


def anchor(group: Group) -> str:
    return "group-" + group.id.replace("/", "-")


def _png(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode()


def _charts(graded: ClassResults) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.ticker import MaxNLocator

    charts = {}
    functions = graded.functions
    columns = min(3, max(1, len(functions)))
    rows = max(1, -(-len(functions) // columns))
    figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 2.8 * rows),
                                squeeze=False)
    for axis in axes.flat[len(functions):]:
        axis.set_visible(False)
    for axis, function in zip(axes.flat, functions, strict=False):
        got = [s.problems[function][0] for s in graded.submissions if function in s.problems]
        most = max((s.problems[function][1] for s in graded.submissions
                    if function in s.problems), default=1.0)
        axis.hist(got, bins=min(11, int(most) + 1), range=(0, most), color="#3b6ea8",
                  edgecolor="white")
        axis.set_title(function, fontsize=10)
        axis.set_xlabel(f"points (of {most:g})", fontsize=8)
        axis.set_ylabel("submissions", fontsize=8)
        axis.yaxis.set_major_locator(MaxNLocator(integer=True))
    figure.tight_layout()
    charts["scores"] = _png(figure)
    plt.close(figure)

    ranked = graded.pitfall_counts(declared=True)[:15]
    if ranked:
        figure, axis = plt.subplots(figsize=(8, 0.38 * len(ranked) + 0.8))
        labels = [label for label, _ in ranked][::-1]
        axis.barh(labels, [count for _, count in ranked][::-1], color="#c0504d")
        axis.set_xlabel("submissions making this mistake")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.tick_params(axis="y", labelsize=8)
        figure.tight_layout()
        charts["pitfalls"] = _png(figure)
        plt.close(figure)

    seconds = [s.seconds for s in graded.submissions if s.seconds is not None]
    if seconds:
        figure, axis = plt.subplots(figsize=(6, 2.6))
        axis.hist(seconds, bins=20, color="#6a9f58", edgecolor="white")
        axis.set_xlabel("seconds to grade one submission")
        axis.set_ylabel("submissions")
        axis.yaxis.set_major_locator(MaxNLocator(integer=True))
        figure.tight_layout()
        charts["seconds"] = _png(figure)
        plt.close(figure)
    return charts


STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, Segoe UI, sans-serif; margin: 2rem auto;
       max-width: 1100px; color: #222; padding: 0 1rem; }
h1 { margin-bottom: .2rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
.cards { display: flex; gap: 1rem; flex-wrap: wrap; margin: 1.2rem 0; }
.card { border: 1px solid #ddd; border-radius: 8px; padding: .7rem 1.1rem; min-width: 9rem; }
.card b { display: block; font-size: 1.6rem; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid #eee;
         vertical-align: top; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.problem td { font-weight: 600; background: #f6f6f6; }
.rate { display: inline-block; height: .7rem; background: #6a9f58; vertical-align: middle; }
.rest { display: inline-block; height: .7rem; background: #e3b7b6; vertical-align: middle; }
img { max-width: 100%; }
.muted { color: #777; } code { font-size: 13px; }
.passed { border-left: 4px solid #6a9f58; } .failed { border-left: 4px solid #c0504d; }
section.test { padding: .2rem 1rem; margin: 1rem 0; background: #fafafa; }
pre { background: #f0f0f0; padding: .5rem; overflow-x: auto; }
"""


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def _shape(shape: Sequence[int] | None) -> str:
    if shape is None:
        return "-"
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def difference_text(group: Group, limit: int = 3) -> str:
    """How the group's example differs from the reference, case by case (HTML)."""
    lines = []
    for answer in group.example.answers[:limit]:
        if answer.shape is None:
            what = answer.failure
        elif answer.max_abs is None:
            what = (f"shape {_shape(answer.shape)}, expected {_shape(answer.expected_shape)}")
        else:
            what = (f"max abs diff {_number(answer.max_abs)}, max rel diff "
                    f"{_number(answer.max_rel)}, {answer.differing} of "
                    f"{_size(answer.shape)} values")
        lines.append(f"{esc(answer.label)}: {esc(what)}")
    if len(group.example.answers) > limit:
        lines.append(f"and {len(group.example.answers) - limit} more case(s)")
    lines += [f"<i>{esc(text)}</i>" for text in group.evidence()]
    return "<br>".join(lines)


def _size(shape: Sequence[int]) -> int:
    size = 1
    for d in shape:
        size *= d
    return size


class _Links:
    """Links to the submissions' pages (a regrade's), or their ids alone."""

    def __init__(self, graded: ClassResults, where: Path, results_dir: Path) -> None:
        self.on = graded.regraded
        self.where, self.results_dir = where, results_dir
        self.names = {s.id: s.names for s in graded.submissions}

    def one(self, submission: str) -> str:
        label = esc(submission)
        if not self.on:
            return label
        href = esc(submission_href(self.where, self.results_dir, submission))
        title = esc(self.names.get(submission, submission))
        return f"<a href='{href}' title='{title}'>{label}</a>"

    def many(self, submissions: Sequence[str]) -> str:
        links = ", ".join(self.one(s) for s in submissions)
        return (f"<details><summary>{len(submissions)} submission(s)</summary>{links}"
                f"</details>")


def _misconceptions(graded: ClassResults, links: _Links, count: int) -> list[str]:
    parts = ["<table id='pitfalls'><tr><th>#</th><th>problem: mistake</th>"
             "<th class='n'>submissions</th><th class='n'>share</th><th>what it means</th>"
             "<th>who</th></tr>"]
    ranked = graded.pitfall_counts(declared=True)
    if not ranked:
        parts.append("<tr><td colspan='6' class='muted'>No known mistake was made "
                     "(or the problems' catalogues were not at hand: --problems).</td></tr>")
    for rank, (label, n) in enumerate(ranked, 1):
        who = links.many([s.id for s in graded.making(label)])
        parts.append(f"<tr><td class='n'>{rank}</td><td>{esc(label)}</td><td class='n'>{n}</td>"
                     f"<td class='n'>{100 * n / count:.0f}%</td>"
                     f"<td>{esc(graded.summaries.get(label, ''))}</td><td>{who}</td></tr>")
    parts.append("</table>")
    return parts


def _group_rows(groups: Sequence[Group], links: _Links, count: int, table: str) -> list[str]:
    parts = [f"<table id='{table}'><tr><th>group</th><th class='n'>submissions</th>"
             "<th class='n'>share</th><th>what they have in common</th>"
             "<th>example, and how it differs from the reference</th><th>who</th></tr>"]
    for group in groups:
        parts.append(f"<tr id='{anchor(group)}'><td><code>{esc(group.id)}</code></td>"
                     f"<td class='n'>{group.size}</td>"
                     f"<td class='n'>{100 * group.size / count:.0f}%</td>"
                     f"<td>{esc(group.describe())}</td>"
                     f"<td>{links.one(group.example.submission)}<br>"
                     f"{difference_text(group)}</td>"
                     f"<td>{links.many(group.submissions)}</td></tr>")
    parts.append("</table>")
    return parts


def _unexplained(graded: ClassResults, links: _Links, count: int) -> list[str]:
    groups = graded.answers.groups
    parts = ["<h2 id='unexplained'>Answers no known mistake explains, grouped</h2>",
             "<p class='muted'>Submissions whose outputs agree within the problem's tolerance "
             "on every case they failed without a known mistake (or that failed the same way "
             "without an output) form a group. Turn a group into a catalogue entry with "
             "<code>autograder catalogue RESULTS_DIR GROUP --id NEW-MISTAKE-ID</code>.</p>"]
    shared = [g for g in groups if g.size > 1]
    alone = [g for g in groups if g.size == 1]
    if not groups:
        parts.append("<p class='muted'>None: every failure here is a known mistake.</p>")
    if shared:
        parts += _group_rows(shared, links, count, "groups")
    if alone:
        parts.append("<h3>Given by one submission each</h3>")
        parts += _group_rows(alone, links, count, "singletons")
    if graded.answers.missing:
        parts.append(f"<p class='muted'>Not grouped: {len(graded.answers.missing)} "
                     "submission(s) graded before their outputs were kept (regrade with "
                     "--force).</p>")
    return parts


def _cases(graded: ClassResults) -> list[str]:
    parts = ["<h2>Pass rate per case</h2><table id='cases'><tr><th>test</th>"
             "<th>visibility</th><th class='n'>passed</th><th>pass rate</th></tr>"]
    for problem, rates in graded.case_rates().items():
        parts.append(f"<tr class='problem'><td colspan='4'>{esc(problem)}</td></tr>")
        for hidden in (False, True):
            if any((rate.visibility != "visible") == hidden for rate in rates):
                parts.append(f"<tr class='split'><td colspan='4' class='muted'>"
                             f"{'hidden' if hidden else 'visible'} tests</td></tr>")
            for rate in rates:
                if (rate.visibility != "visible") != hidden:
                    continue
                share = rate.passed / rate.graded if rate.graded else 0.0
                width = round(120 * share)
                parts.append(
                    f"<tr class='{'hidden' if hidden else 'visible'}'>"
                    f"<td>{esc(rate.name)}</td><td>{esc(rate.visibility)}</td>"
                    f"<td class='n'>{rate.passed}/{rate.graded}</td>"
                    f"<td><span class='rate' style='width:{width}px'></span><span "
                    f"class='rest' style='width:{120 - width}px'></span> "
                    f"{100 * share:.0f}%</td></tr>")
    parts.append("</table>")
    return parts


def _slowest(graded: ClassResults) -> list[GradedSubmission]:
    return sorted((s for s in graded.submissions if s.seconds is not None),
                  key=lambda s: -(s.seconds or 0))[:5]


def render(graded: ClassResults, title: str, written: datetime.datetime, where: Path,
           results_dir: Path) -> str:
    """The self-contained HTML page (``where``: the folder it goes in, for its links)."""
    head = graded.headline()
    charts = _charts(graded) if graded.submissions else {}
    count = max(1, head["submissions"])
    links = _Links(graded, where, results_dir)
    cards = [("submissions", f"{head['submissions']}"),
             ("mean score", f"{head['mean']:g} / {head['max_score']:g}"),
             ("median score", f"{head['median']:g}"),
             ("full marks", f"{head['full_marks']}"),
             ("grader faults", f"{head['grader_faults']}")]
    if head["median_seconds"] is not None:
        cards.append(("median grading time", f"{head['median_seconds']:g} s"))
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
             f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>",
             f"<h1>{esc(title)}</h1>",
             f"<p class='muted' id='written'>Report written {written:%Y-%m-%d %H:%M %Z} from "
             f"{head['submissions']} graded submission(s) in {esc(results_dir.name)}</p>",
             "<div class='cards' id='headline'>"
             + "".join(f"<div class='card'><b>{esc(v)}</b>{esc(k)}</div>" for k, v in cards)
             + "</div>"]
    parts.append("<h2>Scores per problem</h2>")
    if "scores" in charts:
        parts.append(f"<img alt='score distribution per problem' "
                     f"src='data:image/png;base64,{charts['scores']}'>")
    parts.append("<table><tr><th>problem</th><th class='n'>mean</th>"
                 "<th class='n'>full marks</th><th class='n'>zero</th></tr>")
    for function in graded.functions:
        got = [s.problems[function] for s in graded.submissions if function in s.problems]
        mean = statistics.fmean(p for p, _ in got) if got else 0.0
        most = max((m for _, m in got), default=0.0)
        full = sum(p >= m > 0 for p, m in got)
        zero = sum(p == 0 for p, _ in got)
        parts.append(f"<tr><td>{esc(function)}</td><td class='n'>{mean:.2f} / {most:g}</td>"
                     f"<td class='n'>{full}</td><td class='n'>{zero}</td></tr>")
    parts.append("</table>")
    parts.append("<h2>The class's misconceptions, ranked</h2>")
    if "pitfalls" in charts:
        parts.append(f"<img alt='pitfalls ranked' "
                     f"src='data:image/png;base64,{charts['pitfalls']}'>")
    parts += _misconceptions(graded, links, count)
    if graded.regraded:
        parts += _unexplained(graded, links, count)
    else:
        other = graded.pitfall_counts(declared=False) if graded.summaries else []
        if other:
            parts.append("<p class='muted'>Other failures (not a known mistake): " + ", ".join(
                f"{esc(label)} ({n})" for label, n in other) + "</p>")
    parts += _cases(graded)
    parts.append("<h2>The tests that fail most</h2><table id='failing'><tr><th>test</th>"
                 "<th class='n'>failed by</th><th class='n'>share</th></tr>")
    for name, n in graded.failing_tests()[:15]:
        parts.append(f"<tr><td>{esc(name)}</td><td class='n'>{n}</td>"
                     f"<td class='n'>{100 * n / count:.0f}%</td></tr>")
    parts.append("</table>")
    parts.append("<h2>Grading time per submission</h2>")
    if "seconds" in charts:
        parts.append(f"<img alt='grading time per submission' "
                     f"src='data:image/png;base64,{charts['seconds']}'>")
        parts.append("<p class='muted'>Slowest: " + ", ".join(
            f"{links.one(s.id)} ({s.seconds:.0f} s)" for s in _slowest(graded)) + "</p>")
    else:
        parts.append("<p class='muted'>No timings in these results.</p>")
    parts.append("</body></html>")
    return "\n".join(parts)
