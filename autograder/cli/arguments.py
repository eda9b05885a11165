"""The command line's grammar: one sub-parser per command, each shared option defined once.

Parsing only: what the options mean is the commands' business (``commands``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TypeAlias

#: Where the package's own problems live in a checkout (and in the Gradescope zip).
DEFAULT_PROBLEMS = Path(__file__).resolve().parents[2] / "problems"
CACHE_HELP = ("expected-output cache (default: $AUTOGRADER_CACHE or "
              "~/.cache/flax-lift-autograder/expected)")
_Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def parser(student: bool = False) -> argparse.ArgumentParser:
    """``autograder COMMAND ...``; ``args.command`` names the command given.

    ``student``: the student kit's command line, the student's commands only (``start``,
    ``check``); a checkout has the staff's too."""
    if student:
        parser = argparse.ArgumentParser(
            prog="autograder", description="Check your Flax lifted-transform exercises before "
            "you submit them: `autograder start` writes the statements and starters here, "
            "`autograder check FILE` checks your work (in a notebook: from autograder import "
            "notebook; notebook.check()).")
    else:
        parser = argparse.ArgumentParser(
            prog="autograder", description="Grade Flax lifted-transform exercises.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    staff_commands = (_grade, _gradescope, _warm, _harden, _zip, _new, _validate, _mutants,
                      _schema, _regrade, _report, _catalogue, _kit)
    for add_student in (_start, _check):
        add_student(commands, student)
    for add in () if student else staff_commands:
        add(commands)
    return parser


#: The commands of the student kit's command line.
STUDENT_COMMANDS = ("start", "check")


# -- the shared options ----------------------------------------------------------------------

def _problems(parser: argparse.ArgumentParser, default: Path | None = DEFAULT_PROBLEMS,
              help: str = "problems folder (default: %(default)s)") -> None:
    parser.add_argument("--problems", type=Path, default=default, metavar="DIR", help=help)


def _assignment(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--assignment", type=Path, default=None, metavar="FILE",
                        help=f"{what} the problems this assignment names (assignments/"
                             f"NAME.yaml), in its order and worth its points (default: "
                             f"every problem of the problems folder)")


def _cache(parser: argparse.ArgumentParser, help: str = CACHE_HELP) -> None:
    parser.add_argument("--cache", type=Path, default=None, metavar="DIR", help=help)


def _compile_cache(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument("--compile-cache", type=Path, default=None, metavar="DIR", help=help)


def _memory_limit(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument("--memory-limit", type=int, default=None, metavar="MB", help=help)


def _time_budget(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument("--time-budget", type=float, default=540.0, metavar="SECONDS",
                        help=help + " (default: %(default)s)")


def _output(parser: argparse.ArgumentParser, default: Path | None, help: str) -> None:
    parser.add_argument("--output", type=Path, default=default, help=help)


def _limits(parser: argparse.ArgumentParser) -> None:
    """How student code runs: what ``grade`` and ``gradescope`` share."""
    _memory_limit(parser, "memory for student code (default: the container's memory minus "
                          "the grader's share, at most 3072)")
    parser.add_argument("--allow-network", action="store_true",
                        help="let student code use the network (blocked by default)")
    parser.add_argument("--no-isolation", action="store_true",
                        help="run student code as the grader's user even when root")
    _compile_cache(parser, "JAX's persistent compilation cache, warmed by 'warm' (default: "
                           "beside the expected-output cache)")
    parser.add_argument("--no-compile-cache", action="store_true",
                        help="compile everything afresh")


# -- the commands ----------------------------------------------------------------------------

def _grade(commands: _Commands) -> None:
    grade = commands.add_parser(
        "grade", help="grade a submission (a directory or a .py/.ipynb file)",
        description="Grade a submission and write Gradescope results.json. Exits 0 whenever "
                    "results were written, whatever the score.")
    grade.add_argument("submission", type=Path)
    grade.add_argument("--results", type=Path, required=True, help="results.json to write")
    _problems(grade)
    _assignment(grade, "grade")
    grade.add_argument("--visible-only", action="store_true",
                       help="grade only the cases students can see")
    grade.add_argument("--quiet", action="store_true", help="print no report")
    _cache(grade)
    grade.add_argument("--no-cache", action="store_true",
                       help="compute the expected outputs afresh")
    _limits(grade)


def _gradescope(commands: _Commands) -> None:
    gradescope = commands.add_parser(
        "gradescope", help="what run_autograder calls on Gradescope",
        description="Grade /autograder/submission into /autograder/results/results.json; "
                    "every path can be overridden (tests run a whole tree in a temp folder).")
    gradescope.add_argument("--root", type=Path, default=Path("/autograder"))
    _problems(gradescope, None, "default: ROOT/source/problems")
    _cache(gradescope, "default: ROOT/source/.cache/expected (warmed by setup.sh)")
    _time_budget(gradescope, "seconds for the whole grading, below Gradescope's 10-minute "
                             "limit")
    _limits(gradescope)


def _warm(commands: _Commands) -> None:
    warm = commands.add_parser(
        "warm", help="precompute the expected outputs (setup.sh runs this)",
        description="Run every reference on every case on this machine's JAX backend and "
                    "cache the outputs, so grading does not run the references again.")
    _problems(warm)
    _cache(warm)
    _compile_cache(warm, "JAX's compilation cache to fill (default: beside --cache)")


def _harden(commands: _Commands) -> None:
    harden = commands.add_parser(
        "harden", help="prepare privilege separation (setup.sh runs this as root)",
        description="Create the unprivileged student user, make the problems folder and the "
                    "cache unreadable to it, and let it reach the Python runtime.")
    _problems(harden, None, f"made private (default: {DEFAULT_PROBLEMS})")
    _cache(harden, "made private")
    _compile_cache(harden, "its entries readable by name (never listed or written) by the "
                           "student user")
    harden.add_argument("--runtime-only", action="store_true",
                        help="only create the student user and let it reach the Python "
                             "runtime, making no folder private (a test run as root)")


def _zip(commands: _Commands) -> None:
    zip_command = commands.add_parser(
        "zip", help="build the Gradescope autograder zip",
        description="Write the zip an instructor uploads to Gradescope: the grader, and the "
                    "problems it grades (an assignment's, or every problem of the bank), "
                    "each validated before it goes in. A scaffold from `autograder new` "
                    "nobody finished is refused.")
    _output(zip_command, Path("dist/autograder.zip"), "default: %(default)s")
    _problems(zip_command)
    _assignment(zip_command, "grade")


def _check(commands: _Commands, student: bool) -> None:
    check = commands.add_parser(
        "check", help="check your solutions on the visible cases before you submit",
        description="Grade a file, folder or notebook on the visible cases, with the same "
                    "engine and feedback as Gradescope. The exercises it does not attempt "
                    "(no such function, or still the starter's `raise NotImplementedError`) "
                    "are listed as not attempted. Exit status: 0 when every attempted "
                    "exercise passes its visible tests, 1 when one fails or none is "
                    "attempted, 2 for a wrong command, 3 when the check itself failed.")
    check.add_argument("submission", type=Path, metavar="PATH")
    check.add_argument("--problem", action="append", default=[], metavar="NAME",
                       help="check this exercise only, attempted or not (repeatable)")
    check.add_argument("--all", action="store_true",
                       help="check every exercise, as Gradescope grades them: a missing one "
                            "fails (by default exercises not attempted yet are listed, not "
                            "failed)")
    check.add_argument("--json", action="store_true",
                       help="print the outcome as JSON instead of a report")
    check.add_argument("--watch", action="store_true",
                       help="check again every time a file of PATH changes")
    _problems(check, None, "problems folder (default: the kit's, or the checkout's)")
    if not student:  # the kit is one assignment's
        _assignment(check, "check against")
    _memory_limit(check, "memory for your code (default: most of this machine's)")


def _start(commands: _Commands, student: bool) -> None:
    start = commands.add_parser(
        "start", help="write the exercises' statements and starter files here",
        description="Write PROBLEMS.md (the statements) and a starter file per exercise "
                    "into DIR, never overwriting a file (those already there are skipped).")
    start.add_argument("directory", type=Path, nargs="?", default=Path("."), metavar="DIR",
                       help="where to write them (default: the current folder)")
    _problems(start, None, "problems folder (default: the kit's, or the checkout's)")
    if not student:
        _assignment(start, "write")


def _new(commands: _Commands) -> None:
    new = commands.add_parser(
        "new", help="scaffold a new problem (spec, reference, mistakes, starter)",
        description="Write problems/NAME/ with a commented spec, a reference, mistake "
                    "examples and a starter: a complete exercise that passes validate, to "
                    "change step by step.")
    new.add_argument("name", help="the function students write, e.g. scan_over_layers")
    _problems(new)


def _validate(commands: _Commands) -> None:
    validate = commands.add_parser(
        "validate", help="prove problems' tests right (reference, mistakes, starter)",
        description="Check each problem through the real grading path: a valid spec, the "
                    "reference at full marks, every mistake recognised by its example, the "
                    "starter at zero, sane tolerances. Exits 1 on any error.")
    validate.add_argument("paths", type=Path, nargs="*", default=[DEFAULT_PROBLEMS],
                          metavar="PATH",
                          help="problem folders, or folders of them (default: %(default)s)")
    validate.add_argument("--assignment", type=Path, action="append", default=[],
                          metavar="FILE",
                          help="validate this assignment's problems and check that it names "
                               "problems that exist (repeatable; by default every "
                               "assignments/*.yaml beside the problems is checked too)")
    _cache(validate)
    validate.add_argument("--mutants", action="store_true",
                          help="then run the mutation analysis (`autograder mutants`) of the "
                               "problems that validated; exits 1 if either fails")


def _mutants(commands: _Commands) -> None:
    mutants = commands.add_parser(
        "mutants", help="mutation analysis: would the cases catch undeclared mistakes?",
        description="Make mutants of each problem's reference (in_axes swapped, a lift "
                    "removed, a cast dropped, a seed fixed, ...), grade each through the "
                    "real grading path with every case, and say which the cases catch by "
                    "their values, which only the structure test catches, and which survive "
                    "(with a case to add when a variation of the spec's own cases catches "
                    "it). Exits 1 when a mutant survives that the spec does not declare "
                    "equivalent (mutants.equivalent), or a declaration is stale.")
    mutants.add_argument("paths", type=Path, nargs="*", default=[DEFAULT_PROBLEMS],
                         metavar="PROBLEM_DIR",
                         help="problem folders, or a folder of them (default: %(default)s); "
                              "with --assignment, the problems folder it names problems of")
    _assignment(mutants, "analyse")
    mutants.add_argument("--jobs", type=int, default=1, metavar="N",
                         help="mutants graded at a time (default: %(default)s)")
    _cache(mutants)


def _schema(commands: _Commands) -> None:
    schema = commands.add_parser(
        "schema", help="write the JSON Schema of problem.yaml (for editors)",
        description="Print (or write) the JSON Schema of the spec format (or, with --of "
                    "assignment, of assignment files), generated from the loader's own "
                    "models; the repository ships them as schema/problem.schema.json and "
                    "schema/assignment.schema.json.")
    schema.add_argument("--of", choices=("problem", "assignment"), default="problem",
                        help="which file format (default: %(default)s)")
    _output(schema, None, "file to write (default: stdout)")


def _regrade(commands: _Commands) -> None:
    regrade = commands.add_parser(
        "regrade", help="regrade a Gradescope export (or a folder of submissions)",
        description="Grade every submission of an export with the same isolated engine: one "
                    "results.json each (and outputs.npz, its answers no known mistake "
                    "explains), a CSV, a summary and the analytics report. A re-run "
                    "resumes: submissions graded against the same problems are not graded "
                    "again (unless --force).")
    regrade.add_argument("export", type=Path, metavar="EXPORT",
                         help="the export's zip or folder (submission_metadata.yml and one "
                              "folder per submission), or a folder of submission folders")
    regrade.add_argument("--output", type=Path, default=None, metavar="DIR",
                         help="where results go (default: EXPORT-regrade beside it)")
    regrade.add_argument("--csv", type=Path, default=None, metavar="PATH",
                         help="the class table (default: DIR/grades.csv)")
    regrade.add_argument("--jobs", type=int, default=1, metavar="N",
                         help="submissions graded at a time on this machine")
    regrade.add_argument("--scheduler", default=None, metavar="ADDRESS",
                         help="grade on a Dask distributed cluster instead "
                              "(tcp://host:8786); its workers must see the same paths")
    regrade.add_argument("--force", action="store_true",
                         help="grade again what is already graded")
    _problems(regrade)
    _assignment(regrade, "grade")
    _cache(regrade)
    _time_budget(regrade, "seconds per submission")


def _report(commands: _Commands) -> None:
    report = commands.add_parser(
        "report", help="the class analytics page for a folder of results",
        description="Write a self-contained HTML report (scores per problem, mistakes "
                    "ranked, the answers no known mistake explains grouped across the class, "
                    "the pass rate of every case, failing tests, grading time), a page per "
                    "regraded submission and summary.json, and print the headline numbers.")
    report.add_argument("results_dir", type=Path, metavar="RESULTS_DIR")
    _output(report, None, "default: RESULTS_DIR/report.html")
    _problems(report, help="for the mistakes' summaries (default: %(default)s)")
    report.add_argument("--assignment", type=Path, default=None, metavar="FILE",
                        help="title the report with this assignment's name "
                             "(assignments/NAME.yaml)")


def _catalogue(commands: _Commands) -> None:
    catalogue = commands.add_parser(
        "catalogue", help="turn a group of the class's unexplained answers into a mistake",
        description="Add the answer a group of submissions gave (a group of the regrade's "
                    "report: GROUP is its id, such as vmap_over_batch/1) to its problem's "
                    "catalogue as a new mistake: its example submission's function, renamed, "
                    "in mistakes.py, and an entry in problem.yaml (detect: {variant: ...}) "
                    "whose summary and fix you write. Never overwrites a mistake; then run "
                    "`autograder validate` on the problem.")
    catalogue.add_argument("results_dir", type=Path, metavar="RESULTS_DIR",
                           help="the regrade's output folder")
    catalogue.add_argument("group", metavar="GROUP", help="the group's id, as the report "
                                                          "and summary.json name it")
    catalogue.add_argument("--id", required=True, dest="mistake", metavar="MISTAKE_ID",
                           help="the new mistake's id (kebab-case, e.g. relu-after-linear)")
    _problems(catalogue)


def _kit(commands: _Commands) -> None:
    kit = commands.add_parser(
        "kit", help="build the student kit (dist/student-kit.zip)",
        description="Write the pip-installable student kit: the check command, statements, "
                    "starter files, the visible cases and their expected outputs (computed "
                    "here), and no reference, variant or hidden case.")
    _output(kit, Path("dist/student-kit.zip"), "default: %(default)s")
    _problems(kit)
    _assignment(kit, "ship")
    _cache(kit, "expected-output cache to reuse (default: $AUTOGRADER_CACHE or "
                "~/.cache/flax-lift-autograder/expected)")
