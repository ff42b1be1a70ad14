"""Set-up files agree with each other and with the README."""

from __future__ import annotations

import sys

import yaml
from helpers import ROOT, readme_commands
from packaging.requirements import Requirement

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib


def pinned(requirements: list[str]) -> dict[str, str]:
    """{name: specifier} of requirement strings, markers ignored (conda has no markers)."""
    parsed = [Requirement(text) for text in requirements]
    return {r.name.lower(): str(r.specifier) for r in parsed}


def test_environment_yml_and_pyproject_name_the_same_dependencies_and_versions() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip_side = pinned(project["dependencies"] + project["optional-dependencies"]["test"])
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [entry for entry in environment["dependencies"] if isinstance(entry, str)]
    through_pip = next(entry["pip"] for entry in environment["dependencies"] if isinstance(entry, dict))
    conda_side = pinned(
        [entry for entry in conda if not entry.startswith(("python", "pip"))]
        + [entry for entry in through_pip if not entry.startswith("-e")]
    )
    assert conda_side == pip_side
    python = next(entry for entry in conda if entry.startswith("python"))
    assert Requirement(python).specifier == Requirement(f"python{project['requires-python']}").specifier


def test_readme_has_a_student_path_and_an_instructor_path_whose_test_command_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    student, instructor = readme_commands(readme)[:2]
    assert student == [
        "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/tito milestone 03",
        ".venv/bin/tito doctor",
        ".venv/bin/tito lab",
        ".venv/bin/tito test 01",
    ], "tests/test_student_copy.py runs exactly these in a student's copy"
    install, lint, test = instructor[:3]
    assert "pip install -e '.[test]'" in install and "ruff" in lint and "mypy" in lint and test.endswith("-m pytest")
    assert "tito test 01 --solution" in instructor[4]
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert all(line in ci for line in (install, lint, test)), "CI runs the README's commands, word for word"
    assert ci.index(install) < ci.index(lint) < ci.index(test)
    assert (
        readme.index("<!-- instructors only -->")
        < readme.index(instructor[0])
        < readme.index("<!-- end instructors only -->")
    )


def test_private_grading_data_is_ignored() -> None:
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    for entry in ("/submitted/", "/feedback/", "/autograded/*", "/gradebook.db"):
        assert entry in ignored
    assert (ROOT / "autograded" / "README.md").exists()


def test_the_windows_commands_are_the_students_commands_with_windows_paths() -> None:
    import re

    readme = (ROOT / "README.md").read_text()
    student = " ".join(readme_commands(readme)[0])
    powershell = re.findall(r"```powershell\n(.*?)```", readme, re.S)[0]
    for command in re.findall(r"\.venv/bin/tito (\w+(?: \d+)?)", student):
        assert f".venv\\Scripts\\tito {command}" in powershell, command
    assert "pip install -e ." in powershell


def test_ci_checks_the_students_path_on_the_oldest_and_newest_python() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert "for version in 3.10 3.13; do" in ci and "tests/student_path.py" in ci
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["requires-python"] == ">=3.10", "the oldest Python CI checks is the one claimed"
