"""The library as a PyTorch user meets it: the silent traps raise or do the right thing, and the
everyday names work (API.md, "Coming from PyTorch"). Each trap is a test named after it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinytorch as tt
from tinytorch import Tensor, no_grad
from tinytorch.core.autograd import GradMode

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "docs" / "from-pytorch" / "quickstart.py"


# ----- silent traps ------------------------------------------------------------------------
def test_a_hand_written_sgd_step_changes_the_parameter_itself_and_trains() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 3))
    y = x @ np.array([[1.0], [-2.0], [0.5]])
    w = Tensor(np.zeros((3, 1)), requires_grad=True)
    held = w  # what an optimizer or a model holds
    losses = []
    for _ in range(20):
        loss = ((Tensor(x) @ w - Tensor(y)) ** 2).mean()
        loss.backward()
        with no_grad():
            w -= 0.1 * w.grad
        w.zero_grad()
        losses.append(loss.item())
    assert w is held and held.requires_grad, "p -= u must change p itself, not bind a new tensor to the name"
    assert losses[-1] < 0.5 * losses[0], losses


@pytest.mark.parametrize("update", ["+=", "-=", "*=", "/=", "**="])
def test_in_place_operators_change_the_tensor_and_refuse_where_a_graph_is_recorded(update: str) -> None:
    t = Tensor([1.0, 2.0])
    data = t.data
    exec(f"t {update} 2.0", {}, {"t": t})  # each operator as written
    expected = {"+=": [3, 4], "-=": [-1, 0], "*=": [2, 4], "/=": [0.5, 1], "**=": [1, 4]}[update]
    assert np.allclose(t.data, expected) and t.data is data and t.dtype == np.float32
    leaf = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="requires grad.*no_grad"):
        exec(f"leaf {update} 2.0", {}, {"leaf": leaf})
    non_leaf = leaf * 1.0
    with pytest.raises(RuntimeError, match="in place"):
        exec(f"non_leaf {update} 2.0", {}, {"non_leaf": non_leaf})
    total = Tensor([0.0, 0.0])
    with pytest.raises(RuntimeError, match="in place"):  # the right side's gradient would be lost
        exec(f"total {update} leaf", {}, {"total": total, "leaf": leaf})
    with no_grad():
        exec(f"leaf {update} 2.0", {}, {"leaf": leaf})
    assert np.allclose(leaf.data, expected) and leaf.requires_grad


def test_in_place_keeps_shape_and_dtype_or_says_why_not() -> None:
    labels = Tensor([1, 2])
    with pytest.raises(TypeError, match="int64.*t = t / u"):
        labels /= 2
    row = Tensor([1.0, 2.0])
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        row += np.ones((3, 2))
    with pytest.raises(TypeError, match="a = a @ b"):
        row @= row
    labels += 1
    assert labels.tolist() == [2, 3] and labels.dtype == np.int64


def test_comparisons_are_elementwise_boolean_and_carry_no_gradient() -> None:
    a = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = Tensor([1.0, 0.0, 3.0])
    cases = {
        "==": (a == b, [True, False, True]),
        "!=": (a != b, [False, True, False]),
        "<": (a < 2.0, [True, False, False]),
        "<=": (a <= 2.0, [True, True, False]),
        ">": (a > b, [False, True, False]),
        ">=": (np.array([2.0, 2.0, 2.0]) >= a, [True, True, False]),  # a numpy array on the left
    }
    for symbol, (result, expected) in cases.items():
        assert isinstance(result, Tensor) and result.dtype == np.bool_, symbol
        assert result.tolist() == expected and not result.requires_grad and result.grad_fn is None, symbol
    labels = Tensor([0, 2, 1])
    logits = Tensor([[2.0, 1.0, 0.0], [0.0, 1.0, 3.0], [1.0, 0.0, 0.0]])
    assert float((logits.argmax(axis=1) == labels).mean()) == pytest.approx(2 / 3), "a half-ported accuracy line"


def test_a_tensor_is_still_hashable_by_identity() -> None:
    a, b = Tensor([1.0]), Tensor([1.0])
    assert len({a, b}) == 2 and {a: "a"}[a] == "a" and a in [a]


def test_bool_of_several_elements_raises_and_of_one_is_its_value() -> None:
    assert bool(Tensor([0.0])) is False and bool(Tensor(2.0)) is True
    with pytest.raises(RuntimeError, match=r"ambiguous.*\.all\(\).*\.any\(\)"):
        bool(Tensor([1.0, 1.0]) == Tensor([1.0, 1.0]))
    with pytest.raises(RuntimeError, match="0 elements"):
        bool(Tensor(np.zeros(0)))


def test_the_dtype_rule_for_mixed_arithmetic() -> None:
    ints, floats = Tensor([1, 2]), Tensor([1.0, 2.0])
    assert ints.dtype == np.int64 and floats.dtype == np.float32
    assert (ints + ints).dtype == np.int64 and (ints * 2).dtype == np.int64
    for result in (ints + floats, ints * 0.5, ints / ints, 0.5 * ints, ints + np.ones(2)):
        assert result.dtype == np.float32


# ----- everyday names ----------------------------------------------------------------------
def test_argmax_argmin_any_all_along_an_axis() -> None:
    x = Tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    assert x.argmax().item() == 3 and x.argmax(axis=1).tolist() == [1, 0] and x.argmin(axis=0).tolist() == [0, 1, 0]
    assert x.argmax(1, keepdims=True).shape == (2, 1)
    assert (x > 6).any().item() and not (x > 6).all().item() and (x > 6).any(axis=1).tolist() == [False, True]


def test_mask_indexing_keeps_the_gradient_of_the_kept_elements() -> None:
    x = Tensor([[1.0, -1.0], [2.0, -3.0]], requires_grad=True)
    kept = x[x > 0]
    assert kept.tolist() == [1.0, 2.0]
    kept.sum().backward()
    assert x.grad.tolist() == [[1.0, 0.0], [1.0, 0.0]]


def test_python_numbers_lists_indices_and_powers() -> None:
    assert float(Tensor([2.5])) == 2.5 and int(Tensor(3)) == 3 and Tensor([[1, 2]]).tolist() == [[1, 2]]
    assert ["a", "b", "c"][Tensor([0.1, 0.9, 0.0]).argmax()] == "b"
    with pytest.raises(TypeError, match="integer tensor"):
        [1, 2][Tensor(1.0)]
    assert np.allclose((2 ** Tensor([0.0, 1.0, 3.0])).data, [1, 2, 8])
    assert tt.gradcheck(lambda t: 3.0**t, Tensor(np.array([0.5, -1.0]), requires_grad=True))
    with pytest.raises(ValueError, match="positive"):
        (-2) ** Tensor([1.0])


def test_flatten_view_and_the_flatten_layer() -> None:
    images = Tensor(np.arange(2 * 3 * 4.0).reshape(2, 3, 4))
    assert images.flatten().shape == (24,) and images.flatten(1).shape == (2, 12) and images.view(4, -1).shape == (4, 6)
    layer = tt.Flatten()
    assert layer(images).shape == (2, 12) and repr(layer) == "Flatten(start_axis=1)" and layer.parameters() == []
    model = tt.Sequential(tt.Flatten(), tt.Linear(12, 2))
    assert model(images).shape == (2, 2)


def test_making_tensors_and_seeding() -> None:
    assert tt.zeros(2, 3).shape == (2, 3) and tt.zeros((2, 3)).dtype == np.float32 and tt.ones(4).tolist() == [1.0] * 4
    assert tt.tensor([1.0], requires_grad=True).requires_grad and tt.randn(3, 2).dtype == np.float32
    tt.manual_seed(5)
    first, layer = tt.randn(3), tt.Linear(2, 2)
    tt.manual_seed(5)
    assert (tt.randn(3) == first).all().item() and np.array_equal(tt.Linear(2, 2).weight.data, layer.weight.data)


def test_pytorch_keywords_raise_naming_the_course_word() -> None:
    x = Tensor(np.ones((2, 3)))
    with pytest.raises(TypeError, match="write axis=1"):
        x.sum(dim=1)
    with pytest.raises(TypeError, match="keepdims="):
        x.mean(axis=1, keepdim=True)
    with pytest.raises(TypeError, match="write axis=1"):
        x.argmax(dim=1)
    with pytest.raises(TypeError, match="Softmax.*write axis=1"):
        tt.Softmax(dim=1)
    with pytest.raises(TypeError, match="start_axis="):
        x.flatten(start_dim=1)


def test_the_cpu_is_the_only_device() -> None:
    model, x = tt.Linear(2, 2), Tensor([1.0])
    assert model.to("cpu") is model and x.to("cpu") is x
    with pytest.raises(ValueError, match="CPU only"):
        model.to("cuda")


def test_no_grad_decorates_a_function_and_restores_the_mode() -> None:
    @no_grad()
    def predict(t: Tensor) -> Tensor:
        return predict_inner(t) if t.size > 1 else t * 2.0

    @no_grad()
    def predict_inner(t: Tensor) -> Tensor:
        return t[0:1] * 2.0

    w = Tensor([1.0, 2.0], requires_grad=True)
    assert predict.__name__ == "predict" and predict(w).grad_fn is None and GradMode.enabled
    with pytest.raises(ZeroDivisionError):
        no_grad()(lambda: 1 / 0)()
    assert GradMode.enabled and (w * 2.0).grad_fn is not None


def test_every_module_prints_its_tree() -> None:
    class Net(tt.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = tt.Sequential(tt.Linear(4, 3), tt.ReLU())
            self.head = tt.Linear(3, 2)

    assert repr(Net()) == (
        "Net(\n  (body): Sequential(\n    (0): Linear(in_features=4, out_features=3, bias=True)\n    (1): ReLU()\n  )\n"
        "  (head): Linear(in_features=3, out_features=2, bias=True)\n)"
    )

    class Empty(tt.Module):
        pass

    assert repr(Empty()) == "Empty()"


def test_save_and_load_at_the_top_level(tmp_path: Path) -> None:
    model = tt.Sequential(tt.Linear(3, 2))
    written = tt.save(model.state_dict(), tmp_path / "model.pth")
    assert written.name == "model.pth.npz"
    other = tt.Sequential(tt.Linear(3, 2))
    other.load_state_dict(tt.load(tmp_path / "model.pth", weights_only=True))  # finds model.pth.npz
    assert np.array_equal(other[0].weight.data, model[0].weight.data)
    assert sorted(tt.load(tt.save(model, tmp_path / "whole.npz"))) == ["0.bias", "0.weight"]
    with pytest.raises(ValueError, match="numbers only"):
        tt.load(written, weights_only=False)
    with pytest.raises(TypeError, match="Module or a state dict"):
        tt.save([1, 2], tmp_path / "list")


def test_the_namespaces_of_ported_imports() -> None:
    import tinytorch.nn as nn  # noqa: PLR0402 - the line ported code starts with
    import tinytorch.optim as optim  # noqa: PLR0402
    from tinytorch.optim.lr_scheduler import StepLR
    from tinytorch.utils.data import DataLoader, TensorDataset

    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2), nn.ReLU())
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    assert isinstance(StepLR(optimizer, step_size=1), tt.StepLR) and tt.optim.Adam is tt.Adam
    assert nn.CrossEntropyLoss is tt.CrossEntropyLoss and nn.Module is tt.Module
    assert len(DataLoader(TensorDataset(np.zeros((5, 2, 2)), np.zeros(5)), batch_size=2)) == 3


# ----- the quickstart port -----------------------------------------------------------------
def changed_lines() -> list[str]:
    return [line for line in QUICKSTART.read_text(encoding="utf-8").splitlines() if "  # changed:" in line]


def test_the_readme_counts_the_quickstart_ports_changed_lines() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    claimed = re.search(r"needs (\d+) changed lines", readme)
    assert claimed and int(claimed.group(1)) == len(changed_lines()), "the README's count must be the port's"


def test_the_ported_quickstart_runs_and_learns() -> None:
    environment = {**os.environ, "QUICKSTART_SAMPLES": "6000", "QUICKSTART_EPOCHS": "2", "OPENBLAS_NUM_THREADS": "1"}
    run = subprocess.run(
        [sys.executable, str(QUICKSTART)], capture_output=True, text=True, env=environment, timeout=300, check=False
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    accuracies = [float(value) for value in re.findall(r"Accuracy: ([\d.]+)%", run.stdout)]
    assert len(accuracies) == 2 and accuracies[1] > accuracies[0], run.stdout
    assert "Sequential(" in run.stdout and 'Predicted: "' in run.stdout


def test_shapes_copies_and_elementwise_names() -> None:
    x = Tensor([[-1.0, 2.0, -3.0]], requires_grad=True)
    assert x.unsqueeze(0).shape == (1, 1, 3) and x.unsqueeze(-1).shape == (1, 3, 1) and x.squeeze().shape == (3,)
    with pytest.raises(ValueError, match="size 3, not 1"):
        x.squeeze(1)
    copy = x.clone()
    assert copy.data is not x.data and copy.requires_grad and x.numel() == 3
    assert x.abs().tolist() == [[1.0, 2.0, 3.0]] and np.allclose(Tensor([4.0, 9.0]).sqrt().data, [2, 3])
    assert tt.zeros_like(x).shape == x.shape and tt.ones_like(x).dtype == np.float32
    assert x.relu().tolist() == [[0.0, 2.0, 0.0]] and np.allclose(x.softmax(axis=1).data.sum(), 1.0)
    assert np.allclose(x.tanh().data, np.tanh(x.data)) and np.allclose(x.sigmoid().data, 1 / (1 + np.exp(-x.data)))
    with pytest.raises(TypeError, match="write axis=1"):
        x.softmax(dim=1)
