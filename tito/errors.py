"""What can go wrong that the user can fix: the command line prints the message as one line,
`tito: error: ...`, and exits with status 2. Every message says what is wrong, where, and what to do."""

from __future__ import annotations


class TitoError(Exception):
    """The base of every error tito reports to its user instead of a traceback."""


class RegistryError(TitoError):
    """modules.toml is missing or says something impossible, or names no such module."""


class NotebookError(TitoError):
    """A notebook cannot be read or exported; the message names the notebook and the cell."""


class NotInStudentCopy(TitoError):
    """A command needs the instructor's solutions, and this is a students' copy of the course."""

    def __init__(self, what: str) -> None:
        super().__init__(
            f"the instructor's solutions (source_solutions/) are not part of this copy of the course: {what}"
        )


class StudentCopyError(TitoError):
    """The students' copy cannot be written, or would leak what only instructors may see."""


class KernelError(TitoError):
    """The kernel running a notebook died or would not start."""


class NbgraderError(TitoError):
    """nbgrader could not do what it was asked (release, grade, write feedback); the message carries its log."""


class GradingError(TitoError):
    """`tito grade` cannot start, or cannot read what it was given."""


class GradeLockBusy(GradingError):
    """Another `tito grade` holds the course's grading lock."""
