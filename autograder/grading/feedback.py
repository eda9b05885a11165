"""Every student-facing sentence about a failure that is not a numeric mismatch.

A student mistake is a :class:`Feedback` value: an id (a pitfall id from the catalogue,
tagged ``pitfall:<id>`` in results.json), a one-line summary, and optional markdown details.
Messages say what happened, where, and how to fix it, in the student's words; each has a
golden test in ``tests/test_feedback.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from autograder.grading.compare import Mismatch
from autograder.protocol.messages import CheckOutcome, ErrorInfo


@dataclass(frozen=True)
class Feedback:
    id: str
    summary: str
    details: str = ""
    #: Every pitfall id this feedback names (the first is ``id``); empty means ``(id,)``.
    extra_tags: tuple[str, ...] = ()

    @property
    def tags(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((self.id, *self.extra_tags)))

    @classmethod
    def from_mismatch(cls, mismatch: Mismatch) -> Feedback:
        return cls(mismatch.kind, mismatch.summary, mismatch.details)

    def render(self) -> str:
        return self.summary + ("\n\n" + self.details if self.details else "")


def _code(text: str) -> str:
    return "```\n" + text.rstrip() + "\n```"


def no_python_files(function: str, seen: Sequence[str]) -> Feedback:
    found = ", ".join(seen) if seen else "no files at all"
    return Feedback(
        "missing-function",
        f"No Python file or notebook was found in your submission (found: {found}), so "
        f"`{function}` could not be graded. Submit your `.py` file or `.ipynb` notebook.",
    )


def missing_function(function: str, files: Sequence[str], near: Sequence[str] = ()) -> Feedback:
    where = ", ".join(f"`{f}`" for f in files)
    hint = ""
    if near:
        hint = f" Did you mean to name `{near[0]}` `{function}`?"
    return Feedback(
        "missing-function",
        f"No function named `{function}` was found in your submission ({where}).{hint} "
        f"Define it at the top level of a file with exactly this name: "
        f"`def {function}(...):`.",
    )


def unusable_file(function: str, relative: str, reason: str) -> Feedback:
    return Feedback(
        "import-error",
        f"`{function}` is in `{relative}`, which the grader could not read: {reason}. Fix "
        f"the file and submit it again; your other files are graded as usual.",
    )


def protocol_violation(function: str | None, detail: str) -> Feedback:
    what = f"While `{function}` ran, your code" if function else "Your code"
    return Feedback(
        "protocol-violation",
        f"{what} wrote to the grader's private reply channel (file descriptor 3), so its "
        f"answer could not be trusted and it was stopped ({detail}). Do not write to, close "
        f"or replace file descriptors your code did not open; print to stdout instead. Your "
        f"other functions are graded as usual.",
    )


def syntax_error(error: ErrorInfo) -> Feedback:
    where = f"`{error.filename}`, line {'?' if error.lineno is None else error.lineno}"
    details = _code(error.text) if error.text else ""
    return Feedback(
        "import-error",
        f"Your file could not be read because of a syntax error in {where}: "
        f"{error.message}. Fix it (run the file yourself to see the error), "
        f"then resubmit.",
        details,
    )


def import_error(error: ErrorInfo) -> Feedback:
    exc_type = error.exc_type
    summary = (f"Your file raised `{exc_type}` while it was being imported, so none of its "
               f"functions could be graded. Code at the top level of a file (outside any "
               f"function) runs on import: move tests and experiments under "
               f"`if __name__ == \"__main__\":` or into a function.")
    if exc_type in ("SystemExit", "KeyboardInterrupt"):
        summary = (f"Your file called `{'sys.exit()' if exc_type == 'SystemExit' else exc_type}`"
                   f" while it was being imported, which stops the program before any function "
                   f"can be graded. Remove it from the top level of your file.")
    if exc_type in ("ModuleNotFoundError", "ImportError"):
        summary = (f"Your file failed to import a module: {error.message}. Only "
                   f"jax, flax, numpy and the standard library are available to the grader; "
                   f"remove other imports (and `google.colab` ones) from your submission.")
    return Feedback("import-error", summary, _code(error.traceback))


def import_crashed(seconds: float, signal_name: str | None) -> Feedback:
    how = f"was killed by {signal_name}" if signal_name else "exited"
    return Feedback(
        "import-error",
        f"The Python process importing your file {how} after {seconds:.1f} s, before any "
        f"function could be graded (for example `os._exit()` or a crash at the top level of "
        f"your file). Remove top-level code that exits or crashes.",
    )


def not_callable(function: str, found: str) -> Feedback:
    return Feedback(
        "missing-function",
        f"`{function}` in your submission is not a function (it is {found}). Define it with "
        f"`def {function}(...):`.",
    )


def wrong_signature(function: str, expected: Sequence[str], error: ErrorInfo) -> Feedback:
    want = f"{function}({', '.join(expected)})"
    got = f"{function}{error.signature}"
    return Feedback(
        "wrong-signature",
        f"Your `{function}` cannot be called as `{want}`: {error.message}. "
        f"Your definition is `{got}`; change it to take exactly these parameters, in this "
        f"order.",
    )


def runtime_error(function: str, error: ErrorInfo) -> Feedback:
    exc_type = error.exc_type
    if exc_type == "NetworkBlockedError" or "network access is blocked" in error.message:
        return Feedback(
            "network-blocked",
            f"Your `{function}` tried to use the network, which the grader blocks for "
            f"submitted code: nothing can be downloaded while grading. Put everything your "
            f"code needs in your submission (and remove `pip install` or download calls).",
            _code(error.traceback))
    message = error.message.strip().splitlines()
    first = message[0].rstrip(":.") if message else ""
    if exc_type == "NotImplementedError" and error.raised_by_student:
        return Feedback(
            "not-implemented",
            f"Your `{function}` raised `NotImplementedError`"
            + (f" ({first})" if first else "")
            + ": it is still the starter stub. Replace the `raise NotImplementedError` line "
              "with your solution.",
            _code(error.traceback))
    return Feedback(
        "runtime-error",
        f"Your `{function}` raised `{exc_type}`" + (f": {first}" if first else "") + ".",
        _code(error.traceback),
    )


def timeout(function: str, limit: float) -> Feedback:
    return Feedback(
        "timeout",
        f"Your `{function}` did not return within the time limit of {limit:g} s and was "
        f"stopped. Look for an infinite loop, or a Python loop over many elements that "
        f"should be a lifted transform (`nnx.vmap`, `nn.vmap`, `nn.scan`).",
    )


def memory_limit(function: str | None, limit: int | None) -> Feedback:
    what = f"Your `{function}`" if function else "Importing your file"
    allowed = f" ({limit / 2**20:.0f} MB)" if limit else ""
    return Feedback(
        "memory-limit",
        f"{what} used more memory than the grader allows{allowed} and was stopped (memory "
        f"limit exceeded). Check the sizes of the arrays you create: an ensemble or batch "
        f"axis should be the size the inputs ask for. Your other functions are graded as "
        f"usual.",
    )


def crashed(function: str, seconds: float, signal_name: str | None,
            exit_code: int | None) -> Feedback:
    how = f"was killed by {signal_name}" if signal_name else f"exited with code {exit_code}"
    return Feedback(
        "runtime-error",
        f"The Python process running your `{function}` {how} after {seconds:.1f} s "
        f"(for example a call to `os._exit()` or `sys.exit()` in a subprocess, or a crash "
        f"inside a native library). Remove calls that end the program.",
    )


def output_too_large(function: str, nbytes: int) -> Feedback:
    return Feedback(
        "wrong-shape",
        f"Your `{function}` returned an array of {nbytes / 1e6:.0f} MB, far larger than "
        f"expected. Check the shapes you build: the output should be 1-D and small.",
    )


def skipped_after_timeouts(function: str, count: int) -> Feedback:
    return Feedback(
        "timeout",
        f"Not run: your `{function}` already timed out on {count} earlier cases, so the "
        f"remaining cases were not attempted. Fix the time-out first.",
    )



def import_timeout(limit: float) -> Feedback:
    return Feedback(
        "timeout",
        f"Importing your file took longer than {limit:g} s, so no function could be graded. "
        f"Code at the top level of a file runs on import: move training loops and tests under "
        f"`if __name__ == \"__main__\":`.",
    )


def no_fresh_worker(function: str) -> Feedback:
    return Feedback(
        "runtime-error",
        f"Not run: after your `{function}` crashed or timed out, no fresh process could be "
        f"started for it, because the processes your code started were still using up the "
        f"limit (for example after a fork bomb). Do not start processes from your code.",
    )


def check_failed(check: Any, outcome: CheckOutcome) -> Feedback:
    """A custom check that did not pass (``check`` is the spec's declaration of it)."""
    message = outcome.message.strip()
    if outcome.status == "skipped":
        return Feedback("check-skipped", f"The check \u201c{check.name}\u201d was not run "
                        f"({message}); it is worth no points.")
    if check.hide_errors is not None:
        return Feedback("check-failed", check.hide_errors)
    last = message.splitlines()[-1] if message else ""
    return Feedback("check-failed",
                    f"The check \u201c{check.name}\u201d failed" + (f": {last}" if last else "."),
                    _code(message))


def check_not_run(why: str) -> Feedback:
    return Feedback("check-failed", f"The check could not run: {why}.")
