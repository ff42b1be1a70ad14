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
import time
from dataclasses import replace
from pathlib import Path

from tito.course.registry import Module
from tito.errors import GradingError
from tito.grading.limits import Limits
from tito.grading.submissions import Submission, read_regular_file

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
    """A short text file of the submission's (a timestamp, a secret); '' if there is none, or not one."""
    try:
        return read_regular_file(path, SMALL_FILE).decode("utf-8", "replace").strip()
    except OSError:
        return ""


def _file_time(path: Path) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(os.lstat(path).st_mtime, datetime.timezone.utc)


def record_submitted(
    root: Path, module: Module, submission: Submission, given: datetime.datetime | None = None
) -> Submission:
    """Make `submitted/<student>/<module>/` hold this submission with its timestamp.txt and secret,
    so that nbgrader's own tools see what `tito grade` graded; returns it with its time and secret.

    A notebook from elsewhere (`--from`) is copied in; a different one it replaces is kept in
    .tito/replaced/, never lost. Its time is `given`, else the one already recorded for that same
    notebook (a regrade does not move it), else its folder's timestamp.txt (as the exchange leaves
    it), else its file's time; the secret likewise, else a fresh one."""
    folder = root / "submitted" / submission.student / module.slug
    notebook = submission.notebook  # what is graded: the recorded copy
    timing = submission.notebook  # whose folder's timestamp.txt and secret (else file time) apply
    warning = submission.warning
    if not (folder.is_dir() and notebook.parent.resolve() == folder.resolve()):
        notebook = folder / f"{module.slug}.ipynb"
        try:
            raw = read_regular_file(submission.notebook, Limits().submission_bytes)
        except OSError:  # not a file that can be graded: grading says why, from the original
            return submission
        if notebook.is_file() and notebook.read_bytes() == raw:
            timing = notebook  # already recorded (a regrade): its time and secret stay
        else:
            if folder.exists():
                kept = root / REPLACED_DIR / submission.student / f"{module.slug}-{time.strftime('%Y%m%d-%H%M%S')}"
                kept.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(str(folder), str(kept))
                warning = "; ".join(
                    filter(None, [warning, f"the submission it replaces is kept in {kept.relative_to(root)}"])
                )
            folder.mkdir(parents=True)
            _write_whole(notebook, raw)
    found = _small_file(timing.parent / TIMESTAMP_FILE)
    moment = given
    if moment is None and found:
        try:
            moment = parse_timestamp(found)
        except GradingError:
            warning = "; ".join(
                filter(None, [warning, f"its {TIMESTAMP_FILE} is not a time: took the notebook file's"])
            )
    from_file = moment is None
    moment = moment or _file_time(timing)
    secret = _small_file(timing.parent / SECRET_FILE)
    secret = secret if secret.isalnum() else secrets.token_hex(64)
    stamps = {TIMESTAMP_FILE: timestamp_text(moment), SECRET_FILE: secret}
    for name, text in stamps.items():  # always written: nbgrader's files and the gradebook then agree
        _write_whole(folder / name, text.encode())
    return replace(
        submission,
        notebook=notebook,
        timestamp=stamps[TIMESTAMP_FILE],
        secret=secret,
        warning=warning,
        time_from_file=from_file,
    )


def _write_whole(path: Path, content: bytes) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(content)
    partial.replace(path)
