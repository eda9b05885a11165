"""The expected-output cache: keyed by a fingerprint, checked by a digest, never trusted."""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from autograder.grading.cache import ExpectedCache, default_cache_dir, fingerprint
from autograder.spec import LoadedProblem, load_problem

PROBLEMS = Path(__file__).resolve().parents[1] / "problems"
KEY = "0123456789abcdef" * 4


@pytest.fixture(scope="module")
def problem() -> LoadedProblem:
    return load_problem(PROBLEMS / "vmap_over_batch")


def fake_outputs(problem: LoadedProblem) -> dict[int, np.ndarray]:
    """One made-up output per case, of varied shapes and dtypes."""
    outputs: dict[int, np.ndarray] = {}
    for i in range(len(problem.spec.cases)):
        outputs[i] = np.arange(i * 3, dtype=np.float32).reshape(i, 3) / 7
    outputs[1] = np.array([np.nan, np.inf, -0.0], dtype=np.float32)
    outputs[2] = np.array(2.5, dtype=np.float64)
    outputs[3] = np.array([1, 2, 3], dtype=np.int32)
    return outputs


def assert_same(got: dict[int, np.ndarray | None] | None,
                want: dict[int, np.ndarray]) -> None:
    assert got is not None
    assert sorted(got) == sorted(want)
    for i, array in want.items():
        stored = got[i]
        assert stored is not None
        assert stored.dtype == array.dtype
        assert stored.shape == array.shape
        assert stored.tobytes() == array.tobytes()


def stored(problem: LoadedProblem, directory: Path, key: str = KEY) -> Path:
    ExpectedCache(directory).store(problem, key, fake_outputs(problem))
    path = directory / f"{problem.id}-reference-{key[:32]}.npz"
    assert path.is_file()
    return path


# -- store and load -------------------------------------------------------------------------


def test_round_trip(problem: LoadedProblem, tmp_path: Path) -> None:
    cache = ExpectedCache(tmp_path / "cache")
    outputs = fake_outputs(problem)
    cache.store(problem, KEY, outputs)
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [
        "vmap_over_batch-reference-0123456789abcdef0123456789abcdef.npz"]
    assert_same(cache.load(problem, KEY), outputs)


def test_round_trip_through_a_new_cache_object(problem: LoadedProblem, tmp_path: Path) -> None:
    stored(problem, tmp_path)
    assert_same(ExpectedCache(tmp_path).load(problem, KEY), fake_outputs(problem))


def test_store_replaces_an_old_entry(problem: LoadedProblem, tmp_path: Path) -> None:
    cache = ExpectedCache(tmp_path)
    cache.store(problem, KEY, fake_outputs(problem))
    newer = {i: a + 1 for i, a in fake_outputs(problem).items()}
    cache.store(problem, KEY, newer)
    assert_same(cache.load(problem, KEY), newer)
    assert len(list(tmp_path.iterdir())) == 1  # no temporary files left behind


def test_absent_entry_misses(problem: LoadedProblem, tmp_path: Path) -> None:
    assert ExpectedCache(tmp_path).load(problem, KEY) is None
    assert ExpectedCache(tmp_path / "never-created").load(problem, KEY) is None


def test_disabled_cache(problem: LoadedProblem, tmp_path: Path) -> None:
    cache = ExpectedCache(None)
    cache.store(problem, KEY, fake_outputs(problem))
    assert cache.load(problem, KEY) is None


def test_changed_fingerprint_misses(problem: LoadedProblem, tmp_path: Path) -> None:
    stored(problem, tmp_path)
    assert ExpectedCache(tmp_path).load(problem, "f" * 64) is None


def test_full_fingerprint_is_checked_not_just_the_file_name(problem: LoadedProblem,
                                                            tmp_path: Path) -> None:
    stored(problem, tmp_path)
    same_prefix = KEY[:32] + "f" * 32  # same file name, different fingerprint
    assert ExpectedCache(tmp_path).load(problem, same_prefix) is None
    assert ExpectedCache(tmp_path).load(problem, KEY) is not None


def test_wrong_number_of_cases_misses(problem: LoadedProblem, tmp_path: Path) -> None:
    outputs = fake_outputs(problem)
    del outputs[7]
    cache = ExpectedCache(tmp_path)
    cache.store(problem, KEY, outputs)
    assert cache.load(problem, KEY) is None


# -- corrupted entries ----------------------------------------------------------------------


def rewrite_member(path: Path, member: str, data: bytes | None) -> None:
    """Rewrite (or with None, drop) one member of an .npz, keeping everything else."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    if data is None:
        del members[member]
    else:
        members[member] = data
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def test_tampered_array_is_rejected(problem: LoadedProblem, tmp_path: Path) -> None:
    path = stored(problem, tmp_path)
    forged = fake_outputs(problem)[3].copy()
    forged[0] = 99
    rewrite_member(path, "case_3.npy", npy(forged))
    with np.load(path, allow_pickle=False) as data:  # the forgery is a well-formed npz
        assert data["case_3"].tolist() == [99, 2, 3]
    assert ExpectedCache(tmp_path).load(problem, KEY) is None


def test_tampered_dtype_is_rejected(problem: LoadedProblem, tmp_path: Path) -> None:
    path = stored(problem, tmp_path)
    rewrite_member(path, "case_3.npy", npy(np.array([1, 2, 3], dtype=np.int64)))
    assert ExpectedCache(tmp_path).load(problem, KEY) is None


def test_dropped_array_is_rejected(problem: LoadedProblem, tmp_path: Path) -> None:
    path = stored(problem, tmp_path)
    rewrite_member(path, "case_5.npy", None)
    assert ExpectedCache(tmp_path).load(problem, KEY) is None


def test_missing_meta_is_rejected(problem: LoadedProblem, tmp_path: Path) -> None:
    path = stored(problem, tmp_path)
    rewrite_member(path, "__meta__.npy", None)
    assert ExpectedCache(tmp_path).load(problem, KEY) is None


def test_meta_that_is_not_json_is_rejected(problem: LoadedProblem, tmp_path: Path) -> None:
    path = stored(problem, tmp_path)
    rewrite_member(path, "__meta__.npy", npy(np.frombuffer(b"\xff{not json", dtype=np.uint8)))
    assert ExpectedCache(tmp_path).load(problem, KEY) is None


def test_pickled_member_is_rejected(problem: LoadedProblem, tmp_path: Path) -> None:
    path = stored(problem, tmp_path)
    buffer = io.BytesIO()
    np.save(buffer, np.array([object()], dtype=object), allow_pickle=True)
    rewrite_member(path, "case_0.npy", buffer.getvalue())
    assert ExpectedCache(tmp_path).load(problem, KEY) is None


@pytest.mark.parametrize("keep", [0, 10, 100, 1000, -10])
def test_truncated_file_is_rejected(problem: LoadedProblem, tmp_path: Path, keep: int) -> None:
    path = stored(problem, tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[:keep])
    assert ExpectedCache(tmp_path).load(problem, KEY) is None


@pytest.mark.parametrize("garbage", [b"garbage", b"PK\x03\x04garbage", b"\x00" * 4096])
def test_garbage_file_is_rejected(problem: LoadedProblem, tmp_path: Path,
                                  garbage: bytes) -> None:
    path = stored(problem, tmp_path)
    path.write_bytes(garbage)
    assert ExpectedCache(tmp_path).load(problem, KEY) is None


def test_directory_in_place_of_the_file_misses(problem: LoadedProblem, tmp_path: Path) -> None:
    (tmp_path / f"{problem.id}-{KEY[:32]}.npz").mkdir()
    assert ExpectedCache(tmp_path).load(problem, KEY) is None


# -- unwritable caches ----------------------------------------------------------------------


def test_unusable_directory_does_not_raise(problem: LoadedProblem, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    cache = ExpectedCache(blocker / "cache")
    cache.store(problem, KEY, fake_outputs(problem))  # mkdir fails: only costs time
    assert cache.load(problem, KEY) is None
    assert blocker.read_text() == "not a directory"


def test_permission_denied_does_not_raise(problem: LoadedProblem, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # What a read-only directory does to store(), simulated so that it also holds for root.
    def refuse(*args: object, **kwargs: object) -> tuple[int, str]:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    cache = ExpectedCache(tmp_path)
    cache.store(problem, KEY, fake_outputs(problem))
    assert cache.load(problem, KEY) is None
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_directory_does_not_raise(problem: LoadedProblem, tmp_path: Path) -> None:
    directory = tmp_path / "ro"
    directory.mkdir()
    directory.chmod(0o555)
    try:
        cache = ExpectedCache(directory)
        cache.store(problem, KEY, fake_outputs(problem))
        assert cache.load(problem, KEY) is None
        assert list(directory.iterdir()) == []
    finally:
        directory.chmod(0o755)


# -- fingerprint ----------------------------------------------------------------------------


def copy_problem(tmp_path: Path) -> Path:
    destination = tmp_path / "vmap_over_batch"
    shutil.copytree(PROBLEMS / "vmap_over_batch", destination,
                    ignore=shutil.ignore_patterns("__pycache__"))
    return destination


def test_fingerprint_is_a_stable_sha256(problem: LoadedProblem) -> None:
    key = fingerprint(problem, {})
    assert len(key) == 64
    assert int(key, 16) >= 0
    assert fingerprint(problem, {}) == key
    assert fingerprint(load_problem(PROBLEMS / "vmap_over_batch"), {}) == key


def test_fingerprint_differs_between_problems(problem: LoadedProblem) -> None:
    other = load_problem(PROBLEMS / "vmap_over_ensemble")
    assert fingerprint(other, {}) != fingerprint(problem, {})


def test_fingerprint_does_not_depend_on_where_the_problem_lives(problem: LoadedProblem,
                                                                tmp_path: Path) -> None:
    copied = load_problem(copy_problem(tmp_path))
    assert fingerprint(copied, {}) == fingerprint(problem, {})


def test_fingerprint_changes_when_the_spec_changes(tmp_path: Path) -> None:
    directory = copy_problem(tmp_path)
    before = fingerprint(load_problem(directory), {})
    spec = directory / "problem.yaml"
    spec.write_text(spec.read_text().replace("rtol: 1.0e-5", "rtol: 1.0e-4"))
    after = load_problem(directory)
    assert after.spec.tolerance.rtol == 1e-4
    assert fingerprint(after, {}) != before


def test_fingerprint_changes_even_for_a_comment_in_the_spec(tmp_path: Path) -> None:
    directory = copy_problem(tmp_path)
    before = fingerprint(load_problem(directory), {})
    with (directory / "problem.yaml").open("a") as handle:
        handle.write("# a comment\n")
    assert fingerprint(load_problem(directory), {}) != before


def test_fingerprint_changes_when_the_reference_changes(tmp_path: Path) -> None:
    directory = copy_problem(tmp_path)
    problem = load_problem(directory)
    before = fingerprint(problem, {})
    with (directory / "reference.py").open("a") as handle:
        handle.write("\nHELPER = 1\n")
    assert fingerprint(problem, {}) != before


def test_fingerprint_changes_when_a_file_is_added(tmp_path: Path) -> None:
    directory = copy_problem(tmp_path)
    problem = load_problem(directory)
    before = fingerprint(problem, {})
    (directory / "data").mkdir()
    (directory / "data" / "weights.txt").write_text("1 2 3")
    assert fingerprint(problem, {}) != before


def test_fingerprint_ignores_pycache(tmp_path: Path) -> None:
    directory = copy_problem(tmp_path)
    problem = load_problem(directory)
    before = fingerprint(problem, {})
    (directory / "__pycache__").mkdir(exist_ok=True)
    (directory / "__pycache__" / "reference.cpython-311.pyc").write_bytes(b"\x00bytecode")
    assert fingerprint(problem, {}) == before


@pytest.mark.parametrize("env", [{"JAX_ENABLE_X64": "1"}, {"JAX_PLATFORMS": "cpu"},
                                 {"XLA_FLAGS": "--xla_cpu_enable_fast_math=false"},
                                 {"JAX_DEFAULT_MATMUL_PRECISION": "highest"}])
def test_fingerprint_changes_with_jax_env(problem: LoadedProblem, env: dict[str, str]) -> None:
    assert fingerprint(problem, env) != fingerprint(problem, {})


def test_fingerprint_changes_with_a_jax_env_value(problem: LoadedProblem) -> None:
    assert fingerprint(problem, {"JAX_ENABLE_X64": "1"}) != \
        fingerprint(problem, {"JAX_ENABLE_X64": "0"})


@pytest.mark.parametrize("env", [{"HOME": "/somewhere"}, {"PATH": "/bin"},
                                 {"JAX_COMPILATION_CACHE_DIR": "/tmp/jax-cache"},
                                 {"JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
                                  "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0"},
                                 {"MY_JAX_FLAG": "1"}])
def test_fingerprint_ignores_other_env(problem: LoadedProblem, env: dict[str, str]) -> None:
    """Nothing but JAX's numerical configuration: where it caches compiled programs does not
    change an output (so ``warm``, with a compilation cache, and the kit's build, without
    one, share the expected outputs)."""
    assert fingerprint(problem, env) == fingerprint(problem, {})


def test_fingerprint_ignores_env_order(problem: LoadedProblem) -> None:
    one = {"JAX_PLATFORMS": "cpu", "XLA_FLAGS": "x"}
    other = {"XLA_FLAGS": "x", "JAX_PLATFORMS": "cpu"}
    assert fingerprint(problem, one) == fingerprint(problem, other)


# -- default_cache_dir ----------------------------------------------------------------------


def test_default_cache_dir() -> None:
    assert default_cache_dir({"AUTOGRADER_CACHE": "/srv/cache", "XDG_CACHE_HOME": "/x"}) == \
        Path("/srv/cache")
    assert default_cache_dir({"XDG_CACHE_HOME": "/x"}) == \
        Path("/x/flax-lift-autograder/expected")
    assert default_cache_dir({"AUTOGRADER_CACHE": "", "XDG_CACHE_HOME": "/x"}) == \
        Path("/x/flax-lift-autograder/expected")
    assert default_cache_dir({}) == Path.home() / ".cache" / "flax-lift-autograder" / "expected"


# -- bugs -----------------------------------------------------------------------------------


def test_npy_in_place_of_npz_is_rejected(problem: LoadedProblem, tmp_path: Path) -> None:
    path = stored(problem, tmp_path)
    path.write_bytes(npy(np.zeros(3)))
    assert ExpectedCache(tmp_path).load(problem, KEY) is None


def test_meta_that_is_not_an_object_is_rejected(problem: LoadedProblem, tmp_path: Path) -> None:
    path = stored(problem, tmp_path)
    rewrite_member(path, "__meta__.npy", npy(np.frombuffer(json.dumps([KEY]).encode(),
                                                           dtype=np.uint8)))
    assert ExpectedCache(tmp_path).load(problem, KEY) is None


def test_failed_write_leaves_no_temporary_file(problem: LoadedProblem, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", disk_full)
    cache = ExpectedCache(tmp_path)
    cache.store(problem, KEY, fake_outputs(problem))  # does not raise
    assert cache.load(problem, KEY) is None
    assert list(tmp_path.iterdir()) == []


def test_variant_outputs_keep_cases_where_the_variant_raised(problem: LoadedProblem,
                                                               tmp_path: Path) -> None:
    cache = ExpectedCache(tmp_path)
    outputs: dict[int, np.ndarray | None] = dict(fake_outputs(problem))
    outputs[2] = None
    cache.store(problem, KEY, outputs, "variant-loop")
    loaded = cache.load(problem, KEY, "variant-loop")
    assert loaded is not None and loaded[2] is None
    assert loaded[1] is not None and loaded[1].tobytes() == outputs[1].tobytes()  # type: ignore[union-attr]
    # Another source never answers for this one.
    assert cache.load(problem, KEY, "reference") is None
    (path,) = tmp_path.iterdir()
    path.rename(tmp_path / path.name.replace("variant-loop", "reference"))
    assert cache.load(problem, KEY, "reference") is None  # the meta records its source
