"""Golden tests: every student-facing message of ``feedback``, word for word."""

from __future__ import annotations

from autograder.grading import feedback
from autograder.protocol.messages import ErrorInfo


def test_no_python_files() -> None:
    assert feedback.no_python_files("f", ["a.txt", "b.pdf"]).summary == (
        "No Python file or notebook was found in your submission (found: a.txt, b.pdf), so "
        "`f` could not be graded. Submit your `.py` file or `.ipynb` notebook.")
    assert "(found: no files at all)" in feedback.no_python_files("f", []).summary


def test_missing_function_with_and_without_a_near_name() -> None:
    assert feedback.missing_function("f", ["a.py", "b.py"]).summary == (
        "No function named `f` was found in your submission (`a.py`, `b.py`). Define it at "
        "the top level of a file with exactly this name: `def f(...):`.")
    assert "Did you mean to name `ff` `f`?" in feedback.missing_function("f", ["a.py"],
                                                                         ["ff"]).summary


def test_syntax_error() -> None:
    fb = feedback.syntax_error(ErrorInfo("x", filename="s.py", lineno=3, message="invalid syntax",
                                text="def f(:"))
    assert fb.id == "import-error"
    assert fb.summary == (
        "Your file could not be read because of a syntax error in `s.py`, line 3: invalid "
        "syntax. Fix it (run the file yourself to see the error), then resubmit.")
    assert fb.details == "```\ndef f(:\n```"


def test_import_errors_by_kind() -> None:
    generic = feedback.import_error(ErrorInfo("x", exc_type="NameError", traceback="Traceback..."))
    assert generic.summary == (
        "Your file raised `NameError` while it was being imported, so none of its functions "
        "could be graded. Code at the top level of a file (outside any function) runs on "
        "import: move tests and experiments under `if __name__ == \"__main__\":` or into a "
        "function.")
    assert generic.details == "```\nTraceback...\n```"
    assert feedback.import_error(ErrorInfo("x", exc_type="SystemExit")).summary == (
        "Your file called `sys.exit()` while it was being imported, which stops the program "
        "before any function can be graded. Remove it from the top level of your file.")
    assert feedback.import_error(ErrorInfo("x", exc_type="ModuleNotFoundError",
                                  message="No module named 'torch'")).summary == (
        "Your file failed to import a module: No module named 'torch'. Only jax, flax, numpy "
        "and the standard library are available to the grader; remove other imports (and "
        "`google.colab` ones) from your submission.")


def test_import_crashed_and_timed_out() -> None:
    assert feedback.import_crashed(1.25, "SIGSEGV").summary == (
        "The Python process importing your file was killed by SIGSEGV after 1.2 s, before any "
        "function could be graded (for example `os._exit()` or a crash at the top level of "
        "your file). Remove top-level code that exits or crashes.")
    assert feedback.import_timeout(60).summary == (
        "Importing your file took longer than 60 s, so no function could be graded. Code at "
        "the top level of a file runs on import: move training loops and tests under "
        "`if __name__ == \"__main__\":`.")


def test_wrong_signature() -> None:
    fb = feedback.wrong_signature("f", ["seed", "x"], ErrorInfo("x", message="missing a required "
                                                      "argument: 'x'", signature="(seed)"))
    assert fb.summary == (
        "Your `f` cannot be called as `f(seed, x)`: missing a required argument: 'x'. Your "
        "definition is `f(seed)`; change it to take exactly these parameters, in this order.")


def test_runtime_error_uses_the_first_line_of_the_message() -> None:
    fb = feedback.runtime_error("f", ErrorInfo("x", exc_type="ValueError",
                                      message="vmap got inconsistent sizes:\n * one axis",
                                      traceback="TB"))
    assert fb.summary == "Your `f` raised `ValueError`: vmap got inconsistent sizes."
    assert fb.details == "```\nTB\n```"
    assert feedback.runtime_error("f", ErrorInfo("x", exc_type="KeyError", message="")).summary == (
        "Your `f` raised `KeyError`.")


def test_timeout_and_skips() -> None:
    assert feedback.timeout("f", 2.5).summary == (
        "Your `f` did not return within the time limit of 2.5 s and was stopped. Look for an "
        "infinite loop, or a Python loop over many elements that should be a lifted transform "
        "(`nnx.vmap`, `nn.vmap`, `nn.scan`).")
    assert feedback.skipped_after_timeouts("f", 2).summary == (
        "Not run: your `f` already timed out on 2 earlier cases, so the remaining cases were "
        "not attempted. Fix the time-out first.")


def test_crashes() -> None:
    assert feedback.crashed("f", 0.5, None, 3).summary == (
        "The Python process running your `f` exited with code 3 after 0.5 s (for example a "
        "call to `os._exit()` or `sys.exit()` in a subprocess, or a crash inside a native "
        "library). Remove calls that end the program.")
    assert "was killed by SIGSEGV after" in feedback.crashed("f", 0.5, "SIGSEGV", -11).summary



def test_memory_limit() -> None:
    memory = feedback.memory_limit("f", 600 * 2**20)
    assert memory.id == "memory-limit"
    assert memory.summary == (
        "Your `f` used more memory than the grader allows (600 MB) and was stopped (memory "
        "limit exceeded). Check the sizes of the arrays you create: an ensemble or batch axis "
        "should be the size the inputs ask for. Your other functions are graded as usual.")
    assert feedback.memory_limit(None, None).summary.startswith(
        "Importing your file used more memory than the grader allows and was stopped")


def test_network_blocked() -> None:
    fb = feedback.runtime_error("f", ErrorInfo("x", exc_type="URLError", message="<urlopen error "
                                      "looking up x.org: network access is blocked for code "
                                      "under test>", traceback="TB"))
    assert fb.id == "network-blocked"
    assert fb.summary.startswith("Your `f` tried to use the network, which the grader blocks")


def test_not_callable_and_output_too_large() -> None:
    assert feedback.not_callable("f", "int 3").summary == (
        "`f` in your submission is not a function (it is int 3). Define it with "
        "`def f(...):`.")
    assert feedback.output_too_large("f", 80_000_000).summary == (
        "Your `f` returned an array of 80 MB, far larger than expected. Check the shapes you "
        "build: the output should be 1-D and small.")


def test_render_joins_summary_and_details() -> None:
    assert feedback.Feedback("x", "S.", "D").render() == "S.\n\nD"
    assert feedback.Feedback("x", "S.").render() == "S."


def test_no_fresh_worker() -> None:
    assert feedback.no_fresh_worker("f").summary == (
        "Not run: after your `f` crashed or timed out, no fresh process could be started for "
        "it, because the processes your code started were still using up the limit (for "
        "example after a fork bomb). Do not start processes from your code.")
