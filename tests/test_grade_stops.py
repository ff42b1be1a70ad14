"""`tito grade` stopped mid-run, by Ctrl-C or by kill -9, then run again: one line and no traceback,
reports that agree with the gradebook, no process left behind, and a second run that finishes."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from helpers import answered, copy_course, reference_answers, released_notebook
from nbgrader.api import Gradebook

from tito.course.registry import find_module, load_modules
from tito.grading.sandbox import KERNEL_FOLDER
from tito.grading.watchdog import process_tree, resident_bytes

pytestmark = pytest.mark.sandbox
MODULE = find_module(load_modules(Path(__file__).resolve().parent.parent), "01")
STUDENTS = [f"s{n}" for n in range(4)]


@pytest.fixture
def slow_class(released_course: Path, tmp_path: Path) -> Path:
    """A course with four full submissions in class/, each with a cell that sleeps 1.5 s."""
    course = copy_course(released_course, tmp_path / "course")
    subprocess.run([sys.executable, "-m", "tito.cli", "export", "--reference"], cwd=course, check=True)
    notebook = answered(released_notebook(MODULE, course), reference_answers(MODULE))
    sleep = {"cell_type": "code", "execution_count": None, "id": "mine-sleep", "metadata": {}, "outputs": []}
    notebook["cells"].insert(2, {**sleep, "source": "import time\ntime.sleep(1.5)"})
    (course / "class").mkdir()
    for student in STUDENTS:
        (course / "class" / f"{student}.ipynb").write_text(json.dumps(notebook))
    return course


GRADE = [sys.executable, "-m", "tito.cli", "grade", "01", "--from", "class", "--jobs", "2"]


def start(course: Path) -> subprocess.Popen:
    """`tito grade 01 --from class --jobs 2` in a session of its own, as a terminal would run it."""
    return subprocess.Popen(
        GRADE,
        cwd=course,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def until_graded(run: subprocess.Popen, count: int) -> list[str]:
    """The grader's lines until `count` students are graded."""
    assert run.stdout is not None
    lines: list[str] = []
    while sum(line.startswith(tuple(f"{s}: " for s in STUDENTS)) for line in lines) < count:
        line = run.stdout.readline()
        assert line, f"the grader stopped early: {lines} {run.stderr.read() if run.stderr else ''}"
        lines.append(line)
    return lines


def watch(run: subprocess.Popen, seconds: float) -> tuple[set[int], int, int]:
    """The processes of the grader's tree seen over `seconds` (workers, sandboxes, kernels), and
    the peak count and resident memory of that tree."""
    seen: set[int] = set()
    peak_processes = peak_bytes = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        tree = process_tree(run.pid)
        seen.update(tree)
        peak_processes, peak_bytes = max(peak_processes, len(tree)), max(peak_bytes, resident_bytes(tree))
        time.sleep(0.1)
    return seen - {run.pid}, peak_processes, peak_bytes


def alive(pids: set[int], seconds: float) -> set[int]:
    """Which of `pids` still run after waiting up to `seconds` for them to end."""
    deadline = time.monotonic() + seconds
    while True:
        running = set()
        for pid in pids:
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            if state != "Z":
                running.add(pid)
        if not running or time.monotonic() > deadline:
            return running
        time.sleep(0.2)


def graded_again(course: Path) -> subprocess.CompletedProcess:
    """The same command run again to the end, as an instructor would after a stop; it must succeed."""
    again = subprocess.run(GRADE, cwd=course, capture_output=True, text=True)
    assert again.returncode == 0, again.stdout + again.stderr
    return again


def graded_rows(course: Path) -> dict[str, float]:
    with open(course / "reports" / MODULE.slug / "grades.csv", newline="") as handle:
        totals: dict[str, float] = {}
        for row in csv.DictReader(handle):
            totals[row["student"]] = totals.get(row["student"], 0.0) + float(row["points"])
    return totals


def test_ctrl_c_says_one_line_and_leaves_reports_that_agree_with_the_gradebook(slow_class: Path) -> None:
    """(SIGTERM takes the same way out: tito.grading.grade.Stops.)"""
    run = start(slow_class)
    said = until_graded(run, 1)
    started, _, _ = watch(run, 1)
    os.killpg(run.pid, signal.SIGINT)  # the terminal signals the whole foreground group
    stdout, stderr = run.communicate(timeout=60)
    assert run.returncode == 2 and "Traceback" not in stderr, stderr
    assert "tito: error: stopped after" in stderr, stderr
    with Gradebook(f"sqlite:///{slow_class / 'gradebook.db'}") as gradebook:
        recorded = {s.student.id for s in gradebook.find_assignment(MODULE.slug).submissions}
    assert set(graded_rows(slow_class)) == recorded and len(recorded) >= 2, recorded
    printed = {line.split(":")[0] for line in said + stdout.splitlines() if line.startswith(tuple(STUDENTS))}
    assert printed == recorded, f"recorded {sorted(recorded)}, but the console named {sorted(printed)}"
    rest = stderr.split("run the same command with --students ", 1)[1].split(" (")[0].split()
    assert sorted(rest) == sorted(set(STUDENTS) - recorded), stderr
    assert alive(started, 10) == set(), "processes of the stopped run go on"
    assert not list((slow_class / ".tito" / "scratch").iterdir()), "the scratch copy of the solutions stayed"
    left = [folder for pid in started for folder in Path(tempfile.gettempdir()).glob(f"{KERNEL_FOLDER}{pid}-*")]
    assert not left, f"the stopped kernels' folders stayed: {left}"

    again = subprocess.run([*GRADE, "--students", *rest], cwd=slow_class, capture_output=True, text=True)
    assert again.returncode == 0 and f"grading {len(rest)} submission" in again.stdout, again.stdout + again.stderr
    assert graded_rows(slow_class) == dict.fromkeys(STUDENTS, 20.0)


def test_after_kill_9_no_worker_or_kernel_goes_on_and_the_next_run_takes_over(slow_class: Path) -> None:
    run = start(slow_class)
    until_graded(run, 1)
    started, peak_processes, peak_bytes = watch(run, 2)
    # the grader, two workers and their sandboxes (bwrap's two processes and the kernel each); as a
    # notebook starts, a root grader's nsenter capping its sandbox's shared memory, for a moment
    helpers = 2 if os.geteuid() == 0 else 0
    assert peak_processes <= 1 + 2 + 2 * 3 + helpers, f"{peak_processes} processes for a grader with two workers"
    print(f"peak while grading: {peak_processes} processes, {peak_bytes / 2**20:.0f} MiB resident")
    os.kill(run.pid, signal.SIGKILL)  # the grader alone, as `kill -9 PID` does
    run.communicate(timeout=30)
    assert alive(started, 10) == set(), "the grader's workers or kernels outlived it"

    left = {folder for pid in started for folder in Path(tempfile.gettempdir()).glob(f"{KERNEL_FOLDER}{pid}-*")}
    assert left, "the killed workers' kernel folders are not where this test looks for them"
    again = graded_again(slow_class)
    assert not any(folder.exists() for folder in left), "the next run left the killed kernels' folders behind"
    assert f"an earlier `tito grade` (pid {run.pid}" in again.stdout and "its lock is taken over" in again.stdout
    assert f"removed .tito/scratch/run-{run.pid}" in again.stdout, again.stdout
    assert graded_rows(slow_class) == dict.fromkeys(STUDENTS, 20.0)
    assert not (slow_class / ".tito" / "grade.lock").exists()
