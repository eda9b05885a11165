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
- **survived**: it loses no points. When its outputs are the reference's on every case it is
  probably equivalent (declare it); either way the variations of the spec's own cases
  (:mod:`autograder.staff.suggest`) are graded against it, and one that catches it is
  suggested as a case to paste into the spec.

A declared id that matches no mutant (a stale declaration), and a declared one that is
caught, are errors. The smallest set of cases catching every mutant caught by values is
found greedily.
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
from rich.console import Console
from rich.table import Table

from autograder.errors import GraderError
from autograder.grading.engine import GradeOptions, grade
from autograder.grading.outcome import ProblemResult, format_points
from autograder.sandbox import WorkerSession
from autograder.sandbox.isolation import default_memory_limit
from autograder.spec import LoadedProblem
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
    #: How they failed: the feedback ids (``runtime-error``, ``wrong-shape``, a mistake's).
    kinds: tuple[str, ...] = ()
    #: The declared mistakes its failing tests are tagged with.
    mistakes: tuple[str, ...] = ()
    #: Every case's output is the reference's, bit for bit.
    same_outputs: bool = False
    #: The reason given, when the spec declares it equivalent.
    why: str | None = None
    #: A variation of the cases that catches it (survivors only), and how many were tried.
    suggestion: suggest.Candidate | None = None
    tried: int = 0


@dataclass
class Analysis:
    """The mutation analysis of one problem."""

    problem: LoadedProblem
    graded: list[Graded] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    jobs: int = 1

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


def summary_line(generated: int, values: int, structure: int, survived: int,
                 equivalent: int = 0) -> str:
    """``mutants: N generated, K caught by values, S caught only by the structure test, U
    survived``, and ``, E equivalent`` when some are declared equivalent."""
    line = (f"mutants: {generated} generated, {values} caught by values, {structure} caught "
            f"only by the structure test, {survived} survived")
    return line + (f", {equivalent} equivalent" if equivalent else "")


def analysis_line(analysis: Analysis) -> str:
    return summary_line(len(analysis.graded), analysis.count("values"),
                        analysis.count("structure"), analysis.count("survived"),
                        analysis.count("equivalent"))


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


def _declaration_errors(problem: LoadedProblem, mutants: Sequence[Mutant],
                        graded: Sequence[Graded]) -> list[str]:
    ids = [m.id for m in mutants]
    verdicts = {g.mutant.id: g for g in graded}
    errors = []
    for index, declared in enumerate(problem.spec.mutants.equivalent):
        where = f"{problem.spec_path}: mutants.equivalent[{index}].id"
        if declared.id not in verdicts:
            close = difflib.get_close_matches(declared.id, ids, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            errors.append(f"{where}: no mutant {declared.id!r} is made from "
                          f"{problem.spec.reference}{hint}: the reference changed or the id "
                          "is misspelt; fix the id (`autograder mutants` lists them) or "
                          "remove the declaration")
            continue
        found = verdicts[declared.id]
        if found.verdict in ("values", "structure"):
            how = (", ".join(problem.spec.case_label(i) for i in found.failing[:3])
                   if found.failing else "the structure test")
            errors.append(f"{where}: {declared.id!r} is declared equivalent but is "
                          f"{VERDICTS[found.verdict]} ({how}): it is not equivalent; remove "
                          "the declaration")
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
        found.errors.append(f"{problem.reference_path}: cannot make its mutants: {exc}")
        return found
    if jobs > 1 and options.memory_limit is None:  # each worker gets its share
        options = replace(options, memory_limit=default_memory_limit(jobs))
    declared = {e.id: e.why for e in problem.spec.mutants.equivalent}
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
                return found
            outputs = {c.index: c.output for c in reference.cases if c.output is not None}
            filename = f"{problem.spec.function}.py"

            def one(mutant: Mutant) -> Callable[[], Graded]:
                return lambda: classify(mutant, graders.grade(problem, {filename:
                                                                       mutant.source}),
                                        outputs, declared)

            found.graded = graders.map([one(m) for m in mutants],
                                       lambda g: steps.done(f"{problem.id}: {g.mutant.id}"))
            found.graded = _suggest(problem, found.graded, graders, Path(scratch), steps)
        finally:
            graders.close()
    found.errors += _declaration_errors(problem, mutants, found.graded)
    found.seconds = time.monotonic() - start
    return found


def _suggest(problem: LoadedProblem, graded: list[Graded], graders: _Graders, scratch: Path,
             steps: Steps) -> list[Graded]:
    """Each survivor graded on the variations of the cases, with the first that catches it."""
    survivors = [g for g in graded if g.verdict == "survived"]
    tried = suggest.candidates(problem)
    if not survivors or not tried:
        return [replace(g, tried=len(tried)) if g.verdict == "survived" else g for g in graded]
    candidates = suggest.candidate_problem(problem, tried)
    # Their folder is the problem's: their expected outputs must not go in the real cache.
    options = replace(graders.options, cache_dir=scratch / "candidates-expected")
    filename = f"{problem.spec.function}.py"
    steps.add(len(survivors))

    def one(survivor: Graded) -> Callable[[], Graded]:
        def run() -> Graded:
            result = graders.grade(candidates, {filename: survivor.mutant.source}, options)
            catching = [c.index for c in result.cases if c.feedback is not None]
            return replace(survivor, tried=len(tried),
                           suggestion=tried[catching[0]] if catching else None)
        return run

    updated = {g.mutant.id: g for g in graders.map(
        [one(s) for s in survivors], lambda g: steps.done(f"{problem.id}: a case for "
                                                          f"{g.mutant.id}"))}
    return [updated.get(g.mutant.id, g) for g in graded]


def analyze_all(problems: Sequence[LoadedProblem], options: GradeOptions, jobs: int = 1,
                steps: Steps | None = None) -> list[Analysis]:
    return [analyze(problem, options, jobs, steps) for problem in problems]


# -- the terminal ----------------------------------------------------------------------------

def _caught_by(analysis: Analysis, graded: Graded, cover: Sequence[int]) -> str:
    if graded.verdict == "structure":
        return "the structure test"
    if not graded.failing:
        return "-"
    first = next((i for i in cover if i in graded.failing), graded.failing[0])
    more = len(graded.failing) - 1
    return analysis.problem.spec.case_label(first) + (f" (+{more} more)" if more else "")


def _verdict(graded: Graded) -> str:
    text = VERDICTS[graded.verdict]
    if graded.verdict == "values":
        return f"[green]{text}[/]" + (f" ({', '.join(graded.kinds)})" if graded.kinds else "")
    if graded.verdict == "structure":
        return f"[yellow]{text}[/]"
    if graded.verdict == "equivalent":
        return f"[blue]{text}[/]"
    return f"[red]{text}[/]" + (" (same outputs)" if graded.same_outputs else "")


def print_analysis(analysis: Analysis, console: Console) -> None:
    """The table of mutants, the errors, what to do about each survivor, and the count."""
    problem = analysis.problem
    cover = analysis.cover
    table = Table(title=f"Mutants of {problem.id}", title_justify="left")
    for column in ("mutant", "what changed", "line", "verdict", "mistake", "caught by"):
        table.add_column(column, justify="right" if column == "line" else "left")
    for graded in analysis.graded:
        table.add_row(graded.mutant.id, graded.mutant.change, str(graded.mutant.line),
                      _verdict(graded), ", ".join(graded.mistakes) or "-",
                      _caught_by(analysis, graded, cover))
    console.print(table)
    say = console.print
    for error in analysis.errors:
        say("[red]error[/] ", end="")
        say(error, markup=False, highlight=False)
    for graded in analysis.graded:
        if graded.verdict == "equivalent":
            say(f"equivalent {graded.mutant.id}: {graded.why}", markup=False, highlight=False)
        if graded.verdict != "survived":
            continue
        say("[red]survived[/] ", end="")
        lead = f"{graded.mutant.id} (line {graded.mutant.line}: {graded.mutant.change})"
        if graded.same_outputs:
            lead += (": same outputs on every case: probably equivalent; declare it in "
                     f"{problem.spec_path} (mutants: {{equivalent: [{{id: ..., why: ...}}]}})"
                     " or add a case that tells it apart")
        if graded.suggestion is not None:
            source = problem.spec.case_label(graded.suggestion.source)
            say(f"{lead}. A case that catches it ({source} with "
                f"{graded.suggestion.what}); paste it under `cases:` of {problem.spec_path}:",
                markup=False, highlight=False)
            say(suggest.case_yaml(problem, graded.suggestion.case), markup=False,
                highlight=False, end="")
        else:
            say(f"{lead}. None of {graded.tried} variation(s) of the cases (sizes of 1 made "
                "3, shapes transposed, seeds of 0 made 1) catches it: add a case that does, "
                "or declare it equivalent with why", markup=False, highlight=False)
    if cover:
        say("cases that catch every mutant caught by values: "
            + ", ".join(problem.spec.case_label(i) for i in cover), markup=False,
            highlight=False)
    say(f"{problem.id}: {len(analysis.graded)} mutant(s) graded in {analysis.seconds:.0f} s "
        f"({analysis.jobs} at a time)", style="dim", highlight=False)
    say(analysis_line(analysis), style="bold green" if analysis.ok else "bold red",
        highlight=False, soft_wrap=True)


def print_analyses(analyses: Sequence[Analysis], console: Console) -> None:
    for analysis in analyses:
        print_analysis(analysis, console)
    if len(analyses) > 1:
        total = summary_line(*(sum(x) for x in zip(*(
            (len(a.graded), a.count("values"), a.count("structure"), a.count("survived"),
             a.count("equivalent")) for a in analyses), strict=True)))
        ok = all(a.ok for a in analyses)
        console.print(f"{len(analyses)} problems: {total}",
                      style="bold green" if ok else "bold red", highlight=False, soft_wrap=True)
