"""The `%%export` marker runs cells natively; `%tito_export` exports the saved notebook, or says why not."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from helpers import ROOT, write_notebook
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from tito.build.export import export
from tito.course.cells import cell_source, read_notebook
from tito.student.magic import blank_export_marker


def run_headless(folder: Path, sources: list[str], allow_errors: bool = False) -> nbformat.NotebookNode:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in sources])
    NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=60,
        allow_errors=allow_errors,
        resources={"metadata": {"path": str(folder)}},
    ).execute()
    return notebook


def test_marker_line_is_blanked_keeping_line_numbers() -> None:
    assert blank_export_marker(["%%export\n", "x = 1\n"]) == ["\n", "x = 1\n"]
    assert blank_export_marker(["x = 1\n"]) == ["x = 1\n"]


@pytest.mark.slow
def test_export_cell_runs_like_a_plain_cell_and_its_errors_fail_it(tmp_path: Path) -> None:
    sources = [
        "%load_ext tito.student.magic",
        "%%export\nanswer = 6 * 7\nanswer",
        "%%export\ndef broken():\n    return 1 / 0\nbroken()",
        "print('never reached')",
    ]
    with pytest.raises(CellExecutionError) as error:
        run_headless(tmp_path, sources)
    assert "ZeroDivisionError" in str(error.value)
    notebook = run_headless(tmp_path, sources[:2])
    assert notebook.cells[1].outputs[0]["data"]["text/plain"] == "42", "the cell's result displays as usual"


@pytest.mark.slow
def test_traceback_points_at_the_cells_own_line(tmp_path: Path) -> None:
    notebook = run_headless(
        tmp_path, ["%load_ext tito.student.magic", "%%export\nx = 1\nraise ValueError('line three')"], allow_errors=True
    )
    error = notebook.cells[1].outputs[0]
    assert error["ename"] == "ValueError"
    assert "line 3" in "".join(error["traceback"]), "line numbers must match the notebook cell"


@pytest.fixture
def shell(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("TITO_EXPORT", raising=False)
    monkeypatch.delenv("TITO_COURSE_ROOT", raising=False)
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "tito.student.magic")
    yield shell
    shell.run_line_magic("unload_ext", "tito.student.magic")
    shell.events.callbacks["pre_run_cell"].clear()


@pytest.fixture
def course(tmp_path: Path, root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "modules.toml").write_text((root / "modules.toml").read_text())
    folder = tmp_path / "modules/01_tensor"
    write_notebook(folder / "01_tensor.ipynb", ["%%export\nclass Tensor:\n    pass"])
    monkeypatch.chdir(folder)
    return tmp_path


def test_export_magic_exports_the_saved_notebook(shell, course: Path, capsys) -> None:
    shell.run_cell("%%export\nclass Tensor:\n    pass", cell_id="cell-0")
    shell.run_line_magic("tito_export", "01_tensor")
    assert "Exported modules/01_tensor/01_tensor.ipynb -> tinytorch/core/tensor.py" in capsys.readouterr().out
    assert "class Tensor:" in (course / "tinytorch/core/tensor.py").read_text()


def test_export_magic_refuses_unsaved_edits(shell, course: Path) -> None:
    shell.run_cell("%%export\nclass Tensor:\n    edited = True", cell_id="cell-0")
    with pytest.raises(UsageError, match=r"differs from what you ran in code cell 1: save the notebook first"):
        shell.run_line_magic("tito_export", "01_tensor")
    assert not (course / "tinytorch").exists()


def test_export_magic_reports_a_broken_notebook_without_a_traceback(shell, course: Path) -> None:
    write_notebook(course / "modules/01_tensor/01_tensor.ipynb", ["%%export\ndef f(:"])
    with pytest.raises(UsageError, match=r"01_tensor.ipynb, code cell 1: syntax error"):
        shell.run_line_magic("tito_export", "01_tensor")


def test_export_magic_does_nothing_in_headless_runs_or_elsewhere(
    shell, course: Path, capsys, monkeypatch, tmp_path
) -> None:
    monkeypatch.setenv("TITO_EXPORT", "skip")
    shell.run_line_magic("tito_export", "01_tensor")
    assert "Export skipped" in capsys.readouterr().out
    monkeypatch.delenv("TITO_EXPORT")
    elsewhere = course / "autograded/student/01_tensor"
    elsewhere.mkdir(parents=True)
    monkeypatch.chdir(elsewhere)
    shell.run_line_magic("tito_export", "01_tensor")
    assert "Nothing exported" in capsys.readouterr().out
    assert not (course / "tinytorch").exists()


@pytest.mark.slow
def test_unsaved_edits_are_noticed_through_the_kernel_protocol(course: Path) -> None:
    """As JupyterLab does it: each execute_request carries the cell's id in its metadata."""
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(
        kernel_name="python3", cwd=str(course / "modules/01_tensor"), env={**os.environ, "TITO_EXPORT": ""}
    )

    def run(code: str, cell_id: str) -> list[dict]:
        message = client.session.msg(
            "execute_request",
            {
                "code": code,
                "silent": False,
                "store_history": True,
                "user_expressions": {},
                "allow_stdin": False,
                "stop_on_error": True,
            },
            metadata={"cellId": cell_id},
        )
        client.shell_channel.send(message)
        outputs = []
        while True:
            reply = client.get_iopub_msg(timeout=30)
            if reply["parent_header"].get("msg_id") != message["header"]["msg_id"]:
                continue
            if reply["msg_type"] == "status" and reply["content"]["execution_state"] == "idle":
                return outputs
            outputs.append(reply["content"])

    try:
        run("%load_ext tito.student.magic", "setup")
        run("%%export\nclass Tensor:\n    edited = True", "cell-0")
        refused = run("%tito_export 01_tensor", "export")
        assert any("save the notebook first" in str(output) for output in refused), refused
        run("%%export\nclass Tensor:\n    pass", "cell-0")  # back to what is saved
        exported = run("%tito_export 01_tensor", "export")
        assert any("Exported modules/01_tensor/01_tensor.ipynb" in str(output) for output in exported), exported
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def test_check_magic_prints_tito_tests_table_for_the_saved_notebook(
    shell, scratch_course: Path, capsys, monkeypatch
) -> None:
    """`%tito_test` from inside the notebook: the saved notebook runs in a fresh kernel, and the table
    is the one `tito test` prints; an untouched release has every exercise not attempted."""
    monkeypatch.chdir(scratch_course / "modules/01_tensor")
    shell.run_line_magic("tito_test", "01_tensor")
    out = capsys.readouterr().out
    assert "Running the saved 01_tensor.ipynb in a fresh kernel" in out
    assert "○ Exercise 01.1" in out and "0 passed, 0 failed, 11 not attempted" in out, out
    assert "score: 0/20 points on the visible tests" in out
    monkeypatch.setenv("TITO_EXPORT", "skip")
    shell.run_line_magic("tito_test", "01_tensor")
    assert "Check skipped" in capsys.readouterr().out


def test_setup_magic_names_each_problem_the_imports_would_hit_with_its_fix(
    shell, scratch_course: Path, capsys, monkeypatch
) -> None:
    """`%tito_setup` in Module 03's setup cell: one line saying what it checked when all is well; then an edited Module 02 that
    was not exported again, a missing export, missing datasets, another course's tinytorch."""
    for slug in ("01_tensor", "02_activations"):  # a student who finished modules 01 and 02
        shutil.copy(scratch_course / "source_solutions" / slug / f"{slug}.ipynb", scratch_course / "modules" / slug)
    export(scratch_course)
    monkeypatch.syspath_prepend(str(scratch_course))  # as `pip install -e .` in this course gives
    monkeypatch.delitem(sys.modules, "tinytorch", raising=False)
    monkeypatch.chdir(scratch_course / "modules/03_layers")
    shell.run_line_magic("tito_setup", "03_layers")
    assert (
        capsys.readouterr().out
        == "✓ Ready: this course's tinytorch, Modules 01-02 exported as saved and finished, the datasets in place.\n"
    )
    monkeypatch.chdir(scratch_course / "modules/04_losses")  # Module 03 is still as released
    shell.run_line_magic("tito_setup", "04_losses")
    assert (
        "⚠ Module 03 is not finished: 7 exercises still raise NotImplementedError in tinytorch/core/layers.py, the first "
        "Exercise 03.1 (Module.named_parameters)\n    fix: finish them in modules/03_layers/03_layers.ipynb, then run its last cell"
        in capsys.readouterr().out
    )
    monkeypatch.chdir(scratch_course / "modules/03_layers")

    activations = scratch_course / "modules/02_activations/02_activations.ipynb"
    notebook = read_notebook(activations)
    cell = next(cell for cell in notebook["cells"] if cell_source(cell).startswith("%%export"))
    cell["source"] = cell_source(cell) + "\n# edited after the export"
    activations.write_text(json.dumps(notebook))
    shell.run_line_magic("tito_setup", "03_layers")
    out = capsys.readouterr().out
    assert (
        "⚠ tinytorch/core/activations.py is older than your saved modules/02_activations/02_activations.ipynb\n"
        "    fix: run the last cell of modules/02_activations/02_activations.ipynb (or `tito export` in a terminal)"
        in out
    ), out
    assert "(`tito doctor` in a terminal checks the whole installation.)" in out

    (scratch_course / "tinytorch/core/tensor.py").unlink()
    (scratch_course / "datasets").unlink()
    (scratch_course / "datasets").mkdir()
    shell.run_line_magic("tito_setup", "03_layers")
    out = capsys.readouterr().out
    assert (
        "⚠ tinytorch/core/tensor.py is missing\n    fix: run the last cell of modules/01_tensor/01_tensor.ipynb" in out
    ), out
    assert "datasets/tinydigits" in out and "datasets/mnist" in out, out

    monkeypatch.syspath_prepend(str(scratch_course.parent))  # another folder's package first on the path
    monkeypatch.delitem(sys.modules, "tinytorch", raising=False)  # the data check above imported the course's
    (scratch_course.parent / "tinytorch").mkdir()
    (scratch_course.parent / "tinytorch/__init__.py").write_text("")
    shell.run_line_magic("tito_setup", "03_layers")
    out = capsys.readouterr().out
    assert f"this kernel imports tinytorch from {scratch_course.parent / 'tinytorch'}, not from this course" in out, out
    assert "fix: in this course's folder: pip install -e ." in out

    monkeypatch.setenv("TITO_EXPORT", "skip")  # graded or tested headless: silent
    shell.run_line_magic("tito_setup", "03_layers")
    assert capsys.readouterr().out == ""


@pytest.mark.slow
def test_setup_cell_names_the_fix_when_the_kernel_lacks_the_course(tmp_path: Path) -> None:
    """A kernel whose Python has no tito (the wrong kernel, or the course not installed): the setup
    cell's own first lines say what to do, before `%load_ext tito.student.magic` could fail."""
    setup = next(
        cell_source(cell)
        for cell in read_notebook(ROOT / "modules/01_tensor/01_tensor.ipynb")["cells"]
        if cell.get("id") == "setup"
    )
    hidden = tmp_path / "hide"
    hidden.mkdir()
    # the kernel's Python without the course: no editable-install finder, no course folder on the path
    (hidden / "sitecustomize.py").write_text(
        "import sys\nsys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f)]\n"
    )
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(setup)])
    environment = {**os.environ, "PYTHONPATH": str(hidden)}
    client = NotebookClient(
        notebook, kernel_name="python3", timeout=60, allow_errors=True, resources={"metadata": {"path": str(tmp_path)}}
    )
    client.km = client.create_kernel_manager()
    client.execute(env=environment)
    error = notebook.cells[0].outputs[-1]
    assert error["ename"] == "ModuleNotFoundError", error
    assert "where the course is not installed: pick the course's kernel (Kernel > Change Kernel)" in error["evalue"]
    assert "`pip install -e .` in the course folder; then `tito doctor`" in error["evalue"]


def first_line(out: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", out).lstrip().splitlines()[0]


def test_an_error_starts_with_what_to_do(shell, scratch_course: Path, capsys, monkeypatch) -> None:
    """In JupyterLab an error's first line is the one that names the mistake: for a stub, the exercise,
    the notebook it lives in and the fix; for a failed check, its message. The course's own frames
    (tito's checks, the dispatcher) are left out. Headless runs (grading) keep IPython's own output."""
    monkeypatch.chdir(scratch_course / "modules/03_layers")
    shell.run_cell('raise NotImplementedError("Exercise 01.5: Tensor.__matmul__")')
    assert first_line(capsys.readouterr().out) == (
        "✎ Exercise 01.5 (Tensor.__matmul__) is still a stub in your tinytorch: finish it in "
        "modules/01_tensor/01_tensor.ipynb, then save that notebook and run its last cell to export it."
    )
    shell.run_cell('raise NotImplementedError("Exercise 03.2: Module.named_modules")')
    assert first_line(capsys.readouterr().out) == (
        "✎ Exercise 03.2 (Module.named_modules) is not written yet: in its cell, replace the `raise NotImplementedError(...)` line "
        "with your code and run the cell."
    )
    shell.run_cell(
        'def stub():\n    raise NotImplementedError("Exercise 01.1: Tensor.__init__")\n'
        "from tito.student.checks import check_type\ncheck_type(lambda: stub(), int, 'stub()')"
    )
    out = capsys.readouterr().out
    assert (
        "checks.py" not in out
        and "stub()" in out
        and first_line(out).startswith("✎ Exercise 01.1 (Tensor.__init__) is still a stub")
    ), out
    shell.run_cell(
        "def inner(shape):\n    return shape[5]\n"
        "from tito.student.checks import check_type\ncheck_type(lambda: inner(()), int, 'inner(())', error_hint='index the shape you have')"
    )
    out = re.sub(r"\x1b\[[0-9;]*m", "", capsys.readouterr().out)
    assert (
        first_line(out)
        == "CheckFailed: inner(()): raised IndexError: tuple index out of range — index the shape you have"
    ), out
    assert "checks.py" not in out and "return shape[5]" in out, "the student's own line stays, tito's frames go"
    shell.run_cell('raise NotImplementedError("something else")')
    assert "✎" not in capsys.readouterr().out


def test_a_test_cell_starts_with_the_librarys_settings_put_back(shell, capsys) -> None:
    """A broken no_grad in an earlier cell must not fail the next test for a reason it does not check."""

    class GradMode:
        enabled = True

    shell.user_ns["GradMode"] = GradMode
    shell.run_cell("GradMode.enabled = False")
    shell.run_cell("x = 1")
    assert GradMode.enabled is False, "only test cells start afresh"
    shell.run_cell("def test_05_4_pow():\n    assert GradMode.enabled\n\n\ntest_05_4_pow()")
    out = capsys.readouterr().out
    assert GradMode.enabled is True and "note: GradMode.enabled was False when this test started" in out, out


def test_the_export_cell_says_which_tests_failed_or_were_not_written_when_last_run(
    shell, scratch_course: Path, capsys, monkeypatch
) -> None:
    monkeypatch.chdir(scratch_course / "modules/01_tensor")
    shell.run_cell("def test_01_2_sub():\n    raise AssertionError('a - b: values differ')\n\n\ntest_01_2_sub()")
    shell.run_cell("def test_01_3_neg():\n    pass\n\n\ntest_01_3_neg()")
    shell.run_cell(
        "def test_01_4_mul():\n    raise NotImplementedError('Exercise 01.4: Tensor.__mul__')\n\n\ntest_01_4_mul()"
    )
    capsys.readouterr()
    shell.run_line_magic("tito_export", "01_tensor")
    out = capsys.readouterr().out
    assert "Exported modules/01_tensor/01_tensor.ipynb -> tinytorch/core/tensor.py (written now" in out
    assert "⚠ The tests of Exercise 01.2 failed when you last ran them: they are exported as they are" in out, out
    assert "⚠ Exercise 01.4 is not written yet" in out and "01.4 failed" not in out, out
    shell.run_cell("def test_01_4_mul():\n    pass\n\n\ntest_01_4_mul()")
    shell.run_cell("def test_01_2_sub():\n    pass\n\n\ntest_01_2_sub()")
    capsys.readouterr()
    shell.run_line_magic("tito_export", "01_tensor")
    assert "⚠" not in capsys.readouterr().out


def test_the_check_report_reads_without_an_emoji_font() -> None:
    """Emoji show as empty boxes where no emoji font is installed (minimal Linux and hub images):
    the table's marks are glyphs DejaVu has (seen rendered in Chromium on such a machine), and each
    row says its exercise and status in words too."""
    from tito.course.verdict import MARKS, ExerciseResult, Status
    from tito.student.testing import format_report

    assert set("".join(MARKS.values())) <= set("✓✗◐○–⚠"), MARKS
    results = [ExerciseResult(f"02.{n}", "ReLU.forward", 1, status) for n, status in enumerate(Status, start=1)]
    rows = format_report(results).splitlines()[: len(results)]
    for row, status in zip(rows, Status, strict=True):
        assert row[2:].startswith("Exercise") and row.rstrip().endswith(str(status)), row


@pytest.mark.slow
def test_an_interrupted_cell_shows_no_frame_of_the_course(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cell the grader interrupts past its time (a KeyboardInterrupt through tito's checks) is shown
    with the student's frames only, as an error is."""
    monkeypatch.setenv("TITO_EXPORT", "skip")  # headless, as under grading
    stuck = "def stuck():\n    raise KeyboardInterrupt\n\nfrom tito.student.checks import check_close\ncheck_close(lambda: stuck(), 1.0, 'x')"
    notebook = run_headless(tmp_path, ["%load_ext tito.student.magic", stuck], allow_errors=True)
    error = notebook.cells[1].outputs[0]
    assert error["ename"] == "KeyboardInterrupt", error
    assert "checks.py" not in "".join(error["traceback"]) and "stuck()" in "".join(error["traceback"]), error
