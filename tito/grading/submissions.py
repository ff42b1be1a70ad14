"""Finding a class's submissions: nbgrader's `submitted/<student>/<module>/` layout, or a plain folder
of notebooks named by student (`alice.ipynb`, `alice_01_Tensor.ipynb`, `alice/01_tensor (1).ipynb`),
matched forgivingly; and splitting a class into shards for several machines."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from tito.course.registry import Module


@dataclass(frozen=True)
class Submission:
    student: str
    notebook: Path
    warning: str = ""  # how the file was matched, when its name was not the expected one


def _words(text: str) -> list[str]:
    return [word for word in re.split(r"[^a-z0-9]+", text.lower()) if word]


def student_from_file_name(stem: str, module: Module) -> str:
    """`alice_01_Tensor` -> `alice`: the file name less the module's number and name, and copy marks."""
    module_words = (
        set(_words(module.slug))
        | set(_words(module.title))
        | {str(module.number), f"{module.number:02d}", "copy", "of"}
    )
    kept = [word for word in _words(re.sub(r"\(\d+\)", " ", stem)) if word not in module_words]
    return "_".join(kept)


def _is_notebook(path: Path) -> bool:
    return path.suffix == ".ipynb" and ".ipynb_checkpoints" not in path.parts


def _pick_notebook(folder: Path, module: Module) -> tuple[Path | None, str]:
    """The submission in a student's folder: `<slug>.ipynb`, else the one notebook there, else the
    one whose name mentions the module."""
    expected = folder / f"{module.slug}.ipynb"
    if expected.is_file():
        return expected, ""
    notebooks = sorted(path for path in folder.rglob("*.ipynb") if _is_notebook(path))
    named = [
        path
        for path in notebooks
        if student_from_file_name(path.stem, module) == "" or set(_words(module.slug)) <= set(_words(path.stem))
    ]
    chosen = notebooks if len(notebooks) == 1 else named[:1]
    if not chosen:
        return None, f"no notebook for {module.slug} in {folder}" + (
            f" (found {', '.join(p.name for p in notebooks)})" if notebooks else ""
        )
    return chosen[0], f"graded {chosen[0].relative_to(folder)} as {module.slug}.ipynb"


def collect(root: Path, module: Module, folder: Path | None = None) -> tuple[list[Submission], list[str]]:
    """Every submission of `module`, one per student, and warnings about what could not be matched.

    Without `folder`: nbgrader's submitted/<student>/<slug>/. With it: a folder of notebooks named
    by student, or of one folder per student.
    """
    submissions: dict[str, Submission] = {}
    warnings: list[str] = []
    if folder is None:
        base = root / "submitted"
        entries = (
            [(path.name, path / module.slug) for path in sorted(base.iterdir()) if path.is_dir()]
            if base.is_dir()
            else []
        )
        for student, student_folder in entries:
            if not student_folder.is_dir():
                continue
            notebook, warning = _pick_notebook(student_folder, module)
            if notebook is None:
                warnings.append(f"{student}: {warning}")
            else:
                submissions[student] = Submission(student, notebook, warning)
        return list(submissions.values()), warnings
    for path in sorted(folder.iterdir()):
        if path.is_dir():
            notebook, warning = _pick_notebook(path, module)
            student = path.name
        elif _is_notebook(path):
            student = student_from_file_name(path.stem, module)
            notebook, warning = path, ("" if student == path.stem else f"took {path.name} for student {student!r}")
        else:
            continue
        if notebook is None or not student:
            warnings.append(f"{path.name}: {warning or 'no student name in the file name'}; skipped")
        elif student in submissions:
            warnings.append(
                f"{path.name}: a second notebook for {student!r} ({submissions[student].notebook.name} is graded); skipped"
            )
        else:
            submissions[student] = Submission(student, notebook, warning)
    return list(submissions.values()), warnings


def in_shard(student: str, shard: tuple[int, int] | None) -> bool:
    """Whether `student` belongs to shard K of N (1-based): a split by hash, the same on every machine."""
    if shard is None:
        return True
    index, count = shard
    return int(hashlib.sha256(student.encode()).hexdigest(), 16) % count == index - 1
