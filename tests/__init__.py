"""The test suite. Its shared helpers (``tests/support.py``) get pytest's assertion
rewriting, as test modules and ``conftest.py`` do: registered here, before anything imports
them."""

import pytest

pytest.register_assert_rewrite("tests.support")
