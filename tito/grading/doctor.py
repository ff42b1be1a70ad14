"""`tito doctor`'s checks of what grading needs, in the instructor's course: bubblewrap and the
namespaces it makes, the gradebook, the exchange when one is configured, Chromium for the browser
tests. Each failure comes with its one-line fix."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tito.build.release import exchange_folder
from tito.grading.sandbox import bubblewrap_probe
from tito.student.doctor import Check


def check_bubblewrap() -> list[Check]:
    program, why = bubblewrap_probe()
    if program is None:
        return [(False, "bubblewrap (tito grade's sandbox) is not installed", "sudo apt-get install bubblewrap")]
    fix = (
        "user namespaces are off here: `sudo sysctl -w kernel.unprivileged_userns_clone=1` (Debian) or "
        "`kernel.apparmor_restrict_unprivileged_userns=0` (Ubuntu 24.04); in a container, grade as root inside "
        "it or give it namespaces (see the README's hub guide); else `tito grade --no-sandbox`"
    )
    return [
        (True, f"bubblewrap at {program}", ""),
        (
            not why,
            "bubblewrap can make a sandbox here" + (f" ({why})" if why else ""),
            fix,
        ),
    ]


def check_gradebook(root: Path) -> Check:
    path = root / "gradebook.db"
    if path.exists():
        ok = os.access(path, os.R_OK | os.W_OK)
        return ok, f"the gradebook {path.name}" + ("" if ok else " is not writable by you"), f"chmod u+rw {path}"
    ok = os.access(root, os.W_OK)
    return ok, "the gradebook (made by the first `tito grade`)", f"make {root} writable by you"


def check_exchange(root: Path) -> Check:
    """The exchange nbgrader's configuration names, when it names one or the default exists."""
    place, named = exchange_folder(root)
    if not named and not place.exists():
        return True, "no nbgrader exchange (grading from folders; set one up for a hub, see the README)", ""
    ok = place.is_dir() and os.access(place, os.W_OK | os.X_OK)
    fix = f"sudo mkdir -p {place} && sudo chmod 777 {place}"
    return ok, f"the nbgrader exchange {place}" + ("" if ok else " is missing or not writable"), fix


def check_chromium() -> Check:
    found = next((shutil.which(name) for name in ("chromium", "chromium-browser") if shutil.which(name)), None)
    return (
        found is not None,
        f"Chromium for the browser tests{f' at {found}' if found else ''}",
        "sudo apt-get install chromium (the browser tests skip without it, except under .ci/run)",
    )


def grading_checks(root: Path) -> list[Check]:
    return [*check_bubblewrap(), check_gradebook(root), check_exchange(root), check_chromium()]
