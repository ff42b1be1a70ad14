"""Students' submissions before grading: finding them, putting back what the release fixed, and
flagging code a human should read.

Finding: nbgrader's `submitted/<student>/<module>/` layout, or a plain folder of notebooks named
by student (`alice.ipynb`, `alice_01_Tensor.ipynb`, `alice/01_tensor (1).ipynb`), matched forgivingly.

Restoring: every cell the release made (matched by nbgrader's grade_id, else by the cell's id) gets
its released metadata and tags back; locked cells get their source back (hidden tests included,
from the gradebook); a deleted exercise comes back as its stub (scoring 0), a deleted test as the
test. Cells the student added stay, as plain cells.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from tito.cells import cell_source, describe_cell, nbgrader_meta
from tito.registry import Module


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


def restore_release(notebook: dict, release: dict, locked_sources: dict[str, str]) -> list[str]:
    """Put back, in place, what the release fixed; returns one note per change a human may want to know of."""
    released = release["cells"]
    by_grade_id = {nbgrader_meta(cell)["grade_id"]: cell for cell in released if nbgrader_meta(cell).get("grade_id")}
    by_cell_id = {cell.get("id"): cell for cell in released if cell.get("id")}
    notes: list[str] = []
    retagged: list[str] = []
    matched: dict[int, dict] = {}  # position in `released` -> the student's cell
    kept: list[tuple[int | None, dict]] = []
    for cell in notebook["cells"]:
        grade_id = nbgrader_meta(cell).get("grade_id")
        origin = by_grade_id.get(grade_id) if grade_id else None
        if origin is None and cell.get("id") in by_cell_id and not grade_id:
            origin = by_cell_id[cell["id"]]
        position = next((index for index, candidate in enumerate(released) if candidate is origin), None)
        if position is not None and position in matched:
            position = None  # a copy of a cell already seen: keep it as a plain cell
        if position is None:
            plain = copy.deepcopy(cell)
            plain.get("metadata", {}).pop("nbgrader", None)
            kept.append((None, plain))
            continue
        matched[position] = cell
        kept.append((position, _restored(cell, origin, locked_sources, notes, retagged)))
    for position, origin in enumerate(released):
        if position in matched or not nbgrader_meta(origin).get("grade_id"):
            continue
        grade_id = nbgrader_meta(origin)["grade_id"]
        cell = copy.deepcopy(origin)
        if grade_id in locked_sources:
            cell["source"] = locked_sources[grade_id]
        notes.append(
            f"{grade_id} was missing: restored as released"
            + (" (scores 0)" if nbgrader_meta(origin).get("solution") else "")
        )
        after = max(
            (index for index, (placed, _) in enumerate(kept) if placed is not None and placed < position), default=-1
        )
        kept.insert(after + 1, (position, cell))
    notebook["cells"] = [cell for _, cell in kept]
    if retagged:
        notes.append(f"tags restored as released on {len(retagged)} cells: {', '.join(retagged)}")
    return notes


def _restored(cell: dict, origin: dict, locked_sources: dict[str, str], notes: list[str], retagged: list[str]) -> dict:
    name = nbgrader_meta(origin).get("grade_id") or origin.get("id")
    restored = copy.deepcopy(cell)
    if restored.get("metadata") != origin.get("metadata"):
        if restored.get("metadata", {}).get("tags") != origin.get("metadata", {}).get("tags"):
            retagged.append(f"{name} (had {restored.get('metadata', {}).get('tags')})")
        restored["metadata"] = copy.deepcopy(origin["metadata"])
    if origin.get("id"):
        restored["id"] = origin["id"]
    if restored.get("cell_type") != origin.get("cell_type"):
        restored = {**copy.deepcopy(origin), "id": origin.get("id")}
    if nbgrader_meta(origin).get("locked"):
        if cell_source(cell) != cell_source(origin):
            notes.append(f"{name} was edited: restored")
        restored["source"] = locked_sources.get(name, cell_source(origin))
    return {key: value for key, value in restored.items() if key != "id" or value}


@dataclass
class Flag:
    cell: str
    reason: str


# What honest work in this course never needs; each is worth a human's look.
SUSPICIOUS_NAMES = {
    "get_ipython": "uses get_ipython (the kernel itself)",
    "input_transformers_cleanup": "changes IPython's input transformers",
    "input_transformers_post": "changes IPython's input transformers",
    "builtins": "touches builtins",
    "__builtins__": "touches builtins",
    "__import__": "imports by name",
    "exec": "runs code from a string",
    "eval": "runs code from a string",
    "compile": "compiles code from a string",
    "subprocess": "starts processes",
    "ctypes": "uses ctypes",
    "signal": "handles signals",
    "__file__": "looks for files by its own path",
    "gradebook": "mentions the gradebook",
}
SUSPICIOUS_ATTRIBUTES = {
    "modules": "touches sys.modules",
    "system": "runs a shell command",
    "popen": "runs a shell command",
    "fork": "forks",
    "listdir": "lists folders",
    "walk": "lists folders",
    "glob": "lists folders",
    "rglob": "lists folders",
    "parent": "walks up the file system",
    "parents": "walks up the file system",
    "_exit": "ends the kernel",
}
SUSPICIOUS_TEXT = re.compile(
    r"source_solutions|submitted|autograded|gradebook|\.\./|(?<![\w.])/(?:work|root|home|tmp|etc)\b|tito\.checks|\bsys\.modules\b"
)


def flag_cells(notebook: dict, release: dict, test_names: set[str]) -> list[Flag]:
    """The cells a student wrote or changed (exercises and their own) that touch what honest work never
    needs: the kernel, input transformers, tito, builtins, sys.modules, the tests' names, files outside."""
    flags = []
    cells = notebook["cells"]
    as_released = {cell_source(cell) for cell in release["cells"]}
    for index, cell in enumerate(cells):
        meta = nbgrader_meta(cell)
        if cell.get("cell_type") != "code" or meta.get("locked") or cell_source(cell) in as_released:
            continue
        reasons = _suspicious(cell_source(cell), test_names)
        if reasons:
            flags.append(Flag(describe_cell(cells, index), "; ".join(reasons)))
    return flags


def _suspicious(source: str, test_names: set[str]) -> list[str]:
    reasons: list[str] = []

    def add(reason: str) -> None:
        if reason not in reasons:
            reasons.append(reason)

    for found in SUSPICIOUS_TEXT.findall(source):
        add(f"mentions {found!r}")
    try:
        tree = ast.parse("\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))))
    except SyntaxError:
        tree = None
    if tree is None:
        names = set(re.findall(r"[A-Za-z_]\w*", source))
        attributes = set(re.findall(r"\.([A-Za-z_]\w*)", source))
    else:
        names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
        names |= {
            alias.name.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, (ast.Import, ast.ImportFrom))
            for alias in node.names
        }
        names |= {
            node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
        }
        attributes = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
        names |= {
            node.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.isidentifier()
        }
    for name in sorted(names):
        if name in SUSPICIOUS_NAMES:
            add(SUSPICIOUS_NAMES[name])
        if name == "tito":
            add("imports tito")
        if name in test_names:
            add(f"names the test {name!r}")
    for attribute in sorted(attributes):
        if attribute in SUSPICIOUS_ATTRIBUTES:
            add(SUSPICIOUS_ATTRIBUTES[attribute])
        if attribute in SUSPICIOUS_NAMES and attribute not in ("compile", "exec", "eval"):
            add(SUSPICIOUS_NAMES[attribute])
    return reasons
