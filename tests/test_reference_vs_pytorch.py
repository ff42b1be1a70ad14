"""The reference export computes what PyTorch computes: same inputs (and weights) in, the same
numbers out, within 1e-5 relative. Each comparison runs in a fresh interpreter whose `tinytorch`
is the reference export (this process imports the students' starting package)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the comparison needs PyTorch (the test extra installs it)")

RTOL, ATOL = 1e-5, 1e-7

COMPARE = """
import json
import numpy as np
import torch

def worst(ours, theirs):
    ours, theirs = np.asarray(ours, dtype=np.float64), theirs.detach().numpy().astype(np.float64)
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    excess = np.abs(ours - theirs) - ({atol} + {rtol} * np.abs(theirs))
    return float(excess.max())

results = {{}}
"""


def compare(reference_path: str, tmp_path: Path, body: str) -> dict[str, float]:
    """Run `body` (which fills `results` {case: worst excess over the tolerance}) against the reference."""
    code = COMPARE.format(atol=ATOL, rtol=RTOL) + body + "\nprint(json.dumps(results))\n"
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
