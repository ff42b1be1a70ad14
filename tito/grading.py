"""nbgrader, driven through its Python API in one process (each `nbgrader` CLI call spends seconds starting)."""

from __future__ import annotations

import contextlib
import filecmp
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Iterator

from tito.registry import REGISTRY_FILE, RELEASE_DIR, SOURCE_DIR, Module, load_modules

CONFIG_FILE = "nbgrader_config.py"


class GradingError(Exception):
    """nbgrader failed; the message carries its log."""


@contextlib.contextmanager
def grading_environment() -> Iterator[None]:
    """What nbgrader and its kernels need, set for the duration of a call.

    - this Python's bin/ on PATH: creating a gradebook runs `alembic` from PATH;
    - TITO_EXPORT=skip: a graded notebook's export cell must not touch anyone's package.

    (Autograding kernels get the reference of the earlier modules from nbgrader_config.py's
    ExecuteWithEarlierModules, so the stock `nbgrader autograde` grades the same way.)
    """
    saved = dict(os.environ)
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), saved.get("PATH", "")])
    os.environ["TITO_EXPORT"] = "skip"
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def nbgrader_config(root: Path):
    """The course's own nbgrader_config.py, loaded whatever the working directory."""
    from traitlets.config.loader import PyFileConfigLoader

    if not (root / CONFIG_FILE).is_file():
        raise GradingError(f"{root / CONFIG_FILE} is missing: nbgrader needs it to find the course's folders.")
    return PyFileConfigLoader(CONFIG_FILE, path=str(root)).load_config()


def nbgrader_api(root: Path):
    """An NbGraderAPI configured by the course's nbgrader_config.py."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    config = nbgrader_config(root)
    return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)


def _check(result: dict, what: str) -> None:
    if not result["success"]:
        raise GradingError(f"nbgrader could not {what}.\n{result.get('log', '')}{result.get('error', '')}")


def released_modules(root: Path) -> list[Module]:
    """The registry's modules that have a source notebook to release."""
    return [module for module in load_modules(root) if module.notebook(root, SOURCE_DIR).exists()]


def release(root: Path) -> list[Path]:
    """Regenerate modules/ from source_solutions/ with nbgrader's generate_assignment."""
    api = nbgrader_api(root)
    written = []
    with grading_environment():
        for module in released_modules(root):
            _check(api.generate_assignment(module.slug, force=True, create=True), f"release {module.slug}")
            written.append(module.notebook(root, RELEASE_DIR))
    return written


def release_differences(root: Path) -> list[str]:
    """What `tito release` would change in modules/ (empty when in sync), found by releasing into a scratch course."""
    with tempfile.TemporaryDirectory(prefix="tito-release-") as scratch:
        scratch_root = Path(scratch)
        for name in (CONFIG_FILE, REGISTRY_FILE):
            shutil.copy2(root / name, scratch_root / name)
        shutil.copytree(
            root / SOURCE_DIR, scratch_root / SOURCE_DIR, ignore=shutil.ignore_patterns(".ipynb_checkpoints")
        )
        release(scratch_root)
        problems = []
        for module in released_modules(root):
            fresh, current = module.notebook(scratch_root, RELEASE_DIR), module.notebook(root, RELEASE_DIR)
            if not current.exists():
                problems.append(f"{current.relative_to(root)} is missing")
            elif not filecmp.cmp(fresh, current, shallow=False):
                problems.append(
                    f"{current.relative_to(root)} differs from its release of {module.notebook(root, SOURCE_DIR).relative_to(root)}"
                )
        return problems


def autograde(root: Path, slug: str, student: str) -> dict[str, tuple[float, float]]:
    """Autograde one submission (submitted/<student>/<slug>/); returns {grade_id: (score, max_score)}."""
    from nbgrader.api import Gradebook

    api = nbgrader_api(root)
    with grading_environment():
        _check(api.autograde(slug, student, force=True, create=True), f"autograde {slug} for {student}")
    with Gradebook(api.coursedir.db_url) as gradebook:
        submission = gradebook.find_submission_notebook(slug, slug, student)
        return {grade.name: (grade.score, grade.max_score) for grade in submission.grades}


def validate(root: Path, notebook: Path) -> dict:
    """nbgrader's own check of a notebook, as its Validate button runs it: {} when every test passes,
    else {"failed": [...]} (or {"changed": [...]} when locked cells were edited)."""
    from nbgrader.validator import Validator

    with grading_environment():
        return Validator(config=nbgrader_config(root)).validate(str(notebook))
