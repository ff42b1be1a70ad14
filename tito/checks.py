"""Checks for notebook test cells: type, then shape, then values, each failing with a message
that says what was expected, what came back and the likely mistake.

Only numpy is used, so the checks work on any module's objects; the class under test is
passed in (the notebook's own `Tensor`), never imported from the package.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np


def _fail(what: str, message: str, hint: str) -> AssertionError:
    text = f"{what}: {message}"
    if hint:
        text += f" — {hint}"
    return AssertionError(text)


def check_type(value: Any, expected_type: type, what: str, hint: str = "") -> None:
    """Fail unless `value` is an instance of `expected_type`."""
    if not isinstance(value, expected_type):
        raise _fail(what, f"got a {type(value).__name__}; expected a {expected_type.__name__}", hint)


def check_shape(value: Any, shape: tuple[int, ...], what: str, hint: str = "") -> None:
    """Fail unless `value.shape` (or numpy's view of it) equals `shape`."""
    got = tuple(getattr(value, "shape", np.shape(value)))
    if got != tuple(shape):
        raise _fail(what, f"got shape {got}; expected {tuple(shape)}", hint)


def check_dtype(value: Any, dtype: Any, what: str, hint: str = "") -> None:
    """Fail unless the array behind `value` has `dtype` (compared as numpy dtypes)."""
    got = np.asarray(getattr(value, "data", value)).dtype
    if got != np.dtype(dtype):
        raise _fail(what, f"got dtype {got}; expected {np.dtype(dtype)}", hint)


def check_close(
    actual: Any, expected: Any, what: str, atol: float = 1e-6, rtol: float = 1e-5, hint: str = ""
) -> None:
    """Fail unless every element is within `atol + rtol * |expected|`, reporting the worst one."""
    got = np.asarray(getattr(actual, "data", actual), dtype=np.float64)
    want = np.asarray(expected, dtype=np.float64)
    if got.shape != want.shape:
        raise _fail(what, f"got shape {got.shape}; expected {want.shape}", hint)
    with np.errstate(invalid="ignore"):
        excess = np.abs(got - want) - (atol + rtol * np.abs(want))
    bad = ~(excess <= 0) & ~(np.isnan(got) & np.isnan(want))
    if bad.any():
        worst = np.unravel_index(np.nanargmax(np.where(bad, np.nan_to_num(excess, nan=np.inf), -np.inf)), got.shape)
        where = f" at index {tuple(int(i) for i in worst)}" if got.ndim else ""
        raise _fail(
            what,
            f"values differ{where}: got {got[worst]:.6g}, expected {want[worst]:.6g} "
            f"({int(bad.sum())} of {bad.size} elements off)",
            hint,
        )


def check_tensor(
    value: Any,
    expected: Any,
    tensor_type: type,
    what: str,
    dtype: Any = None,
    atol: float = 1e-6,
    rtol: float = 1e-5,
    hint: str = "",
) -> None:
    """Type, then shape, then dtype (when given), then values of a tensor result."""
    check_type(value, tensor_type, what, hint="return a Tensor, not a numpy array or a number")
    check_type(value.data, np.ndarray, f"{what}.data", hint="the data of a Tensor is a numpy array")
    check_shape(value, np.shape(expected), what, hint)
    if dtype is not None:
        check_dtype(value, dtype, what, hint)
    check_close(value, expected, what, atol=atol, rtol=rtol, hint=hint)


def check_raises(
    error_type: type[BaseException], action: Callable[[], Any], what: str, mentions: tuple[str, ...] = ()
) -> BaseException:
    """Fail unless `action()` raises `error_type` whose message mentions every string in `mentions`."""
    try:
        action()
    except error_type as error:
        message = str(error)
        missing = [word for word in mentions if word not in message]
        if missing:
            raise _fail(what, f"the {error_type.__name__} says {message!r}; it should mention {missing}", "") from None
        return error
    except NotImplementedError:
        raise
    except Exception as other:
        raise _fail(what, f"raised {type(other).__name__}({other}); expected a {error_type.__name__}", "") from None
    raise _fail(what, f"returned without an error; expected a {error_type.__name__}", "")
