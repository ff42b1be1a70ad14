"""Loaders for the datasets the course ships in `datasets/` (TinyDigits and MNIST).

Nothing is downloaded: the files are committed to the repository. Every file is checked
against its folder's `SHA256SUMS` manifest before it is trusted, and every problem is
raised as a `DatasetError` that names the file, says what was expected and what was
found, and how to restore it, so students never face a bare zlib or zipfile traceback.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import re
import zipfile
import zlib
from pathlib import Path

import numpy as np

ENV_VAR = "TINYTORCH_DATA"
MANIFEST = "SHA256SUMS"
REPO_DATA = Path(__file__).resolve().parent.parent / "datasets"

TINYDIGITS_FILE = "tinydigits.npz"
TINYDIGITS_ARRAYS = {
    "X_train": ((1000, 8, 8), np.float32),
    "y_train": ((1000,), np.int64),
    "X_test": ((200, 8, 8), np.float32),
    "y_test": ((200,), np.int64),
}

IDX_IMAGES, IDX_LABELS = 2051, 2049  # IDX magic: unsigned bytes, 3 dims / 1 dim
MNIST_FILES = {  # file name -> (IDX magic, shape); loaded in this order
    "train-images-idx3-ubyte.gz": (IDX_IMAGES, (60000, 28, 28)),
    "train-labels-idx1-ubyte.gz": (IDX_LABELS, (60000,)),
    "t10k-images-idx3-ubyte.gz": (IDX_IMAGES, (10000, 28, 28)),
    "t10k-labels-idx1-ubyte.gz": (IDX_LABELS, (10000,)),
}

# One manifest line, as written by `sha256sum`: 64 hex digits, space, space or '*', name.
MANIFEST_LINE = re.compile(r"([0-9a-fA-F]{64}) [ *](\S.*)")

Splits = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


class DatasetError(Exception):
    """A dataset file is missing, damaged or not what the course expects."""


def data_root(path: str | os.PathLike[str] | None = None) -> Path:
    """The folder holding `tinydigits/` and `mnist/`: argument, else $TINYTORCH_DATA, else the repo's."""
    if path is not None:
        return Path(path)
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    return REPO_DATA


def _restore_hint(path: Path) -> str:
    """How to get the committed copy of `path` back (git, plus a copy step outside the repo)."""
    repo_path = f"datasets/{path.parent.name}/{path.name}"
    hint = f"restore it with `git checkout -- {repo_path}`"
    if path.resolve() != (REPO_DATA / path.parent.name / path.name).resolve():
        hint += f" in the TinyTorch repository and copy it to {path}"
    return hint


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise DatasetError(f"{path} is missing; {_restore_hint(path)}")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DatasetError(f"{path} cannot be read ({exc.strerror}); {_restore_hint(path)}") from None


def _read_manifest(folder: Path, names: list[str]) -> dict[str, str]:
    """Expected SHA-256 per file name from `folder/SHA256SUMS`; the only place checksums live."""
    if not folder.is_dir():
        raise DatasetError(
            f"dataset folder {folder} does not exist (expected {', '.join(names)} and {MANIFEST}); "
            f"check the data root (path argument or ${ENV_VAR}) or restore it with "
            f"`git checkout -- datasets/{folder.name}`"
        )
    manifest = folder / MANIFEST
    digests: dict[str, str] = {}
    for number, line in enumerate(_read_bytes(manifest).decode("utf-8", "replace").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        match = MANIFEST_LINE.fullmatch(line.rstrip())
        if not match:
            raise DatasetError(
                f"{manifest} line {number} is malformed: expected '<64 hex digits>  <file name>', "
                f"found {line!r}; {_restore_hint(manifest)}"
            )
        digests[match.group(2)] = match.group(1).lower()
    missing = [name for name in names if name not in digests]
    if missing:
        raise DatasetError(f"{manifest} has no checksum for {', '.join(missing)}; {_restore_hint(manifest)}")
    return digests


def _check_digest(path: Path, data: bytes, expected: str, what: str) -> None:
    found = hashlib.sha256(data).hexdigest()
    if found != expected:
        raise DatasetError(
            f"{path} is damaged: SHA-256 of its {what} is {found}, expected {expected} "
            f"(from {path.parent / MANIFEST}); {_restore_hint(path)}"
        )


def _gunzip(path: Path) -> bytes:
    raw = _read_bytes(path)
    try:
        return gzip.decompress(raw)
    except EOFError:
        problem = f"is truncated (gzip stream ended early after {len(raw)} bytes)"
    except (gzip.BadGzipFile, zlib.error) as exc:
        problem = f"is not a readable gzip file ({exc})"
    raise DatasetError(f"{path} {problem}; {_restore_hint(path)}")


def _read_idx(path: Path, expected_digest: str) -> np.ndarray:
    """One MNIST file as a uint8 array, after checking checksum, IDX magic and shape."""
    magic, shape = MNIST_FILES[path.name]
    data = _gunzip(path)
    _check_digest(path, data, expected_digest, "decompressed bytes")
    header_size = 4 + 4 * len(shape)
    if len(data) < header_size:
        raise DatasetError(
            f"{path} is too short for an IDX header ({len(data)} bytes, expected at least {header_size}); "
            f"{_restore_hint(path)}"
        )
    found_magic = int.from_bytes(data[:4], "big")
    if found_magic != magic:
        raise DatasetError(
            f"{path} has IDX magic number {found_magic}, expected {magic}; {_restore_hint(path)}"
        )
    dims = tuple(int(d) for d in np.frombuffer(data, ">u4", count=len(shape), offset=4))
    if dims != shape:
        raise DatasetError(f"{path} has shape {dims}, expected {shape}; {_restore_hint(path)}")
    expected_size = header_size + int(np.prod(shape))
    if len(data) != expected_size:
        raise DatasetError(
            f"{path} holds {len(data)} decompressed bytes, expected {expected_size} for shape {shape}; "
            f"{_restore_hint(path)}"
        )
    return np.frombuffer(data, np.uint8, offset=header_size).reshape(shape)


def _read_npz(path: Path, expected_digest: str) -> dict[str, np.ndarray]:
    """The TinyDigits arrays, after checking checksum, names, shapes and dtypes."""
    data = _read_bytes(path)
    _check_digest(path, data, expected_digest, "bytes")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files if name in TINYDIGITS_ARRAYS}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, zlib.error) as exc:
        raise DatasetError(f"{path} is not a readable .npz archive ({exc}); {_restore_hint(path)}") from None
    for name, (shape, dtype) in TINYDIGITS_ARRAYS.items():
        if name not in arrays:
            raise DatasetError(f"{path} has no array {name!r} (expected {list(TINYDIGITS_ARRAYS)}); {_restore_hint(path)}")
        found = arrays[name]
        if found.shape != shape or found.dtype != dtype:
            raise DatasetError(
                f"{path} array {name!r} is {found.dtype}{found.shape}, expected {np.dtype(dtype)}{shape}; "
                f"{_restore_hint(path)}"
            )
    return arrays


def load_tinydigits(path: str | os.PathLike[str] | None = None) -> Splits:
    """TinyDigits as `(X_train, y_train), (X_test, y_test)`: 8x8 float32 images in [0, 1], int64 labels."""
    folder = data_root(path) / "tinydigits"
    digests = _read_manifest(folder, [TINYDIGITS_FILE])
    arrays = _read_npz(folder / TINYDIGITS_FILE, digests[TINYDIGITS_FILE])
    return (arrays["X_train"], arrays["y_train"]), (arrays["X_test"], arrays["y_test"])


def load_mnist(path: str | os.PathLike[str] | None = None) -> Splits:
    """MNIST as `(X_train, y_train), (X_test, y_test)`: 28x28 float32 images in [0, 1], int64 labels."""
    folder = data_root(path) / "mnist"
    digests = _read_manifest(folder, list(MNIST_FILES))
    train_images, train_labels, test_images, test_labels = (
        _read_idx(folder / name, digests[name]) for name in MNIST_FILES
    )

    def scale(images: np.ndarray) -> np.ndarray:
        scaled = images.astype(np.float32)
        scaled /= 255
        return scaled

    return (
        (scale(train_images), train_labels.astype(np.int64)),
        (scale(test_images), test_labels.astype(np.int64)),
    )


def verify_datasets(path: str | os.PathLike[str] | None = None) -> list[str]:
    """Every problem with every shipped data file, as readable messages (empty when all is well)."""
    root = data_root(path)
    problems: list[str] = []
    checks = [("tinydigits", {TINYDIGITS_FILE: _read_npz}), ("mnist", dict.fromkeys(MNIST_FILES, _read_idx))]
    for dataset, readers in checks:
        folder = root / dataset
        try:
            digests = _read_manifest(folder, list(readers))
        except DatasetError as exc:
            problems.append(str(exc))
            continue
        for name, read in readers.items():
            try:
                read(folder / name, digests[name])
            except DatasetError as exc:
                problems.append(str(exc))
    return problems
