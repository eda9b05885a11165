"""``autograder mutants``: would a problem's tests catch the mistakes nobody declared?

Mutation analysis of a problem's cases. The mutants of its reference
(:mod:`autograder.staff.mutate`: in_axes swapped, a lift removed, a cast dropped, a seed
fixed...) are each graded as a student's file named for the problem's function, through the
real grading path (workers, isolation, comparison, diagnosis) with every case, hidden ones
included, and classified:

- **caught by values**: some case fails (an error on import or in a call counts: it loses
  points), with the declared mistake its failing tests are tagged with, if any;
- **caught only by the structure test**: every case passes, the structure test fails;
- **equivalent**: nothing fails and the spec declares it equivalent
  (``mutants.equivalent``, with a reason);
- **survived**: it loses no points (when its outputs are the reference's on every case, it
  is probably equivalent).

Each survivor, and each mutant declared equivalent, is then graded against variations of
the spec's own cases (:mod:`autograder.staff.suggest`); the fewest that catch them are
suggested as cases to paste into the spec. A declared id that matches no mutant (a stale
declaration), and a declared one that the cases catch, are errors; a declared one that a
variation catches is a warning. The smallest set of cases catching every mutant caught by
values is found greedily, as is the fewest variations to add.
"""

from __future__ import annotations

import concurrent.futures
import difflib
import itertools
import queue
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, Protocol, TypeVar

import numpy as np

from autograder.errors import GraderError, SpecError
from autograder.grading.engine import GradeOptions, grade
from autograder.grading.outcome import ProblemResult, format_points
from autograder.sandbox import WorkerSession
from autograder.sandbox.isolation import default_memory_limit
from autograder.spec import LoadedProblem
from autograder.spec.source import KeyPath, format_key_path, read_yaml
from autograder.spec.wording import location
from autograder.staff import suggest
from autograder.staff.mutate import Mutant, generate

Verdict = Literal["values", "structure", "equivalent", "survived"]
VERDICTS: dict[Verdict, str] = {"values": "caught by values",
                                "structure": "caught only by the structure test",
                                "equivalent": "equivalent (declared)", "survived": "survived"}
_T = TypeVar("_T")


@dataclass(frozen=True)
class Graded:
    """What grading one mutant found."""

    mutant: Mutant
    verdict: Verdict
    #: The cases that failed (0-based indices).
    failing: tuple[int, ...] = ()
    #: How they failed, beside the mistakes named: ``runtime-error``, ``wrong-shape``...
    kinds: tuple[str, ...] = ()
    #: The declared mistakes its failing tests are tagged with.
    mistakes: tuple[str, ...] = ()
    #: Every case's output is the reference's, bit for bit.
    same_outputs: bool = False
    #: The reason given, when the spec declares it equivalent.
    why: str | None = None
    #: The variations of the cases (``Analysis.candidates``) that catch it (graded for the
    #: survivors and the mutants declared equivalent only).
    catching: tuple[int, ...] = ()


@dataclass
class Analysis:
    """The mutation analysis of one problem."""

    problem: LoadedProblem
    graded: list[Graded] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: Mutants declared equivalent that a variation of the cases catches after all.
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    jobs: int = 1
    #: The variations of the cases the survivors were graded against.
    candidates: list[suggest.Candidate] = field(default_factory=list)

    def count(self, verdict: Verdict) -> int:
        return sum(g.verdict == verdict for g in self.graded)

    @property
    def ok(self) -> bool:
        """No error and no survivor the spec does not declare equivalent."""
        return not self.errors and not self.count("survived")

    @property
    def cover(self) -> list[int]:
        """A smallest set of cases (found greedily) that catches every mutant caught by
        values."""
        return smallest_cover([frozenset(g.failing) for g in self.graded
                               if g.verdict == "values"])

    @property
    def to_add(self) -> list[tuple[suggest.Candidate, list[Graded]]]:
        """The fewest variations of the cases (found greedily) that catch every survivor
        (and every mutant declared equivalent) some variation catches, each with the
        mutants it catches."""
        survivors = [g for g in self.graded if g.verdict in ("survived", "equivalent")]
        chosen = smallest_cover([frozenset(g.catching) for g in survivors])
        return [(self.candidates[i], [g for g in survivors if i in g.catching])
                for i in chosen]


class Steps(Protocol):
    """Where the analysis says how far it got (a progress bar)."""

    def add(self, count: int) -> None: ...

    def done(self, what: str) -> None: ...


class _Quiet:
    def add(self, count: int) -> None:
        pass

    def done(self, what: str) -> None:
        pass


def smallest_cover(sets: Sequence[frozenset[int]]) -> list[int]:
    """Greedily, the fewest elements meeting every non-empty set (the lowest first on ties)."""
    left = [s for s in sets if s]
    chosen: list[int] = []
    while left:
        counts = Counter(i for s in left for i in s)
        best = min(counts, key=lambda i: (-counts[i], i))
        chosen.append(best)
        left = [s for s in left if best not in s]
    return chosen


class _Graders:
    """Grades files as a student's submission, ``jobs`` at a time, each grading thread with
    a worker session of its own (its template imports JAX once)."""

    def __init__(self, options: GradeOptions, scratch: Path, jobs: int) -> None:
        self.options = options
        self.scratch = scratch
        self.jobs = jobs
        self._sessions: queue.SimpleQueue[WorkerSession] = queue.SimpleQueue()
        self._all = [WorkerSession() for _ in range(jobs)]
        for session in self._all:
            self._sessions.put(session)
        self._count = itertools.count(1)
        self._lock = threading.Lock()

    def grade(self, problem: LoadedProblem, files: dict[str, str],
              options: GradeOptions | None = None) -> ProblemResult:
        with self._lock:
            folder = self.scratch / f"submission-{next(self._count)}"
        folder.mkdir()
        for name, text in files.items():
            (folder / name).write_text(text, encoding="utf-8")
        session = self._sessions.get()
        try:
            report = grade(folder, [problem], options or self.options, session=session)
        finally:
            self._sessions.put(session)
        if report.fault is not None or not report.problems:
            raise GraderError(f"grading {problem.id} failed:\n{report.fault}")
        return report.problems[0]

    def map(self, calls: Sequence[Callable[[], _T]], done: Callable[[_T], None]) -> list[_T]:
        """Every call's result, in order; ``done`` is told of each as it finishes."""
        with concurrent.futures.ThreadPoolExecutor(self.jobs,
                                                   thread_name_prefix="mutants") as pool:
            futures = [pool.submit(call) for call in calls]
            for future in concurrent.futures.as_completed(futures):
                done(future.result())
            return [f.result() for f in futures]

    def close(self) -> None:
        for session in self._all:
            session.close()


def classify(mutant: Mutant, result: ProblemResult, reference: dict[int, np.ndarray],
             declared: dict[str, str]) -> Graded:
    """The verdict on one mutant's grading, against the reference's outputs."""
    ids = {m.id for m in result.problem.spec.mistakes}
    failed = [c for c in result.tests if c.feedback is not None]
    mistakes = tuple(dict.fromkeys(t for c in failed for t in c.feedback.tags  # type: ignore[union-attr]
                                   if t in ids))
    cases = [c for c in result.cases if c.feedback is not None]
    if cases or failed:
        # How they failed, beside the mistakes named: runtime-error, wrong-shape, ...
        kinds = tuple(dict.fromkeys(t for c in (cases or failed)
                                    for t in c.feedback.tags  # type: ignore[union-attr]
                                    if t not in ids))
        return Graded(mutant, "values" if cases else "structure",
                      tuple(c.index for c in cases), kinds, mistakes)
    same = all(c.output is not None and c.index in reference
               and np.array_equal(c.output, reference[c.index]) for c in result.cases)
    if mutant.id in declared:
        return Graded(mutant, "equivalent", same_outputs=same, why=declared[mutant.id])
    return Graded(mutant, "survived", same_outputs=same)


def _at(problem: LoadedProblem, key: KeyPath) -> str:
    """Where ``key`` is in ``problem``'s spec, as spec errors say it (``file:line:col:
    mutants.equivalent[0].id``; without the line if the spec cannot be read again)."""
    try:
        document = read_yaml(problem.spec_path)
    except SpecError:
        return f"{problem.spec_path}: {format_key_path(key)}"
    return document.issue(key, location(key, document.data), "").where


def stale_declarations(problem: LoadedProblem, mutants: Sequence[Mutant]) -> list[str]:
    """An error for each id of ``mutants.equivalent`` that names none of ``mutants``."""
    ids = [m.id for m in mutants]
    errors = []
    for index, declared in enumerate(problem.spec.mutants.equivalent):
        if declared.id in ids:
            continue
        close = difflib.get_close_matches(declared.id, ids, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        errors.append(f"{_at(problem, ('mutants', 'equivalent', index, 'id'))}: no mutant "
                      f"{declared.id!r} is made from {problem.spec.reference}{hint}: the "
                      "reference changed or the id is misspelt; fix the id (`autograder "
                      "mutants` lists them) or remove the declaration")
    return errors


def caught_declarations(problem: LoadedProblem, graded: Sequence[Graded]) -> list[str]:
    """An error for each mutant declared equivalent that loses points after all."""
    verdicts = {g.mutant.id: g for g in graded}
    errors = []
    for index, declared in enumerate(problem.spec.mutants.equivalent):
        found = verdicts.get(declared.id)
        if found is None or found.verdict not in ("values", "structure"):
            continue
        how = (", ".join(problem.spec.case_label(i) for i in found.failing[:3])
               if found.failing else "the structure test")
        errors.append(f"{_at(problem, ('mutants', 'equivalent', index, 'id'))}: {declared.id!r} "
                      f"is declared equivalent but is {VERDICTS[found.verdict]} ({how}): it "
                      "is not equivalent; remove the declaration")
    return errors


def analyze(problem: LoadedProblem, options: GradeOptions, jobs: int = 1,
            steps: Steps | None = None) -> Analysis:
    """Generate the mutants of ``problem``'s reference and grade each, ``jobs`` at a time."""
    steps = steps or _Quiet()
    start = time.monotonic()
    found = Analysis(problem, jobs=jobs)
    shape = problem.spec.returns.shape
    try:
        mutants = generate(problem.reference_path.read_text(encoding="utf-8"),
                           len(shape) if shape is not None else None)
    except (OSError, SyntaxError, ValueError) as exc:
        found.errors.append(f"{problem.reference_path}: cannot make its mutants: {exc}; "
                            "fix the reference (`autograder validate` grades it)")
        return found
    if jobs > 1 and options.memory_limit is None:  # each worker gets its share
        options = replace(options, memory_limit=default_memory_limit(jobs))
    declared = {e.id: e.why for e in problem.spec.mutants.equivalent}
    found.errors += stale_declarations(problem, mutants)
    steps.add(1 + len(mutants))
    with tempfile.TemporaryDirectory(prefix="autograder-mutants-") as scratch:
        graders = _Graders(options, Path(scratch), jobs)
        try:
            reference = graders.grade(problem, {problem.reference_path.name:
                                                problem.reference_path.read_text("utf-8")})
            steps.done(f"{problem.id}: the reference")
            if reference.points < reference.max_points:
                found.errors.append(
                    f"{problem.reference_path}: the reference scores "
                    f"{format_points(reference.points)}/{format_points(reference.max_points)}, "
                    "not full marks, so its mutants cannot be judged; run `autograder "
                    "validate` on the problem and fix it first")
                found.seconds = time.monotonic() - start
                return found
            outputs = {c.index: c.output for c in reference.cases if c.output is not None}
            filename = f"{problem.spec.function}.py"

            def one(mutant: Mutant) -> Callable[[], Graded]:
                return lambda: classify(mutant, graders.grade(problem, {filename:
                                                                       mutant.source}),
                                        outputs, declared)

            found.graded = graders.map([one(m) for m in mutants],
                                       lambda g: steps.done(f"{problem.id}: {g.mutant.id}"))
            _suggest(problem, found, graders, Path(scratch), steps)
        finally:
            graders.close()
    found.errors += caught_declarations(problem, found.graded)
    for graded in found.graded:
        if graded.verdict == "equivalent" and graded.catching:
            first = found.candidates[graded.catching[0]]
            index = next(i for i, e in enumerate(problem.spec.mutants.equivalent)
                         if e.id == graded.mutant.id)
            found.warnings.append(
                f"{_at(problem, ('mutants', 'equivalent', index, 'id'))}: "
                f"{graded.mutant.id!r} is declared "
                f"equivalent, but a variation of {problem.spec.case_label(first.source)} "
                f"catches it ({first.what}): it is not; add the case below and remove the "
                "declaration")
    found.seconds = time.monotonic() - start
    return found


def _suggest(problem: LoadedProblem, found: Analysis, graders: _Graders, scratch: Path,
             steps: Steps) -> None:
    """Grade each survivor, and each mutant declared equivalent, on the variations of the
    cases: which catch it."""
    survivors = [g for g in found.graded if g.verdict in ("survived", "equivalent")]
    found.candidates = suggest.candidates(problem) if survivors else []
    if not found.candidates:
        return
    candidates = suggest.candidate_problem(problem, found.candidates)
    # Their folder is the problem's: their expected outputs must not go in the real cache.
    options = replace(graders.options, cache_dir=scratch / "candidates-expected")
    filename = f"{problem.spec.function}.py"
    steps.add(len(survivors))

    def one(survivor: Graded) -> Callable[[], Graded]:
        def run() -> Graded:
            result = graders.grade(candidates, {filename: survivor.mutant.source}, options)
            return replace(survivor, catching=tuple(c.index for c in result.cases
                                                    if c.feedback is not None))
        return run

    updated = {g.mutant.id: g for g in graders.map(
        [one(s) for s in survivors], lambda g: steps.done(f"{problem.id}: cases for "
                                                          f"{g.mutant.id}"))}
    found.graded = [updated.get(g.mutant.id, g) for g in found.graded]


def analyze_all(problems: Sequence[LoadedProblem], options: GradeOptions, jobs: int = 1,
                steps: Steps | None = None) -> list[Analysis]:
    return [analyze(problem, options, jobs, steps) for problem in problems]
