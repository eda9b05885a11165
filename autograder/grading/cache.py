"""Expected outputs cached on disk, keyed by a fingerprint of everything they depend on.

The reference outputs do not change between students, so they are computed once per image
(at ``setup.sh`` time on Gradescope, on first use elsewhere) on the grader's own backend.
The fingerprint covers the spec, every file of the problem folder, the autograder's input
generation, the jax/jaxlib/flax/numpy versions, the Python version, the machine and the JAX
configuration of the workers; any change recomputes. Each file also carries a digest of its
arrays, so a corrupted or edited entry is detected and recomputed rather than trusted.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import platform
import zipfile
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from autograder.files import atomic, folder_digest
from autograder.protocol.parsing import LOCK as PARSING
from autograder.spec import LoadedProblem

_VERSIONED = ("jax", "jaxlib", "flax", "numpy")
#: The package's code the outputs depend on (how inputs are made, the worker that runs the
#: reference, the protocol that carries the outputs, this cache's format).
_CODE = ("spec/inputs.py", "worker", "protocol", "grading/cache.py")


#: Worker settings of JAX's persistent compilation cache (see ``worker_environment``).
COMPILATION_CACHE_SETTINGS = frozenset({"JAX_COMPILATION_CACHE_DIR",
                                        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS",
                                        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"})


def default_cache_dir(env: Mapping[str, str]) -> Path:
    if env.get("AUTOGRADER_CACHE"):
        return Path(env["AUTOGRADER_CACHE"])
    base = Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "flax-lift-autograder" / "expected"


def compile_cache_beside(cache: Path) -> Path:
    """JAX's compilation cache for the expected-output cache ``cache``: ``.../expected`` ->
    ``.../jax``, the two side by side (as ``setup.sh`` lays them out)."""
    return cache.parent / "jax"


def fingerprint(problem: LoadedProblem, worker_env: Mapping[str, str]) -> str:
    digest = hashlib.sha256()

    def add(label: str, data: bytes) -> None:
        digest.update(label.encode() + b"\0" + len(data).to_bytes(8, "big") + data)

    add("problem", folder_digest([problem.directory], problem.directory).encode())
    root = Path(__file__).resolve().parent.parent
    for name in _CODE:
        code = root / name
        for path in sorted(code.rglob("*.py")) if code.is_dir() else [code]:
            add(f"autograder/{path.relative_to(root).as_posix()}", path.read_bytes())
    for package in _VERSIONED:
        add(package, metadata.version(package).encode())
    add("python", platform.python_version().encode())
    add("machine", platform.machine().encode())
    # JAX's configuration decides the numbers; where and what it caches of its compiled
    # programs does not (so ``warm``, which fills the compilation cache, and the kit's
    # build, which does not use one, share their expected outputs).
    jax_env = {k: v for k, v in sorted(worker_env.items())
               if k.startswith(("JAX_", "XLA_")) and k not in COMPILATION_CACHE_SETTINGS}
    add("env", json.dumps(jax_env).encode())
    return digest.hexdigest()


def array_digest(arrays: Mapping[str, np.ndarray]) -> str:
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}:{array.dtype.str}:{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


class ExpectedCache:
    """A folder of ``<problem>-<source>-<fingerprint>.npz`` files; ``None`` disables caching.

    A source is the reference or a function of the problem's mistakes file."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory

    def _path(self, problem: LoadedProblem, key: str, source: str) -> Path | None:
        if self.directory is None:
            return None
        safe = "".join(c if c.isalnum() or c in "-_.=" else "_" for c in source)
        return self.directory / f"{problem.id}-{safe}-{key[:32]}.npz"

    def load(self, problem: LoadedProblem, key: str,
             source: str = "reference") -> dict[int, np.ndarray | None] | None:
        """The cached outputs of every case (None where the source raised), or None when
        absent, stale or corrupted."""
        path = self._path(problem, key, source)
        if path is None or not path.is_file():
            return None
        try:
            with PARSING:  # numpy parses each array's header (see protocol.parsing)
                loaded = np.load(path, allow_pickle=False)
                if not isinstance(loaded, np.lib.npyio.NpzFile):
                    return None
                with loaded as data:
                    arrays = {name: data[name] for name in data.files}
        except (OSError, ValueError, zipfile.BadZipFile, EOFError):
            return None
        meta = arrays.pop("__meta__", None)
        if meta is None:
            return None
        try:
            info = json.loads(bytes(meta).decode())
        except (UnicodeDecodeError, json.JSONDecodeError):
            return None
        if (not isinstance(info, dict) or info.get("fingerprint") != key
                or info.get("source") != source):
            return None
        missing = info.get("missing", [])
        if not isinstance(missing, list):
            return None
        names = {f"case_{i}": i for i in range(len(problem.spec.cases)) if i not in missing}
        if sorted(arrays) != sorted(names) or info.get("digest") != array_digest(arrays):
            return None
        outputs: dict[int, np.ndarray | None] = dict.fromkeys(range(len(problem.spec.cases)))
        outputs.update({index: arrays[name] for name, index in names.items()})
        return outputs

    def store(self, problem: LoadedProblem, key: str, outputs: Mapping[int, np.ndarray | None],
              source: str = "reference") -> None:
        path = self._path(problem, key, source)
        if path is None:
            return
        arrays = {f"case_{i}": np.asarray(a) for i, a in outputs.items() if a is not None}
        missing = sorted(i for i, a in outputs.items() if a is None)
        meta = json.dumps({"fingerprint": key, "source": source, "missing": missing,
                           "digest": array_digest(arrays)}).encode()
        members: dict[str, Any] = {"__meta__": np.frombuffer(meta, dtype=np.uint8), **arrays}
        # A read-only or full cache only costs time.
        with contextlib.suppress(OSError), atomic(path, 0o600) as handle:
            np.savez(handle, **members)
