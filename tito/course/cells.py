"""Reading a notebook's cells the way students see them: by exercise and heading, not by number.

The one set of predicates every room uses: which cells are exercises, tests, locked or exported,
a cell's first error, and how far a student got with an exercise's stubs. JupyterLab shows no
cell numbers, so every message about a cell names the exercise it belongs to, or the heading it
sits under.
"""

from __future__ import annotations

import json
import re
from enum import Enum, auto
from pathlib import Path

from tito.errors import NotebookError

EXPORT_MARKER = "%%export"
# The regions of a source notebook that never reach a student: `### BEGIN SOLUTION` ... `### END SOLUTION`.
SECRET_KINDS = ("SOLUTION", "HIDDEN TESTS")
HIDDEN_TESTS_MARKER = f"### BEGIN {SECRET_KINDS[1]}"
# A released stub: raise NotImplementedError("Exercise 01.3: Tensor.__matmul__"). The release fills
# STUB_PLACEHOLDER in CODE_STUB with stub_message(exercise, name), and lists the cell's stubs in
# its metadata (mark_stubs), so that reports tell "not attempted" from "partly done".
STUB_PREFIX = "Exercise "
STUB_PLACEHOLDER = "{exercise}"
CODE_STUB = f'raise NotImplementedError("{STUB_PLACEHOLDER}")'
STUB_LINE = re.compile(r'raise NotImplementedError\("' + STUB_PREFIX + r'(\d+\.\d+): ([^"]*)"\)')
STUB_RAISED = re.compile("^" + STUB_PREFIX + r"(\d+)\.(\d+): (.+)$")  # the message of that error
_MARKDOWN_HEADING = re.compile(r"^#+\s+(.+?)\s*$", re.MULTILINE)


def read_notebook(path: Path) -> dict:
    """Load a saved notebook as JSON, explaining what is wrong when it is not one."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotebookError(f"{path}: no such notebook.") from None
    try:
        notebook = json.loads(text)
    except json.JSONDecodeError as error:
        raise NotebookError(
            f"{path} is not valid notebook JSON (line {error.lineno}, column {error.colno}: {error.msg}). "
            "It was probably damaged outside JupyterLab; restore it from .ipynb_checkpoints/ or git, "
            "or open it in a text editor and fix that spot."
        ) from None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise NotebookError(f"{path} is JSON but not a notebook (it has no list of cells).")
    return notebook


def cell_source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def python_of(source: str) -> str:
    """A cell's source without the lines IPython runs as magics (`%`, `%%`) or shell commands (`!`), for ast."""
    return "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))


def nbgrader_meta(cell: dict) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def is_code(cell: dict) -> bool:
    return cell.get("cell_type") == "code"


def is_graded(cell: dict) -> bool:
    """A test cell that awards points."""
    return is_code(cell) and bool(nbgrader_meta(cell).get("grade"))


def is_exercise(cell: dict) -> bool:
    """A cell the student writes in (nbgrader's solution cell)."""
    return is_code(cell) and bool(nbgrader_meta(cell).get("solution"))


def is_markdown(cell: dict) -> bool:
    return cell.get("cell_type") == "markdown"


def is_locked(cell: dict) -> bool:
    """A cell the release locked: the tests and the given code."""
    return bool(nbgrader_meta(cell).get("locked"))


def defines_code(cell: dict) -> bool:
    """A code cell that defines what later cells use: an exercise, or a locked cell of given code."""
    meta = nbgrader_meta(cell)
    return is_code(cell) and bool(meta.get("solution") or (meta.get("locked") and not meta.get("grade")))


def is_demonstration(cell: dict) -> bool:
    """A released cell that demonstrates, not grades (ids `sys-...` and `demo-...`, no nbgrader metadata:
    the systems-thinking timings, the training demos). Grading skips them: nothing graded depends on
    them, and they cost seconds."""
    return str(cell.get("id", "")).startswith(("sys-", "demo-")) and "nbgrader" not in cell.get("metadata", {})


def first_error(cell: dict) -> dict | None:
    """The first error output of an executed cell, if it raised."""
    return next((output for output in cell.get("outputs", []) if output.get("output_type") == "error"), None)


def is_export_marker(first_line: str) -> bool:
    """Whether a cell's first line is the `%%export` marker (alone on its line)."""
    return first_line.rstrip() == EXPORT_MARKER


def is_export_cell(cell: dict) -> bool:
    return is_code(cell) and is_export_marker(cell_source(cell).split("\n", 1)[0])


def stub_message(number: str, name: str) -> str:
    """What a released stub raises, e.g. `Exercise 01.3: Tensor.__matmul__`; reports read it back."""
    return f"{STUB_PREFIX}{number}: {name}"


def exercise_id(grade_id: str) -> str | None:
    """`ex_01_3` -> `01.3`, the id students see in headings, stubs, tests and reports."""
    match = re.fullmatch(r"(?:ex|test)_(\d+)_(\d+)", grade_id)
    return f"{match.group(1)}.{match.group(2)}" if match else None


def cell_exercise(cell: dict) -> str | None:
    """The exercise id of an exercise or test cell (`01.3`), else None."""
    return exercise_id(nbgrader_meta(cell).get("grade_id", ""))


def mark_stubs(cell: dict, names: list[str]) -> None:
    """Record in a released exercise cell's metadata the names of the stubs it was released with."""
    cell["metadata"]["tito"] = {"stubs": names}


def released_stubs(cell: dict) -> list[str]:
    """The names of the stubs an exercise cell was released with (mark_stubs), or [] for another cell."""
    return list(cell.get("metadata", {}).get("tito", {}).get("stubs") or [])


def remaining_stubs(cell: dict, number: str) -> list[str]:
    """The names whose stub for exercise `number` is still in the cell: ["Tensor.__rtruediv__"]."""
    return [name for found, name in STUB_LINE.findall(cell_source(cell)) if found == number]


def unchanged_since_release(cell: dict) -> bool:
    """Whether a released cell still is exactly as released, by nbgrader's own checksum."""
    from nbformat import from_dict
    from nbgrader.utils import compute_checksum

    recorded = nbgrader_meta(cell).get("checksum")
    return recorded is None or compute_checksum(from_dict({**cell, "source": cell_source(cell)})) == recorded


class Progress(Enum):
    """How far a student got in an exercise cell."""

    NOT_ATTEMPTED = auto()  # as released, or every stub it was released with is still there
    PARTLY_DONE = auto()  # some of its stubs are left
    DONE = auto()  # no stub is left (whether the code is right is the test's to say)


def stub_progress(exercise_cell: dict) -> tuple[Progress, list[str]]:
    """How far the student got in an exercise cell, and the stubs still in it.

    The release lists a cell's stubs in `metadata.tito.stubs`, so an exercise with every stub
    left is not attempted, whatever else the student added to the cell.
    """
    number = cell_exercise(exercise_cell) or ""
    remaining = remaining_stubs(exercise_cell, number)
    released = released_stubs(exercise_cell)
    released_checksum = nbgrader_meta(exercise_cell).get("checksum") is not None
    untouched = bool(remaining) and released_checksum and unchanged_since_release(exercise_cell)
    every_stub_left = bool(released) and sorted(remaining) == sorted(released)
    if untouched or every_stub_left:
        return Progress.NOT_ATTEMPTED, remaining
    return (Progress.PARTLY_DONE if remaining else Progress.DONE), remaining


def describe_cell(cells: list[dict], index: int) -> str:
    """How a student finds cell `index`: "the code cell of Exercise 01.7", or the heading above it."""
    meta = nbgrader_meta(cells[index])
    number = exercise_id(meta.get("grade_id", ""))
    if number and meta.get("solution"):
        return f"the code cell of Exercise {number}"
    if number and meta.get("grade"):
        return f"the test cell of Exercise {number}"
    position = 1
    for above in reversed(cells[:index]):
        if is_code(above):
            position += 1
            continue
        headings = _MARKDOWN_HEADING.findall(cell_source(above))
        if headings:
            which = "the code cell" if position == 1 else f"code cell {position}"
            return f"{which} under the heading “{headings[-1].replace('`', '')}”"
    return f"code cell {index + 1}"
