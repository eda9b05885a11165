"""A class's submissions as Gradescope exports them, read into plain records.

An export is Gradescope's "Export Submissions" (a zip or its folder: ``submission_metadata.yml``
and one folder per submission) or a plain folder of submission folders. The metadata's
Ruby-tagged YAML is read leniently (tags dropped); who submitted what is kept for the
class table.
"""

from __future__ import annotations

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


def _extract(archive: Path, target: Path) -> Path:
    """Unzip ``archive`` into ``target``, refusing entries that would land outside it."""
    root = target.resolve()
    try:
        with zipfile.ZipFile(archive) as bundle:
            for member in bundle.infolist():
                destination = (root / member.filename).resolve()
                if not destination.is_relative_to(root):
                    raise ExportError(f"{archive}: entry {member.filename!r} points outside "
                                      "the export; refusing it")
            bundle.extractall(root)
    except zipfile.BadZipFile as exc:
        raise ExportError(f"{archive} is not a zip file ({exc})") from None
    return root


def _submitters(record: Any, folder: str) -> tuple[Submitter, ...]:
    people = record.get(":submitters") if isinstance(record, dict) else None
    if not isinstance(people, list) or not people:
        return (Submitter(folder),)
    return tuple(Submitter(str(p.get(":name", "") or folder), str(p.get(":sid", "") or ""),
                           str(p.get(":email", "") or ""))
                 for p in people if isinstance(p, dict))


def read_export(path: Path, scratch: Path) -> list[ExportedSubmission]:
    """The submissions of an export (a zip is unpacked under ``scratch``)."""
    if not path.exists():
        raise ExportError(f"{path} does not exist")
    root = _extract(path, scratch / "export") if path.is_file() else path
    candidates = [root, *sorted(p for p in root.iterdir() if p.is_dir())]
    home = next((c for c in candidates if (c / METADATA).is_file()), None)
    if home is not None:
        try:
            metadata = yaml.load((home / METADATA).read_text(encoding="utf-8"), Loader=_Lenient)
        except yaml.YAMLError as exc:
            raise ExportError(f"{home / METADATA} is not valid YAML: {exc}") from None
        if not isinstance(metadata, dict):
            raise ExportError(f"{home / METADATA}: expected a mapping of submission folders")
        found = [ExportedSubmission(str(name), home / str(name), _submitters(record, str(name)))
                 for name, record in sorted(metadata.items(), key=lambda kv: str(kv[0]))
                 if (home / str(name)).is_dir()]
        missing = sorted(str(n) for n in metadata if not (home / str(n)).is_dir())
        if missing and not found:
            raise ExportError(f"{home / METADATA} lists {len(missing)} submissions but none of "
                              f"their folders is there (first: {missing[0]})")
    else:
        home = root
        found = [ExportedSubmission(p.name, p, (Submitter(p.name),))
                 for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith(".")]
    if not found:
        raise ExportError(f"no submissions in {path}: expected {METADATA} and one folder per "
                          "submission, or a folder of submission folders")
    return found


