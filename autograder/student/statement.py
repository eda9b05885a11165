"""What a student reads and starts from, generated from a spec: the problem statement
(signature, arguments, what to return, the visible cases) and the starter file.

Both come from the same spec the grader runs, so the contract a student reads is the one
that is checked.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Sequence

from autograder.grading.outcome import format_points
from autograder.spec import LoadedProblem, Parameter
from autograder.spec.inputs import describe_call

#: The order students meet the exercises in when nothing else gives one (an assignment's
#: list will): the seed exercises as the course teaches them (../shared/seeds/README.md:
#: one model over a batch, an ensemble, Linen's vmap, then composed lifts), then the
#: others by name. The one place this order is written.
COURSE_ORDER = ("vmap_over_batch", "vmap_over_ensemble", "nn_vmap_forward",
                "composed_lifts_forward")

#: What a starter and the kit tell the student to run.
CHECK_HINT = "autograder check <this file>"
NOTEBOOK_HINT = "from autograder import notebook; notebook.check()"

_HINTS = {"float": "float", "int": "int", "array": "jax.Array"}


def in_course_order(problems: Iterable[LoadedProblem],
                    order: Sequence[str] = COURSE_ORDER) -> tuple[LoadedProblem, ...]:
    """``problems`` in the order students meet them: those ``order`` names (by function or
    folder name) first, in its order, then the rest by function name."""
    rank = {name: i for i, name in enumerate(order)}

    def key(problem: LoadedProblem) -> tuple[int, str]:
        at = rank.get(problem.spec.function, rank.get(problem.id, len(rank)))
        return at, problem.spec.function

    return tuple(sorted(problems, key=key))


def statements(problems: Sequence[LoadedProblem]) -> str:
    """``PROBLEMS.md``: every exercise's statement, in the order given."""
    return "# The exercises\n\n" + "\n".join(statement(p) for p in problems)


def starter_text(problem: LoadedProblem) -> str:
    """The starter a student gets: the problem's own ``starter.py``, else one generated."""
    own = problem.directory / "starter.py"
    return own.read_text(encoding="utf-8") if own.is_file() else starter(problem)


def signature(problem: LoadedProblem) -> str:
    """``def vmap_over_batch(seed: float, x_batch: jax.Array, features: float) -> jax.Array:``"""
    spec = problem.spec
    params = ", ".join(f"{p.name}: {_HINTS[p.type]}" for p in spec.parameters)
    return f"def {spec.function}({params}) -> jax.Array:"


def _imports(problem: LoadedProblem) -> list[str]:
    lifts = {p.lift for p in problem.spec.structure.expect} if problem.spec.structure else set()
    lines = ["import jax", "import jax.numpy as jnp"]
    if any(lift.startswith("nn.") for lift in lifts):
        lines.append("import flax.linen as nn")
    if any(lift.startswith("nnx.") for lift in lifts) or not lifts:
        lines.append("from flax import nnx")
    return lines


def _argument_row(parameter: Parameter) -> str:
    doc = (parameter.doc or "").replace("|", "\\|")
    return f"| `{parameter.name}` | {parameter.type} | {doc} |"


def statement(problem: LoadedProblem) -> str:
    """The problem statement, in Markdown."""
    spec = problem.spec
    visible = [i for i, case in enumerate(spec.cases) if case.visibility == "visible"]
    hidden = len(spec.cases) - len(visible)
    lines = [f"## `{spec.function}`: {spec.title}", ""]
    if spec.summary:
        lines += [spec.summary.strip(), ""]
    lines += ["```python", signature(problem), "```", "",
              "| argument | type | meaning |", "|---|---|---|",
              *(_argument_row(p) for p in spec.parameters), ""]
    returns = spec.returns
    what = [returns.doc.strip()] if returns.doc else []
    what.append(f"dtype `{returns.dtype}`" if returns.dtype else "")
    if returns.shape:
        what.append(f"before flattening, its shape is `({', '.join(returns.shape)})`")
    lines += ["**Returns:** " + "; ".join(w for w in what if w) + ".", ""]
    structure = spec.structure
    lines.append(f"**Points:** {format_points(spec.points)}: "
                 f"{format_points(spec.case_share)} shared by "
                 f"{len(spec.cases)} cases ({len(visible)} visible, {hidden} hidden)"
                 + (f", and {format_points(structure.points)} for applying the lifted "
                    f"transforms the exercise asks for." if structure else "."))
    lines += ["", "The visible cases (the local check runs these; Gradescope also runs the "
              "hidden ones):", ""]
    lines += [f"- {spec.case_label(i)}: `{describe_call(problem, i)}`" for i in visible]
    return "\n".join(lines) + "\n"


def starter(problem: LoadedProblem) -> str:
    """A starter file: the imports, and the function with its docstring and a stub body."""
    spec = problem.spec
    doc = textwrap.fill((spec.summary or spec.title).strip(), width=84,
                        initial_indent="    ", subsequent_indent="    ")
    args = "\n".join(f"        {p.name}: {p.doc or p.type}" for p in spec.parameters)
    returns = f"        {spec.returns.doc}" if spec.returns.doc else ""
    body = [
        f'"""{spec.title}: the `{spec.function}` exercise.',
        "",
        f"Check it before you submit:  {CHECK_HINT}",
        f"(in a notebook: {NOTEBOOK_HINT})",
        '"""',
        "",
        *_imports(problem),
        "",
        "",
        signature(problem),
        f'    """{doc.strip()}',
        "",
        "    Args:",
        args,
        *(["", "    Returns:", returns] if returns else []),
        '    """',
        f'    raise NotImplementedError("write {spec.function} here")',
    ]
    return "\n".join(body) + "\n"
