"""`tito grade`: a whole class's submissions of one module, graded by nbgrader in a process pool.

Each submission is graded in a worker by tito.grading.autograde, its kernel confined. Only this
process writes the course's gradebook, one submission at a time, and a lock file keeps a second
`tito grade` from running beside it. Every student gets a row per exercise in the CSV, a feedback
page and a line in the log, whatever their notebook did.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import ctypes
import dataclasses
import datetime
import errno
import fcntl
import multiprocessing
import os
import shutil
import signal
import sys
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
from tito.grading.results import (
    OUTCOMES_DIR,
    load_outcome,
    load_outcomes,
    plural,
    printable,
    save_outcome,
    write_csv,
    write_wide_csv,
)
from tito.grading.sandbox import bubblewrap, check_readable, remove_kernel_folders
from tito.grading.submissions import Submission
from tito.grading.submitted import SECRET_FILE, TIMESTAMP_FILE, parse_timestamp, record_submitted

REPORTS_DIR = "reports"
LOCK_FILE = Path(".tito") / "grade.lock"
SCRATCH_DIR = Path(".tito") / "scratch"
PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent dies
NO_BUBBLEWRAP = (
    "bubblewrap is not available, so student code would run unconfined: install it "
    "(`sudo apt-get install bubblewrap`), or pass --no-sandbox to grade with limits only (see the README)"
)


@contextlib.contextmanager
def grading_lock(root: Path, say: Callable[[str], None] = print) -> Iterator[None]:
    """Hold the course's grading lock, or refuse at once naming who holds it.

    A POSIX record lock (lockf): the kernel drops it when its holder dies, and forked workers do not
    inherit it, so a grader killed with kill -9 leaves no lock behind, only its note in the file,
    which the next run reports. The file is removed when the run ends."""
    path = root / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        handle = open(path, "a+")  # noqa: SIM115 (held for the whole run, closed below)
        try:
            fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            handle.seek(0)
            holder = handle.read().strip() or "unknown process"
            handle.close()
            if error.errno not in (errno.EACCES, errno.EAGAIN):
                raise
            raise GradeLockBusy(
                f"another `tito grade` is running in this course ({holder}); "
                "wait for it to finish: two at once would mix their grades"
            ) from None
        if path.exists() and os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino:
            break
        handle.close()  # the run before removed the file as this one opened it: lock the new one
    try:
        handle.seek(0)
        left = handle.read().strip()
        if left:
            say(f"note: an earlier `tito grade` ({left}) stopped before it finished; its lock is taken over")
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}")
        handle.flush()
        yield
    finally:
        with contextlib.suppress(OSError):
            path.unlink()
        handle.close()


@contextlib.contextmanager
def scratch_folder(root: Path, say: Callable[[str], None]) -> Iterator[Path]:
    """The run's private scratch folder in the course (.tito/scratch/, the grader's alone): it holds
    a copy of the solutions while grading runs. Taken with the lock held, so any folder already
    there was left by a run that died: it is removed first."""
    base = root / SCRATCH_DIR
    base.mkdir(parents=True, exist_ok=True)
    os.chmod(base, 0o700)
    for left in sorted(base.iterdir()):
        shutil.rmtree(left, ignore_errors=True)
        say(f"note: removed {left.relative_to(root)}, left by a grading run that stopped before it finished")
    folder = base / f"run-{os.getpid()}"
    folder.mkdir(mode=0o700)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


LOGS_DIR = "logs"


@contextlib.contextmanager
def logged(
    folder: Path, say: Callable[[str], None], what: str, said: tuple[str, ...] = ()
) -> Iterator[Callable[[str], None]]:
    """`say`, also writing each line to the run's log file, reports/<module>/logs/<when>.log, which
    starts with `what` ran and the lines already `said` (the warnings about the files found), and
    ends with how the run ended (the error or the stop included)."""
    logs = folder / LOGS_DIR
    logs.mkdir(parents=True, exist_ok=True)
    path = logs / f"grade-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    with open(path, "a", encoding="utf-8") as log:

        def both(line: str) -> None:
            say(line)
            log.write(printable(line) + "\n")
            log.flush()

        log.write(f"{what} (pid {os.getpid()}, {time.strftime('%Y-%m-%d %H:%M:%S')})\n")
        log.writelines(printable(line) + "\n" for line in said)
        try:
            yield both
        except BaseException as error:
            log.write(f"ended: {type(error).__name__}: {error}\n")
            raise
        log.write(f"ended: done at {time.strftime('%Y-%m-%d %H:%M:%S')}\n")


class GradingStopped(GradingError):
    """Ctrl-C or SIGTERM stopped the run; what was graded before is recorded and reported."""


class Stops:
    """SIGTERM stops the run as Ctrl-C does (one line, the reports made consistent, no traceback);
    either waits while a student's outcome is being recorded, so the gradebook and the reports
    never hold half of one."""

    def __init__(self) -> None:
        self.recording = False
        self.pending = False

    def stop(self, signum, frame) -> None:
        if self.recording:
            self.pending = True
        else:
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        try:
            previous = {sig: signal.signal(sig, self.stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        except ValueError:  # not the main thread: leave signals as they are
            yield
            return
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        self.recording = True
        try:
            yield
        finally:
            self.recording = False
        if self.pending:
            raise KeyboardInterrupt


def grade_class(
    root: Path,
    module: Module,
    submissions: list[Submission],
    jobs: int,
    limits: Limits,
    sandboxed: bool,
    say: Callable[[str], None] = print,
    submitted_at: datetime.datetime | None = None,
    warnings: tuple[str, ...] = (),
) -> list[Outcome]:
    """Grade every submission, `jobs` at a time; record each in the course as it finishes; write the
    CSV and the report over every student of the module recorded so far, also when stopped.

    Each submission is first recorded in nbgrader's submitted/ with its time (`submitted_at`, else
    its timestamp.txt, else its file's), so nbgrader's own tools agree with what was graded."""
    from nbgrader.api import Gradebook

    if sandboxed and bubblewrap() is None:
        raise GradingError(NO_BUBBLEWRAP)
    started = time.perf_counter()
    outcomes: list[Outcome] = []
    folder = root / REPORTS_DIR / module.slug
    stops = Stops()
    with (
        logged(folder, say, f"tito grade {module.slug}: {plural(len(submissions), 'submission')}", warnings) as tell,
        grading_lock(root, tell),
        nbgrader_environment(),
        scratch_folder(root, tell) as scratch,
        stops.installed(),
    ):
        try:
            remove_kernel_folders()  # of a grader killed before this run
            kit = dataclasses.replace(prepare(root, module, scratch, limits, sandboxed), prestart=len(submissions) > 1)
            try:
                check_readable(Path(kit.earlier_reference), Path(kit.datasets), limits, sandboxed)
            except OSError as error:
                raise GradingError(str(error)) from None
            db_url = nbgrader_api(root).coursedir.db_url  # read once: nbgrader_config.py is loaded per call
            copy_assignment(kit, db_url)
            submissions = [record_submitted(root, module, s, submitted_at) for s in submissions]
            say_file_times(submissions, tell)
            with Gradebook(db_url) as gradebook:
                for outcome in _graded_in_pool(kit, submissions, jobs, str(scratch)):
                    with stops.deferred():  # recorded and said, or neither
                        record(root, gradebook, kit, outcome)
                        save_outcome(folder, outcome)
                        outcomes.append(outcome)
                        say_outcome(outcome, kit.max_total, tell)
        except KeyboardInterrupt:
            if outcomes:
                write_reports(folder, module, kit.max_total)
            graded = {outcome.student for outcome in outcomes}
            rest = sorted(s.student for s in submissions if s.student not in graded)
            raise GradingStopped(
                f"stopped after {len(outcomes)} of {len(submissions)} submissions: those are recorded, "
                f"and reports/{module.slug}/ covers every student graded so far; "
                + (
                    f"to grade the rest, run the same command with --students {' '.join(rest)} "
                    "(without it, it grades every submission again)"
                    if rest
                    else "none was left to grade"
                )
            ) from None
        write_reports(folder, module, kit.max_total)
        seconds = time.perf_counter() - started
        failed = sum(bool(outcome.error) for outcome in outcomes)
        tell(
            f"graded {len(outcomes) - failed} of {plural(len(outcomes), 'submission')} in {seconds:.1f} s "
            f"({60 * len(outcomes) / seconds:.1f} notebooks/min); reports/{module.slug}/: grades.csv, "
            f"grades-wide.csv, report.html, this run's log in logs/; feedback: feedback/<student>/{module.slug}/"
        )
    if warnings:
        say(f"{plural(len(warnings), 'warning')} about the files found (above, and in the log): some may need a human")
    return sorted(outcomes, key=lambda outcome: outcome.student)


def write_reports(folder: Path, module: Module, max_total: float) -> None:
    """grades.csv and report.html over every student of the module recorded so far, not only this run's."""
    everyone = load_outcomes(folder)
    write_csv(folder / "grades.csv", module, everyone)
    write_wide_csv(folder / "grades-wide.csv", module, everyone, max_total)
    write_report(folder, module, everyone, max_total)


def _worker_start(grader: int) -> None:
    """A grading worker dies with the grader (kill -9 included) and leaves Ctrl-C to it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the grader's handler, inherited through fork
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != grader:  # the grader died before the line above
        os._exit(1)


def _graded_in_pool(kit: ModuleKit, submissions: list[Submission], jobs: int, scratch: str) -> Iterator[Outcome]:
    """Each submission's outcome as its worker finishes it; a worker that died still yields one.
    When stopped, the workers (and so their kernels) are killed before this returns."""
    # fork: the workers start in milliseconds with nbgrader already imported (spawn costs seconds);
    # nothing here has started a thread or a kernel yet.
    context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    pool = concurrent.futures.ProcessPoolExecutor(
        max_workers=max(1, jobs), mp_context=context, initializer=_worker_start, initargs=(os.getpid(),)
    )
    try:
        futures = {pool.submit(grade_submission, kit, submission, scratch): submission for submission in submissions}
        for future in concurrent.futures.as_completed(futures):
            try:
                yield future.result()
            except Exception as error:  # the worker process itself died
                student = futures[future].student
                outcome = Outcome(student, error=f"the grading process failed: {type(error).__name__}: {error}")
                mark_not_graded(kit, outcome)
                yield outcome
    except BaseException:
        workers = list(getattr(pool, "_processes", {}).values())
        for process in workers:
            with contextlib.suppress(OSError):
                process.kill()
        pool.shutdown(wait=True, cancel_futures=True)
        for process in workers:
            remove_kernel_folders(process.pid)
        raise
    pool.shutdown(wait=True)


def say_file_times(submissions: list[Submission], say: Callable[[str], None]) -> None:
    """Say when submission times are only their files' times, which late penalties would then count."""
    times = sorted(s.timestamp[:16] for s in submissions if s.time_from_file)
    if times:
        span = times[0] if times[0] == times[-1] else f"{times[0]} to {times[-1]}"
        say(
            f"note: {plural(len(times), 'submission')} recorded with the file's time ({span} UTC), which may be when "
            "it was downloaded: give --submitted-at for the time it was handed in, or collect through the exchange"
        )


def say_outcome(outcome: Outcome, max_total: float, say: Callable[[str], None]) -> None:
    """The student's log line, then what was restored, stopped or flagged, indented below it."""
    say(printable(log_line(outcome, max_total)))
    for note in [*outcome.restored, *outcome.notes]:
        say(printable(f"    {note}"))
    for flag in outcome.flags:
        say(printable(f"    flagged: {flag.cell}: {flag.reason}"))


def record(root: Path, gradebook, kit: ModuleKit, outcome: Outcome) -> None:
    """Write one outcome into the course: the gradebook (this process alone, which keeps it open for
    the run: a Gradebook per outcome compiled every query anew), the graded notebook, the feedback page."""
    from nbgrader.api import MissingEntry

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SQLAlchemy's autoflush notes on nbgrader's add_submission
        gradebook.update_or_create_student(outcome.student)
        with contextlib.suppress(MissingEntry):
            gradebook.remove_submission(kit.slug, outcome.student)
        when = parse_timestamp(outcome.timestamp).replace(tzinfo=None) if outcome.timestamp else None
        gradebook.add_submission(kit.slug, outcome.student, timestamp=when)
        notebook = gradebook.find_submission_notebook(kit.slug, kit.slug, outcome.student)
        notebook.late_submission_penalty = outcome.late_penalty or None
        for grade_id, (score, _max) in outcome.scores.items():
            grade = gradebook.find_grade(grade_id, kit.slug, kit.slug, outcome.student)
            grade.auto_score = score
            grade.needs_manual_grade = False
        if outcome.error:  # no score is a zero: nbgrader's formgrader shows these as needing a human
            for grade in gradebook.find_submission_notebook(kit.slug, kit.slug, outcome.student).grades:
                grade.needs_manual_grade = True
        gradebook.db.commit()
    stamps = {TIMESTAMP_FILE: outcome.timestamp, SECRET_FILE: outcome.secret}
    if outcome.autograded:
        _write(root / "autograded" / outcome.student / kit.slug / f"{kit.slug}.ipynb", outcome.autograded, stamps)
    _write(root / "feedback" / outcome.student / kit.slug / f"{kit.slug}.html", outcome.feedback, stamps)


def _write(path: Path, text: str, beside: dict[str, str]) -> None:
    """Write a file whole (never half of one), and the small files nbgrader keeps beside it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for name, content in [*((name, content) for name, content in beside.items() if content), (path.name, text)]:
        partial = path.with_name(name + ".partial")
        partial.write_text(content, encoding="utf-8")
        partial.replace(path.with_name(name))


def copy_assignment(kit: ModuleKit, db_url: str) -> None:
    """Make the course's gradebook know the module as released (update_or_create: idempotent), and
    the run's template know the module's due date, if the instructor set one, for late penalties."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{kit.template_gradebook}") as template, Gradebook(db_url) as gradebook:
        assignment = template.find_assignment(kit.slug)
        course_assignment = gradebook.update_or_create_assignment(kit.slug)
        if course_assignment.duedate is not None:
            template.update_or_create_assignment(kit.slug, duedate=course_assignment.duedate)
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
    """One line per student naming what did not pass, e.g. `alice: 20/20` or
    `bob: 8/20 (failed 01.3, 01.7; timed out 01.4; not attempted 01.9)`."""
    line = f"{outcome.student}: {outcome.total:g}/{max_total:g}"
    if outcome.error:
        return f"{line} NOT GRADED: {outcome.error}"
    if outcome.late_penalty:
        line += f" (after a late penalty of {outcome.late_penalty:g})"
    groups = [f"{status} " + ", ".join(numbers) for status, numbers in not_passed(outcome).items()]
    return line + (f" ({'; '.join(groups)})" if groups else "")


#: The order a student's line names what did not pass: what needs a look first.
WORST_FIRST = (Status.ERROR, Status.TIMED_OUT, Status.FAILED, Status.PARTLY_DONE, Status.NOT_RUN, Status.NOT_ATTEMPTED)


def not_passed(outcome: Outcome) -> dict[Status, list[str]]:
    """The exercises that did not pass, by status, worst first."""
    found: dict[Status, list[str]] = {}
    for status in WORST_FIRST:
        numbers = [result.exercise for result in outcome.exercises if result.status is status]
        if numbers:
            found[status] = numbers
    return found


def merge_shards(root: Path, module: Module, shards: list[Path], say: Callable[[str], None] = print) -> int:
    """Bring into this course what `tito grade --shard K/N` left in other copies of it (one folder per
    shard: its reports/, autograded/, feedback/ and submitted/), as if one run had graded them all:
    the gradebook, the graded notebooks, the feedback pages and the reports. Refuses a student
    graded in two shards. Returns how many students were merged."""
    from nbgrader.api import Gradebook

    found: dict[str, Path] = {}
    for shard in shards:
        outcomes = sorted((shard / REPORTS_DIR / module.slug / OUTCOMES_DIR).glob("*.json"))
        if not outcomes:
            raise GradingError(
                f"{shard} holds no grades of {module.slug} (no {REPORTS_DIR}/{module.slug}/{OUTCOMES_DIR}/)"
            )
        for path in outcomes:
            if path.stem in found:
                raise GradingError(
                    f"{path.stem} is graded in both {found[path.stem]} and {shard}: were the shards made with the same count?"
                )
            found[path.stem] = shard
    folder = root / REPORTS_DIR / module.slug
    with (
        logged(folder, say, f"tito merge-grades {module.slug} " + " ".join(map(str, shards))) as tell,
        grading_lock(root, tell),
        nbgrader_environment(),
        scratch_folder(root, tell) as scratch,
    ):
        kit = prepare(root, module, scratch, Limits(), sandboxed=False)
        db_url = nbgrader_api(root).coursedir.db_url
        copy_assignment(kit, db_url)
        with Gradebook(db_url) as gradebook:
            for student, shard in sorted(found.items()):
                outcome = load_outcome(shard / REPORTS_DIR / module.slug / OUTCOMES_DIR / f"{student}.json")
                graded = shard / "autograded" / student / module.slug / f"{module.slug}.ipynb"
                page = shard / "feedback" / student / module.slug
                outcome.autograded = graded.read_text(encoding="utf-8") if graded.is_file() else ""
                outcome.feedback = (page / f"{module.slug}.html").read_text(encoding="utf-8")
                secret = page / SECRET_FILE
                outcome.secret = secret.read_text(encoding="utf-8") if secret.is_file() else ""
                submitted = shard / "submitted" / student / module.slug
                if submitted.is_dir():
                    shutil.copytree(
                        submitted, root / "submitted" / student / module.slug, dirs_exist_ok=True, symlinks=True
                    )
                record(root, gradebook, kit, outcome)
                save_outcome(folder, outcome)
        write_reports(folder, module, kit.max_total)
        tell(
            f"merged {plural(len(found), 'student')} of {module.slug} from {plural(len(shards), 'shard')} into reports/{module.slug}/"
        )
    return len(found)


FORGOTTEN_DIR = ".tito/forgotten"


def forget(root: Path, module: Module, students: list[str], say: Callable[[str], None] = print) -> Path:
    """Take students out of a module's results (a file graded under a wrong name, a test run): their
    outcome and their submitted/, autograded/ and feedback/ folders of the module move, never deleted,
    to .tito/forgotten/<time>/; their submission leaves the gradebook (the student too, with no other);
    the reports are made again. Returns the folder they were moved to."""
    folder = root / REPORTS_DIR / module.slug
    unknown = [student for student in students if not (folder / OUTCOMES_DIR / f"{student}.json").is_file()]
    if unknown:
        raise GradingError(f"no graded {module.slug} of {', '.join(unknown)} in {folder / OUTCOMES_DIR}")
    kept = root / FORGOTTEN_DIR / f"{module.slug}-{time.strftime('%Y%m%d-%H%M%S')}"
    with (
        logged(folder, say, f"tito forget {module.slug} " + " ".join(students)) as tell,
        grading_lock(root, tell),
        nbgrader_environment(),
    ):
        from nbgrader.api import Gradebook, MissingEntry

        with Gradebook(nbgrader_api(root).coursedir.db_url) as gradebook:
            for student in students:
                places = [folder / OUTCOMES_DIR / f"{student}.json"]
                places += [root / part / student / module.slug for part in ("submitted", "autograded", "feedback")]
                for place in places:
                    if place.exists():
                        target = kept / place.relative_to(root)
                        target.parent.mkdir(parents=True, exist_ok=True)
                        shutil.move(str(place), str(target))
                with contextlib.suppress(MissingEntry):
                    gradebook.remove_submission(module.slug, student)
                    if not gradebook.find_student(student).submissions:
                        gradebook.remove_student(student)
                tell(f"forgot {student}'s {module.slug}: kept in {kept.relative_to(root)}")
        write_reports(folder, module, float(module.points))
    return kept
