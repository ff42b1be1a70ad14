"""An nbgrader round trip on every module: release, simulated submissions, `tito grade` (and the stock\n`nbgrader autograde`, which nbgrader_config.py sets up the same way), scores and feedback."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import (
    ROOT,
    answered,
    autograde,
    copy_course,
    exercise_sources,
    reference_answers,
    released_notebook,
    validate,
)
from nbgrader.api import Gradebook

from tito.build.export import export, reference_before
from tito.course.cells import cell_source, nbgrader_meta, read_notebook
from tito.course.registry import SOURCE_DIR, Module, load_modules
from tito.grading.grade import grade_class
from tito.grading.limits import Limits
from tito.grading.sandbox import bubblewrap
from tito.grading.submissions import collect

MODULES = [m for m in load_modules(ROOT) if m.notebook(ROOT, SOURCE_DIR).exists()]
IDS = [m.slug for m in MODULES]
# nbgrader's own handling of tampered notebooks does not depend on the module's content: it is
# checked on the first and the last module written, which keeps the suite within CI's time.
ENDS = [MODULES[0], MODULES[-1]] if len(MODULES) > 1 else MODULES
END_IDS = [m.slug for m in ENDS]


def points_of(notebook: dict) -> dict[str, float]:
    """{grade_id: points} of the graded test cells, in notebook order."""
    return {
        nbgrader_meta(cell)["grade_id"]: nbgrader_meta(cell)["points"]
        for cell in notebook["cells"]
        if nbgrader_meta(cell).get("grade")
    }


@pytest.fixture(scope="module")
def course(released_course: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the released course (and its gradebook) that this file's submissions go into."""
    return copy_course(released_course, tmp_path_factory.mktemp("grading") / "course")


def submit(course: Path, module: Module, student: str, notebook: dict) -> None:
    path = course / "submitted" / student / module.slug / module.notebook_name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(notebook, indent=1))


def released(course: Path, module: Module) -> dict:
    return released_notebook(module, course)


def filled_in(course: Path, module: Module, grade_ids: set[str]) -> dict:
    """The released notebook with the solution cells of `grade_ids` completed as a student would."""
    answers = reference_answers(module)
    return answered(released(course, module), {grade_id: answers[grade_id] for grade_id in grade_ids})


def every_exercise(course: Path, module: Module) -> set[str]:
    return set(exercise_sources(released(course, module)))


def total(scores: dict[str, tuple[float, float]]) -> float:
    return sum(score for score, _ in scores.values())


@pytest.fixture(scope="module")
def graded_by_tito(course: Path):
    """module -> {student: Outcome}: one `tito grade` run per module over four submissions (the
    solution, the untouched release, the first half done, and one importing the answer), shared."""
    cache: dict[str, dict] = {}

    def graded(module: Module) -> dict:
        if module.slug not in cache:
            export(course, SOURCE_DIR)  # the full reference exists on disk, as it does on an instructor's machine
            in_order = list(exercise_sources(released(course, module)))
            submit(course, module, "ada", filled_in(course, module, every_exercise(course, module)))
            submit(course, module, "blank", released(course, module))
            submit(course, module, "half", filled_in(course, module, set(in_order[: len(in_order) // 2])))
            submit(course, module, "copycat", importing_the_answer(course, module))
            submissions, _ = collect(course, module)
            chosen = [s for s in submissions if s.student in ("ada", "blank", "half", "copycat")]
            log: list[str] = []
            outcomes = grade_class(
                course, module, chosen, jobs=2, limits=Limits(), sandboxed=bubblewrap() is not None, say=log.append
            )
            cache[module.slug] = {outcome.student: outcome for outcome in outcomes} | {"log": log}
        return cache[module.slug]

    return graded


@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_solution_scores_full_points_and_is_not_flagged(graded_by_tito, course: Path, module: Module) -> None:
    ada = graded_by_tito(module)["ada"]
    assert {grade_id: score for grade_id, (score, _) in ada.scores.items()} == points_of(released(course, module)), (
        graded_by_tito(module)["log"]
    )
    assert ada.total == module.points and all(grade.status == "passed" for grade in ada.exercises)
    assert not ada.flags, ada.flags


@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_untouched_student_notebook_scores_zero_and_its_feedback_hides_the_hidden_tests(
    graded_by_tito, course: Path, module: Module
) -> None:
    blank = graded_by_tito(module)["blank"]
    assert blank.scores and blank.total == 0 and not blank.error, blank
    assert all(grade.status == "not attempted" for grade in blank.exercises), blank.exercises
    html = (course / "feedback" / "blank" / module.slug / f"{module.slug}.html").read_text()
    assert f"{next(iter(points_of(released(course, module))))}_" in html, "feedback shows the visible tests"
    assert "HIDDEN TESTS" not in html and not re.search(r"test_\d+_\d+_\w*_hidden", html), (
        "a hidden test's marker or name shows"
    )


@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_half_done_scores_exactly_the_exercises_it_got_right(graded_by_tito, course: Path, module: Module) -> None:
    in_order = list(exercise_sources(released(course, module)))
    done = set(in_order[: len(in_order) // 2])  # a prefix: a later exercise may build on an earlier one
    scores = graded_by_tito(module)["half"].scores
    points = points_of(released(course, module))
    expected = {grade_id: (points[grade_id] if grade_id.replace("test_", "ex_") in done else 0) for grade_id in points}
    assert {grade_id: score for grade_id, (score, _) in scores.items()} == expected


@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_importing_the_answer_from_the_reference_scores_zero(graded_by_tito, module: Module) -> None:
    """Grading module N gives the kernels the reference of modules before N only, never N's own file."""
    copycat = graded_by_tito(module)["copycat"]
    assert copycat.scores and copycat.total == 0, copycat


@pytest.mark.parametrize("module", ENDS, ids=END_IDS)
def test_deleted_or_edited_test_cells_are_restored_and_graded(course: Path, module: Module) -> None:
    first, second, third = list(points_of(released(course, module)))[:3]
    notebook = filled_in(
        course, module, {first.replace("test_", "ex_")}
    )  # the other exercises are not attempted: their real tests fail
    cells = notebook["cells"]
    del cells[next(i for i, c in enumerate(cells) if nbgrader_meta(c).get("grade_id") == second)]
    for cell in cells:
        if nbgrader_meta(cell).get("grade_id") == third:
            cell["source"] = "print('all good, trust me')"
    submit(course, module, "mallory", notebook)
    scores = autograde(course, module.slug, "mallory")
    assert scores[second][0] == 0 and scores[third][0] == 0
    assert scores[first][0] == points_of(released(course, module))[first]
    graded = read_notebook(course / "autograded" / "mallory" / module.slug / module.notebook_name)
    restored = [c for c in graded["cells"] if nbgrader_meta(c).get("grade_id") == second]
    assert len(restored) == 1 and f"def {second}" in cell_source(restored[0])
    assert "BEGIN HIDDEN TESTS" in cell_source(restored[0]), "the hidden tests run at grading time"


@pytest.mark.parametrize("module", ENDS, ids=END_IDS)
def test_copy_pasted_locked_cell_does_not_crash_grading(course: Path, module: Module) -> None:
    notebook = filled_in(course, module, every_exercise(course, module))
    second = list(points_of(notebook))[1]
    test_cell = next(c for c in notebook["cells"] if nbgrader_meta(c).get("grade_id") == second)
    notebook["cells"].append(json.loads(json.dumps(test_cell)) | {"id": "pasted-copy"})
    submit(course, module, "paster", notebook)
    assert total(autograde(course, module.slug, "paster")) == module.points


def test_nbgrader_validate_passes_a_finished_notebook_and_not_a_blank_one(course: Path, tmp_path: Path) -> None:
    module = MODULES[0]  # validate runs the student's own package, so only a module that imports none of it runs here
    finished = tmp_path / "finished" / module.notebook_name
    finished.parent.mkdir()
    finished.write_text(json.dumps(filled_in(course, module, every_exercise(course, module)), indent=1))
    assert validate(course, finished) == {}
    blank = tmp_path / "blank" / module.notebook_name
    blank.parent.mkdir()
    shutil.copy2(module.notebook(course), blank)
    failed = validate(course, blank)["failed"]
    assert len(failed) == len(points_of(released(course, module)))
    assert "Exercise 01.1: Tensor.__init__" in failed[0]["raw_error"]


def importing_the_answer(course: Path, module: Module) -> dict:
    """A submission whose exercise cells import the module's reference instead of defining anything."""
    notebook = released(course, module)
    exercises = [cell for cell in notebook["cells"] if nbgrader_meta(cell).get("solution")]
    exercises[0]["source"] = f"%%export\nfrom {module.dotted} import *"
    for cell in exercises[1:]:
        cell["source"] = "%%export\npass"
    return notebook


@pytest.mark.parametrize("module", ENDS, ids=END_IDS)
def test_importing_the_answer_scores_zero_with_the_stock_nbgrader_command(course: Path, module: Module) -> None:
    submit(course, module, "copycat-cli", importing_the_answer(course, module))
    environment = {
        **os.environ,
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }
    run = subprocess.run(
        [
            str(Path(sys.executable).parent / "nbgrader"),
            "autograde",
            module.slug,
            "--student",
            "copycat-cli",
            "--force",
        ],
        cwd=course,
        capture_output=True,
        text=True,
        env=environment,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        submission = gradebook.find_submission_notebook(module.slug, module.slug, "copycat-cli")
        assert submission.max_score == module.points and submission.score == 0, [
            (g.name, g.score) for g in submission.grades
        ]


@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_graded_kernels_see_the_earlier_modules_and_not_the_graded_one(course: Path, module: Module) -> None:
    earlier = reference_before(course, module)
    assert (earlier / "tinytorch/__init__.py").is_file(), "the package shadows any other tinytorch"
    assert not (earlier / module.exports_to).exists()
    for before in MODULES[: MODULES.index(module)]:
        assert (earlier / before.exports_to).is_file(), before.slug
