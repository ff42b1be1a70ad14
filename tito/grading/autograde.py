"""One submission through nbgrader's own autograde and feedback, in a private scratch course of its
own (a copy of the module's gradebook entry and that one notebook), its kernel confined by
tito.grading.sandbox. Runs in a worker process; never raises: every student gets results and a page.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
import traceback
import warnings
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from tito.build.export import reference_before
from tito.build.release import CONFIG_FILE, nbgrader_api, nbgrader_config, nbgrader_environment, scratch_course
from tito.course.cells import (
    Progress,
    cell_exercise,
    cell_source,
    describe_cell,
    is_exercise,
    is_graded,
    is_locked,
    nbgrader_meta,
    stub_progress,
    unchanged_since_release,
)
from tito.course.registry import REGISTRY_FILE, SOURCE_DIR, Module
from tito.course.verdict import ExerciseResult, Status, exercise_results, exercise_titles
from tito.grading import pipelines
from tito.grading.flags import Flag, flag_cells
from tito.grading.limits import Limits
from tito.grading.restore import restore_release
from tito.grading.sandbox import SHELL_CHANGED
from tito.grading.submissions import NotARegularFile, Submission, TooLarge, read_regular_file
from tito.grading.submitted import SECRET_FILE, TIMESTAMP_FILE


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
    prestart: bool = False  # each worker starts its next notebook's kernel ahead (more than one to grade)

    @property
    def max_total(self) -> float:
        return sum(float(nbgrader_meta(cell).get("points", 0)) for cell in self.release["cells"] if is_graded(cell))


@dataclass
class Outcome:
    """One student's grading, as the pool hands it back."""

    student: str
    exercises: list[ExerciseResult] = field(default_factory=list)
    scores: dict = field(default_factory=dict)  # grade_id -> (score, max_score) as nbgrader recorded
    error: str = ""  # why the submission could not be graded at all
    notes: list[str] = field(default_factory=list)  # how it was matched, what grading stopped or restarted
    restored: list[str] = field(default_factory=list)  # released cells the student had edited or deleted, put back
    flags: list[Flag] = field(default_factory=list)
    autograded: str = ""  # the graded notebook's JSON
    feedback: str = ""  # the feedback page's HTML
    seconds: float = 0.0
    answers: str = ""  # a digest of the code in its exercise cells, when any was written (same code, same digest)
    timestamp: str = ""  # when it was submitted (nbgrader's timestamp.txt)
    secret: str = ""  # its submission_secret.txt, which names its feedback file in the exchange
    seconds_late: float = 0.0  # past the module's due date in the gradebook, if it has one
    late_penalty: float = 0.0  # points nbgrader's late-submission plugin took off

    @property
    def total(self) -> float:
        """Points earned, less nbgrader's late-submission penalty (never below 0)."""
        return max(0.0, sum(result.earned for result in self.exercises) - self.late_penalty)


def prepare(root: Path, module: Module, scratch: Path, limits: Limits, sandboxed: bool) -> ModuleKit:
    """Release the module into a scratch course (its gradebook entry and its student notebook, fresh
    from source_solutions/), and export the reference of the modules before it."""
    from nbgrader.api import Gradebook

    course = released_once(root, module, scratch)
    release = json.loads(module.notebook(course).read_text(encoding="utf-8"))
    template = scratch / "gradebook.db"  # this run's copy: the due date is set in it
    shutil.copy2(course / "gradebook.db", template)
    with Gradebook(f"sqlite:///{template}") as gradebook:
        cells = gradebook.find_notebook(module.slug, module.slug).source_cells
        locked = {cell.name: cell.source for cell in cells if cell.locked}
    graded = {nbgrader_meta(cell)["grade_id"] for cell in release["cells"] if is_graded(cell)}
    tests = {
        name
        for grade_id, source in locked.items()
        if grade_id in graded
        for name in re.findall(r"^def\s+(\w+)", source, re.MULTILINE)
    }
    return ModuleKit(
        slug=module.slug,
        module_number=module.number,
        template_gradebook=str(template),
        release=release,
        locked_sources=locked,
        test_names=frozenset(tests),
        earlier_reference=str(reference_before(root, module)),
        datasets=str(root / "datasets"),
        config_file=str(root / CONFIG_FILE),
        limits=limits,
        sandboxed=sandboxed,
    )


RELEASES_DIR = Path(".tito") / "releases"  # the grader's alone (0700): the gradebooks hold the hidden tests


def released_once(root: Path, module: Module, scratch: Path) -> Path:
    """The module released into a scratch course, as `tito release` would release it now: kept in
    .tito/releases/ under a digest of everything the release depends on (the module's sources, the
    course's configuration, tito's release code, nbgrader's version), so that a regrade of one
    student does not release again (seconds); any change to those releases anew."""
    import nbgrader

    digest = hashlib.sha256(nbgrader.__version__.encode())
    sources = sorted((root / SOURCE_DIR / module.slug).rglob("*"))
    tito_folder = Path(__file__).resolve().parents[1]
    code = [path for package in ("build", "course") for path in sorted((tito_folder / package).glob("*.py"))]
    named = [(path, path.relative_to(root)) for path in [root / CONFIG_FILE, root / REGISTRY_FILE, *sources]]
    named += [(path, path.relative_to(tito_folder)) for path in code]  # names, not places: a copied course hits
    for path, name in named:
        if path.is_file() and ".ipynb_checkpoints" not in path.parts:
            digest.update(str(name).encode() + b"\0" + path.read_bytes())
    kept = root / RELEASES_DIR / f"{module.slug}-{digest.hexdigest()[:16]}"
    if not (kept / "gradebook.db").is_file():
        (root / RELEASES_DIR).mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(root / RELEASES_DIR, 0o700)
        for stale in (root / RELEASES_DIR).glob(f"{module.slug}-*"):
            shutil.rmtree(stale, ignore_errors=True)
        fresh = scratch_course(root, scratch / "release", [module])
        partial = kept.with_name(kept.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        shutil.copytree(fresh, partial)
        partial.rename(kept)
    return kept


def ungraded_results(release: dict, status: Status, reason: str) -> list[ExerciseResult]:
    """A result of `status` for every exercise of the release: a submission that could not be graded."""
    titles = exercise_titles(release)
    return [
        ExerciseResult(number, titles.get(number, ""), float(nbgrader_meta(cell).get("points", 0)), status, reason, 0.0)
        for cell in release["cells"]
        if is_graded(cell)
        for number in [cell_exercise(cell) or nbgrader_meta(cell)["grade_id"]]
    ]


def grade_submission(kit: ModuleKit, submission: Submission, scratch: str) -> Outcome:
    """Autograde and write feedback for one submission, in a private scratch course; never raises."""
    started = time.perf_counter()
    outcome = Outcome(
        submission.student,
        notes=[submission.warning] if submission.warning else [],
        timestamp=submission.timestamp,
        secret=submission.secret,
    )
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
        mark_not_graded(kit, outcome)
    outcome.seconds = time.perf_counter() - started
    return outcome


def answers_digest(notebook: dict) -> str:
    """A digest of what the student wrote in the exercise cells, "" when they wrote nothing: two
    submissions with one digest hold the same code, a copy a person should look at."""
    written = [
        cell_source(cell) for cell in notebook["cells"] if is_exercise(cell) and not unchanged_since_release(cell)
    ]
    return hashlib.sha256("\0".join(written).encode()).hexdigest()[:16] if written else ""


def mark_not_graded(kit: ModuleKit, outcome: Outcome) -> None:
    """Every exercise of an outcome that could not be graded is an error, and the page says why."""
    outcome.exercises = ungraded_results(kit.release, Status.ERROR, outcome.error)
    outcome.feedback = outcome.feedback or failure_page(kit.slug, outcome.student, outcome.error)


def _grade_into(kit: ModuleKit, submission: Submission, private: Path, outcome: Outcome) -> None:
    """The steps of grading one submission, in order; the first that fails sets `outcome.error`."""
    notebook = read_submission(submission, outcome, kit.limits.submission_bytes)
    if notebook is None:
        return
    if len(notebook["cells"]) > kit.limits.cells:
        outcome.error = (
            f"the notebook has {len(notebook['cells']):,} cells, more than the {kit.limits.cells:,} a submission may "
            "have: remove the cells you added and submit again"
        )
        return
    for cell in notebook["cells"]:  # what ran before is not graded, and may be anything
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            cell["outputs"], cell["execution_count"] = [], None
    dropped = shallow(notebook)
    if dropped:
        outcome.notes.append(f"what the notebook nested deeper than {DEEPEST} levels was dropped ({dropped} values)")
    outcome.restored = restore_release(notebook, kit.release, kit.locked_sources)
    outcome.answers = answers_digest(notebook)
    neutralize_markers(notebook)
    outcome.flags = flag_cells(notebook, kit.release, set(kit.test_names))
    write_private_course(kit, submission, notebook, private)
    events_file = private / "events.jsonl"
    api = nbgrader_api(private, confined_config(kit, private, events_file))
    with nbgrader_environment():
        result = api.autograde(kit.slug, submission.student, force=True, create=True)
        if not result["success"]:
            outcome.error = "nbgrader could not grade it: " + _last_error(
                result.get("log", "") + result.get("error", "")
            )
            return
        feedback = api.generate_feedback(kit.slug, submission.student, force=True)
    if events_file.exists():
        outcome.notes += [event for line in events_file.read_text().splitlines() for event in json.loads(line)]
    outcome.flags += [Flag("the notebook", note) for note in outcome.notes if SHELL_CHANGED in note]
    read_back(kit, submission.student, private, feedback["success"], outcome)


def read_submission(submission: Submission, outcome: Outcome, largest: int) -> dict | None:
    """The submission as JSON, or None (and why, in the outcome) when it is not a notebook: read as a
    regular file of at most `largest` bytes, never through a symbolic link (the file may have been
    swapped since it was collected), never blocking on a FIFO or a device."""
    try:
        raw = read_regular_file(submission.notebook, largest)
    except NotARegularFile:
        outcome.error = "the submission is not a regular file: refused"
        return None
    except TooLarge as error:
        outcome.error = f"the notebook is {error.size / 2**20:.0f} MB, more than the {largest / 2**20:.0f} MB a submission may be: clear its outputs and submit again"
        return None
    except OSError as error:
        why = "it is a symbolic link" if error.errno == errno.ELOOP else error.strerror
        outcome.error = f"the notebook could not be opened ({why}): a submission must be a file of its own"
        return None
    try:
        notebook = json.loads(raw.decode("utf-8"))
        if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
            raise ValueError("it has no list of cells")
    except (RecursionError, ValueError) as error:
        outcome.error = f"the notebook could not be read ({error}): it is not a Jupyter notebook, or it is damaged"
        return None
    return notebook


DEEPEST = 32  # levels kept: a notebook's own structure is 6 deep; deeper nesting only slows or crashes tools
HIDDEN_MARKERS = re.compile(r"(BEGIN|END) HIDDEN TESTS", re.IGNORECASE)


def neutralize_markers(notebook: dict) -> None:
    """nbgrader's hidden-test markers mean something only in a locked cell, restored as released:
    written in a student's own cell they would make the feedback step fail (or hide their code)."""
    for cell in notebook["cells"]:
        if not is_locked(cell) and isinstance(cell.get("source"), (str, list)):
            source = cell_source(cell)
            cell["source"] = HIDDEN_MARKERS.sub(lambda found: found.group(0).replace(" TESTS", "-TESTS"), source)


def shallow(notebook: dict) -> int:
    """Drop, in place, whatever the notebook nests deeper than DEEPEST levels (metadata, attachments;
    without recursion, so that any depth is safe); returns how many values were dropped."""
    dropped = 0
    stack: list[tuple[dict | list, int]] = [(notebook, 0)]
    while stack:
        container, depth = stack.pop()
        keys = list(container) if isinstance(container, dict) else list(range(len(container)))
        for key in keys:
            value = container[key]
            if isinstance(value, (dict, list)):
                if depth >= DEEPEST:
                    container[key] = None
                    dropped += 1
                else:
                    stack.append((value, depth + 1))
    return dropped


def write_private_course(kit: ModuleKit, submission: Submission, notebook: dict, private: Path) -> None:
    """The private course nbgrader grades in: the restored notebook in submitted/ with its time and
    secret (which nbgrader carries into autograded/ and feedback/), a copy of the module's gradebook."""
    import nbformat

    folder = private / "submitted" / submission.student / kit.slug
    folder.mkdir(parents=True)
    for name, text in ((TIMESTAMP_FILE, submission.timestamp), (SECRET_FILE, submission.secret)):
        if text:
            (folder / name).write_text(text, encoding="utf-8")
    notebook.setdefault("metadata", {})
    notebook["nbformat"], notebook["nbformat_minor"] = 4, max(5, int(notebook.get("nbformat_minor", 5)))
    nbformat.write(nbformat.from_dict(notebook), str(folder / f"{kit.slug}.ipynb"))
    shutil.copy2(kit.template_gradebook, private / "gradebook.db")


TEMPLATES = Path(__file__).parent / "templates"


def nbgrader_templates() -> Path:
    """nbgrader's own template folder, whose `feedback` template tito's page extends."""
    import nbgrader

    return Path(nbgrader.__file__).parent / "server_extensions" / "formgrader" / "templates"


BOOTSTRAP_CSS = Path("static", "node_modules", "bootstrap", "dist", "css")  # under nbgrader_templates().parent


def confined_config(kit: ModuleKit, private: Path, events_file: Path):
    """The course's nbgrader configuration, pointed at the private course, with the confined pipeline."""
    config = nbgrader_config(Path(kit.config_file).parent)
    config.CourseDirectory.root = str(private)
    config.CourseDirectory.db_url = f"sqlite:///{private / 'gradebook.db'}"
    config.Autograde.autograde_preprocessors = pipelines.autograde(pipelines.CONFINED_EXECUTE)
    config.GenerateFeedback.exporter_class = pipelines.FEEDBACK_EXPORTER
    config.Exporter.optimistic_validation = True  # the notebook validated once after the steps, not after each
    config.FeedbackExporter.template_name = pipelines.FEEDBACK_TEMPLATE
    config.FeedbackExporter.extra_template_basedirs = [str(TEMPLATES), str(nbgrader_templates())]
    # where its page `extends 'feedback/index.html.j2'` and `include_css('bootstrap.min.css')` look
    config.FeedbackExporter.extra_template_paths = [
        str(nbgrader_templates()),
        str(nbgrader_templates().parent / BOOTSTRAP_CSS),
    ]
    config.GuardedExecute.earlier_reference = kit.earlier_reference
    config.GuardedExecute.datasets = kit.datasets
    config.GuardedExecute.sandboxed = kit.sandboxed
    config.GuardedExecute.limits = asdict(kit.limits)
    config.GuardedExecute.events_file = str(events_file)
    config.GuardedExecute.prestart = kit.prestart
    return config


def read_back(kit: ModuleKit, student: str, private: Path, feedback_made: bool, outcome: Outcome) -> None:
    """The graded notebook, its feedback page and nbgrader's scores, judged into the outcome."""
    from nbgrader.api import Gradebook

    graded = private / "autograded" / student / kit.slug / f"{kit.slug}.ipynb"
    outcome.autograded = graded.read_text(encoding="utf-8")
    page = private / "feedback" / student / kit.slug / f"{kit.slug}.html"
    if feedback_made and page.exists():
        outcome.feedback = page.read_text(encoding="utf-8")
    with Gradebook(f"sqlite:///{private / 'gradebook.db'}") as gradebook:
        graded_notebook = gradebook.find_submission_notebook(kit.slug, kit.slug, student)
        outcome.scores = {
            grade.name: (float(grade.auto_score or 0.0), float(grade.max_score)) for grade in graded_notebook.grades
        }
        outcome.late_penalty = float(graded_notebook.late_submission_penalty or 0.0)
        outcome.seconds_late = float(graded_notebook.assignment.total_seconds_late or 0.0)
    scores = {grade_id: score for grade_id, (score, _) in outcome.scores.items()}
    graded_notebook = json.loads(outcome.autograded)
    outcome.exercises = exercise_results(graded_notebook, kit.limits.cell_seconds, scores)
    zero_untouched_stubs(graded_notebook, outcome)
    if not outcome.feedback:
        outcome.feedback = failure_page(
            kit.slug,
            student,
            "the feedback page could not be made; your grades are in the table below",
            outcome.exercises,
        )


def zero_untouched_stubs(graded: dict, outcome: Outcome) -> None:
    """An exercise whose code cell is still its released stub scores 0, whatever its tests printed:
    passing tests then came from code elsewhere (a hook that rewrote them, or an answer outside the
    exercise cell, which the package never gets). Judged from the notebook's cells, out of the
    kernel's reach; the case is flagged for a human."""
    cells = graded["cells"]
    stubs = {
        cell_exercise(cell): index
        for index, cell in enumerate(cells)
        if is_exercise(cell) and stub_progress(cell)[0] is Progress.NOT_ATTEMPTED
    }
    tests = {cell_exercise(cell): nbgrader_meta(cell)["grade_id"] for cell in cells if is_graded(cell)}
    for position, result in enumerate(outcome.exercises):
        if result.exercise not in stubs or result.status is Status.NOT_ATTEMPTED:
            continue
        outcome.exercises[position] = replace(
            result,
            status=Status.NOT_ATTEMPTED,
            score=0.0,
            detail="its code cell is still the released stub: write the answer in the exercise's own cell",
        )
        grade_id = tests[result.exercise]
        outcome.scores[grade_id] = (0.0, outcome.scores.get(grade_id, (0.0, result.points))[1])
        if result.earned == 0:
            continue
        outcome.flags.append(
            Flag(
                describe_cell(cells, stubs[result.exercise]),
                f"its tests passed ({result.earned:g} points) though the cell is still the stub: scored 0",
            )
        )


def _last_error(log: str) -> str:
    """The exception that stopped nbgrader, from its log (its own summary line says only "see above")."""
    lines = [line.strip() for line in log.strip().splitlines() if line.strip()]
    raised = [
        line for line in lines if re.match(r"^[\w.]+(Error|Exception|Exit)\b", line) and "NbGraderException" not in line
    ]
    return (raised or lines or ["no log"])[-1][:300]


def failure_page(slug: str, student: str, reason: str, exercises: list[ExerciseResult] | None = None) -> str:
    """The feedback page of a submission whose grading failed: what happened and what to do."""
    from html import escape

    rows = "".join(
        f"<tr><td>{escape(g.exercise)}</td><td>{g.earned:g} / {g.points:g}</td>"
        f"<td>{escape(str(g.status))}</td><td>{escape(g.detail)}</td></tr>"
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
