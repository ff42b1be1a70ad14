"""The per-operation profile students see (tito.student.profile), on the reference library: it names
where the time goes, counts nothing twice, changes no result, and leaves the library as it found it."""

from __future__ import annotations

import time

import numpy as np
import pytest

import tinytorch as tt
from tinytorch.core import autograd
from tinytorch.core.tensor import GRAD_RULES, Tensor
from tito.student.profile import OperationProfile, TrainingStep, profile_steps, where_time_goes

rng = np.random.default_rng(0)
IMAGES = rng.random((256, 28, 28), dtype=np.float32)
LABELS = rng.integers(0, 10, size=256)


def library_state() -> tuple:
    return dict(GRAD_RULES), Tensor.__init__, Tensor.backward, autograd.topological_order


def test_the_profile_names_each_operation_forward_and_backward_and_counts_nothing_twice() -> None:
    before = library_state()
    step = TrainingStep(tt, IMAGES, LABELS, batch=32)
    start = time.perf_counter()
    profile = profile_steps(Tensor, step, steps=20)
    wall = (time.perf_counter() - start) / 20 * 1e6  # the 20 profiled steps, and a warm-up step on top
    rows = {(phase, name): (micros, calls) for phase, name, micros, calls in profile.rows()}
    for key in [("forward", "Tensor.__matmul__"), ("backward", "Tensor.__matmul__"), ("backward", "topological_order")]:
        assert key in rows, sorted(rows)
    assert rows[("forward", "Tensor.__matmul__")][1] == 2  # two Linear layers per step
    assert rows[("backward", "CrossEntropyLoss")][1] == 1
    assert {"data", "zero_grad", "step"} <= {phase for phase, _ in rows}
    total = sum(micros for micros, _ in rows.values())
    assert 0 < total < wall, (total, wall)  # exclusive times: nothing counted twice
    assert library_state() == before


def test_a_slow_topological_order_or_tensor_init_is_the_row_on_top(monkeypatch: pytest.MonkeyPatch) -> None:
    original_order, original_init = autograd.topological_order, Tensor.__init__

    def slow_order(root):
        time.sleep(0.002)
        return original_order(root)

    monkeypatch.setattr(autograd, "topological_order", slow_order)
    profile = profile_steps(Tensor, TrainingStep(tt, IMAGES, LABELS, batch=32), steps=5)
    assert profile.rows()[0][:2] == ("backward", "topological_order"), profile.rows()[:3]
    monkeypatch.undo()

    def slow_init(self, *args, **kwargs):
        time.sleep(0.0003)
        original_init(self, *args, **kwargs)

    monkeypatch.setattr(Tensor, "__init__", slow_init)
    profile = profile_steps(Tensor, TrainingStep(tt, IMAGES, LABELS, batch=32), steps=5)
    assert profile.rows()[0][1] == "Tensor.__init__", profile.rows()[:3]


def test_the_hooks_change_no_result_and_come_out_after_an_error() -> None:
    before = library_state()
    plain, hooked = TrainingStep(tt, IMAGES, LABELS, batch=32), TrainingStep(tt, IMAGES, LABELS, batch=32)
    profile = OperationProfile(Tensor)
    for _ in range(3):
        plain()
        with profile.hooks():
            hooked(profile)
    for mine, theirs in zip(plain.model.parameters(), hooked.model.parameters(), strict=True):
        np.testing.assert_array_equal(mine.data, theirs.data)

    def failing() -> None:
        raise ValueError("a student's bug")

    with pytest.raises(ValueError, match="a student's bug"), profile.hooks():
        failing()
    assert library_state() == before


def test_where_time_goes_prints_the_ratio_and_the_profile(capsys: pytest.CaptureFixture[str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    figures = where_time_goes(tt, IMAGES, LABELS, batch=32)
    shown = capsys.readouterr().out
    assert "× the floor" in shown and "backward: Tensor.__matmul__" in shown, shown
    assert "backward: topological_order" in shown, "the rows the text names are shown, however small"
    assert figures["ratio"] > 1 and figures["floor_us"] > 0
