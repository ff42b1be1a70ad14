"""`tito export`: notebooks -> the generated package, deterministic, atomic, with clear errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import write_notebook

from tito.build import export as export_module
from tito.build.export import GENERATED_TAG, build_package, differences, export, package_root
from tito.course.registry import RELEASE_DIR, SOURCE_DIR
from tito.errors import NotebookError, RegistryError

TOY_REGISTRY = """
[[module]]
number = 1
slug = "01_alpha"
title = "Alpha"
exports_to = "tinytorch/core/alpha.py"
names = ["Alpha"]
points = 1

[[module]]
number = 2
slug = "02_beta"
title = "Beta"
exports_to = "tinytorch/data/beta.py"
names = ["beta"]
points = 1
"""


@pytest.fixture
def toy(tmp_path: Path) -> Path:
    """A two-module course whose notebooks are tiny, so each case states exactly what it tests."""
    (tmp_path / "modules.toml").write_text(TOY_REGISTRY)
    write_notebook(
        tmp_path / "modules/01_alpha/01_alpha.ipynb",
        ["%load_ext tito.student.magic", "%%export\nclass Alpha:\n    pass", "print('not exported')"],
    )
    write_notebook(
        tmp_path / "modules/02_beta/02_beta.ipynb",
        ["%%export\nfrom tinytorch.core.alpha import Alpha\n\ndef beta():\n    return Alpha()"],
    )
    return tmp_path


def package_bytes(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_export_writes_one_file_per_notebook_with_header_and_provenance(toy: Path) -> None:
    export(toy)
    alpha = (toy / "tinytorch/core/alpha.py").read_text()
    assert alpha.startswith(f"# {GENERATED_TAG} from modules/01_alpha/01_alpha.ipynb: DO NOT EDIT.")
    assert "# %% modules/01_alpha/01_alpha.ipynb, cell 2 (id cell-1)\nclass Alpha:" in alpha
    assert "not exported" not in alpha and "%%export" not in alpha.split("\n", 2)[2]
    assert (toy / "tinytorch/data/beta.py").exists()
    init = (toy / "tinytorch/__init__.py").read_text()
    assert "from tinytorch.core.alpha import Alpha" in init and "from tinytorch.data.beta import beta" in init


def test_export_twice_gives_identical_bytes(toy: Path) -> None:
    export(toy)
    first = package_bytes(toy / "tinytorch")
    export(toy)
    assert package_bytes(toy / "tinytorch") == first
    assert differences(toy) == []


def test_package_imports_after_any_prefix_of_modules(toy: Path) -> None:
    shutil.rmtree(toy / "modules/02_beta")
    export(toy)
    run = subprocess.run(
        [sys.executable, "-c", "import tinytorch; print(tinytorch.__all__)"], cwd=toy, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "['Alpha']"
    shutil.rmtree(toy / "modules/01_alpha")
    export(toy)
    assert not (toy / "tinytorch/core/alpha.py").exists(), "a file no notebook exports any more must go"
    run = subprocess.run(
        [sys.executable, "-c", "import tinytorch; print(tinytorch.__all__)"], cwd=toy, capture_output=True, text=True
    )
    assert run.stdout.strip() == "[]", run.stderr


def test_reference_export_never_touches_the_students_package(toy: Path) -> None:
    shutil.copytree(toy / "modules", toy / "source_solutions")
    export(toy)
    before = package_bytes(toy / "tinytorch")
    export(toy, SOURCE_DIR)
    assert package_bytes(toy / "tinytorch") == before
    reference = package_root(toy, SOURCE_DIR) / "tinytorch/core/alpha.py"
    assert reference.read_text().startswith(f"# {GENERATED_TAG} from source_solutions/01_alpha/01_alpha.ipynb")


def test_invalid_notebook_json_names_the_notebook_and_spot(toy: Path) -> None:
    path = toy / "modules/02_beta/02_beta.ipynb"
    path.write_text(path.read_text()[:-20])
    with pytest.raises(NotebookError) as error:
        export(toy)
    message = str(error.value)
    assert (
        "modules/02_beta/02_beta.ipynb is not valid notebook JSON" in message
        and "line" in message
        and "restore" in message
    )


def test_syntax_error_names_notebook_cell_and_line(toy: Path) -> None:
    write_notebook(toy / "modules/02_beta/02_beta.ipynb", ["x = 1", "%%export\ndef beta(:\n    pass"])
    with pytest.raises(NotebookError) as error:
        export(toy)
    assert "modules/02_beta/02_beta.ipynb, code cell 2: syntax error on line 2 of the cell" in str(error.value)
    assert "def beta(:" in str(error.value)


def test_errors_name_the_exercise_or_heading_not_a_cell_number(toy: Path) -> None:
    """JupyterLab shows no cell numbers: a student finds a cell by its exercise or its heading."""
    path = write_notebook(toy / "modules/02_beta/02_beta.ipynb", ["x = 1", "%%export\ndef beta(:\n    pass"])
    notebook = json.loads(path.read_text())
    notebook["cells"][1]["metadata"]["nbgrader"] = {
        "grade_id": "ex_02_7",
        "solution": True,
        "grade": False,
        "locked": False,
    }
    path.write_text(json.dumps(notebook))
    with pytest.raises(
        NotebookError, match=r"02_beta.ipynb, the code cell of Exercise 02.7: syntax error on line 2 of the cell"
    ):
        export(toy)
    heading = {"cell_type": "markdown", "id": "md", "metadata": {}, "source": "Intro\n## 3. The `beta` function\nText."}
    notebook["cells"][1]["metadata"] = {}
    notebook["cells"].insert(0, heading)
    path.write_text(json.dumps(notebook))
    with pytest.raises(
        NotebookError, match=r"02_beta.ipynb, code cell 2 under the heading “3. The beta function”: syntax error"
    ):
        export(toy)


def test_marker_with_arguments_is_refused(toy: Path) -> None:
    write_notebook(toy / "modules/02_beta/02_beta.ipynb", ["%%export tinytorch/elsewhere.py\nx = 1"])
    with pytest.raises(NotebookError, match=r"02_beta.ipynb, code cell 1: write `%%export` alone"):
        export(toy)


@pytest.mark.parametrize(
    "target", ["../evil.py", "/tmp/evil.py", "tinytorch/__init__.py", "elsewhere/beta.py", "tinytorch/core/beta.txt"]
)
def test_export_target_outside_the_package_is_refused(toy: Path, target: str) -> None:
    (toy / "modules.toml").write_text(TOY_REGISTRY.replace('"tinytorch/data/beta.py"', f'"{target}"'))
    with pytest.raises(RegistryError) as error:
        export(toy)
    assert "02_beta.ipynb" in str(error.value) and "outside the package" in str(error.value)


def test_two_notebooks_writing_one_file_is_refused(toy: Path) -> None:
    (toy / "modules.toml").write_text(TOY_REGISTRY.replace("tinytorch/data/beta.py", "tinytorch/core/alpha.py"))
    with pytest.raises(RegistryError, match=r"01_alpha.ipynb and 02_beta.ipynb both write 'tinytorch/core/alpha.py'"):
        export(toy)


def test_failed_export_changes_nothing(toy: Path) -> None:
    export(toy)
    before = package_bytes(toy / "tinytorch")
    write_notebook(toy / "modules/01_alpha/01_alpha.ipynb", ["%%export\nclass Alpha:\n    changed = True"])
    write_notebook(toy / "modules/02_beta/02_beta.ipynb", ["%%export\ndef beta(:"])
    with pytest.raises(NotebookError):
        export(toy)
    assert package_bytes(toy / "tinytorch") == before


def test_interrupted_export_leaves_only_whole_files(toy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    export(toy)
    old = package_bytes(toy / "tinytorch")
    write_notebook(toy / "modules/01_alpha/01_alpha.ipynb", ["%%export\nclass Alpha:\n    changed = True"])
    write_notebook(toy / "modules/02_beta/02_beta.ipynb", ["%%export\ndef beta():\n    return 2"])
    new = build_package(toy)
    calls = []

    def replace_then_die(source: str, destination: str) -> None:
        if calls:
            raise KeyboardInterrupt
        calls.append(destination)
        os.rename(source, destination)

    monkeypatch.setattr(export_module.os, "replace", replace_then_die)
    with pytest.raises(KeyboardInterrupt):
        export(toy)
    for relative, content in package_bytes(toy / "tinytorch").items():
        assert not relative.split("/")[-1].startswith("."), f"temporary file {relative} left behind"
        assert content in (old.get(relative), new[f"tinytorch/{relative}"].encode()), f"{relative} is half written"


def test_committed_package_is_in_sync_with_modules(root: Path) -> None:
    assert differences(root, RELEASE_DIR) == [], "run `tito export` and commit tinytorch/"


def test_tinytorch_imports_from_any_working_directory(tmp_path: Path, root: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-c", "import tinytorch; print(tinytorch.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert Path(run.stdout.strip()).parent == root / "tinytorch"


def test_exported_files_are_readable_by_the_course_group_as_the_umask_says(toy: Path) -> None:
    """mkstemp makes 0600 files; on a shared course folder the others could not read the package."""
    previous = os.umask(0o022)
    try:
        export(toy)
        alpha = toy / "tinytorch/core/alpha.py"
        assert alpha.stat().st_mode & 0o777 == 0o644
        alpha.chmod(0o664)
        write_notebook(toy / "modules/01_alpha/01_alpha.ipynb", ["%%export\nclass Alpha:\n    changed = True"])
        export(toy)
        assert "changed = True" in alpha.read_text() and alpha.stat().st_mode & 0o777 == 0o664, (
            "a replaced file keeps its mode"
        )
    finally:
        os.umask(previous)
