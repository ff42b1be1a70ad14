"""The errors students meet most, as the course's reference raises them (the exercises ask for the
same, and their tests check it): one line, short, naming the shapes or the layer, and the fix.
Forgetting zero_grad and a second backward raise nothing (gradients accumulate, as API.md says):
the tests of Exercises 05.12, 06.6 and 07.2 name the fix instead (tests/test_wrong_answers.py).
A stub's own error gets its hint in JupyterLab (tests/test_magic.py)."""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch as tt
from tinytorch import Tensor

SHORT = 240  # characters: one line a student reads at a glance

MISTAKES = {
    "matmul, inner dimensions": (
        lambda: Tensor(np.ones((32, 63))) @ Tensor(np.ones((64, 10))),
        ["(32, 63)", "(64, 10)", "transpose"],
    ),
    "matmul by a number": (lambda: Tensor(np.ones((2, 3))) @ Tensor(2.0), ["use * instead of @"]),
    "images into a Linear layer": (
        lambda: tt.Linear(64, 10)(Tensor(np.ones((5, 8, 8)))),
        ["64", "(5, 8, 8)", "reshape(len(x), -1)"],
    ),
    "features that do not match": (lambda: tt.Linear(784, 10)(Tensor(np.ones((5, 64)))), ["784", "(5, 64)"]),
    "backward on a batch of losses": (
        lambda: tt.Linear(4, 2)(Tensor(np.ones((3, 4)))).backward(),
        ["(3, 2)", "sum()", "pass the gradient"],
    ),
    "backward without parameters": (lambda: (Tensor([1.0, 2.0]) * 3).sum().backward(), ["requires_grad=True"]),
}


@pytest.mark.parametrize("case", MISTAKES)
def test_the_errors_students_meet_most_are_one_short_line_with_the_fix(case: str) -> None:
    mistake, needed = MISTAKES[case]
    with pytest.raises(Exception) as raised:
        mistake()
    message = f"{type(raised.value).__name__}: {raised.value}"
    assert "\n" not in message and len(message) <= SHORT, f"{len(message)} characters: {message}"
    assert all(text in message for text in needed), f"{message} (should mention {needed})"
