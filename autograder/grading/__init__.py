"""The grading core (trusted): references, comparison, diagnosis and scores.

:mod:`.engine` is the one grading path behind every front door; it runs the student's code
only through :mod:`autograder.sandbox`, never in this process."""
