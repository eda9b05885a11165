"""The class table of a regrade: every submission's results, read back, as rows.

Each graded submission has ``submissions/<id>/results.json`` (what Gradescope would show)
and ``regrade.json`` (who submitted it, against which problems, how long it took). The
table has one row per submission: its submitters, score, points per problem, the pitfalls
named and whether the grader failed (``grades.csv``); the analytics page reads the same.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from autograder.files import PRIVATE, write_atomically

RESULTS = "results.json"
RECORD = "regrade.json"


def records(output: Path) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """``(record, results)`` of every graded submission under ``output``."""
    for folder in sorted((output / "submissions").glob("*")):
        try:
            record = json.loads((folder / RECORD).read_text(encoding="utf-8"))
            results = json.loads((folder / RESULTS).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        yield record, results


def problem_points(results: Mapping[str, Any]) -> dict[str, tuple[float, float]]:
    """``function -> (points, max points)`` from a results.json's ``problem:`` tags."""
    points: dict[str, tuple[float, float]] = {}
    for test in results.get("tests", []):
        for tag in test.get("tags", []):
            if tag.startswith("problem:"):
                name = tag.removeprefix("problem:")
                got, most = points.get(name, (0.0, 0.0))
                points[name] = (got + float(test.get("score", 0)),
                                most + float(test.get("max_score", 0)))
    return points


def pitfalls(results: Mapping[str, Any]) -> list[str]:
    """The distinct ``problem: pitfall`` pairs of a results.json, in order of appearance."""
    seen: list[str] = []
    for test in results.get("tests", []):
        tags = test.get("tags", [])
        problem = next((t.removeprefix("problem:") for t in tags if t.startswith("problem:")),
                       "")
        for tag in tags:
            if tag.startswith("pitfall:"):
                label = f"{problem}: {tag.removeprefix('pitfall:')}"
                if label not in seen:
                    seen.append(label)
    return seen


#: What makes a spreadsheet read a cell as a formula (``=HYPERLINK(...)`` as a student's
#: name): such a cell is written with a leading apostrophe, which shows it as text.
_FORMULA = ("=", "+", "-", "@", "\t", "\r", "\n")


def cell(value: object) -> str:
    """A text cell of the class table, safe to open in a spreadsheet."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA) else text


def write_csv(output: Path, path: Path, functions: Sequence[str]) -> int:
    """One row per submission, written atomically to ``path`` (readable by its owner only:
    it names the class); the number of rows. Text that students wrote (names, ids) cannot
    run as a spreadsheet formula."""
    rows = 0
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["submission", "names", "sids", "emails", "score", "max_score",
                     *functions, "pitfalls", "grader_fault", "seconds"])
    for record, results in records(output):
        people = record.get("submitters", [])
        points = problem_points(results)
        writer.writerow([
            cell(record.get("submission")),
            "; ".join(cell(p.get("name", "")) for p in people),
            "; ".join(cell(p.get("sid", "")) for p in people),
            "; ".join(cell(p.get("email", "")) for p in people),
            f"{float(results.get('score', 0)):g}",
            f"{sum(m for _, m in points.values()):g}",
            *(f"{points.get(f, (0.0, 0.0))[0]:g}" for f in functions),
            cell("; ".join(pitfalls(results))),
            "yes" if record.get("fault") else "no",
            f"{float(record.get('seconds', 0)):.1f}",
        ])
        rows += 1
    write_atomically(path, text.getvalue(), PRIVATE)
    return rows
