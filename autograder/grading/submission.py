"""A student's submission on the trusted side: which files, and where each function lives.

A submission is a directory (Gradescope's ``/autograder/submission``) or a single file, with
one or more ``.py`` files and/or Jupyter notebooks. Files are only *parsed* here (never
run): each is scanned with ``ast`` for top-level definitions, so a function is found by
name wherever it is defined, and a file with a syntax error is known before any worker
starts.
"""

from __future__ import annotations

import ast
import difflib
import shutil
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from autograder.errors import SubmissionError
from autograder.files import NOT_CONTENT, parse_python
from autograder.grading.provenance import notebook_source
from autograder.worker.notebook import MAX_NOTEBOOK_BYTES, NotebookError, read_cells

SOURCE_SUFFIXES = (".py", ".ipynb")
MAX_FILE_BYTES = MAX_NOTEBOOK_BYTES


@dataclass(frozen=True)
class SourceFile:
    path: Path  # absolute
    relative: str  # as the student sees it
    defines: frozenset[str] = frozenset()
    error: str | None = None  # why it could not be parsed, if it could not
    #: The trusted side could not read the file (too large, not text, nested past what
    #: Python parses): a function it holds is reported as such, not imported. Another file
    #: may still import it in the worker (which then fails in its own, isolated way), unless
    #: it is too large, which is never staged. A syntax error is not this: the worker
    #: imports the file to report the error as Python words it.
    unusable: bool = False


@dataclass(frozen=True)
class Submission:
    root: Path
    files: tuple[SourceFile, ...]
    other_files: tuple[str, ...] = field(default=())

    def locate(self, function: str) -> SourceFile | None:
        """The file defining ``function`` at top level: ``.py`` files before notebooks, then
        the first by path.

        When no file parses, the first unparsable one is returned so that its error is
        reported instead of "function not found".
        """
        defining = [f for f in self.files if function in f.defines]
        if defining:
            defining.sort(key=lambda f: (f.path.suffix == ".ipynb", f.relative))
            return defining[0]
        broken = [f for f in self.files if f.error is not None]
        return broken[0] if broken else None

    def sources(self) -> dict[str, str]:
        """Every readable file's source text by relative path, a notebook's code cells
        joined into one module (for the trusted side's reading of the code: never run)."""
        texts = {}
        for file in self.files:
            if file.unusable:
                continue
            try:
                if file.path.suffix == ".ipynb":
                    texts[file.relative] = notebook_source(
                        [cell.source for cell in read_cells(file.path)])
                else:
                    texts[file.relative] = file.path.read_text(errors="replace")
            except (OSError, NotebookError):
                continue
        return texts

    def near_names(self, function: str, exclude: Collection[str] = ()) -> list[str]:
        """The name defined in the submission closest to ``function`` (a misspelling), but
        none of ``exclude`` (the other exercises' functions: correctly named already)."""
        names = sorted({name for f in self.files for name in f.defines} - set(exclude))
        return difflib.get_close_matches(function, names, n=1, cutoff=0.6)


def _walk(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part in NOT_CONTENT or part.startswith(".") for part in relative.parts):
            continue
        if path.is_file() and not path.is_symlink():
            yield path


def _top_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                names.update(n.id for n in ast.walk(target)
                             if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.If | ast.Try | ast.TryStar | ast.With):
            # Definitions behind a guard (if/try/except/finally/with) still count.
            blocks = [getattr(node, "body", []), getattr(node, "orelse", []),
                      getattr(node, "finalbody", []),
                      *(h.body for h in getattr(node, "handlers", []))]
            inner = ast.Module(body=[stmt for block in blocks for stmt in block],
                               type_ignores=[])
            names.update(_top_level_names(inner))
    return names


#: Why Python's own parser gives up on a file, in the words a student can act on.
_TOO_NESTED = ("it nests expressions or blocks more deeply than Python can parse (a very "
               "long chain of operators or brackets?)")


def _scan(path: Path, root: Path) -> SourceFile:
    """Parse one file on the trusted side: bounded in size (``MAX_FILE_BYTES``) and, being
    a parse and nothing more, in time; whatever it cannot read is that file's error."""
    relative = str(path.relative_to(root))
    if path.stat().st_size > MAX_FILE_BYTES:
        return SourceFile(path, relative, unusable=True,
                          error=f"{relative} is larger than {MAX_FILE_BYTES // 2**20} MB, so "
                                f"it was not read")
    try:
        if path.suffix == ".ipynb":
            names: set[str] = set()
            for cell in read_cells(path):
                try:
                    names |= _top_level_names(parse_python(cell.source))
                except (SyntaxError, ValueError, MemoryError, RecursionError):
                    continue  # the worker reports cells that do not run
            return SourceFile(path, relative, frozenset(names))
        source = path.read_bytes()
        return SourceFile(path, relative, frozenset(_top_level_names(parse_python(source))))
    except SyntaxError as exc:
        return SourceFile(path, relative, error=f"line {exc.lineno}: {exc.msg}")
    except (MemoryError, RecursionError):
        return SourceFile(path, relative, unusable=True, error=f"{relative}: {_TOO_NESTED}")
    except NotebookError as exc:
        return SourceFile(path, relative, unusable=True, error=str(exc))
    except (OSError, ValueError) as exc:  # ValueError: null bytes in the source
        return SourceFile(path, relative, unusable=True, error=f"{relative}: {exc}")


def scan_submission(path: Path | str) -> Submission:
    """Parse every source file of a submission (a directory or a single file)."""
    path = Path(path).resolve()
    if not path.exists():
        raise SubmissionError(f"submission {path} does not exist")
    if path.is_file():
        root, candidates = path.parent, [path]
    else:
        root, candidates = path, list(_walk(path))
    sources = [p for p in candidates if p.suffix in SOURCE_SUFFIXES]
    others = [str(p.relative_to(root)) for p in candidates if p.suffix not in SOURCE_SUFFIXES]
    return Submission(root, tuple(_scan(p, root) for p in sources), tuple(others))


def stage(submission: Submission, destination: Path) -> Submission:
    """Copy the source files into ``destination`` (the worker's private workspace)."""
    destination.mkdir(parents=True, exist_ok=True)
    staged = []
    for source in submission.files:
        target = destination / source.relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.path.stat().st_size <= MAX_FILE_BYTES:  # a larger file is never read
            shutil.copyfile(source.path, target)
        staged.append(SourceFile(target, source.relative, source.defines, source.error,
                                 source.unusable))
    return Submission(destination, tuple(staged), submission.other_files)
