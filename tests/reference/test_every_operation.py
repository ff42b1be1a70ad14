"""No gradient lost in silence: every operation the reference offers is walked and checked against
central differences, or is declared to have no gradient and says so when one reaches it."""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch as tt
from tinytorch import Tensor
from tinytorch.core.activations import LeakyReLU, LogSoftmax, Sigmoid, Softmax, Step, Tanh
from tinytorch.core.autograd import GradMode, InPlace, NoGradient, differentiates, gradcheck, no_grad, no_gradient
from tinytorch.core.losses import BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss
from tinytorch.core.tensor import EVERY_OTHER, GRAD_RULES, OPERATIONS, find_rule

pytestmark = pytest.mark.usefixtures("float64")
RNG = np.random.default_rng(7)
LABELS = np.array([0, 2, 1])
PROBABILITIES = RNG.uniform(0.1, 0.9, size=(3, 2))


def positive(*shape: int) -> np.ndarray:
    return RNG.uniform(0.5, 2.0, size=shape)


def away_from_zero(*shape: int) -> np.ndarray:
    return RNG.uniform(0.5, 2.0, size=shape) * RNG.choice([-1, 1], size=shape)


# operation -> (the function of tensors it is checked in, the arrays of the tensors requiring grad)
CASES = {
    "Tensor.__add__": (lambda a, b: a + b, [(2, 3), (3,)]),
    "Tensor.__radd__": (lambda a: 2.0 + a, [(2, 3)]),
    "Tensor.__sub__": (lambda a, b: a - b, [(3,), (2, 3)]),
    "Tensor.__rsub__": (lambda a: 1.0 - a, [(2, 3)]),
    "Tensor.__mul__": (lambda a, b: a * b, [(2, 3), (2, 1)]),
    "Tensor.__rmul__": (lambda a: 3.0 * a, [(2, 3)]),
    "Tensor.__truediv__": (lambda a, b: a / b, [(2, 3), positive(3)]),
    "Tensor.__rtruediv__": (lambda a: 1.0 / a, [positive(2, 3)]),
    "Tensor.__neg__": (lambda a: -a, [(2, 3)]),
    "Tensor.__pow__": (lambda a: a**3, [(2, 3)]),
    "Tensor.broadcast_to": (lambda a: a.broadcast_to((4, 2, 3)), [(2, 1)]),
    "Tensor.__matmul__": (lambda a, b: a @ b, [(2, 3, 4), (4, 2)]),
    "Tensor.__rmatmul__": (lambda a: np.ones((2, 3)) @ a, [(3, 4)]),
    "Tensor.sum": (lambda a: a.sum(axis=(0, 2), keepdims=True), [(2, 3, 2)]),
    "Tensor.mean": (lambda a: a.mean(axis=1), [(2, 3, 2)]),
    "Tensor.max": (lambda a: a.max(axis=0), [RNG.permutation(6).reshape(2, 3).astype(float)]),
    "Tensor.reshape": (lambda a: a.reshape(3, -1), [(2, 3, 2)]),
    "Tensor.transpose": (lambda a: a.transpose(2, 0, 1), [(2, 3, 4)]),
    "Tensor.__getitem__": (lambda a: a[np.array([0, 2, 2]), 1:], [(3, 4)]),
    "Tensor.exp": (lambda a: a.exp(), [(2, 3)]),
    "Tensor.log": (lambda a: a.log(), [positive(2, 3)]),
    "Tensor.flatten": (lambda a: a.flatten(1), [(2, 3, 2)]),
    "Tensor.view": (lambda a: a.view(3, 4), [(2, 3, 2)]),
    "Tensor.__rpow__": (lambda a: 2.0**a, [(2, 3)]),
    "Tensor.unsqueeze": (lambda a: a.unsqueeze(-1), [(2, 3)]),
    "Tensor.squeeze": (lambda a: a.squeeze(), [(2, 1, 3)]),
    "Tensor.clone": (lambda a: a.clone(), [(2, 3)]),
    "Tensor.sqrt": (lambda a: a.sqrt(), [positive(2, 3)]),
    "Tensor.abs": (lambda a: a.abs(), [away_from_zero(2, 3)]),
    "Tensor.relu": (lambda a: a.relu(), [away_from_zero(2, 3)]),
    "Tensor.sigmoid": (lambda a: a.sigmoid(), [(2, 3)]),
    "Tensor.tanh": (lambda a: a.tanh(), [(2, 3)]),
    "Tensor.softmax": (lambda a: a.softmax(axis=0), [(3, 4)]),
    "Tensor.log_softmax": (lambda a: a.log_softmax(1), [(3, 4)]),
    "ReLU": (lambda a: tt.ReLU()(a), [away_from_zero(2, 3)]),
    "LeakyReLU": (lambda a: LeakyReLU(0.2)(a), [away_from_zero(2, 3)]),
    "Sigmoid": (lambda a: Sigmoid()(a), [(2, 3)]),
    "Tanh": (lambda a: Tanh()(a), [(2, 3)]),
    "Softmax": (lambda a: Softmax(axis=0)(a), [(3, 4)]),
    "LogSoftmax": (lambda a: LogSoftmax()(a), [(3, 4)]),
    "L1Loss": (lambda a, b: L1Loss()(a, b), [away_from_zero(3, 2), (3, 2)]),
    "MSELoss": (lambda a, b: MSELoss()(a, b), [(3, 2), (3, 2)]),
    "CrossEntropyLoss": (lambda a: CrossEntropyLoss()(a, LABELS), [(3, 4)]),
    "BCEWithLogitsLoss": (lambda a: BCEWithLogitsLoss()(a, PROBABILITIES), [(3, 2)]),
}


def arrays(spec: list) -> list[np.ndarray]:
    return [RNG.normal(size=item) if isinstance(item, tuple) else np.asarray(item, dtype=np.float64) for item in spec]


def test_every_operation_is_checked_here_or_declared_without_a_gradient() -> None:
    declared = {
        name for name in OPERATIONS if isinstance(find_rule(name), type) and issubclass(find_rule(name), NoGradient)
    }
    comparisons = {f"Tensor.__{name}__" for name in ("eq", "ne", "lt", "le", "gt", "ge")}
    assert declared == {"Step", "Tensor.argmax", "Tensor.argmin", "Tensor.any", "Tensor.all"} | comparisons
    in_place = {name for name in OPERATIONS if find_rule(name) is InPlace}
    assert in_place == {f"Tensor.__i{name}__" for name in ("add", "sub", "mul", "truediv", "pow")}
    assert set(CASES) == OPERATIONS - declared - in_place, (
        "a new operation needs a case here (or a declaration with no_gradient)"
    )


@pytest.mark.parametrize("name", CASES)
def test_each_operation_carries_its_gradient(name: str) -> None:
    function, spec = CASES[name]
    inputs = [Tensor(array, requires_grad=True) for array in arrays(spec)]
    assert function(*inputs).requires_grad, f"{name} lost the gradient"
    assert gradcheck(function, *inputs)


def test_an_operation_without_a_gradient_says_so_when_one_reaches_it() -> None:
    x = Tensor([-1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="the gradient reached Step, which has none"):
        Step()(x).sum().backward()


def test_a_subclass_keeps_its_parents_rule_unless_it_has_a_forward_of_its_own() -> None:
    class MyReLU(tt.ReLU):
        pass

    class MyLoss(MSELoss):
        pass

    x = Tensor(away_from_zero(2, 3), requires_grad=True)
    assert gradcheck(lambda t: MyReLU()(t), x) and gradcheck(lambda t: MyLoss()(t, np.zeros((2, 3))), x)

    class Numpy(tt.ReLU):
        def forward(self, x: Tensor) -> Tensor:
            return Tensor(np.maximum(x.data, 0))

    with pytest.raises(RuntimeError, match="Numpy.forward has no backward rule"):
        Numpy()(x)

    class Composite(tt.ReLU):  # made of recorded operations: it carries their graph
        def forward(self, x: Tensor) -> Tensor:
            return x * Sigmoid()(x)

    assert gradcheck(lambda t: Composite()(t), x)


def test_an_operation_lost_in_a_rule_registration_is_an_error_there() -> None:
    with pytest.raises(ValueError, match="no operation is called 'Tensor.__sumt__'"):
        differentiates("Tensor.__sumt__")
    with pytest.raises(ValueError, match="no operation is called 'Relu'"):
        no_gradient("Relu", reason="a typo")
    assert GRAD_RULES[EVERY_OTHER].__name__ == "Unregistered"


def test_recording_comes_back_as_it_was() -> None:
    x = Tensor([1.0], requires_grad=True)
    with no_grad():
        assert (x * 2.0).grad_fn is None
        with no_grad():
            pass
        assert GradMode.enabled is False
    assert GradMode.enabled is True and (x * 2.0).grad_fn is not None


def test_only_tensor_operations_go_through_the_dispatcher() -> None:
    """Layers, the trainer and the data loader keep plain methods (no extra frame in a traceback)."""
    assert tt.Module.named_parameters.__qualname__.endswith("named_parameters")
    assert not hasattr(tt.Module.named_parameters, "__wrapped__")
    assert not hasattr(tt.Trainer.fit, "__wrapped__") and not hasattr(tt.DataLoader.__iter__, "__wrapped__")
    assert hasattr(Tensor.__add__, "__wrapped__") and not hasattr(Tensor.backward, "__wrapped__")
