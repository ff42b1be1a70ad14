"""Property-based tests (hypothesis) of the reference autograd: any broadcast shapes, any reduction
axes, any permutation, repeated indices, fan-out and accumulation. Derandomized, so that every run
tries the same cases; a failure shows hypothesis's smallest example."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinytorch import Tensor
from tinytorch.core.autograd import gradcheck

SETTINGS = settings(max_examples=30, deadline=None, derandomize=True, database=None)
values = st.floats(-3, 3, allow_nan=False, width=64)
pytestmark = pytest.mark.usefixtures("float64")


def tensors(*shapes: tuple[int, ...], seed: int) -> list[Tensor]:
    rng = np.random.default_rng(seed)
    return [Tensor(rng.normal(size=shape), requires_grad=True) for shape in shapes]


@SETTINGS
@given(
    hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
    st.sampled_from(["+", "-", "*", "/"]),
    st.integers(0, 2**16),
)
def test_broadcasting_gradients_have_the_inputs_shapes(shapes, operator, seed) -> None:
    a, b = tensors(*shapes.input_shapes, seed=seed)
    if operator == "/":
        b.data = np.abs(b.data) + 0.5
    apply = {"+": lambda x, y: x + y, "-": lambda x, y: x - y, "*": lambda x, y: x * y, "/": lambda x, y: x / y}[
        operator
    ]
    out = apply(a, b)
    assert out.shape == shapes.result_shape
    out.backward(np.ones(out.shape))
    assert a.grad.shape == a.shape and b.grad.shape == b.shape, (a.shape, b.shape, a.grad.shape, b.grad.shape)
    assert gradcheck(apply, a, b)


@SETTINGS
@given(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), st.data(), st.integers(0, 2**16))
def test_reductions_over_any_axes(shape, data, seed) -> None:
    axes = st.lists(st.integers(0, len(shape) - 1), min_size=1, max_size=len(shape), unique=True).map(tuple)
    axis = data.draw(st.none() | st.integers(-len(shape), len(shape) - 1) | axes)
    keepdims = data.draw(st.booleans())
    (x,) = tensors(shape, seed=seed)
    # distinct values: max has one winner
    x.data = np.random.default_rng(seed).permutation(x.size).reshape(shape).astype(np.float64) / 3
    for method in ("sum", "mean", "max"):
        reduce = lambda t, method=method: getattr(t, method)(axis=axis, keepdims=keepdims)  # noqa: E731
        assert gradcheck(reduce, x), (method, shape, axis, keepdims)


@SETTINGS
@given(hnp.array_shapes(min_dims=1, max_dims=4, max_side=3), st.randoms(use_true_random=False), st.integers(0, 2**16))
def test_reshape_and_transpose(shape, random, seed) -> None:
    (x,) = tensors(shape, seed=seed)
    axes = list(range(len(shape)))
    random.shuffle(axes)
    assert gradcheck(lambda t: t.transpose(*axes).reshape(-1) * Tensor(np.arange(x.size, dtype=float)), x)


@SETTINGS
@given(st.integers(1, 5), st.lists(st.integers(0, 4), min_size=1, max_size=12), st.integers(0, 2**16))
def test_indexing_with_repeats_adds_up(rows, picks, seed) -> None:
    picks = [pick % rows for pick in picks]
    (x,) = tensors((rows, 3), seed=seed)
    x[np.array(picks)].sum().backward()
    assert np.allclose(x.grad.data, np.bincount(picks, minlength=rows)[:, None] * np.ones((1, 3)))


@SETTINGS
@given(hnp.arrays(np.float64, hnp.array_shapes(max_dims=2, max_side=4), elements=values), st.integers(1, 4))
def test_fan_out_and_accumulation(array, passes) -> None:
    x = Tensor(array, requires_grad=True)
    for _ in range(passes):
        (x * x + x).sum().backward()  # d/dx = 2x + 1, added once per pass
    assert np.allclose(x.grad.data, passes * (2 * x.data + 1), rtol=1e-5, atol=1e-5)


def test_gradients_work_whichever_module_is_imported_first() -> None:
    """Importing only tinytorch.core.tensor, in a fresh interpreter, runs the package's __init__,
    which registers every backward rule."""
    first_import = (
        "from tinytorch.core.tensor import GRAD_RULES, Tensor\n"
        "x = Tensor([1.0, 2.0], requires_grad=True)\n"
        "(x * x).sum().backward()\n"
        "print(type((x * 3.0).grad_fn).__name__, len(GRAD_RULES) > 20, x.grad.data.tolist())\n"
    )
    run = subprocess.run([sys.executable, "-c", first_import], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and run.stderr == "", run.stderr
    assert run.stdout.strip() == "Mul True [2.0, 4.0]"
