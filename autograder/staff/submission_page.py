"""A page per regraded submission: its tests and outputs as Gradescope shows them.

``submissions/<id>/index.html``, beside its ``results.json`` and linked from every mistake
and group of the class report that names it: who submitted it, its score, the groups of
unexplained answers it is in, then every test (hidden ones included, marked so) with its
score, tags and output (the markdown Gradescope renders, rendered here without raw HTML, so
nothing a student printed can run), and the arrays its code returned on the cases no known
mistake explains. Written 0600, as all class data.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from markdown_it import MarkdownIt

from autograder.files import PRIVATE, write_atomically
from autograder.staff import answers as kept
from autograder.staff.analytics import ClassResults
from autograder.staff.answers import Answer
from autograder.staff.gradebook import RECORD, RESULTS
from autograder.staff.report_page import PAGE, STYLE, anchor, esc

#: Gradescope's markdown, without raw HTML (escaped instead) or images (a student's error
#: message could name one to fetch from elsewhere when the page is opened); links are
#: checked by markdown-it (no ``javascript:``).
_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table").disable("image")
#: Values of an unexplained output shown on the page.
SHOWN = 12


def markdown(text: str) -> str:
    return str(_MARKDOWN.render(text))


def _values(array: np.ndarray | None) -> str:
    if array is None:
        return "-"
    flat = array.reshape(-1)
    shown = ", ".join(f"{v:.4g}" if np.issubdtype(flat.dtype, np.floating) else str(v)
                      for v in flat[:SHOWN].tolist())
    return f"[{shown}{', ...' if flat.size > SHOWN else ''}]"


def _answers_table(found: Sequence[Answer]) -> list[str]:
    parts = ["<h2>Answers no known mistake explains</h2><table id='answers'><tr>"
             "<th>case</th><th>failure</th><th>shape</th><th class='n'>max abs diff</th>"
             "<th class='n'>max rel diff</th><th>its output</th></tr>"]
    for a in found:
        shape = "-" if a.shape is None else str(tuple(a.shape))
        expected = "" if a.expected_shape in (None, a.shape) else (
            f" (expected {tuple(a.expected_shape or ())})")
        parts.append(f"<tr><td>{esc(a.label)} ({esc(a.visibility)})</td>"
                     f"<td>{esc(a.failure)}</td><td>{esc(shape + expected)}</td>"
                     f"<td class='n'>{'-' if a.max_abs is None else f'{a.max_abs:.3g}'}</td>"
                     f"<td class='n'>{'-' if a.max_rel is None else f'{a.max_rel:.3g}'}</td>"
                     f"<td><code>{esc(_values(a.output))}</code></td></tr>")
    parts.append("</table>")
    return parts


def _test(test: Mapping[str, Any]) -> str:
    status = "passed" if test.get("status", "passed") == "passed" else "failed"
    score = f"{float(test.get('score', 0)):g} / {float(test.get('max_score', 0)):g}"
    tags = ", ".join(f"<code>{esc(str(t))}</code>" for t in test.get("tags", []))
    output = str(test.get("output", ""))
    body = (markdown(output) if test.get("output_format", "md") == "md"
            else f"<pre>{esc(output)}</pre>")
    return (f"<section class='test {status}'><h3>{esc(str(test.get('name', '?')))}</h3>"
            f"<p class='muted'>{status}, {score} points, {esc(str(test.get('visibility', '')))}"
            f"{' &middot; ' + tags if tags else ''}</p>{body}</section>")


def render(submission: str, results: Mapping[str, Any], record: Mapping[str, Any],
           found: Sequence[Answer], groups: Sequence[tuple[str, str]], report: str) -> str:
    """The page of one submission; ``groups`` are (group id, its link in the report), and
    ``report`` is the link back to the class page."""
    people = record.get("submitters", [])
    names = "; ".join(str(p.get("name", "")) for p in people) or submission
    title = f"{submission}: {names}"
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
             f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>",
             f"<p><a href='{esc(report)}'>&larr; the class report</a></p>",
             f"<h1>{esc(title)}</h1>"]
    emails = ", ".join(esc(str(p.get("email", ""))) for p in people if p.get("email"))
    seconds = record.get("seconds")
    most = sum(float(t.get("max_score", 0)) for t in results.get("tests", [])
               if isinstance(t, Mapping))
    parts.append(f"<p id='score'><b>{float(results.get('score', 0)):g}</b> / {most:g} points"
                 + (f"; graded in {float(seconds):.1f} s" if seconds is not None else "")
                 + ("; <b>the grader failed</b>" if record.get("fault") else "")
                 + (f"; {emails}" if emails else "") + "</p>")
    if groups:
        parts.append("<p>In the groups of unexplained answers: " + ", ".join(
            f"<a href='{esc(href)}'><code>{esc(group)}</code></a>" for group, href in groups)
            + "</p>")
    if results.get("output"):
        parts.append(markdown(str(results["output"])))
    if found:
        parts += _answers_table(found)
    parts.append("<h2>Tests</h2>")
    parts += [_test(t) for t in results.get("tests", []) if isinstance(t, Mapping)]
    parts.append("</body></html>")
    return "\n".join(parts)


def write_pages(results_dir: Path, graded: ClassResults, report: Path) -> int:
    """Write every regraded submission's page (0600); how many were written."""
    written = 0
    for submission in graded.submissions:
        folder = results_dir / "submissions" / submission.id
        try:
            results = json.loads((folder / RESULTS).read_text(encoding="utf-8"))
            record_path = folder / RECORD
            record = (json.loads(record_path.read_text(encoding="utf-8"))
                      if record_path.is_file() else {})
        except (OSError, ValueError):
            continue
        back = Path(os.path.relpath(report.resolve(), folder.resolve())).as_posix()
        groups = [(g.id, f"{back}#{anchor(g)}") for g in graded.answers.of(submission.id)]
        text = render(submission.id, results, record, kept.load(folder) or (), groups, back)
        write_atomically(folder / PAGE, text, PRIVATE)
        written += 1
    return written
