"""``autograder COMMAND ...``: parse, dispatch through the table, map what stopped it.

The CLI is a function ``main(argv, env, console, errors) -> ExitStatus`` (as httpie's is),
so tests call it directly with their own variables and consoles; ``run()`` is the console
script (``autograder``, and ``python -m autograder``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

from rich.console import Console

from autograder.cli import arguments, commands
from autograder.cli.status import ExitStatus, guarded
from autograder.student.kit import KIT_DATA, is_kit

__all__ = ["HANDLERS", "ExitStatus", "main", "run"]

#: Every command the parser knows, and what runs it.
HANDLERS: Mapping[str, commands.Handler] = {
    "grade": commands.grade_command,
    "gradescope": commands.gradescope,
    "warm": commands.warm,
    "harden": commands.harden,
    "zip": commands.zip_command,
    "check": commands.check,
    "start": commands.start,
    "new": commands.new,
    "validate": commands.validate,
    "mutants": commands.mutants,
    "schema": commands.schema,
    "regrade": commands.regrade,
    "report": commands.report,
    "catalogue": commands.catalogue,
    "kit": commands.kit,
}


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None,
         console: Console | None = None, errors: Console | None = None) -> ExitStatus:
    """Run ``autograder ARGV`` (default: the process's arguments and environment).

    Output goes to ``console`` (default: stdout), errors to ``errors`` (default: stderr,
    or ``console`` when only that is given, so a test reads both in one place). argparse
    itself writes usage errors and ``--help`` to the process's stderr and stdout."""
    try:  # installed from the student kit: the student's commands only
        args = arguments.parser(student=is_kit(KIT_DATA)).parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help (0) and on usage errors (2)
        return ExitStatus.SUCCESS if exc.code == 0 else ExitStatus.USAGE
    context = commands.Context(
        env=dict(os.environ if env is None else env), out=console or Console(),
        err=errors or console or Console(stderr=True))
    handler = HANDLERS[args.command]
    return guarded(args.command, lambda: handler(args, context), context.err)


def run() -> None:
    """The console script: ``main`` on the process's arguments, its status the exit code."""
    sys.exit(int(main()))
