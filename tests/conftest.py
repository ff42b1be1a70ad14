"""Shared fixtures: the real course folder, the reference, and scratch copies of the course to change freely."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import ROOT, copy_course, exported_reference, make_course

from tito.build.release import release
from tito.course.registry import SOURCE_DIR, Module
from tito.grading.sandbox import bubblewrap
from tito.student.testing import run_notebook

# One BLAS thread in the suite and every kernel and process it starts: two workers each running kernels with a
# thread per core would oversubscribe the cores (OpenBLAS's threads spin while they wait).
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")


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


@pytest.fixture(scope="session")
def released_course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The course released once through nbgrader in a scratch folder (source_solutions/, modules/ and
    the gradebook), shared by the tests that release, grade, exchange or browse: copy it
    (`copy_course`) before changing it."""
    course = make_course(tmp_path_factory.mktemp("released") / "course", folders=(SOURCE_DIR,))
    release(course)
    return course


@pytest.fixture
def scratch_course(released_course: Path, tmp_path: Path) -> Path:
    """A private copy of the released course (no package yet) to change freely."""
    return copy_course(released_course, tmp_path / "course")


# Fixtures that start kernels or release a course: a test that uses one is in the slow tier.
SLOW_FIXTURES = {"executed_solution", "released_course", "scratch_course", "reference_path"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    no_sandbox = pytest.mark.skip(reason="bubblewrap is not installed (.ci/run installs it)")
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
        if item.get_closest_marker("sandbox") and bubblewrap() is None:
            item.add_marker(no_sandbox)


# tests/reference imports the reference `tinytorch`: it runs in an interpreter of its own (test_reference.py).
collect_ignore = ["reference"]
