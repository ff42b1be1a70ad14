"""Property-based tests (hypothesis) of the reference autograd: any broadcast shapes, any reduction
axes, any permutation, repeated indices, fan-out and accumulation. They run in a fresh interpreter
whose `tinytorch` is the reference export (this process imports the students' starting package)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("hypothesis", reason="the property-based tests need hypothesis (the test extra installs it)")

CHECKS = Path(__file__).resolve().parent / "autograd_properties.py"


def test_autograd_properties_hold_for_any_shapes(reference_path: str, tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, str(CHECKS)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": reference_path, "PATH": "", "OPENBLAS_NUM_THREADS": "1"},
        timeout=600,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count(": passed") == 5, run.stdout


FIRST_IMPORT = """
from tinytorch.core.tensor import GRAD_RULES, Tensor   # only the tensor module, first
x = Tensor([1.0, 2.0], requires_grad=True)
(x * x).sum().backward()
print(type((x * 3.0).grad_fn).__name__, len(GRAD_RULES) > 20, x.grad.data.tolist())
"""


def test_gradients_work_whichever_module_is_imported_first(reference_path: str, tmp_path: Path) -> None:
    """Importing only tinytorch.core.tensor runs the package's __init__, which registers every backward rule."""
    run = subprocess.run(
        [sys.executable, "-c", FIRST_IMPORT],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": reference_path, "PATH": "", "OPENBLAS_NUM_THREADS": "1"},
        timeout=300,
    )
    assert run.returncode == 0 and run.stderr == "", run.stderr
    assert run.stdout.strip() == "Mul True [2.0, 4.0]"
