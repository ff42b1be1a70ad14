"""The `tito` command line, run as a student or instructor would run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tito.export import cell_source, read_notebook
from tito.grading import validate
from tito.notebooks import exercise_results, run_notebook


def tito(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {name: value for name, value in os.environ.items() if name != "TITO_COURSE_ROOT"} | env
    return subprocess.run([sys.executable, "-m", "tito.cli", *args], cwd=cwd, capture_output=True, text=True, env=environment, timeout=600)


def set_exercise(notebook_path: Path, grade_id: str, source: str) -> None:
    notebook = read_notebook(notebook_path)
    for cell in notebook["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
            cell["source"] = source
    notebook_path.write_text(json.dumps(notebook, indent=1))


def solution_of(course: Path, grade_id: str) -> str:
    notebook = read_notebook(course / "source_solutions/01_tensor/01_tensor.ipynb")
    return next(cell_source(c) for c in notebook["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id)


def test_test_solution_reports_full_marks(scratch_course: Path) -> None:
    run = tito("test", "01", "--solution", cwd=scratch_course)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "score: 20/20 points" in run.stdout
    assert "✅ Exercise 01.4" in run.stdout
    assert (scratch_course / ".tito/reference/tinytorch/core/tensor.py").exists()
    assert not (scratch_course / "tinytorch").exists(), "the reference never lands in the student's package"


def test_test_reports_each_exercise_of_a_student_notebook(scratch_course: Path) -> None:
    notebook = scratch_course / "modules/01_tensor/01_tensor.ipynb"
    set_exercise(notebook, "ex_01_1", solution_of(scratch_course, "ex_01_1"))
    set_exercise(notebook, "ex_01_9", solution_of(scratch_course, "ex_01_9"))
    broken = solution_of(scratch_course, "ex_01_4").replace("### BEGIN SOLUTION", "### BEGIN SOLUTION\n    while True:\n        pass", 1)
    set_exercise(notebook, "ex_01_4", broken)
    set_exercise(notebook, "test_01_10", "print('trust me')")
    edited = read_notebook(notebook)
    edited["cells"] = [c for c in edited["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") != "test_01_11"]
    notebook.write_text(json.dumps(edited, indent=1))
    run = tito("test", "01", "--timeout", "5", cwd=scratch_course)
    assert run.returncode == 1, run.stdout + run.stderr
    lines = run.stdout
    assert "✅ Exercise 01.1" in lines and "✅ Exercise 01.9" in lines
    assert "⬜ Exercise 01.2" in lines and "not attempted" in lines
    assert "❌ Exercise 01.4" in lines and "timed out" in lines
    assert "❌ Exercise 01.10" in lines and "this test cell was edited" in lines
    assert "test cells worth 1 of the module's 20 points are missing" in lines
    assert "2 passed, 2 failed, 6 not attempted" in lines
    status = tito("status", cwd=scratch_course)
    assert status.returncode == 0, status.stderr
    row = next(line for line in status.stdout.splitlines() if line.startswith("01_tensor"))
    assert row.split()[1:3] == ["3/11", "2/10"], row


def test_student_journey_complete_export_and_full_marks(scratch_course: Path) -> None:
    """Done means: a student completes module 01, runs it (its last cell exports), and gets full marks."""
    notebook = scratch_course / "modules/01_tensor/01_tensor.ipynb"
    for number in range(1, 12):
        set_exercise(notebook, f"ex_01_{number}", solution_of(scratch_course, f"ex_01_{number}"))
    ran = run_notebook(notebook, env={"TITO_EXPORT": ""})  # as in JupyterLab: the export cell really exports
    assert "Exported modules/01_tensor/01_tensor.ipynb -> tinytorch/core/tensor.py" in str(ran["cells"][-1]["outputs"])
    use = subprocess.run(
        [sys.executable, "-c", "import tinytorch; print((tinytorch.Tensor([[1.0, 2.0]]) @ tinytorch.Tensor([[3.0], [4.0]])).item())"],
        cwd=scratch_course, capture_output=True, text=True,
    )
    assert use.stdout.strip() == "11.0", use.stderr
    run = tito("test", "01", cwd=scratch_course)
    assert run.returncode == 0 and "score: 20/20 points" in run.stdout, run.stdout
    assert validate(scratch_course, notebook) == {}


def test_export_then_status_and_check(scratch_course: Path) -> None:
    assert tito("export", "--check", cwd=scratch_course).returncode == 1, "no package yet"
    run = tito("export", cwd=scratch_course)
    assert run.returncode == 0 and "exported modules/ -> tinytorch/" in run.stdout
    assert tito("export", "--check", cwd=scratch_course).returncode == 0
    status = tito("status", cwd=scratch_course)
    assert next(line for line in status.stdout.splitlines() if line.startswith("01_tensor")).endswith("yes")
    set_exercise(scratch_course / "modules/01_tensor/01_tensor.ipynb", "ex_01_1", solution_of(scratch_course, "ex_01_1"))
    status = tito("status", cwd=scratch_course)
    assert "out of date: run `tito export`" in status.stdout


def test_release_check_fails_when_modules_drift(scratch_course: Path) -> None:
    notebook = scratch_course / "modules/01_tensor/01_tensor.ipynb"
    notebook.write_text(notebook.read_text().replace("Exercise 01.4", "Exercise 01.4 (edited by hand)", 1))
    run = tito("release", "--check", cwd=scratch_course)
    assert run.returncode == 1
    assert "modules/01_tensor/01_tensor.ipynb differs" in run.stdout


def test_errors_are_one_clear_line(scratch_course: Path, tmp_path: Path) -> None:
    run = tito("test", "99", cwd=scratch_course)
    assert run.returncode == 2 and run.stderr.startswith("tito: error: No module '99'")
    run = tito("status", cwd=tmp_path, TITO_COURSE_ROOT=str(tmp_path))
    assert run.returncode == 2 and "modules.toml is missing" in run.stderr and "Traceback" not in run.stderr
    notebook = scratch_course / "modules/01_tensor/01_tensor.ipynb"
    notebook.write_text("{ not json")
    for command in ("export", "test"):
        run = tito(command, *(["01"] if command == "test" else []), cwd=scratch_course)
        assert run.returncode == 2 and "01_tensor.ipynb is not valid notebook JSON" in run.stderr, run.stderr
    status = tito("status", cwd=scratch_course)
    assert status.returncode == 0 and "cannot read the notebook" in status.stdout and "not valid notebook JSON" in status.stdout


def test_doctor_finds_this_installation_healthy(root: Path) -> None:
    run = tito("doctor", cwd=root)
    assert run.returncode == 0, run.stdout
    assert "❌" not in run.stdout and "everything looks fine" in run.stdout


def test_doctor_names_the_fix_for_a_damaged_dataset(tmp_path: Path, root: Path) -> None:
    run = tito("doctor", cwd=root, TINYTORCH_DATA=str(tmp_path))
    assert run.returncode == 1
    assert "❌" in run.stdout and str(tmp_path) in run.stdout


def test_report_tells_exercise_01_1_from_01_10() -> None:
    def graded(grade_id: str, error: str) -> dict:
        meta = {"grade": True, "grade_id": grade_id, "points": 1, "locked": True, "solution": False}
        output = {"output_type": "error", "ename": "NotImplementedError", "evalue": error, "traceback": []}
        return {"cell_type": "code", "execution_count": 1, "metadata": {"nbgrader": meta}, "outputs": [output], "source": ""}

    results = exercise_results({"cells": [graded("test_01_1", "Exercise 01.10: Tensor.exp"), graded("test_01_10", "Exercise 01.10: Tensor.exp")]})
    assert [(r.exercise, r.status) for r in results] == [("01.1", "failed"), ("01.10", "not attempted")]
    assert results[0].detail.startswith("needs Exercise 01.10 first")
