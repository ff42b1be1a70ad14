"""What one graded notebook may use: the one declaration of the grading limits, read by the sandbox,
its nbgrader preprocessor and `tito grade --help`. Imports nothing heavy, so the CLI can show them."""

from __future__ import annotations

from dataclasses import dataclass

from tito.course.settings import CELL_SECONDS


@dataclass(frozen=True)
class Limits:
    """What one submission may use."""

    cell_seconds: float = CELL_SECONDS
    notebook_seconds: float = 600
    memory_bytes: int = 4 << 30
    output_bytes: int = 100_000  # per cell: the rest of a flood is dropped with a note
    interrupt_grace_seconds: float = 5  # how long an interrupted cell has to stop before its kernel is killed


DEFAULT = Limits()
