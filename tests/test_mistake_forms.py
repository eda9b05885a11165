"""Every catalogued mistake of the four seed problems is tested in at least two forms.

One form is tests/test_catalogue.py's starter edit (its ``CATALOGUE`` entry for the mistake,
whose worker test asserts the grader names it); the other is a realistic submission in
tests/test_realworld.py whose expectation names the mistake as the FIRST tag of one of the
function's failing tests. This reads the two lists and the specs only (no worker runs), so
a mistake added to a problem.yaml without its two forms fails the fast suite.
"""

from __future__ import annotations

from autograder.spec import load_problem
from tests.corpus import CATALOGUE, WRONG
from tests.support import PROBLEMS

SEED_PROBLEMS = ("vmap_over_batch", "vmap_over_ensemble", "nn_vmap_forward",
                 "composed_lifts_forward")


def catalogued() -> set[tuple[str, str]]:
    """(function, mistake id) for every mistake in the four problems' specs."""
    pairs: set[tuple[str, str]] = set()
    for name in SEED_PROBLEMS:
        spec = load_problem(PROBLEMS / name).spec
        pairs.update((spec.function, mistake.id) for mistake in spec.mistakes)
    return pairs


def catalogue_forms() -> set[tuple[str, str]]:
    return {(function, mistake) for function, mistake, _, _ in CATALOGUE}


def realworld_forms() -> set[tuple[str, str]]:
    """(function, first tag) of every failing test a wrong real-world entry expects."""
    return {(function, test[0])
            for entry in WRONG
            for function, (_, tests) in entry.expect.items()
            for test in tests if test}


def test_the_four_seed_problems_have_mistakes() -> None:
    functions = {function for function, _ in catalogued()}
    assert functions == set(SEED_PROBLEMS)


def test_every_catalogued_mistake_has_two_forms() -> None:
    wanted = catalogued()
    missing_catalogue = sorted(wanted - catalogue_forms())
    missing_realworld = sorted(wanted - realworld_forms())
    assert not missing_catalogue and not missing_realworld, (
        f"no test_catalogue CATALOGUE entry for: {missing_catalogue}; "
        f"no test_realworld entry naming it first for: {missing_realworld}")


def test_the_catalogue_names_only_known_mistakes() -> None:
    assert not sorted(catalogue_forms() - catalogued())
