"""Build TinyDigits: a small, balanced, offline digits dataset for fast course exercises.

Source: scikit-learn's bundled 8x8 digits (``sklearn.datasets.load_digits``), which is read
from a file shipped inside scikit-learn, so nothing is downloaded.

    python datasets/tinydigits/build.py              # rewrite the committed files
    python datasets/tinydigits/build.py --out DIR    # build somewhere else (used by the tests)

The output is byte-for-byte reproducible: the same seed picks the same images, and the zip
is written by hand with fixed timestamps (``numpy.savez`` would stamp the current time).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np

SEED = 20240101
TRAIN_PER_CLASS = 100
TEST_PER_CLASS = 20
NPZ_NAME = "tinydigits.npz"
HERE = Path(__file__).resolve().parent


def make_splits(seed: int = SEED) -> dict[str, np.ndarray]:
    """Pick 100 train + 20 test images per class, then shuffle each split so classes mix."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)
    labels = digits.target.astype(np.int64)

    rng = np.random.default_rng(seed)
    train_idx, test_idx = [], []
    for digit in range(10):
        chosen = rng.permutation(np.flatnonzero(labels == digit))
        train_idx.append(chosen[:TRAIN_PER_CLASS])
        test_idx.append(chosen[TRAIN_PER_CLASS : TRAIN_PER_CLASS + TEST_PER_CLASS])
    train = rng.permutation(np.concatenate(train_idx))
    test = rng.permutation(np.concatenate(test_idx))

    return {
        "X_train": images[train],
        "y_train": labels[train],
        "X_test": images[test],
        "y_test": labels[test],
    }


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write an .npz readable by ``np.load(allow_pickle=False)`` with no time-dependent bytes."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # ZipInfo defaults to the host OS; pin it so bytes match everywhere
            info.external_attr = 0o644 << 16
            archive.writestr(info, buffer.getvalue())


def build(out_dir: Path = HERE, seed: int = SEED) -> Path:
    """Write ``tinydigits.npz`` and its ``SHA256SUMS`` manifest into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    npz_path = out_dir / NPZ_NAME
    write_npz(npz_path, make_splits(seed))
    digest = hashlib.sha256(npz_path.read_bytes()).hexdigest()
    (out_dir / "SHA256SUMS").write_text(f"{digest}  {NPZ_NAME}\n")
    return npz_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="output folder (default: next to this script)")
    args = parser.parse_args()
    npz_path = build(args.out)
    print(f"wrote {npz_path} and {npz_path.parent / 'SHA256SUMS'}")


if __name__ == "__main__":
    main()
