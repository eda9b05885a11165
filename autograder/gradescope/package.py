"""``dist/autograder.zip``: what an instructor uploads to Gradescope.

Gradescope unpacks the zip into ``/autograder/source`` and runs ``setup.sh`` from its root
once, then ``run_autograder`` for every submission. The zip holds the problems it grades and
no other (an assignment's, with its file at the root as ``assignment.yaml``, or the whole
bank). The archive is deterministic (sorted entries, fixed timestamps), so the same checkout
always gives the same bytes.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from autograder.files import atomic, content_files
from autograder.spec import LoadedProblem
from autograder.spec.assignment import IN_ZIP

#: Files and folders of the checkout that go into the zip (and the problems graded).
INCLUDED = ("setup.sh", "run_autograder", "pyproject.toml", "requirements.lock", "README.md",
            "autograder")
EXECUTABLE = frozenset({"setup.sh", "run_autograder"})
_EPOCH = (2020, 1, 1, 0, 0, 0)


def _files(checkout: Path) -> list[Path]:
    files: list[Path] = []
    for name in INCLUDED:
        path = checkout / name
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: is {checkout} a full checkout?")
        files += [path] if path.is_file() else content_files(path)
    return files


def write_zip(output: Path, entries: Iterable[tuple[str, bytes, int]]) -> list[str]:
    """Write ``(name, data, mode)`` entries to ``output`` deterministically (fixed
    timestamps, in the order given), atomically; return the names."""
    names = []
    with atomic(output) as handle, zipfile.ZipFile(
            handle, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o100000 | mode) << 16
            archive.writestr(info, data)
            names.append(name)
    return names


def build_zip(checkout: Path, output: Path, problems: Sequence[LoadedProblem],
              assignment: Path | None = None) -> list[str]:
    """Write the Gradescope zip of ``checkout`` grading ``problems`` (loaded, so known to
    be valid) to ``output``, with ``assignment`` as ``assignment.yaml`` when given; return
    the archive's names."""
    entries = []
    for path in _files(checkout):
        name = path.relative_to(checkout).as_posix()
        entries.append((name, path.read_bytes(), 0o755 if name in EXECUTABLE else 0o644))
    for problem in sorted(problems, key=lambda p: p.id):
        for path in content_files(problem.directory):
            name = f"problems/{problem.id}/{path.relative_to(problem.directory).as_posix()}"
            entries.append((name, path.read_bytes(), 0o644))
    if assignment is not None:
        entries.append((IN_ZIP, assignment.read_bytes(), 0o644))
    return write_zip(output, sorted(entries))
