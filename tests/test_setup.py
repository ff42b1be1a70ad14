"""Set-up files agree with each other and with the README."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml
from packaging.requirements import Requirement

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent


def pinned(requirements: list[str]) -> dict[str, str]:
    """{name: specifier} of requirement strings, markers ignored (conda has no markers)."""
    parsed = [Requirement(text) for text in requirements]
    return {r.name.lower(): str(r.specifier) for r in parsed}


def test_environment_yml_and_pyproject_name_the_same_dependencies_and_versions() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip_side = pinned(project["dependencies"] + project["optional-dependencies"]["test"])
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [entry for entry in environment["dependencies"] if isinstance(entry, str)]
    conda_side = pinned([entry for entry in conda if not entry.startswith(("python", "pip"))])
    assert conda_side == pip_side
    python = next(entry for entry in conda if entry.startswith("python"))
    assert Requirement(python).specifier == Requirement(f"python{project['requires-python']}").specifier


def test_readme_starts_with_the_two_commands_and_ci_runs_the_second() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", readme, re.S)
    commands = [line for line in blocks[0].splitlines() if line and not line.startswith("#")]
    assert len(commands) == 2
    assert "tito test 01 --solution" in commands[0]
    ci = (ROOT / ".ci" / "run").read_text()
    assert commands[1] in ci.splitlines()


def test_private_grading_data_is_ignored() -> None:
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    for entry in ("/submitted/", "/feedback/", "/autograded/*", "/gradebook.db"):
        assert entry in ignored
    assert (ROOT / "autograded" / "README.md").exists()
