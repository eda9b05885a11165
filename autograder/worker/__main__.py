"""``python -I -m autograder.worker``: the worker's own entry point (see :mod:`.serve`)."""

import sys

from autograder.worker.serve import main

sys.exit(main())
