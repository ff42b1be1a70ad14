"""The reference export computes what PyTorch computes: same inputs (and weights) in, the same
numbers out, within 1e-5 relative (the largest difference over the largest value of the output:
float32 sums of hundreds of terms differ in their last bits whoever computes them). Each
comparison runs in a fresh interpreter whose `tinytorch` is the reference export (this process
imports the students' starting package)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the comparison needs PyTorch (the test extra installs it)")

RTOL = 1e-5

COMPARE = """
import json
import numpy as np
import torch

def worst(ours, theirs):
    # how far the relative difference exceeds the tolerance (<= 0 when within it)
    ours, theirs = np.asarray(ours, dtype=np.float64), theirs.detach().numpy().astype(np.float64)
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    scale = max(float(np.abs(theirs).max()), 1e-30)
    return float(np.abs(ours - theirs).max() / scale - {rtol})

results = {{}}
"""


def compare(reference_path: str, tmp_path: Path, body: str) -> dict[str, float]:
    """Run `body` (which fills `results` {case: worst excess over the tolerance}) against the reference."""
    code = COMPARE.format(rtol=RTOL) + body + "\nprint(json.dumps(results))\n"
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                         env={"PYTHONPATH": reference_path, "PATH": "", "OPENBLAS_NUM_THREADS": "1"}, timeout=300)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.splitlines()[-1])


def test_activations_match_pytorch(reference_path: str, tmp_path: Path) -> None:
    results = compare(reference_path, tmp_path, """
from tinytorch import Tensor
from tinytorch.core.activations import LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
rng = np.random.default_rng(0)
x = np.concatenate([rng.normal(scale=10.0, size=(30, 7)), [[-1000.0, -90.0, -1.0, 0.0, 1.0, 90.0, 1000.0]]]).astype(np.float32)
cube = rng.normal(scale=5.0, size=(3, 4, 5)).astype(np.float32)
pairs = [
    (ReLU(), torch.nn.ReLU(), x), (LeakyReLU(0.2), torch.nn.LeakyReLU(0.2), x), (Sigmoid(), torch.nn.Sigmoid(), x),
    (Tanh(), torch.nn.Tanh(), x), (Softmax(), torch.nn.Softmax(dim=-1), x), (Softmax(axis=0), torch.nn.Softmax(dim=0), x),
    (Softmax(axis=1), torch.nn.Softmax(dim=1), cube), (LogSoftmax(), torch.nn.LogSoftmax(dim=-1), x),
    (LogSoftmax(axis=0), torch.nn.LogSoftmax(dim=0), cube),
]
for ours, theirs, data in pairs:
    results[f"{ours!r} on {data.shape}"] = worst(ours(Tensor(data)).data, theirs(torch.from_numpy(data)))
""")
    assert len(results) == 9
    assert {case: excess for case, excess in results.items() if excess > 0} == {}


def test_linear_and_sequential_match_pytorch_with_the_same_weights(reference_path: str, tmp_path: Path) -> None:
    results = compare(reference_path, tmp_path, """
from tinytorch import Linear, ReLU, Sequential, Tensor
rng = np.random.default_rng(1)
ours = Sequential(Linear(784, 128, rng=rng), ReLU(), Linear(128, 10, rng=rng))
for layer in (ours[0], ours[2]):
    layer.bias.data[...] = rng.normal(size=layer.bias.shape)
theirs = torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
with torch.no_grad():
    for index in (0, 2):
        theirs[index].weight.copy_(torch.from_numpy(ours[index].weight.data.T.copy()))  # PyTorch stores (out, in)
        theirs[index].bias.copy_(torch.from_numpy(ours[index].bias.data))
x = rng.random((64, 784)).astype(np.float32)
results["Linear(784, 128)"] = worst(ours[0](Tensor(x)).data, theirs[0](torch.from_numpy(x)))
results["Sequential(784 -> 128 -> 10)"] = worst(ours(Tensor(x)).data, theirs(torch.from_numpy(x)))
results["one example (784,)"] = worst(ours(Tensor(x[0])).data, theirs(torch.from_numpy(x[0])))
plain = Linear(5, 3, bias=False, rng=rng)
torch_plain = torch.nn.Linear(5, 3, bias=False)
with torch.no_grad():
    torch_plain.weight.copy_(torch.from_numpy(plain.weight.data.T.copy()))
y = rng.normal(size=(2, 4, 5)).astype(np.float32)
results["Linear(5, 3, bias=False) on (2, 4, 5)"] = worst(plain(Tensor(y)).data, torch_plain(torch.from_numpy(y)))
results["parameter count"] = float(abs(sum(p.size for p in ours.parameters()) - sum(p.numel() for p in theirs.parameters())))
""")
    assert len(results) == 5
    assert {case: excess for case, excess in results.items() if excess > 0} == {}


def test_losses_match_pytorch(reference_path: str, tmp_path: Path) -> None:
    results = compare(reference_path, tmp_path, """
from tinytorch import CrossEntropyLoss, MSELoss, Tensor
from tinytorch.core.losses import BCEWithLogitsLoss
rng = np.random.default_rng(2)
logits = np.concatenate([rng.normal(scale=3.0, size=(62, 10)), [[1e4] + [0.0] * 9, [-1e4] * 9 + [1e4]]]).astype(np.float32)
labels = np.concatenate([rng.integers(0, 10, size=62), [0, 3]])
for reduction in ("mean", "sum", "none"):
    ours = CrossEntropyLoss(reduction=reduction)(Tensor(logits), labels).data
    theirs = torch.nn.CrossEntropyLoss(reduction=reduction)(torch.from_numpy(logits), torch.from_numpy(labels))
    results[f"CrossEntropyLoss({reduction})"] = worst(ours, theirs)
prediction, target = rng.normal(size=(16, 3)).astype(np.float32), rng.normal(size=(16, 3)).astype(np.float32)
results["MSELoss"] = worst(MSELoss()(Tensor(prediction), target).data, torch.nn.MSELoss()(torch.from_numpy(prediction), torch.from_numpy(target)))
binary_logits = np.concatenate([rng.normal(scale=20.0, size=30), [1000.0, -1000.0]]).astype(np.float32)
binary_targets = rng.integers(0, 2, size=32).astype(np.float32)
results["BCEWithLogitsLoss"] = worst(BCEWithLogitsLoss()(Tensor(binary_logits), binary_targets).data,
                                     torch.nn.BCEWithLogitsLoss()(torch.from_numpy(binary_logits), torch.from_numpy(binary_targets)))
""")
    assert len(results) == 5
    assert {case: excess for case, excess in results.items() if excess > 0} == {}
