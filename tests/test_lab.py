"""`tito lab`: the Jupyter configuration it gives students and instructors (the browser tests use it for real)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tito.student.lab import (
    ASSIGNMENTS_LAB,
    ASSIGNMENTS_SERVER,
    INSTRUCTOR,
    INSTRUCTOR_ONLY_LAB,
    INSTRUCTOR_ONLY_SERVER,
    NEWS_PROMPT,
    STUDENT,
    lab_command,
)


def page_config(folder: Path) -> dict:
    return json.loads((folder / "labconfig" / "page_config.json").read_text())["disabledExtensions"]


def test_students_get_no_instructor_tools_and_instructors_get_them_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for variable in ("JUPYTER_CONFIG_DIR", "JUPYTERLAB_SETTINGS_DIR", "JUPYTERLAB_WORKSPACES_DIR"):
        monkeypatch.delenv(variable, raising=False)
    hub_config = tmp_path / "etc_jupyter"  # a hub's /etc/jupyter, naming its exchange
    hub_config.mkdir()
    (tmp_path / "exchange").mkdir()
    (hub_config / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.Exchange.root = {str(tmp_path / 'exchange')!r}\n"
    )
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", str(hub_config))
    folders = {role: Path(lab_command(tmp_path, role, [])[1]["JUPYTER_CONFIG_DIR"]) for role in (STUDENT, INSTRUCTOR)}

    assert page_config(folders[STUDENT]) == {name: True for name in [NEWS_PROMPT, *INSTRUCTOR_ONLY_LAB]}
    assert page_config(folders[INSTRUCTOR]) == {NEWS_PROMPT: True}
    student_server = json.loads((folders[STUDENT] / "jupyter_server_config.json").read_text())["ServerApp"][
        "jpserver_extensions"
    ]
    assert student_server == {name: False for name in INSTRUCTOR_ONLY_SERVER}
    assert (
        json.loads((folders[INSTRUCTOR] / "jupyter_server_config.json").read_text())["ServerApp"]["jpserver_extensions"]
        == {}
    )
    for folder in folders.values():
        assert (
            folder.is_relative_to(tmp_path / ".tito")
            and "jp-mod-readOnly" in (folder / "custom" / "custom.css").read_text()
        )

    # Without an exchange, nbgrader's Assignments panel has nothing to list, and its server side
    # would log "Unwritable directory" at every poll: it is off for both.
    (tmp_path / "exchange").rmdir()
    for role in (STUDENT, INSTRUCTOR):
        folder = Path(lab_command(tmp_path, role, [])[1]["JUPYTER_CONFIG_DIR"])
        assert page_config(folder)[ASSIGNMENTS_LAB] is True
        server = json.loads((folder / "jupyter_server_config.json").read_text())["ServerApp"]["jpserver_extensions"]
        assert server[ASSIGNMENTS_SERVER] is False


def test_jupyterlab_starts_in_the_course_with_the_students_own_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for variable in ("JUPYTER_CONFIG_DIR", "JUPYTERLAB_SETTINGS_DIR", "JUPYTERLAB_WORKSPACES_DIR"):
        monkeypatch.delenv(variable, raising=False)
    command, environment = lab_command(tmp_path, STUDENT, ["--no-browser"])
    assert command[1:4] == ["-m", "jupyterlab", "--custom-css"] and f"--ServerApp.root_dir={tmp_path}" in command
    assert command[-1] == "--no-browser"
    assert environment["JUPYTERLAB_SETTINGS_DIR"] == str(tmp_path / "home" / ".jupyter" / "lab" / "user-settings")
    assert environment["JUPYTERLAB_WORKSPACES_DIR"] == str(tmp_path / "home" / ".jupyter" / "lab" / "workspaces")
