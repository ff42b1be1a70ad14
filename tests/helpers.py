"""What the tests share besides fixtures: the course's folder, notebooks made or filled in as a
student would, the README's commands, and nbgrader's own autograde and validate as the stock
commands run them."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

from tito.build.export import export, package_root
from tito.build.release import nbgrader_api, nbgrader_config, nbgrader_environment
from tito.course.cells import cell_source, nbgrader_meta
from tito.course.registry import SOURCE_DIR

ROOT = Path(__file__).resolve().parent.parent


@functools.cache
def exported_reference() -> Path:
    """The reference package, exported from source_solutions/ once per test run."""
    export(ROOT, SOURCE_DIR)
    return package_root(ROOT, SOURCE_DIR)


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
