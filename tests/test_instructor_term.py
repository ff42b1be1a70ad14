"""An instructor's term with one class: six students' Module 02, graded from a plain folder; one
regraded; who needs a human read from the report; nbgrader's own tools agreeing with `tito grade`;
grades out to a spreadsheet and to Canvas; the class graded in shards and merged back.

The six are the class a new instructor graded (totals 12, 5, 5, 0, 9, 5): finished; half done;
an overflow bug in 02.6; blank; a kernel that segfaults in 02.4's test; 02.2 partly done.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import ROOT, answered, copy_course, reference_answers, released_notebook

from tito.course.cells import is_demonstration
from tito.course.registry import find_module, load_modules

pytestmark = pytest.mark.sandbox
MODULE = find_module(load_modules(ROOT), "02")
ANSWERS = reference_answers(MODULE)
OVERFLOWS = ANSWERS["ex_02_6"].replace(
    "shifted = x.data - x.data.max(axis=self.axis, keepdims=True)\n", "shifted = x.data\n"
)
SEGFAULTS = ANSWERS["ex_02_4"].split("### BEGIN SOLUTION")[0] + "import ctypes\n        ctypes.string_at(0)\n"
HALF_OF_02_2 = ANSWERS["ex_02_2"].replace(
    "        return Tensor(np.where(x.data > 0, x.data, self.negative_slope * x.data))\n",
    '        raise NotImplementedError("Exercise 02.2: LeakyReLU.forward")\n',
)


def only(*numbers: int, **changed: str) -> dict[str, str]:
    """The reference answers of the exercises `numbers`, with `changed` ({grade_id: source}) instead."""
    answers = {grade_id: source for grade_id, source in ANSWERS.items() if int(grade_id.rsplit("_", 1)[1]) in numbers}
    return {**answers, **changed}


CLASS = {  # student -> (answers, total)
    "ada": (only(1, 2, 3, 4, 5, 6), 12),
    "bob": (only(1, 2, 3), 5),
    "cleo": (only(1, 2, 3, 4, 5, ex_02_6=OVERFLOWS), 9),
    "dan": ({}, 0),
    "eve": (only(1, 2, 3, ex_02_4=SEGFAULTS), 5),
    "fay": (only(3, 5, ex_02_2=HALF_OF_02_2), 5),
}


def tito(course: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    run = subprocess.run(
        [sys.executable, "-m", "tito.cli", *args], cwd=course, capture_output=True, text=True, timeout=timeout
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return run


def rows_of(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def totals_in(course: Path) -> dict[str, float]:
    return {
        row["student"]: float(row["total"]) for row in rows_of(course / "reports" / MODULE.slug / "grades-wide.csv")
    }


def write_class(course: Path, students: dict, folder: str = "class") -> None:
    (course / folder).mkdir()
    released = released_notebook(MODULE, course)
    for student, (answers, _) in students.items():
        (course / folder / f"{student}.ipynb").write_text(json.dumps(answered(released, answers), indent=1))


@pytest.fixture(scope="module")
def term(released_course: Path, tmp_path_factory: pytest.TempPathFactory):
    """The class graded once: (course, the run)."""
    course = copy_course(released_course, tmp_path_factory.mktemp("term") / "course")
    shutil.rmtree(course / ".tito" / "reference", ignore_errors=True)  # grading makes what it needs
    write_class(course, CLASS)
    run = tito(course, "grade", "02", "--from", "class", "--jobs", "2", "--submitted-at", "2026-12-01 23:00")
    return course, run


def test_every_total_is_right_and_the_console_names_what_did_not_pass(term) -> None:
    course, run = term
    assert totals_in(course) == {student: total for student, (_, total) in CLASS.items()}, run.stdout
    lines = {line.split(":")[0]: line for line in run.stdout.splitlines() if ":" in line}
    assert lines["ada"] == "ada: 12/12"
    assert "failed 02.6" in lines["cleo"], lines["cleo"]
    assert "partly done 02.2" in lines["fay"] and "not attempted 02.1, 02.4, 02.6" in lines["fay"], lines["fay"]
    assert "error 02.4" in lines["eve"], lines["eve"]
    assert "the test cell of Exercise 02.4" in run.stdout and "SIGSEGV" in run.stdout, run.stdout
    assert "graded 6 of 6 submissions" in run.stdout
    by_exercise = {
        (r["student"], r["exercise"]): r["status"] for r in rows_of(course / "reports" / MODULE.slug / "grades.csv")
    }
    assert by_exercise[("fay", "02.2")] == "partly done" and by_exercise[("bob", "02.4")] == "not attempted"


def test_the_report_says_who_needs_a_human_and_what_failed_among_those_who_tried(term) -> None:
    course, _ = term
    report = (course / "reports" / MODULE.slug / "report.html").read_text()
    attention = report.split("<h2>Needs a human")[1].split("<h2>")[0]
    assert "eve" in attention and "<i>error</i>: Exercise 02.4" in attention and "ada" not in attention, attention
    assert "dan" in attention and "nothing attempted" in attention, "a blank submission may be the wrong file"
    assert "6 students, 6 graded" in report
    exercises = report.split("<h2>Exercises")[1]
    row = next(line for line in exercises.split("<tr>") if line.startswith("<td>02.6"))
    cells = [cell.split("</td>")[0] for cell in row.split("<td>")[1:]]
    assert cells[2:6] == ["1", "1", "0", "4"], cells  # passed, failed, partly done, not attempted
    assert cells[7].startswith("failed:") and "inf" in cells[7].lower() + cells[7], cells[7]  # cleo's overflow
    for student in CLASS:
        link = f"../../feedback/{student}/{MODULE.slug}/{MODULE.slug}.html"
        assert f"href='{link}'" in report and (course / "reports" / MODULE.slug / link).resolve().is_file()
    logs = list((course / "reports" / MODULE.slug / "logs").glob("*.log"))
    assert len(logs) == 1 and "cleo: 9/12" in logs[0].read_text() and "ended: done" in logs[0].read_text()


def test_nbgrader_sees_what_tito_graded_with_its_time(term) -> None:
    course, _ = term
    from tito.build.release import nbgrader_api, nbgrader_environment

    with nbgrader_environment():
        api = nbgrader_api(course)
        submissions = {s["student"]: s for s in api.get_submissions(MODULE.slug)}
    assert set(submissions) == set(CLASS)
    for student, (_, total) in CLASS.items():
        assert submissions[student]["autograded"] is True, submissions[student]
        assert submissions[student]["score"] == total, submissions[student]
        assert submissions[student]["timestamp"].startswith("2026-12-01T23:00"), submissions[student]
        for folder in ("submitted", "autograded", "feedback"):
            assert (course / folder / student / MODULE.slug / "timestamp.txt").is_file(), (folder, student)
    exported = course / "grades-export.csv"
    subprocess.run(
        [sys.executable, "-m", "nbgrader", "export", "--to", str(exported)], cwd=course, check=True, capture_output=True
    )
    assert all(
        row["timestamp"].startswith("2026-12-01 23:00") for row in rows_of(exported) if row["assignment"] == MODULE.slug
    )


def test_feedback_names_each_exercise_says_what_did_not_run_and_needs_no_network(term) -> None:
    course, _ = term
    page = (course / "feedback" / "cleo" / MODULE.slug / f"{MODULE.slug}.html").read_text()
    assert "Exercise 02.6" in page and "LogSoftmax" in page and "Test cell</a>" not in page
    assert "checks.py" not in page and "tito/student" not in page, "a failed check shows the student's frames only"
    demonstrations = [cell for cell in released_notebook(MODULE, course)["cells"] if is_demonstration(cell)]
    assert len(demonstrations) >= 2 and page.count("(not run during grading") == len(demonstrations), (
        "a cell that only demonstrates must say it was not run, wherever it is (after hidden tests too)"
    )
    assert "<math" in page and "<script" not in page  # math drawn by the browser; nothing fetched from a CDN


def test_regrading_one_student_keeps_the_class_and_takes_about_one_notebook(term, tmp_path: Path) -> None:
    course, _ = term
    fixed = {"bob": (only(1, 2, 3, 4, 5, 6), 12)}
    write_class(course, fixed, folder="resubmitted")
    started = time.perf_counter()
    run = tito(course, "grade", "02", "--from", "resubmitted", "--students", "bob", "--jobs", "1")
    seconds = time.perf_counter() - started
    assert "bob: 12/12" in run.stdout
    expected = {student: total for student, (_, total) in CLASS.items()} | {"bob": 12}
    assert totals_in(course) == expected
    assert "6 students, 6 graded" in (course / "reports" / MODULE.slug / "report.html").read_text()
    kept = list((course / ".tito" / "replaced" / "bob").iterdir())
    assert len(kept) == 1, "bob's first submission was lost"
    per_notebook = max(
        o["seconds"]
        for o in map(json.loads, map(Path.read_text, (course / "reports" / MODULE.slug / "outcomes").glob("*.json")))
    )
    print(f"regrading one student: {seconds:.1f} s; the slowest notebook graded in {per_notebook:.1f} s")

    # The same notebook graded again keeps the time it was recorded with (not its copy's file time),
    # and nbgrader's timestamp.txt, the gradebook and the CSV say one time.
    tito(course, "grade", "02", "--from", "class", "--students", "cleo", "--jobs", "1")
    recorded = (course / "submitted" / "cleo" / MODULE.slug / "timestamp.txt").read_text()
    wide = {row["student"]: row for row in rows_of(course / "reports" / MODULE.slug / "grades-wide.csv")}
    assert recorded.startswith("2026-12-01 23:00") and wide["cleo"]["submitted_at"] == recorded, (
        recorded,
        wide["cleo"],
    )
    assert (course / "autograded" / "cleo" / MODULE.slug / "timestamp.txt").read_text() == recorded
    assert not (course / ".tito" / "replaced" / "cleo").exists(), "an identical notebook replaced nothing"


def test_grades_go_out_as_a_course_table_and_a_canvas_import(term) -> None:
    course, _ = term
    roster = course / "roster.csv"
    people = [(s, s.title() + " Lovelace", f"{s}@example.edu") for s in CLASS] + [("zed", "Zed", "zed@example.edu")]
    roster.write_text("id,name,email\n" + "".join(f"{i},{n},{e}\n" for i, n, e in people), encoding="utf-8")
    run = tito(course, "grades", "--canvas", str(roster))
    assert "zed (Zed) has no grade in 02_activations" in run.stderr
    assert "no canvas_id or sis_user_id column" in run.stderr, "Canvas would match by ids it may not know"
    assert f"needs a human before these grades are final: reports/{MODULE.slug}/report.html" in run.stderr
    table = rows_of(course / "reports" / "course.csv")
    assert table[0]["student"] == "(points possible)" and table[0][MODULE.slug] == table[0]["total"] == "12"
    attention = {row["student"]: row["needs a human"] for row in table[1:]}
    assert attention["eve"].startswith(f"{MODULE.slug}: ") and "error" in attention["eve"], attention
    assert attention["ada"] == "" and attention["dan"] == f"{MODULE.slug}: nothing attempted", attention
    with open(course / "reports" / "canvas.csv", newline="", encoding="utf-8") as handle:
        canvas = list(csv.reader(handle))
    # Canvas's gradebook import: these five columns, then one per assignment; a "Points Possible" row.
    assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Module 02: Activations"]
    assert canvas[1] == ["Points Possible", "", "", "", "", "12"]
    scores = {row[2]: row[5] for row in canvas[2:]}
    assert scores["cleo"] == "9" and scores["dan"] == "0" and scores["zed"] == ""


def before_grading(course: Path, released_course: Path, destination: Path) -> Path:
    """A copy of the graded course as it was before grading (its reference export and kept release
    stay, which a real copy would make again in seconds): no submissions, grades or reports."""
    copy = copy_course(course, destination)
    for name in ("reports", "submitted", "autograded", "feedback", "resubmitted", ".tito/replaced"):
        shutil.rmtree(copy / name, ignore_errors=True)
    shutil.copy2(released_course / "gradebook.db", copy / "gradebook.db")
    return copy


def test_shards_graded_apart_merge_to_what_one_run_gives(term, released_course: Path, tmp_path: Path) -> None:
    course, _ = term
    sharded = {"cleo", "dan", "fay"}  # fay falls in shard 1 of 2, cleo and dan in shard 2
    shards = []
    for index in (1, 2):
        shard = before_grading(course, released_course, tmp_path / f"shard{index}")
        tito(shard, "grade", "02", "--from", "class", "--students", *sorted(sharded), "--shard", f"{index}/2")
        shards.append(shard)
    merged = before_grading(course, released_course, tmp_path / "merged")
    tito(merged, "merge-grades", "02", *map(str, shards))
    expected = [row for row in rows_of(course / "reports" / MODULE.slug / "grades.csv") if row["student"] in sharded]
    got = rows_of(merged / "reports" / MODULE.slug / "grades.csv")
    assert got == expected and {row["student"] for row in got} == sharded
    for student in sharded:
        assert (merged / "feedback" / student / MODULE.slug / f"{MODULE.slug}.html").is_file()


def test_a_careless_name_a_roster_a_copy_and_forgetting_a_wrong_name(term) -> None:
    """After the term above (bob resubmitted ada's code): fay's notebook named `fay_final_v2.ipynb`
    goes to fay, with a roster a file that names no one is not graded, the same code in two
    submissions needs a human, and a student graded under a wrong name can be taken out again."""
    course, _ = term
    roster = course / "class-roster.csv"
    roster.write_text("id,name,email\n" + "".join(f"{s},{s.title()},{s}@example.edu\n" for s in CLASS))
    careless = course / "careless"
    careless.mkdir()
    shutil.copy2(course / "class" / "fay.ipynb", careless / "fay_final_v2.ipynb")
    shutil.copy2(course / "class" / "dan.ipynb", careless / "nobody_hw2.ipynb")
    run = tito(course, "grade", "02", "--from", "careless", "--roster", str(roster))
    assert "took fay_final_v2.ipynb for student 'fay'" in run.stdout and "fay: 5/12" in run.stdout, run.stdout
    assert "nobody_hw2.ipynb (as 'nobody') names no student of the roster: not graded" in run.stderr, run.stderr
    log = max((course / "reports" / MODULE.slug / "logs").glob("*.log")).read_text()
    assert "names no student of the roster" in log, "the warnings are in the run's log too"
    report = (course / "reports" / MODULE.slug / "report.html").read_text()
    attention = report.split("<h2>Needs a human")[1].split("<h2>")[0]
    assert "same code" in attention and "as in ada&#x27;s submission" in attention, attention  # bob's resubmission

    wrong = tito(course, "grade", "02", "--from", "careless", "--students", "nobody")
    assert "nobody: 0/12" in wrong.stdout and "nobody" in totals_in(course)
    forgot = tito(course, "forget", "02", "nobody")
    assert "forgot nobody's 02_activations" in forgot.stdout
    assert set(totals_in(course)) == set(CLASS)
    assert list((course / ".tito" / "forgotten").glob(f"*/submitted/nobody/{MODULE.slug}/*.ipynb"))
    from tito.build.release import nbgrader_api, nbgrader_environment

    with nbgrader_environment():
        students = {s["student"] for s in nbgrader_api(course).get_submissions(MODULE.slug)}
    assert students == set(CLASS), students
