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
    run = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": reference_path, "PATH": "", "OPENBLAS_NUM_THREADS": "1"},
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.splitlines()[-1])


def assert_all_within_tolerance(results: dict[str, float], cases: int) -> None:
    """Every one of the `cases` comparisons ran, and none exceeded the tolerance."""
    assert len(results) == cases, sorted(results)
    assert {case: excess for case, excess in results.items() if excess > 0} == {}


def test_activations_match_pytorch(reference_path: str, tmp_path: Path) -> None:
    results = compare(
        reference_path,
        tmp_path,
        """
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
""",
    )
    assert_all_within_tolerance(results, cases=9)


def test_linear_and_sequential_match_pytorch_with_the_same_weights(reference_path: str, tmp_path: Path) -> None:
    results = compare(
        reference_path,
        tmp_path,
        """
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
""",
    )
    assert_all_within_tolerance(results, cases=5)


def test_losses_match_pytorch(reference_path: str, tmp_path: Path) -> None:
    results = compare(
        reference_path,
        tmp_path,
        """
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
""",
    )
    assert_all_within_tolerance(results, cases=5)


def test_gradients_match_pytorch_in_float64(reference_path: str, tmp_path: Path) -> None:
    """Every differentiable operation, activation and loss, and a whole network, backward in float64 on both sides."""
    results = compare(
        reference_path,
        tmp_path,
        """
from tinytorch import Linear, ReLU, Sequential, Tensor
from tinytorch.core.activations import LeakyReLU, LogSoftmax, Sigmoid, Softmax, Tanh
from tinytorch.core.losses import BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss
torch.set_default_dtype(torch.float64)
Tensor.float_dtype = np.float64
rng = np.random.default_rng(3)

def gradients(function, *arrays):
    ours = [Tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out_ours, out_theirs = function(ours, "ours"), function(theirs, "torch")
    upstream = rng.normal(size=out_ours.shape)
    out_ours.backward(upstream)
    out_theirs.backward(torch.from_numpy(upstream))
    return [(o.grad.data, t.grad) for o, t in zip(ours, theirs)]

def case(name, function, *arrays):
    for position, (o, t) in enumerate(gradients(function, *arrays)):
        results[f"{name}, input {position}"] = worst(o, t)

a, b, c = rng.normal(size=(4, 3)), rng.normal(size=(3,)), rng.uniform(0.5, 2, size=(4, 1))
case("a + b - c * a / (c + 1)", lambda x, lib: x[0] + x[1] - x[2] * x[0] / (x[2] + 1.0), a, b, c)
case("-a ** 3 + 2 / c", lambda x, lib: -x[0] ** 3 + 2.0 / x[1], a, c)
case("exp, log", lambda x, lib: x[0].exp() + x[1].log(), a, c)
case("matmul (2, 4, 3) @ (3, 5)", lambda x, lib: x[0] @ x[1], rng.normal(size=(2, 4, 3)), rng.normal(size=(3, 5)))
case("matmul (3,) @ (3, 5)", lambda x, lib: x[0] @ x[1], rng.normal(size=(3,)), rng.normal(size=(3, 5)))
distinct = rng.permutation(24).reshape(2, 3, 4).astype(np.float64)
case("sum, mean over axes", lambda x, lib: x[0].sum(axis=(0, 2)) + (x[0].mean(axis=1, keepdims=True) if lib == "ours" else x[0].mean(dim=1, keepdim=True)).sum(axis=0).sum(axis=-1) if lib == "ours"
     else x[0].sum(dim=(0, 2)) + x[0].mean(dim=1, keepdim=True).sum(dim=0).sum(dim=-1), distinct)
case("max over axis 1", lambda x, lib: x[0].max(axis=1) if lib == "ours" else x[0].amax(dim=1), distinct)
case("reshape, transpose", lambda x, lib: x[0].reshape(4, 6).transpose(1, 0) if lib == "ours" else x[0].reshape(4, 6).permute(1, 0), distinct)
index = np.array([0, 2, 2, 1, 0, 0])
case("indexing with repeats", lambda x, lib: x[0][index] if lib == "ours" else x[0][torch.from_numpy(index)], rng.normal(size=(3, 4)))
x = rng.normal(scale=3.0, size=(6, 5))
for ours, theirs in [(ReLU(), torch.nn.ReLU()), (LeakyReLU(0.2), torch.nn.LeakyReLU(0.2)), (Sigmoid(), torch.nn.Sigmoid()), (Tanh(), torch.nn.Tanh()),
                     (Softmax(), torch.nn.Softmax(dim=-1)), (Softmax(axis=0), torch.nn.Softmax(dim=0)), (LogSoftmax(), torch.nn.LogSoftmax(dim=-1))]:
    case(repr(ours), lambda v, lib, ours=ours, theirs=theirs: (ours if lib == "ours" else theirs)(v[0]), x)
labels = rng.integers(0, 5, size=6)
targets = rng.normal(size=(6, 5))
for reduction in ("mean", "sum", "none"):
    case(f"CrossEntropyLoss({reduction})", lambda v, lib, r=reduction: CrossEntropyLoss(reduction=r)(v[0], labels) if lib == "ours"
         else torch.nn.CrossEntropyLoss(reduction=r)(v[0], torch.from_numpy(labels)), x)
case("MSELoss", lambda v, lib: MSELoss()(v[0], v[1]) if lib == "ours" else torch.nn.MSELoss()(v[0], v[1]), x, targets)
case("L1Loss", lambda v, lib: L1Loss()(v[0], targets) if lib == "ours" else torch.nn.L1Loss()(v[0], torch.from_numpy(targets)), x)
probabilities = rng.random(size=(6, 5))
case("BCEWithLogitsLoss", lambda v, lib: BCEWithLogitsLoss()(v[0], probabilities) if lib == "ours"
     else torch.nn.BCEWithLogitsLoss()(v[0], torch.from_numpy(probabilities)), x)

ours = Sequential(Linear(20, 16, rng=rng), ReLU(), Linear(16, 10, rng=rng))
theirs = torch.nn.Sequential(torch.nn.Linear(20, 16), torch.nn.ReLU(), torch.nn.Linear(16, 10))
with torch.no_grad():
    for i in (0, 2):
        ours[i].weight.data = ours[i].weight.data.astype(np.float64)
        ours[i].bias.data = rng.normal(size=ours[i].bias.shape)
        theirs[i].weight.copy_(torch.from_numpy(ours[i].weight.data.T.copy()))
        theirs[i].bias.copy_(torch.from_numpy(ours[i].bias.data))
batch, batch_labels = rng.normal(size=(32, 20)), rng.integers(0, 10, size=32)
CrossEntropyLoss()(ours(Tensor(batch)), batch_labels).backward()
torch.nn.CrossEntropyLoss()(theirs(torch.from_numpy(batch)), torch.from_numpy(batch_labels)).backward()
for i in (0, 2):
    results[f"network layer {i} weight gradient"] = worst(ours[i].weight.grad.data, theirs[i].weight.grad.T)
    results[f"network layer {i} bias gradient"] = worst(ours[i].bias.grad.data, theirs[i].bias.grad)
""",
    )
    assert_all_within_tolerance(results, cases=33)


def test_optimizer_steps_match_pytorch_in_float64(reference_path: str, tmp_path: Path) -> None:
    results = compare(
        reference_path,
        tmp_path,
        """
from tinytorch import Tensor
from tinytorch.core.optimizers import SGD, Adam
torch.set_default_dtype(torch.float64)
Tensor.float_dtype = np.float64
rng = np.random.default_rng(4)
start = [rng.normal(size=(3, 4)), rng.normal(size=(4,))]
steps = [[rng.normal(size=(3, 4)), rng.normal(size=(4,))] for _ in range(6)]
settings = [
    ("SGD", {"lr": 0.1}), ("SGD", {"lr": 0.05, "momentum": 0.9}), ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"lr": 0.1, "momentum": 0.5, "weight_decay": 0.01}), ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.1, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.05}),
]
for name, options in settings:
    ours = [Tensor(p, requires_grad=True) for p in start]
    theirs = [torch.tensor(p, requires_grad=True) for p in start]
    ours_optimizer = (SGD if name == "SGD" else Adam)(ours, **options)
    theirs_optimizer = (torch.optim.SGD if name == "SGD" else torch.optim.Adam)(theirs, **options)
    for number, grads in enumerate(steps, start=1):
        for o, t, g in zip(ours, theirs, grads):
            o.grad = Tensor(g)
            t.grad = torch.from_numpy(g.copy())
        ours_optimizer.step()
        theirs_optimizer.step()
    for position, (o, t) in enumerate(zip(ours, theirs)):
        results[f"{name}({options}) parameter {position} after 6 steps"] = worst(o.data, t)
""",
    )
    assert_all_within_tolerance(results, cases=12)
