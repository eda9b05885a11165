"""The worker: the only process that runs code under test (a student's or a reference).

Started by :mod:`autograder.sandbox.process` as ``python -I -m autograder.worker --reply-fd N``, with
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
import resource
import socket
import sys
import tempfile
import time
import traceback
import types
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from autograder.protocol import wire as protocol
from autograder.worker import jail
from autograder.worker.notebook import NotebookError, read_cells

TRACEBACK_LIMIT = 6000
#: The grader's own package: its frames (the worker, the lift recorders) are not the
#: student's and are left out of the tracebacks students read.
_PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "")
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
        if not os.path.abspath(f.filename).startswith(_PACKAGE)])
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


def _raised_by_student(exc: BaseException) -> bool:
    """Whether the innermost frame of ``exc`` is in the submission's own files (not in
    jax, flax or numpy, whose errors a student caused but did not write)."""
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and any(frames[-1].filename.startswith(p) for p in _SHORTEN)


def _error(kind: str, exc: BaseException | None = None, **extra: Any) -> dict[str, Any]:
    error: dict[str, Any] = {"kind": kind, **extra}
    if exc is not None:
        error.update(exc_type=type(exc).__name__, message=str(exc)[:2000],
                     traceback=_format_exception(exc), raised_by_student=_raised_by_student(exc))
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
        preload()  # already done when this worker was forked from a template
        import flax
        import jax
        import jax.numpy as jnp
        import jaxlib

        from autograder.worker import trace

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


def serve(settings: dict[str, Any], reply_fd: int) -> int:
    """Jail this process, then answer requests (stdin) on ``reply_fd`` until stdin ends."""
    sys.dont_write_bytecode = True  # -I ignores PYTHONDONTWRITEBYTECODE; folders are read-only
    applied = jail.apply(settings)  # before anything of the student's can run
    if not settings.get("network", True):
        jail.install_network_guard()

    requests = os.fdopen(os.dup(0), "rb")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    replies = os.fdopen(reply_fd, "wb")

    # -I ignores PYTHONUNBUFFERED: make what the code prints reach the grader before a reply
    # (and before a kill), in the order it was printed.
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(line_buffering=True)
    worker = Worker(replies)
    protocol.send(replies, {**worker.hello(), "jail": applied})
    for line in requests:
        request: dict[str, Any] = {}
        try:
            request = protocol.parse(line)
            reply = worker.handle(request)
        except Exception as exc:  # a bug in the worker itself: report it, keep serving
            reply = _error("worker-error", exc)
        reply["id"] = request.get("id")
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):  # the student may have closed or replaced it
                stream.flush()
        protocol.send(replies, reply)
    return 0


def preload() -> None:
    """What every worker needs, imported once (in a template, before it forks workers):
    numpy, jax, flax and the lift recorders. The XLA backend is *not* started here: its
    threads would not survive a fork; each worker starts its own (about 20 ms)."""
    import flax
    import flax.linen
    import flax.nnx  # noqa: F401
    import jax
    import jax.numpy  # noqa: F401
    import jaxlib  # noqa: F401

    from autograder.worker import trace

    trace.install()


def _fork_worker(control: socket.socket, fds: list[int], request: dict[str, Any]) -> None:
    """In the freshly forked child: become a worker with ``fds`` as its stdin, output and
    reply channel, in its own session, environment and folder. Never returns."""
    code = 1
    try:
        control.close()
        requests_fd, output_fd, reply_fd = fds
        os.setsid()
        os.dup2(requests_fd, 0)
        os.dup2(output_fd, 1)
        os.dup2(output_fd, 2)
        os.dup2(reply_fd, 3)
        os.closerange(4, _max_fd())
        os.environ.clear()
        os.environ.update({str(k): str(v) for k, v in request["env"].items()})
        tempfile.tempdir = None  # TMPDIR is this worker's own
        os.chdir(request["cwd"])
        code = serve(request["jail"], 3)
    except BaseException:  # the child must never return into the template
        with contextlib.suppress(Exception):
            traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _max_fd() -> int:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if 0 < soft < 1 << 20 else 1 << 16


def template(control_fd: int) -> int:
    """A fork server: import what workers need once, then fork a fresh worker per request.

    Requests come on ``control_fd`` (a Unix datagram socket from the trusted side), as JSON
    with the new worker's three descriptors attached::

        {"op": "spawn", "cwd": DIR, "env": {...}, "jail": {...}}   + [stdin, output, reply]
        {"op": "reap", "pid": PID}

    answered ``{"pid": PID}`` and ``{"status": CODE}`` (negative: killed by that signal).
    No code under test ever runs here: a worker is a copy of this pristine process, so
    nothing one problem's code did (globals, monkeypatches, ``jax.config``, threads) can
    reach the next. When the trusted side goes away, so do the template and its workers.
    """
    with contextlib.suppress(OSError, AttributeError):
        jail.parent_death_signal()
    control = socket.socket(fileno=control_fd)
    preload()
    children: set[int] = set()

    def answer(message: dict[str, Any]) -> None:
        control.send(json.dumps(message).encode())

    answer({"op": "ready", "pid": os.getpid(),
            "threads": len(os.listdir("/proc/self/task")) if os.path.isdir("/proc") else 1})
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(control, 1 << 20, 3)
        except OSError:
            break
        if not data:
            break
        try:
            request = json.loads(data)
            if request.get("op") == "spawn":
                if len(fds) != 3:
                    raise ValueError(f"spawn needs 3 descriptors, got {len(fds)}")
                for stream in (sys.stdout, sys.stderr):
                    stream.flush()
                pid = os.fork()
                if pid == 0:
                    _fork_worker(control, fds, request)
                children.add(pid)
                answer({"pid": pid})
            elif request.get("op") == "reap":
                pid = int(request["pid"])
                if pid not in children:
                    raise ValueError(f"{pid} is not a worker of this template")
                _, status = os.waitpid(pid, 0)
                children.discard(pid)
                answer({"status": -os.WTERMSIG(status) if os.WIFSIGNALED(status)
                        else os.WEXITSTATUS(status)})
            else:
                raise ValueError(f"unknown op {request.get('op')!r}")
        except Exception as exc:
            answer({"error": f"{type(exc).__name__}: {exc}"})
        finally:
            for fd in fds:
                os.close(fd)
    for pid in children:  # the trusted side is gone: take the workers with us
        with contextlib.suppress(OSError):
            os.killpg(pid, 9)
        with contextlib.suppress(OSError):
            os.waitpid(pid, 0)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="autograder.worker")
    parser.add_argument("--reply-fd", type=int)
    parser.add_argument("--jail", default="{}", help="JSON settings for autograder.worker.jail")
    parser.add_argument("--template", type=int, metavar="CONTROL_FD",
                        help="serve as a fork server on this Unix socket")
    options = parser.parse_args(argv)
    if options.template is not None:
        return template(options.template)
    if options.reply_fd is None:
        parser.error("--reply-fd or --template is required")
    return serve(json.loads(options.jail), options.reply_fd)


if __name__ == "__main__":
    sys.exit(main())
