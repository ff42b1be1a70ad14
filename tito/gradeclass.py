"""`tito grade`: a whole class's submissions of one module, graded by nbgrader in a process pool.

Each submission is graded by nbgrader's own autograde and feedback, in a private scratch course of
its own (a copy of the module's gradebook entry, the one submission), with its kernel confined by
tito.sandbox. The kernel never sees the course, the gradebook or another submission; only this
process writes the course's gradebook, one submission at a time, and a lock file keeps a second
`tito grade` from running beside it. Every student gets a row per exercise in the CSV, a feedback
page and a line in the log, whatever their notebook did.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import csv
import fcntl
import json
import multiprocessing
import os
import re
import shutil
import sys
import tempfile
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from tito.cells import exercise_id, nbgrader_meta, remaining_stubs, stub_message
from tito.export import reference_before
from tito.grading import CONFIG_FILE, GradingError, grading_environment, nbgrader_config
from tito.registry import REGISTRY_FILE, SOURCE_DIR, Module
from tito.sandbox import KERNEL_DIED, NOT_RUN, REWRITTEN, TIMED_OUT, Limits, bubblewrap
from tito.submissions import Flag, Submission, flag_cells, restore_release

REPORTS_DIR = "reports"
LOCK_FILE = Path(".tito") / "grade.lock"
CSV_COLUMNS = ("student", "module", "exercise", "points", "max_points", "status", "reason")
GRADE_STATUSES = ("passed", "failed", "not attempted", "timed out", "error")


@dataclass(frozen=True)
class ModuleKit:
    """What every grading of one module shares, prepared once per run."""

    slug: str
    module_number: int
    template_gradebook: str  # a gradebook holding this module's assignment and nothing else
    release: dict  # the released notebook, as nbgrader generates it now
    locked_sources: dict  # grade_id -> source of each locked cell, hidden tests included
    test_names: frozenset  # the functions the test cells define
    earlier_reference: str
    datasets: str
    config_file: str
    limits: Limits
    sandboxed: bool


@dataclass
class ExerciseGrade:
    exercise: str
    points: float
    max_points: float
    status: str  # one of GRADE_STATUSES
    reason: str = ""


@dataclass
class Outcome:
    """One student's grading, as the pool hands it back."""

    student: str
    exercises: list[ExerciseGrade] = field(default_factory=list)
    scores: dict = field(default_factory=dict)  # grade_id -> (score, max_score) as nbgrader recorded
    error: str = ""  # why the submission could not be graded at all
    notes: list[str] = field(default_factory=list)  # what was restored, timeouts, name matching
    flags: list[Flag] = field(default_factory=list)
    autograded: str = ""  # the graded notebook's JSON
    feedback: str = ""  # the feedback page's HTML
    seconds: float = 0.0

    @property
    def total(self) -> float:
        return sum(grade.points for grade in self.exercises)


class GradeLockBusy(GradingError):
    """Another `tito grade` holds the course's grading lock."""


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


def prepare(root: Path, module: Module, scratch: Path, limits: Limits, sandboxed: bool) -> ModuleKit:
    """Release the module into a scratch course (its gradebook entry and its student notebook, fresh
    from source_solutions/), and export the reference of the modules before it."""
    from nbgrader.api import Gradebook

    from tito.grading import nbgrader_api

    course = scratch / "release"
    course.mkdir()
    for name in (CONFIG_FILE, REGISTRY_FILE):
        shutil.copy2(root / name, course / name)
    shutil.copytree(
        root / SOURCE_DIR / module.slug,
        course / SOURCE_DIR / module.slug,
        ignore=shutil.ignore_patterns(".ipynb_checkpoints"),
    )
    result = nbgrader_api(course).generate_assignment(module.slug, force=True, create=True)
    if not result["success"]:
        raise GradingError(
            f"nbgrader could not release {module.slug} for grading.\n{result.get('log', '')}{result.get('error', '')}"
        )
    release = json.loads(module.notebook(course).read_text(encoding="utf-8"))
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        cells = gradebook.find_notebook(module.slug, module.slug).source_cells
        locked = {cell.name: cell.source for cell in cells if cell.locked}
    graded = {nbgrader_meta(cell)["grade_id"] for cell in release["cells"] if nbgrader_meta(cell).get("grade")}
    tests = {
        name
        for grade_id, source in locked.items()
        if grade_id in graded
        for name in re.findall(r"^def\s+(\w+)", source, re.MULTILINE)
    }
    return ModuleKit(
        slug=module.slug,
        module_number=module.number,
        template_gradebook=str(course / "gradebook.db"),
        release=release,
        locked_sources=locked,
        test_names=frozenset(tests),
        earlier_reference=str(reference_before(root, module)),
        datasets=str(root / "datasets"),
        config_file=str(root / CONFIG_FILE),
        limits=limits,
        sandboxed=sandboxed,
    )


def grade_submission(kit: ModuleKit, submission: Submission, scratch: str) -> Outcome:
    """Autograde and write feedback for one submission, in a private scratch course; never raises."""
    started = time.perf_counter()
    outcome = Outcome(submission.student, notes=[submission.warning] if submission.warning else [])
    private = Path(tempfile.mkdtemp(prefix="student-", dir=scratch))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter(
                "ignore"
            )  # nbformat's notes on duplicated or missing cell ids: the restore step fixes both
            _grade_into(kit, submission, private, outcome)
    except Exception as error:  # our own failure, or nbgrader's: the student still gets a row and a page
        outcome.error = outcome.error or f"grading failed: {type(error).__name__}: {error}"
        outcome.notes.append(traceback.format_exc(limit=3).strip().splitlines()[-1])
    finally:
        shutil.rmtree(private, ignore_errors=True)
    if outcome.error:
        outcome.exercises = [
            ExerciseGrade(number, 0.0, points, "error", outcome.error)
            for number, points in exercise_points(kit.release)
        ]
        outcome.feedback = outcome.feedback or failure_page(kit.slug, submission.student, outcome.error)
    outcome.seconds = time.perf_counter() - started
    return outcome


def exercise_points(release: dict) -> list[tuple[str, float]]:
    """(exercise id, points) of every graded test cell, in notebook order."""
    return [
        (
            exercise_id(nbgrader_meta(cell)["grade_id"]) or nbgrader_meta(cell)["grade_id"],
            float(nbgrader_meta(cell).get("points", 0)),
        )
        for cell in release["cells"]
        if nbgrader_meta(cell).get("grade")
    ]


def _grade_into(kit: ModuleKit, submission: Submission, private: Path, outcome: Outcome) -> None:
    import nbformat
    from nbgrader.api import Gradebook
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    try:
        notebook = json.loads(submission.notebook.read_text(encoding="utf-8"))
        if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
            raise ValueError("it has no list of cells")
    except (OSError, ValueError) as error:
        outcome.error = f"the notebook could not be read ({error}): it is not a Jupyter notebook, or it is damaged"
        return
    outcome.notes += restore_release(notebook, kit.release, kit.locked_sources)
    outcome.flags = flag_cells(notebook, kit.release, set(kit.test_names))
    folder = private / "submitted" / submission.student / kit.slug
    folder.mkdir(parents=True)
    notebook.setdefault("metadata", {})
    notebook["nbformat"], notebook["nbformat_minor"] = 4, max(5, int(notebook.get("nbformat_minor", 5)))
    nbformat.write(nbformat.from_dict(notebook), str(folder / f"{kit.slug}.ipynb"))
    shutil.copy2(kit.template_gradebook, private / "gradebook.db")

    config = nbgrader_config(Path(kit.config_file).parent)
    config.CourseDirectory.root = str(private)
    config.CourseDirectory.db_url = f"sqlite:///{private / 'gradebook.db'}"
    config.Autograde.autograde_preprocessors = [
        "tito.nbgrader_ext.GuardedExecute",
        "nbgrader.preprocessors.IgnorePattern",
        "nbgrader.preprocessors.LimitOutput",
        "nbgrader.preprocessors.SaveAutoGrades",
        "nbgrader.preprocessors.CheckCellMetadata",
    ]
    config.GenerateFeedback.exporter_class = "tito.nbgrader_ext.FeedbackExporter"
    config.GuardedExecute.earlier_reference = kit.earlier_reference
    config.GuardedExecute.datasets = kit.datasets
    config.GuardedExecute.sandboxed = kit.sandboxed
    config.GuardedExecute.cell_seconds = float(kit.limits.cell_seconds)
    config.GuardedExecute.notebook_seconds = float(kit.limits.notebook_seconds)
    config.GuardedExecute.memory_bytes = int(kit.limits.memory_bytes)
    config.GuardedExecute.output_bytes = int(kit.limits.output_bytes)
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    events_file = private / "events.jsonl"
    with grading_environment():
        os.environ["TITO_GRADING_EVENTS"] = str(events_file)
        result = api.autograde(kit.slug, submission.student, force=True, create=True)
        if not result["success"]:
            outcome.error = "nbgrader could not grade it: " + _last_error(
                result.get("log", "") + result.get("error", "")
            )
            return
        feedback = api.generate_feedback(kit.slug, submission.student, force=True)
    if events_file.exists():
        outcome.notes += [event for line in events_file.read_text().splitlines() for event in json.loads(line)]
    graded = private / "autograded" / submission.student / kit.slug / f"{kit.slug}.ipynb"
    outcome.autograded = graded.read_text(encoding="utf-8")
    page = private / "feedback" / submission.student / kit.slug / f"{kit.slug}.html"
    if feedback["success"] and page.exists():
        outcome.feedback = page.read_text(encoding="utf-8")
    with Gradebook(f"sqlite:///{private / 'gradebook.db'}") as gradebook:
        graded_notebook = gradebook.find_submission_notebook(kit.slug, kit.slug, submission.student)
        outcome.scores = {
            grade.name: (float(grade.auto_score or 0.0), float(grade.max_score)) for grade in graded_notebook.grades
        }
    outcome.exercises = judge(json.loads(outcome.autograded), outcome.scores)
    if not outcome.feedback:
        outcome.feedback = failure_page(
            kit.slug,
            submission.student,
            "the feedback page could not be made; your grades are in the table below",
            outcome.exercises,
        )


def _last_error(log: str) -> str:
    """The exception that stopped nbgrader, from its log (its own summary line says only "see above")."""
    lines = [line.strip() for line in log.strip().splitlines() if line.strip()]
    raised = [
        line for line in lines if re.match(r"^[\w.]+(Error|Exception|Exit)\b", line) and "NbGraderException" not in line
    ]
    return (raised or lines or ["no log"])[-1][:300]


def judge(graded: dict, scores: dict) -> list[ExerciseGrade]:
    """Per exercise: nbgrader's points, and why they are what they are, read from the test cell's output."""
    grades = []
    untouched = {
        exercise_id(nbgrader_meta(cell)["grade_id"])
        for cell in graded["cells"]
        if nbgrader_meta(cell).get("solution") and _still_all_stubs(cell)
    }
    for cell in graded["cells"]:
        meta = nbgrader_meta(cell)
        if not meta.get("grade") or cell.get("cell_type") != "code":
            continue
        grade_id = meta["grade_id"]
        number = exercise_id(grade_id) or grade_id
        score, max_score = scores.get(grade_id, (0.0, float(meta.get("points", 0))))
        error = next((output for output in cell.get("outputs", []) if output.get("output_type") == "error"), None)
        if score >= max_score and error is None:
            grades.append(ExerciseGrade(number, score, max_score, "passed"))
            continue
        name, value = (error.get("ename", ""), str(error.get("evalue", ""))) if error else ("", "")
        reason = (
            f"{name}: {value}".strip(": ").splitlines()[0][:300] if error else "no error, but nbgrader gave no points"
        )
        if name == TIMED_OUT:
            status = "timed out"
        elif name in (NOT_RUN, KERNEL_DIED):
            status = "error"
        elif name == REWRITTEN:
            status = "failed"
        elif number in untouched or (name == "NotImplementedError" and value.startswith(stub_message(number, ""))):
            status = "not attempted"
        else:
            status = "failed"
        grades.append(ExerciseGrade(number, score, max_score, status, reason))
    return grades


def _still_all_stubs(cell: dict) -> bool:
    """Whether an exercise cell still holds every stub it was released with (metadata.tito.stubs)."""
    number = exercise_id(nbgrader_meta(cell).get("grade_id", "")) or ""
    released = cell.get("metadata", {}).get("tito", {}).get("stubs") or []
    return bool(released) and sorted(remaining_stubs(cell, number)) == sorted(released)


def failure_page(slug: str, student: str, reason: str, exercises: list[ExerciseGrade] | None = None) -> str:
    """The feedback page of a submission whose grading failed: what happened and what to do."""
    from html import escape

    rows = "".join(
        f"<tr><td>{escape(g.exercise)}</td><td>{g.points:g} / {g.max_points:g}</td><td>{escape(g.status)}</td><td>{escape(g.reason)}</td></tr>"
        for g in exercises or []
    )
    table = (
        f"<table><tr><th>exercise</th><th>points</th><th>status</th><th>reason</th></tr>{rows}</table>" if rows else ""
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(slug)}: {escape(student)}</title></head><body>"
        f"<h1>{escape(slug)}: feedback for {escape(student)}</h1><p><strong>Your notebook could not be graded:</strong> {escape(reason)}.</p>"
        f"<p>Open it in JupyterLab, run <code>tito test {escape(slug[:2])}</code>, fix what it reports and submit again; "
        f"or ask your instructor, who has the details.</p>{table}</body></html>"
    )


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
    """One line per student, e.g. `alice: 20/20` or `bob: 8/20 (timed out: 01.4)`."""
    line = f"{outcome.student}: {outcome.total:g}/{max_total:g}"
    if outcome.error:
        return f"{line} NOT GRADED: {outcome.error}"
    unusual = [f"{g.status} {g.exercise}" for g in outcome.exercises if g.status in ("timed out", "error")]
    return line + (f" ({', '.join(unusual)})" if unusual else "")


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
    from tito.grading import nbgrader_api
    from tito.report import write_report

    if sandboxed and bubblewrap() is None:
        raise GradingError(
            "bubblewrap is not available, so student code would run unconfined: install it "
            "(`sudo apt-get install bubblewrap`), or pass --no-sandbox to grade with limits only (see the README)"
        )
    outcomes: list[Outcome] = []
    with grading_lock(root), grading_environment(), tempfile.TemporaryDirectory(prefix="tito-grade-") as scratch:
        os.chmod(scratch, 0o700)
        kit = prepare(root, module, Path(scratch), limits, sandboxed)
        db_url = nbgrader_api(root).coursedir.db_url  # read once: nbgrader_config.py is loaded per call
        copy_assignment(kit, db_url)
        max_total = sum(points for _, points in exercise_points(kit.release))
        # fork: the workers start in milliseconds with nbgrader already imported (spawn costs seconds);
        # nothing here has started a thread or a kernel yet.
        context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
        with concurrent.futures.ProcessPoolExecutor(max_workers=max(1, jobs), mp_context=context) as pool:
            futures = {
                pool.submit(grade_submission, kit, submission, scratch): submission for submission in submissions
            }
            for future in concurrent.futures.as_completed(futures):
                submission = futures[future]
                try:
                    outcome = future.result()
                except Exception as error:  # the worker process itself died
                    outcome = Outcome(
                        submission.student, error=f"the grading process failed: {type(error).__name__}: {error}"
                    )
                    outcome.exercises = [
                        ExerciseGrade(n, 0.0, p, "error", outcome.error) for n, p in exercise_points(kit.release)
                    ]
                    outcome.feedback = failure_page(kit.slug, submission.student, outcome.error)
                record(root, db_url, kit, outcome)
                outcomes.append(outcome)
                say(log_line(outcome, max_total))
                for note in outcome.notes:
                    say(f"    {note}")
                for flag in outcome.flags:
                    say(f"    flagged: {flag.cell}: {flag.reason}")
        outcomes.sort(key=lambda outcome: outcome.student)
        folder = root / REPORTS_DIR / module.slug
        write_csv(folder / "grades.csv", module, outcomes)
        write_report(folder, module, outcomes, max_total)
    return outcomes


def write_csv(path: Path, module: Module, outcomes: list[Outcome]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for outcome in outcomes:
            for grade in outcome.exercises:
                writer.writerow(
                    [
                        outcome.student,
                        module.slug,
                        grade.exercise,
                        f"{grade.points:g}",
                        f"{grade.max_points:g}",
                        grade.status,
                        grade.reason,
                    ]
                )


def merge_csvs(paths: list[Path], destination: Path) -> int:
    """Merge the per-exercise CSVs of several shards into one, sorted; refuses a student graded twice."""
    rows: dict[tuple[str, str], list[list[str]]] = {}
    owner: dict[tuple[str, str], Path] = {}
    for path in paths:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            if tuple(next(reader, ())) != CSV_COLUMNS:
                raise GradingError(f"{path} is not a `tito grade` CSV (its header is not {', '.join(CSV_COLUMNS)})")
            for row in reader:
                key = (row[1], row[0])
                if owner.setdefault(key, path) != path:
                    raise GradingError(
                        f"{row[0]} ({row[1]}) is graded in both {owner[key]} and {path}: were the shards made with the same count?"
                    )
                rows.setdefault(key, []).append(row)
    destination.parent.mkdir(parents=True, exist_ok=True)
    with open(destination, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for key in sorted(rows):
            writer.writerows(rows[key])
    return len(rows)
