"""The one verdict on an exercise (tito.course.verdict), as `tito test`, the check cell, `tito grade`
and its CSV read it: judged from executed cells, without a kernel."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tito.course.registry import Module
from tito.course.verdict import (
    KERNEL_DIED,
    NOT_RUN,
    REWRITTEN,
    TIMED_OUT,
    Status,
    count_statuses,
    exercise_results,
    ungraded_errors,
)
from tito.grading.autograde import Outcome
from tito.grading.results import write_csv

STUB = 'raise NotImplementedError("Exercise 01.{n}: {name}")'


def exercise(n: int, source: str, stubs: list[str] | None = None, error: tuple[str, str] | None = None) -> dict:
    """An executed exercise cell of Exercise 01.<n>, released with `stubs`."""
    meta = {"nbgrader": {"grade_id": f"ex_01_{n}", "grade": False, "solution": True, "locked": False}}
    if stubs:
        meta["tito"] = {"stubs": stubs}
    return {"cell_type": "code", "execution_count": 1, "metadata": meta, "outputs": outputs(error), "source": source}


def graded_cell(n: int, error: tuple[str, str] | None = None, points: int = 2, ran: bool = True) -> dict:
    """An executed (or not) test cell of Exercise 01.<n>."""
    meta = {
        "nbgrader": {"grade_id": f"test_01_{n}", "grade": True, "solution": False, "locked": True, "points": points}
    }
    count = 2 if ran else None
    return {
        "cell_type": "code",
        "execution_count": count,
        "metadata": meta,
        "outputs": outputs(error),
        "source": "check()",
    }


def outputs(error: tuple[str, str] | None) -> list[dict]:
    return [{"output_type": "error", "ename": error[0], "evalue": error[1], "traceback": []}] if error else []


def stubbed(n: int, *names: str) -> str:
    return "\n".join(f"def {name.split('.')[-1]}(self):\n    {STUB.format(n=n, name=name)}" for name in names)


TWO = ["Tensor.__add__", "Tensor.__sub__"]
CASES = {
    # name: (exercise cell, test cell, scores or None, expected status, a fragment of the detail)
    "passed": (exercise(1, "def f(): return 1"), graded_cell(1), None, Status.PASSED, ""),
    "failed": (
        exercise(1, "def f(): return 2"),
        graded_cell(1, ("CheckFailed", "f(): got 2; expected 1")),
        None,
        Status.FAILED,
        "f(): got 2; expected 1",
    ),
    "not attempted": (
        exercise(1, stubbed(1, *TWO), TWO),
        graded_cell(1, ("NotImplementedError", "Exercise 01.1: Tensor.__add__")),
        None,
        Status.NOT_ATTEMPTED,
        "Exercise 01.1: Tensor.__add__",
    ),
    "partly done": (
        exercise(1, stubbed(1, "Tensor.__sub__"), TWO),
        graded_cell(1, ("NotImplementedError", "Exercise 01.1: Tensor.__sub__")),
        None,
        Status.PARTLY_DONE,
        "`Tensor.__sub__` still raises NotImplementedError",
    ),
    "not run": (exercise(1, "def f(): return 1"), graded_cell(1, ran=False), None, Status.NOT_RUN, "stopped before"),
    "the exercise cell itself failed": (
        exercise(1, "def f(:", error=("SyntaxError", "invalid syntax (123.py, line 1)")),
        graded_cell(1, ("NameError", "name 'f' is not defined")),
        None,
        Status.FAILED,
        "your code for Exercise 01.1 did not run: SyntaxError on line 1 of the cell",
    ),
    # graded by nbgrader: its score decides, and the grader's own error names say what it stopped
    "graded, full points": (exercise(1, "def f(): return 1"), graded_cell(1), {"test_01_1": 2.0}, Status.PASSED, ""),
    "graded, no points without an error": (
        exercise(1, "def f(): return 1"),
        graded_cell(1),
        {"test_01_1": 0.0},
        Status.FAILED,
        "nbgrader gave no points",
    ),
    "graded, partly done": (
        exercise(1, stubbed(1, "Tensor.__sub__"), TWO),
        graded_cell(1, ("NotImplementedError", "Exercise 01.1: Tensor.__sub__")),
        {"test_01_1": 0.0},
        Status.PARTLY_DONE,
        "`Tensor.__sub__` still raises",
    ),
    "graded, timed out": (
        exercise(1, "def f(): return 1"),
        graded_cell(1, (TIMED_OUT, "this cell ran longer than 5 s and was interrupted")),
        {"test_01_1": 0.0},
        Status.TIMED_OUT,
        "ran longer than 5 s",
    ),
    "graded, kernel died": (
        exercise(1, "def f(): return 1"),
        graded_cell(1, (KERNEL_DIED, "the kernel died while running this cell")),
        {"test_01_1": 0.0},
        Status.ERROR,
        "the kernel died",
    ),
    "graded, not run after a death": (
        exercise(1, "def f(): return 1"),
        graded_cell(1, (NOT_RUN, "not run: the kernel died in cell 5")),
        {"test_01_1": 0.0},
        Status.ERROR,
        "not run",
    ),
    "graded, did not run as written": (
        exercise(1, "def f(): return 1"),
        graded_cell(1, (REWRITTEN, "this test cell did not run as written")),
        {"test_01_1": 0.0},
        Status.FAILED,
        "did not run as written",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_each_status_is_judged_from_the_executed_cells(case: str) -> None:
    exercise_cell, test, scores, status, fragment = CASES[case]
    (result,) = exercise_results({"cells": [exercise_cell, test]}, scores=scores)
    assert result.status is status, result
    assert fragment in result.detail, result.detail
    assert result.earned == (2.0 if status is Status.PASSED else 0.0)


def test_the_counts_name_passed_failed_and_not_attempted_always_and_the_rest_when_present() -> None:
    results = [exercise_results({"cells": [c[0], c[1]]}, scores=c[2])[0] for c in CASES.values()]
    assert count_statuses(results) == (
        "2 passed, 4 failed, 2 partly done, 1 not attempted, 1 not run, 1 timed out, 2 error"
    ), count_statuses(results)


def test_partly_done_reaches_the_grades_csv(tmp_path: Path) -> None:
    """tito grade's CSV speaks the same vocabulary: half-done work is not "not attempted" there."""
    exercise_cell, test, scores, _, _ = CASES["graded, partly done"]
    outcome = Outcome("ada", exercises=exercise_results({"cells": [exercise_cell, test]}, scores=scores))
    module = Module(1, "01_tensor", "Tensor", "tinytorch/core/tensor.py", ("Tensor",), 20)
    write_csv(tmp_path / "grades.csv", module, [outcome])
    with open(tmp_path / "grades.csv", newline="") as handle:
        (row,) = csv.DictReader(handle)
    assert (row["status"], row["points"], row["max_points"]) == ("partly done", "0", "2")
    assert row["reason"].startswith("Tensor.__sub__ still raises NotImplementedError")  # a CSV cell: no Markdown


def test_report_tells_exercise_01_1_from_01_10() -> None:
    def graded(grade_id: str, error: str) -> dict:
        meta = {"grade": True, "grade_id": grade_id, "points": 1, "locked": True, "solution": False}
        output = {"output_type": "error", "ename": "NotImplementedError", "evalue": error, "traceback": []}
        return {
            "cell_type": "code",
            "execution_count": 1,
            "metadata": {"nbgrader": meta},
            "outputs": [output],
            "source": "",
        }

    results = exercise_results(
        {
            "cells": [
                graded("test_01_1", "Exercise 01.10: Tensor.exp"),
                graded("test_01_10", "Exercise 01.10: Tensor.exp"),
            ]
        }
    )
    assert [(r.exercise, r.status) for r in results] == [("01.1", "failed"), ("01.10", "not attempted")]
    assert results[0].detail.startswith("needs Exercise 01.10 first")


def test_report_points_at_the_earlier_cell_whose_failure_left_a_name_undefined() -> None:
    def code(grade_id: str, source: str, error: tuple[str, str] | None, **meta) -> dict:
        outputs = [{"output_type": "error", "ename": error[0], "evalue": error[1], "traceback": []}] if error else []
        nbgrader = {"grade_id": grade_id, "grade": False, "solution": False, "locked": False, **meta}
        return {
            "cell_type": "code",
            "execution_count": 1,
            "metadata": {"nbgrader": nbgrader},
            "outputs": outputs,
            "source": source,
        }

    cells = [
        {
            "cell_type": "markdown",
            "metadata": {},
            "source": "### Exercise 01.1 — `Tensor` (2 points)\n### Exercise 01.2 — `sub` (3 points)",
        },
        code(
            "ex_01_1",
            "class Tensor:\n    def __init__(self:\n        pass",
            ("SyntaxError", "invalid syntax (123.py, line 2)"),
            solution=True,
        ),
        code(
            "test_01_1", "test_01_1()", ("NameError", "name 'Tensor' is not defined"), grade=True, points=2, locked=True
        ),
        code(
            "ex_01_2",
            "@add_to_class(Tensor)\ndef __sub__(self, other):\n    return 1",
            ("NameError", "name 'Tensor' is not defined"),
            solution=True,
        ),
        code(
            "test_01_2", "test_01_2()", ("NameError", "name 'Tensor' is not defined"), grade=True, points=3, locked=True
        ),
    ]
    first, second = exercise_results({"cells": cells})
    assert (
        first.detail
        == "your code for Exercise 01.1 did not run: SyntaxError on line 2 of the cell: invalid syntax\n    def __init__(self:"
    )
    assert second.detail.startswith("your code for Exercise 01.2 did not run: NameError: name 'Tensor' is not defined")
    assert "(but first: the code cell of Exercise 01.1 failed when it ran, SyntaxError on line 2" in second.detail


def test_a_failure_that_uses_an_earlier_failing_exercise_says_to_fix_that_first() -> None:
    accuracy = exercise(1, "def accuracy(logits, labels):\n    return 2.0")
    fit = exercise(2, "def fit(model):\n    return accuracy(model, None)")
    unrelated = exercise(3, "def shuffle(rows):\n    return rows")
    cells = [
        accuracy,
        graded_cell(1, ("CheckFailed", "accuracy(...): got 2.0; expected 0.5")),
        fit,
        graded_cell(2, ("CheckFailed", "fit(...): the history's accuracy is 2.0")),
        unrelated,
        graded_cell(3, ("CheckFailed", "shuffle(...): got the rows in order")),
    ]
    first, second, third = exercise_results({"cells": cells})
    assert "fix that first" not in first.detail
    assert second.detail.endswith(
        "this uses your Exercise 01.1 (accuracy), which does not pass its own test: fix that first"
    )
    assert "fix that first" not in third.detail, "only what the exercise uses is blamed"


def test_numpys_own_methods_in_a_test_blame_no_exercise_of_that_name() -> None:
    reshape = exercise(7, "@add_to_class(Tensor)\ndef reshape(self, *shape):\n    return self")
    getitem = exercise(9, "@add_to_class(Tensor)\ndef __getitem__(self, index):\n    return self")
    test = dict(graded_cell(9, ("CheckFailed", "x[1]: shares its numbers with its input x")))
    cells = [reshape, graded_cell(7, ("CheckFailed", "x.reshape(3, 2): values differ")), getitem]
    numpys = dict(test, source="x = Tensor(np.arange(12.0).reshape(4, 3))\ncheck(x[1])")
    _, ninth = exercise_results({"cells": [*cells, numpys]})
    assert "fix that first" not in ninth.detail, ninth.detail
    tensors = dict(test, source="x = Tensor(np.arange(12.0)).reshape(4, 3)\ncheck(x[1])")
    _, ninth = exercise_results({"cells": [*cells, tensors]})
    assert ninth.detail.endswith(
        "this uses your Exercise 01.7 (reshape), which does not pass its own test: fix that first"
    )


def test_errors_outside_the_tests_are_reported_apart() -> None:
    demo = {"cell_type": "code", "id": "demo-plot", "execution_count": 3, "metadata": {}, "source": "plot()"}
    demo["outputs"] = outputs(("NameError", "name 'plot' is not defined"))
    stubbed_demo = dict(demo, outputs=outputs(("NotImplementedError", "Exercise 01.1: Tensor.__init__")))
    heading = {"cell_type": "markdown", "metadata": {}, "source": "## 4. Timing it"}
    assert ungraded_errors({"cells": [heading, demo, stubbed_demo]}) == [
        "the code cell under the heading “4. Timing it” raised NameError: name 'plot' is not defined"
    ]
