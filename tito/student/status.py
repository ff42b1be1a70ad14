"""`tito status`: every module at a glance (exercises attempted, tests passing at the last `tito
test`, exported), and the record `tito test` keeps of its last run for it."""

from __future__ import annotations

import json
from pathlib import Path

from tito.build.export import Freshness, module_freshness
from tito.course.cells import read_notebook
from tito.course.registry import RELEASE_DIR, Module, load_modules
from tito.course.verdict import ExerciseResult, Status
from tito.errors import NotebookError
from tito.student.testing import exercises_attempted

RESULTS_DIR = Path(".tito") / "results"


def save_results(root: Path, slug: str, notebook: Path, results: list[ExerciseResult]) -> None:
    """What `tito test` found, for `tito status`, with the notebook's time to tell when it changed since."""
    folder = root / RESULTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    passed = sum(result.status is Status.PASSED for result in results)
    record = {"notebook_mtime": notebook.stat().st_mtime, "passed": passed, "total": len(results)}
    (folder / f"{slug}.json").write_text(json.dumps(record))


def status_lines(root: Path) -> list[str]:
    """The table `tito status` prints."""
    lines = [f"{'module':<18} {'attempted':<11} {'passing':<22} exported"]
    for module in load_modules(root):
        lines.append(f"{module.slug:<18} " + " ".join(_status_row(root, module)))
    return lines


def _status_row(root: Path, module: Module) -> list[str]:
    """A module's columns in `tito status`: exercises attempted, tests passing, exported."""
    notebook = module.notebook(root, RELEASE_DIR)
    if not notebook.exists():
        return [f"{'-':<11}", f"{'-':<22}", "not released yet"]
    try:
        saved = read_notebook(notebook)
    except NotebookError as error:
        return [f"{'?':<11}", f"{'?':<22}", f"cannot read the notebook: {error}"]
    done, exercises = exercises_attempted(saved)
    return [f"{f'{done}/{exercises}':<11}", f"{_passing(root, module, notebook):<22}", _exported(root, module, saved)]


def _passing(root: Path, module: Module, notebook: Path) -> str:
    """What the last `tito test` found, and whether the notebook changed since."""
    record_path = root / RESULTS_DIR / f"{module.slug}.json"
    if not record_path.exists():
        return f"run `tito test {module.number:02d}`"
    record = json.loads(record_path.read_text())
    fresh = record["notebook_mtime"] == notebook.stat().st_mtime
    return f"{record['passed']}/{record['total']}" + ("" if fresh else " (edited since)")


def _exported(root: Path, module: Module, saved: dict) -> str:
    try:
        state = module_freshness(root, module, saved)
    except NotebookError as error:
        return f"cannot export: {error}"
    said = {Freshness.IN_DATE: "yes", Freshness.MISSING: "no", Freshness.OUT_OF_DATE: "out of date: run `tito export`"}
    return said[state]
