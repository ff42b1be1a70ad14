"""An nbgrader round trip on module 01: release, simulated submissions, autograde, scores."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from tito.cells import cell_source
from tito.export import export, read_notebook, reference_before
from tito.grading import autograde, grading_environment, nbgrader_api, release, validate
from tito.registry import SOURCE_DIR, find_module, load_modules

MODULE = "01_tensor"


def solution_cells(notebook: dict) -> dict[str, str]:
    """{grade_id: source} of the exercise (solution) cells."""
    return {
        cell["metadata"]["nbgrader"]["grade_id"]: cell_source(cell)
        for cell in notebook["cells"]
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution")
    }


def points_of(notebook: dict) -> dict[str, float]:
    return {
        cell["metadata"]["nbgrader"]["grade_id"]: cell["metadata"]["nbgrader"]["points"]
        for cell in notebook["cells"]
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade")
    }


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scratch course with module 01 released through nbgrader (and its gradebook)."""
    root = Path(__file__).resolve().parent.parent
    course = tmp_path_factory.mktemp("grading") / "course"
    course.mkdir()
    for name in ("modules.toml", "nbgrader_config.py"):
        shutil.copy2(root / name, course / name)
    shutil.copytree(root / "source_solutions", course / "source_solutions", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    release(course)
    return course


def submit(course: Path, student: str, notebook: dict) -> None:
    path = course / "submitted" / student / MODULE / f"{MODULE}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(notebook, indent=1))


def released(course: Path) -> dict:
    return read_notebook(course / "modules" / MODULE / f"{MODULE}.ipynb")


def filled_in(course: Path, grade_ids: set[str]) -> dict:
    """The released notebook with the solution cells of `grade_ids` completed as a student would."""
    answers = solution_cells(read_notebook(course / "source_solutions" / MODULE / f"{MODULE}.ipynb"))
    notebook = released(course)
    for cell in notebook["cells"]:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in grade_ids:
            cell["source"] = answers[grade_id]
    return notebook


def total(scores: dict[str, tuple[float, float]]) -> float:
    return sum(score for score, _ in scores.values())


def test_solution_scores_full_points(course: Path) -> None:
    notebook = filled_in(course, set(solution_cells(released(course))))
    submit(course, "ada", notebook)
    scores = autograde(course, MODULE, "ada")
    maximum = sum(points_of(released(course)).values())
    assert maximum == 20
    assert {grade_id: score for grade_id, (score, _) in scores.items()} == points_of(released(course))
    assert total(scores) == maximum


def test_untouched_student_notebook_scores_zero(course: Path) -> None:
    submit(course, "blank", released(course))
    scores = autograde(course, MODULE, "blank")
    assert scores and total(scores) == 0, scores


def test_half_done_scores_exactly_the_exercises_it_got_right(course: Path) -> None:
    done = {"ex_01_1", "ex_01_4", "ex_01_7", "ex_01_9"}
    submit(course, "half", filled_in(course, done))
    scores = autograde(course, MODULE, "half")
    points = points_of(released(course))
    expected = {grade_id: (points[grade_id] if grade_id.replace("test_", "ex_") in done else 0) for grade_id in points}
    assert {grade_id: score for grade_id, (score, _) in scores.items()} == expected


def test_deleted_or_edited_test_cells_are_restored_and_graded(course: Path) -> None:
    notebook = filled_in(course, {"ex_01_1"})  # 01.4 not attempted: its real test must fail
    cells = notebook["cells"]
    deleted = next(i for i, c in enumerate(cells) if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "test_01_4")
    del cells[deleted]
    for cell in cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "test_01_5":
            cell["source"] = "print('all good, trust me')"
    submit(course, "mallory", notebook)
    scores = autograde(course, MODULE, "mallory")
    assert scores["test_01_4"][0] == 0 and scores["test_01_5"][0] == 0
    assert scores["test_01_1"][0] == points_of(released(course))["test_01_1"]
    graded = read_notebook(course / "autograded" / "mallory" / MODULE / f"{MODULE}.ipynb")
    restored = [c for c in graded["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "test_01_4"]
    assert len(restored) == 1 and "def test_01_4" in cell_source(restored[0])
    assert "BEGIN HIDDEN TESTS" in cell_source(restored[0]), "the hidden tests run at grading time"


def test_copy_pasted_locked_cell_does_not_crash_grading(course: Path) -> None:
    notebook = filled_in(course, set(solution_cells(released(course))))
    test_cell = next(c for c in notebook["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "test_01_2")
    notebook["cells"].append(json.loads(json.dumps(test_cell)) | {"id": "pasted-copy"})
    submit(course, "paster", notebook)
    scores = autograde(course, MODULE, "paster")
    assert total(scores) == 20


def test_feedback_never_shows_hidden_tests(course: Path) -> None:
    submit(course, "fiona", released(course))
    autograde(course, MODULE, "fiona")
    api = nbgrader_api(course)
    with grading_environment():
        result = api.generate_feedback(MODULE, "fiona")
    assert result["success"], result.get("error")
    html = (course / "feedback" / "fiona" / MODULE / f"{MODULE}.html").read_text()
    assert "test_01_4_" in html, "feedback shows the visible tests"
    assert "HIDDEN TESTS" not in html and "_hidden" not in html


def test_nbgrader_validate_passes_a_finished_notebook_and_not_a_blank_one(course: Path, tmp_path: Path) -> None:
    finished = tmp_path / "finished" / f"{MODULE}.ipynb"
    finished.parent.mkdir()
    finished.write_text(json.dumps(filled_in(course, set(solution_cells(released(course)))), indent=1))
    assert validate(course, finished) == {}
    blank = tmp_path / "blank" / f"{MODULE}.ipynb"
    blank.parent.mkdir()
    shutil.copy2(course / "modules" / MODULE / f"{MODULE}.ipynb", blank)
    failed = validate(course, blank)["failed"]
    assert len(failed) == len(points_of(released(course)))
    assert "Exercise 01.1: Tensor.__init__" in failed[0]["raw_error"]


def importing_the_answer(course: Path) -> dict:
    """A submission whose exercise cells import the reference instead of defining anything."""
    notebook = released(course)
    for cell in notebook["cells"]:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")
        if grade_id == "ex_01_1":
            cell["source"] = "%%export\nfrom tinytorch.core.tensor import Tensor"
        elif grade_id.startswith("ex_01_"):
            cell["source"] = "%%export\npass"
    return notebook


def test_importing_the_answer_from_the_reference_scores_zero(course: Path) -> None:
    """Grading module N gives the kernels the reference of modules before N only, never N's own file."""
    export(course, SOURCE_DIR)  # the full reference exists on disk, as it does on an instructor's machine
    submit(course, "copycat", importing_the_answer(course))
    scores = autograde(course, MODULE, "copycat")
    assert scores and total(scores) == 0, scores


def test_importing_the_answer_scores_zero_with_the_stock_nbgrader_command(course: Path) -> None:
    submit(course, "copycat-cli", importing_the_answer(course))
    environment = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
    run = subprocess.run([str(Path(sys.executable).parent / "nbgrader"), "autograde", MODULE, "--student", "copycat-cli", "--force"],
                         cwd=course, capture_output=True, text=True, env=environment, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        submission = gradebook.find_submission_notebook(MODULE, MODULE, "copycat-cli")
        assert submission.max_score == 20 and submission.score == 0, [(g.name, g.score) for g in submission.grades]


def test_graded_kernels_see_the_earlier_modules_and_not_the_graded_one(course: Path) -> None:
    module = find_module(load_modules(course), "01")
    earlier = reference_before(course, module)
    assert (earlier / "tinytorch/__init__.py").is_file(), "an empty package shadows any other tinytorch"
    assert not (earlier / module.exports_to).exists()
