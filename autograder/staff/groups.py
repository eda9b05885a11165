"""The class's unexplained answers, grouped: which submissions produced the same wrong answer.

Per problem, a submission's :class:`Profile` is its unexplained answers there
(:mod:`.answers`: the failed cases no declared mistake explains). Two profiles are the same
answer when they failed unexplained on the same cases and, on each, either returned outputs
within the case's tolerance of each other (both ways: ``|a - b| <= atol + rtol * max(|a|,
|b|)``, NaN matching NaN) or failed the same way without an output (the feedback's id and
the exception type: ``runtime-error (TypeError)``, ``timeout``, ``missing-function``).

A profile joins the first group of its problem whose every member it matches (complete
linkage, submissions in id order), so a group never chains answers that are far apart;
identical profiles are compared once. Groups are ranked largest first (so groups of one
come last), named ``<function>/<rank among that problem's groups>``, and each has an
example: its medoid, the member nearest the others (the first on ties).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from autograder.staff import answers as kept
from autograder.staff.answers import Answer
from autograder.staff.gradebook import RESULTS


@dataclass(frozen=True)
class Profile:
    """One submission's unexplained answers on one problem, in case order."""

    submission: str
    problem: str
    answers: tuple[Answer, ...]

    @property
    def has_output(self) -> bool:
        return any(a.output is not None for a in self.answers)

    def key(self) -> str:
        """Equal for profiles that are the same answer exactly (compared once)."""
        digest = hashlib.sha256()
        for a in self.answers:
            digest.update(f"{a.case}|{a.failure}|".encode())
            if a.output is not None:
                digest.update(f"{a.output.dtype.str}{a.output.shape}|".encode())
                digest.update(np.ascontiguousarray(a.output).tobytes())
        return digest.hexdigest()


def profiles(submission: str, found: Iterable[Answer]) -> list[Profile]:
    """A submission's answers, one profile per problem (in the order the problems come)."""
    by_problem: dict[str, list[Answer]] = {}
    for answer in found:
        by_problem.setdefault(answer.problem, []).append(answer)
    return [Profile(submission, problem, tuple(sorted(items, key=lambda a: a.case)))
            for problem, items in by_problem.items()]


def _gap(a: np.ndarray, b: np.ndarray, rtol: float, atol: float) -> float:
    """The largest ``|a - b| / (atol + rtol * max(|a|, |b|))``: at most 1 within tolerance."""
    if a.shape != b.shape:
        return math.inf
    try:
        x, y = a.astype(np.float64), b.astype(np.float64)
    except (TypeError, ValueError):
        return 0.0 if np.array_equal(a, b) else math.inf
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        same = (x == y) | (np.isnan(x) & np.isnan(y))
        scale = atol + rtol * np.maximum(np.abs(x), np.abs(y))
        ratio = np.where(same, 0.0, np.abs(x - y) / scale)
    ratio = np.where(np.isnan(ratio), np.inf, ratio)
    return float(np.max(ratio, initial=0.0))


def distance(a: Profile, b: Profile) -> float:
    """How far apart two profiles' answers are, in tolerances (at most 1: the same answer);
    infinite when they failed on other cases or in other ways."""
    if [x.case for x in a.answers] != [y.case for y in b.answers]:
        return math.inf
    worst = 0.0
    for x, y in zip(a.answers, b.answers, strict=True):
        if (x.output is None) != (y.output is None):
            return math.inf
        if x.output is None or y.output is None:
            if x.failure != y.failure:
                return math.inf
            continue
        worst = max(worst, _gap(x.output, y.output, x.rtol, x.atol))
        if worst > 1:
            return worst
    return worst


@dataclass(frozen=True)
class Group:
    """Submissions that gave the same unexplained answer to one problem."""

    id: str  # ``vmap_over_batch/1``
    problem: str
    members: tuple[Profile, ...]  # in submission order
    example: Profile

    @property
    def size(self) -> int:
        return len(self.members)

    @property
    def submissions(self) -> list[str]:
        return [m.submission for m in self.members]

    @property
    def has_output(self) -> bool:
        """Whether its answer includes an output (a ``variant`` rule can then match it)."""
        return self.example.has_output

    @property
    def failures(self) -> list[str]:
        return list(dict.fromkeys(a.failure for a in self.example.answers))

    def describe(self) -> str:
        """``wrong-values on 7 cases (3 visible, 4 hidden)``."""
        cases = self.example.answers
        visible = sum(a.visibility == "visible" for a in cases)
        hidden = len(cases) - visible
        split = ", ".join(part for part in (f"{visible} visible" if visible else "",
                                            f"{hidden} hidden" if hidden else "") if part)
        plural = "s" if len(cases) != 1 else ""
        return f"{' and '.join(self.failures)} on {len(cases)} case{plural} ({split})"

    def evidence(self) -> list[str]:
        """The parameter-tree evidence of its example, each sentence once."""
        return list(dict.fromkeys(a.params for a in self.example.answers if a.params))

    def record(self) -> dict[str, Any]:
        """As ``summary.json`` lists it."""
        return {"id": self.id, "problem": self.problem, "size": self.size,
                "submissions": self.submissions, "example": self.example.submission,
                "failures": self.failures, "description": self.describe(),
                "has_output": self.has_output, "params": self.evidence(),
                "cases": [{k: v for k, v in a.record().items()
                           if k not in ("problem", "rtol", "atol", "params")}
                          for a in self.example.answers]}


def _medoid(unique: Sequence[tuple[Profile, int]]) -> Profile:
    """The profile whose summed distance to the others (counted as often as they occur) is
    least; the first on ties."""
    if len(unique) == 1:
        return unique[0][0]
    totals = [sum(n * distance(p, q) for q, n in unique if q is not p) for p, _ in unique]
    return unique[totals.index(min(totals))][0]


def group(found: Iterable[Profile]) -> list[Group]:
    """Every problem's profiles grouped, largest group first (then by problem, then by
    first submission); ids count within each problem in that order."""
    by_problem: dict[str, dict[str, list[Profile]]] = {}
    for profile in sorted(found, key=lambda p: (p.problem, p.submission)):
        by_problem.setdefault(profile.problem, {}).setdefault(profile.key(), []).append(
            profile)
    made: list[tuple[str, list[list[Profile]]]] = []
    for problem, identical in by_problem.items():
        clusters: list[list[list[Profile]]] = []  # each: lists of identical profiles
        for same in identical.values():
            for cluster in clusters:
                if all(distance(same[0], other[0]) <= 1 for other in cluster):
                    cluster.append(same)
                    break
            else:
                clusters.append([same])
        made += [(problem, cluster) for cluster in clusters]

    def members(cluster: list[list[Profile]]) -> list[Profile]:
        return sorted((p for same in cluster for p in same), key=lambda p: p.submission)

    made.sort(key=lambda pc: (-len(members(pc[1])), pc[0], members(pc[1])[0].submission))
    groups: list[Group] = []
    rank: dict[str, int] = {}
    for problem, cluster in made:
        rank[problem] = rank.get(problem, 0) + 1
        example = _medoid([(same[0], len(same)) for same in
                           sorted(cluster, key=lambda s: s[0].submission)])
        groups.append(Group(f"{problem}/{rank[problem]}", problem, tuple(members(cluster)),
                            example))
    return groups


@dataclass(frozen=True)
class ClassAnswers:
    """What a regrade's folder holds of the class's unexplained answers."""

    groups: tuple[Group, ...]
    #: Submissions graded before answers were kept (no ``outputs.npz``): not grouped.
    missing: tuple[str, ...] = ()

    def of(self, submission: str) -> list[Group]:
        return [g for g in self.groups if submission in g.submissions]

    def find(self, group_id: str) -> Group | None:
        return next((g for g in self.groups if g.id == group_id), None)


def load_groups(results_dir: Path) -> ClassAnswers:
    """The groups of the answers under ``results_dir/submissions/*/outputs.npz``."""
    found: list[Profile] = []
    missing: list[str] = []
    for folder in sorted((results_dir / "submissions").glob("*")):
        if not (folder / RESULTS).is_file():
            continue
        loaded = kept.load(folder)
        if loaded is None:
            missing.append(folder.name)
            continue
        found += profiles(folder.name, loaded)
    return ClassAnswers(tuple(group(found)), tuple(missing))
