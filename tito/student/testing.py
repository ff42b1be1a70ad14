"""`tito test` and the check cell: run a saved notebook headless (nbclient) and report each exercise
with the course's one verdict (tito.course.verdict)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from tito.course.cells import Progress, is_exercise, read_notebook, stub_progress
from tito.course.settings import CELL_SECONDS, EXPORT_ENV, EXPORT_SKIP
from tito.course.verdict import MARKS, ExerciseResult, Status, count_statuses
from tito.errors import KernelError


def run_notebook(
    path: Path,
    env: dict[str, str] | None = None,
    timeout: float = CELL_SECONDS,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Execute a notebook in its own folder with every cell run (errors recorded, not fatal).

    A cell that runs longer than `timeout` is interrupted and recorded as an error. The kernel's
    own stderr (its start-up chatter) goes to a log file, so only cell output reaches the notebook.
    """
    import nbformat
    from jupyter_client.manager import AsyncKernelManager
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

    kernel_env = {**os.environ, EXPORT_ENV: EXPORT_SKIP, **(env or {})}
    with tempfile.TemporaryDirectory(prefix="tito-kernel-") as folder, tempfile.TemporaryFile(mode="w+") as kernel_log:
        # Unix sockets, as the grading sandbox uses, not TCP ports: kernels started side by side
        # cannot race for the same free port ("Address already in use").
        manager = AsyncKernelManager(
            kernel_name="python3", transport="ipc", ip=f"{folder}/ipc", connection_file=f"{folder}/connection.json"
        )
        client = NotebookClient(
            notebook,
            km=manager,
            timeout=timeout,
            interrupt_on_timeout=True,
            allow_errors=True,
            resources={"metadata": {"path": str(path.parent)}},
            on_cell_executed=on_cell_executed,
        )
        try:
            client.execute(env=kernel_env, stderr=kernel_log)
        except Exception as error:  # the kernel died or would not start: say so with its own words
            kernel_log.seek(0)
            raise KernelError(f"The kernel running {path} failed: {error}\n{kernel_log.read()[-2000:]}") from None
    return notebook


def exercises_attempted(notebook: dict) -> tuple[int, int]:
    """(attempted, total) exercise cells of a saved notebook; partly done counts as attempted."""
    cells = [cell for cell in notebook["cells"] if is_exercise(cell)]
    return sum(stub_progress(cell)[0] is not Progress.NOT_ATTEMPTED for cell in cells), len(cells)


PROVISIONAL = (
    "grading also runs hidden tests that check the same behaviour on other inputs, so this score is provisional"
)


def format_report(results: list[ExerciseResult], notes: Sequence[str] = ()) -> str:
    """One row per exercise with its whole first message, then the counts and the score, then what
    went wrong outside the tests (`notes`: tito.course.verdict.ungraded_errors)."""
    lines = []
    width = max((len(result.title) for result in results), default=0)
    for result in results:
        mark, title = MARKS[result.status], f"{result.title:<{width}}"
        line = f"{mark} Exercise {result.exercise:<6} {title}  {result.earned:g}/{result.points:g}  {result.status}"
        if result.detail and result.status is not Status.NOT_ATTEMPTED:
            line += "".join(f"\n      {text}" for text in result.detail.splitlines())
        lines.append(line)
    earned, total = sum(r.earned for r in results), sum(r.points for r in results)
    lines.append(count_statuses(results))
    lines.append(f"score: {earned:g}/{total:g} points on the visible tests; {PROVISIONAL}")
    lines += [f"⚠ {note}: that cell is not graded, so this costs no points, but it stopped there" for note in notes]
    return "\n".join(lines)
