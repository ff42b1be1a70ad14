"""The reference export, used as a student would use their finished library, really learns: the
milestone's MNIST network (784 -> 128 -> 10) passes 97% test accuracy in three epochs, through
load_mnist, the DataLoader, autograd, SGD and the Trainer. It runs in a fresh interpreter whose
`tinytorch` is the reference export; `import tinytorch` registers the gradients whichever module
is imported first."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

TRAIN = """
import json
import numpy as np
from tinytorch import CrossEntropyLoss, DataLoader, Linear, ReLU, Sequential, TensorDataset, load_mnist
from tinytorch.core.layers import manual_seed
from tinytorch.core.optimizers import SGD
from tinytorch.core.training import Trainer

(X_train, y_train), (X_test, y_test) = load_mnist()
train = DataLoader(TensorDataset(X_train.reshape(-1, 784), y_train), batch_size=64, shuffle=True, seed=0)
test = DataLoader(TensorDataset(X_test.reshape(-1, 784), y_test), batch_size=1000)
manual_seed(0)
model = Sequential(Linear(784, 128), ReLU(), Linear(128, 10))
trainer = Trainer(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.05, momentum=0.9))
history = trainer.fit(train, epochs=3, val_batches=test)
print(json.dumps({"test_accuracy": history["val_accuracy"][-1], "test_loss": history["val_loss"][-1], "first_step_loss": history["step_loss"][0]}))
"""

FIRST_IMPORT = """
import numpy as np
from tinytorch.core.tensor import GRAD_RULES, Tensor   # only the tensor module, first
x = Tensor([1.0, 2.0], requires_grad=True)
(x * x).sum().backward()
print(type((x * 3.0).grad_fn).__name__, len(GRAD_RULES) > 20, x.grad.data.tolist())
"""


def run(reference_path: str, tmp_path: Path, code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                            env={"PYTHONPATH": reference_path, "PATH": "", "OPENBLAS_NUM_THREADS": "1"}, timeout=600)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr
    return result.stdout.splitlines()[-1]


def test_the_reference_trains_the_mnist_mlp_above_97_percent(reference_path: str, tmp_path: Path) -> None:
    figures = json.loads(run(reference_path, tmp_path, TRAIN))
    assert abs(figures["first_step_loss"] - 2.30) < 0.25, figures  # an untrained network starts near ln 10
    assert figures["test_accuracy"] >= 0.97, figures
    assert figures["test_loss"] < 0.1, figures


def test_gradients_work_whichever_module_is_imported_first(reference_path: str, tmp_path: Path) -> None:
    assert run(reference_path, tmp_path, FIRST_IMPORT) == "Mul True [2.0, 4.0]"
