"""The students' path on any platform and Python, as the README's quick start gives it: a students'
copy in a folder whose path has spaces, an apostrophe and accents; installed with the Python given;
then `tito milestone 03`, `tito doctor`, `tito test 01`, the notebook's own cells in an IPython shell
(the setup cell, the magics, `%tito_export`, i.e. `%%export`), all with the modules that exist only
on POSIX systems (resource, fcntl, pwd, termios, ...) unimportable for the course's own code, as on
Windows.

    python tests/student_path.py PYTHON [WORK_FOLDER]

tests/test_platforms.py runs it with the suite's Python; .ci/run with the oldest and newest Python
the project claims (3.10 and 3.13). It prints each step and its time, and exits 1 at the first
step that does not do what the README says.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDER_NAME = Path("Cours d'été ü") / "tiny torch"
POSIX_ONLY = ("resource", "fcntl", "pwd", "grp", "termios", "tty", "pty", "syslog", "crypt", "spwd", "nis", "posix")

# sitecustomize.py for every Python the steps start (tito, the kernels): an import of a POSIX-only
# module from a file of the course's student runtime (tito/ but its grader, tinytorch/) fails.
BLOCKER = f"""
import builtins
from pathlib import PurePath

POSIX_ONLY = {set(POSIX_ONLY)!r}
_import = builtins.__import__


def _is_student_runtime(filename):
    parts = PurePath(filename).parts
    return ("tinytorch" in parts or "tito" in parts) and "grading" not in parts


def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
    if level == 0 and name.partition(".")[0] in POSIX_ONLY:
        importer = (globals or {{}}).get("__file__") or ""
        if _is_student_runtime(importer):
            raise ImportError(f"{{name}} exists only on POSIX systems (not on Windows), imported by {{importer}}")
    return _import(name, globals, locals, fromlist, level)


builtins.__import__ = guarded_import
"""

# The released Module 01 notebook's code cells, run one by one in an IPython shell in the module's
# folder, as JupyterLab's kernel would (with their cell ids, which %tito_export compares).
NOTEBOOK_IN_A_SHELL = """
import json, sys
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
cells = [c for c in json.load(open("01_tensor.ipynb", encoding="utf-8"))["cells"] if c["cell_type"] == "code"]
for cell in cells:
    source = "".join(cell["source"])
    if "%tito_test" in source:  # the check cell runs the saved notebook headless: `tito test 01` did that
        continue
    result = shell.run_cell(source, cell_id=cell["id"])
    if result.error_before_exec is not None or (cell["id"] in ("setup", "export") and not result.success):
        sys.exit(f"cell {cell['id']} failed: {result.error_before_exec or result.error_in_exec!r}")
"""


class StepFailed(Exception):
    pass


def run(step: str, command: list[str], cwd: Path, env: dict, expect: tuple[str, ...] = (), code: int = 0) -> str:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False)
    output = done.stdout + done.stderr
    print(f"{step}: exit {done.returncode} in {time.perf_counter() - started:.1f} s", flush=True)
    missing = [text for text in expect if text not in output]
    if done.returncode != code or missing:
        raise StepFailed(f"{step}: expected exit {code} and {missing or 'its output'}; got:\n{output[-4000:]}")
    return output


def student_path(python: str, work: Path) -> None:
    """The steps; the install is the README's `pip install -e .`, done by uv where it is installed (the
    test extra has it), else by pip without byte-compiling every file first."""
    sys.path.insert(0, str(ROOT))
    from tito.build.student_copy import make_student_copy

    course = make_student_copy(ROOT, work / FOLDER_NAME)
    blocker = work / "posix-blocker"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(BLOCKER, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("TITO_COURSE_ROOT", "PYTHONPATH", "VIRTUAL_ENV")}
    env |= {"PYTHONPATH": str(blocker), "PYTHONIOENCODING": "utf-8", "OPENBLAS_NUM_THREADS": "1"}
    bin_folder = course / ".venv" / ("Scripts" if os.name == "nt" else "bin")

    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv:  # the same install as pip's, in seconds rather than minutes: CI installs two Pythons' worth
        run("make the environment (uv)", [uv, "venv", "-q", "-p", python, ".venv"], course, env)
        installing = {**env, "VIRTUAL_ENV": str(course / ".venv")}
        run("install the course (uv pip install -e .)", [uv, "pip", "install", "-q", "-e", "."], course, installing)
    else:
        run("make the environment", [python, "-m", "venv", ".venv"], course, env)
        install = [str(bin_folder / "python"), "-m", "pip", "install", "-q", "--no-compile", "-e", "."]
        run("install the course", install, course, env)
    version = run("its Python", [str(bin_folder / "python"), "--version"], course, env)
    print(f"  {version.strip()} in {course}")
    probe = work / "probe" / "tito" / "probe.py"  # a file of "tito" importing a POSIX-only module
    probe.parent.mkdir(parents=True)
    probe.write_text("import fcntl\n", encoding="utf-8")
    run("the blocker refuses fcntl", [str(bin_folder / "python"), str(probe)], course, env, ("only on POSIX",), 1)
    tito = str(bin_folder / "tito")
    run(
        "tito milestone 03",
        [tito, "milestone", "03"],
        course,
        env,
        expect=("finish Module 01, Exercise 01.1",),
    )
    run("tito doctor", [tito, "doctor"], course, env, expect=("everything looks fine",))
    run("tito test 01", [tito, "test", "01"], course, env, expect=("11 not attempted",), code=1)
    module = course / "modules" / "01_tensor"
    run(
        "the notebook's cells in a kernel",
        [str(bin_folder / "python"), "-c", NOTEBOOK_IN_A_SHELL],
        module,
        env,
        expect=("tinytorch/core/tensor.py",),
    )
    exported = (course / "tinytorch" / "core" / "tensor.py").read_text(encoding="utf-8")
    if "modules/01_tensor/01_tensor.ipynb" not in exported:
        raise StepFailed("%tito_export did not write tinytorch/core/tensor.py from the module's notebook")


def main() -> int:
    python = sys.argv[1] if len(sys.argv) > 1 else sys.executable
    with tempfile.TemporaryDirectory(prefix="student path ") as temporary:
        work = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(temporary)
        try:
            student_path(python, work)
        except StepFailed as failure:
            print(f"FAILED: {failure}", file=sys.stderr)
            return 1
    print("the students' path works")
    return 0


if __name__ == "__main__":
    sys.exit(main())
