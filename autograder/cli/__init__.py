"""The command line: ``autograder COMMAND`` (also ``python -m autograder``).

``arguments`` parses, ``commands`` holds one handler per command, ``status`` the exit
statuses and the one map from exceptions to them, ``main`` the dispatch table.
"""

from autograder.cli.main import ExitStatus, main, run

__all__ = ["ExitStatus", "main", "run"]
