"""In Jupyter or Colab: ``from autograder import notebook; notebook.check()``.

The public name of :mod:`autograder.student.notebook` (also ``%load_ext autograder.notebook``
for the ``%autograder check`` magic).
"""

from autograder.student.notebook import check, load_ipython_extension

__all__ = ["check", "load_ipython_extension"]
