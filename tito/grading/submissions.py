"""Finding a class's submissions: nbgrader's `submitted/<student>/<module>/` layout, or a plain folder
of notebooks named by student (`alice.ipynb`, `alice_01_Tensor.ipynb`, `alice/01_tensor (1).ipynb`),
matched forgivingly; and splitting a class into shards for several machines.

Submissions are untrusted as files too: a symbolic link (to the solutions, say), a FIFO or a device
is refused with its reason, never read; what archive tools and other systems add beside a notebook
(`__MACOSX/`, `._name`, `.DS_Store`, `Thumbs.db`, checkpoints) is ignored; names keep their letters
in any script, so that two students stay two, and two files that name one student are both refused.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import unicodedata
from dataclasses import dataclass, replace
from pathlib import Path

from tito.course.registry import Module

# Files and folders other tools put beside a submission: never a student's work.
ADDED_BY_TOOLS = {"__MACOSX", ".ipynb_checkpoints", "Thumbs.db", "desktop.ini", ".DS_Store", "__pycache__"}
GLOB_CHARACTERS = set("*?[]")  # nbgrader matches student ids as glob patterns


@dataclass(frozen=True)
class Submission:
    student: str
    notebook: Path
    warning: str = ""  # how the file was matched, when its name was not the expected one
    timestamp: str = ""  # when it was submitted, as nbgrader writes it (tito.grading.submitted)
    secret: str = ""  # the submission_secret.txt nbgrader names its feedback file by
    time_from_file: bool = False  # its time is only its file's (which may be when it was downloaded)


def _words(text: str) -> list[str]:
    """The words of a name, lower-cased, in any script: `José Ñúñez` -> ['josé', 'ñúñez']."""
    return [word for word in re.split(r"[\W_]+", unicodedata.normalize("NFC", text).casefold()) if word]


def student_id(name: str) -> str:
    """A student's id from a folder name: itself, less what would break a path, a glob, a terminal or
    a spreadsheet (glob characters, control characters and white space become `_`)."""
    name = unicodedata.normalize("NFC", name)
    kept = "".join(
        "_" if char in GLOB_CHARACTERS or char.isspace() or unicodedata.category(char)[0] == "C" else char
        for char in name
    )
    return re.sub("_+", "_", kept).strip("._").lstrip("=+-@")  # no hidden file, no spreadsheet formula


# Words students and their tools add to a file's name that name no one: `fay_final_v2`, `bob (copy)`.
CARELESS_WORDS = {
    "copy",
    "of",
    "final",
    "draft",
    "submission",
    "submit",
    "submitted",
    "version",
    "notebook",
    "assignment",
    "homework",
    "hw",
    "module",
    "done",
    "finished",
    "complete",
    "completed",
    "new",
    "latest",
    "fixed",
    "updated",
}


def student_from_file_name(stem: str, module: Module) -> str:
    """`alice_01_Tensor` -> `alice`, `fay_final_v2` -> `fay`: the file name less the module's number
    and name, copy marks, versions (`v2`, `hw2`) and the words students add (CARELESS_WORDS)."""
    module_words = set(_words(module.slug)) | set(_words(module.title)) | {str(module.number), f"{module.number:02d}"}
    kept = [
        word
        for word in _words(re.sub(r"\(\d+\)", " ", stem))
        if word not in module_words | CARELESS_WORDS and not re.fullmatch(r"(v|hw|version)\d+", word)
    ]
    return "_".join(kept)


def added_by_tools(path: Path) -> bool:
    """Whether `path` is something an archive tool, an editor or an operating system added."""
    return path.name in ADDED_BY_TOOLS or path.name.startswith((".", "~$"))


def refusal(path: Path, within: Path) -> str:
    """Why `path` (under `within`) cannot be a submission, or '' if it can: it must be a regular
    file, reached without following a symbolic link."""
    current = within
    for part in path.relative_to(within).parts:
        current = current / part
        if current.is_symlink():
            return f"{current.relative_to(within.parent)} is a symbolic link: refused (a submission must be a file of its own)"
    mode = path.lstat().st_mode
    if not stat.S_ISREG(mode) and not (stat.S_ISDIR(mode) and path != within):
        return f"{path.relative_to(within.parent)} is not a regular file: refused"
    return ""


class NotARegularFile(OSError):
    """A path that is a FIFO, a device or a folder where a submission's file should be."""


class TooLarge(OSError):
    """A file over the size a submission's file may have; `size` is what it has (at least)."""

    def __init__(self, size: int) -> None:
        super().__init__(f"{size:,} bytes")
        self.size = size


def read_regular_file(path: Path, largest: int) -> bytes:
    """The bytes of a submission's file, read as a regular file of at most `largest` bytes, never
    through a symbolic link (the file may have been swapped since it was found), never blocking on a
    FIFO or a device. Raises OSError (ELOOP for a link), NotARegularFile or TooLarge."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(descriptor, "rb") as handle:
        status = os.fstat(handle.fileno())
        if not stat.S_ISREG(status.st_mode):
            raise NotARegularFile(f"{path.name} is not a regular file")
        if status.st_size > largest:
            raise TooLarge(status.st_size)
        raw = handle.read(largest + 1)
    if len(raw) > largest:
        raise TooLarge(len(raw))
    return raw


def _is_notebook(path: Path) -> bool:
    return path.suffix == ".ipynb" and not any(added_by_tools(Path(part)) for part in path.parts[-1:])


def _notebooks_in(folder: Path) -> list[Path]:
    """The notebooks under a student's folder, not looking into what tools added or through links."""
    found = []
    for path in sorted(folder.iterdir()):
        if added_by_tools(path) or path.is_symlink():
            continue
        if path.is_dir():
            found += _notebooks_in(path)
        elif _is_notebook(path):
            found.append(path)
    return found


def _pick_notebook(folder: Path, module: Module) -> tuple[Path | None, str]:
    """The submission in a student's folder: `<slug>.ipynb`, else the one notebook there, else the
    one whose name mentions the module."""
    expected = folder / f"{module.slug}.ipynb"
    if expected.exists() or expected.is_symlink():
        problem = refusal(expected, folder)
        return (None, problem) if problem else (expected, "")
    notebooks = _notebooks_in(folder)
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
    problem = refusal(chosen[0], folder)
    if problem:
        return None, problem
    return chosen[0], f"graded {chosen[0].relative_to(folder)} as {module.slug}.ipynb"


def collect(root: Path, module: Module, folder: Path | None = None) -> tuple[list[Submission], list[str]]:
    """Every submission of `module`, one per student, and warnings about what could not be matched.

    Without `folder`: nbgrader's submitted/<student>/<slug>/. With it: a folder of notebooks named
    by student, or of one folder per student.
    """
    found: dict[str, list[tuple[Path, Submission | None, str]]] = {}  # student -> (path, submission, why not)
    base = root / "submitted" if folder is None else folder
    entries = sorted(base.iterdir()) if base.is_dir() else []
    for path in entries:
        if added_by_tools(path):
            continue
        if path.is_symlink():
            found.setdefault(student_id(path.stem) or path.name, []).append((path, None, refusal(path, base)))
            continue
        if path.is_dir():
            student = student_id(path.name)
            student_folder = path / module.slug if folder is None else path
            if folder is None and not student_folder.is_dir():
                continue
            if student_folder.is_symlink():
                found.setdefault(student, []).append((path, None, refusal(student_folder, path)))
                continue
            notebook, warning = _pick_notebook(student_folder, module)
            if student != path.name:
                warning = "; ".join(filter(None, [warning, f"graded as {student!r}"]))
        elif folder is not None and _is_notebook(path):
            student = student_from_file_name(path.stem, module)
            notebook, warning = path, ("" if student == path.stem else f"took {path.name} for student {student!r}")
            problem = refusal(path, base)
            if problem:
                notebook, warning = None, problem
        else:
            continue
        if not student:
            found.setdefault("", []).append((path, None, warning or "no student name in the file name"))
        elif notebook is None:
            found.setdefault(student, []).append((path, None, warning))
        else:
            found.setdefault(student, []).append((path, Submission(student, notebook, warning), ""))
    submissions: list[Submission] = []
    warnings: list[str] = []
    for student, candidates in sorted(found.items()):
        if not student or len(candidates) == 1:
            for path, submission, why_not in candidates:
                if submission is None:
                    warnings.append(f"{path.name}: {why_not}; skipped")
                else:
                    submissions.append(submission)
            continue
        names = " and ".join(path.name for path, _, _ in candidates)
        warnings.append(f"{names} all name the student {student!r}: none is graded; keep one, or rename the others")
    return submissions, warnings


def matched_to_roster(submissions: list[Submission], roster: list[str]) -> tuple[list[Submission], list[str]]:
    """Each submission under an id of the roster: its name when it is one, else the one id its name
    holds (`fay_smith` -> `fay` when only `fay` fits); one that fits none, or several, is not graded,
    and neither are two that land on one id. Returns them and the warnings that say so."""
    ids = set(roster)
    by_id: dict[str, list[Submission]] = {}
    warnings: list[str] = []
    for submission in submissions:
        name = submission.student
        fits = [name] if name in ids else sorted(i for i in ids if i in name.split("_") or name.startswith(f"{i}_"))
        if len(fits) != 1:
            which = f"fits {', '.join(fits)}" if fits else "names no student of the roster"
            warnings.append(f"{submission.notebook.name} (as {name!r}) {which}: not graded; rename it to <id>.ipynb")
            continue
        if fits[0] != name:
            note = f"took {submission.notebook.name} for the roster's {fits[0]!r}"
            submission = replace(
                submission, student=fits[0], warning="; ".join(filter(None, [submission.warning, note]))
            )
        by_id.setdefault(fits[0], []).append(submission)
    kept = []
    for student, found in sorted(by_id.items()):
        if len(found) > 1:
            names = " and ".join(s.notebook.name for s in found)
            warnings.append(f"{names} all name the student {student!r}: none is graded; keep one, or rename the others")
        else:
            kept.extend(found)
    missing = sorted(ids - set(by_id))
    if missing:
        warnings.append(f"no submission here from {', '.join(missing)} (in the roster)")
    return kept, warnings


def in_shard(student: str, shard: tuple[int, int] | None) -> bool:
    """Whether `student` belongs to shard K of N (1-based): a split by hash, the same on every machine."""
    if shard is None:
        return True
    index, count = shard
    return int(hashlib.sha256(student.encode()).hexdigest(), 16) % count == index - 1
