"""A class's submissions as Gradescope exports them, read into plain records.

An export is Gradescope's "Export Submissions" (a zip or its folder: ``submission_metadata.yml``
and one folder per submission) or a plain folder of submission folders. The metadata's
Ruby-tagged YAML is read leniently (tags dropped); who submitted what is kept for the
class table.

An export is input, written partly by students (their files, their names), and is checked
as such: a submission's id must be one safe path component (a metadata key such as
``/etc`` or ``../x`` is refused, never graded or written into), and a zip is extracted within
bounds (:data:`LIMITS`: total and per-file size, compression ratio, number of files), entry
by entry, so a small zip of zeros cannot fill the disk.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from autograder.errors import UsageError

METADATA = "submission_metadata.yml"


class ExportError(UsageError):
    """The export cannot be read: what is wrong, and where."""


@dataclass(frozen=True)
class Submitter:
    name: str
    sid: str = ""
    email: str = ""


@dataclass(frozen=True)
class ExportedSubmission:
    id: str  # the folder's name
    path: Path
    submitters: tuple[Submitter, ...]


class _Lenient(yaml.SafeLoader):
    """Gradescope's metadata is written by Ruby: tolerate its ``!ruby/...`` tags."""


def _untagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)  # type: ignore[arg-type]


_Lenient.add_multi_constructor("!", _untagged)


@dataclass(frozen=True)
class Limits:
    """How much of a zip an export may unpack into."""

    total_bytes: int = 8 * 2**30  # a class of 1,000 submissions of 8 MB
    file_bytes: int = 256 * 2**20  # a notebook with its outputs, a few data files
    files: int = 200_000
    #: Uncompressed / compressed, for entries above ``ratio_from`` bytes: source and
    #: notebooks compress some 3-10 times; a bomb of zeros a thousand times.
    ratio: float = 200.0
    ratio_from: int = 2**20


LIMITS = Limits()

#: A submission id: one path component (Gradescope's are ``submission_123456``).
SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def _size(count: int) -> str:
    return f"{count / 2**20:,.0f} MB" if count >= 2**20 else f"{count:,} bytes"


def _extract(archive: Path, target: Path, limits: Limits) -> Path:
    """Unzip ``archive`` into ``target`` entry by entry, refusing entries that would land
    outside it and anything past ``limits`` (checked on what is really written, not only on
    what the zip's directory claims)."""
    root = target.resolve()
    try:
        with zipfile.ZipFile(archive) as bundle:
            members = bundle.infolist()
            if len(members) > limits.files:
                raise ExportError(f"{archive} holds {len(members):,} entries, more than the "
                                  f"{limits.files:,} an export may have; refusing it")
            for member in members:
                destination = (root / member.filename).resolve()
                if not destination.is_relative_to(root):
                    raise ExportError(f"{archive}: entry {member.filename!r} points outside "
                                      "the export; refusing it")
                _check_entry(archive, member, limits)
            written = 0
            for member in members:
                destination = (root / member.filename).resolve()
                if member.is_dir():
                    destination.mkdir(parents=True, exist_ok=True)
                    continue
                destination.parent.mkdir(parents=True, exist_ok=True)
                with bundle.open(member) as source, destination.open("wb") as sink:
                    written += _copy(archive, member, source, sink, limits, written)
    except zipfile.BadZipFile as exc:
        raise ExportError(f"{archive} is not a zip file ({exc})") from None
    return root


def _check_entry(archive: Path, member: zipfile.ZipInfo, limits: Limits) -> None:
    if member.file_size > limits.file_bytes:
        raise ExportError(f"{archive}: entry {member.filename!r} unpacks to "
                          f"{_size(member.file_size)}, more than the {_size(limits.file_bytes)} "
                          "a file of an export may have; refusing the export")
    if member.file_size > limits.ratio_from and (
            member.file_size > limits.ratio * max(member.compress_size, 1)):
        raise ExportError(f"{archive}: entry {member.filename!r} unpacks to "
                          f"{_size(member.file_size)} from {_size(member.compress_size)} (more "
                          f"than {limits.ratio:g} times: a zip bomb?); refusing the export")


def _copy(archive: Path, member: zipfile.ZipInfo, source: Any, sink: Any, limits: Limits,
          before: int) -> int:
    """Copy one entry, stopping at the limits; the bytes written."""
    count = 0
    while chunk := source.read(2**20):
        count += len(chunk)
        if count > limits.file_bytes or before + count > limits.total_bytes:
            raise ExportError(f"{archive}: unpacking {member.filename!r} passes the "
                              f"{_size(min(limits.file_bytes, limits.total_bytes))} an export "
                              "may unpack to; refusing the export")
        sink.write(chunk)
    return count


def _safe_ids(names: list[str], where: Path) -> None:
    unsafe = [n for n in names if not SAFE_ID.fullmatch(n)]
    if unsafe:
        shown = ", ".join(repr(n) for n in unsafe[:3]) + (", ..." if len(unsafe) > 3 else "")
        raise ExportError(f"{where}: {len(unsafe)} submission folder name(s) are not one safe "
                          f"path component ({shown}); an id is letters, digits, '.', '_' and "
                          "'-', as Gradescope writes them (submission_123456). Refusing the "
                          "export")


def _submitters(record: Any, folder: str) -> tuple[Submitter, ...]:
    people = record.get(":submitters") if isinstance(record, dict) else None
    if not isinstance(people, list) or not people:
        return (Submitter(folder),)
    return tuple(Submitter(str(p.get(":name", "") or folder), str(p.get(":sid", "") or ""),
                           str(p.get(":email", "") or ""))
                 for p in people if isinstance(p, dict))


def _folder(path: Path) -> bool:
    """A submission folder: a real directory, not a link to one elsewhere."""
    return path.is_dir() and not path.is_symlink()


def read_export(path: Path, scratch: Path,
                limits: Limits | None = None) -> list[ExportedSubmission]:
    """The submissions of an export (a zip is unpacked under ``scratch``, within
    ``limits``: :data:`LIMITS` by default)."""
    if not path.exists():
        raise ExportError(f"{path} does not exist")
    root = _extract(path, scratch / "export", limits or LIMITS) if path.is_file() else path
    candidates = [root, *sorted(p for p in root.iterdir() if p.is_dir())]
    home = next((c for c in candidates if (c / METADATA).is_file()), None)
    if home is not None:
        try:
            metadata = yaml.load((home / METADATA).read_text(encoding="utf-8"), Loader=_Lenient)
        except yaml.YAMLError as exc:
            raise ExportError(f"{home / METADATA} is not valid YAML: {exc}") from None
        if not isinstance(metadata, dict):
            raise ExportError(f"{home / METADATA}: expected a mapping of submission folders")
        _safe_ids([str(name) for name in metadata], home / METADATA)
        found = [ExportedSubmission(str(name), home / str(name), _submitters(record, str(name)))
                 for name, record in sorted(metadata.items(), key=lambda kv: str(kv[0]))
                 if _folder(home / str(name))]
        missing = sorted(str(n) for n in metadata if not _folder(home / str(n)))
        if missing and not found:
            raise ExportError(f"{home / METADATA} lists {len(missing)} submissions but none of "
                              f"their folders is there (first: {missing[0]})")
    else:
        home = root
        folders = [p for p in sorted(root.iterdir()) if _folder(p) and not p.name.startswith(".")]
        _safe_ids([p.name for p in folders], root)
        found = [ExportedSubmission(p.name, p, (Submitter(p.name),)) for p in folders]
    if not found:
        raise ExportError(f"no submissions in {path}: expected {METADATA} and one folder per "
                          "submission, or a folder of submission folders")
    return found


