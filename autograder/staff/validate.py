"""``autograder validate``: prove a problem's tests right before any student sees them.

For each problem, through the real grading path (workers, isolation, comparison, diagnosis):

1. the spec is valid, and every case satisfies the declared constraints (the loader);
2. the reference scores full marks;
3. every declared mistake is recognised: its example (a function of the variants file that
   makes the mistake) loses points and is tagged with exactly that mistake on at least one
   test; an example the cases cannot tell from the reference is an error that says so;
4. the starter file scores zero, without a grader fault, and every structure the spec
   accepts besides the expected one (``structure.accept``) scores full marks, through its
   example;
5. the tolerances suit the backend: not tighter than float32 arithmetic can promise there,
   and not so loose that a mistake's example passes a case it gets wrong.

Findings are data: errors fail the run (for CI), warnings are reported; the terminal shows
them as a table, then one line per finding.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from rich.console import Console
from rich.table import Table

from autograder.errors import GraderError, SpecError, SpecIssue
from autograder.grading.cache import ExpectedCache
from autograder.grading.engine import GradeOptions, grade
from autograder.grading.outcome import ProblemResult, format_points
from autograder.grading.references import References
from autograder.sandbox import WorkerSession, WorkerSpec, worker_environment
from autograder.spec import LoadedProblem, Mistake, defined_functions, load_problem
from autograder.spec.source import KeyPath, format_key_path, read_yaml
from autograder.spec.wording import location
from autograder.staff.authoring import TO_FILL_IN, unfinished_mistakes
from autograder.student.statement import starter

#: float32 arithmetic on a CPU: a few units in the last place, times a margin for the
#: reordered sums of a different (still correct) implementation.
CPU_FLOOR = 10 * float(np.finfo(np.float32).eps)
#: Accelerators multiply float32 matrices at reduced precision by default (TF32, bfloat16).
ACCELERATOR_FLOOR = 1e-3
#: An example that passes a case while differing from the reference by more than this
#: (relative to the output's scale) is accepted by the tolerance, not by float noise.
NOISE = 1e-4


@dataclass(frozen=True)
class Finding:
    level: Literal["error", "warning"]
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass
class Validation:
    """What ``validate`` found for one problem folder."""

    directory: Path
    function: str | None = None
    findings: list[Finding] = field(default_factory=list)
    reference: str = "-"
    starter: str = "-"
    mistakes: str = "-"
    tolerance: str = "-"
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not any(f.level == "error" for f in self.findings)

    def error(self, where: str, message: str) -> None:
        self.findings.append(Finding("error", where, message))

    def warn(self, where: str, message: str) -> None:
        self.findings.append(Finding("warning", where, message))


def _at(problem: LoadedProblem, key: KeyPath) -> str:
    """Where in ``problem``'s spec ``key`` is, as spec errors say it: ``file:line:col:
    mistake 2 (shared-rng)`` (without the line if the spec cannot be read again)."""
    try:
        document = read_yaml(problem.spec_path)
    except SpecError:
        return f"{problem.spec_path}: {format_key_path(key)}"
    return document.issue(key, location(key, document.data), "").where


def example_name(mistake: Mistake, defined: set[str]) -> str | None:
    """The function of the variants file that makes ``mistake``: ``example``, else the id
    with dashes as underscores, else the first ``detect`` variant."""
    if mistake.example:
        return mistake.example
    by_id = mistake.id.replace("-", "_")
    if by_id in defined:
        return by_id
    return next((d.variant for d in mistake.alternatives if d.variant), None)


def steps(problem: LoadedProblem) -> int:
    """How many gradings validating ``problem`` takes (for a progress display)."""
    structure = problem.spec.structure
    return 2 + len(problem.spec.mistakes) + (len(structure.accept) if structure else 0)


def total_steps(directories: Sequence[Path]) -> int:
    """How many steps validating ``directories`` takes: a folder whose spec does not load
    is one (the loader's findings)."""
    total = 0
    for directory in directories:
        try:
            total += steps(load_problem(directory))
        except GraderError:
            total += 1
    return total


def _score(result: ProblemResult) -> str:
    return f"{format_points(result.points)}/{format_points(result.max_points)}"


def _failures(result: ProblemResult, limit: int = 3) -> str:
    failed = [f"{c.label}: {c.feedback.id} ({c.feedback.summary})" for c in result.tests
              if c.feedback is not None]
    more = f"; and {len(failed) - limit} more" if len(failed) > limit else ""
    return "; ".join(failed[:limit]) + more


class _Grader:
    """Grades trusted files of one problem as if a student had submitted them."""

    def __init__(self, problem: LoadedProblem, options: GradeOptions, scratch: Path,
                 session: WorkerSession) -> None:
        self.problem = problem
        self.options = options
        self.scratch = scratch
        self.session = session
        self.count = 0

    def grade_files(self, files: dict[str, str]) -> ProblemResult:
        self.count += 1
        folder = self.scratch / f"submission-{self.count}"
        folder.mkdir()
        for name, text in files.items():
            (folder / name).write_text(text, encoding="utf-8")
        report = grade(folder, [self.problem], self.options, session=self.session)
        if report.fault is not None or not report.problems:
            raise GraderError(f"grading failed:\n{report.fault}")
        return report.problems[0]


def _wrapper(problem: LoadedProblem, example: str) -> str:
    params = ", ".join(problem.spec.parameter_names)
    module = Path(problem.spec.variants).stem
    return (f"from {module} import {example} as _example\n\n\n"
            f"def {problem.spec.function}({params}):\n"
            f"    return _example({params})\n")


def _check_mistake(problem: LoadedProblem, index: int, mistake: Mistake, defined: set[str],
                   grader: _Grader, found: Validation,
                   expected: Callable[[], dict[int, np.ndarray]]) -> bool:
    where = _at(problem, ("mistakes", index))
    name = example_name(mistake, defined)
    variants = problem.spec.variants
    if name is None or name not in defined:
        wanted = name or mistake.id.replace("-", "_")
        found.error(where, f"mistake {mistake.id!r} has no example: add a function "
                           f"`def {wanted}({', '.join(problem.spec.parameter_names)})` to "
                           f"{variants} that makes this mistake as a student would (or name "
                           f"one with `example:`), so validate can prove it is recognised")
        return False
    files = {p.name: p.read_text(encoding="utf-8")
             for p in [problem.mistakes_path] if p.is_file()}
    files["solution.py"] = _wrapper(problem, name)
    result = grader.grade_files(files)
    declared = {m.id for m in problem.spec.mistakes}
    tagged = [c for c in result.tests if c.feedback is not None]
    exact = [c for c in tagged if set(c.feedback.tags) & declared == {mistake.id}]  # type: ignore[union-attr]
    _check_loose(problem, mistake, name, result, found, expected)
    doubled = [c for c in tagged if mistake.id in c.feedback.tags  # type: ignore[union-attr]
               and set(c.feedback.tags) & declared != {mistake.id}]  # type: ignore[union-attr]
    if exact and doubled:
        others = sorted({t for c in doubled for t in c.feedback.tags  # type: ignore[union-attr]
                         if t in declared} - {mistake.id})
        found.warn(where, f"the example {name!r} of mistake {mistake.id!r} is also tagged "
                          f"{', '.join(others)} on {', '.join(c.label for c in doubled)}: a "
                          "student making this one mistake is told of two there; make the "
                          "detect rules tell them apart (a `has`/`lacks` condition)")
    if exact:
        return True
    if not tagged:
        found.error(where, f"the example {name!r} of mistake {mistake.id!r} scores full marks "
                           f"({_score(result)}): no case tells this mistake from the reference. "
                           "Add a case on which it changes the output (other sizes, including "
                           "more than one model, layer or example; another seed), or a "
                           "structure rule (`has`/`lacks`) that recognises it")
        return False
    others = sorted({t for c in tagged for t in c.feedback.tags  # type: ignore[union-attr]
                     if t in declared} - {mistake.id})
    seen = sorted({c.feedback.id for c in tagged})  # type: ignore[union-attr]
    hint = (f"it is recognised as {', '.join(others)} instead" if others
            else f"its failures are only {', '.join(seen)}")
    found.error(where, f"the example {name!r} of mistake {mistake.id!r} loses points "
                       f"({_score(result)}) but is never tagged pitfall:{mistake.id} alone: "
                       f"{hint}. Fix the mistake's `detect` rule (or the example)")
    return False


def _check_alternative(problem: LoadedProblem, index: int, name: str, defined: set[str],
                       grader: _Grader, found: Validation) -> None:
    """An accepted alternative structure's example must score full marks."""
    where = _at(problem, ("structure", "accept", index, "example"))
    if name not in defined:
        found.error(where, f"{name!r} is not a function of {problem.spec.variants}: add "
                           f"`def {name}({', '.join(problem.spec.parameter_names)})` written "
                           f"the accepted way, so validate can prove it scores full marks")
        return
    result = grader.grade_files({
        f"{problem.spec.function}_alternative.py": _wrapper(problem, name),
        problem.spec.variants: problem.mistakes_path.read_text(encoding="utf-8")})
    if result.points < result.max_points:
        found.error(where, f"the accepted alternative {name!r} scores {_score(result)}, not "
                           f"full marks: {_failures(result)}. Fix `structure.accept` (or the "
                           f"example)")


def _check_loose(problem: LoadedProblem, mistake: Mistake, name: str, result: ProblemResult,
                 found: Validation, expected: Callable[[], dict[int, np.ndarray]]) -> None:
    """Warn when an example passes a case it gets wrong by more than float noise."""
    for case in result.cases:
        if not case.passed or case.output is None:
            continue
        want = expected().get(case.index)
        if want is None or case.output.shape != want.shape:
            continue
        diff = float(np.max(np.abs(case.output.astype(np.float64) - want), initial=0.0))
        scale = float(np.max(np.abs(want), initial=0.0)) or 1.0
        if diff / scale > NOISE:
            tol = problem.spec.tolerance_for(case.index)
            found.warn(_at(problem, ("cases", case.index)),
                       f"the example {name!r} of mistake {mistake.id!r} passes {case.label} "
                       f"although it differs from the reference by up to {diff:.3g} "
                       f"({diff / scale:.1e} of the output's scale): the tolerance "
                       f"(rtol={tol.rtol:g}, atol={tol.atol:g}) accepts this mistake there; "
                       "tighten it")


def _check_tolerances(problem: LoadedProblem, backend: str, found: Validation) -> str:
    floor = CPU_FLOOR if backend == "cpu" else ACCELERATOR_FLOOR
    spec = problem.spec
    tight = []
    for index in range(len(spec.cases)):
        tol = spec.tolerance_for(index)
        if tol.rtol < floor and tol.atol < floor:
            tight.append(index)
    if tight:
        where = _at(problem, ("tolerance",) if len(tight) == len(spec.cases)
                    else ("cases", tight[0], "tolerance"))
        found.warn(where, f"rtol below {floor:.1e}, what float32 arithmetic on the {backend} "
                          f"backend can promise for a correct solution computed in another "
                          f"order, on {len(tight)} case(s): a correct student may fail; use "
                          f"rtol of at least {floor:.0e}")
        return "too tight"
    return "ok"


def validate_problem(directory: Path, options: GradeOptions,
                     step: Callable[[str], None] = lambda _: None) -> Validation:
    """Validate one problem folder through the real grading path."""
    start = time.monotonic()
    found = Validation(directory)
    try:
        problem = load_problem(directory)
    except SpecError as exc:
        for issue in exc.issues:
            found.error(issue.where, issue.message)
        found.seconds = time.monotonic() - start
        return found
    found.function = problem.spec.function
    for at, unwritten in unfinished_mistakes(problem):
        found.warn(f"{problem.spec_path}: mistakes[{at}]",
                   f"the summary or fix of {unwritten!r} still says {TO_FILL_IN} (`autograder "
                   "catalogue` left them for you): write what students will read; zip and "
                   "kit refuse to ship it until then")
    expected_memo: dict[int, np.ndarray] = {}

    def expected() -> dict[int, np.ndarray]:
        if not expected_memo:
            with tempfile.TemporaryDirectory(prefix="autograder-validate-") as scratch:
                spec = WorkerSpec(env=worker_environment(options.grader_env, Path(scratch)),
                                  cwd=Path(scratch))
                with References(spec, ExpectedCache(options.cache_dir)) as references:
                    expected_memo.update(references.expected(problem))
        return expected_memo

    with tempfile.TemporaryDirectory(prefix="autograder-validate-") as scratch, \
            WorkerSession() as session:
        grader = _Grader(problem, options, Path(scratch), session)
        step("the reference")
        reference_file = problem.reference_path.name
        result = grader.grade_files({reference_file: problem.reference_path.read_text(
            encoding="utf-8")})
        found.reference = _score(result)
        if result.points < result.max_points:
            found.error(f"{problem.reference_path}",
                        f"the reference scores {_score(result)}, not full marks: "
                        f"{_failures(result)}")
        backend = str(result.environment.get("backend", "cpu"))
        step("the starter")
        own = problem.directory / "starter.py"
        text = own.read_text(encoding="utf-8") if own.is_file() else starter(problem)
        result = grader.grade_files({"starter.py": text})
        found.starter = _score(result)
        if result.points > 0:
            found.error(f"{own if own.is_file() else problem.spec_path}",
                        f"the starter file scores {_score(result)}; it must score 0 (a stub "
                        "that raises NotImplementedError)")
        defined = defined_functions(problem.mistakes_path) or set()
        recognised = 0
        for index, mistake in enumerate(problem.spec.mistakes):
            step(f"mistake {mistake.id}")
            recognised += _check_mistake(problem, index, mistake, defined, grader, found,
                                         expected)
        found.mistakes = f"{recognised}/{len(problem.spec.mistakes)} recognised"
        for index, alternative in enumerate(problem.spec.structure.accept
                                            if problem.spec.structure else ()):
            step(f"alternative {alternative.example}")
            _check_alternative(problem, index, alternative.example, defined, grader, found)
        found.tolerance = _check_tolerances(problem, backend, found)
        if any(f.level == "warning" and "accepts this mistake" in f.message
               for f in found.findings):
            found.tolerance = "too loose"
    found.seconds = time.monotonic() - start
    return found


def validate(directories: Sequence[Path], options: GradeOptions,
             on_step: Callable[[Path, str], None] = lambda *_: None) -> list[Validation]:
    """Validate every problem folder; problems whose functions collide are errors too."""
    results = []
    owners: dict[str, Path] = {}
    for directory in directories:

        def step(what: str, directory: Path = directory) -> None:
            on_step(directory, what)

        found = validate_problem(directory, options, step)
        if found.function is not None:
            other = owners.setdefault(found.function, directory)
            if other != directory:
                found.error(f"{directory / 'problem.yaml'}: function",
                            f"{found.function!r} is also graded by {other}; rename one")
        results.append(found)
    return results


# -- the terminal ----------------------------------------------------------------------------

def print_validation(results: Sequence[Validation], console: Console,
                     assignments: Sequence[tuple[Path, str, Sequence[Path]]] = (),
                     assignment_issues: Sequence[SpecIssue] = ()) -> None:
    """The table of problems, every finding (errors red, warnings yellow), the assignments
    checked (as (file, title, problem folders)) and their errors, and the count."""
    table = Table(title="Validation", title_justify="left")
    for column in ("problem", "reference", "starter", "mistakes", "tolerance", "seconds",
                   "result"):
        table.add_column(column, justify="right" if column == "seconds" else "left",
                         no_wrap=column in ("problem", "mistakes"))
    for found in results:
        table.add_row(found.directory.name, found.reference, found.starter, found.mistakes,
                      found.tolerance, f"{found.seconds:.0f}",
                      "[green]ok[/]" if found.ok else "[red]errors[/]")
    console.print(table)
    for found in results:
        for finding in found.findings:
            style = "red" if finding.level == "error" else "yellow"
            console.print(f"[{style}]{finding.level}[/] ", end="")
            console.print(str(finding), markup=False, highlight=False)
    for path, title, folders in assignments:
        console.print("[green]ok[/] ", end="")
        console.print(f"{path}: {title!r}, {len(folders)} problem(s): "
                      f"{', '.join(f.name for f in folders)}", markup=False, highlight=False)
    for issue in assignment_issues:
        console.print("[red]error[/] ", end="")
        console.print(str(issue), markup=False, highlight=False)
    errors = sum(f.level == "error" for r in results for f in r.findings)
    errors += len(assignment_issues)
    warnings = sum(f.level == "warning" for r in results for f in r.findings)
    checked = len(assignments) + len({i.path for i in assignment_issues})
    also = f" and {checked} assignment(s)" if checked else ""
    console.print(f"{len(results)} problem(s){also}: {errors} error(s), {warnings} "
                  f"warning(s)", style="bold red" if errors else "bold green", highlight=False)
