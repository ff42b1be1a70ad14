"""Benchmark: microseconds per training step of the MNIST 784 -> 128 -> ReLU -> 10 MLP (SGD, momentum
0.9, float32) at each batch size, trained by (a) the tinytorch reference export (DataLoader,
autograd, SGD), (b) the same step written by hand in numpy (the floor of this design), and (c)
PyTorch when it is installed; and the ratio of each to the floor. Figures, not a test:

    python tests/benchmark_mnist.py [--batches 1 16 64 256 1024] [--steps 200] [--rounds 5]

One BLAS thread for all, contenders interleaved in one process (a busy machine slows them alike),
the median round of each reported; each trains for the same number of steps of the same batch size
(tito.student.profile's TrainingStep and numpy_step: the step and the floor the MNIST milestone shows students).
"""

from __future__ import annotations

import argparse
import os

os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = "1"

import sys
from pathlib import Path

import numpy as np

from tito.student.profile import TrainingStep, interleaved_medians, numpy_step

ROOT = Path(__file__).resolve().parent.parent


def reference_tinytorch():
    """Import the reference export (exported fresh from source_solutions/) rather than the students' package."""
    from tito.build.export import export, package_root
    from tito.course.registry import SOURCE_DIR

    export(ROOT, SOURCE_DIR)
    sys.path.insert(0, str(package_root(ROOT, SOURCE_DIR)))
    import tinytorch

    assert Path(tinytorch.__file__).is_relative_to(package_root(ROOT, SOURCE_DIR)), tinytorch.__file__
    return tinytorch


def torch_step(X, y, batch):
    """PyTorch's step of the same network, or None when PyTorch is not installed."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)
    order = torch.from_numpy(np.random.default_rng(0).permutation(len(X)))
    position = [0]

    def step():
        start = position[0] if position[0] + batch <= len(X) else 0
        position[0] = start + batch
        index = order[start : start + batch]
        optimizer.zero_grad()
        loss = loss_fn(model(X_t[index]), y_t[index])
        loss.backward()
        optimizer.step()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 16, 64, 256, 1024])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    options = parser.parse_args()
    tt = reference_tinytorch()
    (X, y), _ = tt.load_mnist()
    X = X.reshape(len(X), -1)
    print(
        f"MNIST 784 -> 128 -> ReLU -> 10, SGD momentum 0.9, float32; µs per step, median of {options.rounds} rounds; "
        "1 BLAS thread"
    )
    header = "| batch | tinytorch reference | numpy by hand (the floor) | PyTorch CPU | tinytorch / numpy | PyTorch / numpy |"
    print(header + "\n" + "| --- " * 6 + "|")
    for batch in options.batches:
        steps = min(options.steps, len(X) // batch)
        contenders = {"tinytorch": TrainingStep(tt, X, y, batch), "numpy": numpy_step(X, y, batch)}
        if (torch_run := torch_step(X, y, batch)) is not None:
            contenders["torch"] = torch_run
        found = interleaved_medians(contenders, steps, options.rounds)
        floor = found["numpy"]
        torch_cells = (f"{found['torch']:,.0f}", f"{found['torch'] / floor:.2f}") if "torch" in found else ("-", "-")
        print(
            f"| {batch:,} | {found['tinytorch']:,.0f} | {floor:,.0f} | {torch_cells[0]} | "
            f"{found['tinytorch'] / floor:.2f} | {torch_cells[1]} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
