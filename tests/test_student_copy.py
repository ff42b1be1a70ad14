"""`tito release --student-copy`: the course as a class receives it, and the README's student
commands run in it, as a student would run them on a fresh machine: in a folder whose path has
spaces and accents, with the POSIX-only modules unimportable for the course's code, as on Windows
(tests/student_path.py, which .ci/run also runs on Python 3.10 and 3.13)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from helpers import ROOT, readme_commands
from student_path import BLOCKER, FOLDER_NAME

from tito.build.student_copy import leaks, make_student_copy, secret_lines
from tito.errors import StudentCopyError

pytestmark = pytest.mark.slow
INSTRUCTORS_ONLY = ("source_solutions", "tests", ".ci", "autograded", ".tito", "gradebook.db")


def instructors_course(destination: Path) -> Path:
    """A copy of the course as committed (every file git tracks), to release from."""
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    for name in filter(None, tracked):
        if (ROOT / name).is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, destination / name)
    return destination


def tito(*args: str, cwd: Path, python: str = sys.executable) -> subprocess.CompletedProcess:
    environment = {name: value for name, value in os.environ.items() if name not in ("TITO_COURSE_ROOT", "PYTHONPATH")}
    return subprocess.run(
        [python, "-m", "tito.cli", *args], cwd=cwd, capture_output=True, text=True, env=environment, timeout=600
    )


@pytest.fixture(scope="module")
def copies(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the instructor's course, the student copy `tito release --student-copy --git` wrote from it)."""
    course = instructors_course(tmp_path_factory.mktemp("instructor"))
    students = tmp_path_factory.mktemp("class") / FOLDER_NAME
    run = tito("release", "--student-copy", str(students), "--git", cwd=course)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"wrote the students' copy of the course to {students}" in run.stdout
    return course, students


def test_the_copy_holds_what_students_need_and_nothing_instructors_keep(copies: tuple[Path, Path]) -> None:
    course, students = copies
    for needed in (
        "README.md",
        "pyproject.toml",
        "environment.yml",
        "modules.toml",
        "nbgrader_config.py",
        "modules/01_tensor/01_tensor.ipynb",
        "tinytorch/core/tensor.py",
        "tito/cli.py",
        "datasets/mnist/SHA256SUMS",
        "datasets/tinydigits/tinydigits.npz",
        "milestones/README.md",
    ):
        assert (students / needed).is_file(), needed
    for kept in INSTRUCTORS_ONLY:
        assert not (students / kept).exists(), kept
    assert (students / "modules/01_tensor/01_tensor.ipynb").read_bytes() == (
        course / "modules/01_tensor/01_tensor.ipynb"
    ).read_bytes()
    status = subprocess.run(["git", "status", "--porcelain"], cwd=students, capture_output=True, text=True, check=True)
    commits = subprocess.run(
        ["git", "rev-list", "--count", "HEAD"], cwd=students, capture_output=True, text=True, check=True
    )
    assert status.stdout == "" and commits.stdout.strip() == "1", "a git repository with everything in one commit"


def test_the_copy_holds_no_solution_or_hidden_test_text(copies: tuple[Path, Path]) -> None:
    course, students = copies
    secrets = secret_lines(course)
    assert len(secrets) > 50, "the source notebooks' solution and hidden-test lines are what the search looks for"
    assert any("_hidden" in line for line in secrets) and any("return Tensor(" in line for line in secrets)
    assert leaks(students, secrets) == []
    readme = (students / "README.md").read_text()
    assert "instructors only" not in readme and "--solution" not in readme and "source_solutions" not in readme


def test_a_copy_that_would_leak_is_not_written(copies: tuple[Path, Path], tmp_path: Path) -> None:
    course, _ = copies
    secret = sorted(secret_lines(course))[0]
    milestones = course / "milestones" / "README.md"
    original = milestones.read_text()
    milestones.write_text(original + f"\n{secret}\n")
    try:
        with pytest.raises(StudentCopyError, match="would hold solution or hidden-test text") as error:
            make_student_copy(course, tmp_path / "leaky")
        assert f"milestones/README.md: {secret}" in str(error.value)
        assert not (tmp_path / "leaky").exists(), "nothing half-made is left to hand out by mistake"
    finally:
        milestones.write_text(original)
    with pytest.raises(StudentCopyError, match="inside the course folder"):
        make_student_copy(course, course / "students")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    with pytest.raises(StudentCopyError, match="not empty"):
        make_student_copy(course, tmp_path / "taken")
    assert (tmp_path / "taken" / "notes.txt").read_text() == "mine"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_jupyter_lab(command: str, folder: Path, home: Path) -> tuple[subprocess.Popen, str]:
    """The README's `tito lab`, headless: no browser, loopback, a token, HOME in a scratch folder
    (as root, in containers and CI, tito lab adds --allow-root itself)."""
    port, token = free_port(), "student-copy-test"
    flags = ["--", "--no-browser", "--ip=127.0.0.1", f"--port={port}", f"--IdentityProvider.token={token}"]
    environment = {**os.environ, "HOME": str(home), "JUPYTER_CONFIG_DIR": str(home / ".jupyter")}
    process = subprocess.Popen(
        [*command.split(), *flags],
        cwd=folder,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    return process, f"http://127.0.0.1:{port}/api/contents/modules/01_tensor/01_tensor.ipynb?content=0&token={token}"


def wait_for(url: str, process: subprocess.Popen, seconds: float = 90) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"jupyter lab exited with {process.returncode}: {process.stderr.read()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return json.loads(response.read())
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"jupyter lab did not answer {url} within {seconds} s")


def test_the_readme_student_commands_work_in_the_copy(copies: tuple[Path, Path], tmp_path: Path) -> None:
    """Install, `tito doctor`, `tito lab` (serving the module's notebook), `tito test 01`: as the README says."""
    _, students = copies
    install, doctor, lab, test = readme_commands((students / "README.md").read_text())[0]
    blocker = tmp_path / "posix-blocker"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(BLOCKER, encoding="utf-8")
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in ("TITO_COURSE_ROOT", "PYTHONPATH", "VIRTUAL_ENV")
    } | {"PYTHONPATH": str(blocker), "PIP_COMPILE": "0"}  # the README's install, without byte-compiling it all

    installed = subprocess.run(
        install, shell=True, cwd=students, capture_output=True, text=True, env=environment, timeout=900
    )
    assert installed.returncode == 0, installed.stdout[-2000:] + installed.stderr[-2000:]
    # ... and then the milestone: in a fresh copy it names the first exercise to finish, with no reference to fall back to
    assert (
        "Your tinytorch is not complete yet: finish Module 01, Exercise 01.1 (Tensor.__init__)" in installed.stdout
    ), installed.stdout[-2000:]
    assert "reference" not in installed.stdout.split("Your tinytorch is not complete yet")[-1]

    checked = subprocess.run(doctor.split(), cwd=students, capture_output=True, text=True, env=environment, timeout=300)
    assert checked.returncode == 0 and "everything looks fine" in checked.stdout, checked.stdout + checked.stderr
    assert str(students / "tinytorch") in checked.stdout, "`import tinytorch` finds the copy's own package"

    process, url = start_jupyter_lab(lab, students, tmp_path)
    try:
        served = wait_for(url, process)
        assert served["type"] == "notebook" and served["name"] == "01_tensor.ipynb"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)

    tested = subprocess.run(test.split(), cwd=students, capture_output=True, text=True, env=environment, timeout=600)
    assert tested.returncode == 1, tested.stdout + tested.stderr  # nothing is done yet
    assert "0 passed, 0 failed, 11 not attempted" in tested.stdout, tested.stdout
    assert "score: 0/20 points on the visible tests" in tested.stdout

    solution = tito("test", "01", "--solution", cwd=students, python=str(students / ".venv/bin/python"))
    assert (
        solution.returncode == 2
        and "the instructor's solutions (source_solutions/) are not part of this copy" in solution.stderr
    )
