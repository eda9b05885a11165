"""``autograder report RESULTS_DIR``: what the class got wrong, as a page a TA wants to read.

Reads the results of a regrade (``submissions/<id>/results.json`` with its record), or any
folder of Gradescope ``results.json`` files, and writes one self-contained HTML page (charts
embedded as PNG): the score distribution per problem, the class's misconceptions ranked (how
many submissions made each known mistake, with its summary), the cases that fail most, and
the grading time per submission. The headline numbers also go to ``summary.json`` and to
the terminal.
"""

from __future__ import annotations

import base64
import html
import io
import json
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder.errors import GraderError
from autograder.staff.gradebook import RECORD, RESULTS, pitfalls, problem_points

SUMMARY = "summary.json"


@dataclass(frozen=True)
class GradedSubmission:
    """One submission as the analytics see it: its points per problem, its mistakes, its
    failed tests and how long it took to grade (from its results.json and regrade record)."""

    id: str
    names: str
    score: float
    max_score: float
    problems: Mapping[str, tuple[float, float]]
    pitfalls: tuple[str, ...]
    failed_tests: tuple[str, ...]
    seconds: float | None
    fault: bool


@dataclass(frozen=True)
class ClassResults:
    """The graded submissions of a class, and what their numbers add up to."""

    submissions: tuple[GradedSubmission, ...]
    #: ``problem: pitfall`` -> the mistake's summary, when the problems are at hand.
    summaries: Mapping[str, str] = field(default_factory=dict)

    @property
    def functions(self) -> list[str]:
        return sorted({f for s in self.submissions for f in s.problems})

    def pitfall_counts(self, declared: bool | None = None) -> list[tuple[str, int]]:
        """How many submissions carry each ``problem: pitfall`` tag, most first; ``declared``
        keeps only the problems' known mistakes (True) or only generic failures (False)."""
        counts = Counter(p for s in self.submissions for p in s.pitfalls
                         if declared is None or not self.summaries
                         or (p in self.summaries) == declared)
        return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))

    def failing_tests(self) -> list[tuple[str, int]]:
        counts = Counter(t for s in self.submissions for t in s.failed_tests)
        return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))

    def headline(self) -> dict[str, Any]:
        scores = [s.score for s in self.submissions]
        most = max((s.max_score for s in self.submissions), default=0.0)
        seconds = [s.seconds for s in self.submissions if s.seconds is not None]
        return {
            "submissions": len(scores),
            "max_score": most,
            "mean": round(statistics.fmean(scores), 2) if scores else 0.0,
            "median": statistics.median(scores) if scores else 0.0,
            "full_marks": sum(s.score >= s.max_score > 0 for s in self.submissions),
            "grader_faults": sum(s.fault for s in self.submissions),
            "top_pitfalls": self.pitfall_counts(declared=True)[:5],
            "median_seconds": round(statistics.median(seconds), 1) if seconds else None,
        }


def _submission(identifier: str, results: Mapping[str, Any],
                record: Mapping[str, Any]) -> GradedSubmission:
    points = problem_points(results)
    failed = []
    for test in results.get("tests", []):
        if test.get("status") == "failed" and float(test.get("max_score", 0)) > 0:
            failed.append(str(test.get("name", "?")))
    seconds = record.get("seconds", results.get("execution_time"))
    people = record.get("submitters", [])
    return GradedSubmission(
        id=identifier, names="; ".join(p.get("name", "") for p in people) or identifier,
        score=float(results.get("score", 0)),
        max_score=sum(m for _, m in points.values()), problems=points,
        pitfalls=tuple(pitfalls(results)), failed_tests=tuple(failed),
        seconds=float(seconds) if seconds is not None else None,
        fault=bool(record.get("fault")) or any("grader-error" in t.get("tags", [])
                                                for t in results.get("tests", [])))


def load(results_dir: Path, summaries: Mapping[str, str] | None = None) -> ClassResults:
    """The graded submissions under ``results_dir`` (a regrade's output, or results files)."""
    found: list[GradedSubmission] = []
    regraded = sorted((results_dir / "submissions").glob(f"*/{RESULTS}"))
    if regraded:
        for path in regraded:
            try:
                results = json.loads(path.read_text(encoding="utf-8"))
                record_path = path.parent / RECORD
                record = (json.loads(record_path.read_text(encoding="utf-8"))
                          if record_path.is_file() else {})
            except (OSError, ValueError):
                continue
            found.append(_submission(path.parent.name, results, record))
    else:
        for path in sorted(results_dir.rglob("*.json")):
            try:
                results = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(results, dict) and "tests" in results:
                found.append(_submission(path.stem if path.stem != "results"
                                         else path.parent.name, results, {}))
    return ClassResults(tuple(found), dict(summaries or {}))


# -- the page --------------------------------------------------------------------------------

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


_STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, Segoe UI, sans-serif; margin: 2rem auto;
       max-width: 1100px; color: #222; padding: 0 1rem; }
h1 { margin-bottom: .2rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
.cards { display: flex; gap: 1rem; flex-wrap: wrap; margin: 1.2rem 0; }
.card { border: 1px solid #ddd; border-radius: 8px; padding: .7rem 1.1rem; min-width: 9rem; }
.card b { display: block; font-size: 1.6rem; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid #eee; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; }
.muted { color: #777; }
"""


def render(graded: ClassResults, title: str = "Regrade report") -> str:
    """The self-contained HTML page."""
    head = graded.headline()
    charts = _charts(graded) if graded.submissions else {}
    count = max(1, head["submissions"])
    esc = html.escape
    cards = [("submissions", f"{head['submissions']}"),
             ("mean score", f"{head['mean']:g} / {head['max_score']:g}"),
             ("median score", f"{head['median']:g}"),
             ("full marks", f"{head['full_marks']}"),
             ("grader faults", f"{head['grader_faults']}")]
    if head["median_seconds"] is not None:
        cards.append(("median grading time", f"{head['median_seconds']:g} s"))
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
             f"<title>{esc(title)}</title><style>{_STYLE}</style></head><body>",
             f"<h1>{esc(title)}</h1>",
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
    ranked = graded.pitfall_counts(declared=True)
    if "pitfalls" in charts:
        parts.append(f"<img alt='pitfalls ranked' "
                     f"src='data:image/png;base64,{charts['pitfalls']}'>")
    parts.append("<table id='pitfalls'><tr><th>#</th><th>problem: mistake</th>"
                 "<th class='n'>submissions</th><th class='n'>share</th>"
                 "<th>what it means</th></tr>")
    for rank, (label, n) in enumerate(ranked, 1):
        parts.append(f"<tr><td class='n'>{rank}</td><td>{esc(label)}</td><td class='n'>{n}</td>"
                     f"<td class='n'>{100 * n / count:.0f}%</td>"
                     f"<td>{esc(graded.summaries.get(label, ''))}</td></tr>")
    parts.append("</table>")
    other = graded.pitfall_counts(declared=False) if graded.summaries else []
    if other:
        parts.append("<p class='muted'>Other failures (not a known mistake): " + ", ".join(
            f"{esc(label)} ({n})" for label, n in other) + "</p>")
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
        slow = sorted((s for s in graded.submissions if s.seconds is not None),
                      key=lambda s: -(s.seconds or 0))[:5]
        parts.append("<p class='muted'>Slowest: " + ", ".join(
            f"{esc(s.id)} ({s.seconds:.0f} s)" for s in slow) + "</p>")
    else:
        parts.append("<p class='muted'>No timings in these results.</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def headline_lines(graded: ClassResults) -> list[str]:
    """The headline numbers, as lines for the terminal."""
    head = graded.headline()
    lines = [f"{head['submissions']} submissions: mean {head['mean']:g} / {head['max_score']:g}, "
             f"median {head['median']:g}, {head['full_marks']} with full marks, "
             f"{head['grader_faults']} grader fault(s)"]
    if head["top_pitfalls"]:
        lines.append("Most common mistakes: " + ", ".join(
            f"{label} ({n})" for label, n in head["top_pitfalls"]))
    if head["median_seconds"] is not None:
        lines.append(f"Median grading time: {head['median_seconds']:g} s per submission")
    return lines


def mistake_summaries(problems: Sequence[Any]) -> dict[str, str]:
    """``function: id`` -> summary, for the problems' declared mistakes."""
    return {f"{p.spec.function}: {m.id}": m.summary for p in problems for m in p.spec.mistakes}


def write_report(results_dir: Path, page: Path, summaries: Mapping[str, str],
                 title: str) -> ClassResults:
    """Load the results under ``results_dir``; when there are any, write the HTML page to
    ``page`` and the headline numbers to ``results_dir/summary.json``. Returns what was
    loaded (no submissions: nothing was written)."""
    graded = load(results_dir, summaries)
    if not graded.submissions:
        return graded
    try:
        text = render(graded, title)
    except ImportError:
        raise GraderError("the HTML report needs matplotlib: pip install "
                          "'flax-lift-autograder[ta]'") from None
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(text, encoding="utf-8")
    (results_dir / SUMMARY).write_text(json.dumps(graded.headline(), indent=2) + "\n",
                                       encoding="utf-8")
    return graded
