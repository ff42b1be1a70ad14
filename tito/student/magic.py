"""The IPython extension behind `%%export`, `%tito_setup`, `%tito_export` and `%tito_test`; notebooks
load it with `%load_ext tito.student.magic`.

`%%export` is not a real cell magic: an input transformer blanks the marker line, so the cell
runs natively (same namespace, same traceback and line numbers, an exception fails the cell)
and `tito export` later finds the marker in the saved notebook.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from types import TracebackType

from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from tito.build.export import export, package_root
from tito.course.cells import (
    STUB_RAISED,
    cell_source,
    describe_cell,
    is_export_cell,
    is_export_marker,
    read_notebook,
    stub_message,
)
from tito.course.registry import RELEASE_DIR, SOURCE_DIR, Module, course_root, find_module, load_modules
from tito.course.settings import EXPORT_ENV, EXPORT_SKIP
from tito.course.verdict import exercise_results, ungraded_errors
from tito.errors import KernelError, NotebookError, RegistryError
from tito.student.testing import format_report, run_notebook

TITO_FOLDER = Path(__file__).resolve().parent.parent


def blank_export_marker(lines: list[str]) -> list[str]:
    """Replace a leading `%%export` line with an empty one, keeping line numbers."""
    if lines and is_export_marker(lines[0]):
        return ["\n", *lines[1:]]
    return lines


class ExportState:
    """What this kernel actually ran: to notice a saved notebook that differs (unsaved edits), and
    which exercises' tests failed when last run (the export cell says so)."""

    def __init__(self) -> None:
        self.ran: dict[str, str] = {}  # cell id -> the source the kernel executed
        self.tests: dict[str, str] = {}  # exercise ("02.3") -> "passed", "failed" or "not written" when last run

    def record(self, info) -> None:
        raw = info.raw_cell or ""
        if is_export_marker(raw.split("\n", 1)[0]) and getattr(info, "cell_id", None):
            self.ran[info.cell_id] = raw

    def record_test(self, result) -> None:
        """A post_run_cell hook: a test cell's outcome, by the exercise its test function names."""
        found = TEST_CELL.search(result.info.raw_cell or "")
        if found:
            number = f"{found.group(1)}.{found.group(2)}"
            error = result.error_in_exec
            own_stub = isinstance(error, NotImplementedError) and str(error).startswith(stub_message(number, ""))
            self.tests[number] = "passed" if result.success else "not written" if own_stub else "failed"

    def exercises_whose_tests(self, outcome: str) -> list[str]:
        """The exercises whose test cell, when last run, had `outcome` ("failed" or "not written")."""
        found = (number for number, last in self.tests.items() if last == outcome)
        return sorted(found, key=lambda n: tuple(map(int, n.split("."))))

    def unsaved_cells(self, notebook: dict) -> list[str]:
        """The %%export cells (described as a student finds them) whose saved source is not what this kernel last ran."""
        cells = notebook["cells"]
        return [
            describe_cell(cells, index)
            for index, cell in enumerate(cells)
            if is_export_cell(cell)
            and cell.get("id") in self.ran
            and self.ran[cell["id"]].rstrip() != cell_source(cell).rstrip()
        ]


def _headless() -> bool:
    """Whether this kernel is a headless run by tito or nbgrader (where the magics do nothing)."""
    return os.environ.get(EXPORT_ENV) == EXPORT_SKIP or bool(os.environ.get("NBGRADER_EXECUTION"))


def _module_here(slug: str) -> tuple[Path, Path, Module]:
    """(the kernel's folder, the course root, the module named by the magic's argument)."""
    here = Path.cwd().resolve()
    try:
        root = course_root(here)
        return here, root, find_module(load_modules(root), slug.strip())
    except RegistryError as error:
        raise UsageError(str(error)) from None


def _saved_notebook(state: ExportState, slug: str, skipped: str, nothing: str) -> tuple[Path, Module, str, Path] | None:
    """(course root, module, folder, notebook) of the module whose folder this kernel runs in, after
    making sure the saved notebook holds what the kernel ran; None (said) in a headless run, where
    the magics do nothing, or when run elsewhere."""
    if _headless():
        print(f"{skipped}: this is a headless run by tito or nbgrader.")
        return None
    here, root, module = _module_here(slug)
    folder = module.folder_holding(root, here)
    if folder is None:
        print(f"{nothing}: this notebook runs in {here}, not in the course's {RELEASE_DIR}/{module.slug}/ folder.")
        return None
    notebook_path = module.notebook(root, folder)
    try:
        unsaved = state.unsaved_cells(read_notebook(notebook_path))
    except NotebookError as error:
        raise UsageError(str(error)) from None
    if unsaved:
        raise UsageError(
            f"The saved {notebook_path.name} differs from what you ran in {'; '.join(unsaved)}: "
            "save the notebook first (File > Save, or Ctrl+S), then run this cell again."
        )
    return root, module, folder, notebook_path


def tito_export(state: ExportState, slug: str) -> None:
    """`%tito_export NN_name`: export the saved notebook's folder into its package."""
    found = _saved_notebook(state, slug, "Export skipped (your package is left as it is)", "Nothing exported")
    if found is None:
        return
    root, module, folder, _ = found
    try:
        written = export(root, folder)
    except NotebookError as error:
        raise UsageError(str(error)) from None
    target = next(path for path in written if path.as_posix().endswith(module.exports_to))
    print(
        f"Exported {folder}/{module.slug}/{module.notebook_name} -> {target.relative_to(root)} "
        f"(written now; all {len(written)} files of tinytorch/ match your saved notebooks)."
    )
    failed, not_written = state.exercises_whose_tests("failed"), state.exercises_whose_tests("not written")
    if failed:
        print(
            f"⚠ The tests of Exercise{'s' if len(failed) > 1 else ''} {', '.join(failed)} failed when you last ran them: "
            "they are exported as they are, mistakes included. Fix them, run their tests again, then this cell."
        )
    if not_written:
        print(
            f"⚠ Exercise{'s' if len(not_written) > 1 else ''} {', '.join(not_written)} "
            f"{'are' if len(not_written) > 1 else 'is'} not written yet (as their tests said when last run): exported as "
            "the stubs, which raise NotImplementedError until you write them."
        )


def tito_test(state: ExportState, slug: str) -> None:
    """`%tito_test NN_name`: `tito test` from inside the notebook. The saved notebook runs in a fresh
    kernel started by this one, so the Jupyter server stays free while it runs and nothing in
    this kernel changes; the table is the one `tito test` prints."""
    found = _saved_notebook(state, slug, "Check skipped", "Nothing checked")
    if found is None:
        return
    root, module, folder, notebook_path = found
    environment = {}
    if (
        folder == SOURCE_DIR
    ):  # the instructor's notebook imports the reference of the earlier modules, as `tito test --solution` does
        export(root, SOURCE_DIR)
        environment["PYTHONPATH"] = str(package_root(root, SOURCE_DIR))
    print(f"Running the saved {notebook_path.name} in a fresh kernel (this one is left as it is) ...", flush=True)
    started = time.perf_counter()
    try:
        executed = run_notebook(notebook_path, env=environment)
    except KernelError as error:
        raise UsageError(str(error)) from None
    print(format_report(exercise_results(executed), ungraded_errors(executed)))
    print(f"({time.perf_counter() - started:.1f} s; the same check as `tito test {module.number:02d}` in a terminal)")


def tito_setup(slug: str) -> None:
    """`%tito_setup NN_name`, in each setup cell before the imports: check what the imports below
    need (this course's own tinytorch, the earlier modules exported as last saved, the datasets)
    and print each problem with its one-line fix, instead of an ImportError from deep inside."""
    if _headless():
        return
    here, root, module = _module_here(slug)
    if module.folder_holding(root, here) != RELEASE_DIR:
        return  # the instructor's source_solutions/, or a copy elsewhere: the student's checks do not apply
    from tito.student.doctor import setup_problems

    problems = setup_problems(root, module)
    for problem, fix in problems:
        print(f"⚠ {problem}" + (f"\n    fix: {fix}" if fix else ""))
    if problems:
        print("(`tito doctor` in a terminal checks the whole installation.)")
        return
    earlier = [m for m in load_modules(root) if m.number < module.number]
    modules = (
        f", Module{'s' if len(earlier) > 1 else ''} {earlier[0].number:02d}"
        + (f"-{earlier[-1].number:02d}" if len(earlier) > 1 else "")
        + " exported as saved and finished"
        if earlier
        else ""
    )
    print(f"✓ Ready: this course's tinytorch{modules}, the datasets in place.")


def stub_hint(error: BaseException, here: Path) -> str | None:
    """For a stub's NotImplementedError ("Exercise 01.5: Tensor.__matmul__"): which exercise, where it
    lives, and what to do; None for any other error."""
    match = STUB_RAISED.match(str(error))
    if not match:
        return None
    exercise = f"Exercise {match[1]}.{match[2]} ({match[3]})"
    try:
        root = course_root(here)
        module = next(module for module in load_modules(root) if module.number == int(match[1]))
    except (RegistryError, StopIteration):
        return f"✎ {exercise} is not written yet: replace the `raise NotImplementedError(...)` line of its cell with your code."
    if module.folder_holding(root, here) == RELEASE_DIR:
        return f"✎ {exercise} is not written yet: in its cell, replace the `raise NotImplementedError(...)` line with your code and run the cell."
    return (
        f"✎ {exercise} is still a stub in your tinytorch: finish it in {module.notebook(root).relative_to(root)}, "
        "then save that notebook and run its last cell to export it."
    )


# The course's own frames between a student's code and the error: the dispatcher every operation runs
# through (tinytorch/core/tensor.py, Module 05's Function.apply) and tito's checks, which only pass errors on.
DISPATCH_FRAMES = {"apply", "find_rule", "method"}
RED, BOLD, RESET = "\x1b[31m", "\x1b[1m", "\x1b[0m"


def explain_error(shell: InteractiveShell, etype, value, tb, tb_offset=None) -> list[str]:
    """An error as a student should read it in JupyterLab: first the one line that says what is wrong
    (a check's message, or for a stub which exercise to write and where), then the traceback of the
    student's own code, without the course's internal frames (headless and graded runs: trimmed_error).
    Shown through `_showtraceback`, as `showtraceback` does: ipykernel's version sends
    the error to JupyterLab."""
    hint = stub_hint(value, Path.cwd().resolve())
    headline = hint or f"{BOLD}{RED}{etype.__name__}: {value}{RESET}"
    structured = [headline, *_students_traceback(shell, etype, value, tb, tb_offset)]
    shell._showtraceback(etype, value, structured)
    return structured


def trimmed_error(shell: InteractiveShell, etype, value, tb, tb_offset=None) -> list[str]:
    """An error as a headless or graded run records it (and a feedback page shows it): IPython's own
    traceback, without the course's internal frames, and no headline."""
    structured = _students_traceback(shell, etype, value, tb, tb_offset)
    shell._showtraceback(etype, value, structured)
    return structured


def _students_traceback(shell: InteractiveShell, etype, value, tb, tb_offset) -> list[str]:
    cause = value.__cause__ or value.__context__
    if cause is not None and cause.__traceback__ is not None:
        cause.__traceback__ = _students_frames(cause.__traceback__)
    return shell.InteractiveTB.structured_traceback(etype, value, _students_frames(tb), tb_offset=tb_offset)


def _is_course_internal(code) -> bool:
    filename = Path(code.co_filename).resolve()
    if filename.is_relative_to(TITO_FOLDER):
        return True
    return (
        code.co_name in DISPATCH_FRAMES
        and filename.parent.name == "core"
        and filename.parent.parent.name == "tinytorch"
    )


def _students_frames(tb: TracebackType | None) -> TracebackType | None:
    """The same traceback without the course's internal frames."""
    kept = []
    while tb is not None:
        if not _is_course_internal(tb.tb_frame.f_code):
            kept.append(tb)
        tb = tb.tb_next
    rebuilt = None
    for frame in reversed(kept):
        rebuilt = TracebackType(rebuilt, frame.tb_frame, frame.tb_lasti, frame.tb_lineno)
    return rebuilt


TEST_CELL = re.compile(r"^def test_(\d+)_(\d+)\w*\(", re.MULTILINE)


def fresh_state_for_tests(shell: InteractiveShell):
    """A pre_run_cell hook: before a test cell runs, put back the library's global settings an
    earlier cell left changed (tito.student.checks.reset_library_state), saying so."""

    def before(info) -> None:
        if TEST_CELL.search(info.raw_cell or ""):
            from tito.student.checks import reset_library_state

            for note in reset_library_state(shell.user_ns):
                print(note)

    return before


def load_ipython_extension(shell: InteractiveShell) -> None:
    state = ExportState()
    # a cell interrupted too (by the student, or by the grader past the cell's time): its traceback
    # would otherwise list the course's frames it passed through
    shell.set_custom_exc((Exception, KeyboardInterrupt), trimmed_error if _headless() else explain_error)
    if blank_export_marker not in shell.input_transformers_cleanup:
        shell.input_transformers_cleanup.append(blank_export_marker)
    shell.events.register("pre_run_cell", state.record)
    shell.events.register("pre_run_cell", fresh_state_for_tests(shell))
    shell.events.register("post_run_cell", state.record_test)
    shell.magics_manager.register_function(
        lambda line: tito_export(state, line), magic_kind="line", magic_name="tito_export"
    )
    shell.magics_manager.register_function(
        lambda line: tito_test(state, line), magic_kind="line", magic_name="tito_test"
    )
    shell.magics_manager.register_function(tito_setup, magic_kind="line", magic_name="tito_setup")


def unload_ipython_extension(shell: InteractiveShell) -> None:
    shell.set_custom_exc((), None)
    if blank_export_marker in shell.input_transformers_cleanup:
        shell.input_transformers_cleanup.remove(blank_export_marker)
