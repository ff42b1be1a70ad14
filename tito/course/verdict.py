"""The verdict on each exercise of an executed notebook: one vocabulary and one judge, shared by
`tito test`, the check cell, `tito grade`, its CSV, its report and its feedback.

An exercise is judged from its test cell's output and its exercise cell: passed, failed (with the
first message that names the mistake), partly done (some of its stubs left), not attempted (every
stub left), not run (the notebook stopped before it), timed out, or error (grading could not run
it: the kernel died or the notebook ran out of time).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from enum import Enum

from tito.course.cells import (
    STUB_PREFIX,
    Progress,
    cell_exercise,
    cell_source,
    defines_code,
    describe_cell,
    first_error,
    is_code,
    is_exercise,
    is_graded,
    is_markdown,
    nbgrader_meta,
    python_of,
    stub_message,
    stub_progress,
    unchanged_since_release,
)
from tito.course.settings import CELL_SECONDS

HEADING = re.compile(r"^#+\s*Exercise\s+(\d+\.\d+)\s*[—–-]\s*(.+?)\s*\((\d+)\s+points?\)", re.MULTILINE)
# The error names the grader writes into a test cell's outputs (tito.grading.sandbox); the judge reads them back.
TIMED_OUT = "CellTimedOut"
REWRITTEN = "TestDidNotRun"
NOT_RUN = "CellNotRun"
KERNEL_DIED = "KernelDied"
# ipykernel's SyntaxError text: "invalid syntax (1063758517.py, line 14)"
_SYNTAX_WHERE = re.compile(r"^(.*) \((?:[^()]*\.py|<[^>]*>), line (\d+)\)$", re.S)


class Status(str, Enum):
    """What became of one exercise, in the order reports count them."""

    PASSED = "passed"
    FAILED = "failed"
    PARTLY_DONE = "partly done"
    NOT_ATTEMPTED = "not attempted"
    NOT_RUN = "not run"
    TIMED_OUT = "timed out"
    ERROR = "error"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


# Each status's mark, in fonts every system has (DejaVu among them); shown with its word.
MARKS = {
    Status.PASSED: "✓",
    Status.FAILED: "✗",
    Status.PARTLY_DONE: "◐",
    Status.NOT_ATTEMPTED: "○",
    Status.NOT_RUN: "–",
    Status.TIMED_OUT: "⚠",
    Status.ERROR: "⚠",
}


# What the grader's own error names mean, whatever the student's code did.
_GRADER_ERRORS = {
    TIMED_OUT: Status.TIMED_OUT,
    NOT_RUN: Status.ERROR,
    KERNEL_DIED: Status.ERROR,
    REWRITTEN: Status.FAILED,
}


@dataclass(frozen=True)
class ExerciseResult:
    exercise: str  # "01.3"
    title: str
    points: float  # what the exercise is worth
    status: Status
    detail: str = ""
    score: float | None = None  # the points nbgrader awarded, when graded by it

    @property
    def earned(self) -> float:
        if self.score is not None:
            return self.score
        return self.points if self.status is Status.PASSED else 0.0


SYNTAX_ERRORS = ("SyntaxError", "IndentationError", "TabError")  # raised before a cell runs


def describe_error(error: dict, cell: dict) -> str:
    """`NameError: name 'x' is not defined`; a syntax error with its line in the cell and that line."""
    name, value = error.get("ename", ""), str(error.get("evalue", ""))
    where = _SYNTAX_WHERE.match(value)
    if name in SYNTAX_ERRORS and where:
        message, line = where.group(1), int(where.group(2))
        lines = cell_source(cell).splitlines()
        shown = f"\n    {lines[line - 1].strip()}" if 0 < line <= len(lines) else ""
        return f"{name} on line {line} of the cell: {message}{shown}"
    return f"{name}: {value}".strip()


def exercise_titles(notebook: dict) -> dict[str, str]:
    """{exercise: title} from the markdown headings ("### Exercise 01.3 — `Tensor.__matmul__` (2 points)")."""
    titles = {}
    for cell in notebook["cells"]:
        if is_markdown(cell):
            for number, title, _points in HEADING.findall(cell_source(cell)):
                titles[number] = title.replace("`", "")
    return titles


def exercise_results(
    notebook: dict, timeout: float = CELL_SECONDS, scores: dict[str, float] | None = None
) -> list[ExerciseResult]:
    """One result per graded test cell of an executed notebook, in notebook order.

    `scores` ({grade_id: points}) are nbgrader's, when it graded the notebook: a test then passes
    only with its full points, and the result carries the score. Without them (`tito test`), a
    test passes when it ran without an error, and a test cell edited since its release fails.
    """
    cells = notebook["cells"]
    titles = exercise_titles(notebook)
    exercise_cells = {cell_exercise(cell): cell for cell in cells if is_exercise(cell)}
    results: list[ExerciseResult] = []
    for index, cell in enumerate(cells):
        if not is_graded(cell):
            continue
        meta = nbgrader_meta(cell)
        number = cell_exercise(cell) or meta.get("grade_id", "?")
        points = float(meta.get("points", 0))
        score = None if scores is None else float(scores.get(meta.get("grade_id", ""), 0.0))
        status, detail = judge(cell, number, exercise_cells.get(number), timeout, score, points)
        if status is Status.FAILED and ("NameError: " in detail or "AttributeError: " in detail):
            detail += _earlier_failure(cells, index, number)  # what a failed cell above leaves undefined
        elif status is Status.FAILED:
            detail += _failing_dependency(results, exercise_cells, number, cell)
        results.append(
            ExerciseResult(number, titles.get(number, meta.get("grade_id", "")), points, status, detail, score)
        )
    return results


def defined_names(exercise_cell: dict) -> set[str]:
    """What an exercise cell defines that later code can use: its classes and functions by name, and
    the methods it attaches (`@add_to_class(Tensor) def sum`) except operators, which code uses as `-` or `@`."""
    try:
        tree = ast.parse(python_of(cell_source(exercise_cell)))
    except SyntaxError:
        return set()
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("__"):
            names.add(node.name)
    return names


def used_names(*cells: dict) -> set[str]:
    """The names and attributes the cells' code refers to, but numpy's own: in a test,
    np.arange(12.0).reshape(4, 3) is numpy's reshape, not the student's."""
    used: set[str] = set()
    for cell in cells:
        try:
            tree = ast.parse(python_of(cell_source(cell)))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Name):
                used.add(node.id)
            elif isinstance(node, ast.Attribute) and not _of_numpy(node.value):
                used.add(node.attr)
    return used


def _of_numpy(node: ast.expr) -> bool:
    """Whether an expression is numpy's: np (or numpy), an attribute of it, a call or an item of one."""
    while isinstance(node, (ast.Attribute, ast.Call, ast.Subscript)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return isinstance(node, ast.Name) and node.id in ("np", "numpy")


def _failing_dependency(earlier: list[ExerciseResult], exercise_cells: dict, number: str, test_cell: dict) -> str:
    """A note when this exercise's code or test uses what an earlier exercise defines, and that one
    does not pass its own test: its failure is the likely cause, so it is the one to fix first."""
    own = [cell for cell in (exercise_cells.get(number), test_cell) if cell is not None]
    used = used_names(*own) - defined_names(own[0]) if own else set()
    for result in earlier:
        if result.status is Status.PASSED or result.exercise not in exercise_cells:
            continue
        shared = sorted(defined_names(exercise_cells[result.exercise]) & used)
        if shared:
            return (
                f" — this uses your Exercise {result.exercise} ({', '.join(shared)}), which does not pass its own "
                "test: fix that first"
            )
    return ""


def judge(
    cell: dict, number: str, exercise_cell: dict | None, timeout: float, score: float | None, points: float
) -> tuple[Status, str]:
    """The status of one exercise and the message that explains it, from its executed test cell.

    `score` is nbgrader's, when it graded the cell (grading restored every locked cell first, hidden
    tests included); None in `tito test`, where an edited test cell fails.
    """
    error = _grader_error(cell) or first_error(cell)
    if error is not None and error.get("ename") in _GRADER_ERRORS:
        return _GRADER_ERRORS[error["ename"]], f"{error['ename']}: {error.get('evalue', '')}".splitlines()[0]
    if score is None and not unchanged_since_release(cell):
        return Status.FAILED, (
            "this test cell was edited; nbgrader grades the original, so undo the edit (or copy the cell from a fresh release)"
        )
    if cell.get("execution_count") is None and error is None:
        return Status.NOT_RUN, "the notebook stopped before this cell"
    if error is None:  # output on stderr (a debug print, a warning) costs nothing
        if score is None or score >= points:
            return Status.PASSED, ""
        return Status.FAILED, "no error, but nbgrader gave no points"
    own_error = first_error(exercise_cell) if exercise_cell else None
    if exercise_cell is not None and own_error is not None:
        return Status.FAILED, f"your code for Exercise {number} did not run: {describe_error(own_error, exercise_cell)}"
    return _judge_failure(error, number, exercise_cell, timeout)


def _grader_error(cell: dict) -> dict | None:
    """The grader's own error among a cell's outputs (it may follow the student's)."""
    return next(
        (o for o in cell.get("outputs", []) if o.get("output_type") == "error" and o.get("ename") in _GRADER_ERRORS),
        None,
    )


def _judge_failure(error: dict, number: str, exercise_cell: dict | None, timeout: float) -> tuple[Status, str]:
    """A test that raised: not attempted, partly done or failed, with the message a student reads first."""
    name, value = error.get("ename", ""), str(error.get("evalue", ""))
    own_stub = name == "NotImplementedError" and value.startswith(stub_message(number, ""))
    if name == "KeyboardInterrupt":
        failure = f"timed out (a cell may run at most {timeout:g} s): is there an endless loop?"
    elif name == "NotImplementedError" and value.startswith(STUB_PREFIX) and not own_stub:
        failure = f"needs {value.split(':', maxsplit=1)[0]} first ({value})"
    elif name in ("CheckFailed", "AssertionError") and value:
        failure = value  # a check's message already names the case, what came back and what was expected
    else:
        failure = f"{name}: {value}".strip()
    remaining: list[str] = []
    if exercise_cell is None:
        progress = Progress.NOT_ATTEMPTED if own_stub else Progress.DONE
    else:
        progress, remaining = stub_progress(exercise_cell)
    if progress is Progress.NOT_ATTEMPTED:
        return Status.NOT_ATTEMPTED, failure
    if progress is Progress.PARTLY_DONE:
        names = " and ".join(f"`{stub}`" for stub in remaining)
        still = f"{names} still raise{'s' if len(remaining) == 1 else ''} NotImplementedError"
        return Status.PARTLY_DONE, still if own_stub else f"{still}; and {failure}"
    if own_stub:
        stub = value.split(": ", 1)[-1]
        return (
            Status.FAILED,
            f"{stub} still raises NotImplementedError({value!r}), though its stub is gone from the exercise cell",
        )
    return Status.FAILED, failure


def _earlier_failure(cells: list[dict], test_index: int, number: str) -> str:
    """A note when a cell that defines code (an exercise or a given cell) above this test failed to run."""
    for index, cell in enumerate(cells[:test_index]):
        error = first_error(cell) if defines_code(cell) else None
        if error and cell_exercise(cell) != number:
            return (
                f" (but first: {describe_cell(cells, index)} failed when it ran, {describe_error(error, cell)}; "
                "fix it and run the cells below it again)"
            )
    return ""


def count_statuses(results: list[ExerciseResult]) -> str:
    """ "1 passed, 0 failed, 10 not attempted": passed, failed and not attempted always, the rest when present."""
    always = (Status.PASSED, Status.FAILED, Status.NOT_ATTEMPTED)
    counts = {status: sum(result.status is status for result in results) for status in Status}
    return ", ".join(f"{count} {status}" for status, count in counts.items() if count or status in always)


def ungraded_errors(notebook: dict) -> list[str]:
    """The errors of the cells that award no points (demonstrations, timings, given code), each with
    the cell as a student finds it: they cost nothing, but what they were to show did not happen.
    A stub's NotImplementedError is left out: the exercise it needs is simply not written yet."""
    cells = notebook["cells"]
    found = []
    for index, cell in enumerate(cells):
        error = first_error(cell) if is_code(cell) and not is_graded(cell) and not is_exercise(cell) else None
        if error is None:
            continue
        if error.get("ename") == "NotImplementedError" and str(error.get("evalue", "")).startswith(STUB_PREFIX):
            continue
        found.append(f"{describe_cell(cells, index)} raised {describe_error(error, cell)}")
    return found
