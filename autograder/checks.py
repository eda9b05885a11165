"""Custom checks: extra tests a TA writes in Python with gradescope-utils' decorators.

A problem's spec may name a file of ``unittest.TestCase`` classes (``checks: checks.py``)::

    import unittest
    from gradescope_utils.autograder_utils.decorators import weight, visibility
    from autograder.checks import student

    class EnsembleChecks(unittest.TestCase):
        @weight(1)
        @visibility("visible")
        def test_members_differ(self):
            \"\"\"The ensemble's members give different outputs\"\"\"
            out = student(0.0, np.ones(3, np.float32), 4.0, 2.0).reshape(4, 2)
            self.assertFalse(np.allclose(out[0], out[1]))

``student`` calls the student's function; it is all such a file imports from the grader. The
trusted side reads the checks (names, weights, visibility, numbers, tags) from the file's
source (:mod:`autograder.spec.checkfile`); they run in the student's worker
(:mod:`autograder.worker.checks`).
"""

from autograder.worker.checks import student

__all__ = ["student"]
