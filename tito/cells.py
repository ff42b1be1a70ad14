"""Reading a notebook's cells the way students see them: by exercise and heading, not by number.

JupyterLab shows no cell numbers, so every message about a cell names the exercise it belongs to,
or the heading it sits under.
"""

from __future__ import annotations

import re

STUB_PREFIX = "Exercise "
# A released stub line: raise NotImplementedError("Exercise 01.3: Tensor.__matmul__")
STUB_LINE = re.compile(r'raise NotImplementedError\("Exercise (\d+\.\d+): ([^"]*)"\)')
STUB_RAISED = re.compile(r"^Exercise (\d+)\.(\d+): (.+)$")  # the message of that error
_MARKDOWN_HEADING = re.compile(r"^#+\s+(.+?)\s*$", re.MULTILINE)


def cell_source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def nbgrader_meta(cell: dict) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def stub_message(number: str, name: str) -> str:
    """What a released stub raises, e.g. `Exercise 01.3: Tensor.__matmul__`; reports read it back."""
    return f"{STUB_PREFIX}{number}: {name}"


def exercise_id(grade_id: str) -> str | None:
    """`ex_01_3` -> `01.3`, the id students see in headings, stubs, tests and reports."""
    match = re.fullmatch(r"(?:ex|test)_(\d+)_(\d+)", grade_id)
    return f"{match.group(1)}.{match.group(2)}" if match else None


def remaining_stubs(cell: dict, number: str) -> list[str]:
    """The names whose stub for exercise `number` is still in the cell: ["Tensor.__rtruediv__"]."""
    return [name for found, name in STUB_LINE.findall(cell_source(cell)) if found == number]


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
        if above.get("cell_type") == "code":
            position += 1
            continue
        headings = _MARKDOWN_HEADING.findall(cell_source(above))
        if headings:
            which = "the code cell" if position == 1 else f"code cell {position}"
            return f"{which} under the heading “{headings[-1].replace('`', '')}”"
    return f"code cell {index + 1}"
