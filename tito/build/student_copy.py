"""The students' copy of the course: what a class receives, and nothing an instructor keeps.

`tito release --student-copy FOLDER` writes it after a release: the released notebooks, the
starting package, the tools (less the grader, tito/grading/), the datasets, the milestones and docs/from-pytorch/, and
a README and nbgrader_config.py whose instructors-only parts are left out. Before it is handed over it is searched for every line of every solution
and hidden-test region of the source notebooks: a copy that holds one is deleted, not written.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from tito.course.cells import SECRET_KINDS, cell_source, read_notebook
from tito.course.registry import RELEASE_DIR, SOURCE_DIR
from tito.errors import StudentCopyError

# What a student's copy holds, relative to the course folder.
STUDENT_FILES = ("README.md", "pyproject.toml", "environment.yml", "modules.toml", "nbgrader_config.py", ".gitignore")
STUDENT_FOLDERS = (RELEASE_DIR, "tinytorch", "tito", "datasets", "milestones", "docs/from-pytorch")
GRADER = Path("tito") / "grading"  # the instructor's grader: not in a students' copy
SKIPPED = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints", "*.egg-info", "*.pyc")
TEXT_SUFFIXES = {".py", ".md", ".ipynb", ".toml", ".yml", ".yaml", ".txt", ".json", ".cfg", ""}

# The parts of README.md and nbgrader_config.py between these markers are for instructors only.
INSTRUCTORS_ONLY = {
    ".md": re.compile(r"\n?<!-- instructors only -->.*?<!-- end instructors only -->\n?", re.S),
    ".py": re.compile(r"\n?# instructors only\n.*?# end instructors only\n?", re.S),
}
SECRET_REGIONS = re.compile(r"### BEGIN (" + "|".join(SECRET_KINDS) + r")\n(.*?)### END \1", re.S)
MARKERS = tuple(f"### {edge} {kind}" for kind in SECRET_KINDS for edge in ("BEGIN", "END"))


def is_student_copy(root: Path) -> bool:
    """A course folder without source_solutions/ is a student's copy."""
    return not (root / SOURCE_DIR).is_dir()


def students_version(path: Path) -> str:
    """A file of the course (README.md, nbgrader_config.py) without its instructors-only parts."""
    return INSTRUCTORS_ONLY[path.suffix].sub("\n", path.read_text(encoding="utf-8"))


def secret_lines(root: Path) -> set[str]:
    """Every line (of more than 12 characters) of the source notebooks' solution and hidden-test
    regions that does not also appear in their public text: what must never reach a student."""
    texts = [
        cell_source(cell)
        for path in sorted((root / SOURCE_DIR).rglob("*.ipynb"))
        for cell in read_notebook(path)["cells"]
    ]
    public = "\n".join(SECRET_REGIONS.sub("", text) for text in texts)
    return {
        line.strip()
        for text in texts
        for _kind, region in SECRET_REGIONS.findall(text)
        for line in region.splitlines()
        if len(line.strip()) > 12 and line.strip() not in public
    }


def leaks(folder: Path, secrets: set[str]) -> list[str]:
    """Where a text file under `folder` holds a secret line or a solution marker: ["path: line"]."""
    found = []
    for path in sorted(
        p for p in folder.rglob("*") if p.is_file() and p.suffix in TEXT_SUFFIXES and ".git" not in p.parts
    ):
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        relative = path.relative_to(folder).as_posix()
        found += [f"{relative}: {line}" for line in sorted(secrets) if line in text]
        if path.suffix == ".ipynb" or relative.startswith(("tinytorch/", RELEASE_DIR + "/")):
            found += [f"{relative}: {marker}" for marker in MARKERS if marker in text]
    return found


def make_student_copy(root: Path, destination: Path, git: bool = False) -> Path:
    """Write the students' copy of the course at `root` into `destination` (new or empty, outside
    the course); with `git`, make it a repository with one commit. Returns the folder."""
    destination = destination.resolve()
    if destination == root or root in destination.parents:
        raise StudentCopyError(f"{destination} is inside the course folder; write the student copy somewhere else.")
    if destination.exists() and any(destination.iterdir()):
        raise StudentCopyError(
            f"{destination} already exists and is not empty; choose a new folder (nothing was written)."
        )
    secrets = secret_lines(root)
    destination.mkdir(parents=True, exist_ok=True)
    try:
        for name in STUDENT_FILES:
            if (root / name).exists():
                shutil.copy2(root / name, destination / name)
        for name in ("README.md", "nbgrader_config.py"):
            (destination / name).write_text(students_version(root / name), encoding="utf-8")
        for name in STUDENT_FOLDERS:
            if (root / name).is_dir():
                shutil.copytree(root / name, destination / name, ignore=_skipped_in(root))
        found = leaks(destination, secrets)
        if found:
            raise StudentCopyError(
                "the student copy would hold solution or hidden-test text, so it was not written:\n  "
                + "\n  ".join(found[:20])
            )
        if git:
            _commit_all(destination)
    except BaseException:
        shutil.rmtree(destination, ignore_errors=True)
        raise
    return destination


def _skipped_in(root: Path):
    """What copytree leaves out of a students' copy: caches, and the grader."""

    def skipped(folder: str, names: list[str]) -> set[str]:
        grader = {GRADER.name} if Path(folder) == root / GRADER.parent else set()
        return set(SKIPPED(folder, names)) | grader

    return skipped


def _commit_all(folder: Path) -> None:
    def git(*args: str) -> None:
        run = subprocess.run(
            ["git", "-c", "user.name=tito", "-c", "user.email=tito@localhost", *args],
            cwd=folder,
            capture_output=True,
            text=True,
        )
        if run.returncode != 0:
            raise StudentCopyError(f"git {args[0]} failed in {folder}: {run.stderr.strip()}")

    git("init", "--quiet", "--initial-branch=main")
    git("add", "--all")
    git("commit", "--quiet", "--message", "The TinyTorch course, students' copy")
