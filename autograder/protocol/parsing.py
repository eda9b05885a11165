"""One Python parse at a time per process: CPython 3.11's parser state is shared by threads.

CPython 3.11 keeps the AST constructor's recursion depth in state shared by the threads of a
process, so two parses in threads side by side (a regrade's jobs: the source reader, the
``.npy`` header of a reply, numpy reading a cached ``.npz``) can fail with "SystemError: AST
constructor recursion depth mismatch" (python/cpython#106905). Every parse of the trusted
side takes :data:`LOCK`: ``files.parse_python`` for sources, :func:`literal` for headers,
and the expected-output cache while numpy reads its arrays (numpy parses each header with
``ast.literal_eval``).
"""

from __future__ import annotations

import ast
import threading

#: Held for every parse on the trusted side (see the module's docstring).
LOCK = threading.RLock()


def literal(text: str) -> object:
    """``ast.literal_eval(text)``, the parse under :data:`LOCK`."""
    with LOCK:
        tree = ast.parse(text, mode="eval")
    return ast.literal_eval(tree)  # on a tree: nothing more is parsed
