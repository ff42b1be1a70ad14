"""The `tito` command line, run as a student or instructor would run it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT, exercise_sources, make_course, validate

from tito.course.cells import read_notebook
from tito.student.testing import run_notebook


def tito(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {name: value for name, value in os.environ.items() if name != "TITO_COURSE_ROOT"} | env
    return subprocess.run(
        [sys.executable, "-m", "tito.cli", *args], cwd=cwd, capture_output=True, text=True, env=environment, timeout=600
    )


def set_exercise(notebook_path: Path, grade_id: str, source: str) -> None:
    notebook = read_notebook(notebook_path)
    for cell in notebook["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
            cell["source"] = source
    notebook_path.write_text(json.dumps(notebook, indent=1))


def solution_of(course: Path, grade_id: str) -> str:
    return exercise_sources(read_notebook(course / "source_solutions/01_tensor/01_tensor.ipynb"))[grade_id]


def test_test_solution_reports_full_marks(scratch_course: Path) -> None:
    run = tito("test", "01", "--solution", cwd=scratch_course)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "score: 20/20 points" in run.stdout
    assert "✓ Exercise 01.4" in run.stdout
    assert (scratch_course / ".tito/reference/tinytorch/core/tensor.py").exists()
    assert not (scratch_course / "tinytorch").exists(), "the reference never lands in the student's package"


def test_test_reports_each_exercise_of_a_student_notebook(scratch_course: Path) -> None:
    notebook = scratch_course / "modules/01_tensor/01_tensor.ipynb"
    set_exercise(notebook, "ex_01_1", solution_of(scratch_course, "ex_01_1"))
    set_exercise(notebook, "ex_01_9", solution_of(scratch_course, "ex_01_9"))
    broken = solution_of(scratch_course, "ex_01_4").replace(
        "### BEGIN SOLUTION", "### BEGIN SOLUTION\n    while True:\n        pass", 1
    )
    set_exercise(notebook, "ex_01_4", broken)
    set_exercise(notebook, "test_01_10", "print('trust me')")
    edited = read_notebook(notebook)
    edited["cells"] = [
        c for c in edited["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") != "test_01_11"
    ]
    notebook.write_text(json.dumps(edited, indent=1))
    run = tito("test", "01", "--timeout", "5", cwd=scratch_course)
    assert run.returncode == 1, run.stdout + run.stderr
    lines = run.stdout
    assert "✓ Exercise 01.1" in lines and "✓ Exercise 01.9" in lines
    assert "○ Exercise 01.2" in lines and "not attempted" in lines
    assert "✗ Exercise 01.4" in lines and "timed out" in lines
    assert "✗ Exercise 01.10" in lines and "this test cell was edited" in lines
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
        [
            sys.executable,
            "-c",
            "import tinytorch; print((tinytorch.Tensor([[1.0, 2.0]]) @ tinytorch.Tensor([[3.0], [4.0]])).item())",
        ],
        cwd=scratch_course,
        capture_output=True,
        text=True,
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
    set_exercise(
        scratch_course / "modules/01_tensor/01_tensor.ipynb", "ex_01_1", solution_of(scratch_course, "ex_01_1")
    )
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
    assert (
        status.returncode == 0
        and "cannot read the notebook" in status.stdout
        and "not valid notebook JSON" in status.stdout
    )


@pytest.mark.slow
def test_doctor_finds_this_installation_healthy(root: Path) -> None:
    run = tito("doctor", cwd=root)
    assert run.returncode == 0, run.stdout
    assert "✗" not in run.stdout and "everything looks fine" in run.stdout


@pytest.mark.slow
def test_doctor_names_the_fix_for_a_damaged_dataset(tmp_path: Path, root: Path) -> None:
    run = tito("doctor", cwd=root, TINYTORCH_DATA=str(tmp_path))
    assert run.returncode == 1
    assert "✗" in run.stdout and str(tmp_path) in run.stdout


def test_report_names_partly_done_methods_syntax_errors_and_the_failing_case(scratch_course: Path) -> None:
    notebook = scratch_course / "modules/01_tensor/01_tensor.ipynb"
    set_exercise(notebook, "ex_01_1", solution_of(scratch_course, "ex_01_1"))
    five_of_six = solution_of(scratch_course, "ex_01_2").replace(
        "return Tensor(_unwrap(other) / self.data)", 'raise NotImplementedError("Exercise 01.2: Tensor.__rtruediv__")'
    )
    set_exercise(notebook, "ex_01_2", five_of_six)
    set_exercise(
        notebook,
        "ex_01_4",
        solution_of(scratch_course, "ex_01_4").replace(
            "right.shape[0] if right.ndim == 1 else right.shape[-2]", "right.shape[-2]"
        ),
    )
    broken = solution_of(scratch_course, "ex_01_7").replace("shape = tuple(shape[0])", "shape = tuple(shape[0]")
    set_exercise(notebook, "ex_01_7", broken)
    set_exercise(
        notebook,
        "ex_01_11",
        solution_of(scratch_course, "ex_01_11").replace(
            'np.array2string(self.data, separator=", ", prefix="Tensor(", threshold=summarize_above, edgeitems=3)',
            "repr(self.data)",
        ),
    )
    run = tito("test", "01", cwd=scratch_course)
    assert run.returncode == 1, run.stderr
    report = run.stdout
    assert "✓ Exercise 01.1 " in report
    assert (
        "◐ Exercise 01.2 " in report
        and "partly done\n      `Tensor.__rtruediv__` still raises NotImplementedError" in report
    )
    assert (
        "✗ Exercise 01.4 " in report
        and "a @ v  (shapes (2, 3) @ (3,)): raised IndexError: tuple index out of range" in report
    )
    line = 1 + broken.splitlines().index(next(text for text in broken.splitlines() if "shape = tuple(shape[0]" in text))
    assert "✗ Exercise 01.7 " in report
    assert (
        f"your code for Exercise 01.7 did not run: SyntaxError on line {line} of the cell: '(' was never closed\n          shape = tuple(shape[0]\n"
        in report
    )
    assert "AttributeError" not in report, "the syntax error is the cause, not the missing method the test then meets"
    whole = "numpy's own repr would add array(...) and the dtype"  # the end of a 250-character message: nothing is cut
    assert "✗ Exercise 01.11" in report and whole + "\n" in report
    assert "1 passed, 3 failed, 1 partly done, 6 not attempted\n" in report
    assert "grading also runs hidden tests" in report and "provisional" in report


def test_test_solution_in_a_students_copy_says_the_solutions_are_not_there(scratch_course: Path) -> None:
    shutil.rmtree(scratch_course / "source_solutions")
    for command in (["test", "01", "--solution"], ["export", "--reference"], ["release"]):
        run = tito(*command, cwd=scratch_course)
        assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
        assert "the instructor's solutions (source_solutions/) are not part of this copy" in run.stderr, run.stderr
        assert "not been released" not in run.stderr
    assert not (scratch_course / ".tito").exists(), "no empty reference package is left behind"


@pytest.mark.parametrize("command", [["status"], ["export", "--check"], ["test", "01"]])
def test_a_closed_pipe_ends_quietly(scratch_course: Path, command: list[str]) -> None:
    """`tito status | head -2`: the reader goes away; tito stops without a traceback."""
    environment = {name: value for name, value in os.environ.items() if name != "TITO_COURSE_ROOT"}
    process = subprocess.Popen(
        [sys.executable, "-m", "tito.cli", *command],
        cwd=scratch_course,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    process.stdout.close()  # as `head` does once it has its lines
    _, errors = process.communicate(timeout=300)
    assert "Traceback" not in errors and "BrokenPipeError" not in errors, errors
    assert process.returncode == 141


def test_later_modules_run_on_the_students_own_export(scratch_course: Path) -> None:
    """Module 02's notebook imports the student's Module 01 from tinytorch/: full marks once 01 is done and exported."""
    answers = exercise_sources(read_notebook(scratch_course / "source_solutions/02_activations/02_activations.ipynb"))
    for grade_id, answer in answers.items():
        set_exercise(scratch_course / "modules/02_activations/02_activations.ipynb", grade_id, answer)
    environment = {
        "PYTHONPATH": str(scratch_course)
    }  # the kernels import this course's tinytorch/, as an editable install of it would
    assert tito("export", cwd=scratch_course).returncode == 0
    before = tito("test", "02", cwd=scratch_course, **environment)
    assert before.returncode == 1 and "needs Exercise 01.1 first" in before.stdout, before.stdout
    for number in range(1, 12):
        set_exercise(
            scratch_course / "modules/01_tensor/01_tensor.ipynb",
            f"ex_01_{number}",
            solution_of(scratch_course, f"ex_01_{number}"),
        )
    assert tito("export", cwd=scratch_course).returncode == 0
    after = tito("test", "02", cwd=scratch_course, **environment)
    assert after.returncode == 0 and "score: 12/12 points" in after.stdout, after.stdout


def test_doctor_names_a_module_whose_saved_notebook_is_not_exported(tmp_path: Path) -> None:
    from tito.student.doctor import check_exports

    course = make_course(tmp_path / "course", folders=("modules", "tinytorch"))
    assert check_exports(course) == [(True, "tinytorch/ is what your saved notebooks export", "")]
    set_exercise(course / "modules/01_tensor/01_tensor.ipynb", "ex_01_1", solution_of(ROOT, "ex_01_1"))
    ((ok, problem, fix),) = check_exports(course)
    assert (
        not ok
        and problem == "tinytorch/core/tensor.py is not what your saved modules/01_tensor/01_tensor.ipynb exports"
    )
    assert fix == "run the last cell of modules/01_tensor/01_tensor.ipynb, or `tito export`"


def test_the_scale_out_recipes_run_commands_tito_accepts() -> None:
    """docs/grading-at-scale/: each `tito` line, its shell variables given values, parses; the shard
    and merge themselves run in tests/test_instructor_term.py."""
    import shlex

    from tito.cli import build_parser

    found = []
    for recipe in sorted((ROOT / "docs" / "grading-at-scale").iterdir()):
        for line in recipe.read_text().splitlines():
            command = line.split("#", 1)[0].strip().removeprefix("- ").strip()
            if not command.startswith("tito "):
                continue
            for variable, value in {
                "$K": "2",
                "$N": "4",
                "$MODULE": "01",
                "/results/shard-*": "/results/shard-1",
            }.items():
                command = command.replace(variable, value)
            arguments = shlex.split(command.replace('"', ""))[1:]
            parsed = build_parser().parse_args(arguments)
            found.append((recipe.name, parsed.command))
    assert {command for _, command in found} == {"grade", "merge-grades"}, found
    assert {name for name, _ in found} == {"kubernetes-indexed-job.yaml", "slurm-array.sh"}, found
