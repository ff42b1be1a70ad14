"""Running notebooks headless (nbclient) and reading per-exercise results from their test cells."""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from tito.export import cell_source, read_notebook

HEADING = re.compile(r"^#+\s*Exercise\s+(\d+\.\d+)\s*[—–-]\s*(.+?)\s*\((\d+)\s+points?\)", re.MULTILINE)
CELL_TIMEOUT = 60  # seconds a cell may run, in tito's runs and nbgrader's (nbgrader_config.py reads it)


STUB_PREFIX = "Exercise "


def stub_message(number: str, name: str) -> str:
    """What a released stub raises, e.g. `Exercise 01.3: Tensor.__matmul__`; reports read it back."""
    return f"{STUB_PREFIX}{number}: {name}"


def exercise_id(grade_id: str) -> str | None:
    """`ex_01_3` -> `01.3`, the id students see in headings, stubs, tests and reports."""
    match = re.fullmatch(r"(?:ex|test)_(\d+)_(\d+)", grade_id)
    return f"{match.group(1)}.{match.group(2)}" if match else None


class KernelError(Exception):
    """The kernel running a notebook died or would not start."""


@dataclass(frozen=True)
class ExerciseResult:
    exercise: str  # "01.3"
    title: str
    points: float
    status: str  # "passed", "failed", "not attempted" or "not run"
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
    """One result per graded test cell, in notebook order."""
    titles = {}
    for cell in notebook["cells"]:
        if cell.get("cell_type") == "markdown":
            for number, title, _points in HEADING.findall(cell_source(cell)):
                titles[number] = title.replace("`", "")
    results = []
    for cell in notebook["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if not meta.get("grade") or cell.get("cell_type") != "code":
            continue
        number = exercise_id(meta.get("grade_id", "")) or meta.get("grade_id", "?")
        status, detail = _judge(cell, number, timeout)
        results.append(ExerciseResult(number, titles.get(number, meta.get("grade_id", "")), float(meta.get("points", 0)), status, detail))
    return results


def exercises_attempted(notebook: dict) -> tuple[int, int]:
    """(attempted, total) exercise cells; a cell counts as attempted once none of its stubs is left."""
    cells = [c for c in notebook["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("solution") and c.get("cell_type") == "code"]
    stub = f'raise NotImplementedError("{STUB_PREFIX}'
    attempted = sum(stub not in cell_source(cell) for cell in cells)
    return attempted, len(cells)


def _was_edited(cell: dict) -> bool:
    """Whether a released test cell differs from its release, by nbgrader's own checksum."""
    from nbformat import from_dict
    from nbgrader.utils import compute_checksum

    recorded = cell.get("metadata", {}).get("nbgrader", {}).get("checksum")
    return recorded is not None and compute_checksum(from_dict({**cell, "source": cell_source(cell)})) != recorded


def _judge(cell: dict, number: str, timeout: int) -> tuple[str, str]:
    if _was_edited(cell):
        return "failed", "this test cell was edited; nbgrader grades the original, so undo the edit (or copy the cell from a fresh release)"
    if cell.get("execution_count") is None:
        return "not run", "the notebook stopped before this cell"
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            name, value = output.get("ename", ""), str(output.get("evalue", ""))
            if name == "NotImplementedError" and value.startswith(stub_message(number, "")):
                return "not attempted", value
            if name == "NotImplementedError" and value.startswith(STUB_PREFIX):
                return "failed", f"needs {value.split(':')[0]} first ({value})"
            if name == "KeyboardInterrupt":
                return "failed", f"timed out (a cell may run at most {timeout} s): is there an endless loop?"
            return "failed", f"{name}: {value}".strip()
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream" and output.get("name") == "stderr":
            text = "".join(output.get("text", "")).strip().splitlines()
            return "failed", "printed to stderr, which nbgrader scores zero: " + (text[0] if text else "")
    return "passed", ""
