"""The shipped datasets load with the right contents, and every kind of damage is reported clearly."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers import ROOT, exported_reference

from tito.course.settings import DATA_ENV
from tito.student.datasets import data_module

# The one implementation of the data files is Module 08's loader; its reference export is tested here.
loader = data_module(exported_reference() / "tinytorch" / "data" / "loader.py", name="_reference_course_data")
ENV_VAR, DatasetError, data_root = loader.ENV_VAR, loader.DatasetError, loader.data_root
load_mnist, load_tinydigits, verify_datasets = loader.load_mnist, loader.load_tinydigits, loader.verify_datasets
REPO_DATA = ROOT / "datasets"

MNIST = REPO_DATA / "mnist"
TINY = REPO_DATA / "tinydigits"
TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
TRAIN_LABELS = "train-labels-idx1-ubyte.gz"
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(autouse=True)
def no_env_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own TINYTORCH_DATA must not change what the tests load."""
    monkeypatch.delenv(ENV_VAR, raising=False)


@pytest.fixture(scope="module")
def mnist():
    return load_mnist()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def idx_bytes(magic: int, dims: tuple[int, ...], payload: bytes = b"") -> bytes:
    return magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims) + payload


def mnist_copy(tmp_path: Path, files: dict[str, bytes] | None = None) -> Path:
    """A data root whose mnist/ holds only the real manifest, plus each given file's content
    (decompressed IDX bytes) written gzip-compressed with a matching manifest entry."""
    folder = tmp_path / "mnist"
    folder.mkdir()
    lines = (MNIST / "SHA256SUMS").read_text().splitlines()
    for name, content in (files or {}).items():
        (folder / name).write_bytes(gzip.compress(content, mtime=0))
        lines = [line for line in lines if not line.endswith(name)] + [f"{sha256(content)}  {name}"]
    (folder / "SHA256SUMS").write_text("\n".join(lines) + "\n")
    return tmp_path


def tiny_copy(tmp_path: Path, npz: bytes | None = None) -> Path:
    """A data root with tinydigits/; `npz` replaces the archive and gets a matching manifest."""
    folder = tmp_path / "tinydigits"
    shutil.copytree(TINY, folder, ignore=shutil.ignore_patterns("*.py", "*.md", "__pycache__"))
    if npz is not None:
        (folder / "tinydigits.npz").write_bytes(npz)
        (folder / "SHA256SUMS").write_text(f"{sha256(npz)}  tinydigits.npz\n")
    return tmp_path


def flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


# --- the real data -----------------------------------------------------------------------


def test_tinydigits_contents() -> None:
    (x_train, y_train), (x_test, y_test) = load_tinydigits()
    assert x_train.shape == (1000, 8, 8) and x_test.shape == (200, 8, 8)
    assert x_train.dtype == x_test.dtype == np.float32
    assert y_train.dtype == y_test.dtype == np.int64
    assert x_train.min() == 0.0 and x_train.max() == 1.0 and 0.0 <= x_test.min() <= x_test.max() <= 1.0
    assert np.bincount(y_train).tolist() == [100] * 10
    assert np.bincount(y_test).tolist() == [20] * 10
    assert len(set(y_train[:20].tolist())) > 3, "the training split should be shuffled, not sorted by class"


def test_mnist_contents(mnist) -> None:
    (x_train, y_train), (x_test, y_test) = mnist
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert x_train.dtype == x_test.dtype == np.float32
    assert y_train.dtype == y_test.dtype == np.int64
    assert x_train.min() == 0.0 and x_train.max() == 1.0
    assert np.bincount(y_train).tolist() == MNIST_TRAIN_COUNTS
    assert np.bincount(y_test).tolist() == MNIST_TEST_COUNTS
    assert x_train.mean(dtype=np.float64) == pytest.approx(0.1307, abs=1e-4)


def test_tinydigits_rebuild_is_byte_identical(tmp_path: Path) -> None:
    pytest.importorskip("sklearn", reason="rebuilding TinyDigits needs scikit-learn")
    spec = importlib.util.spec_from_file_location("tinydigits_build", TINY / "build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    build.build(tmp_path)
    for name in ("tinydigits.npz", "SHA256SUMS"):
        assert (tmp_path / name).read_bytes() == (TINY / name).read_bytes(), name


def test_verify_datasets_finds_nothing_wrong() -> None:
    assert verify_datasets() == []


def test_data_root_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert data_root() == REPO_DATA and (REPO_DATA / "mnist").is_dir()
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "env"))
    assert data_root() == tmp_path / "env"
    assert data_root(tmp_path / "arg") == tmp_path / "arg"


# --- folders and manifests ---------------------------------------------------------------


def test_env_var_pointing_at_empty_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    with pytest.raises(DatasetError, match="does not exist") as err:
        load_tinydigits()
    assert str(tmp_path / "tinydigits") in str(err.value) and ENV_VAR in str(err.value)
    with pytest.raises(DatasetError, match=r"mnist does not exist .*train-images-idx3-ubyte\.gz"):
        load_mnist()
    problems = verify_datasets()
    assert len(problems) == 2 and all("does not exist" in p for p in problems)


def test_manifest_missing(tmp_path: Path) -> None:
    (tmp_path / "tinydigits").mkdir()
    with pytest.raises(
        DatasetError, match=r"SHA256SUMS is missing; restore it with `git checkout -- datasets/tinydigits/SHA256SUMS`"
    ):
        load_tinydigits(tmp_path)


def test_manifest_malformed(tmp_path: Path) -> None:
    root = tiny_copy(tmp_path)
    (root / "tinydigits" / "SHA256SUMS").write_text("not-a-digest  tinydigits.npz\n")
    with pytest.raises(
        DatasetError,
        match=r"SHA256SUMS line 1 is malformed: expected '<64 hex digits>  <file name>', found 'not-a-digest",
    ):
        load_tinydigits(root)


def test_manifest_without_entry(tmp_path: Path) -> None:
    root = mnist_copy(tmp_path)
    manifest = root / "mnist" / "SHA256SUMS"
    manifest.write_text("".join(line for line in manifest.read_text().splitlines(True) if TRAIN_LABELS not in line))
    with pytest.raises(DatasetError, match=f"has no checksum for {TRAIN_LABELS}"):
        load_mnist(root)


# --- MNIST files -------------------------------------------------------------------------


def test_mnist_file_missing(tmp_path: Path) -> None:
    root = mnist_copy(tmp_path)
    with pytest.raises(DatasetError) as err:
        load_mnist(root)
    message = str(err.value)
    assert f"{TRAIN_IMAGES} is missing" in message
    assert f"git checkout -- datasets/mnist/{TRAIN_IMAGES}" in message
    assert f"copy it to {root / 'mnist' / TRAIN_IMAGES}" in message  # a custom root needs a copy step


def test_mnist_truncated_gzip(tmp_path: Path) -> None:
    root = mnist_copy(tmp_path)
    (root / "mnist" / TRAIN_IMAGES).write_bytes((MNIST / TRAIN_IMAGES).read_bytes()[:100_000])
    with pytest.raises(
        DatasetError,
        match=r"is truncated \(gzip stream ended early after 100000 bytes\); restore it with `git checkout -- datasets/mnist/train-images-idx3-ubyte\.gz`",
    ):
        load_mnist(root)


def test_mnist_flipped_byte_in_gzip(tmp_path: Path) -> None:
    root = mnist_copy(tmp_path)
    shutil.copy(MNIST / TRAIN_LABELS, root / "mnist")
    flip_byte(root / "mnist" / TRAIN_LABELS)
    problems = [p for p in verify_datasets(root) if TRAIN_LABELS in p]
    assert len(problems) == 1 and "is not a readable gzip file" in problems[0]


def test_mnist_flipped_byte_in_data(tmp_path: Path) -> None:
    """The gzip is intact but the IDX content differs from the manifest: the checksum catches it."""
    root = mnist_copy(tmp_path)
    labels = bytearray(gzip.decompress((MNIST / TRAIN_LABELS).read_bytes()))
    labels[100] ^= 0x01
    (root / "mnist" / TRAIN_LABELS).write_bytes(gzip.compress(bytes(labels), mtime=0))
    expected = next(
        line.split()[0] for line in (MNIST / "SHA256SUMS").read_text().splitlines() if line.endswith(TRAIN_LABELS)
    )
    problems = [p for p in verify_datasets(root) if TRAIN_LABELS in p]
    assert len(problems) == 1
    assert (
        f"is damaged: SHA-256 of its decompressed bytes is {sha256(bytes(labels))}, expected {expected}" in problems[0]
    )


def test_mnist_wrong_magic(tmp_path: Path) -> None:
    root = mnist_copy(tmp_path, {TRAIN_IMAGES: idx_bytes(2049, (60000, 28, 28))})
    with pytest.raises(DatasetError, match="has IDX magic number 2049, expected 2051"):
        load_mnist(root)


def test_mnist_wrong_shape(tmp_path: Path) -> None:
    root = mnist_copy(tmp_path, {TRAIN_IMAGES: idx_bytes(2051, (5, 28, 28), bytes(5 * 28 * 28))})
    with pytest.raises(DatasetError, match=r"has shape \(5, 28, 28\), expected \(60000, 28, 28\)"):
        load_mnist(root)


def test_mnist_header_disagrees_with_size(tmp_path: Path) -> None:
    root = mnist_copy(tmp_path, {TRAIN_IMAGES: idx_bytes(2051, (60000, 28, 28), bytes(10))})
    with pytest.raises(DatasetError, match="holds 26 decompressed bytes, expected 47040016"):
        load_mnist(root)


def test_mnist_header_too_short(tmp_path: Path) -> None:
    root = mnist_copy(tmp_path, {TRAIN_IMAGES: b"\x00\x00\x08"})
    with pytest.raises(DatasetError, match=r"too short for an IDX header \(3 bytes, expected at least 16\)"):
        load_mnist(root)


# --- TinyDigits file ---------------------------------------------------------------------


def test_tinydigits_flipped_byte(tmp_path: Path) -> None:
    root = tiny_copy(tmp_path)
    npz = root / "tinydigits" / "tinydigits.npz"
    flip_byte(npz)
    expected = (TINY / "SHA256SUMS").read_text().split()[0]
    with pytest.raises(DatasetError) as err:
        load_tinydigits(root)
    assert f"SHA-256 of its bytes is {sha256(npz.read_bytes())}, expected {expected}" in str(err.value)
    assert "git checkout -- datasets/tinydigits/tinydigits.npz" in str(err.value)


def test_tinydigits_missing_file(tmp_path: Path) -> None:
    root = tiny_copy(tmp_path)
    (root / "tinydigits" / "tinydigits.npz").unlink()
    with pytest.raises(DatasetError, match="tinydigits.npz is missing"):
        load_tinydigits(root)


def npz_bytes(tmp_path: Path, **overrides: np.ndarray | None) -> bytes:
    """The real arrays with some replaced (or dropped when None), saved as a fresh .npz."""
    with np.load(TINY / "tinydigits.npz", allow_pickle=False) as real:
        arrays = {name: real[name] for name in real.files}
    arrays.update(overrides)
    path = tmp_path / "made.npz"
    np.savez(path, **{name: a for name, a in arrays.items() if a is not None})
    return path.read_bytes()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"y_test": None}, "has no array 'y_test'"),
        (
            {"X_train": np.zeros((1000, 64), np.float32)},
            r"array 'X_train' is float32\(1000, 64\), expected float32\(1000, 8, 8\)",
        ),
        ({"y_train": np.zeros(1000, np.int32)}, r"array 'y_train' is int32\(1000,\), expected int64\(1000,\)"),
    ],
)
def test_tinydigits_wrong_arrays(tmp_path: Path, overrides: dict, message: str) -> None:
    root = tiny_copy(tmp_path, npz_bytes(tmp_path, **overrides))
    with pytest.raises(DatasetError, match=message):
        load_tinydigits(root)


def test_tinydigits_not_a_zip(tmp_path: Path) -> None:
    root = tiny_copy(tmp_path, b"this is not a zip archive")
    with pytest.raises(DatasetError, match="tinydigits.npz is not a readable .npz archive"):
        load_tinydigits(root)


def test_the_tools_and_the_library_read_the_same_data_variable() -> None:
    assert ENV_VAR == DATA_ENV  # the sandbox sets it for graded kernels; the library's loaders read it
