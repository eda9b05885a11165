"""The outputs of trusted code, the reference and the mistakes file's functions, on every case.

A :class:`Source` names what to run: the reference, a variant of the problem's mistakes
file, or the reference with some arguments replaced (a hard-coded seed). :class:`References`
gives a source's outputs from the expected-output cache, or computes them in a trusted
worker started only when needed; the student kit ships them as data instead (both are a
:class:`ReferenceSource`). :func:`sources_of` lists what a problem's diagnosis compares
with, for :func:`warm_cache` (``autograder warm``, setup.sh) and the kit.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from autograder.errors import WorkerError
from autograder.grading.cache import ExpectedCache, fingerprint
from autograder.grading.params import encode_models
from autograder.protocol.messages import Call, Load, Raised, Reply, Returned
from autograder.sandbox import Failure, Template, WorkerProcess, WorkerSpec, worker_environment
from autograder.spec import ArrayInput, Detect, LoadedProblem
from autograder.spec.inputs import case_arguments, materialize


@dataclass(frozen=True)
class Source:
    """Where comparison outputs come from: the reference, a variant, or the reference with
    some arguments replaced."""

    kind: Literal["reference", "variant", "args", "params"]
    name: str = ""
    #: (parameter, JSON of the replacing value): hashable, whatever the value is.
    args: tuple[tuple[str, str], ...] = ()

    def replacements(self) -> dict[str, Any]:
        """The replacing values as a spec would give them (numbers or array recipes)."""
        return {name: ArrayInput.model_validate(value) if isinstance(value, dict) else value
                for name, value in ((n, json.loads(text)) for n, text in self.args)}

    @property
    def slug(self) -> str:
        if self.kind == "reference":
            return "reference"
        if self.kind == "params":
            return "params-reference"
        if self.kind == "variant":
            return f"variant-{self.name}"
        return "args-" + "-".join(f"{k}={v}" for k, v in self.args)


REFERENCE = Source("reference")
#: The variables of the models the reference builds on each case (its "outputs" are
#: :func:`~autograder.grading.params.encode_models` arrays), computed with its outputs.
PARAMS = Source("params")


def source_of(detect: Detect) -> Source | None:
    """What ``detect`` compares the student's output with, if anything."""
    if detect.variant:
        return Source("variant", detect.variant)
    if detect.reference_args:
        return Source("args", args=tuple(sorted(
            (name, json.dumps(value.model_dump(exclude_defaults=True)
                              if isinstance(value, ArrayInput) else value, sort_keys=True))
            for name, value in detect.reference_args.items())))
    return None


def sources_of(problem: LoadedProblem) -> list[Source]:
    """The reference (its outputs and its models' variables) and every source a mistake of
    ``problem`` is compared with."""
    sources = [REFERENCE, PARAMS]
    for mistake in problem.spec.mistakes:
        for detect in mistake.alternatives:
            source = source_of(detect)
            if source is not None and source not in sources:
                sources.append(source)
    return sources


class ReferenceSource(Protocol):
    """Where the outputs of trusted code come from: :class:`References` (computed by the
    reference in a trusted worker, or cached) or the student kit's shipped data."""

    @property
    def info(self) -> Mapping[str, Any]: ...

    def expected(self, problem: LoadedProblem) -> dict[int, np.ndarray]: ...

    def outputs(self, problem: LoadedProblem,
                source: Source) -> Mapping[int, np.ndarray | None]: ...

    def release(self) -> None: ...


def explain(reply: Reply | Failure) -> str:
    """What went wrong with a trusted worker's reply, for staff."""
    if isinstance(reply, Failure):
        return reply.explain()
    if isinstance(reply, Raised):
        return f"{reply.error.kind}: {reply.error.traceback or reply.error.message}"
    return f"an unexpected {type(reply).__name__} reply"


class References:
    """Outputs of trusted code (the reference, the functions of the mistakes file) on a
    problem's cases: from the cache, or computed in a trusted worker started only when
    needed."""

    def __init__(self, spec: WorkerSpec, cache: ExpectedCache, refresh: bool = False,
                 template: Template | None = None) -> None:
        self._spec = spec
        self._cache = cache
        self._refresh = refresh  # compute even what the cache has (to warm JAX's cache too)
        self._template = template
        self._worker: WorkerProcess | None = None
        self._info: Mapping[str, Any] = {}
        self._memo: dict[tuple[Path, Source], dict[int, np.ndarray | None]] = {}

    def __enter__(self) -> References:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    def release(self) -> None:
        """Stop the trusted worker (a later request starts a new one)."""
        if self._worker is not None:
            self._info = self.info
            self._worker.stop()
            self._worker = None

    @property
    def info(self) -> Mapping[str, Any]:
        """The environment the outputs were computed in (the last trusted worker's)."""
        if self._worker is not None and self._worker.ready is not None:
            return self._worker.ready.environment()
        return self._info

    def expected(self, problem: LoadedProblem) -> dict[int, np.ndarray]:
        """The reference output of every case of ``problem``."""
        outputs = self.outputs(problem, REFERENCE)
        return {i: a for i, a in outputs.items() if a is not None}

    def outputs(self, problem: LoadedProblem, source: Source) -> dict[int, np.ndarray | None]:
        """The outputs of ``source`` on every case (None where a variant raised)."""
        memo_key = (problem.directory, source)
        if memo_key in self._memo:
            return self._memo[memo_key]
        key = fingerprint(problem, self._spec.env)
        outputs = None if self._refresh else self._cache.load(problem, key, source.slug)
        if outputs is None:
            computed = self._compute(problem, PARAMS if source == PARAMS else source)
            for made, made_outputs in computed.items():
                self._cache.store(problem, key, made_outputs, made.slug)
                self._memo[(problem.directory, made)] = made_outputs
            outputs = computed[source]
        self._memo[memo_key] = outputs
        return outputs

    def _worker_for(self) -> WorkerProcess:
        if self._worker is None:
            worker = WorkerProcess(self._spec, self._template)
            ready = worker.start()
            if isinstance(ready, Failure):
                worker.stop()
                raise WorkerError(f"the reference worker did not start: {ready.explain()}\n"
                                  f"{worker.capture.text()}")
            self._worker = worker
        return self._worker

    def _fail(self, worker: WorkerProcess, what: str, reply: Reply | Failure) -> WorkerError:
        """Stop the trusted worker (a later request starts a new one); the fault to raise."""
        printed = worker.capture.text()
        worker.stop()
        self._worker = None
        return WorkerError(f"{what} failed: {explain(reply)}\n{printed}")

    def _compute(self, problem: LoadedProblem,
                 source: Source) -> dict[Source, dict[int, np.ndarray | None]]:
        """The outputs of ``source`` on every case; the reference's come with its models'
        variables (``PARAMS``), recorded by the worker's tracer as it runs."""
        worker = self._worker_for()
        limit = problem.spec.time_limit * 4
        is_variant = source.kind == "variant"
        with_params = source in (REFERENCE, PARAMS)
        source = REFERENCE if source == PARAMS else source
        path = (problem.mistakes_path if is_variant else problem.reference_path).resolve()
        function = source.name if is_variant else problem.spec.function
        what = f"the variant {source.name!r}" if is_variant else "the reference"
        loaded = worker.request(Load(function, str(path), str(path.parent), trace=with_params),
                                limit)
        if isinstance(loaded, Failure | Raised):
            raise self._fail(worker, f"{what} of {problem.id}", loaded)
        params = {p.name: p for p in problem.spec.parameters}
        out: dict[int, np.ndarray | None] = {}
        models: dict[int, np.ndarray | None] = {}
        for index in range(len(problem.spec.cases)):
            values = case_arguments(problem, index)
            for name, value in source.replacements().items():
                values[problem.spec.parameter_names.index(name)] = materialize(params[name],
                                                                               value)
            reply = worker.request(Call(function, tuple(values)), limit)
            if isinstance(reply, Returned) and reply.output is not None:
                out[index] = reply.output
                models[index] = encode_models(reply.models)
            elif isinstance(reply, Raised) and reply.error.kind == "runtime-error" and (
                    source != REFERENCE):
                out[index] = None  # a variant may raise where the mistake would
            elif isinstance(reply, Returned) and source != REFERENCE:
                out[index] = None
            elif isinstance(reply, Returned):
                raise WorkerError(f"the reference of {problem.id} returned {reply.returned} "
                                  f"on case {index + 1}, not an array")
            else:
                raise self._fail(worker, f"{what} of {problem.id} on case {index + 1}", reply)
        return {source: out, PARAMS: models} if with_params else {source: out}


def warm_cache(problems: Sequence[LoadedProblem], cache_dir: Path,
               grader_env: Mapping[str, str],
               compile_cache: Path | None = None,
               on_problem: Callable[[str], None] = lambda _: None) -> dict[str, float]:
    """Compute and cache the outputs of every reference and mistake variant (and, with
    ``compile_cache``, JAX's compiled programs for them); the seconds taken per problem.
    ``on_problem(id)`` is called as each problem's are ready (for a progress bar)."""
    with tempfile.TemporaryDirectory(prefix="autograder-warm-") as scratch:
        env = worker_environment(grader_env, Path(scratch), compile_cache)
        seconds: dict[str, float] = {}
        with References(WorkerSpec(env=env, cwd=Path(scratch)), ExpectedCache(cache_dir),
                        refresh=compile_cache is not None) as references:
            for problem in problems:
                start = time.monotonic()
                for source in sources_of(problem):
                    references.outputs(problem, source)
                seconds[problem.id] = time.monotonic() - start
                on_problem(problem.id)
    return seconds
