"""`tito grade` on a class of Module 01 submissions: honest ones, broken ones and hostile ones, graded
together in one run, each to its exact expected score and log line, none disturbing the rest."""

from __future__ import annotations

import copy
import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT, answered, copy_course, reference_answers, released_notebook
from nbgrader.api import Gradebook

from tito.course.cells import cell_source, nbgrader_meta, read_notebook
from tito.course.registry import SOURCE_DIR, find_module, load_modules
from tito.errors import GradeLockBusy
from tito.grading.grade import grading_lock
from tito.grading.results import merge_csvs
from tito.grading.submissions import in_shard, student_from_file_name

MODULE = find_module(load_modules(ROOT), "01")
pytestmark = pytest.mark.sandbox


def released() -> dict:
    return released_notebook(MODULE)


ANSWERS = reference_answers(MODULE)
POINTS = {
    nbgrader_meta(c)["grade_id"]: float(nbgrader_meta(c)["points"])
    for c in released()["cells"]
    if nbgrader_meta(c).get("grade")
}
FULL = sum(POINTS.values())


def exercise_number(grade_id: str) -> int:
    return int(grade_id.rsplit("_", 1)[1])


def points_up_to(last: int) -> float:
    """The points of exercises 01.1 .. 01.<last>."""
    return sum(points for grade_id, points in POINTS.items() if exercise_number(grade_id) <= last)


def filled(upto: int = 99) -> dict:
    """The release with exercises 01.1 .. 01.<upto> answered."""
    return answered(
        released(), {grade_id: answer for grade_id, answer in ANSWERS.items() if exercise_number(grade_id) <= upto}
    )


def code(source: str) -> dict:
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": f"mine-{abs(hash(source)) % 10**8}",
        "metadata": {},
        "outputs": [],
        "source": source,
    }


def after(notebook: dict, grade_id: str, *cells: dict) -> dict:
    """Insert the student's own cells right after the cell `grade_id`."""
    index = next(i for i, cell in enumerate(notebook["cells"]) if nbgrader_meta(cell).get("grade_id") == grade_id)
    notebook["cells"][index + 1 : index + 1] = list(cells)
    return notebook


def first(notebook: dict, *cells: dict) -> dict:
    return after(notebook, "setup", *cells)


def without(notebook: dict, *grade_ids: str) -> dict:
    notebook["cells"] = [cell for cell in notebook["cells"] if nbgrader_meta(cell).get("grade_id") not in grade_ids]
    return notebook


def tagged_tests(notebook: dict, tag: str) -> dict:
    for cell in notebook["cells"]:
        if nbgrader_meta(cell).get("grade"):
            cell["metadata"]["tags"] = [tag]
    return notebook


def stripped(notebook: dict) -> dict:
    for cell in notebook["cells"]:
        cell["metadata"] = {}
    return notebook


def nbformat_44(notebook: dict) -> dict:
    for cell in notebook["cells"]:
        cell.pop("id", None)
    notebook["nbformat_minor"] = 4
    return notebook


def with_lines_in_init(notebook: dict, *added: str) -> dict:
    """Exercise 01.1's answer with `added` lines at the top of Tensor.__init__'s body."""
    for cell in notebook["cells"]:
        if nbgrader_meta(cell).get("grade_id") == "ex_01_1":
            lines = cell_source(cell).splitlines()
            at = next(i for i, line in enumerate(lines) if "def __init__" in line)
            indent = re.match(r"\s*", lines[at]).group(0) + "    "
            lines[at + 1 : at + 1] = [indent + line for line in added]
            cell["source"] = "\n".join(lines)
    return notebook


def copies_locked_cell(notebook: dict) -> dict:
    test = next(cell for cell in notebook["cells"] if nbgrader_meta(cell).get("grade_id") == "test_01_2")
    notebook["cells"].append(copy.deepcopy(test))
    return notebook


def edited_test(notebook: dict) -> dict:
    for cell in notebook["cells"]:
        if nbgrader_meta(cell).get("grade_id") == "test_01_3":
            cell["source"] = "pass  # nothing to see here"
    return notebook


def cheats_with(source: str) -> dict:
    """A blank notebook whose first own cell tries `source`, then exec()s whatever answers it found."""
    return first(released(), code(source + "\nfor _answer in answers:\n    exec(_answer, globals())\n"))


def hostile_sources(course: Path) -> dict[str, str]:
    """The ways the trial class found to take answers or tests from outside the notebook."""
    reads = "import json\nanswers = []\n"
    grab = (
        "    try:\n        cells = json.loads(open(path).read())['cells']\n"
        "        answers += [''.join(c['source']) for c in cells if c.get('metadata', {}).get('nbgrader', {}).get('solution')]\n"
        "    except Exception as error:\n        print('could not read', path, type(error).__name__)\n"
    )
    return {
        "solutions_via_tito": reads
        + "import tito, pathlib\nfor path in pathlib.Path(tito.__file__).parent.parent.glob('source_solutions/*/*.ipynb'):\n"
        + grab,
        "solutions_by_path": reads
        + f"import glob\nfor path in glob.glob({str(course / 'source_solutions')!r} + '/*/*.ipynb'):\n"
        + grab,
        "classmate": reads + f"import glob\nfor path in glob.glob({str(course / 'class')!r} + '/*.ipynb'):\n" + grab,
        "gradebook": reads
        + (
            "import sqlite3\ntry:\n"
            f"    rows = sqlite3.connect({str(course / 'gradebook.db')!r}).execute('select source from source_cell').fetchall()\n"
            "    answers = [row[0] for row in rows if 'BEGIN SOLUTION' not in row[0]]\n"
            "except Exception as error:\n    print('no gradebook', type(error).__name__)\n"
        ),
        "reference_package": reads
        + (
            "import sys\n"
            f"sys.path.insert(0, {str(course / '.tito' / 'reference')!r})\n"
            "try:\n    from tinytorch.core.tensor import Tensor\nexcept Exception as error:\n    print('no reference', type(error).__name__)\n"
        ),
    }


INPUT_TRANSFORMER = (
    "get_ipython().input_transformers_cleanup.append("
    "lambda lines: ['pass\\n'] if any('test_' in line or 'check' in line for line in lines) else lines)"
)
DETACHED_WRITER = (
    "import subprocess, sys\n"
    "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)', 'tito-detached-marker'], start_new_session=True)"
)
SWALLOWS_INTERRUPTS = "import time\nwhile True:\n    try:\n        time.sleep(0.05)\n    except:\n        continue"


def class_of(course: Path) -> dict[str, tuple[dict | str, float, str]]:
    """student -> (notebook or raw text, expected total, a fragment of the expected log)."""
    hostile = hostile_sources(course)
    blank = released()
    return {
        # honest work
        "full": (filled(), FULL, f"full: {FULL:g}/{FULL:g}"),
        "blank": (blank, 0, f"blank: 0/{FULL:g}"),
        "half": (filled(4), points_up_to(4), f"half: {points_up_to(4):g}/{FULL:g}"),
        "debug_stderr": (
            with_lines_in_init(filled(), "import sys; print('debug: making a Tensor', file=sys.stderr)"),
            FULL,
            f"debug_stderr: {FULL:g}/{FULL:g}",
        ),
        "deleted_tests": (
            without(filled(), "test_01_2", "test_01_5"),
            FULL,
            "test_01_2 was missing: restored as released",
        ),
        "edited_test": (edited_test(filled()), FULL, "test_01_3 was edited: restored"),
        "copied_locked_cell": (copies_locked_cell(filled()), FULL, f"copied_locked_cell: {FULL:g}/{FULL:g}"),
        "stripped_metadata": (stripped(filled()), FULL, f"stripped_metadata: {FULL:g}/{FULL:g}"),
        "old_format": (nbformat_44(filled()), FULL, f"old_format: {FULL:g}/{FULL:g}"),
        "deleted_exercise": (
            without(filled(), "ex_01_11", "test_01_11"),
            FULL - POINTS["test_01_11"],
            "ex_01_11 was missing: restored as released (scores 0)",
        ),
        "exits": (after(filled(), "test_01_11", code("import sys\nsys.exit(0)")), FULL, f"exits: {FULL:g}/{FULL:g}"),
        "huge_array": (
            first(
                filled(),
                code(
                    "import numpy as np\ntry:\n    big = np.ones(30 * 2**30 // 8)\nexcept MemoryError:\n    print('too big')"
                ),
            ),
            FULL,
            f"huge_array: {FULL:g}/{FULL:g}",
        ),
        "floods_output": (first(filled(), code("print('x' * 20_000_000)")), FULL, f"floods_output: {FULL:g}/{FULL:g}"),
        # broken
        "dies_after_nine": (
            after(filled(), "test_01_9", code("import os\nos._exit(1)")),
            points_up_to(9),
            "error 01.10, error 01.11",
        ),
        "killed_after_nine": (
            after(filled(), "test_01_9", code("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")),
            points_up_to(9),
            "the kernel died in cell",
        ),
        "swallows_interrupt": (
            after(filled(), "test_01_5", code(SWALLOWS_INTERRUPTS)),
            points_up_to(5),
            "ignored the interrupt, so its kernel was stopped",
        ),
        "loops_in_init": (with_lines_in_init(filled(), "while True:", "    pass"), 0, "timed out 01.1"),
        "not_json": ("{this is not a notebook", 0, "NOT GRADED: the notebook could not be read"),
        # hostile: full marks with no code, the trial class's six ways, and more
        "skip_tags": (tagged_tests(copy.deepcopy(blank), "skip-execution"), 0, "tags restored as released on 11 cells"),
        "input_transformer": (first(released(), code(INPUT_TRANSFORMER)), 0, "did not run as written"),
        "detached_process": (first(filled(), code(DETACHED_WRITER)), FULL, "flagged: "),
        **{name: (cheats_with(source), 0, "flagged: ") for name, source in hostile.items()},
    }


@pytest.fixture(scope="module")
def graded_class(released_course: Path, tmp_path_factory: pytest.TempPathFactory):
    """One `tito grade 01 --from class` run over the whole class; returns (course, class, log, csv rows)."""
    course = copy_course(released_course, tmp_path_factory.mktemp("class") / "course")
    subprocess.run(
        [sys.executable, "-m", "tito.cli", "export", "--reference"], cwd=course, check=True, capture_output=True
    )
    students = class_of(course)
    folder = course / "class"
    folder.mkdir()
    for student, (notebook, _, _) in students.items():
        name = "Grace Hopper - 01_Tensor (1)" if student == "full" else student
        (folder / f"{name}.ipynb").write_text(notebook if isinstance(notebook, str) else json.dumps(notebook, indent=1))
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "tito.cli",
            "grade",
            "01",
            "--from",
            "class",
            "--jobs",
            "2",
            "--cell-timeout",
            "5",
            "--notebook-timeout",
            "40",
        ],
        cwd=course,
        capture_output=True,
        text=True,
        timeout=900,
    )
    with open(course / "reports" / MODULE.slug / "grades.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return course, students, run, rows


def student_log(log: str, student: str) -> str:
    """The log line of `student` and the indented lines under it."""
    match = re.search(rf"^{re.escape(student)}: .*(?:\n    .*)*", log, re.MULTILINE)
    assert match, f"no log line for {student}:\n{log}"
    return match.group(0)


def test_every_submission_gets_exactly_its_expected_score_and_log_line(graded_class) -> None:
    _, students, run, rows = graded_class
    totals: dict[str, float] = {}
    for row in rows:
        totals[row["student"]] = totals.get(row["student"], 0.0) + float(row["points"])
    expected_students = {("grace_hopper" if s == "full" else s) for s in students}
    assert set(totals) == expected_students, run.stdout + run.stderr
    problems = []
    for student, (_, expected, fragment) in students.items():
        name = "grace_hopper" if student == "full" else student
        line = student_log(run.stdout, name)
        if totals[name] != expected or fragment.replace("full:", "grace_hopper:") not in line:
            problems.append(
                f"{name}: scored {totals[name]:g}, expected {expected:g}; log: {line!r} (expected {fragment!r})"
            )
    assert not problems, "\n".join(problems) + "\n" + run.stdout[-4000:] + run.stderr[-3000:]
    assert run.returncode == 1  # one notebook could not be graded, and the exit status says so
    assert "took Grace Hopper - 01_Tensor (1).ipynb for student 'grace_hopper'" in run.stdout


def test_statuses_name_what_happened(graded_class) -> None:
    _, _, _, rows = graded_class
    status = {(row["student"], row["exercise"]): row for row in rows}
    assert status[("blank", "01.1")]["status"] == "not attempted"
    assert status[("half", "01.5")]["status"] == "not attempted"
    assert status[("dies_after_nine", "01.9")]["status"] == "passed"
    assert status[("dies_after_nine", "01.10")]["status"] == "error"
    assert "kernel died" in status[("dies_after_nine", "01.10")]["reason"]
    assert status[("swallows_interrupt", "01.6")]["status"] in ("timed out", "error")
    assert status[("loops_in_init", "01.1")]["status"] == "timed out"
    assert status[("not_json", "01.1")]["status"] == "error"
    assert status[("input_transformer", "01.1")]["status"] == "failed"
    assert set(row["status"] for row in rows) <= {"passed", "failed", "not attempted", "timed out", "error"}


def test_hostile_submissions_are_flagged_naming_the_cell_and_honest_ones_are_not(graded_class) -> None:
    _, _, run, _ = graded_class
    for student in ("input_transformer", "detached_process", *hostile_sources(Path("/x"))):
        assert "flagged: code cell" in student_log(run.stdout, student) or "flagged: the code cell" in student_log(
            run.stdout, student
        ), student
    for honest in ("blank", "half", "debug_stderr", "deleted_tests", "old_format"):
        assert "flagged" not in student_log(run.stdout, honest), honest
    assert "flagged" not in student_log(run.stdout, "grace_hopper")


def test_every_student_gets_feedback_without_hidden_tests_and_the_report_lists_failures_and_flags(graded_class) -> None:
    course, students, _, _ = graded_class
    sources = [cell_source(cell) for cell in read_notebook(MODULE.notebook(ROOT, SOURCE_DIR))["cells"]]
    hidden = [
        block.split("### END HIDDEN TESTS")[0]
        for source in sources
        for block in source.split("### BEGIN HIDDEN TESTS")[1:]
    ]
    assert hidden, "Module 01 has hidden tests"
    visible = "\n".join(
        re.sub(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS", "", source, flags=re.S) for source in sources
    )
    hidden_lines = {
        line.strip()
        for block in hidden
        for line in block.splitlines()
        if len(line.strip()) > 20 and line.strip() not in visible
    }
    for student in students:
        name = "grace_hopper" if student == "full" else student
        page = (course / "feedback" / name / MODULE.slug / f"{MODULE.slug}.html").read_text()
        leaked = [line for line in hidden_lines if line in page]
        assert not leaked, f"{name}'s feedback shows hidden tests: {leaked[:2]}"
    assert "could not be graded" in (course / "feedback" / "not_json" / MODULE.slug / f"{MODULE.slug}.html").read_text()
    report = (course / "reports" / MODULE.slug / "report.html").read_text()
    assert "not_json" in report and "input_transformer" in report and "totals.png" in report
    assert (course / "reports" / MODULE.slug / "totals.png").stat().st_size > 1000


def test_the_gradebook_holds_what_the_csv_says_and_output_floods_are_cut(graded_class) -> None:
    course, _, _, rows = graded_class
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for student in ("grace_hopper", "half", "dies_after_nine", "gradebook"):
            score = gradebook.find_submission(MODULE.slug, student).score
            assert score == sum(float(r["points"]) for r in rows if r["student"] == student), student
    flooded = course / "autograded" / "floods_output" / MODULE.slug / f"{MODULE.slug}.ipynb"
    assert flooded.stat().st_size < 2_000_000


def test_no_process_a_submission_started_outlives_grading(graded_class) -> None:
    survivors = subprocess.run(["pgrep", "-f", "tito-detached-marker"], capture_output=True, text=True).stdout
    assert not survivors.strip(), survivors


def test_a_second_grading_run_refuses_while_one_holds_the_lock(tmp_path: Path) -> None:
    with (
        grading_lock(tmp_path),
        pytest.raises(GradeLockBusy, match="another `tito grade` is running"),
        grading_lock(tmp_path),
    ):
        pass


def test_file_names_are_matched_forgivingly() -> None:
    assert student_from_file_name("alice", MODULE) == "alice"
    assert student_from_file_name("Alice_01_Tensor", MODULE) == "alice"
    assert student_from_file_name("01_tensor (2) - Bob Smith", MODULE) == "bob_smith"
    assert student_from_file_name("Copy of 01_tensor", MODULE) == ""


def test_shards_split_the_class_deterministically_and_merge_back(tmp_path: Path) -> None:
    students = [f"student{i:03d}" for i in range(60)]
    shards = [[s for s in students if in_shard(s, (k, 3))] for k in (1, 2, 3)]
    assert sorted(s for shard in shards for s in shard) == students and all(shards)
    paths = []
    for k, shard in enumerate(shards):
        path = tmp_path / f"shard{k}.csv"
        path.write_text(
            "student,module,exercise,points,max_points,status,reason\n"
            + "".join(f"{s},01_tensor,01.1,2,2,passed,\n" for s in shard)
        )
        paths.append(path)
    assert merge_csvs(paths, tmp_path / "all.csv") == 60
    assert (tmp_path / "all.csv").read_text().count("\n") == 61
