"""`tito doctor`: check the installation, and for every problem print the fix."""

from __future__ import annotations

import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from tito.build.export import Freshness, freshness, module_file, module_freshness, package_root
from tito.course.cells import STUB_LINE, read_notebook
from tito.course.registry import RELEASE_DIR, Module, load_modules
from tito.errors import NotebookError, RegistryError
from tito.student import datasets

Check = tuple[bool, str, str]  # (ok, what was checked, how to fix it)
DISTRIBUTION = "tinytorch-course"
INSTALL = "pip install -e . (from the course folder, in the environment you run Jupyter from)"


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _run_python(code: str) -> subprocess.CompletedProcess:
    """Run code in a fresh interpreter from `/`, as a kernel in any folder would see things."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/", timeout=120)


def check_python() -> Check:
    ok = sys.version_info >= (3, 10)
    return ok, f"Python {sys.version.split()[0]} at {sys.executable}", "install Python 3.10 or newer"


def check_packages() -> list[Check]:
    """Every dependency the course's pyproject.toml names, at a version it accepts."""
    from packaging.requirements import Requirement

    try:
        wanted = [Requirement(text) for text in metadata.requires(DISTRIBUTION) or []]
    except metadata.PackageNotFoundError:
        return [(False, f"the course ({DISTRIBUTION}) is not installed in this Python", INSTALL)]
    checks = []
    for requirement in wanted:
        if requirement.marker and not requirement.marker.evaluate({"extra": ""}):
            continue
        version = _version(requirement.name)
        ok = version is not None and requirement.specifier.contains(version, prereleases=True)
        checks.append(
            (ok, f"{requirement.name} {version or 'missing'} (wanted {requirement.specifier or 'any'})", INSTALL)
        )
    return checks


def check_kernel() -> Check:
    probe = _run_python(
        "import sys, shutil\n"
        "from jupyter_client.kernelspec import get_kernel_spec\n"
        "argv0 = get_kernel_spec('python3').argv[0]\n"
        "print(argv0 in ('python', 'python3', sys.executable) or shutil.which(argv0) == sys.executable)"
    )
    ok = probe.stdout.strip() == "True"
    return ok, "the python3 Jupyter kernel runs this Python", f"{sys.executable} -m ipykernel install --sys-prefix"


def check_import_tinytorch() -> Check:
    probe = _run_python("import tinytorch; print(tinytorch.__file__)")
    where = probe.stdout.strip() or probe.stderr.strip().splitlines()[-1:]
    return (
        probe.returncode == 0,
        f"`import tinytorch` works from any folder ({where})",
        f"run `tito export`; if it still fails, {INSTALL}",
    )


def check_extension() -> Check:
    probe = _run_python(
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "shell = InteractiveShell.instance()\n"
        "shell.run_line_magic('load_ext', 'tito.student.magic')\n"
        "result = shell.run_cell('%%export\\nanswer = 42')\n"
        "print(result.success and shell.user_ns['answer'] == 42)"
    )
    return (
        probe.stdout.strip().endswith("True"),
        "the %%export extension loads (`%load_ext tito.student.magic`)",
        INSTALL,
    )


def check_nbgrader_lab_extension() -> Check:
    installed = Path(sys.prefix, "share", "jupyter", "labextensions", "@jupyter", "nbgrader", "package.json").exists()
    return installed, "nbgrader's JupyterLab extension (the Formgrader and assignment menus)", INSTALL


def check_alembic() -> Check:
    found = shutil.which("alembic")
    beside = Path(sys.executable).parent / "alembic"
    ok = found is not None or beside.exists()
    return (
        ok,
        "alembic (nbgrader runs it to create a gradebook)",
        f"put {Path(sys.executable).parent} on PATH, or {INSTALL}",
    )


def check_registry(root: Path) -> Check:
    try:
        count = len(load_modules(root))
    except RegistryError as error:
        return False, str(error), "restore modules.toml with `git checkout -- modules.toml`"
    return True, f"modules.toml lists {count} modules", ""


def check_datasets() -> list[Check]:
    try:
        problems = datasets.verify_datasets()
    except Exception as error:  # the data code itself is missing or broken
        return [
            (
                False,
                f"the course's data code (tinytorch/data/loader.py) could not be used: {type(error).__name__}: {error}",
                "restore it with `git checkout -- tinytorch/data/loader.py`, or fix your Module 08 export and run `tito export`",
            )
        ]
    if not problems:
        return [(True, "datasets/ (TinyDigits and MNIST) present and intact", "")]
    return [(False, problem, "") for problem in problems]  # each problem already says how to restore the file


def check_exports(root: Path) -> list[Check]:
    """Every module's generated file is what its saved notebook exports (the same rule as `tito status`)."""
    stale = []
    for module in load_modules(root):
        notebook = module.notebook(root, RELEASE_DIR)
        if not notebook.exists():
            continue
        try:
            state = module_freshness(root, module, read_notebook(notebook))
        except NotebookError as error:
            stale.append(
                (f"{module.exports_to} cannot be exported: {error}", f"fix that cell of {notebook.relative_to(root)}")
            )
            continue
        if state is not Freshness.IN_DATE:
            what = (
                "is missing"
                if state is Freshness.MISSING
                else f"is not what your saved {notebook.relative_to(root)} exports"
            )
            stale.append(
                (f"{module.exports_to} {what}", f"run the last cell of {notebook.relative_to(root)}, or `tito export`")
            )
    if not stale:
        return [(True, "tinytorch/ is what your saved notebooks export", "")]
    return [(False, problem, fix) for problem, fix in stale]


def run_checks(root: Path) -> list[Check]:
    return [
        check_python(),
        *check_packages(),
        check_registry(root),
        check_kernel(),
        check_extension(),
        check_import_tinytorch(),
        *check_exports(root),
        check_nbgrader_lab_extension(),
        check_alembic(),
        *check_datasets(),
    ]


Problem = tuple[str, str]  # (what is wrong, the one-line fix)


def tinytorch_problem(root: Path) -> Problem | None:
    """Whether `import tinytorch` in this Python gets this course's own package (found, not imported)."""
    import importlib.util

    spec = importlib.util.find_spec("tinytorch")
    own = (root / "tinytorch").resolve()
    if spec is None or not spec.origin:
        return f"this kernel's Python ({sys.executable}) cannot import tinytorch", f"in the course folder: {INSTALL}"
    found = Path(spec.origin).resolve().parent
    if found != own:
        return (
            f"this kernel imports tinytorch from {found}, not from this course ({own})",
            f"in this course's folder: {INSTALL}; or pick that environment's kernel (Kernel > Change Kernel)",
        )
    return None


def export_problems(root: Path, module: Module) -> list[Problem]:
    """What a later notebook would meet in this earlier module's generated file: missing, not what
    the saved notebook exports (edited or saved after the last export), or still holding stubs."""
    notebook = module.notebook(root, RELEASE_DIR)
    generated = package_root(root) / module.exports_to
    shown, export_hint = (
        notebook.relative_to(root),
        f"run the last cell of {notebook.relative_to(root)} (or `tito export` in a terminal)",
    )
    if not generated.exists():
        return [(f"{generated.relative_to(root)} is missing", export_hint)] if notebook.exists() else []
    text = generated.read_text(encoding="utf-8")
    problems = []
    if notebook.exists():
        try:
            if freshness(text, module_file(root, module, read_notebook(notebook))) is not Freshness.IN_DATE:
                problems.append((f"{generated.relative_to(root)} is older than your saved {shown}", export_hint))
        except NotebookError as error:
            problems.append((str(error), f"fix that cell of {shown}, save it and run its last cell"))
    exercises: dict[str, str] = {}  # exercise -> the name in its first stub
    for number, name in STUB_LINE.findall(text):
        exercises.setdefault(number, name)
    if exercises:
        first, name = next(iter(exercises.items()))
        count = f"{len(exercises)} exercises still raise" if len(exercises) > 1 else "1 exercise still raises"
        problems.append(
            (
                f"Module {module.number:02d} is not finished: {count} NotImplementedError "
                f"in {generated.relative_to(root)}, the first Exercise {first} ({name})",
                f"finish them in {shown}, then run its last cell (this notebook may call them)",
            )
        )
    return problems


def missing_datasets(root: Path) -> list[Problem]:
    """The course's data files that are not there. Only their presence: checking every checksum
    (a fifth of a second, MNIST's) is `tito doctor`'s job and the loaders' own, when they read a file."""
    data = datasets.data_module()
    expected = {"tinydigits": [data.TINYDIGITS_FILE], "mnist": list(data.MNIST_FILES)}
    missing = [
        f"datasets/{folder}/{name}"
        for folder, names in expected.items()
        for name in [*names, data.MANIFEST]
        if not (root / "datasets" / folder / name).is_file()
    ]
    if not missing:
        return []
    return [
        (
            f"{', '.join(missing[:3])}{f' and {len(missing) - 3} more' if len(missing) > 3 else ''} missing",
            "restore them with `git checkout -- datasets/` in the course folder; `tito doctor` checks them in full",
        )
    ]


def setup_problems(root: Path, module: Module) -> list[Problem]:
    """What would go wrong in a student's notebook of `module` before its imports run."""
    problems = [problem for problem in [tinytorch_problem(root)] if problem]
    for earlier in load_modules(root):
        if earlier.number < module.number:
            problems += export_problems(root, earlier)
    try:
        problems += missing_datasets(root)
    except Exception as error:  # the data code itself is missing or broken
        problems.append(
            (
                f"the course's data code (tinytorch/data/loader.py) could not be used: {type(error).__name__}: {error}",
                "`git checkout -- tinytorch/data/loader.py`, or export Module 08 again",
            )
        )
    return problems
