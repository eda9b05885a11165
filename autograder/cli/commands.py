"""One handler per command: read the parsed arguments, call the domain, print the outcome.

A handler returns SUCCESS, or FAILURE when what it checked has problems; whatever stops it
is an exception that ``status`` maps to the exit status. The two consoles and the
environment's variables come in a :class:`Context`: nothing here reads ``os.environ`` or
makes a console of its own.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from rich.console import Console

from autograder.cli.arguments import DEFAULT_PROBLEMS
from autograder.cli.status import ExitStatus, guarded
from autograder.errors import GraderError, SpecError, SpecIssue, UsageError
from autograder.files import private_files
from autograder.gradescope import run as front
from autograder.gradescope.package import build_zip
from autograder.grading.cache import compile_cache_beside, default_cache_dir
from autograder.grading.engine import GradeOptions
from autograder.grading.outcome import format_points
from autograder.grading.references import warm_cache
from autograder.sandbox import isolation
from autograder.spec import LoadedProblem, discover_problems, load_problem, load_problems
from autograder.spec.assignment import (
    assignment_folders,
    assignments_beside,
    load_assignment,
    read_assignment,
    select_problems,
)
from autograder.staff import analytics, authoring, gradebook, mutation_report, progress
from autograder.staff import catalogue as cataloguing
from autograder.staff import export as export_of
from autograder.staff import mutants as mutation
from autograder.staff import regrade as batch
from autograder.staff import validate as validation
from autograder.student import precheck
from autograder.student.kit import build_kit, start_files, write_start
from autograder.student.statement import in_course_order
from autograder.student.terminal import print_report


@dataclass(frozen=True)
class Context:
    """What a command runs with (httpie's ``Environment``): the environment's variables,
    the console for its output and the one for its errors."""

    env: Mapping[str, str]
    out: Console
    err: Console


Handler = Callable[[argparse.Namespace, Context], ExitStatus]


# -- grading -------------------------------------------------------------------------------

def _grade_options(args: argparse.Namespace, env: Mapping[str, str],
                   cache: Path) -> GradeOptions:
    """The options of ``grade`` and ``gradescope`` (see ``arguments._limits``)."""
    compile_cache = None if args.no_compile_cache else (args.compile_cache
                                                         or compile_cache_beside(cache))
    return GradeOptions(
        grader_env=env, allow_network=args.allow_network,
        memory_limit=args.memory_limit * 2**20 if args.memory_limit else None,
        isolate=False if args.no_isolation else None, compile_cache=compile_cache)


def _print_graded(graded: front.Graded, console: Console | None) -> None:
    if console is None:
        return
    if graded.failure is not None:
        console.print("[bold red]The grader failed:[/] ", end="")
        console.print(graded.failure, markup=False, highlight=False)
    if graded.report is not None:
        print_report(graded.report, console)
        console.print(f"Results written to {graded.results_path}", style="dim")


def grade_command(args: argparse.Namespace, context: Context) -> ExitStatus:
    """Exits 0 whenever it wrote results, whatever the score (or the grader's faults)."""
    default = default_cache_dir(context.env)
    cache = None if args.no_cache else (args.cache or default)
    options = replace(_grade_options(args, context.env, cache or default),
                      visible_only=args.visible_only, cache_dir=cache)
    graded = front.grade_to(args.submission, args.problems, args.results, options,
                            args.assignment)
    _print_graded(graded, None if args.quiet else context.out)
    return ExitStatus.SUCCESS


def gradescope(args: argparse.Namespace, context: Context) -> ExitStatus:
    layout = front.Layout.under(args.root, args.problems, args.cache)
    options = replace(_grade_options(args, context.env, layout.cache),
                      time_budget=args.time_budget)
    _print_graded(front.run_gradescope(layout, options), context.err)
    return ExitStatus.SUCCESS


def check(args: argparse.Namespace, context: Context) -> ExitStatus:
    submission: Path = args.submission
    if not submission.exists():
        raise UsageError(f"{submission} does not exist (give your .py file, notebook or "
                         "folder)")
    try:
        target = precheck.find_target(args.problems, DEFAULT_PROBLEMS,
                                      getattr(args, "assignment", None))
        problems = precheck.select(target.problems, args.problem)
    except UsageError:
        raise
    except GraderError as exc:
        raise GraderError(f"the exercises cannot be loaded: {exc}") from exc
    options = precheck.check_options(
        target, context.env, args.memory_limit * 2**20 if args.memory_limit else None)
    # Exercises named with --problem are checked whether attempted or not, as with --all.
    require_all = args.all or bool(args.problem)

    def once() -> ExitStatus:
        checked = precheck.run_check(submission, target, problems, options, require_all)
        if args.json:
            precheck.print_json(precheck.check_data(checked, str(submission)), context.out)
        else:
            precheck.print_check(checked, context.out, str(submission))
        if checked.report.fault is not None:
            return ExitStatus.ERROR
        return ExitStatus.SUCCESS if checked.passed else ExitStatus.FAILURE

    if not args.watch:
        return once()
    # A failed check is said and watched again, as a failing one is.
    return ExitStatus(precheck.watch(submission, lambda: guarded("check", once, context.err),
                                     context.err if args.json else context.out))


def start(args: argparse.Namespace, context: Context) -> ExitStatus:
    """Write the statement and the starters into DIR, never over a file already there."""
    try:
        files = start_files(args.problems, DEFAULT_PROBLEMS,
                            getattr(args, "assignment", None))
    except UsageError:
        raise
    except GraderError as exc:
        raise GraderError(f"the exercises cannot be loaded: {exc}") from exc
    directory: Path = args.directory
    wrote, skipped = write_start(directory, files)
    say = context.out
    for path in wrote:
        say.print(f"wrote    {path}", markup=False, highlight=False)
    for path, why in skipped:
        say.print(f"skipped  {path}: {why}", markup=False, highlight=False)
    starters = [name for name, _ in files if name.endswith(".py")]
    folder = "" if directory == Path(".") else f"{directory}/"
    say.print(f"Next: read {folder}PROBLEMS.md, write your solution in a starter, then check "
              f"it: autograder check {folder}{starters[0] if starters else 'FILE'}  (or "
              f"`autograder check {directory}` for every exercise you have started).",
              markup=False, highlight=False, soft_wrap=True)
    return ExitStatus.SUCCESS


# -- setting up ----------------------------------------------------------------------------

def warm(args: argparse.Namespace, context: Context) -> ExitStatus:
    cache = args.cache or default_cache_dir(context.env)
    compile_cache = args.compile_cache or compile_cache_beside(cache)
    seconds = warm_cache(load_problems(args.problems), cache, context.env, compile_cache)
    for problem_id, taken in seconds.items():
        context.out.print(f"{problem_id}: expected outputs ready ({taken:.1f} s)")
    context.out.print(f"Caches: {cache} and {compile_cache}", style="dim")
    return ExitStatus.SUCCESS


def harden(args: argparse.Namespace, context: Context) -> ExitStatus:
    if os.geteuid() != 0:
        raise UsageError("needs root (it creates a user and changes permissions)")
    if args.runtime_only:
        if args.problems or args.cache or args.compile_cache:
            raise UsageError("--runtime-only makes no folder private or shared: drop "
                             "--problems, --cache and --compile-cache")
        done = isolation.harden()
    else:
        private = [args.problems or DEFAULT_PROBLEMS, *([args.cache] if args.cache else [])]
        done = isolation.harden(private, args.compile_cache)
    said = [f"Student user {done.user.name!r} (uid {done.user.uid})"]
    if done.private:
        said.append(f"private: {', '.join(map(str, done.private))}")
    if done.opened:
        said.append(f"opened for traversal: {', '.join(map(str, done.opened))}")
    context.out.print("; ".join(said))
    if done.exposed:
        shown = ", ".join(map(str, done.exposed[:8])) + (", ..." if len(done.exposed) > 8
                                                         else "")
        context.err.print(f"warning: the way to the Python runtime goes through folders "
                          f"others may enter, so student code can read these by name: "
                          f"{shown}. Install Python outside a home directory, or make them "
                          f"private (chmod o-r).", highlight=False)
    return ExitStatus.SUCCESS


def _shipped(args: argparse.Namespace, what: str) -> list[LoadedProblem]:
    """The problems a zip or a kit ships: the assignment's in its order, or the whole bank
    in the course's; all valid, none an unfinished scaffold."""
    problems = select_problems(args.problems, args.assignment)
    authoring.refuse_scaffolds(problems, what)
    return problems if args.assignment else list(in_course_order(problems))


def _shipped_line(output: Path, names: Sequence[str], problems: Sequence[LoadedProblem],
                  assignment: Path | None) -> str:
    points = sum(p.spec.points for p in problems)
    which = f"the assignment {assignment}" if assignment else "every problem of the bank"
    return (f"Wrote {output} ({len(names)} files): {len(problems)} problem(s) worth "
            f"{format_points(points)} points, {which}: "
            f"{', '.join(p.spec.function for p in problems)}")


def zip_command(args: argparse.Namespace, context: Context) -> ExitStatus:
    problems = _shipped(args, "zip")
    names = build_zip(DEFAULT_PROBLEMS.parent, args.output, problems, args.assignment)
    context.out.print(_shipped_line(args.output, names, problems, args.assignment),
                      highlight=False, markup=False)
    return ExitStatus.SUCCESS


def kit(args: argparse.Namespace, context: Context) -> ExitStatus:
    problems = _shipped(args, "kit")
    with tempfile.TemporaryDirectory(prefix="autograder-kit-") as scratch:
        names = build_kit(DEFAULT_PROBLEMS.parent, problems, args.output,
                          args.cache or default_cache_dir(context.env), context.env,
                          Path(scratch))
    context.out.print(_shipped_line(args.output, names, problems, args.assignment),
                      highlight=False, markup=False)
    return ExitStatus.SUCCESS


# -- authoring -----------------------------------------------------------------------------

def new(args: argparse.Namespace, context: Context) -> ExitStatus:
    for path in authoring.scaffold(args.problems, args.name):
        context.out.print(f"wrote {path}", markup=False, highlight=False)
    folder = args.problems / args.name
    context.out.print(f"Next: edit {folder}/problem.yaml and reference.py, then run "
                      f"`autograder validate {folder}` (docs/authoring.md walks through it).",
                      markup=False, highlight=False)
    return ExitStatus.SUCCESS


def validate(args: argparse.Namespace, context: Context) -> ExitStatus:
    directories: list[Path] = []
    banks: list[Path] = []
    for path in args.paths:
        folders = discover_problems(path)
        if not folders:
            raise UsageError(f"no problem.yaml in {path} or its sub-folders")
        if folders != [path]:
            banks.append(path)
        directories += [d for d in folders if d not in directories]
    assignments, issues = _assignments_to_check(args.assignment, banks)
    if args.assignment:  # only the problems the assignments name
        named = {folder for _, _, folders in assignments for folder in folders}
        directories = [d for d in directories if d in named]
    cache = args.cache or default_cache_dir(context.env)
    options = GradeOptions(grader_env=context.env, cache_dir=cache,
                           compile_cache=compile_cache_beside(cache))
    total = validation.total_steps(directories)
    with progress.validate_progress(context.out, total) as on_step:
        results = validation.validate(directories, options, on_step)
    validation.print_validation(results, context.out, assignments, issues)
    ok = all(r.ok for r in results) and not issues
    if args.mutants:
        ok = _mutants_of_validated(results, options, context) and ok
    return ExitStatus.SUCCESS if ok else ExitStatus.FAILURE


def _analyze(problems: Sequence[LoadedProblem], options: GradeOptions, jobs: int,
             context: Context) -> bool:
    """The mutation analysis of ``problems``, printed; whether none has a survivor the spec
    does not declare equivalent, nor an error."""
    with progress.mutants_progress(context.out) as steps:
        analyses = mutation.analyze_all(problems, options, jobs, steps)
    mutation_report.print_analyses(analyses, context.out)
    return all(a.ok for a in analyses)


def mutants(args: argparse.Namespace, context: Context) -> ExitStatus:
    """``autograder mutants PROBLEM_DIR... [--assignment FILE] [--jobs N] [--cache DIR]``."""
    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    if args.assignment is not None:
        if len(args.paths) != 1:
            raise UsageError("--assignment names problems of one bank: give one problems "
                             "folder (or none, for the checkout's)")
        if not args.assignment.is_file():
            raise UsageError(f"no assignment file {args.assignment}")
        problems = load_assignment(args.assignment, args.paths[0])
    else:
        folders: list[Path] = []
        for path in args.paths:
            found = discover_problems(path)
            if not found:
                raise UsageError(f"no problem.yaml in {path} or its sub-folders")
            folders += [f for f in found if f not in folders]
        problems = [load_problem(folder) for folder in folders]
    cache = args.cache or default_cache_dir(context.env)
    options = GradeOptions(grader_env=context.env, cache_dir=cache,
                           compile_cache=compile_cache_beside(cache))
    ok = _analyze(problems, options, args.jobs, context)
    return ExitStatus.SUCCESS if ok else ExitStatus.FAILURE


def _mutants_of_validated(results: Sequence[validation.Validation], options: GradeOptions,
                          context: Context) -> bool:
    """``validate --mutants``: the analysis of the problems that validated."""
    valid = [r.directory for r in results if r.ok]
    skipped = [r.directory.name for r in results if not r.ok]
    if skipped:
        context.out.print(f"mutants: not analysed, as they do not validate: "
                          f"{', '.join(skipped)}", highlight=False, markup=False)
    if not valid:
        return not skipped
    return _analyze([load_problem(d) for d in valid], options, 1, context)


def _assignments_to_check(given: Sequence[Path], banks: Sequence[Path]) -> tuple[
        list[tuple[Path, str, list[Path]]], list[SpecIssue]]:
    """The assignments ``validate`` checks (those given, else every one beside a bank it
    validates): each that names existing problems as (path, title, its folders), and the
    issues of the others."""
    bank = banks[0] if banks else DEFAULT_PROBLEMS
    if given and len(banks) > 1:
        raise UsageError("--assignment names problems of one bank: give one problems "
                         "folder (or none, for the checkout's)")
    pairs = ([(Path(path), bank) for path in given] if given else
             [(path, root) for root in banks for path in assignments_beside(root)])
    good: list[tuple[Path, str, list[Path]]] = []
    issues: list[SpecIssue] = []
    for path, root in pairs:
        try:
            assignment = read_assignment(path)
            good.append((path, assignment.title, assignment_folders(assignment, root)))
        except SpecError as exc:
            if given and not path.is_file():
                raise UsageError(f"no assignment file {path}") from None
            issues += exc.issues
    return good, issues


def schema(args: argparse.Namespace, context: Context) -> ExitStatus:
    text = authoring.schema_text(args.of)
    if args.output is None:
        context.out.out(text, end="", highlight=False)
    else:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
    return ExitStatus.SUCCESS


# -- the class -----------------------------------------------------------------------------

def regrade(args: argparse.Namespace, context: Context) -> ExitStatus:
    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    with private_files():  # the extraction, results, table and report: the TA's alone
        return _regrade(args, context)


def _regrade(args: argparse.Namespace, context: Context) -> ExitStatus:
    export: Path = args.export
    output: Path = args.output or export.with_name(export.stem + "-regrade")
    batch.private_folder(output)
    submissions = export_of.read_export(export, output)
    problems = select_problems(args.problems, args.assignment)
    digest = batch.problems_digest(args.problems, args.assignment)
    cache = args.cache or default_cache_dir(context.env)
    made = batch.Settings.for_cluster if args.scheduler else batch.Settings.for_local
    settings = made(args.jobs, cache, args.time_budget, args.assignment)
    runner = batch.runner_for(args.problems, settings, args.jobs, args.scheduler)
    interrupted = False
    started = time.monotonic()
    with progress.regrade_progress(context.out) as bar:
        batch.warm_for(submissions, output, problems, digest, cache, context.env, args.force,
                       bar.warming, bar.warmed)
        try:
            graded = batch.regrade(submissions, output, digest, runner, args.force,
                                   bar.advance, bar.start)
        except KeyboardInterrupt:
            interrupted, graded = True, []
    csv_path = args.csv or output / "grades.csv"
    functions = [p.spec.function for p in problems]
    rows = gradebook.write_csv(output, csv_path,
                               functions if args.assignment else sorted(functions))
    # The report is said to fail after the grades are: they are written whatever it does.
    status = guarded("regrade", lambda: _analytics(output, output / "report.html", problems,
                                                   context.out, args.assignment), context.err)
    if interrupted:
        context.out.print(f"Interrupted: {rows} of {len(submissions)} submissions have "
                          "results; run the same command to grade the rest.", highlight=False)
        return ExitStatus.INTERRUPTED
    where = f"on {args.scheduler}" if args.scheduler else f"{args.jobs} at a time"
    faults = sum(o.fault for o in graded)
    context.out.print(f"Graded {len(graded)} submission(s) {where}; {rows} in {csv_path}"
                      + (f"; {faults} grader fault(s), see their results.json"
                         if faults else ""), highlight=False)
    if graded:
        minutes = (time.monotonic() - started) / 60
        cores = None if args.scheduler else min(args.jobs, os.cpu_count() or 1)
        context.out.print(f"Throughput: {len(graded) / minutes:.1f} submissions per minute"
                          + (f", {len(graded) / minutes / cores:.1f} per minute per core "
                             f"({cores} core(s))" if cores else ""), highlight=False)
    return status


def report(args: argparse.Namespace, context: Context) -> ExitStatus:
    with private_files():
        return _report(args, context)


def _report(args: argparse.Namespace, context: Context) -> ExitStatus:
    try:
        problems = load_problems(args.problems) if args.problems.is_dir() else []
    except GraderError:
        problems = []  # the page is written without the mistakes' summaries
    return _analytics(args.results_dir, args.output or args.results_dir / "report.html",
                      problems, context.out, args.assignment)


def _analytics(results_dir: Path, page: Path, problems: Sequence[LoadedProblem],
               console: Console, assignment: Path | None = None) -> ExitStatus:
    """Write the analytics page (and summary.json, and a page per submission) and print
    its headline numbers; the page is titled with the assignment's name when given."""
    title = (read_assignment(assignment).title if assignment is not None
             else f"Regrade report: {results_dir.name}")
    graded = analytics.write_report(results_dir, page, analytics.mistake_summaries(problems),
                                    title)
    if not graded.submissions:
        raise UsageError(f"no results in {results_dir}")
    for line in analytics.headline_lines(graded):
        console.print(line, highlight=False, markup=False)
    console.print(f"Report: {page}", style="dim", highlight=False)
    return ExitStatus.SUCCESS


def catalogue(args: argparse.Namespace, context: Context) -> ExitStatus:
    """A group of the class's unexplained answers becomes a mistake of its problem."""
    done = cataloguing.catalogue(args.results_dir, args.group, args.mistake, args.problems)
    for line in cataloguing.said(done):
        context.out.print(line, markup=False, highlight=False, soft_wrap=True)
    return ExitStatus.SUCCESS
