"""`tito release`: source_solutions/ -> modules/ through nbgrader's generate_assignment, driven through
its Python API in one process (each `nbgrader` command spends seconds starting).

The release pipeline is declared here once; nbgrader_config.py reads it, so `nbgrader
generate_assignment` and `tito release` release the same way.
"""

from __future__ import annotations

import contextlib
import filecmp
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tito.course.cells import CODE_STUB
from tito.course.registry import REGISTRY_FILE, RELEASE_DIR, SOURCE_DIR, Module, load_modules
from tito.course.settings import EXPORT_ENV, EXPORT_SKIP
from tito.errors import NbgraderError

CONFIG_FILE = "nbgrader_config.py"
# A stub raises NotImplementedError("Exercise 01.3: Tensor.__matmul__"), filled in per region (course.cells).
NBGRADER_CODE_STUB = {"python": CODE_STUB}
# nbgrader's own generate_assignment pipeline, with the stub step replaced by one that names the exercise.
RELEASE_PIPELINE = [
    "nbgrader.preprocessors.IncludeHeaderFooter",
    "nbgrader.preprocessors.InstantiateTests",
    "nbgrader.preprocessors.LockCells",
    "tito.build.preprocessors.ClearSolutionsNamingExercises",  # instead of nbgrader's ClearSolutions
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.CheckCellMetadata",
    "nbgrader.preprocessors.ComputeChecksums",
    "nbgrader.preprocessors.SaveCells",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbgrader.preprocessors.ClearMarkScheme",
    "nbgrader.preprocessors.ComputeChecksums",
    "nbgrader.preprocessors.CheckCellMetadata",
]


@contextlib.contextmanager
def nbgrader_environment() -> Iterator[None]:
    """What nbgrader and its kernels need, set for the duration of a call.

    - this Python's bin/ on PATH: creating a gradebook runs `alembic` from PATH;
    - TITO_EXPORT=skip: a graded notebook's export cell must not touch anyone's package.
    """
    saved = dict(os.environ)
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), saved.get("PATH", "")])
    os.environ[EXPORT_ENV] = EXPORT_SKIP
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def nbgrader_config(root: Path):
    """The course's own nbgrader_config.py, loaded whatever the working directory."""
    from traitlets.config.loader import PyFileConfigLoader

    if not (root / CONFIG_FILE).is_file():
        raise NbgraderError(f"{root / CONFIG_FILE} is missing: nbgrader needs it to find the course's folders.")
    return PyFileConfigLoader(CONFIG_FILE, path=str(root)).load_config()


DEFAULT_EXCHANGE = Path("/srv/nbgrader/exchange")  # nbgrader's Exchange.root when nothing sets it


def exchange_folder(root: Path) -> tuple[Path, bool]:
    """The nbgrader exchange this machine's configuration names (a Jupyter config folder's
    nbgrader_config.py, as a hub sets it in /etc/jupyter, then the course's), else nbgrader's
    default; and whether one was named."""
    from jupyter_core.paths import jupyter_config_path
    from traitlets.config.loader import PyFileConfigLoader

    named = None
    for folder in [*reversed(jupyter_config_path()), str(root)]:
        if (Path(folder) / CONFIG_FILE).is_file():
            named = PyFileConfigLoader(CONFIG_FILE, path=folder).load_config().Exchange.get("root", named)
    return (Path(str(named)) if named else DEFAULT_EXCHANGE), bool(named)


def nbgrader_api(root: Path, config=None):
    """An NbGraderAPI configured by the course's nbgrader_config.py (or by `config`)."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    config = config if config is not None else nbgrader_config(root)
    return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)


def check_result(result: dict, what: str) -> None:
    """Raise with nbgrader's log when one of its API calls did not succeed."""
    if not result["success"]:
        raise NbgraderError(f"nbgrader could not {what}.\n{result.get('log', '')}{result.get('error', '')}")


def released_modules(root: Path) -> list[Module]:
    """The registry's modules that have a source notebook to release."""
    return [module for module in load_modules(root) if module.notebook(root, SOURCE_DIR).exists()]


def release(root: Path, modules: list[Module] | None = None) -> list[Path]:
    """Regenerate modules/ (or only `modules`) from source_solutions/ with nbgrader's generate_assignment."""
    api = nbgrader_api(root)
    written = []
    with nbgrader_environment():
        for module in released_modules(root) if modules is None else modules:
            check_result(api.generate_assignment(module.slug, force=True, create=True), f"release {module.slug}")
            written.append(module.notebook(root, RELEASE_DIR))
    return written


def scratch_course(root: Path, destination: Path, modules: list[Module] | None = None) -> Path:
    """A course at `destination` holding only the sources (all, or those of `modules`) and the
    configuration, released there: what tito compares a release with, and grades against."""
    destination.mkdir(parents=True, exist_ok=True)
    for name in (CONFIG_FILE, REGISTRY_FILE):
        shutil.copy2(root / name, destination / name)
    skipped = shutil.ignore_patterns(".ipynb_checkpoints")
    if modules is None:
        shutil.copytree(root / SOURCE_DIR, destination / SOURCE_DIR, ignore=skipped)
    for module in modules or []:
        shutil.copytree(root / SOURCE_DIR / module.slug, destination / SOURCE_DIR / module.slug, ignore=skipped)
    release(destination, modules)
    return destination


def release_differences(root: Path) -> list[str]:
    """What `tito release` would change in modules/ (empty when in sync), found by releasing into a scratch course."""
    with tempfile.TemporaryDirectory(prefix="tito-release-") as scratch:
        fresh_course = scratch_course(root, Path(scratch))
        problems = []
        for module in released_modules(root):
            fresh, current = module.notebook(fresh_course, RELEASE_DIR), module.notebook(root, RELEASE_DIR)
            if not current.exists():
                problems.append(f"{current.relative_to(root)} is missing")
            elif not filecmp.cmp(fresh, current, shallow=False):
                source = module.notebook(root, SOURCE_DIR).relative_to(root)
                problems.append(f"{current.relative_to(root)} differs from its release of {source}")
        return problems
