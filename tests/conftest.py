"""Shared fixtures: the real course folder, and scratch copies of it to change freely."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from helpers import ROOT, exported_reference

from tito.course.registry import SOURCE_DIR, Module
from tito.student.testing import run_notebook


@pytest.fixture
def root() -> Path:
    return ROOT


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
