"""``python -m autograder COMMAND``: the same command line as ``autograder``."""

from autograder.cli import run

run()
