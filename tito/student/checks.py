"""Checks for notebook test cells: type, then shape, then values, each failing with a message
that says what was expected, what came back and the likely mistake.

Only numpy is used, so the checks work on any module's objects; the class under test is
passed in (the notebook's own `Tensor`), never imported from the package.

Every check names the case it runs (`what`). Pass the value as `lambda: expression` rather than
the value itself, and the case is named also when the student's code raises while computing it
(`(2, 3) @ (3,): raised IndexError: tuple index out of range`), not only when the value is wrong.
`check_tensor(..., inputs={"a": a})` also checks, right after the computation and before its
result, that the operation left its inputs as they were, so an in-place bug is named as such.
"""

from __future__ import annotations

import inspect
import sys
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

IN_PLACE_HINT = (
    "return a new Tensor and leave the inputs as they are: compute into a new array (`a.data - b`, `np.exp(x.data)`), "
    "never into an input's (no `-=` on its .data, no `out=`, no assignment into `.data[...]`)"
)


UPSTREAM_HINT = (
    "compute new arrays (`grad * b`, `-grad`), never into grad (no `grad *= ...`, `grad -= ...`): the engine may hand "
    "the same array to several nodes (a tensor used twice), or a read-only one (Sum's broadcast)"
)
DTYPE_HINT = (
    "a gradient keeps its input's dtype: a float64 array (np.zeros(shape) without dtype=, a float64 constant or count) "
    "doubles the memory and time of every node it reaches; make arrays like the gradient (np.zeros_like, "
    "dtype=grad.dtype) or convert with .astype(grad.dtype, copy=False)"
)


class CheckFailed(AssertionError):
    """A check of a test cell failed; the message names the case, what came back and what was expected."""


def _fail(what: str, message: str, hint: str) -> CheckFailed:
    text = f"{what}: {message}"
    if hint:
        text += f" — {hint}"
    return CheckFailed(text)


def evaluate(value: Any, what: str, hint: str = "", error_hint: str | bool = "", nan_given: bool = False) -> Any:
    """`value()` when `value` is a function (a deferred `lambda: expression`), else `value` itself.

    An exception from the student's code becomes a CheckFailed naming the case, chained to the
    original so the traceback still shows the line, with `error_hint` (True: `hint` itself), since
    a check's `hint` explains a wrong result, not an error it was not written for; numpy's floating-point
    warning (overflow in exp, division by zero, an invalid value) fails with `hint`, except an
    invalid-value warning when a nan was given (`nan_given`), which is the input's doing; any other
    warning (a debug `warnings.warn`) is shown and costs nothing. A stub's NotImplementedError passes
    through unchanged: reports read it to tell "not attempted" from "failed".
    """
    if not inspect.isfunction(value):
        return value
    with (
        warnings.catch_warnings(record=True) as warned,
        np.errstate(divide="warn", over="warn", invalid="ignore" if nan_given else "warn", under="ignore"),
    ):
        warnings.simplefilter("always")
        try:
            result = value()
        except NotImplementedError:
            raise
        except Exception as error:
            explained = hint if error_hint is True else error_hint or ""
            raise _fail(what, f"raised {type(error).__name__}: {error}", explained) from error
    floating = [w for w in warned if issubclass(w.category, RuntimeWarning) and "encountered in" in str(w.message)]
    if floating:  # numpy's own: the computation went through inf or nan
        raise _fail(what, f"numpy warned: {floating[0].message} (stable code computes this without one)", hint)
    for other in warned:  # a warning of the student's own (or a library's) costs nothing: it is shown
        warnings.warn_explicit(other.message, other.category, other.filename, other.lineno)
    return result


def _snapshot(inputs: dict[str, Any] | None) -> dict[str, np.ndarray]:
    return {name: np.array(getattr(value, "data", value), copy=True) for name, value in (inputs or {}).items()}


OWN_NUMBERS_HINT = (
    "a Tensor owns its numbers: wrap self.data, or a view of it (a reshape, a transpose, a slice), with "
    "Tensor(...), which copies; Tensor.from_numpy(...) is only for an array the operation has just made"
)


def check_owns_its_numbers(result: Any, inputs: dict[str, Any], what: str) -> None:
    """Fail if the tensor `result` holds the numbers of one of `inputs` (the same array, or a view of it),
    so that changing one would change the other."""
    for name, value in inputs.items():
        array = getattr(value, "data", value)
        if isinstance(array, np.ndarray) and np.may_share_memory(result.data, array):
            raise _fail(
                what, f"shares its numbers with its input {name}: changing one changes the other", OWN_NUMBERS_HINT
            )


def check_unchanged(
    inputs: dict[str, Any], before: dict[str, np.ndarray], what: str, hint: str = IN_PLACE_HINT
) -> None:
    """Fail if any of `inputs` no longer holds the numbers it held `before` the operation `what`."""
    for name, value in inputs.items():
        now = np.asarray(getattr(value, "data", value))
        old = before[name]
        if now.shape != old.shape or now.dtype != old.dtype:
            raise _fail(
                what,
                f"changed its input {name} in place (shape {old.shape} {old.dtype} became {now.shape} {now.dtype})",
                hint,
            )
        equal = now == old
        if np.issubdtype(old.dtype, np.floating):
            equal |= np.isnan(now) & np.isnan(old)
        if not equal.all():
            index = tuple(int(i) for i in np.argwhere(~equal)[0])
            where = f"{name}[{', '.join(map(str, index))}]" if index else name
            raise _fail(
                what,
                f"changed its input {name} in place ({where} was {old[index].item()!r}, is now {now[index].item()!r})",
                hint,
            )


def check_type(value: Any, expected_type: type, what: str, hint: str = "", error_hint: str | bool = "") -> Any:
    """Fail unless `value` is an instance of `expected_type`; returns the value."""
    value = evaluate(value, what, hint, error_hint)
    if not isinstance(value, expected_type):
        raise _fail(what, f"got a {type(value).__name__}; expected a {expected_type.__name__}", hint)
    return value


def check_shape(value: Any, shape: tuple[int, ...], what: str, hint: str = "", error_hint: str | bool = "") -> Any:
    """Fail unless `value.shape` (or numpy's view of it) equals `shape`; returns the value."""
    value = evaluate(value, what, hint, error_hint)
    got = tuple(getattr(value, "shape", np.shape(value)))
    if got != tuple(shape):
        raise _fail(what, f"got shape {got}; expected {tuple(shape)}", hint)
    return value


def check_dtype(value: Any, dtype: Any, what: str, hint: str = "", error_hint: str | bool = "") -> Any:
    """Fail unless the array behind `value` has `dtype` (compared as numpy dtypes); returns the value."""
    value = evaluate(value, what, hint, error_hint)
    got = np.asarray(getattr(value, "data", value)).dtype
    if got != np.dtype(dtype):
        raise _fail(what, f"got dtype {got}; expected {np.dtype(dtype)}", hint)
    return value


def check_close(
    actual: Any,
    expected: Any,
    what: str,
    atol: float = 1e-6,
    rtol: float = 1e-5,
    hint: str = "",
    error_hint: str | bool = "",
) -> Any:
    """Fail unless every element is within `atol + rtol * |expected|`, reporting the worst one."""
    actual = evaluate(actual, what, hint, error_hint)
    got = np.asarray(getattr(actual, "data", actual), dtype=np.float64)
    want = np.asarray(expected, dtype=np.float64)
    if got.shape != want.shape:
        raise _fail(what, f"got shape {got.shape}; expected {want.shape}", hint)
    with np.errstate(invalid="ignore"):
        excess = np.abs(got - want) - (atol + rtol * np.abs(want))
    bad = ~(excess <= 0) & ~(np.isnan(got) & np.isnan(want)) & ~(got == want)  # equal infinities agree
    if bad.any():
        worst = np.unravel_index(np.nanargmax(np.where(bad, np.nan_to_num(excess, nan=np.inf), -np.inf)), got.shape)
        where = f" at index {tuple(int(i) for i in worst)}" if got.ndim else ""
        raise _fail(
            what,
            f"values differ{where}: got {got[worst]:.6g}, expected {want[worst]:.6g} "
            f"({int(bad.sum())} of {bad.size} elements off)",
            hint,
        )
    return actual


def check_tensor(
    value: Any,
    expected: Any,
    tensor_type: Any,  # the notebook's own Tensor class
    what: str,
    dtype: Any = None,
    atol: float = 1e-6,
    rtol: float = 1e-5,
    hint: str = "",
    inputs: dict[str, Any] | None = None,
    error_hint: str | bool = "",
) -> Any:
    """Inputs unchanged (when given), then type, shape, dtype (when given) and values of a tensor result.

    `value` is best given as `lambda: expression`, so an error inside it names this case and the
    `inputs` ({name: tensor or array}) are compared before and after it runs; numpy's warning about
    an invalid value is no failure when one of them holds a nan.
    """
    before = _snapshot(inputs)
    nan_given = any(array.dtype.kind in "fc" and np.isnan(array).any() for array in before.values())
    value = evaluate(value, what, hint, error_hint, nan_given)
    if inputs:
        check_unchanged(inputs, before, what)
    check_type(value, tensor_type, what, hint="return a Tensor, not a numpy array or a number")
    check_type(value.data, np.ndarray, f"{what}.data", hint="the data of a Tensor is a numpy array")
    if inputs:
        check_owns_its_numbers(value, inputs, what)
    check_shape(value, np.shape(expected), what, hint)
    if dtype is not None:
        check_dtype(value, dtype, what, hint)
    check_close(value, expected, what, atol=atol, rtol=rtol, hint=hint)
    return value


def check_equal(value: Any, expected: Any, what: str, hint: str = "", error_hint: str | bool = "") -> Any:
    """Fail unless `value == expected` exactly (a string format, a Python number), showing both."""
    value = evaluate(value, what, hint, error_hint)
    if type(value) is not type(expected) or not _equal(value, expected):
        raise _fail(what, f"got {value!r}; expected {expected!r}", hint)
    return value


def _equal(value: Any, expected: Any) -> bool:
    """value == expected for what check_equal compares (numbers, strings, None, tuples and lists of
    them), never asking an elementwise `==` (a Tensor's, an array's) for one truth value."""
    if expected is None:
        return value is None
    if isinstance(expected, (tuple, list)) and isinstance(value, (tuple, list)):
        return len(value) == len(expected) and all(_equal(v, e) for v, e in zip(value, expected, strict=True))
    result = value == expected
    return bool(result) if isinstance(result, (bool, np.bool_)) else False


def check_raises(
    error_type: type[BaseException],
    action: Callable[[], Any],
    what: str,
    mentions: tuple[str, ...] = (),
    hint: str = "",
) -> BaseException:
    """Fail unless `action()` raises `error_type` whose message mentions every string in `mentions`."""
    expected = f"{'an' if error_type.__name__[0] in 'AEIOU' else 'a'} {error_type.__name__}"
    try:
        action()
    except error_type as error:
        message = str(error)
        missing = [word for word in mentions if word not in message]
        if missing:
            raise _fail(
                what, f"the {error_type.__name__} says {message!r}; it should mention {missing}", hint
            ) from None
        return error
    except NotImplementedError:
        raise
    except Exception as other:
        raise _fail(what, f"raised {type(other).__name__}({other}); expected {expected}", hint) from other
    raise _fail(what, f"returned without an error; expected {expected}", hint)


def numeric_gradient(function: Callable[[], float], array: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """d function() / d array by central differences, changing `array` in place one element at a time."""
    gradient = np.zeros(array.shape, dtype=np.float64)
    for index in np.ndindex(array.shape):
        saved = array[index]
        array[index] = saved + eps
        above = function()
        array[index] = saved - eps
        below = function()
        array[index] = saved
        gradient[index] = (above - below) / (2 * eps)
    return gradient


def check_backward(
    tensor_type: Any,  # the notebook's own Tensor class
    operation: Callable[..., Any],
    arrays: list[Any],
    what: str,
    hint: str = "",
    wrt: tuple[int, ...] | None = None,
    atol: float = 1e-6,
    rtol: float = 1e-5,
    error_hint: str | bool = "",
) -> None:
    """Check the backward rule of the one operation `operation(*tensors)` against central differences.

    Runs in float64 (`tensor_type.float_dtype` set for the duration). The tensors made from
    `arrays` require grad (those listed in `wrt`, default all); the recorded node's own
    `backward(upstream)` is called with a random upstream gradient, so the check depends on the
    rule alone, not on an engine. Each returned gradient must be an array of its input's shape
    and equal d sum(output * upstream) / d input; the rule must leave the upstream array as it
    was; and run again on float32 inputs, it must return float32 gradients.
    """
    wrt = tuple(range(len(arrays))) if wrt is None else wrt
    previous = tensor_type.float_dtype
    tensor_type.float_dtype = np.float64
    try:
        wide = [np.array(array, dtype=np.float64) for array in arrays]
        tensors = [tensor_type(array, requires_grad=position in wrt) for position, array in enumerate(wide)]
        output = evaluate(lambda: operation(*tensors), what, hint, error_hint)
        node = _recorded_node(output, what)
        upstream = np.random.default_rng(0).normal(size=output.shape)
        gradients = _node_gradients(node, upstream, what, hint, error_hint)

        def weighted_output() -> float:
            return float((np.asarray(operation(*tensors).data, dtype=np.float64) * upstream).sum())

        for position, tensor in enumerate(tensors):
            unneeded = [
                g for argument, g in zip(node.inputs, gradients, strict=True) if argument is tensor and g is not None
            ]
            if position not in wrt and unneeded:
                raise _fail(
                    f"{what}: the gradient of input {position}",
                    "was computed, but this input does not require grad",
                    "return None for an input whose self.needs_grad is False: compute only what is needed",
                )
        for position in wrt:
            name = f"{what}: the gradient of input {position}"
            got = _gradient_of(tensors[position], node, gradients, name, hint)
            expected = numeric_gradient(weighted_output, tensors[position].data)
            check_close(got, expected, name, atol=atol, rtol=rtol, hint=hint)
        tensor_type.float_dtype = np.float32
        _check_gradient_dtypes(tensor_type, operation, arrays, wrt, upstream, what, hint, error_hint)
    finally:
        tensor_type.float_dtype = previous


def _check_gradient_dtypes(
    tensor_type: Any,
    operation: Callable[..., Any],
    arrays: list[Any],
    wrt: tuple[int, ...],
    upstream: np.ndarray,
    what: str,
    hint: str,
    error_hint: str | bool,
) -> None:
    """The rule run again on float32 inputs: every gradient it returns for them is float32 too."""
    tensors = [
        tensor_type(np.array(array, dtype=np.float32), requires_grad=position in wrt)
        for position, array in enumerate(arrays)
    ]
    node = _recorded_node(evaluate(lambda: operation(*tensors), f"{what} in float32", hint, error_hint), what)
    gradients = _node_gradients(node, upstream.astype(np.float32), f"{what} in float32", hint, error_hint)
    for position in wrt:
        name = f"{what}: the gradient of float32 input {position}"
        dtype = _gradient_of(tensors[position], node, gradients, name, hint).dtype
        if dtype != np.float32:
            raise _fail(name, f"got dtype {dtype}; expected float32", DTYPE_HINT)


def _recorded_node(output: Any, what: str) -> Any:
    node = getattr(output, "grad_fn", None)
    if node is None:
        raise _fail(
            what,
            "recorded no graph node (output.grad_fn is None)",
            "the operation's Function must be registered, and recorded when an input requires grad",
        )
    return node


def _node_gradients(node: Any, upstream: np.ndarray, what: str, hint: str, error_hint: str | bool) -> tuple:
    """The node's own backward(upstream): one gradient (or None) per input; the upstream array it was
    handed must come back unchanged (the engine hands one array to several nodes, or a read-only one)."""
    given = upstream.copy()
    gradients = evaluate(lambda: node.backward(given), f"{what}: backward", hint, error_hint)
    if not np.array_equal(given, upstream):
        raise _fail(f"{what}: backward", "changed its argument grad (the upstream gradient) in place", UPSTREAM_HINT)
    if not isinstance(gradients, tuple) or len(gradients) > len(node.inputs):
        raise _fail(
            f"{what}: backward",
            f"returned {type(gradients).__name__} {str(gradients)[:80]}; expected a tuple of up to "
            f"{len(node.inputs)} gradients, one per input (None where no gradient is needed)",
            hint,
        )
    return gradients + (None,) * (len(node.inputs) - len(gradients))


def _gradient_of(tensor: Any, node: Any, gradients: tuple, name: str, hint: str) -> np.ndarray:
    """The gradient the node gives `tensor`: the sum over every slot it fills (`a * a` fills two)."""
    parts = [
        gradient
        for argument, gradient in zip(node.inputs, gradients, strict=True)
        if argument is tensor and gradient is not None
    ]
    if not parts:
        raise _fail(name, "is None, but this input requires grad", hint)
    got = np.asarray(getattr(parts[0], "data", parts[0]))
    for part in parts[1:]:
        got = got + np.asarray(getattr(part, "data", part))
    if got.shape != tensor.shape:
        raise _fail(
            name,
            f"got shape {got.shape}; expected {tensor.shape}, the input's own shape",
            hint or "sum over the axes that broadcasting added (unbroadcast)",
        )
    return got


def reset_library_state(namespace: dict) -> list[str]:
    """Put back the library's global settings an earlier cell may have left changed (a no_grad that
    does not restore recording, a float_dtype left at float64), so that a test checks its own
    exercise, not that; returns a note for each one put back. Run before each test cell (tito.student.magic)."""
    import sys

    notes = []
    modes = {namespace.get("GradMode"), getattr(sys.modules.get("tinytorch.core.autograd"), "GradMode", None)}
    for mode in filter(None, modes):
        if getattr(mode, "enabled", True) is False:
            mode.enabled = True
            notes.append(
                "GradMode.enabled was False when this test started: an earlier cell left recording off "
                "(a no_grad that does not restore it? Exercise 05.13)"
            )
    tensors = {namespace.get("Tensor"), getattr(sys.modules.get("tinytorch.core.tensor"), "Tensor", None)}
    for tensor in filter(None, tensors):
        if np.dtype(getattr(tensor, "float_dtype", np.float32)) != np.dtype(np.float32):
            notes.append(
                f"Tensor.float_dtype was {np.dtype(tensor.float_dtype)} when this test started: an earlier cell left it "
                "changed (a gradcheck that does not restore it? Exercise 05.14)"
            )
            tensor.float_dtype = np.float32
    return [f"note: {note}; it was put back before this test" for note in dict.fromkeys(notes)]


def check_uses(tensor_type: Any, operations: tuple[str, ...], value: Any, what: str, hint: str = "") -> Any:
    """Fail unless computing `value` (a `lambda: expression`) runs each of `operations` ("LogSoftmax",
    "Tensor.__getitem__") through the library's dispatcher (`apply`): a result computed with numpy and
    wrapped in a Tensor gives the same numbers, but nothing Module 05 could differentiate."""
    import sys

    library = sys.modules[tensor_type.__module__]
    rules, seen = library.GRAD_RULES, []
    saved = {name: rules.get(name) for name in operations}

    def recording(name: str, rule: Any) -> type:
        class Recording:
            @classmethod
            def apply(cls, forward, *args, **kwargs):
                seen.append(name)
                return rule.apply(forward, *args, **kwargs) if rule is not None else forward(*args, **kwargs)

        return Recording

    for name in operations:
        rules[name] = recording(name, saved[name] or rules.get(getattr(library, "EVERY_OTHER", None)))
    try:
        result = evaluate(value, what, hint)
    finally:
        for name, rule in saved.items():
            if rule is None:
                rules.pop(name, None)
            else:
                rules[name] = rule
    missing = [name for name in operations if name not in seen]
    if missing:
        raise _fail(what, f"computed without {' or '.join(missing)}", hint)
    return result


def check_no_overflow(value: Any, what: str, hint: str = "") -> Any:
    """Fail if computing `value` (a `lambda: expression`) makes numpy's exp overflow to inf from a
    finite input, even where the student's code silences numpy's warning (np.errstate): stable code
    exponentiates only numbers that cannot overflow."""
    original = np.exp
    overflowed: list[float] = []

    def exp(x, *args, **kwargs):
        result = original(x, *args, **kwargs)
        finite = np.isfinite(np.asarray(x))
        if np.any(np.isinf(result) & finite):
            overflowed.append(float(np.max(np.asarray(x)[finite & np.isinf(result)])))
        return result

    np.exp = exp  # type: ignore[assignment]
    try:
        result = evaluate(value, what, hint)
    finally:
        np.exp = original
    if overflowed:
        raise _fail(what, f"exp overflowed to inf (of {max(overflowed):g}), even if its warning was silenced", hint)
    return result


def check_no_recursion(value: Any, what: str, hint: str = "", depth: int = 50) -> Any:
    """Fail if computing `value` (a `lambda: expression`) nests Python calls more than `depth` deep, as a
    recursive search of a long chain does: raising the recursion limit would hide it only up to a depth."""
    deepest = current = 0

    def profile(frame: Any, event: str, argument: Any) -> None:
        nonlocal deepest, current
        if event == "call":
            current += 1
            deepest = max(deepest, current)
        elif event == "return":
            current -= 1

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        result = evaluate(value, what, hint)
    finally:
        sys.setprofile(previous)
    if deepest > depth:
        raise _fail(what, f"nested Python calls {deepest} deep (a recursion), where a loop needs a few", hint)
    return result
