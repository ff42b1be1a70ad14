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

from tito.build.release import exchange_folder

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
/* Written by `tito lab`. A locked cell (nbgrader's read-only tests and given code) looks locked at a
   glance, and says so when clicked into: typing into it does nothing, and nothing else tells you why.
   The banner sits on its own line above the code, covering none of it, and is words only: an emoji
   shows as an empty box where no emoji font is installed (minimal Linux and hub images). */
.jp-Notebook .jp-InputArea-editor:has(.cm-editor.jp-mod-readOnly) {
  background: repeating-linear-gradient(135deg, var(--jp-layout-color2) 0 12px, var(--jp-layout-color1) 12px 24px);
  border-left: 4px solid var(--jp-warn-color1);
}
.jp-Notebook .jp-InputArea-editor:has(.cm-editor.jp-mod-readOnly)::before {
  content: "LOCKED: graded as written";
  display: block;
  width: fit-content;
  max-width: calc(100% - 200px); /* clear of the cell's toolbar, top right */
  margin: 2px 0 2px 4px;
  padding: 1px 6px;
  border-radius: 3px;
  font-family: var(--jp-ui-font-family);
  font-size: var(--jp-ui-font-size1);
  font-weight: bold;
  color: var(--jp-ui-inverse-font-color0);
  background: var(--jp-warn-color1);
  pointer-events: none;
}
.jp-Notebook .jp-InputArea-editor:has(.cm-editor.jp-mod-readOnly.cm-focused)::before {
  content: "LOCKED: this cell cannot be edited; write your code in the exercise cell above";
  font-size: var(--jp-ui-font-size2);
}
.jp-Notebook .cm-editor.jp-mod-readOnly .cm-content {
  cursor: not-allowed;
}
"""
# Long lines wrap in every cell, so that no hint or TODO ends past the editor's edge.
LAB_OVERRIDES = {
    "@jupyterlab/notebook-extension:tracker": {
        "codeCellConfig": {"lineWrap": True},
        "markdownCellConfig": {"lineWrap": True},
        "rawCellConfig": {"lineWrap": True},
    }
}


ASSIGNMENTS_LAB = "@jupyter/nbgrader:assignment-list"
ASSIGNMENTS_SERVER = "nbgrader.server_extensions.assignment_list"


def config_folder(root: Path, role: str) -> Path:
    """Write the role's Jupyter configuration folder under .tito/jupyter/ and return it. Without an
    nbgrader exchange on this machine, nbgrader's Assignments panel is off too: it has nothing to
    list, and its server extension would log a critical "Unwritable directory" line at every poll."""
    folder = root / CONFIG_DIR / role
    exchange, _ = exchange_folder(root)
    no_exchange = not exchange.is_dir()
    disabled = (
        [NEWS_PROMPT] + (INSTRUCTOR_ONLY_LAB if role == STUDENT else []) + ([ASSIGNMENTS_LAB] if no_exchange else [])
    )
    off = (INSTRUCTOR_ONLY_SERVER if role == STUDENT else []) + ([ASSIGNMENTS_SERVER] if no_exchange else [])
    server_extensions = dict.fromkeys(off, False)
    files = {
        "labconfig/page_config.json": json.dumps({"disabledExtensions": {name: True for name in disabled}}, indent=2),
        "jupyter_server_config.json": json.dumps({"ServerApp": {"jpserver_extensions": server_extensions}}, indent=2),
        "custom/custom.css": LOCK_BADGE_CSS,
        "lab-settings/overrides.json": json.dumps(LAB_OVERRIDES, indent=2),
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
    folder = config_folder(root, role)
    environment["JUPYTER_CONFIG_DIR"] = str(folder)
    command = [sys.executable, "-m", "jupyterlab", "--custom-css", f"--ServerApp.root_dir={root}"]
    command.append(f"--LabApp.app_settings_dir={folder / 'lab-settings'}")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # containers run as root; JupyterLab refuses root without it
    return command + lab_arguments, environment
