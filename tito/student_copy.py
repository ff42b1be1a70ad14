"""The students' copy of the course: what a class receives, and nothing an instructor keeps.

`tito release --student-copy FOLDER` writes it after a release: the released notebooks, the
starting package, the tools, the datasets and the milestones, and a README whose instructor
sections are left out. Before it is handed over it is searched for every line of every solution
and hidden-test region of the source notebooks: a copy that holds one is deleted, not written.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from tito.cells import cell_source
from tito.export import read_notebook
from tito.registry import RELEASE_DIR, SOURCE_DIR, RegistryError

# What a student's copy holds, relative to the course folder.
STUDENT_FILES = ("README.md", "pyproject.toml", "environment.yml", "modules.toml", "nbgrader_config.py", ".gitignore")
STUDENT_FOLDERS = (RELEASE_DIR, "tinytorch", "tito", "datasets", "milestones")
SKIPPED = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints", "*.egg-info", "*.pyc")
TEXT_SUFFIXES = {".py", ".md", ".ipynb", ".toml", ".yml", ".yaml", ".txt", ".json", ".cfg", ""}

# README.md parts between these markers are for instructors and developers only.
INSTRUCTORS_ONLY = re.compile(r"\n?<!-- instructors only -->.*?<!-- end instructors only -->\n?", re.S)
SECRET_REGIONS = re.compile(r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1", re.S)
MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION", "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")

NOT_IN_STUDENT_COPY = f"the instructor's solutions ({SOURCE_DIR}/) are not part of this copy of the course"


class StudentCopyError(RegistryError):
    """The student copy cannot be written, or would leak what only instructors may see."""


def is_student_copy(root: Path) -> bool:
    """A course folder without source_solutions/ is a student's copy."""
    return not (root / SOURCE_DIR).is_dir()


def student_readme(readme: str) -> str:
    """The course README without its instructors-only sections."""
    return INSTRUCTORS_ONLY.sub("\n", readme)


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
        (destination / "README.md").write_text(
            student_readme((root / "README.md").read_text(encoding="utf-8")), encoding="utf-8"
        )
        for name in STUDENT_FOLDERS:
            if (root / name).is_dir():
                shutil.copytree(root / name, destination / name, ignore=SKIPPED)
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
