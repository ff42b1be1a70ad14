"""The JupyterHub loop through nbgrader's own exchange, on one machine: the instructor releases Module 01,
three students (each with a home of their own) fetch it, work on it and submit it, the instructor
collects the submissions and `tito grade` scores each one exactly."""

from __future__ import annotations

import concurrent.futures
import csv
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT, answered, copy_course, reference_answers
from nbgrader.api import Gradebook

from tito.build.release import nbgrader_api, nbgrader_environment
from tito.course.cells import nbgrader_meta
from tito.course.registry import find_module, load_modules

MODULE = find_module(load_modules(ROOT), "01")
COURSE_ID = "tinytorch"
pytestmark = pytest.mark.sandbox

# What each student does to the notebook they fetched: the last exercise they answer (0: none).
STUDENTS = {"ada": 99, "blaise": 0, "carl": 4}


def nbgrader(*args: str, cwd: Path, env: dict) -> str:
    run = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        check=False,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{run.stdout}{run.stderr}"
    return run.stdout + run.stderr


def exercise_number(grade_id: str) -> int:
    return int(grade_id.rsplit("_", 1)[1])


def test_release_fetch_submit_collect_and_grade_through_the_exchange(released_course: Path, tmp_path: Path) -> None:
    # The course, as the instructor keeps it: modules/ is released already.
    course = copy_course(released_course, tmp_path / "course")

    # The hub's shared settings: one system-wide nbgrader_config.py naming the exchange, which every
    # user's nbgrader reads (JUPYTER_CONFIG_PATH stands in for /etc/jupyter here).
    exchange = tmp_path / "exchange"
    exchange.mkdir()
    exchange.chmod(0o777)
    system_config = tmp_path / "etc_jupyter"
    system_config.mkdir()
    (system_config / "nbgrader_config.py").write_text(f"c = get_config()\nc.Exchange.root = {str(exchange)!r}\n")
    base_env = {key: value for key, value in os.environ.items() if not key.startswith("JUPYTER")}
    base_env["PATH"] = os.pathsep.join(
        [str(Path(sys.executable).parent), base_env.get("PATH", "")]
    )  # as if the venv were active: nbgrader runs `alembic`
    instructor_env = {**base_env, "JUPYTER_CONFIG_PATH": str(system_config)}

    nbgrader("release_assignment", MODULE.slug, cwd=course, env=instructor_env)
    course_exchange = exchange / COURSE_ID
    assert (course_exchange / "outbound" / MODULE.slug / MODULE.notebook_name).is_file()
    assert stat.S_IMODE((course_exchange / "inbound").stat().st_mode) == 0o2733  # anyone may drop in, no one may list
    assert stat.S_IMODE((course_exchange / "outbound").stat().st_mode) == 0o755

    # The students, side by side: each in their own home, with their own Jupyter folders and nbgrader
    # cache. A hub knows them by their login name; here everyone is the same OS user, so `--student` names them.
    answers = reference_answers(MODULE)

    def student_env(student: str) -> dict:
        home = tmp_path / f"home_{student}"
        home.mkdir(exist_ok=True)
        return {
            **base_env,
            "HOME": str(home),
            "USER": student,
            "LOGNAME": student,
            "JUPYTERHUB_USER": student,
            "JUPYTER_CONFIG_PATH": str(system_config),
        }

    def student_works(student: str, upto: int) -> dict:
        env = student_env(student)
        home = Path(env["HOME"])
        if student == "ada":
            assert f"{COURSE_ID} {MODULE.slug}" in nbgrader("list", cwd=home, env=env)  # what the Assignments tab lists
        nbgrader("fetch_assignment", MODULE.slug, "--course", COURSE_ID, cwd=home, env=env)
        path = home / MODULE.slug / MODULE.notebook_name
        fetched = json.loads(path.read_text())
        path.write_text(
            json.dumps(answered(fetched, {g: a for g, a in answers.items() if exercise_number(g) <= upto}), indent=1)
        )
        nbgrader("submit", MODULE.slug, "--course", COURSE_ID, "--student", student, cwd=home, env=env)
        return fetched

    with concurrent.futures.ThreadPoolExecutor(len(STUDENTS)) as pool:
        work = {student: pool.submit(student_works, student, upto) for student, upto in STUDENTS.items()}
        fetched = {student: future.result() for student, future in work.items()}
    released = json.loads(MODULE.notebook(course).read_text())
    assert all(notebook == released for notebook in fetched.values())  # everyone got exactly the release
    submissions = sorted(p.name.split("+")[0] for p in (course_exchange / "inbound").iterdir())
    assert submissions == sorted(STUDENTS)

    # The instructor collects into submitted/<student>/01_tensor/ and grades.
    log = nbgrader("collect", MODULE.slug, cwd=course, env=instructor_env)
    assert all(f"Collecting submission: {student} {MODULE.slug}" in log for student in STUDENTS), log
    for student in STUDENTS:
        assert (course / "submitted" / student / MODULE.slug / MODULE.notebook_name).is_file()
        assert (course / "submitted" / student / MODULE.slug / "timestamp.txt").is_file()
    run = subprocess.run(
        [sys.executable, "-m", "tito.cli", "grade", "01", "--jobs", "2"],
        check=False,
        cwd=course,
        env=instructor_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr

    points = {
        nbgrader_meta(c)["grade_id"]: float(nbgrader_meta(c)["points"])
        for c in released["cells"]
        if nbgrader_meta(c).get("grade")
    }
    full = sum(points.values())
    assert full == MODULE.points
    with open(course / "reports" / MODULE.slug / "grades.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    totals: dict[str, float] = {}
    for row in rows:
        totals[row["student"]] = totals.get(row["student"], 0.0) + float(row["points"])
    expected = {
        student: sum(p for grade_id, p in points.items() if exercise_number(grade_id) <= upto)
        for student, upto in STUDENTS.items()
    }
    assert expected == {"ada": full, "blaise": 0, "carl": sum(points[f"test_01_{n}"] for n in range(1, 5))}
    assert totals == expected, run.stdout + run.stderr
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        assert {s: gradebook.find_submission(MODULE.slug, s).score for s in STUDENTS} == expected
    for student in STUDENTS:
        assert (course / "feedback" / student / MODULE.slug / f"{MODULE.slug}.html").is_file()

    # nbgrader's own view agrees (the Formgrader's): every submission autograded, with tito's score.
    with nbgrader_environment():
        listed = {s["student"]: s for s in nbgrader_api(course).get_submissions(MODULE.slug)}
    assert {s: (listed[s]["autograded"], listed[s]["score"]) for s in STUDENTS} == {
        s: (True, total) for s, total in expected.items()
    }

    # Feedback goes back through the exchange, and each student fetches their own page.
    nbgrader("release_feedback", MODULE.slug, cwd=course, env=instructor_env)
    for student in STUDENTS:
        env = student_env(student)
        nbgrader("fetch_feedback", MODULE.slug, "--course", COURSE_ID, "--student", student, cwd=env["HOME"], env=env)
        pages = list((Path(env["HOME"]) / MODULE.slug / "feedback").glob(f"*/{MODULE.slug}.html"))
        assert len(pages) == 1, (student, pages)
        assert f"(Score: {float(expected[student])} / {float(full)})" in pages[0].read_text(), student
