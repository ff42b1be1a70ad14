"""`tito lab`: JupyterLab set up for this course, as a student sees it (default) or as the instructor.

Both run JupyterLab from the course folder with a Jupyter configuration folder of the course's own
(.tito/jupyter/<role>/, rewritten at every start), which:
- shows locked cells as locked (a badge, through JupyterLab's custom CSS);
- turns off JupyterLab's news prompt, which asks to fetch from the internet;
- for students, turns off nbgrader's instructor tools (Formgrader, Create Assignment, the course
  list) and its Validate button, whose dialog prints every failing test's traceback while the
  whole server waits: the check cell of each notebook (%tito_test) replaces it.
Your own JupyterLab settings and workspaces stay where they were.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

STUDENT, INSTRUCTOR = "student", "instructor"
CONFIG_DIR = Path(".tito") / "jupyter"
NEWS_PROMPT = "@jupyterlab/apputils-extension:announcements"
INSTRUCTOR_ONLY_LAB = [
    "@jupyter/nbgrader:formgrader",
    "@jupyter/nbgrader:create-assignment",
    "@jupyter/nbgrader:course-list",
    "@jupyter/nbgrader:validate-assignment",
]
INSTRUCTOR_ONLY_SERVER = [
    "nbgrader.server_extensions.formgrader",
    "nbgrader.server_extensions.course_list",
    "nbgrader.server_extensions.validate_assignment",
]
LOCK_BADGE_CSS = """\
/* Written by `tito lab`. A locked cell (nbgrader's read-only tests and given code) says so:
   typing into it does nothing, and without this nothing tells you why. */
.jp-Notebook .jp-InputArea-editor:has(.cm-editor.jp-mod-readOnly) {
  position: relative;
  background: var(--jp-layout-color2);
}
.jp-Notebook .jp-InputArea-editor:has(.cm-editor.jp-mod-readOnly)::after {
  content: "\\1F512  locked: graded as written";
  position: absolute;
  bottom: 2px;
  right: 8px;
  font-size: var(--jp-ui-font-size0);
  color: var(--jp-ui-font-color2);
  pointer-events: none;
}
.jp-Notebook .cm-editor.jp-mod-readOnly .cm-content {
  cursor: not-allowed;
}
"""


def config_folder(root: Path, role: str) -> Path:
    """Write the role's Jupyter configuration folder under .tito/jupyter/ and return it."""
    folder = root / CONFIG_DIR / role
    disabled = [NEWS_PROMPT] + (INSTRUCTOR_ONLY_LAB if role == STUDENT else [])
    server_extensions = {name: False for name in INSTRUCTOR_ONLY_SERVER} if role == STUDENT else {}
    files = {
        "labconfig/page_config.json": json.dumps({"disabledExtensions": {name: True for name in disabled}}, indent=2),
        "jupyter_server_config.json": json.dumps({"ServerApp": {"jpserver_extensions": server_extensions}}, indent=2),
        "custom/custom.css": LOCK_BADGE_CSS,
    }
    for relative, text in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + ("" if text.endswith("\n") else "\n"), encoding="utf-8")
    return folder


def lab_command(root: Path, role: str, lab_arguments: list[str]) -> tuple[list[str], dict[str, str]]:
    """The command line and environment that start JupyterLab for `role` in the course at `root`."""
    from jupyter_core.paths import jupyter_config_dir

    own_config = Path(jupyter_config_dir())  # before it is replaced: the student's settings stay theirs
    environment = dict(os.environ)
    environment.setdefault("JUPYTERLAB_SETTINGS_DIR", str(own_config / "lab" / "user-settings"))
    environment.setdefault("JUPYTERLAB_WORKSPACES_DIR", str(own_config / "lab" / "workspaces"))
    environment["JUPYTER_CONFIG_DIR"] = str(config_folder(root, role))
    command = [sys.executable, "-m", "jupyterlab", "--custom-css", f"--ServerApp.root_dir={root}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # containers run as root; JupyterLab refuses root without it
    return command + lab_arguments, environment
