"""Running notebooks headless (nbclient) and reading per-exercise results from their test cells."""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from tito.cells import (
    STUB_PREFIX,
    cell_source,
    describe_cell,
    exercise_id,
    nbgrader_meta,
    remaining_stubs,
    stub_message,
)
from tito.export import read_notebook

HEADING = re.compile(r"^#+\s*Exercise\s+(\d+\.\d+)\s*[—–-]\s*(.+?)\s*\((\d+)\s+points?\)", re.MULTILINE)
CELL_TIMEOUT = 60  # seconds a cell may run, in tito's runs and nbgrader's (nbgrader_config.py reads it)
STATUSES = ("passed", "failed", "partly done", "not attempted", "not run")  # in the order reports count them
# ipykernel's SyntaxError text: "invalid syntax (1063758517.py, line 14)"
_SYNTAX_WHERE = re.compile(r"^(.*) \((?:[^()]*\.py|<[^>]*>), line (\d+)\)$", re.S)


class KernelError(Exception):
    """The kernel running a notebook died or would not start."""


@dataclass(frozen=True)
class ExerciseResult:
    exercise: str  # "01.3"
    title: str
    points: float
    status: str  # one of STATUSES
    detail: str = ""

    @property
    def earned(self) -> float:
        return self.points if self.status == "passed" else 0.0


def run_notebook(
    path: Path,
    env: dict[str, str] | None = None,
    timeout: int = CELL_TIMEOUT,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Execute a notebook in its own folder with every cell run (errors recorded, not fatal).

    A cell that runs longer than `timeout` is interrupted and recorded as an error. The kernel's
    own stderr (its start-up chatter) goes to a log file, so only cell output reaches the notebook.
    """
    import nbformat
    from nbclient import NotebookClient

    try:
        notebook = nbformat.read(str(path), as_version=4)
    except Exception:
        read_notebook(path)  # raises the explanation of what is wrong with the file, where there is one
        raise
    total = len(notebook.cells)

    def on_cell_executed(cell_index: int, **_: object) -> None:
        if progress:
            progress(cell_index + 1, total)

    client = NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=timeout,
        interrupt_on_timeout=True,
        allow_errors=True,
        resources={"metadata": {"path": str(path.parent)}},
        on_cell_executed=on_cell_executed,
    )
    kernel_env = {**os.environ, "TITO_EXPORT": "skip", **(env or {})}
    with tempfile.TemporaryFile(mode="w+") as kernel_log:
        try:
            client.execute(env=kernel_env, stderr=kernel_log)
        except Exception as error:  # the kernel died or would not start: say so with its own words
            kernel_log.seek(0)
            raise KernelError(f"The kernel running {path} failed: {error}\n{kernel_log.read()[-2000:]}") from None
    return notebook


def exercise_results(notebook: dict, timeout: int = CELL_TIMEOUT) -> list[ExerciseResult]:
    """One result per graded test cell, in notebook order, judged from the executed notebook."""
    cells = notebook["cells"]
    titles = {}
    for cell in cells:
        if cell.get("cell_type") == "markdown":
            for number, title, _points in HEADING.findall(cell_source(cell)):
                titles[number] = title.replace("`", "")
    exercise_cells = {
        exercise_id(nbgrader_meta(cell).get("grade_id", "")): cell
        for cell in cells
        if nbgrader_meta(cell).get("solution") and cell.get("cell_type") == "code"
    }
    results = []
    for index, cell in enumerate(cells):
        meta = nbgrader_meta(cell)
        if not meta.get("grade") or cell.get("cell_type") != "code":
            continue
        number = exercise_id(meta.get("grade_id", "")) or meta.get("grade_id", "?")
        status, detail = _judge(cell, number, exercise_cells.get(number), timeout)
        if status == "failed" and (
            "NameError: " in detail or "AttributeError: " in detail
        ):  # what a failed cell above leaves undefined
            detail += _earlier_failure(cells, index, number)
        results.append(
            ExerciseResult(
                number, titles.get(number, meta.get("grade_id", "")), float(meta.get("points", 0)), status, detail
            )
        )
    return results


def count_statuses(results: list[ExerciseResult]) -> str:
    """ "1 passed, 0 failed, 10 not attempted": passed, failed and not attempted always, the rest when present."""
    counts = {status: sum(result.status == status for result in results) for status in STATUSES}
    shown = [
        f"{count} {status}"
        for status, count in counts.items()
        if count or status in ("passed", "failed", "not attempted")
    ]
    return ", ".join(shown)


def exercises_attempted(notebook: dict) -> tuple[int, int]:
    """(attempted, total) exercise cells of a saved notebook; partly done counts as attempted."""
    cells = [c for c in notebook["cells"] if nbgrader_meta(c).get("solution") and c.get("cell_type") == "code"]
    attempted = sum(
        _progress_of(cell, exercise_id(nbgrader_meta(cell).get("grade_id", "")) or "")[0] != "not attempted"
        for cell in cells
    )
    return attempted, len(cells)


def _unchanged_since_release(cell: dict) -> bool:
    """Whether a released cell still is exactly as released, by nbgrader's own checksum."""
    from nbformat import from_dict
    from nbgrader.utils import compute_checksum

    recorded = nbgrader_meta(cell).get("checksum")
    return recorded is None or compute_checksum(from_dict({**cell, "source": cell_source(cell)})) == recorded


def _cell_error(cell: dict) -> dict | None:
    return next((output for output in cell.get("outputs", []) if output.get("output_type") == "error"), None)


def describe_error(error: dict, cell: dict) -> str:
    """`NameError: name 'x' is not defined`; a syntax error with its line in the cell and that line."""
    name, value = error.get("ename", ""), str(error.get("evalue", ""))
    where = _SYNTAX_WHERE.match(value)
    if name in ("SyntaxError", "IndentationError", "TabError") and where:
        message, line = where.group(1), int(where.group(2))
        lines = cell_source(cell).splitlines()
        shown = f"\n    {lines[line - 1].strip()}" if 0 < line <= len(lines) else ""
        return f"{name} on line {line} of the cell: {message}{shown}"
    return f"{name}: {value}".strip()


def _judge(cell: dict, number: str, exercise_cell: dict | None, timeout: int) -> tuple[str, str]:
    if not _unchanged_since_release(cell):
        return (
            "failed",
            "this test cell was edited; nbgrader grades the original, so undo the edit (or copy the cell from a fresh release)",
        )
    if cell.get("execution_count") is None:
        return "not run", "the notebook stopped before this cell"
    error = _cell_error(cell)
    if (
        error is None
    ):  # output on stderr (a debug print, a warning) costs nothing: `tito grade` scores the test, not the stream
        return "passed", ""
    own_error = _cell_error(exercise_cell) if exercise_cell else None
    if own_error:
        return "failed", f"your code for Exercise {number} did not run: {describe_error(own_error, exercise_cell)}"
    name, value = error.get("ename", ""), str(error.get("evalue", ""))
    if name == "KeyboardInterrupt":
        failure = f"timed out (a cell may run at most {timeout} s): is there an endless loop?"
    elif (
        name == "NotImplementedError"
        and value.startswith(STUB_PREFIX)
        and not value.startswith(stub_message(number, ""))
    ):
        failure = f"needs {value.split(':')[0]} first ({value})"
    elif name in ("CheckFailed", "AssertionError") and value:
        failure = value  # a check's message already names the case, what came back and what was expected
    else:
        failure = f"{name}: {value}".strip()
    own_stub = name == "NotImplementedError" and value.startswith(stub_message(number, ""))
    progress, remaining = (
        _progress_of(exercise_cell, number) if exercise_cell else ("not attempted" if own_stub else "done", [])
    )
    if progress == "not attempted":
        return "not attempted", failure
    if progress == "partly done":
        names = " and ".join(f"`{stub}`" for stub in remaining)
        still = f"{names} still raise{'s' if len(remaining) == 1 else ''} NotImplementedError"
        return "partly done", still if own_stub else f"{still}; and {failure}"
    if own_stub:
        return (
            "failed",
            f"{value.split(': ', 1)[-1]} still raises NotImplementedError({value!r}), though its stub is gone from the exercise cell",
        )
    return "failed", failure


def _progress_of(exercise_cell: dict, number: str) -> tuple[str, list[str]]:
    """How far the student got in an exercise cell: ("not attempted" | "partly done" | "done", stubs left).

    Not attempted: the cell is as released, or every stub it was released with is still there
    (the release lists them in metadata.tito.stubs). Partly done: some stubs are left.
    """
    remaining = remaining_stubs(exercise_cell, number)
    released = exercise_cell.get("metadata", {}).get("tito", {}).get("stubs")
    untouched = bool(remaining) and _unchanged_since_release(exercise_cell)
    every_stub_left = bool(released) and sorted(remaining) == sorted(released)
    if untouched or every_stub_left:
        return "not attempted", remaining
    return ("partly done" if remaining else "done"), remaining


def _earlier_failure(cells: list[dict], test_index: int, number: str) -> str:
    """A note when a cell that defines code (an exercise or a given cell) above this test failed to run."""
    for index, cell in enumerate(cells[:test_index]):
        meta = nbgrader_meta(cell)
        defines = meta.get("solution") or (meta.get("locked") and not meta.get("grade"))
        error = _cell_error(cell) if defines and cell.get("cell_type") == "code" else None
        if error and exercise_id(meta.get("grade_id", "")) != number:
            return f" (but first: {describe_cell(cells, index)} failed when it ran, {describe_error(error, cell)}; fix it and run the cells below it again)"
    return ""


MARKS = {"passed": "✅", "failed": "❌", "partly done": "🟨", "not attempted": "⬜", "not run": "⏸"}
PROVISIONAL = (
    "grading also runs hidden tests that check the same behaviour on other inputs, so this score is provisional"
)


def format_report(results: list[ExerciseResult]) -> str:
    """One row per exercise with its whole first message, then the counts and the score."""
    lines = []
    width = max((len(result.title) for result in results), default=0)
    for result in results:
        line = f"{MARKS.get(result.status, '?')} Exercise {result.exercise:<6} {result.title:<{width}}  {result.earned:g}/{result.points:g}  {result.status}"
        if result.detail and result.status != "not attempted":
            line += "".join(f"\n      {text}" for text in result.detail.splitlines())
        lines.append(line)
    earned, total = sum(r.earned for r in results), sum(r.points for r in results)
    lines.append(count_statuses(results))
    lines.append(f"score: {earned:g}/{total:g} points on the visible tests; {PROVISIONAL}")
    return "\n".join(lines)
