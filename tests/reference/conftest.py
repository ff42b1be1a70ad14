"""Checks of the reference library itself, the course's solution exported from source_solutions/.

They import `tinytorch`, so they run in an interpreter whose `tinytorch` is the reference, never the
students' starting package the test suite's own process imports: tests/test_reference.py runs them
so, and by hand: `tito export --reference && PYTHONPATH=.tito/reference .venv/bin/pytest tests/reference`
(not `python -m pytest` from the course folder, which puts the starting package first on the path).
"""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch

if getattr(tinytorch, "__exported_from__", None) != "source_solutions/":
    raise pytest.UsageError(
        f"tests/reference checks the reference library, but `import tinytorch` found {tinytorch.__file__}: "
        "run `tito export --reference`, then these tests with PYTHONPATH=.tito/reference"
    )


@pytest.fixture
def float64():
    """Exact comparisons: the reference's Tensor stores floating data as float64 for one test."""
    previous = tinytorch.Tensor.float_dtype
    tinytorch.Tensor.float_dtype = np.float64
    yield
    tinytorch.Tensor.float_dtype = previous
