"""Every graded submission is one nbgrader knows: recorded in `submitted/<student>/<module>/` with the
`timestamp.txt` nbgrader reads (late penalties, the Formgrader, `nbgrader export`) and the
`submission_secret.txt` that `nbgrader release_feedback` names each student's feedback file by.

Submissions collected through the exchange already have both; a notebook graded `--from` a folder
is copied in, stamped with its file's time or one the instructor gives.
"""

from __future__ import annotations

import datetime
import os
import secrets
import shutil
import stat
import time
from dataclasses import replace
from pathlib import Path

from tito.course.registry import Module
from tito.errors import GradingError
from tito.grading.limits import Limits
from tito.grading.submissions import Submission

TIMESTAMP_FILE = "timestamp.txt"
SECRET_FILE = "submission_secret.txt"
SMALL_FILE = 4096  # bytes: a timestamp or a secret is far shorter; anything longer is not one
REPLACED_DIR = Path(".tito") / "replaced"


def timestamp_text(moment: datetime.datetime) -> str:
    """A UTC time as nbgrader's `submit` writes it into timestamp.txt."""
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f UTC")


def parse_timestamp(text: str) -> datetime.datetime:
    """A time given on the command line or read from timestamp.txt, in UTC (nbgrader's parser:
    `2026-12-01 23:59`, `2026-12-01T23:59:00+01:00`, `2026-12-01 23:59:00 UTC`); a clear error if not."""
    from nbgrader.utils import parse_utc

    try:
        moment = parse_utc(text.strip())
    except (ValueError, OverflowError, TypeError) as error:
        raise GradingError(
            f"{text.strip()[:60]!r} is not a time (write it as 2026-12-01 23:59, in UTC, or with its offset): {error}"
        ) from None
    return moment.replace(tzinfo=datetime.timezone.utc)


def _small_file(path: Path) -> str:
    """A short text file of the submission's, read without following a link; '' if not one."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return ""
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return ""
        raw = handle.read(SMALL_FILE + 1)
    return "" if len(raw) > SMALL_FILE else raw.decode("utf-8", "replace").strip()


def _file_time(path: Path) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(os.lstat(path).st_mtime, datetime.timezone.utc)


def stamped(submission: Submission, given: datetime.datetime | None = None) -> Submission:
    """The submission with its time and secret: from its folder's timestamp.txt and
    submission_secret.txt (as the exchange leaves them), else `given`, else its file's time, and a
    fresh secret."""
    folder = submission.notebook.parent
    found = _small_file(folder / TIMESTAMP_FILE)
    note = submission.warning
    moment = given
    if moment is None and found:
        try:
            moment = parse_timestamp(found)
        except GradingError:
            note = "; ".join(filter(None, [note, f"its {TIMESTAMP_FILE} is not a time: took the notebook file's"]))
    if moment is None:
        moment = _file_time(submission.notebook)
    secret = _small_file(folder / SECRET_FILE)
    if not secret.isalnum():
        secret = secrets.token_hex(64)
    return replace(submission, timestamp=timestamp_text(moment), secret=secret, warning=note)


def record_submitted(root: Path, module: Module, submission: Submission) -> Submission:
    """Make `submitted/<student>/<module>/` hold this submission with its timestamp.txt and secret,
    so that nbgrader's own tools see what `tito grade` graded. A submission already there is only
    stamped (files written where missing); one from elsewhere is copied in, and a different
    notebook it replaces is kept in .tito/replaced/, never lost."""
    folder = root / "submitted" / submission.student / module.slug
    notebook = folder / f"{module.slug}.ipynb"
    inside = submission.notebook.parent.resolve() == folder.resolve() if folder.exists() else False
    if not inside:
        raw = _read_notebook(submission.notebook)
        if raw is None:  # not a file that can be read: grading says why, from the original
            return submission
        if folder.exists() and not (notebook.is_file() and notebook.read_bytes() == raw):
            kept = root / REPLACED_DIR / submission.student / f"{module.slug}-{time.strftime('%Y%m%d-%H%M%S')}"
            kept.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(folder), str(kept))
            submission = replace(
                submission,
                warning="; ".join(
                    filter(
                        None, [submission.warning, f"the submission it replaces is kept in {kept.relative_to(root)}"]
                    )
                ),
            )
        folder.mkdir(parents=True, exist_ok=True)
        partial = notebook.with_name(notebook.name + ".partial")
        partial.write_bytes(raw)
        partial.replace(notebook)
        submission = replace(submission, notebook=notebook)
    for name, text in ((TIMESTAMP_FILE, submission.timestamp), (SECRET_FILE, submission.secret)):
        path = folder / name
        if not path.exists() and not path.is_symlink():
            path.write_text(text, encoding="utf-8")
    return submission


def _read_notebook(path: Path, largest: int = Limits().submission_bytes) -> bytes | None:
    """The submission's bytes, read as a regular file without following a link; None if it is not
    one or is too large to be a submission (grading then refuses it with the reason)."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(descriptor, "rb") as handle:
        status = os.fstat(handle.fileno())
        if not stat.S_ISREG(status.st_mode) or status.st_size > largest:
            return None
        raw = handle.read(largest + 1)
    return None if len(raw) > largest else raw
