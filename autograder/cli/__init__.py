"""The command line: ``autograder COMMAND`` (also ``python -m autograder``)."""

from autograder.cli.main import ExitStatus, main, run

__all__ = ["ExitStatus", "main", "run"]
