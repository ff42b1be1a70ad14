"""What the tests share besides fixtures: the course's folder, notebooks made or filled in as a
student would, the README's commands, and nbgrader's own autograde and validate as the stock
commands run them."""

from __future__ import annotations

import copy
import functools
import json
import re
import shutil
from pathlib import Path

from tito.build.export import export, package_root
from tito.build.release import CONFIG_FILE, nbgrader_api, nbgrader_config, nbgrader_environment
from tito.course.cells import cell_source, nbgrader_meta, read_notebook
from tito.course.registry import REGISTRY_FILE, RELEASE_DIR, SOURCE_DIR, Module

ROOT = Path(__file__).resolve().parent.parent


@functools.cache
def exported_reference() -> Path:
    """The reference package, exported from source_solutions/ once per test run."""
    export(ROOT, SOURCE_DIR)
    return package_root(ROOT, SOURCE_DIR)


def make_course(destination: Path, folders: tuple[str, ...] = (SOURCE_DIR, RELEASE_DIR)) -> Path:
    """A scratch course at `destination`: the registry, nbgrader's configuration and `folders` copied
    from this course, its datasets linked (Module 08 and the milestones read them)."""
    destination.mkdir(parents=True)
    for name in (REGISTRY_FILE, CONFIG_FILE):
        shutil.copy2(ROOT / name, destination / name)
    for folder in folders:
        skipped = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "executed", "trained")
        shutil.copytree(ROOT / folder, destination / folder, ignore=skipped)
    (destination / "datasets").symlink_to(ROOT / "datasets", target_is_directory=True)
    return destination


def copy_course(course: Path, destination: Path) -> Path:
    """A private copy of a scratch course, to change freely (its datasets stay a link)."""
    shutil.copytree(course, destination, symlinks=True)
    return destination


def reference_answers(module: Module) -> dict[str, str]:
    """{grade_id: source} of the module's exercise cells as the solution notebook has them."""
    return exercise_sources(read_notebook(module.notebook(ROOT, SOURCE_DIR)))


# As the text to replace: every line of the reference's solution (between its BEGIN and END SOLUTION
# markers), for an answer written another way as a whole, without a copy of the reference's text here.
WHOLE_SOLUTION = "<the whole reference solution>"


def rewritten(answer: str, old: str, new: str, what: str) -> str:
    """`answer` with `old` (which must occur once in it; WHOLE_SOLUTION: its solution's lines) replaced by `new`."""
    if old == WHOLE_SOLUTION:
        regions = re.findall(r"### BEGIN SOLUTION\n(.*?\n)[ \t]*### END SOLUTION", answer, re.DOTALL)
        assert len(regions) == 1, f"{what}: the answer must have one solution region, it has {len(regions)}"
        old, new = regions[0], new if new.endswith("\n") else new + "\n"
    assert answer.count(old) == 1, f"{what}: the text to replace must occur once: {old[:60]!r}"
    return answer.replace(old, new)


def released_notebook(module: Module, course: Path = ROOT) -> dict:
    return read_notebook(module.notebook(course, RELEASE_DIR))


def answered(notebook: dict, answers: dict[str, str]) -> dict:
    """A copy of the notebook whose exercise cells named in `answers` ({grade_id: source}) hold those
    answers, as a student would have typed them; the other cells stay as they are."""
    notebook = copy.deepcopy(notebook)
    for cell in notebook["cells"]:
        grade_id = nbgrader_meta(cell).get("grade_id")
        if nbgrader_meta(cell).get("solution") and grade_id in answers:
            cell["source"] = answers[grade_id]
    return notebook


def write_notebook(path: Path, sources: list[str]) -> Path:
    """A minimal nbformat-4 notebook of code cells, as JupyterLab would save it."""
    cells = [
        {
            "cell_type": "code",
            "execution_count": None,
            "id": f"cell-{index}",
            "metadata": {},
            "outputs": [],
            "source": source,
        }
        for index, source in enumerate(sources)
    ]
    kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook = {"cells": cells, "metadata": {"kernelspec": kernelspec}, "nbformat": 4, "nbformat_minor": 5}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(notebook, indent=1))
    return path


def exercise_sources(notebook: dict) -> dict[str, str]:
    """{grade_id: source} of a notebook's exercise (nbgrader solution) cells, in notebook order."""
    return {
        nbgrader_meta(cell)["grade_id"]: cell_source(cell)
        for cell in notebook["cells"]
        if nbgrader_meta(cell).get("solution")
    }


def readme_commands(readme: str) -> list[list[str]]:
    """The commands of each ```bash block of a README, comments and blank lines left out."""
    blocks = re.findall(r"```bash\n(.*?)```", readme, re.S)
    return [[line for line in block.splitlines() if line and not line.startswith("#")] for block in blocks]


def autograde(root: Path, slug: str, student: str) -> dict[str, tuple[float, float]]:
    """nbgrader's stock autograde of submitted/<student>/<slug>/ (the pipeline nbgrader_config.py
    sets up, no sandbox); returns {grade_id: (score, max_score)}."""
    from nbgrader.api import Gradebook

    api = nbgrader_api(root)
    with nbgrader_environment():
        result = api.autograde(slug, student, force=True, create=True)
    assert result["success"], result.get("log", "") + result.get("error", "")
    with Gradebook(api.coursedir.db_url) as gradebook:
        submission = gradebook.find_submission_notebook(slug, slug, student)
        return {grade.name: (grade.score, grade.max_score) for grade in submission.grades}


def validate(root: Path, notebook: Path) -> dict:
    """nbgrader's own check of a notebook, as its Validate button runs it: {} when every test passes,
    else {"failed": [...]} (or {"changed": [...]} when locked cells were edited)."""
    from nbgrader.validator import Validator

    with nbgrader_environment():
        return Validator(config=nbgrader_config(root)).validate(str(notebook))
