"""The student kit: the local check, without the solutions.

``autograder kit`` (``make student-kit``) writes ``dist/student-kit.zip``, a source archive
``pip`` installs as it is. It holds the grading engine, the problem statements and starter
files, and, per problem, the spec with its **visible cases only** and ``expected.npz``: the
outputs of the reference and of every mistake variant on those cases, computed on the
grader's backend. The check grades against that data through the same engine and diagnosis as
Gradescope, so a student sees the same message for the same mistake. No reference, no variant
code and no hidden case is in the kit, in any form.
"""

from __future__ import annotations

import io
import json
import platform
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from autograder import __version__
from autograder.errors import GraderError, UsageError
from autograder.files import content_files
from autograder.gradescope.package import write_zip
from autograder.grading.cache import ExpectedCache, array_digest
from autograder.grading.references import REFERENCE, References, Source, sources_of
from autograder.protocol.parsing import LOCK as PARSING
from autograder.sandbox import WorkerSpec, worker_environment
from autograder.spec import LoadedProblem, load_problems, visible_spec_text
from autograder.spec.assignment import load_assignment
from autograder.student.statement import (
    NOTEBOOK_HINT,
    in_course_order,
    starter_text,
    statements,
)

#: Where an installed kit keeps its problems (absent in a checkout).
KIT_DATA = Path(__file__).resolve().parent.parent / "kit_data"
MANIFEST = "kit.json"
EXPECTED = "expected.npz"
#: What ``autograder start`` writes where the student works (shipped in the kit's data).
STATEMENT = "PROBLEMS.md"
STARTERS = "starter"
TOP = "flax-lift-kit"
#: The distribution name of the installed kit.
DISTRIBUTION = "flax-lift-check"
#: Versions that decide the numbers (random initialisation changes between releases).
NUMERIC = ("jax", "jaxlib", "flax", "numpy")
#: The grader's dependencies a student does not need.
_NOT_FOR_STUDENTS = ("gradescope-utils",)


def expected_data(problem: LoadedProblem, outputs: Mapping[Source, Mapping[int, Any]]) -> bytes:
    """``expected.npz``: the outputs of each source on the visible cases, renumbered as the
    kit's spec numbers them (``s<j>_case_<k>``, the sources named in ``__meta__``)."""
    visible = [i for i, c in enumerate(problem.spec.cases) if c.visibility == "visible"]
    arrays: dict[str, np.ndarray] = {}
    slugs = []
    for j, (source, by_case) in enumerate(outputs.items()):
        slugs.append(source.slug)
        for k, index in enumerate(visible):
            if by_case.get(index) is not None:
                arrays[f"s{j}_case_{k}"] = np.asarray(by_case[index])
    meta = json.dumps({"sources": slugs, "cases": len(visible),
                       "digest": array_digest(arrays)}).encode()
    buffer = io.BytesIO()
    members: dict[str, Any] = {"__meta__": np.frombuffer(meta, dtype=np.uint8), **arrays}
    np.savez_compressed(buffer, **members)
    return buffer.getvalue()


class KitReferences:
    """The expected outputs a kit ships (a :class:`~autograder.engine.ReferenceSource`)."""

    def __init__(self, manifest: Mapping[str, Any]) -> None:
        self._manifest = manifest
        self._loaded: dict[Path, dict[str, dict[int, np.ndarray]]] = {}

    @property
    def info(self) -> Mapping[str, Any]:
        return {"versions": dict(self._manifest.get("versions", {})),
                "backend": self._manifest.get("backend", "?")}

    def release(self) -> None:
        """Nothing runs: the outputs are data."""

    def _data(self, problem: LoadedProblem) -> dict[str, dict[int, np.ndarray]]:
        if problem.directory in self._loaded:
            return self._loaded[problem.directory]
        path = problem.directory / EXPECTED
        try:
            with PARSING, np.load(path, allow_pickle=False) as data:  # headers are parsed
                arrays = {name: data[name] for name in data.files}
            meta = json.loads(bytes(arrays.pop("__meta__")).decode())
        except (OSError, ValueError, KeyError, EOFError) as exc:
            raise GraderError(f"the kit's expected outputs {path} cannot be read ({exc}); "
                              "reinstall the kit") from None
        if (meta.get("digest") != array_digest(arrays)
                or meta.get("cases") != len(problem.spec.cases)):
            raise GraderError(f"the kit's expected outputs {path} do not match its spec; "
                              "reinstall the kit")
        by_source: dict[str, dict[int, np.ndarray]] = {}
        for j, slug in enumerate(meta["sources"]):
            by_source[slug] = {k: arrays[f"s{j}_case_{k}"] for k in range(meta["cases"])
                               if f"s{j}_case_{k}" in arrays}
        self._loaded[problem.directory] = by_source
        return by_source

    def expected(self, problem: LoadedProblem) -> dict[int, np.ndarray]:
        reference = self._data(problem).get(REFERENCE.slug, {})
        if len(reference) != len(problem.spec.cases):
            raise GraderError(f"the kit has no expected output for some case of {problem.id}; "
                              "reinstall the kit")
        return dict(reference)

    def outputs(self, problem: LoadedProblem, source: Source) -> Mapping[int, np.ndarray | None]:
        # A source the kit does not ship cannot match: that mistake is not named.
        return dict(self._data(problem).get(source.slug, {}))


@dataclass(frozen=True)
class Kit:
    """An installed kit: its problems, and what the expected outputs were computed with."""

    problems: tuple[LoadedProblem, ...]
    manifest: Mapping[str, Any]

    @property
    def references(self) -> KitReferences:
        return KitReferences(self.manifest)


def is_kit(directory: Path) -> bool:
    return (directory / MANIFEST).is_file()


def load_kit(directory: Path = KIT_DATA) -> Kit:
    """The kit's problems, in the order it was built with (its manifest's ``order``)."""
    manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    problems = load_problems(directory / "problems", require_code=False)
    return Kit(in_course_order(problems, manifest.get("order", ())), manifest)


def student_files(problems: Sequence[LoadedProblem]) -> list[tuple[str, str]]:
    """What a student starts from, as (relative path, text): ``PROBLEMS.md`` and one
    starter per exercise (``<function>.py``), in the order given."""
    return [(STATEMENT, statements(problems)),
            *((f"{p.spec.function}.py", starter_text(p)) for p in problems)]


def shipped_student_files(directory: Path = KIT_DATA) -> list[tuple[str, str]]:
    """The statement and starters an installed kit ships, in its order."""
    kit = load_kit(directory)
    names = [STATEMENT, *(f"{STARTERS}/{p.spec.function}.py" for p in kit.problems)]
    try:
        return [(Path(name).name, (directory / name).read_text(encoding="utf-8"))
                for name in names]
    except OSError as exc:
        raise GraderError(f"the kit's statement or starters cannot be read ({exc}); "
                          "reinstall the kit") from None


def pinned_versions(checkout: Path) -> dict[str, str]:
    """The exact pins of ``checkout``'s pyproject.toml (``jax==0.10.2`` -> jax: 0.10.2)."""
    try:
        project = tomllib.loads((checkout / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    pins = {}
    for requirement in project.get("project", {}).get("dependencies", []):
        name, sep, version = requirement.partition("==")
        if sep:
            pins[name.strip().lower()] = version.strip()
    return pins


def version_warning(grader: Mapping[str, str], student: Mapping[str, str]) -> str | None:
    """A warning when the student's jax/flax differ from the grader's, or None."""
    differ = [name for name in NUMERIC if name in grader and name in student
              and grader[name] != student[name]]
    if not differ:
        return None
    yours = ", ".join(f"{name} {student[name]}" for name in differ)
    theirs = ", ".join(f"{name} {grader[name]}" for name in differ)
    install = " ".join(f"{name}=={grader[name]}" for name in NUMERIC if name in grader)
    return (f"Your {yours} differ from the grader's {theirs}. Random initialisation can change "
            f"between versions, so your numbers may not match Gradescope's. Install the "
            f"grader's versions: pip install {install}")


def start_files(problems_dir: Path | None, checkout_problems: Path,
                assignment: Path | None = None) -> list[tuple[str, str]]:
    """What ``autograder start`` writes: the kit's shipped statement and starters when
    installed from the kit (or ``problems_dir`` is a kit's data), else those of a checkout's
    problems (``assignment``'s, in its order, when given), made from the specs in the
    course's order."""
    directory = problems_dir or (KIT_DATA if is_kit(KIT_DATA) else checkout_problems)
    if is_kit(directory):
        return shipped_student_files(directory)
    if not directory.is_dir():
        raise UsageError(f"no problems folder at {directory}: pass --problems DIR")
    if assignment is not None:
        return student_files(load_assignment(assignment, directory))
    return student_files(in_course_order(load_problems(directory)))


def write_start(directory: Path, files: Sequence[tuple[str, str]]) -> tuple[
        list[Path], list[tuple[Path, str]]]:
    """Write ``files`` into ``directory`` (made if need be), never over anything already
    there: (the files written, the files skipped and why)."""
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"{directory} is a file: give the folder to write the exercises in")
    directory.mkdir(parents=True, exist_ok=True)
    wrote: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    for name, text in files:
        path = directory / name
        try:
            with path.open("x", encoding="utf-8") as handle:  # never overwrites
                handle.write(text)
        except FileExistsError:
            skipped.append((path, "already there, kept as it is (delete or rename it for a "
                                  "fresh copy)"))
            continue
        except OSError as exc:
            raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
        wrote.append(path)
    return wrote, skipped


# -- building ------------------------------------------------------------------------------


def _pyproject(checkout: Path) -> str:
    pins = pinned_versions(checkout)
    dependencies = [f"{name}=={version}" for name, version in pins.items()
                    if name not in _NOT_FOR_STUDENTS]
    build = tomllib.loads((checkout / "pyproject.toml").read_text())["build-system"]["requires"]
    lines = [
        "[build-system]",
        f"requires = {json.dumps(build)}",
        'build-backend = "setuptools.build_meta"',
        "",
        "[project]",
        f'name = "{DISTRIBUTION}"',
        f'version = "{__version__}"',
        'description = "Check your Flax lifted-transform exercises before you submit them"',
        'requires-python = ">=3.11"',
        "# The grader's exact versions: the expected outputs were computed with them.",
        "dependencies = [",
        *(f'    "{d}",' for d in dependencies),
        "]",
        "",
        "[project.scripts]",
        'autograder = "autograder.cli:run"',
        "",
        "[tool.setuptools.packages.find]",
        'include = ["autograder*"]',
        "",
        "[tool.setuptools.package-data]",
        'autograder = ["kit_data/*.json", "kit_data/*.md", "kit_data/starter/*.py",',
        '              "kit_data/problems/*/*"]',
    ]
    return "\n".join(lines) + "\n"


def _readme(problems: Sequence[LoadedProblem], manifest: Mapping[str, Any]) -> str:
    versions = manifest["versions"]
    rows = [f"| `{p.spec.function}` | {p.spec.title} | `{p.spec.function}.py` |"
            for p in problems]
    first = problems[0].spec.function if problems else "my_solution"
    return f"""# Flax lifted transforms: the pre-submission check

This kit checks your solutions on your own computer, with the same grading engine and the same
feedback as Gradescope, on the **visible** cases (Gradescope also runs hidden ones). It has
no solutions in it.

## Install (once)

You need Python 3.11 or newer, on Linux or macOS (on Windows, use WSL).

```bash
python3 -m venv .venv
source .venv/bin/activate
pip install student-kit.zip
```

This installs the grader's exact versions of jax ({versions.get("jax")}) and flax
({versions.get("flax")}): random initialisation can change between versions, so use this
environment for your work too.

## Start

```bash
mkdir lifted && cd lifted
autograder start          # writes PROBLEMS.md and a starter file per exercise here
```

`autograder start [FOLDER]` writes the statements (`PROBLEMS.md`) and one starter per
exercise into the folder (default: the current one). It never overwrites a file: it says
which ones it skipped. The exercises, in the order of the course:

| function | exercise | starter |
|---|---|---|
{chr(10).join(rows)}

## Check your work

```bash
autograder check {first}.py        # a file, a folder or a notebook (.ipynb)
autograder check .                 # every exercise you have started
autograder check . --all           # require every exercise (as Gradescope grades them)
autograder check {first}.py --watch   # re-check every time you save
autograder check {first}.py --json    # the same, for programs
```

The check grades the exercises your files define and reports the others as **not
attempted** (a function that is missing, or still the starter's `raise
NotImplementedError`). Each exercise gets one line: passed or failed, and its points on the
visible tests beside its points in all (Gradescope also runs hidden tests); then, for each
failure, what went wrong and how to fix it. The exit status is 0 when every attempted
exercise passes its visible tests (with `--all` or `--problem NAME`: every exercise asked
for), 1 when one fails or nothing is attempted, and 2 when the command itself is wrong.

## In Jupyter or Colab

Install the kit in the notebook's environment (in Colab, upload `student-kit.zip` to the
session's files first), then check the functions the notebook defines, without leaving it:

```python
!pip install student-kit.zip
```

```python
{NOTEBOOK_HINT}
```

The check runs the cells you have run so far (shell `!` and magic `%` lines are skipped) in
an isolated process, as the command line does, and shows the same report in the notebook.
`notebook.check("{first}")` checks one exercise; `notebook.check(all=True)` requires all.
In Colab, restart the session after the `pip install` if it says so.

Passing every visible case does not guarantee full marks: the hidden cases use other sizes
and seeds. Write code that works for any valid input.
"""


def _kit_files(checkout: Path, problems: Sequence[LoadedProblem],
               outputs: Mapping[str, Mapping[Source, Mapping[int, Any]]]) -> Iterator[
                   tuple[str, bytes, int]]:
    versions = {name: metadata.version(name) for name in NUMERIC}
    versions["python"] = platform.python_version()
    manifest = {
        "format": 1,
        "order": [p.id for p in problems],
        "autograder": __version__,
        "versions": versions,
        "backend": "cpu",
        "problems": {p.id: {"function": p.spec.function, "points": p.spec.points,
                            "cases": len(p.spec.cases)} for p in problems},
    }
    yield f"{TOP}/pyproject.toml", _pyproject(checkout).encode(), 0o644
    yield f"{TOP}/README.md", _readme(problems, manifest).encode(), 0o644
    data = f"{TOP}/autograder/kit_data"
    for name, text in student_files(problems):
        # Beside the README for whoever unzips the kit, and as package data for `start`.
        where = name if name == STATEMENT else f"{STARTERS}/{name}"
        yield f"{TOP}/{where}", text.encode(), 0o644
        yield f"{data}/{where}", text.encode(), 0o644
    package = checkout / "autograder"
    for path in content_files(package):
        if path.suffix == ".py" and "kit_data" not in path.parts:
            yield (f"{TOP}/autograder/{path.relative_to(package).as_posix()}",
                   path.read_bytes(), 0o644)
    yield (f"{TOP}/autograder/kit_data/{MANIFEST}",
           (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode(), 0o644)
    for problem in problems:
        base = f"{TOP}/autograder/kit_data/problems/{problem.id}"
        yield f"{base}/problem.yaml", visible_spec_text(problem).encode(), 0o644
        yield f"{base}/{EXPECTED}", expected_data(problem, outputs[problem.id]), 0o644


def build_kit(checkout: Path, problems: Sequence[LoadedProblem], output: Path,
              cache_dir: Path | None, grader_env: Mapping[str, str],
              scratch: Path) -> list[str]:
    """Write the student kit for ``problems`` to ``output``, in their order (the order of
    the statement, the starters and the check).

    The expected outputs come from the cache when it holds them (``autograder warm``), else
    the references and variants run once here, in a trusted worker.
    """
    spec = WorkerSpec(env=worker_environment(grader_env, scratch), cwd=scratch)
    outputs: dict[str, dict[Source, Mapping[int, Any]]] = {}
    with References(spec, ExpectedCache(cache_dir)) as references:
        for problem in problems:
            outputs[problem.id] = {source: references.outputs(problem, source)
                                   for source in sources_of(problem)}
    return write_zip(output, _kit_files(checkout, problems, outputs))
