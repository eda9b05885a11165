from autograder.cli.main import run

run()
