"""A library written with the other correct answers the texts allow (tests/alternatives.py), not the
reference's: every module's tests pass on it, each module building on the earlier ones as written
so, and both milestones train on it to their targets. Text and tests that demanded the reference's
own way of writing an exercise would fail here."""

from __future__ import annotations

import concurrent.futures
import json
from pathlib import Path

import pytest
from alternatives import ALTERNATIVES
from helpers import ROOT, answered, make_course, reference_answers, released_notebook, rewritten

from tito.build.export import export
from tito.course.cells import exercise_id
from tito.course.registry import RELEASE_DIR, Module, load_modules
from tito.course.verdict import Status, exercise_results
from tito.student.milestones import milestone_folder, milestone_notebooks, run_one
from tito.student.testing import run_notebook

MODULES = load_modules(ROOT)


def alternative_answers(module: Module) -> dict[str, str]:
    """{grade_id: source}: the reference's answers with every alternative of this module applied."""
    answers = reference_answers(module)
    for alternative in ALTERNATIVES:
        grade_id = "ex_" + alternative.exercise.replace(".", "_")
        if grade_id in answers:
            answers[grade_id] = rewritten(answers[grade_id], alternative.old, alternative.new, alternative.exercise)
    return answers


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A student's course whose every notebook holds the alternative answers, exported into its tinytorch/."""
    course = make_course(tmp_path_factory.mktemp("alternative") / "course", folders=(RELEASE_DIR, "milestones"))
    for module in MODULES:
        notebook = answered(released_notebook(module), alternative_answers(module))
        module.notebook(course).write_text(json.dumps(notebook))
    export(course, RELEASE_DIR)
    return course


def test_every_exercise_has_an_alternative_answer() -> None:
    exercises = {exercise_id(grade_id) for module in MODULES for grade_id in reference_answers(module)}
    assert exercises == {alternative.exercise for alternative in ALTERNATIVES}


@pytest.mark.slow
def test_every_module_passes_on_the_alternative_library(course: Path) -> None:
    def executed(module: Module) -> dict:
        return run_notebook(module.notebook(course), env={"PYTHONPATH": str(course)})

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        notebooks = dict(zip([m.slug for m in MODULES], pool.map(executed, MODULES), strict=True))
    # judged here, not in the threads: CPython 3.11's ast.parse is not safe in two threads at once
    found = {slug: {r.exercise: r for r in exercise_results(notebook)} for slug, notebook in notebooks.items()}
    assert {slug: len(by_exercise) for slug, by_exercise in found.items()} == {
        module.slug: len(reference_answers(module)) for module in MODULES
    }, "every exercise was tested"
    failing = {
        f"{slug} {number}": result.detail
        for slug, by_exercise in found.items()
        for number, result in by_exercise.items()
        if result.status is not Status.PASSED
    }
    assert failing == {}


@pytest.mark.slow
def test_both_milestones_train_to_their_targets_on_the_alternative_library(course: Path) -> None:
    folder = milestone_folder(course, "03")
    for notebook in milestone_notebooks(folder):
        run = run_one(notebook, {"PYTHONPATH": str(course)})
        assert run.figures is not None and run.figures["targets_met"], (notebook.name, run.error, run.figures)
        assert "your own export" in run.figures["tinytorch"], run.figures["tinytorch"]
