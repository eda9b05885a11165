"""The parameter tree as evidence: how the variables of the student's model differ from the
reference's.

The worker records the variables of the models the code builds (their paths and shapes,
:class:`~autograder.protocol.messages.Variables`); the reference's are recorded the same way
when its outputs are computed, and cached with them (as :func:`encode_models` arrays, so the
expected-output cache and the student kit carry them unchanged). :func:`difference`
compares the two, structure before values, and names what it finds in the words a student
can act on: an extra module scope (``params/Dense_0/kernel`` for ``params/kernel``), an extra
leading axis on every weight (a copy per example), a missing one (no layer axis), another
shape.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from autograder.protocol.messages import Leaf, Variables
from autograder.spec.model import ParamsDifference


def encode_models(models: Sequence[Variables]) -> np.ndarray:
    """The models' variables as a byte array (JSON), storable beside the outputs."""
    data = [{"kind": m.kind, "where": m.where,
             "leaves": [[leaf.path, list(leaf.shape)] for leaf in m.leaves]} for m in models]
    return np.frombuffer(json.dumps(data).encode(), dtype=np.uint8).copy()


def decode_models(array: np.ndarray | None) -> tuple[Variables, ...]:
    """What :func:`encode_models` made; () for anything else (a stale or foreign entry)."""
    if array is None or array.dtype != np.uint8 or array.ndim != 1:
        return ()
    try:
        data = json.loads(array.tobytes().decode())
        return tuple(Variables(str(m["kind"]), str(m["where"]),
                               tuple(Leaf(str(p), tuple(int(d) for d in shape))
                                     for p, shape in m["leaves"]))
                     for m in data)
    except (ValueError, TypeError, KeyError):
        return ()


def main_model(models: Sequence[Variables]) -> Variables | None:
    """The model the code is about: the one with the most parameters (the ensemble, the
    stacked layers), the first of those."""
    return max(models, key=lambda m: m.size, default=None)


@dataclass(frozen=True)
class Difference:
    """How the student's variables differ from the reference's, and the sentence that says
    so."""

    kind: ParamsDifference
    text: str


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def _leaf(leaf: Leaf) -> str:
    return f"`{leaf.path}` with shape {_shape(leaf.shape)}"


def difference(student: Sequence[Variables],
               reference: Sequence[Variables]) -> Difference | None:
    """What differs between the main models' variables, or None (same, or nothing to compare:
    no model recorded on one side, or models of different libraries)."""
    mine, theirs = main_model(student), main_model(reference)
    if mine is None or theirs is None or mine.kind != theirs.kind:
        return None
    ours = {leaf.path: leaf for leaf in mine.leaves}
    wanted = {leaf.path: leaf for leaf in theirs.leaves}
    if ours.keys() == wanted.keys():
        return _shapes(mine.leaves, wanted)
    scoped = _one_scope_apart(ours, wanted)
    if scoped is not None:
        extra, pairs = scoped
        # The largest weight makes the clearest example (a kernel rather than a bias).
        path, other = max(pairs, key=lambda pair: _size((ours if extra else wanted)[pair[0]]))
        yours, reference_leaf = (ours[path], wanted[other]) if extra else (ours[other],
                                                                           wanted[path])
        if extra:
            return Difference("extra-scope", (
                f"Your parameters live at {_leaf(yours)}; the reference's at "
                f"{_leaf(reference_leaf)}: your model has an extra module scope around the "
                f"layer (a wrapper module, or a lift applied to a method instead of the "
                f"layer class), which changes how Flax derives each layer's random "
                f"initialisation."))
        return Difference("missing-scope", (
            f"Your parameters live at {_leaf(yours)}; the reference's at "
            f"{_leaf(reference_leaf)}: your model lacks a module scope the reference has."))
    mine_only = sorted(ours.keys() - wanted.keys())
    theirs_only = sorted(wanted.keys() - ours.keys())
    parts = []
    if mine_only:
        parts.append("yours has " + ", ".join(f"`{p}`" for p in mine_only[:4])
                     + (", ..." if len(mine_only) > 4 else "") + " that the reference has not")
    if theirs_only:
        parts.append("the reference has " + ", ".join(f"`{p}`" for p in theirs_only[:4])
                     + (", ..." if len(theirs_only) > 4 else "") + " that yours has not")
    return Difference("different-paths", "Your model's parameters are not the reference's: "
                      + "; ".join(parts) + ".")


def _shapes(leaves: Sequence[Leaf], wanted: dict[str, Leaf]) -> Difference | None:
    differing = [(leaf, wanted[leaf.path]) for leaf in leaves
                 if leaf.shape != wanted[leaf.path].shape]
    if not differing:
        return None
    yours, theirs = max(differing, key=lambda pair: _size(pair[1]))  # a kernel, not a bias
    every = len(differing) == len(leaves)
    extra = _leading_axis([(leaf.shape, ref.shape) for leaf, ref in differing])
    if every and extra is not None:
        return Difference("extra-axis", (
            f"Every one of your weights has an extra leading axis of size {extra}: "
            f"{_leaf(yours)}, where the reference's has shape {_shape(theirs.shape)}. Your "
            f"model holds {extra} copies of the parameters (one per example or row) where "
            f"the exercise wants one set."))
    missing = _leading_axis([(ref.shape, leaf.shape) for leaf, ref in differing])
    if every and missing is not None:
        return Difference("missing-axis", (
            f"Your weights lack the reference's leading axis of size {missing}: "
            f"{_leaf(yours)}, where the reference's has shape {_shape(theirs.shape)}. The "
            f"reference stacks {missing} sets of parameters (one per model or layer) along "
            f"axis 0; your model has one."))
    return Difference("different-shape", (
        f"Your model's parameter {_leaf(yours)} has another shape than the reference's, "
        f"{_shape(theirs.shape)}" + (f" (and {len(differing) - 1} more)"
                                     if len(differing) > 1 else "") + "."))


def _leading_axis(pairs: Sequence[tuple[tuple[int, ...], tuple[int, ...]]]) -> int | None:
    """The size ``k`` when every longer shape is ``(k, *shorter)`` with one ``k``."""
    sizes = {longer[0] for longer, shorter in pairs
             if len(longer) == len(shorter) + 1 and longer[1:] == shorter}
    matched = all(len(longer) == len(shorter) + 1 and longer[1:] == shorter
                  for longer, shorter in pairs)
    return sizes.pop() if pairs and matched and len(sizes) == 1 else None


def _size(leaf: Leaf) -> int:
    return int(np.prod(leaf.shape, dtype=np.int64))


def _one_scope_apart(ours: dict[str, Leaf], wanted: dict[str, Leaf]
                     ) -> tuple[bool, list[tuple[str, str]]] | None:
    """Whether removing one path segment maps one side's paths onto the other's (an extra
    scope in ours: True), with the pairs (the longer path, the shorter)."""
    for longer, shorter, extra in ((ours, wanted, True), (wanted, ours, False)):
        if len(longer) != len(shorter):
            continue
        pairs = {}
        for path in longer:
            parts = path.split("/")
            match = next(("/".join(parts[:i] + parts[i + 1:]) for i in range(len(parts))
                          if "/".join(parts[:i] + parts[i + 1:]) in shorter), None)
            if match is None:
                break
            pairs[path] = match
        else:
            if len(set(pairs.values())) == len(shorter):
                return extra, sorted(pairs.items())
    return None
