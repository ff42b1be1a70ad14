"""tito.student.checks: the messages test cells fail with name the case, the mistake and what was expected."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

from tito.student.checks import CheckFailed, check_equal, check_raises, check_tensor, check_type


class Box:
    """A stand-in for a student's Tensor: numbers in `.data`."""

    def __init__(self, data) -> None:
        self.data = np.array(data, dtype=np.float32)

    def __sub__(self, other: Box) -> Box:
        self.data -= other.data  # the in-place bug
        return Box(self.data)

    def __matmul__(self, other: Box) -> Box:
        inner = other.shape[-2]  # the bug: a 1-D right side has no second-to-last axis
        return Box(self.data @ other.data[:inner])

    @property
    def shape(self) -> tuple:
        return self.data.shape


def test_an_error_inside_the_students_code_names_the_case() -> None:
    a, v = Box([[1.0, 2.0]]), Box([1.0, 2.0])
    with pytest.raises(
        CheckFailed, match=r"^a @ v: raised IndexError: tuple index out of range — a matrix times a vector$"
    ) as failure:
        check_tensor(lambda: a @ v, [5.0], Box, "a @ v", error_hint="a matrix times a vector")
    assert isinstance(failure.value.__cause__, IndexError), "the student's own traceback stays attached"


def test_a_hint_about_the_result_is_not_attached_to_an_error_it_does_not_explain() -> None:
    a, v = Box([[1.0, 2.0]]), Box([1.0, 2.0])
    with pytest.raises(CheckFailed, match=r"^a @ v: raised IndexError: tuple index out of range$"):
        check_tensor(lambda: a @ v, [5.0], Box, "a @ v", hint="return a Python float")
    with pytest.raises(CheckFailed, match=r"raised IndexError: tuple index out of range — the inner axes$"):
        check_tensor(lambda: a @ v, [5.0], Box, "a @ v", hint="the inner axes", error_hint=True)


def test_a_stub_passes_through_so_reports_can_say_not_attempted() -> None:
    def stub():
        raise NotImplementedError("Exercise 01.4: Tensor.__matmul__")

    with pytest.raises(NotImplementedError, match="Exercise 01.4"):
        check_tensor(stub, [1.0], Box, "a @ v")


def test_an_in_place_change_is_named_before_the_values() -> None:
    a, b = Box([1.0, 2.0]), Box([10.0, 20.0])
    with pytest.raises(
        CheckFailed,
        match=r"^a - b: changed its input a in place \(a\[0\] was 1\.0, is now -9\.0\) — .*no `-=` on its \.data",
    ):
        check_tensor(lambda: a - b, [-9.0, -18.0], Box, "a - b", inputs={"a": a, "b": b})


def test_a_result_that_holds_its_inputs_numbers_is_named() -> None:
    x = Box([[1.0, 2.0], [3.0, 4.0]])

    def wrapped(array: np.ndarray) -> Box:  # as Tensor.from_numpy: no copy
        box = Box.__new__(Box)
        box.data = array
        return box

    for what, view in (
        ("x.T", lambda: wrapped(x.data.T)),
        ("x[0]", lambda: wrapped(x.data[0])),
        ("x", lambda: wrapped(x.data)),
    ):
        with pytest.raises(
            CheckFailed, match=rf"^{re.escape(what)}: shares its numbers with its input x: .* — a Tensor owns"
        ):
            check_tensor(view, np.asarray(view().data), Box, what, inputs={"x": x})
    check_tensor(lambda: Box(x.data.T), [[1.0, 3.0], [2.0, 4.0]], Box, "x.T copied", inputs={"x": x})
    check_tensor(lambda: wrapped(x.data @ x.data), [[7.0, 10.0], [15.0, 22.0]], Box, "x @ x", inputs={"x": x})


def test_values_shapes_and_types_in_that_order() -> None:
    with pytest.raises(CheckFailed, match=r"got a list; expected a Box"):
        check_tensor(lambda: [1.0], [1.0], Box, "x")
    with pytest.raises(CheckFailed, match=r"x: got shape \(2,\); expected \(1, 2\) — hint"):
        check_tensor(lambda: Box([1.0, 2.0]), [[1.0, 2.0]], Box, "x", hint="hint")
    with pytest.raises(CheckFailed, match=r"values differ at index \(1,\): got 3, expected 2 \(1 of 2 elements off\)"):
        check_tensor(lambda: Box([1.0, 3.0]), [1.0, 2.0], Box, "x")
    assert check_type(lambda: Box([1.0]), Box, "x").data.tolist() == [1.0], "a check hands back the value it checked"


def test_exact_formats_and_error_messages() -> None:
    with pytest.raises(CheckFailed, match=r"^repr\(t\): got 'Box\(1\)'; expected 'Tensor\(1\)'$"):
        check_equal(lambda: "Box(1)", "Tensor(1)", "repr(t)")
    with pytest.raises(CheckFailed, match=r"should mention \['\(2, 3\)'\]"):
        check_raises(
            ValueError, lambda: (_ for _ in ()).throw(ValueError("bad shape")), "x.reshape(4)", mentions=("(2, 3)",)
        )
    with pytest.raises(CheckFailed, match=r"raised KeyError\('k'\); expected a ValueError"):
        check_raises(ValueError, lambda: {}["k"], "lookup")


def test_a_warning_fails_the_case_instead_of_printing_to_stderr() -> None:
    big = np.array([1000.0], dtype=np.float32)
    with pytest.raises(
        CheckFailed, match=r"^sigmoid\(1000\): numpy warned: overflow encountered in exp .* — subtract the maximum$"
    ):
        check_tensor(lambda: Box(1 / (1 + np.exp(big))), [0.0], Box, "sigmoid(1000)", hint="subtract the maximum")


def test_a_warning_of_the_students_own_is_shown_and_costs_nothing() -> None:
    def made(value):
        warnings.warn("debug: a tensor was made", stacklevel=1)
        return Box(np.array(value, dtype=np.float32))

    with pytest.warns(UserWarning, match="debug: a tensor was made"):
        check_tensor(lambda: made([1.0]), [1.0], Box, "made([1.0])")


def test_check_uses_tells_the_students_operations_from_numpy_wrapped_in_a_tensor() -> None:
    import sys
    import types

    from tito.student.checks import check_uses

    library = types.ModuleType("fake_tensor_library")
    library.GRAD_RULES = {}
    sys.modules[library.__name__] = library

    class Tensor:
        def __init__(self, data):
            self.data = np.asarray(data)

        def __neg__(self):
            rule = library.GRAD_RULES.get("Tensor.__neg__")
            forward = lambda t: Tensor(-t.data)  # noqa: E731
            return rule.apply(forward, self) if rule else forward(self)

    Tensor.__module__ = library.__name__
    x = Tensor([1.0, 2.0])
    try:
        assert check_uses(Tensor, ("Tensor.__neg__",), lambda: -x, "-x").data.tolist() == [-1.0, -2.0]
        with pytest.raises(CheckFailed, match=r"^numpy: computed without Tensor.__neg__ — use your negation$"):
            check_uses(Tensor, ("Tensor.__neg__",), lambda: Tensor(-x.data), "numpy", hint="use your negation")
        assert library.GRAD_RULES == {}, "the recording rules are taken away again"
    finally:
        del sys.modules[library.__name__]


def test_check_no_overflow_sees_an_overflow_whose_warning_was_silenced() -> None:
    from tito.student.checks import check_no_overflow

    def naive(x):
        with np.errstate(over="ignore"):
            return 1 / (1 + np.exp(-x))

    x = np.array([-1000.0, 0.0, 1000.0])
    with pytest.raises(
        CheckFailed, match=r"^naive: exp overflowed to inf \(of 1000\), even if its warning was silenced"
    ):
        check_no_overflow(lambda: naive(x), "naive")
    stable = check_no_overflow(lambda: 0.5 * (1 + np.tanh(x / 2)), "stable")
    assert stable.tolist() == [0.0, 0.5, 1.0] and isinstance(np.exp, np.ufunc), "numpy's exp is put back"


def test_check_equal_never_asks_an_elementwise_eq_for_one_truth_value() -> None:
    """(w.grad, b.grad) == (None, None) with tensors in it: a failed check naming the case, not
    bool()'s 'ambiguous' error from inside the comparison."""

    class Elementwise:
        def __eq__(self, other):  # as Tensor's (and numpy's) ==
            return np.array([True, False])

        __hash__ = object.__hash__

    with pytest.raises(CheckFailed, match="the grads after zero_grad"):
        check_equal((Elementwise(), None), (None, None), "the grads after zero_grad")
    with pytest.raises(CheckFailed, match="one value"):
        check_equal([Elementwise()], [Elementwise()], "one value")
    assert check_equal((None, 2, "a"), (None, 2, "a"), "plain values") == (None, 2, "a")
    assert check_equal(np.float32(1.5), np.float32(1.5), "a numpy number") == np.float32(1.5)
