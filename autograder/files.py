"""Files the grader writes and folders it reads, each done one way (the trusted side's).

- :func:`atomic` / :func:`write_atomically`: a reader sees the old file or the new one,
  never half of one (results.json, the cache's entries, the class CSV, the zips).
- :data:`NOT_CONTENT` and :func:`content_files`: the folders that are never part of a
  problem, a checkout or a submission (caches, checkpoints, environments, VCS metadata).
- :func:`folder_digest`: what a folder's content is, as one SHA-256 (a problem folder for
  the expected-output cache's fingerprint, the problems of a regrade).
- :func:`private_files` and :data:`PRIVATE`: class data (a regrade's extraction, outputs,
  table and report) readable by the grader's user only.
- :func:`parse_python`: Python source parsed (never run), one parse at a time in this
  process, which CPython 3.11's parser needs when gradings run in threads side by side.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from autograder.protocol.parsing import LOCK as PARSING

#: Folders that hold no content anywhere: bytecode and tool caches, notebook checkpoints,
#: macOS archive metadata, version control, virtual environments.
NOT_CONTENT = frozenset({"__pycache__", ".cache", ".mypy_cache", ".pytest_cache",
                         ".ruff_cache", ".ipynb_checkpoints", "__MACOSX", ".git", ".venv",
                         "venv", "site-packages"})
#: Compiled files, never content either.
_COMPILED = (".pyc", ".pyo")


def is_content(path: Path, root: Path) -> bool:
    """Whether ``path`` (below ``root``) is content rather than a cache or metadata."""
    return (path.suffix not in _COMPILED
            and not NOT_CONTENT.intersection(path.relative_to(root).parts))


def content_files(root: Path) -> list[Path]:
    """Every content file below ``root``, sorted (so digests and archives are stable)."""
    return [p for p in sorted(root.rglob("*")) if p.is_file() and is_content(p, root)]


def folder_digest(roots: Iterable[Path], base: Path) -> str:
    """A SHA-256 of the content files below ``roots``: their paths relative to ``base``
    and their bytes, each length-prefixed, so no two different trees share a digest."""
    digest = hashlib.sha256()
    for root in roots:
        for path in content_files(root):
            name = path.relative_to(base).as_posix().encode()
            data = path.read_bytes()
            for part in (name, data):
                digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def parse_python(source: str | bytes, filename: str = "<unknown>") -> ast.Module:
    """``ast.parse``, one parse at a time in this process (:mod:`autograder.protocol.parsing`:
    CPython 3.11's parser fails in threads side by side, python/cpython#106905)."""
    with PARSING:
        return ast.parse(source, filename=filename)


def parse_expression(text: str) -> ast.Expression:
    """One Python expression, parsed as :func:`parse_python` parses a module."""
    with PARSING:
        return ast.parse(text, mode="eval")


#: The mode of files only the grader's user may read (class data: names, grades, sources).
PRIVATE = 0o600


@contextlib.contextmanager
def private_files() -> Iterator[None]:
    """Within the block, what this process creates is its user's alone (umask 077: files
    0600, folders 0700), as class data must be; the previous umask after it."""
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


@contextlib.contextmanager
def atomic(path: Path, mode: int = 0o644) -> Iterator[IO[bytes]]:
    """A file to write that becomes ``path`` only when the block ends without an error
    (flushed to disk first); on any error nothing of it remains."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_atomically(path: Path, data: bytes | str, mode: int = 0o644) -> None:
    """Write ``data`` (text as UTF-8) to ``path`` atomically (see :func:`atomic`)."""
    with atomic(path, mode) as handle:
        handle.write(data.encode("utf-8") if isinstance(data, str) else data)
