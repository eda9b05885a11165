"""The worker: the only process that runs code under test (a student's or a reference).

Started by :mod:`autograder.sandbox` (forked from a template, see :mod:`.forkserver`, or as
``python -I -m autograder.worker --reply-fd N``) with JAX configured by its environment. It
applies its jail, says :class:`~autograder.protocol.messages.Ready`, then answers one request
per line on stdin (:data:`~autograder.protocol.messages.Request`) with one reply on the reply
descriptor. Whatever the code under test prints goes to stdout/stderr, which the grader
captures (and truncates) separately. The worker reports what happened as plain data and
never decides a score; every call of foreign code goes through :func:`.capture.call`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib.util
import inspect
import io
import linecache
import os
import sys
import time
import types
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from autograder.protocol import wire
from autograder.protocol.messages import (
    Call,
    CellError,
    CheckOutcome,
    ChecksRan,
    ErrorInfo,
    Event,
    Leaf,
    Load,
    Loaded,
    Raised,
    Ready,
    Reply,
    Request,
    Returned,
    RunChecks,
    Variables,
    decode_request,
    describe_array,
    encode,
)
from autograder.worker import capture, checks, jail
from autograder.worker.notebook import NotebookError, read_cells


def describe_object(obj: Any, depth: int = 0) -> str:
    """A short structural description of a returned value: ``tuple(float32[4, 3], None)``."""
    if isinstance(obj, np.ndarray | np.generic) or _is_jax_array(obj):
        array = np.asarray(obj)
        return describe_array(array.dtype, array.shape)
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


def _as_array(result: Any) -> np.ndarray | None:
    """The returned value as an array (waiting for the computation), or None."""
    if isinstance(result, np.ndarray | np.generic) or _is_jax_array(result):
        return np.asarray(result)
    return None


def _signature(fn: Callable[..., Any]) -> str:
    try:
        return str(inspect.signature(fn))
    except (TypeError, ValueError):
        return "(...)"


class Worker:
    """The functions loaded so far and the lifts recorded, answering requests."""

    def __init__(self) -> None:
        self.functions: dict[str, Callable[..., Any]] = {}
        self.function_files: dict[str, Path] = {}
        self.modules: dict[Path, types.ModuleType] = {}
        #: Lift events recorded while a function's module was imported (module-level lifts).
        self.load_events: dict[Path, list[Event]] = {}
        self.jnp: Any = None
        self.tracer: Any = None

    def hello(self, jailed: dict[str, Any]) -> Ready:
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
        versions = {"python": sys.version.split()[0], "jax": jax.__version__,
                    "jaxlib": getattr(jaxlib, "__version__", "?"), "flax": flax.__version__,
                    "numpy": np.__version__}
        return Ready(versions, jax.default_backend(),
                     bool(jax.dtypes.canonicalize_dtype(np.float64) == np.float64),
                     time.perf_counter() - start, jailed)

    def handle(self, request: Request) -> Reply:
        """Answer ``request``, with what the code printed meanwhile."""
        printed = capture.Printed(sys.__stdout__)
        with capture.printing_into(printed):
            match request:
                case Load():
                    reply: Reply = self.load(request)
                case Call():
                    reply = self.call(request)
                case RunChecks():
                    reply = self.checks(request)
        return _with_printed(reply, printed.text())

    # -- load --------------------------------------------------------------------------------

    def load(self, request: Load) -> Reply:
        file, root = Path(request.file), Path(request.root)
        if str(root) not in sys.path:
            sys.path.insert(0, str(root))
            capture.STUDENT_ROOTS.append(str(root) + os.sep)
        if request.trace:
            self.tracer.add_root(str(root))
        module = self.modules.get(file)
        cells: tuple[CellError, ...] = ()
        if module is None:
            mark = len(self.tracer.events)
            try:
                imported = self._import(file, root)
            except NotebookError as exc:
                return Raised(ErrorInfo("import-error", exc_type="NotebookError",
                                        message=str(exc)))
            if imported.error is not None:
                kind = "syntax-error" if isinstance(imported.error, SyntaxError) else (
                    "import-error")  # SystemExit and KeyboardInterrupt at import too
                return Raised(capture.error_info(kind, imported.error))
            assert imported.value is not None
            module, cells = imported.value
            self.modules[file] = module
            self.load_events[file] = self.tracer.events[mark:]
        candidate = getattr(module, request.function, None)
        if candidate is None:
            names = tuple(sorted(n for n in vars(module) if not n.startswith("_")))
            return Raised(ErrorInfo("missing-function", names=names), cell_errors=cells)
        if not callable(candidate):
            return Raised(ErrorInfo("not-callable", found=describe_object(candidate)),
                          cell_errors=cells)
        self.functions[request.function] = candidate
        self.function_files[request.function] = file
        return Loaded(_signature(candidate), cells)

    def _import(self, file: Path, root: Path) -> capture.Outcome[
            tuple[types.ModuleType, tuple[CellError, ...]]]:
        relative = file.relative_to(root).with_suffix("")
        name = ".".join(relative.parts)
        if name in sys.modules or not name.isidentifier():
            name = f"_loaded_{len(self.modules)}_" + "_".join(relative.parts).replace("-", "_")
        if file.suffix == ".ipynb":
            return capture.Outcome(self._run_notebook(file, name), None, 0.0)
        spec = importlib.util.spec_from_file_location(name, file)
        if spec is None or spec.loader is None:
            return capture.Outcome(None, ImportError(f"cannot import {file.name}"), 0.0)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        loader = spec.loader
        ran = capture.call(lambda: loader.exec_module(module))
        return capture.Outcome((module, ()), ran.error, ran.seconds)

    def _run_notebook(self, file: Path,
                      name: str) -> tuple[types.ModuleType, tuple[CellError, ...]]:
        """Run the cells one by one, as Jupyter does: a failing cell does not stop the rest."""
        module = types.ModuleType(name)
        module.__file__ = str(file)
        sys.modules[name] = module
        errors: list[CellError] = []
        for cell in read_cells(file):
            filename = f"{file} [cell {cell.number}]"
            linecache.cache[filename] = (len(cell.source), None,
                                         cell.source.splitlines(True), filename)
            ran = capture.call(functools.partial(_run_cell, cell.source, filename,
                                                 module.__dict__))
            if ran.error is not None:
                errors.append(CellError(cell.number, type(ran.error).__name__,
                                        str(ran.error)[:500]))
        return module, tuple(errors)

    # -- call --------------------------------------------------------------------------------

    def call(self, request: Call) -> Reply:
        fn = self.functions[request.function]
        args = [self.jnp.asarray(a) if isinstance(a, np.ndarray) else a for a in request.args]
        try:
            inspect.signature(fn).bind(*args)
        except TypeError as exc:
            return Raised(ErrorInfo("wrong-signature", message=str(exc),
                                    signature=_signature(fn)))
        except ValueError:
            pass  # builtins without a signature: just call them
        tracer = self.tracer
        marks = len(tracer.events), len(tracer.invocations)
        tracer.models.clear()
        ran = capture.call(lambda: _returned(fn(*args)))
        trace = self._trace(request.function, *marks)
        models = tuple(_variables(m) for m in tracer.models)
        if ran.error is not None:
            return Raised(capture.error_info("runtime-error", ran.error, seconds=ran.seconds),
                          trace=trace, models=models)
        assert ran.value is not None
        result, output = ran.value
        returned = describe_object(result)
        if output is not None and (output.dtype.hasobject
                                   or output.nbytes > wire.MAX_MESSAGE_BYTES // 2):
            return Returned(returned, ran.seconds, too_large=output.nbytes, trace=trace,
                            models=models)
        return Returned(returned, ran.seconds, output, trace=trace, models=models)

    def _trace(self, function: str, events: int, invocations: int) -> tuple[Event, ...]:
        """The lifts this call applied: those it made, and those made when its module was
        imported that it used (a lifted function it called, counted with this call's calls
        only; a Linen class lifted at the module's top level, whose use cannot be counted).
        What other code did at import time, such as a notebook cell trying another
        function, is not this call's."""
        used: dict[int, int] = {}
        for index in self.tracer.invocations[invocations:]:
            used[index] = used.get(index, 0) + 1
        # ``.get``: the events list lives in the student's process, which may add to it.
        at_import = [
            {**e, "calls": used[e.get("id", -1)]} if e.get("id", -1) in used else e
            for e in self.load_events.get(self.function_files[function], [])
            if e.get("id", -1) in used or ("calls" not in e and e.get("scope") == "<module>")]
        made = [{**e, "calls": used.get(e.get("id", -1), 0)} if "calls" in e else e
                for e in self.tracer.events[events:]]
        return tuple(_public(e) for e in (*at_import, *made))

    # -- custom checks -----------------------------------------------------------------------

    def checks(self, request: RunChecks) -> Reply:
        fn = self.functions[request.function]
        ran = capture.call(lambda: checks.run(request.source, request.filename, fn))
        if ran.error is not None or ran.value is None:  # the runner's own failure
            return Raised(capture.error_info("worker-error", ran.error or RuntimeError(
                "the checks reported nothing")))
        return ChecksRan(tuple(CheckOutcome(str(o["id"]), str(o["status"]),
                                            str(o.get("message", "")),
                                            str(o.get("printed", "")), o.get("score"))
                               for o in ran.value))


def _public(event: Event) -> Event:
    """An event as sent: without the tracer's private keys."""
    return {k: v for k, v in event.items() if not k.startswith("_")}


def _variables(model: dict[str, Any]) -> Variables:
    return Variables(str(model["kind"]), str(model["where"]),
                     tuple(Leaf(str(p), tuple(shape)) for p, shape in model["leaves"]))


def _run_cell(source: str, filename: str, namespace: dict[str, Any]) -> None:
    exec(compile(source, filename, "exec"), namespace)


def _returned(result: Any) -> tuple[Any, np.ndarray | None]:
    """The student's value and, when array-like, the finished array (part of the call: a
    computation that fails fails in the student's call, not in the worker)."""
    return result, _as_array(result)


def _with_printed(reply: Reply, printed: str) -> Reply:
    return dataclasses.replace(reply, printed=printed)


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


def serve(settings: dict[str, Any], reply_fd: int) -> int:
    """Jail this process, then answer requests (stdin) on ``reply_fd`` until stdin ends."""
    sys.dont_write_bytecode = True  # -I ignores PYTHONDONTWRITEBYTECODE; folders are read-only
    jailed = jail.apply(settings)  # before anything of the student's can run
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
    worker = Worker()
    wire.send(replies, encode(worker.hello(jailed)))
    for line in requests:
        _answer(worker, line, replies)
    return 0


def _answer(worker: Worker, line: bytes, replies: BinaryIO) -> None:
    request_id = None
    try:
        message = wire.parse(line)
        request_id = message.get("id")
        reply = worker.handle(decode_request(message))
    except Exception as exc:  # a bug in the worker itself: report it, keep serving
        reply = Raised(capture.error_info("worker-error", exc))
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # the student may have closed or replaced it
            stream.flush()
    wire.send(replies, encode(reply, request_id if isinstance(request_id, int) else None))
