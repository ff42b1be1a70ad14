"""`tito milestone 03 [--reference]`: run a milestone's notebooks headless, top to bottom, as
"Restart & Run All" would, keep the executed notebooks with their plots, and report each one's
figures against its targets.

Which `tinytorch`: the student's own export when it is complete; when a piece is still missing,
the course's reference solution if this course has one (the instructor's), saying so; in a
students' copy, which has no reference, the exercise to finish first.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

from tito.build.export import export, package_root
from tito.course.cells import first_error
from tito.course.registry import SOURCE_DIR
from tito.errors import NotInStudentCopy, RegistryError
from tito.student.testing import run_notebook

MILESTONES_DIR = "milestones"
EXECUTED_DIR = "executed"  # inside the milestone's folder: the notebooks as run, with outputs (not committed)
TRAINED_DIR = "trained"  # inside the milestone's folder: each notebook's figures (<notebook>.json) and weights
MILESTONE_CELL_SECONDS = 600  # a training cell runs for minutes on a slow machine


@dataclass
class MilestoneRun:
    notebook: Path
    executed: Path
    seconds: float
    figures: dict | None  # what the notebook's verdict saved; None when it did not get that far
    error: str | None  # the first cell error, if any


def milestone_folder(root: Path, number: str) -> Path:
    found = sorted((root / MILESTONES_DIR).glob(f"{int(number):02d}_*/")) if number.isdigit() else []
    if not found:
        available = sorted(path.name for path in (root / MILESTONES_DIR).glob("[0-9][0-9]_*/"))
        raise RegistryError(
            f"no milestone {number!r} in {root / MILESTONES_DIR}; there are: {', '.join(available) or 'none'}"
        )
    return found[0]


def milestone_notebooks(folder: Path) -> list[Path]:
    return sorted(path for path in folder.glob("[0-9][0-9]_*.ipynb"))


def library_problem(folder: Path, env: dict[str, str]) -> str | None:
    """None when the tinytorch that `env` gives passes the milestone's own check, else what to finish."""
    code = "import mlp_milestone\ntry:\n    mlp_milestone.check_library()\nexcept mlp_milestone.LibraryIncomplete as error:\n    print(error)\n"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1", **env},
    )
    message = result.stdout.strip() or result.stderr.strip()[-1000:]
    return message or None


def choose_library(root: Path, folder: Path, reference: bool, say) -> dict[str, str] | None:
    """The environment that gives the kernels the right tinytorch, or None when there is nothing to run on yet."""
    has_reference = (root / SOURCE_DIR).is_dir()
    if reference and not has_reference:
        raise NotInStudentCopy("`--reference` needs them. `tito milestone` without it runs on your own tinytorch.")
    if not reference:
        problem = library_problem(folder, {})
        if problem is None:
            say("Running on your own tinytorch (tinytorch/).")
            return {}
        if not has_reference:
            say(
                f"Your tinytorch is not complete yet: {problem}\nThe milestones train networks with your own library, so they run once modules 01-08 are complete: "
                "`tito test NN` shows what is left."
            )
            return None
        say(
            f"Your tinytorch is not complete yet: {problem}\nRunning on the course's reference solution instead, for now."
        )
    export(root, SOURCE_DIR)
    say(f"Running on the course's reference solution ({package_root(root, SOURCE_DIR)}).")
    return {"PYTHONPATH": str(package_root(root, SOURCE_DIR))}


def run_one(notebook: Path, env: dict[str, str]) -> MilestoneRun:
    result_file = notebook.parent / TRAINED_DIR / f"{notebook.stem}.json"
    result_file.unlink(missing_ok=True)
    start = time.perf_counter()
    executed = run_notebook(notebook, env={"OPENBLAS_NUM_THREADS": "1", **env}, timeout=MILESTONE_CELL_SECONDS)
    seconds = time.perf_counter() - start
    target = notebook.parent / EXECUTED_DIR / notebook.name
    target.parent.mkdir(exist_ok=True)
    nbformat.write(nbformat.from_dict(executed), str(target))
    errors = [found for cell in executed["cells"] if (found := first_error(cell))]
    error = f"{errors[0]['ename']}: {errors[0]['evalue']}" if errors else None
    figures = json.loads(result_file.read_text()) if result_file.exists() else None
    return MilestoneRun(notebook, target, seconds, figures, error)


def run_milestone(root: Path, number: str, reference: bool, say=print) -> int:
    """0 when every notebook ran and met its targets (or there is nothing to run on yet), else 1."""
    folder = milestone_folder(root, number)
    env = choose_library(root, folder, reference, say)
    if env is None:
        return 0
    all_met = True
    for notebook in milestone_notebooks(folder):
        say(f"\n{notebook.relative_to(root)} ...")
        run = run_one(notebook, env)
        if run.figures is None:
            all_met = False
            say(f"  ✗ it stopped before its verdict: {run.error or 'no results were saved'}")
        else:
            shown = ", ".join(f"{key} {value:.4g}" for key, value in run.figures.items() if isinstance(value, float))
            all_met &= run.figures["targets_met"]
            say(f"  {'✓ every target met' if run.figures['targets_met'] else '✗ targets missed'}: {shown}")
        say(f"  notebook run in {run.seconds:.1f} s; executed copy with its plots: {run.executed.relative_to(root)}")
    return 0 if all_met else 1
