"""Exit statuses, and the one map from what stopped a command to its status.

A command returns SUCCESS, or FAILURE when what it checked has problems (``check``,
``validate``). Anything else that ends it is an exception, mapped here once: the command
line was wrong (USAGE), or the grader or its input failed (ERROR). Other exceptions are
bugs and keep their traceback, as Ctrl-C does (but ``regrade``, which stops cleanly and
returns INTERRUPTED).
"""

from __future__ import annotations

import enum
from collections.abc import Callable

from rich.console import Console

from autograder.errors import GraderError, UsageError


class ExitStatus(enum.IntEnum):
    SUCCESS = 0
    FAILURE = 1  # what was checked has problems (`check`, `validate`)
    USAGE = 2  # a wrong command: a bad option, a missing path, an unknown problem
    ERROR = 3  # the grader failed (`grade` still exits 0 when it wrote results)
    INTERRUPTED = 130  # Ctrl-C (a regrade resumes where it stopped)


#: What stopped a command -> its exit status; the first class that matches wins.
EXIT_STATUSES: tuple[tuple[type[BaseException], ExitStatus], ...] = (
    (UsageError, ExitStatus.USAGE),  # a missing path, an unknown exercise, a bad export
    (GraderError, ExitStatus.ERROR),
)


def exit_status(error: Exception) -> ExitStatus | None:
    """The status ``error`` ends a command with; None for a bug (to raise again)."""
    return next((status for kind, status in EXIT_STATUSES if isinstance(error, kind)), None)


def guarded(command: str, call: Callable[[], ExitStatus], errors: Console) -> ExitStatus:
    """``call()``'s status; an exception of :data:`EXIT_STATUSES` is said on ``errors`` as
    ``autograder COMMAND: message`` and becomes its status. ``main`` runs every command
    through this; a command that goes on after a failed step (``check --watch``, the
    regrade's report) runs that step through it too."""
    try:
        return call()
    except Exception as error:
        status = exit_status(error)
        if status is None:
            raise
        errors.print(f"autograder {command}: {error}", markup=False, highlight=False,
                     soft_wrap=True)
        return status
