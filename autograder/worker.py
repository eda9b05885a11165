"""The worker: the only process that runs code under test (a student's or a reference).

Started by :mod:`autograder.sandbox` as ``python -I -m autograder.worker --reply-fd N``, with
JAX configured by its environment before ``import jax``. It reads one JSON request per line
on stdin and answers on the reply descriptor; whatever the code under test prints goes to
stdout/stderr, which the grader captures (and truncates) separately. The worker reports
what happened as plain data and never decides a score.

Requests::

    {"op": "load", "function": NAME, "file": PATH, "root": DIR}
    {"op": "call", "function": NAME, "args": [VALUE, ...]}
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import inspect
import io
import json
import linecache
import os
import sys
import time
import traceback
import types
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from autograder import jail, protocol
from autograder.notebook import NotebookError, read_cells

TRACEBACK_LIMIT = 6000
_THIS_FILE = os.path.abspath(__file__)
#: Path prefixes removed from tracebacks (the submission's root is added on load).
_SHORTEN: list[str] = []


def _short_path(filename: str) -> str:
    """``solution.py`` for the submission's files, ``flax/nnx/...`` for installed packages."""
    for prefix in _SHORTEN:
        if filename.startswith(prefix):
            return filename[len(prefix):]
    marker = "site-packages" + os.sep
    return filename.split(marker, 1)[1] if marker in filename else filename


def _format_exception(exc: BaseException) -> str:
    """The traceback as a student should see it: the worker's own frames removed."""
    frames = traceback.StackSummary.from_list([
        traceback.FrameSummary(_short_path(f.filename), f.lineno, f.name, line=f.line)
        for f in traceback.extract_tb(exc.__traceback__)
        if os.path.abspath(f.filename) != _THIS_FILE])
    text = "Traceback (most recent call last):\n" if frames else ""
    text += "".join(traceback.format_list(frames))
    text += "".join(traceback.format_exception_only(type(exc), exc))
    if len(text) > TRACEBACK_LIMIT:
        text = "...\n" + text[-TRACEBACK_LIMIT:]
    return text


class _Printed(io.StringIO):
    """What the code under test prints during one request, kept up to a limit, and passed on
    to the real stream (the grader keeps that copy in case the request never returns)."""

    LIMIT = 8192

    def __init__(self, tee: Any) -> None:
        super().__init__()
        self.tee = tee

    def write(self, text: str) -> int:
        with contextlib.suppress(Exception):
            self.tee.write(text)
        room = self.LIMIT - self.tell()
        if room > 0:
            super().write(text[:room])
        self.dropped = getattr(self, "dropped", 0) + max(0, len(text) - max(room, 0))
        return len(text)

    def text(self) -> str:
        dropped = getattr(self, "dropped", 0)
        return self.getvalue() + (f"\n[... {dropped} more characters]" if dropped else "")


@contextlib.contextmanager
def _printing_into(buffer: _Printed) -> Any:
    """Print into ``buffer`` (and, for a crash, still to the real streams' pipe)."""
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        yield buffer


def _error(kind: str, exc: BaseException | None = None, **extra: Any) -> dict[str, Any]:
    error: dict[str, Any] = {"kind": kind, **extra}
    if exc is not None:
        error.update(exc_type=type(exc).__name__, message=str(exc)[:2000],
                     traceback=_format_exception(exc))
        if isinstance(exc, SyntaxError):
            error.update(filename=Path(exc.filename or "?").name, lineno=exc.lineno,
                         text=(exc.text or "").rstrip(), message=exc.msg)
    return {"ok": False, "error": error}


def describe_object(obj: Any, depth: int = 0) -> str:
    """A short structural description of a returned value: ``tuple(float32[4, 3], None)``."""
    if isinstance(obj, np.ndarray | np.generic) or _is_jax_array(obj):
        array = np.asarray(obj)
        return f"{array.dtype}[{', '.join(str(s) for s in array.shape)}]"
    if isinstance(obj, tuple | list) and obj and all(
            type(o) in (bool, int, float) for o in obj):
        kinds = sorted({type(o).__name__ for o in obj})
        return f"a {type(obj).__name__} of {len(obj)} Python {' and '.join(kinds)} values"
    if isinstance(obj, tuple | list) and depth < 2:
        items = ", ".join(describe_object(o, depth + 1) for o in obj[:4])
        more = ", ..." if len(obj) > 4 else ""
        return f"{type(obj).__name__}({items}{more})"
    if isinstance(obj, dict) and depth < 2:
        keys = ", ".join(repr(k) for k in list(obj)[:4])
        return f"dict with keys {keys}"
    if obj is None:
        return "None"
    if isinstance(obj, bool | int | float):
        return f"{type(obj).__name__} {obj!r}"
    return type(obj).__module__ + "." + type(obj).__qualname__


def _is_jax_array(obj: Any) -> bool:
    jax = sys.modules.get("jax")
    return jax is not None and isinstance(obj, jax.Array)


class Worker:
    def __init__(self, replies: BinaryIO) -> None:
        self.replies = replies
        self.functions: dict[str, Callable[..., Any]] = {}
        self.function_files: dict[str, Path] = {}
        self.modules: dict[Path, types.ModuleType] = {}
        #: Lift events recorded while a function's module was imported (module-level lifts).
        self.load_events: dict[Path, list[dict[str, Any]]] = {}
        self.jnp: Any = None
        self.tracer: Any = None

    # -- start-up --------------------------------------------------------------------------

    def hello(self) -> dict[str, Any]:
        start = time.perf_counter()
        import flax
        import flax.linen
        import flax.nnx
        import jax
        import jax.numpy as jnp
        import jaxlib

        from autograder import trace

        trace.install()
        # The compilation cache is read-only for student code: failing to use it is fine.
        warnings.filterwarnings("ignore", message=".*persistent compilation cache")
        self.tracer = trace.TRACER
        self.jnp = jnp
        return {
            "op": "ready",
            "versions": {
                "python": sys.version.split()[0],
                "jax": jax.__version__,
                "jaxlib": getattr(jaxlib, "__version__", "?"),
                "flax": flax.__version__,
                "numpy": np.__version__,
            },
            "backend": jax.default_backend(),
            "x64": bool(jax.dtypes.canonicalize_dtype(np.float64) == np.float64),
            "import_seconds": time.perf_counter() - start,
        }

    # -- requests --------------------------------------------------------------------------

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request.get("op")
        printed = _Printed(sys.__stdout__)
        with _printing_into(printed):
            if op == "load":
                reply = self.load(request["function"], Path(request["file"]),
                                  Path(request["root"]), bool(request.get("trace")))
            elif op == "call":
                reply = self.call(request["function"], request["args"])
            elif op == "checks":
                from autograder import checks

                reply = {"ok": True, "checks": checks.run(
                    request["source"], request["filename"], self.functions[request["function"]])}
            else:
                reply = _error("protocol", message=f"unknown op {op!r}")
        reply["printed"] = printed.text()
        return reply

    def load(self, function: str, file: Path, root: Path, traced: bool) -> dict[str, Any]:
        if str(root) not in sys.path:
            sys.path.insert(0, str(root))
            _SHORTEN.append(str(root) + os.sep)
        if traced:
            self.tracer.add_root(str(root))
        module = self.modules.get(file)
        notes: list[dict[str, Any]] = []
        if module is None:
            mark = len(self.tracer.events)
            try:
                module, notes = self._import(file, root)
            except NotebookError as exc:
                return _error("import-error", message=str(exc), exc_type="NotebookError")
            except SyntaxError as exc:
                return _error("syntax-error", exc)
            except BaseException as exc:  # SystemExit and KeyboardInterrupt at import too
                return _error("import-error", exc)
            self.modules[file] = module
            self.load_events[file] = self.tracer.events[mark:]
        candidate = getattr(module, function, None)
        if candidate is None:
            return _error("missing-function", cell_errors=notes,
                          names=sorted(n for n in vars(module) if not n.startswith("_")))
        if not callable(candidate):
            return _error("not-callable", found=describe_object(candidate))
        self.functions[function] = candidate
        self.function_files[function] = file
        try:
            signature = str(inspect.signature(candidate))
        except (TypeError, ValueError):
            signature = "(...)"
        return {"ok": True, "signature": signature, "cell_errors": notes}

    def _import(self, file: Path, root: Path) -> tuple[types.ModuleType, list[dict[str, Any]]]:
        relative = file.relative_to(root).with_suffix("")
        name = ".".join(relative.parts)
        if name in sys.modules or not name.isidentifier():
            name = f"_loaded_{len(self.modules)}_" + "_".join(relative.parts).replace("-", "_")
        if file.suffix == ".ipynb":
            return self._run_notebook(file, name)
        spec = importlib.util.spec_from_file_location(name, file)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot import {file.name}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module, []

    def _run_notebook(
        self, file: Path, name: str
    ) -> tuple[types.ModuleType, list[dict[str, Any]]]:
        """Run the cells one by one, as Jupyter does: a failing cell does not stop the rest."""
        module = types.ModuleType(name)
        module.__file__ = str(file)
        sys.modules[name] = module
        errors: list[dict[str, Any]] = []
        for cell in read_cells(file):
            filename = f"{file} [cell {cell.number}]"
            linecache.cache[filename] = (len(cell.source), None,
                                         cell.source.splitlines(True), filename)
            try:
                exec(compile(cell.source, filename, "exec"), module.__dict__)
            except BaseException as exc:
                errors.append({"cell": cell.number, "exc_type": type(exc).__name__,
                               "message": str(exc)[:500]})
        return module, errors

    def call(self, function: str, raw_args: list[dict[str, Any]]) -> dict[str, Any]:
        fn = self.functions[function]
        args = [protocol.decode_value(a) for a in raw_args]
        args = [self.jnp.asarray(a) if isinstance(a, np.ndarray) else a for a in args]
        try:
            inspect.signature(fn).bind(*args)
        except TypeError as exc:
            return _error("wrong-signature", message=str(exc), signature=_signature(fn))
        except ValueError:
            pass  # builtins without a signature: just call them
        mark = len(self.tracer.events)
        start = time.perf_counter()
        try:
            result = fn(*args)
            output = self._to_array(result)
        except BaseException as exc:
            reply = _error("runtime-error", exc, seconds=time.perf_counter() - start)
            reply["trace"] = self._trace(function, mark)
            return reply
        reply = {"ok": True, "output": None, "returned": describe_object(result),
                 "seconds": time.perf_counter() - start, "trace": self._trace(function, mark)}
        if output is not None and (output.dtype.hasobject
                                   or output.nbytes > protocol.MAX_MESSAGE_BYTES // 2):
            reply["too_large"] = output.nbytes
        elif output is not None:
            reply["output"] = protocol.encode_array(output)
        return reply

    def _trace(self, function: str, mark: int) -> list[dict[str, Any]]:
        """The lifts this call applied, after those applied when its module was imported."""
        at_import = self.load_events.get(self.function_files[function], [])
        return [*at_import, *self.tracer.events[mark:]]

    @staticmethod
    def _to_array(result: Any) -> np.ndarray | None:
        """The returned value as an array, or None when it is not array-like."""
        if isinstance(result, np.ndarray | np.generic) or _is_jax_array(result):
            return np.asarray(result)  # waits for the computation to finish
        return None


def _signature(fn: Callable[..., Any]) -> str:
    try:
        return str(inspect.signature(fn))
    except (TypeError, ValueError):
        return "(...)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="autograder.worker")
    parser.add_argument("--reply-fd", type=int, required=True)
    parser.add_argument("--jail", default="{}", help="JSON settings for autograder.jail")
    options = parser.parse_args(argv)
    settings = json.loads(options.jail)
    applied = jail.apply(settings)  # before anything of the student's can run
    if not settings.get("network", True):
        jail.install_network_guard()

    requests = os.fdopen(os.dup(0), "rb")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    replies = os.fdopen(options.reply_fd, "wb")

    # -I ignores PYTHONUNBUFFERED: make what the code prints reach the grader before a reply
    # (and before a kill), in the order it was printed.
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(line_buffering=True)
    worker = Worker(replies)
    protocol.send(replies, {**worker.hello(), "jail": applied})
    for line in requests:
        try:
            request = protocol.parse(line)
            reply = worker.handle(request)
        except Exception as exc:  # a bug in the worker itself: report it, keep serving
            reply = _error("worker-error", exc)
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):  # the student may have closed or replaced it
                stream.flush()
        protocol.send(replies, reply)
    return 0


if __name__ == "__main__":
    sys.exit(main())
