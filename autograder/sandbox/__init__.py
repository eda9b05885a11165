"""The trusted side of the process boundary: workers started, limited, watched, killed.

:mod:`.template` forks fresh workers from a pristine process, :mod:`.process` talks to one
and turns whatever it does into a reply or a :class:`~.process.Failure`, :mod:`.watchdog`
and :mod:`.memory` count what it holds as the kernel does, :mod:`.limits` says what it may
use and who it runs as, :mod:`.isolation` prepares the student user and the files it may
reach."""

from autograder.sandbox.limits import Limits, StudentUser, WorkerSpec, worker_environment
from autograder.sandbox.process import Failure, WorkerProcess
from autograder.sandbox.template import (
    Template,
    TemplateError,
    WorkerSession,
    forking_supported,
)

__all__ = [
    "Failure",
    "Limits",
    "StudentUser",
    "Template",
    "TemplateError",
    "WorkerProcess",
    "WorkerSession",
    "WorkerSpec",
    "forking_supported",
    "worker_environment",
]
