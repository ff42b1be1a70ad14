"""Shared fixtures: the real course folder, and scratch copies of it to change freely."""

from __future__ import annotations

import functools
import json
import re
import shutil
from pathlib import Path

import pytest

from tito.cells import cell_source, nbgrader_meta
from tito.export import export, package_root
from tito.notebooks import run_notebook
from tito.registry import SOURCE_DIR, Module

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def root() -> Path:
    return ROOT


@functools.cache
def exported_reference() -> Path:
    """The reference package, exported from source_solutions/ once per test run (also at collection time)."""
    export(ROOT, SOURCE_DIR)
    return package_root(ROOT, SOURCE_DIR)


@pytest.fixture(scope="session")
def reference_path() -> str:
    """The reference package (exported from source_solutions/), for PYTHONPATH."""
    return str(exported_reference())


@pytest.fixture(scope="session")
def executed_solution(reference_path: str):
    """module -> its solution notebook as executed headless; each notebook runs once per test session."""
    cache: dict[str, dict] = {}

    def executed(module: Module) -> dict:
        if module.slug not in cache:
            cache[module.slug] = run_notebook(module.notebook(ROOT, SOURCE_DIR), env={"PYTHONPATH": reference_path})
        return cache[module.slug]

    return executed


@pytest.fixture
def scratch_course(tmp_path: Path) -> Path:
    """A copy of the course's sources (no package, no gradebook) in a temporary folder."""
    course = tmp_path / "course"
    course.mkdir()
    for name in ("modules.toml", "nbgrader_config.py"):
        shutil.copy2(ROOT / name, course / name)
    for folder in ("source_solutions", "modules"):
        shutil.copytree(ROOT / folder, course / folder, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    (course / "datasets").symlink_to(ROOT / "datasets", target_is_directory=True)
    return course


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
    notebook = {
        "cells": cells,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
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
