"""Command-line front doors: ``python -m autograder grade|gradescope ...``.

The CLI is a function ``main(argv, env) -> ExitStatus`` (as httpie's is), so tests call it
directly; ``run()`` is the console-script wrapper.
"""

from __future__ import annotations

import argparse
import enum
import json
import os
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.console import Console

from autograder.errors import GraderError
from autograder.gradescope.package import build_zip
from autograder.gradescope.results import build_results, failure_results, write_results
from autograder.grading.cache import default_cache_dir
from autograder.grading.engine import GradeOptions, grade
from autograder.grading.outcome import ProblemResult, Report
from autograder.grading.references import warm_cache
from autograder.sandbox import isolation
from autograder.spec import discover_problems, load_problem, load_problems
from autograder.staff import authoring
from autograder.staff.validate import Validation, steps, validate
from autograder.student import precheck as check
from autograder.student.kit import build_kit
from autograder.student.terminal import print_report

#: Where the package's own problems live in a checkout (and in the Gradescope zip).
DEFAULT_PROBLEMS = Path(__file__).resolve().parents[2] / "problems"


class ExitStatus(enum.IntEnum):
    SUCCESS = 0
    FAILURE = 1  # a check found problems (`check`, `validate`)
    USAGE = 2
    ERROR = 3  # the grader could not even write results
    INTERRUPTED = 130  # Ctrl-C (a regrade resumes where it stopped)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="autograder", description="Grade Flax lifted-transform exercises.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    grade_cmd = commands.add_parser(
        "grade", help="grade a submission (a directory or a .py/.ipynb file)",
        description="Grade a submission and write Gradescope results.json. Exits 0 whenever "
                    "results were written, whatever the score.")
    grade_cmd.add_argument("submission", type=Path)
    grade_cmd.add_argument("--results", type=Path, required=True, help="results.json to write")
    grade_cmd.add_argument("--problems", type=Path, default=DEFAULT_PROBLEMS,
                           help="problems directory (default: %(default)s)")
    grade_cmd.add_argument("--visible-only", action="store_true",
                           help="grade only the cases students can see")
    grade_cmd.add_argument("--quiet", action="store_true", help="print no report")
    grade_cmd.add_argument("--cache", type=Path, default=None,
                           help="expected-output cache (default: $AUTOGRADER_CACHE or "
                                "~/.cache/flax-lift-autograder/expected)")
    grade_cmd.add_argument("--no-cache", action="store_true",
                           help="compute the expected outputs afresh")
    _limit_options(grade_cmd)

    gs = commands.add_parser(
        "gradescope", help="what run_autograder calls on Gradescope",
        description="Grade /autograder/submission into /autograder/results/results.json; "
                    "every path can be overridden (tests run a whole tree in a temp folder).")
    gs.add_argument("--root", type=Path, default=Path("/autograder"))
    gs.add_argument("--problems", type=Path, default=None,
                    help="default: ROOT/source/problems")
    gs.add_argument("--cache", type=Path, default=None,
                    help="default: ROOT/source/.cache/expected (warmed by setup.sh)")
    gs.add_argument("--time-budget", type=float, default=540.0,
                    help="seconds for the whole grading, below Gradescope's 10-minute limit "
                         "(default: %(default)s)")
    _limit_options(gs)

    warm = commands.add_parser(
        "warm", help="precompute the expected outputs (setup.sh runs this)",
        description="Run every reference on every case on this machine's JAX backend and "
                    "cache the outputs, so grading does not run the references again.")
    warm.add_argument("--problems", type=Path, default=DEFAULT_PROBLEMS)
    warm.add_argument("--cache", type=Path, default=None,
                      help="default: $AUTOGRADER_CACHE or ~/.cache/flax-lift-autograder/expected")
    warm.add_argument("--compile-cache", type=Path, default=None, metavar="DIR",
                      help="JAX's compilation cache to fill (default: beside --cache)")

    harden = commands.add_parser(
        "harden", help="prepare privilege separation (setup.sh runs this as root)",
        description="Create the unprivileged student user, make the problems folder and the "
                    "cache unreadable to it, and let it reach the Python runtime.")
    harden.add_argument("--problems", type=Path, default=DEFAULT_PROBLEMS)
    harden.add_argument("--cache", type=Path, default=None, help="made private")
    harden.add_argument("--compile-cache", type=Path, default=None,
                        help="made readable, not writable, by the student user")

    zip_cmd = commands.add_parser("zip", help="build the Gradescope autograder zip")
    zip_cmd.add_argument("--output", type=Path, default=Path("dist/autograder.zip"))

    check_cmd = commands.add_parser(
        "check", help="check your solutions on the visible cases before you submit",
        description="Grade a file, folder or notebook on the visible cases, with the same "
                    "engine and feedback as Gradescope. Exit status: 0 when every visible "
                    "test passes, 1 when one fails, 2 for a wrong command, 3 when the check "
                    "itself failed.")
    check_cmd.add_argument("submission", type=Path, metavar="PATH")
    check_cmd.add_argument("--problem", action="append", default=[], metavar="NAME",
                           help="check this exercise only (repeatable)")
    check_cmd.add_argument("--json", action="store_true",
                           help="print the outcome as JSON instead of a report")
    check_cmd.add_argument("--watch", action="store_true",
                           help="check again every time a file of PATH changes")
    check_cmd.add_argument("--problems", type=Path, default=None,
                           help="problems folder (default: the kit's, or the checkout's)")
    check_cmd.add_argument("--memory-limit", type=int, default=None, metavar="MB",
                           help="memory for your code (default: most of this machine's)")

    new = commands.add_parser(
        "new", help="scaffold a new problem (spec, reference, mistakes, starter)",
        description="Write problems/NAME/ with a commented spec, a reference, mistake "
                    "examples and a starter: a complete exercise that passes validate, to "
                    "change step by step.")
    new.add_argument("name", help="the function students write, e.g. scan_over_layers")
    new.add_argument("--problems", type=Path, default=DEFAULT_PROBLEMS)

    val = commands.add_parser(
        "validate", help="prove problems' tests right (reference, mistakes, starter)",
        description="Check each problem through the real grading path: a valid spec, the "
                    "reference at full marks, every mistake recognised by its example, the "
                    "starter at zero, sane tolerances. Exits 1 on any error.")
    val.add_argument("paths", type=Path, nargs="*", default=[DEFAULT_PROBLEMS], metavar="PATH",
                     help="problem folders, or folders of them (default: %(default)s)")
    val.add_argument("--cache", type=Path, default=None,
                     help="expected-output cache (default: $AUTOGRADER_CACHE or "
                          "~/.cache/flax-lift-autograder/expected)")

    schema = commands.add_parser(
        "schema", help="write the JSON Schema of problem.yaml (for editors)",
        description="Print (or write) the JSON Schema of the spec format, generated from the "
                    "loader's own models; the repository ships it as schema/problem.schema.json.")
    schema.add_argument("--output", type=Path, default=None, help="file to write (default: stdout)")

    regrade_cmd = commands.add_parser(
        "regrade", help="regrade a Gradescope export (or a folder of submissions)",
        description="Grade every submission of an export with the same isolated engine: one "
                    "results.json each, a CSV, a summary and the analytics report. A re-run "
                    "resumes: submissions graded against the same problems are not graded "
                    "again (unless --force).")
    regrade_cmd.add_argument("export", type=Path, metavar="EXPORT",
                             help="the export's zip or folder (submission_metadata.yml and "
                                  "one folder per submission), or a folder of submission "
                                  "folders")
    regrade_cmd.add_argument("--output", type=Path, default=None, metavar="DIR",
                             help="where results go (default: EXPORT-regrade beside it)")
    regrade_cmd.add_argument("--csv", type=Path, default=None, metavar="PATH",
                             help="the class table (default: DIR/grades.csv)")
    regrade_cmd.add_argument("--jobs", type=int, default=1, metavar="N",
                             help="submissions graded at a time on this machine")
    regrade_cmd.add_argument("--scheduler", default=None, metavar="ADDRESS",
                             help="grade on a Dask distributed cluster instead "
                                  "(tcp://host:8786); its workers must see the same paths")
    regrade_cmd.add_argument("--force", action="store_true",
                             help="grade again what is already graded")
    regrade_cmd.add_argument("--problems", type=Path, default=DEFAULT_PROBLEMS)
    regrade_cmd.add_argument("--cache", type=Path, default=None,
                             help="expected-output cache (default: $AUTOGRADER_CACHE or "
                                  "~/.cache/flax-lift-autograder/expected)")
    regrade_cmd.add_argument("--time-budget", type=float, default=540.0,
                             help="seconds per submission (default: %(default)s)")

    report_cmd = commands.add_parser(
        "report", help="the class analytics page for a folder of results",
        description="Write a self-contained HTML report (scores per problem, mistakes "
                    "ranked, failing tests, grading time) and print the headline numbers.")
    report_cmd.add_argument("results_dir", type=Path, metavar="RESULTS_DIR")
    report_cmd.add_argument("--output", type=Path, default=None,
                            help="default: RESULTS_DIR/report.html")
    report_cmd.add_argument("--problems", type=Path, default=DEFAULT_PROBLEMS,
                            help="for the mistakes' summaries (default: %(default)s)")

    kit = commands.add_parser(
        "kit", help="build the student kit (dist/student-kit.zip)",
        description="Write the pip-installable student kit: the check command, statements, "
                    "starter files, the visible cases and their expected outputs (computed "
                    "here), and no reference, variant or hidden case.")
    kit.add_argument("--output", type=Path, default=Path("dist/student-kit.zip"))
    kit.add_argument("--problems", type=Path, default=DEFAULT_PROBLEMS)
    kit.add_argument("--cache", type=Path, default=None,
                     help="expected-output cache to reuse (default: $AUTOGRADER_CACHE or "
                          "~/.cache/flax-lift-autograder/expected)")
    return parser


def _limit_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--memory-limit", type=int, default=None, metavar="MB",
                        help="memory for student code (default: the container's memory minus "
                             "the grader's share, at most 3072)")
    parser.add_argument("--allow-network", action="store_true",
                        help="let student code use the network (blocked by default)")
    parser.add_argument("--no-isolation", action="store_true",
                        help="run student code as the grader's user even when root")
    parser.add_argument("--compile-cache", type=Path, default=None, metavar="DIR",
                        help="JAX's persistent compilation cache, warmed by 'warm' (default: "
                             "beside the expected-output cache)")
    parser.add_argument("--no-compile-cache", action="store_true",
                        help="compile everything afresh")


def _options(args: argparse.Namespace, env: Mapping[str, str], cache: Path) -> GradeOptions:
    compile_cache = None if args.no_compile_cache else (args.compile_cache
                                                         or compile_cache_beside(cache))
    return GradeOptions(
        grader_env=env, allow_network=args.allow_network,
        memory_limit=args.memory_limit * 2**20 if args.memory_limit else None,
        isolate=False if args.no_isolation else None, compile_cache=compile_cache)


def compile_cache_beside(cache: Path) -> Path:
    """``.../expected`` -> ``.../jax``: the two caches live side by side."""
    return cache.parent / "jax"


def _warm(problems_dir: Path, cache: Path, compile_cache: Path, env: Mapping[str, str],
          console: Console) -> ExitStatus:
    try:
        problems = load_problems(problems_dir)
        seconds = warm_cache(problems, cache, env, compile_cache)
    except GraderError as exc:
        console.print(f"[bold red]Could not warm the cache:[/] {exc}", highlight=False)
        return ExitStatus.FAILURE
    for problem_id, taken in seconds.items():
        console.print(f"{problem_id}: expected outputs ready ({taken:.1f} s)")
    console.print(f"Caches: {cache} and {compile_cache}", style="dim")
    return ExitStatus.SUCCESS


def _harden(problems_dir: Path, cache: Path | None, compile_cache: Path | None,
            console: Console) -> ExitStatus:
    if os.geteuid() != 0:
        console.print("harden needs root (it creates a user and changes permissions)")
        return ExitStatus.FAILURE
    user = isolation.ensure_student_user()
    opened = isolation.open_runtime()
    private = [problems_dir, *([cache] if cache else [])]
    for path in private:
        path.mkdir(parents=True, exist_ok=True)
    isolation.protect(private)
    if compile_cache is not None:
        isolation.share_read_only(compile_cache)
    console.print(f"Student user {user.name!r} (uid {user.uid}); private: "
                  f"{', '.join(map(str, private))}"
                  + (f"; opened for traversal: {', '.join(map(str, opened))}" if opened else ""))
    return ExitStatus.SUCCESS


def _grade_to(submission: Path, problems_dir: Path, results_path: Path, options: GradeOptions,
              console: Console | None) -> ExitStatus:
    """Grade and write results; any grader fault still yields a valid results file, with
    every problem graded before the fault."""
    graded: list[ProblemResult] = []
    start = time.monotonic()
    try:
        problems = load_problems(problems_dir)
        report = grade(submission, problems, options, graded=graded)
        results = build_results(report)
    except Exception as exc:
        detail = traceback.format_exc()
        if console is not None:
            message = str(exc) if isinstance(exc, GraderError) else detail
            console.print(f"[bold red]The grader failed:[/] {message}", highlight=False)
        results = (build_results(Report(tuple(graded), {}, time.monotonic() - start, detail))
                   if graded else failure_results(detail))
        report = None
    try:
        write_results(results_path, results)
    except OSError as exc:
        print(f"autograder: cannot write {results_path}: {exc}", file=sys.stderr)
        return ExitStatus.ERROR
    if console is not None and report is not None:
        print_report(report, console)
        console.print(f"Results written to {results_path}", style="dim")
    return ExitStatus.SUCCESS


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None,
         console: Console | None = None) -> ExitStatus:
    env = dict(os.environ if env is None else env)
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help (0) and on usage errors (2)
        return ExitStatus.SUCCESS if exc.code == 0 else ExitStatus.USAGE
    if args.command == "grade":
        out = None if args.quiet else (console or Console())
        cache = None if args.no_cache else (args.cache or default_cache_dir(env))
        options = replace(_options(args, env, cache or default_cache_dir(env)),
                          visible_only=args.visible_only, cache_dir=cache)
        return _grade_to(args.submission, args.problems, args.results, options, out)
    if args.command == "warm":
        cache = args.cache or default_cache_dir(env)
        return _warm(args.problems, cache, args.compile_cache or compile_cache_beside(cache),
                     env, console or Console())
    if args.command == "harden":
        return _harden(args.problems, args.cache, args.compile_cache, console or Console())
    if args.command == "zip":
        names = build_zip(DEFAULT_PROBLEMS.parent, args.output)
        (console or Console()).print(f"Wrote {args.output} ({len(names)} files)")
        return ExitStatus.SUCCESS
    if args.command == "check":
        return _check(args, env, console)
    if args.command == "kit":
        return _kit(args, env, console or Console())
    if args.command == "new":
        return _new(args, console or Console())
    if args.command == "regrade":
        return _regrade(args, env, console or Console())
    if args.command == "report":
        return _report(args, console or Console())
    if args.command == "validate":
        return _validate(args, env, console or Console())
    if args.command == "schema":
        if args.output is None:
            (console or Console()).out(authoring.schema_text(), end="", highlight=False)
        else:
            args.output.parent.mkdir(parents=True, exist_ok=True)
            args.output.write_text(authoring.schema_text(), encoding="utf-8")
        return ExitStatus.SUCCESS
    root: Path = args.root
    problems = args.problems or root / "source" / "problems"
    cache = args.cache or root / "source" / ".cache" / "expected"
    options = replace(_options(args, env, cache), cache_dir=cache, time_budget=args.time_budget)
    # A backstop for the budget: whatever hangs, results are written before Gradescope's
    # own limit (which would leave the student with nothing but a zero).
    previous = signal.signal(signal.SIGALRM, _out_of_time)
    signal.alarm(int(args.time_budget) + 30)
    try:
        return _grade_to(root / "submission", problems, root / "results" / "results.json",
                         options, console or Console(stderr=True))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _check(args: argparse.Namespace, env: Mapping[str, str],
           console: Console | None) -> ExitStatus:
    out = console or Console()
    errors = console or Console(stderr=True)
    submission: Path = args.submission
    if not submission.exists():
        errors.print(f"autograder check: {submission} does not exist (give your .py file, "
                     "notebook or folder)", highlight=False, markup=False, soft_wrap=True)
        return ExitStatus.USAGE
    try:
        target = check.find_target(args.problems, DEFAULT_PROBLEMS)
        problems = check.select(target.problems, args.problem)
    except check.UsageError as exc:
        errors.print(f"autograder check: {exc}", highlight=False, markup=False, soft_wrap=True)
        return ExitStatus.USAGE
    except GraderError as exc:
        errors.print(f"autograder check: the exercises cannot be loaded: {exc}",
                     highlight=False, markup=False, soft_wrap=True)
        return ExitStatus.ERROR
    cache = default_cache_dir(env)
    options = GradeOptions(
        visible_only=True, grader_env=env,
        cache_dir=None if target.references is not None else cache,
        compile_cache=compile_cache_beside(cache),
        memory_limit=args.memory_limit * 2**20 if args.memory_limit else None)

    def once() -> ExitStatus:
        try:
            report = grade(submission, problems, options, target.references)
        except GraderError as exc:
            errors.print(f"autograder check: the check itself failed: {exc}",
                         highlight=False, markup=False, soft_wrap=True)
            return ExitStatus.ERROR
        warnings = check.warnings_for(report, target)
        if args.json:
            check.print_json(check.check_data(report, submission, warnings), out)
        else:
            check.print_check(report, out, submission, warnings)
        if report.fault is not None:
            return ExitStatus.ERROR
        return ExitStatus.SUCCESS if check.passed(report) else ExitStatus.FAILURE

    if args.watch:
        return ExitStatus(check.watch(submission, once, errors if args.json else out))
    return once()


def _kit(args: argparse.Namespace, env: Mapping[str, str], console: Console) -> ExitStatus:
    try:
        with tempfile.TemporaryDirectory(prefix="autograder-kit-") as scratch:
            names = build_kit(DEFAULT_PROBLEMS.parent, args.problems, args.output,
                              args.cache or default_cache_dir(env), env, Path(scratch))
    except GraderError as exc:
        console.print(f"[bold red]Could not build the kit:[/] {exc}", highlight=False)
        return ExitStatus.FAILURE
    console.print(f"Wrote {args.output} ({len(names)} files)", highlight=False)
    return ExitStatus.SUCCESS


def _new(args: argparse.Namespace, console: Console) -> ExitStatus:
    try:
        written = authoring.scaffold(args.problems, args.name)
    except authoring.ScaffoldError as exc:
        console.print(f"autograder new: {exc}", markup=False, highlight=False, soft_wrap=True)
        return ExitStatus.USAGE
    for path in written:
        console.print(f"wrote {path}", markup=False, highlight=False)
    console.print(f"Next: edit {args.problems / args.name}/problem.yaml and reference.py, then "
                  f"run `autograder validate {args.problems / args.name}` (docs/authoring.md "
                  "walks through it).", markup=False, highlight=False)
    return ExitStatus.SUCCESS


def _validate(args: argparse.Namespace, env: Mapping[str, str],
              console: Console) -> ExitStatus:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    directories: list[Path] = []
    for path in args.paths:
        folders = discover_problems(path)
        if not folders:
            console.print(f"autograder validate: no problem.yaml in {path} or its "
                          "sub-folders", markup=False, highlight=False, soft_wrap=True)
            return ExitStatus.USAGE
        directories += [d for d in folders if d not in directories]
    cache = args.cache or default_cache_dir(env)
    options = GradeOptions(grader_env=env, cache_dir=cache,
                           compile_cache=compile_cache_beside(cache))
    total = 0
    for directory in directories:
        try:
            total += steps(load_problem(directory))
        except GraderError:
            total += 1
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/"
                  "{task.total}"), TimeElapsedColumn(), console=console,
                  transient=True) as progress:
        task = progress.add_task("validating", total=total)

        def on_step(directory: Path, what: str) -> None:
            progress.update(task, description=f"{directory.name}: {what}")
            progress.advance(task)

        results = validate(directories, options, on_step)
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
    _print_findings(results, console)
    errors = sum(f.level == "error" for r in results for f in r.findings)
    warnings = sum(f.level == "warning" for r in results for f in r.findings)
    console.print(f"{len(results)} problem(s): {errors} error(s), {warnings} warning(s)",
                  style="bold red" if errors else "bold green", highlight=False)
    return ExitStatus.FAILURE if errors else ExitStatus.SUCCESS


def _print_findings(results: list[Validation], console: Console) -> None:
    for found in results:
        for finding in found.findings:
            style = "red" if finding.level == "error" else "yellow"
            console.print(f"[{style}]{finding.level}[/] ", end="")
            console.print(str(finding), markup=False, highlight=False)


def _regrade(args: argparse.Namespace, env: Mapping[str, str],
             console: Console) -> ExitStatus:
    from autograder.staff import regrade as rg
    from autograder.staff.progress import regrade_progress

    if args.jobs < 1:
        console.print("autograder regrade: --jobs must be at least 1", highlight=False)
        return ExitStatus.USAGE
    export: Path = args.export
    output: Path = args.output or export.with_name(export.stem + "-regrade")
    try:
        submissions = rg.read_export(export, output)
        problems = load_problems(args.problems)
    except GraderError as exc:
        console.print(f"autograder regrade: {exc}", markup=False, highlight=False,
                      soft_wrap=True)
        return ExitStatus.USAGE
    cache = args.cache or default_cache_dir(env)
    memory = isolation.default_memory_limit(1 if args.scheduler else args.jobs)
    # The kernel counts the student user's processes and threads across every grading on a
    # machine: N at a time get N times one grading's limit (a Dask worker: its threads).
    side_by_side = args.jobs if not args.scheduler else max(args.jobs, os.cpu_count() or 1)
    settings = rg.Settings(cache_dir=str(cache), compile_cache=str(compile_cache_beside(cache)),
                           memory_limit=memory, time_budget=args.time_budget,
                           process_limit=512 * side_by_side)
    try:
        # The references' outputs and compiled programs, once for the batch (as setup.sh does
        # on Gradescope): a correct submission's programs are then cache reads.
        digest = rg.problems_digest(args.problems)
        if args.force or not all(rg.done(output, s, digest) for s in submissions):
            warm_cache(problems, cache, env, compile_cache_beside(cache))
        runner = (rg.dask_runner(args.scheduler, args.problems, settings) if args.scheduler
                  else rg.local_runner(args.jobs, args.problems, settings))
    except GraderError as exc:
        console.print(f"autograder regrade: {exc}", markup=False, highlight=False,
                      soft_wrap=True)
        return ExitStatus.ERROR
    where = f"on {args.scheduler}" if args.scheduler else f"{args.jobs} at a time"
    interrupted = False
    started = time.monotonic()
    with regrade_progress(console) as progress:
        try:
            graded = rg.regrade(submissions, output, args.problems, runner, args.force,
                                progress.advance, progress.start)
        except KeyboardInterrupt:
            interrupted = True
            graded = []
    functions = sorted(p.spec.function for p in problems)
    csv_path = args.csv or output / "grades.csv"
    rows = rg.write_csv(output, csv_path, functions)
    status = _write_report(output, output / "report.html", problems, console)
    if interrupted:
        console.print(f"Interrupted: {rows} of {len(submissions)} submissions have results; "
                      "run the same command to grade the rest.", highlight=False)
        return ExitStatus.INTERRUPTED
    faults = sum(o.fault for o in graded)
    console.print(f"Graded {len(graded)} submission(s) {where}; {rows} in {csv_path}"
                  + (f"; {faults} grader fault(s), see their results.json" if faults else ""),
                  highlight=False)
    if graded:
        minutes = (time.monotonic() - started) / 60
        cores = None if args.scheduler else min(args.jobs, os.cpu_count() or 1)
        console.print(f"Throughput: {len(graded) / minutes:.1f} submissions per minute"
                      + (f", {len(graded) / minutes / cores:.1f} per minute per core "
                         f"({cores} core(s))" if cores else ""), highlight=False)
    return status


def _write_report(results_dir: Path, output: Path, problems: Sequence[Any],
                  console: Console) -> ExitStatus:
    from autograder.staff import analytics

    report = analytics.load(results_dir, analytics.mistake_summaries(problems))
    if not report.submissions:
        console.print(f"autograder report: no results in {results_dir}", highlight=False)
        return ExitStatus.USAGE
    try:
        page = analytics.render(report, f"Regrade report: {results_dir.name}")
    except ImportError:
        console.print("The HTML report needs matplotlib: pip install "
                      "'flax-lift-autograder[ta]'", highlight=False)
        return ExitStatus.ERROR
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(page, encoding="utf-8")
    (results_dir / "summary.json").write_text(
        json.dumps(report.headline(), indent=2) + "\n", encoding="utf-8")
    for line in analytics.headline_lines(report):
        console.print(line, highlight=False, markup=False)
    console.print(f"Report: {output}", style="dim", highlight=False)
    return ExitStatus.SUCCESS


def _report(args: argparse.Namespace, console: Console) -> ExitStatus:
    try:
        problems = load_problems(args.problems) if args.problems.is_dir() else []
    except GraderError:
        problems = []
    return _write_report(args.results_dir, args.output or args.results_dir / "report.html",
                         problems, console)


def _out_of_time(signum: int, frame: object) -> None:
    raise GraderError("the grader ran past its overall time budget and was stopped")


def run() -> None:
    sys.exit(int(main()))
