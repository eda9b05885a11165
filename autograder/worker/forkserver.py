"""The template: a fork server that imports what workers need once, and never runs code
under test.

``python -I -m autograder.worker --template FD`` imports numpy, jax, flax and the lift
recorders (:func:`.serve.preload`), then, for each request on its control socket, forks a
fresh worker (:func:`.serve.serve`) that takes the three descriptors sent with the request as
its stdin, output and reply channel. Every worker is a copy of this pristine process, so
nothing one problem's code did (globals, monkeypatches, ``jax.config``, threads) can reach
the next. The trusted side's client is :class:`autograder.sandbox.template.Template`.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import socket
import sys
import tempfile
import traceback
from typing import Any

from autograder.worker import jail
from autograder.worker.serve import preload, serve


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
