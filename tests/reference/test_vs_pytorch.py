"""The reference computes what PyTorch computes: same inputs (and weights) in, the same numbers out,
within 1e-5 relative (the largest difference over the largest value of the output: float32 sums of
hundreds of terms differ in their last bits whoever computes them)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the comparison needs PyTorch (the test extra installs it)")

from tinytorch import CrossEntropyLoss, Linear, MSELoss, ReLU, Sequential, Tensor  # noqa: E402
from tinytorch.core.activations import LeakyReLU, LogSoftmax, Sigmoid, Softmax, Tanh  # noqa: E402
from tinytorch.core.losses import BCEWithLogitsLoss, L1Loss  # noqa: E402
from tinytorch.core.optimizers import SGD, Adam  # noqa: E402

RTOL = 1e-5


def assert_close(ours, theirs) -> None:
    """The largest difference, relative to the largest value of PyTorch's output, is within RTOL."""
    ours = np.asarray(ours, dtype=np.float64)
    theirs = theirs.detach().numpy().astype(np.float64) if hasattr(theirs, "detach") else np.asarray(theirs, np.float64)
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    scale = max(float(np.abs(theirs).max()), 1e-30)
    assert float(np.abs(ours - theirs).max()) / scale <= RTOL


@pytest.fixture
def float64_both(float64):
    """float64 on both sides, for gradients and optimizer steps."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


# --- forward passes, float32 --------------------------------------------------------------------

_rng = np.random.default_rng(0)
X = np.concatenate([_rng.normal(scale=10.0, size=(30, 7)), [[-1000.0, -90.0, -1.0, 0.0, 1.0, 90.0, 1000.0]]]).astype(
    np.float32
)
CUBE = _rng.normal(scale=5.0, size=(3, 4, 5)).astype(np.float32)
ACTIVATIONS = [
    (ReLU(), torch.nn.ReLU(), X),
    (LeakyReLU(0.2), torch.nn.LeakyReLU(0.2), X),
    (Sigmoid(), torch.nn.Sigmoid(), X),
    (Tanh(), torch.nn.Tanh(), X),
    (Softmax(), torch.nn.Softmax(dim=-1), X),
    (Softmax(axis=0), torch.nn.Softmax(dim=0), X),
    (Softmax(axis=1), torch.nn.Softmax(dim=1), CUBE),
    (LogSoftmax(), torch.nn.LogSoftmax(dim=-1), X),
    (LogSoftmax(axis=0), torch.nn.LogSoftmax(dim=0), CUBE),
]


@pytest.mark.parametrize(("ours", "theirs", "data"), ACTIVATIONS, ids=[f"{a!r}-{d.shape}" for a, _, d in ACTIVATIONS])
def test_activations_match_pytorch(ours, theirs, data) -> None:
    assert_close(ours(Tensor(data)).data, theirs(torch.from_numpy(data)))


@pytest.fixture(scope="module")
def same_network():
    """(ours, PyTorch's, rng): 784 -> 128 -> ReLU -> 10 with the same weights and biases."""
    rng = np.random.default_rng(1)
    ours = Sequential(Linear(784, 128, rng=rng), ReLU(), Linear(128, 10, rng=rng))
    for layer in (ours[0], ours[2]):
        layer.bias.data[...] = rng.normal(size=layer.bias.shape)
    theirs = torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
    with torch.no_grad():
        for index in (0, 2):
            theirs[index].weight.copy_(torch.from_numpy(ours[index].weight.data.T.copy()))  # PyTorch stores (out, in)
            theirs[index].bias.copy_(torch.from_numpy(ours[index].bias.data))
    return ours, theirs, rng


@pytest.mark.parametrize("part", ["Linear(784, 128)", "Sequential(784 -> 128 -> 10)", "one example (784,)"])
def test_linear_and_sequential_match_pytorch_with_the_same_weights(same_network, part: str) -> None:
    ours, theirs, _ = same_network
    x = np.random.default_rng(5).random((64, 784)).astype(np.float32)
    if part == "Linear(784, 128)":
        ours, theirs = ours[0], theirs[0]
    if part == "one example (784,)":
        x = x[0]
    assert_close(ours(Tensor(x)).data, theirs(torch.from_numpy(x)))


def test_a_linear_layer_without_bias_on_a_batch_of_sequences() -> None:
    rng = np.random.default_rng(6)
    plain, torch_plain = Linear(5, 3, bias=False, rng=rng), torch.nn.Linear(5, 3, bias=False)
    with torch.no_grad():
        torch_plain.weight.copy_(torch.from_numpy(plain.weight.data.T.copy()))
    y = rng.normal(size=(2, 4, 5)).astype(np.float32)
    assert_close(plain(Tensor(y)).data, torch_plain(torch.from_numpy(y)))


def test_the_parameter_counts_agree(same_network) -> None:
    ours, theirs, _ = same_network
    assert sum(p.size for p in ours.parameters()) == sum(p.numel() for p in theirs.parameters())


_rng = np.random.default_rng(2)
LOGITS = np.concatenate([_rng.normal(scale=3.0, size=(62, 10)), [[1e4] + [0.0] * 9, [-1e4] * 9 + [1e4]]]).astype(
    np.float32
)
LABELS = np.concatenate([_rng.integers(0, 10, size=62), [0, 3]])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_matches_pytorch_for_large_logits(reduction: str) -> None:
    ours = CrossEntropyLoss(reduction=reduction)(Tensor(LOGITS), LABELS).data
    theirs = torch.nn.CrossEntropyLoss(reduction=reduction)(torch.from_numpy(LOGITS), torch.from_numpy(LABELS))
    assert_close(ours, theirs)


def test_mse_and_binary_cross_entropy_match_pytorch() -> None:
    rng = np.random.default_rng(7)
    prediction, target = rng.normal(size=(16, 3)).astype(np.float32), rng.normal(size=(16, 3)).astype(np.float32)
    mse = torch.nn.MSELoss()(torch.from_numpy(prediction), torch.from_numpy(target))
    assert_close(MSELoss()(Tensor(prediction), target).data, mse)
    logits = np.concatenate([rng.normal(scale=20.0, size=30), [1000.0, -1000.0]]).astype(np.float32)
    targets = rng.integers(0, 2, size=32).astype(np.float32)
    bce = torch.nn.BCEWithLogitsLoss()(torch.from_numpy(logits), torch.from_numpy(targets))
    assert_close(BCEWithLogitsLoss()(Tensor(logits), targets).data, bce)


# --- gradients, float64 on both sides --------------------------------------------------------------


def _both(function, *arrays):
    """function(tensors, lib) backward from the same random upstream on both sides; [(ours, theirs)] per input."""
    ours = [Tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out_ours, out_theirs = function(ours, "ours"), function(theirs, "torch")
    upstream = np.random.default_rng(8).normal(size=out_ours.shape)
    out_ours.backward(upstream)
    out_theirs.backward(torch.from_numpy(upstream))
    return [(o.grad.data, t.grad) for o, t in zip(ours, theirs, strict=True)]


_rng = np.random.default_rng(3)
A, B, C = _rng.normal(size=(4, 3)), _rng.normal(size=(3,)), _rng.uniform(0.5, 2, size=(4, 1))
DISTINCT = _rng.permutation(24).reshape(2, 3, 4).astype(np.float64)
INDEX = np.array([0, 2, 2, 1, 0, 0])
Z = _rng.normal(scale=3.0, size=(6, 5))
CLASSES = _rng.integers(0, 5, size=6)
TARGETS = _rng.normal(size=(6, 5))
PROBABILITIES = _rng.random(size=(6, 5))


def _mean_then_sums(x, lib):
    if lib == "ours":
        return x[0].sum(axis=(0, 2)) + x[0].mean(axis=1, keepdims=True).sum(axis=0).sum(axis=-1)
    return x[0].sum(dim=(0, 2)) + x[0].mean(dim=1, keepdim=True).sum(dim=0).sum(dim=-1)


def _cross_entropy(reduction):
    def loss(v, lib):
        if lib == "ours":
            return CrossEntropyLoss(reduction=reduction)(v[0], CLASSES)
        return torch.nn.CrossEntropyLoss(reduction=reduction)(v[0], torch.from_numpy(CLASSES))

    return loss


def _activation(ours, theirs):
    return lambda v, lib: (ours if lib == "ours" else theirs)(v[0])


GRADIENTS = {
    "a + b - c * a / (c + 1)": (lambda x, lib: x[0] + x[1] - x[2] * x[0] / (x[2] + 1.0), (A, B, C)),
    "-a ** 3 + 2 / c": (lambda x, lib: -(x[0] ** 3) + 2.0 / x[1], (A, C)),
    "exp, log": (lambda x, lib: x[0].exp() + x[1].log(), (A, C)),
    "matmul (2, 4, 3) @ (3, 5)": (lambda x, lib: x[0] @ x[1], (_rng.normal(size=(2, 4, 3)), _rng.normal(size=(3, 5)))),
    "matmul (3,) @ (3, 5)": (lambda x, lib: x[0] @ x[1], (_rng.normal(size=(3,)), _rng.normal(size=(3, 5)))),
    "sum, mean over axes": (_mean_then_sums, (DISTINCT,)),
    "max over axis 1": (lambda x, lib: x[0].max(axis=1) if lib == "ours" else x[0].amax(dim=1), (DISTINCT,)),
    "reshape, transpose": (
        lambda x, lib: x[0].reshape(4, 6).transpose(1, 0) if lib == "ours" else x[0].reshape(4, 6).permute(1, 0),
        (DISTINCT,),
    ),
    "indexing with repeats": (
        lambda x, lib: x[0][INDEX] if lib == "ours" else x[0][torch.from_numpy(INDEX)],
        (_rng.normal(size=(3, 4)),),
    ),
    **{
        repr(ours): (_activation(ours, theirs), (Z,))
        for ours, theirs in [
            (ReLU(), torch.nn.ReLU()),
            (LeakyReLU(0.2), torch.nn.LeakyReLU(0.2)),
            (Sigmoid(), torch.nn.Sigmoid()),
            (Tanh(), torch.nn.Tanh()),
            (Softmax(), torch.nn.Softmax(dim=-1)),
            (Softmax(axis=0), torch.nn.Softmax(dim=0)),
            (LogSoftmax(), torch.nn.LogSoftmax(dim=-1)),
        ]
    },
    **{f"CrossEntropyLoss({r})": (_cross_entropy(r), (Z,)) for r in ("mean", "sum", "none")},
    "MSELoss": (
        lambda v, lib: MSELoss()(v[0], v[1]) if lib == "ours" else torch.nn.MSELoss()(v[0], v[1]),
        (Z, TARGETS),
    ),
    "L1Loss": (
        lambda v, lib: L1Loss()(v[0], TARGETS) if lib == "ours" else torch.nn.L1Loss()(v[0], torch.from_numpy(TARGETS)),
        (Z,),
    ),
    "BCEWithLogitsLoss": (
        lambda v, lib: (
            BCEWithLogitsLoss()(v[0], PROBABILITIES)
            if lib == "ours"
            else torch.nn.BCEWithLogitsLoss()(v[0], torch.from_numpy(PROBABILITIES))
        ),
        (Z,),
    ),
}


@pytest.mark.usefixtures("float64_both")
@pytest.mark.parametrize("case", GRADIENTS)
def test_gradients_match_pytorch_in_float64(case: str) -> None:
    """Every differentiable operation, activation and loss: each input's gradient."""
    function, arrays = GRADIENTS[case]
    for ours, theirs in _both(function, *arrays):
        assert_close(ours, theirs)


@pytest.mark.usefixtures("float64_both")
def test_a_whole_networks_gradients_match_pytorch_in_float64() -> None:
    rng = np.random.default_rng(9)
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
        assert_close(ours[i].weight.grad.data, theirs[i].weight.grad.T)
        assert_close(ours[i].bias.grad.data, theirs[i].bias.grad)


# --- optimizer steps, float64 ----------------------------------------------------------------------

SETTINGS = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.05, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"lr": 0.1, "momentum": 0.5, "weight_decay": 0.01}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.1, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.05}),
]


@pytest.mark.usefixtures("float64_both")
@pytest.mark.parametrize(("name", "options"), SETTINGS, ids=[f"{n}{o}" for n, o in SETTINGS])
def test_optimizer_steps_match_pytorch_in_float64(name: str, options: dict) -> None:
    rng = np.random.default_rng(4)
    start = [rng.normal(size=(3, 4)), rng.normal(size=(4,))]
    steps = [[rng.normal(size=(3, 4)), rng.normal(size=(4,))] for _ in range(6)]
    ours = [Tensor(p, requires_grad=True) for p in start]
    theirs = [torch.tensor(p, requires_grad=True) for p in start]
    ours_optimizer = (SGD if name == "SGD" else Adam)(ours, **options)
    theirs_optimizer = (torch.optim.SGD if name == "SGD" else torch.optim.Adam)(theirs, **options)
    for grads in steps:
        for o, t, g in zip(ours, theirs, grads, strict=True):
            o.grad = Tensor(g)
            t.grad = torch.from_numpy(g.copy())
        ours_optimizer.step()
        theirs_optimizer.step()
    for o, t in zip(ours, theirs, strict=True):
        assert_close(o.data, t)
