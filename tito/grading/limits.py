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
    memory_bytes: int = 4 << 30  # across every process of the sandbox (tito.grading.watchdog)
    processes: int = 64  # that the notebook may start, besides the kernel
    disk_bytes: int = 256 << 20  # each of the sandbox's /tmp, home, /dev/shm and the folder on disk it may write
    files: int = 10_000  # in that folder on disk
    open_files: int = 1024  # file descriptors per process
    output_bytes: int = 100_000  # per cell: the rest of a flood is dropped with a note
    interrupt_grace_seconds: float = 5  # how long an interrupted cell has to stop before its kernel is killed
    submission_bytes: int = 50 << 20  # a notebook larger than this is refused unread
    cells: int = 1_000  # a notebook with more is refused (a release has 40 to 80)


DEFAULT = Limits()
