"""Benchmark: microseconds per training step of the MNIST 784 -> 128 -> ReLU -> 10 MLP (SGD, momentum
0.9, float32) at each batch size, trained by (a) the tinytorch reference export (DataLoader,
autograd, SGD), (b) the same step written by hand in numpy (the floor of this design), and (c)
PyTorch when it is installed; and the ratio of each to the floor. Figures, not a test:

    python tests/benchmark_mnist.py [--batches 1 16 64 256 1024] [--steps 200] [--rounds 5]

One BLAS thread for all, contenders interleaved in one process (a busy machine slows them alike),
the median round of each reported; each trains for the same number of steps on the same batches.
"""

from __future__ import annotations

import argparse
import os

os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = "1"

import sys
import time
from pathlib import Path

import numpy as np

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


def tinytorch_trainer(tt, X, y, steps, batch):
    tt.manual_seed(0)
    model = tt.Sequential(tt.Linear(784, 128), tt.ReLU(), tt.Linear(128, 10))
    optimizer = tt.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = tt.CrossEntropyLoss()
    loader = tt.DataLoader(tt.TensorDataset(X, y), batch_size=batch, shuffle=True, seed=0, drop_last=True)

    def run():
        batches = iter(loader)
        for _ in range(steps):
            xb, yb = next(batches)
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()

    return run


def numpy_trainer(X, y, steps, batch):
    rng = np.random.default_rng(0)
    W1 = (rng.normal(size=(784, 128)) * np.sqrt(2 / 784)).astype(np.float32)
    W2 = (rng.normal(size=(128, 10)) * np.sqrt(2 / 128)).astype(np.float32)
    b1, b2 = np.zeros(128, np.float32), np.zeros(10, np.float32)
    params = [W1, b1, W2, b2]
    velocity = [np.zeros_like(p) for p in params]
    order = rng.permutation(len(X))

    def run():
        for step in range(steps):
            index = order[step * batch : (step + 1) * batch]
            xb, yb = X[index], y[index]
            hidden = xb @ W1 + b1
            active = np.maximum(hidden, 0)
            logits = active @ W2 + b2
            p = np.exp(logits - logits.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            rows = np.arange(len(yb))
            float(
                -np.log(p[rows, yb]).mean()
            )  # the loss, which every training step reports (the others compute it too)
            p[rows, yb] -= 1
            p /= len(yb)
            d_hidden = (p @ W2.T) * (hidden > 0)
            grads = [xb.T @ d_hidden, d_hidden.sum(axis=0), active.T @ p, p.sum(axis=0)]
            for param, v, g in zip(params, velocity, grads, strict=True):
                v *= 0.9
                v += g
                param -= 0.05 * v

    return run


def torch_trainer(X, y, steps, batch):
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

    def run():
        for step in range(steps):
            index = order[step * batch : (step + 1) * batch]
            optimizer.zero_grad()
            loss = loss_fn(model(X_t[index]), y_t[index])
            loss.backward()
            optimizer.step()

    return run


def medians(contenders: dict, rounds: int) -> dict[str, float]:
    """Each contender's median seconds over `rounds`, the contenders interleaved in every round."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for run in contenders.values():
        run()  # warm up
    for _ in range(rounds):
        for name, run in contenders.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: float(np.median(found)) for name, found in times.items()}


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
        contenders = {
            "tinytorch": tinytorch_trainer(tt, X, y, steps, batch),
            "numpy": numpy_trainer(X, y, steps, batch),
        }
        if (torch_run := torch_trainer(X, y, steps, batch)) is not None:
            contenders["torch"] = torch_run
        found = {name: seconds / steps * 1e6 for name, seconds in medians(contenders, options.rounds).items()}
        floor = found["numpy"]
        torch_cells = (f"{found['torch']:,.0f}", f"{found['torch'] / floor:.2f}") if "torch" in found else ("-", "-")
        print(
            f"| {batch:,} | {found['tinytorch']:,.0f} | {floor:,.0f} | {torch_cells[0]} | "
            f"{found['tinytorch'] / floor:.2f} | {torch_cells[1]} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
