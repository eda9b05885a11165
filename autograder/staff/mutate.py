"""Mutants of a reference: mechanical rewrites of its syntax tree, each a plausible slip.

Pure :mod:`ast`, nothing imported or run. Every operator finds the places it applies to in
the reference and makes one mutant per change there, named by a stable id (where, then
what: ``fwd: nnx.vmap in_axes (None, 0) -> (0, None)``) that a spec can declare equivalent:

- ``in_axes``/``out_axes`` of ``nnx.vmap``, ``nn.vmap``, ``jax.vmap``, ``nnx.scan``,
  ``nn.scan``: every other order of a tuple, ``None`` and ``0`` swapped, ``0`` and ``1``
  swapped (a vmap's ``out_axes`` left out is its default ``0``; ``nnx.Carry`` alone becomes
  ``(nnx.Carry, 0)``);
- Linen's ``variable_axes`` (``0`` <-> ``None``) and ``split_rngs`` (``True`` <-> ``False``),
  one collection at a time;
- ``nnx.split_rngs``: removed, or another ``splits`` (``1``, or ``2`` where it was ``1``);
- lifts: each removed (a decorator dropped, ``nn.vmap(Dense, ...)`` -> ``Dense``), two
  stacked decorators swapped, two nested lift calls swapped (directly, or through a
  variable: ``nn.vmap(nn.scan(Block))`` -> ``nn.scan(nn.vmap(Block))``);
- ``int(x)`` -> ``x``;
- the flattening order: ``out.reshape(-1)``, ``out.ravel()``, ``out.flatten()`` ->
  ``out.T....`` (when the output's logical shape has two axes or more);
- a fixed seed: ``nnx.Rngs(...)``, ``jax.random.key(...)``, ``jax.random.PRNGKey(...)`` ->
  the constant ``0``.

A mutant whose source is the reference's, or another mutant's, is dropped.
"""

from __future__ import annotations

import ast
import copy
from dataclasses import dataclass

from autograder.files import parse_python
from autograder.staff.operators import OPERATORS
from autograder.staff.sites import Sites


@dataclass(frozen=True)
class Mutant:
    """One mechanical change of the reference."""

    id: str
    #: The code before and after, as a TA reads it.
    change: str
    line: int
    #: The operator that made it: in_axes, out_axes, variable_axes, split_rngs, splits,
    #: lift-removed, lifts-swapped, int-cast, flattening, fixed-seed.
    operator: str
    source: str


def generate(source: str, output_rank: int | None = None) -> list[Mutant]:
    """The mutants of ``source`` (a reference file), in source order within each operator.

    ``output_rank``: how many axes the output has before flattening (the spec's
    ``returns.shape``); a flattening order is only changed for two or more (None: unknown,
    changed). Raises SyntaxError for a source Python cannot parse."""
    tree = parse_python(source, "reference.py")
    sites = Sites(tree)
    original = ast.unparse(tree)
    seen = {original}
    mutants: list[Mutant] = []
    counts: dict[str, int] = {}
    for operator in OPERATORS:
        for edit in operator(sites):
            if edit.operator == "flattening" and output_rank is not None and output_rank < 2:
                continue
            changed = copy.deepcopy(tree)
            edit.apply(list(ast.walk(changed)))
            text = ast.unparse(ast.fix_missing_locations(changed))
            if text in seen:
                continue
            seen.add(text)
            counts[edit.id] = counts.get(edit.id, 0) + 1
            name = edit.id if counts[edit.id] == 1 else f"{edit.id} #{counts[edit.id]}"
            mutants.append(Mutant(name, edit.change, edit.line, edit.operator, text + "\n"))
    return mutants
