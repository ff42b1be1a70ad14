"""`tito grade`: a whole class's submissions of one module, graded by nbgrader in a process pool.

Each submission is graded in a worker by tito.grading.autograde, its kernel confined. Only this
process writes the course's gradebook, one submission at a time, and a lock file keeps a second
`tito grade` from running beside it. Every student gets a row per exercise in the CSV, a feedback
page and a line in the log, whatever their notebook did.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import fcntl
import multiprocessing
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

from tito.build.release import nbgrader_api, nbgrader_environment
from tito.course.registry import Module
from tito.course.verdict import Status
from tito.errors import GradeLockBusy, GradingError
from tito.grading.autograde import ModuleKit, Outcome, grade_submission, mark_not_graded, prepare
from tito.grading.limits import Limits
from tito.grading.report import write_report
from tito.grading.results import write_csv
from tito.grading.sandbox import bubblewrap
from tito.grading.submissions import Submission

REPORTS_DIR = "reports"
LOCK_FILE = Path(".tito") / "grade.lock"
NO_BUBBLEWRAP = (
    "bubblewrap is not available, so student code would run unconfined: install it "
    "(`sudo apt-get install bubblewrap`), or pass --no-sandbox to grade with limits only (see the README)"
)


@contextlib.contextmanager
def grading_lock(root: Path) -> Iterator[None]:
    """Hold the course's grading lock, or refuse at once naming who holds it."""
    path = root / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            raise GradeLockBusy(
                f"another `tito grade` is running in this course ({handle.read().strip() or 'unknown process'}); "
                "wait for it to finish: two at once would mix their grades"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def grade_class(
    root: Path,
    module: Module,
    submissions: list[Submission],
    jobs: int,
    limits: Limits,
    sandboxed: bool,
    say: Callable[[str], None] = print,
) -> list[Outcome]:
    """Grade every submission, `jobs` at a time; record each in the course as it finishes; write the CSV and the report."""
    if sandboxed and bubblewrap() is None:
        raise GradingError(NO_BUBBLEWRAP)
    outcomes: list[Outcome] = []
    with grading_lock(root), nbgrader_environment(), tempfile.TemporaryDirectory(prefix="tito-grade-") as scratch:
        os.chmod(scratch, 0o700)
        kit = prepare(root, module, Path(scratch), limits, sandboxed)
        db_url = nbgrader_api(root).coursedir.db_url  # read once: nbgrader_config.py is loaded per call
        copy_assignment(kit, db_url)
        for outcome in _graded_in_pool(kit, submissions, jobs, scratch):
            record(root, db_url, kit, outcome)
            outcomes.append(outcome)
            say_outcome(outcome, kit.max_total, say)
        outcomes.sort(key=lambda outcome: outcome.student)
        folder = root / REPORTS_DIR / module.slug
        write_csv(folder / "grades.csv", module, outcomes)
        write_report(folder, module, outcomes, kit.max_total)
    return outcomes


def _graded_in_pool(kit: ModuleKit, submissions: list[Submission], jobs: int, scratch: str) -> Iterator[Outcome]:
    """Each submission's outcome as its worker finishes it; a worker that died still yields one."""
    # fork: the workers start in milliseconds with nbgrader already imported (spawn costs seconds);
    # nothing here has started a thread or a kernel yet.
    context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=max(1, jobs), mp_context=context) as pool:
        futures = {pool.submit(grade_submission, kit, submission, scratch): submission for submission in submissions}
        for future in concurrent.futures.as_completed(futures):
            try:
                yield future.result()
            except Exception as error:  # the worker process itself died
                student = futures[future].student
                outcome = Outcome(student, error=f"the grading process failed: {type(error).__name__}: {error}")
                mark_not_graded(kit, outcome)
                yield outcome


def say_outcome(outcome: Outcome, max_total: float, say: Callable[[str], None]) -> None:
    """The student's log line, then what was restored, stopped or flagged, indented below it."""
    say(log_line(outcome, max_total))
    for note in outcome.notes:
        say(f"    {note}")
    for flag in outcome.flags:
        say(f"    flagged: {flag.cell}: {flag.reason}")


def record(root: Path, db_url: str, kit: ModuleKit, outcome: Outcome) -> None:
    """Write one outcome into the course: the gradebook (this process alone), the graded notebook, the feedback page."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(db_url) as gradebook, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SQLAlchemy's autoflush notes on nbgrader's add_submission
        gradebook.update_or_create_student(outcome.student)
        with contextlib.suppress(MissingEntry):
            gradebook.remove_submission(kit.slug, outcome.student)
        gradebook.add_submission(kit.slug, outcome.student)
        for grade_id, (score, _max) in outcome.scores.items():
            grade = gradebook.find_grade(grade_id, kit.slug, kit.slug, outcome.student)
            grade.auto_score = score
            grade.needs_manual_grade = False
        if outcome.error:  # no score is a zero: nbgrader's formgrader shows these as needing a human
            for grade in gradebook.find_submission_notebook(kit.slug, kit.slug, outcome.student).grades:
                grade.needs_manual_grade = True
        gradebook.db.commit()
    if outcome.autograded:
        _write(root / "autograded" / outcome.student / kit.slug / f"{kit.slug}.ipynb", outcome.autograded)
    _write(root / "feedback" / outcome.student / kit.slug / f"{kit.slug}.html", outcome.feedback)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


def copy_assignment(kit: ModuleKit, db_url: str) -> None:
    """Make the course's gradebook know the module as released (update_or_create: idempotent)."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{kit.template_gradebook}") as template, Gradebook(db_url) as gradebook:
        assignment = template.find_assignment(kit.slug)
        gradebook.update_or_create_assignment(kit.slug)
        for notebook in assignment.notebooks:
            gradebook.update_or_create_notebook(notebook.name, kit.slug)
            for cell in notebook.grade_cells:
                gradebook.update_or_create_grade_cell(
                    cell.name, notebook.name, kit.slug, max_score=cell.max_score, cell_type=cell.cell_type
                )
            for cell in notebook.solution_cells:
                gradebook.update_or_create_solution_cell(cell.name, notebook.name, kit.slug)
            for cell in notebook.source_cells:
                gradebook.update_or_create_source_cell(
                    cell.name,
                    notebook.name,
                    kit.slug,
                    source=cell.source,
                    checksum=cell.checksum,
                    cell_type=cell.cell_type,
                    locked=cell.locked,
                )


def log_line(outcome: Outcome, max_total: float) -> str:
    """One line per student, e.g. `alice: 20/20` or `bob: 8/20 (timed out 01.4)`."""
    line = f"{outcome.student}: {outcome.total:g}/{max_total:g}"
    if outcome.error:
        return f"{line} NOT GRADED: {outcome.error}"
    unusual = [f"{g.status} {g.exercise}" for g in outcome.exercises if g.status in (Status.TIMED_OUT, Status.ERROR)]
    return line + (f" ({', '.join(unusual)})" if unusual else "")
