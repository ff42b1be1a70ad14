"""Milestone 03 trains its networks to their targets on the reference export, as notebooks run
headless by `tito milestone 03 --reference` and as terminal scripts; each notebook is in sync with
its paired jupytext script; an incomplete library is named by its first unfinished exercise."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import jupytext
import nbformat
import numpy as np
import pytest
from helpers import ROOT, answered, make_course, reference_answers

from tito.build.export import export
from tito.course.cells import read_notebook
from tito.course.registry import find_module, load_modules
from tito.student.milestones import EXECUTED_DIR, TRAINED_DIR, library_problem, milestone_notebooks, run_milestone

FOLDER = ROOT / "milestones" / "03_1986_mlp"
SHORT = {
    "01_rumelhart_tinydigits": "01_tinydigits",
    "02_rumelhart_mnist": "02_mnist",
}  # the figures' and weights' file names
TARGETS = {
    "01_rumelhart_tinydigits": {"test_accuracy": (">=", 0.96), "final_training_loss": ("<", 0.2)},
    "02_rumelhart_mnist": {"test_accuracy": (">=", 0.975), "test_loss": ("<", 0.1), "peak_memory_mb": ("<", 1024)},
}


# The notebooks' time targets, which this test reads but does not assert: speed is measured, not
# asserted in tests, and a loaded machine (the suite's other worker) may take longer.
SECONDS = {"01_rumelhart_tinydigits": 2.0, "02_rumelhart_mnist": 15.0}


def meets(value: float, relation: str, bound: float) -> bool:
    return value >= bound if relation == ">=" else value < bound


def test_each_notebook_is_in_sync_with_its_jupytext_script() -> None:
    notebooks = milestone_notebooks(FOLDER)
    assert [path.stem for path in notebooks] == list(TARGETS)
    for notebook in notebooks:
        script = jupytext.read(notebook.with_suffix(".py"))
        saved = nbformat.read(str(notebook), as_version=4)
        pairs = list(
            zip(
                [(c.cell_type, c.source) for c in script.cells],
                [(c.cell_type, c.source) for c in saved.cells],
                strict=False,
            )
        )
        assert len(script.cells) == len(saved.cells) and all(a == b for a, b in pairs), (
            f"{notebook.name} differs from {notebook.with_suffix('.py').name}: run `jupytext --sync {notebook.with_suffix('.py').name}`"
        )
        assert all(not cell.get("outputs") for cell in saved.cells if cell.cell_type == "code"), (
            "commit the notebook without outputs"
        )


@pytest.fixture(scope="module")
def milestone_run(reference_path: str) -> tuple[int, list[str]]:
    said: list[str] = []
    code = run_milestone(ROOT, "03", reference=True, say=said.append)
    return code, said


def test_the_notebooks_reach_their_targets_on_the_reference(milestone_run) -> None:
    code, said = milestone_run
    assert any("reference solution" in line for line in said), "\n".join(said)
    slow = []
    for name, targets in TARGETS.items():
        figures = json.loads((FOLDER / TRAINED_DIR / f"{name}.json").read_text())
        missed = {
            key: figures[key] for key, (relation, bound) in targets.items() if not meets(figures[key], relation, bound)
        }
        assert not missed, (name, figures)
        if not figures["targets_met"]:  # then only its time target can have been missed
            assert figures["training_seconds"] >= SECONDS[name], (name, figures)
            slow.append(name)
        print(f"{name}: trained in {figures['training_seconds']:.2f} s (its target: under {SECONDS[name]:g} s)")
        assert abs(figures["initial_loss"] - np.log(10)) < 0.25, figures  # untrained: near ln 10 (chance)
        assert "reference solution" in figures["tinytorch"]
    assert code == 0 or slow, "\n".join(said)


def test_the_executed_notebooks_show_live_progress_and_their_plots(milestone_run) -> None:
    for name in TARGETS:
        executed = nbformat.read(str(FOLDER / EXECUTED_DIR / f"{name}.ipynb"), as_version=4)
        outputs = [output for cell in executed.cells for output in cell.get("outputs", [])]
        assert not [o for o in outputs if o.output_type == "error" or o.get("name") == "stderr"], name
        images = [o for o in outputs if "image/png" in o.get("data", {})]
        expected = 5 if name == "02_rumelhart_mnist" else 4  # the MNIST one also shows where the step's time goes
        assert len(images) == expected, (
            f"{name}: learning curves, hidden units, confusion matrix, mistakes (and speed): got {len(images)} images"
        )
        if name == "02_rumelhart_mnist":
            shown = "".join(o.get("text", "") for o in outputs)
            assert "× the floor" in shown and "backward: Tensor.__matmul__" in shown, "the profile of the step"
        assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs), (
            f"{name}: no progress bar widget"
        )
        assert any("epoch 1:" in o.get("text", "") for o in outputs), f"{name}: no per-epoch progress lines"
        assert (FOLDER / TRAINED_DIR / f"{SHORT[name]}_mlp.npz").exists(), "the trained weights are saved"


@pytest.mark.parametrize("name", list(TARGETS))
def test_the_scripts_run_from_a_terminal(name: str, reference_path: str) -> None:
    run = subprocess.run(
        [sys.executable, f"{name}.py"],
        cwd=FOLDER,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": reference_path, "OPENBLAS_NUM_THREADS": "1"},
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    missed = [line for line in run.stdout.splitlines() if line.startswith("✗ ")]
    assert all(line.startswith("✗ training_seconds") for line in missed), run.stdout[-2000:] + run.stderr[-2000:]
    assert "Verdict: every target met." in run.stdout or missed, run.stdout[-2000:]  # time: measured, not asserted
    figures = ("learning-curves", "hidden-units", "confusion", "mistakes") + (("speed",) if "mnist" in name else ())
    for figure in figures:
        assert f"{SHORT[name]}-{figure}.png" in run.stdout, f"a terminal run saves its figures: {figure}"


def test_an_incomplete_library_is_named_by_its_first_unfinished_exercise() -> None:
    problem = library_problem(FOLDER, {})  # the course's starting package: every exercise still a stub
    assert problem == "finish Module 01, Exercise 01.1 (Tensor.__init__), export it (tito export), then run this again"


def test_a_complete_library_passes_the_check(reference_path: str) -> None:
    """The check run before training accepts a finished library (here the reference), so a student's own is used."""
    assert library_problem(FOLDER, {"PYTHONPATH": reference_path}) is None


def test_the_first_unfinished_exercise_is_named_in_teaching_order_and_not_exported_said_so(tmp_path) -> None:
    """A student who finished Exercise 01.1 in the notebook but did not export it is told to export,
    not to finish it; the next one named is the first stub in teaching order."""
    course = make_course(tmp_path / "course", folders=("modules", "tinytorch", "milestones"))
    notebook = course / "modules" / "01_tensor" / "01_tensor.ipynb"
    module = find_module(load_modules(ROOT), "01")
    notebook.write_text(
        json.dumps(answered(read_notebook(notebook), {"ex_01_1": reference_answers(module)["ex_01_1"]}))
    )
    folder, environment = course / "milestones" / "03_1986_mlp", {"PYTHONPATH": str(course)}
    assert library_problem(folder, environment) == (
        "Exercise 01.1 (Tensor.__init__) is done in modules/01_tensor/01_tensor.ipynb but not exported yet: "
        "save that notebook and run its last cell (or tito export), then run this again"
    )
    export(course, "modules")
    assert library_problem(folder, environment) == (
        "finish Module 01, Exercise 01.2 (Tensor.__sub__), export it (tito export), then run this again"
    )
