"""Benchmark: grading a class, (a) with the stock `nbgrader autograde <slug> --force` (one kernel after
another, as nbgrader's CLI does it) against (b) `tito grade NN --jobs 2` (a pool of sandboxed kernels),
on identical submissions. Figures, not a test:

    .venv/bin/python tests/benchmark_grading.py [--students 40] [--modules 01 02] [--jobs 2]

For every module, N simulated students (a seeded, deterministic mix: the full solution, the first half
of the exercises answered, the release untouched, or broken: a syntax error in one exercise cell or a
`raise RuntimeError` cell of the student's own in the middle) are written into the submitted/ folder of
two scratch courses copied from this one. The contenders run module by module, interleaved (stock 01,
tito 01, stock 02, ...) so that the machine's noise falls on both, with one BLAS thread each; the wall
clock of each whole command is reported, per module and overall, with the bare cost of starting and
stopping a python3 kernel for reference. The honest submissions (full, partial, blank) must get the
same total from both, and the total they should: a mismatch is printed loudly and the exit status is 1.
Broken ones are compared too, for information.

Needs bubblewrap (/usr/bin/bwrap), as `tito grade` does.
"""

from __future__ import annotations

import argparse
import os

os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = "1"

import csv
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from helpers import answered, exercise_sources, make_course  # noqa: E402

from tito.build.release import nbgrader_api, nbgrader_environment  # noqa: E402
from tito.course.cells import nbgrader_meta, read_notebook  # noqa: E402
from tito.course.registry import SOURCE_DIR, Module, find_module, load_modules  # noqa: E402
from tito.grading.sandbox import bubblewrap  # noqa: E402

HONEST = ("full", "partial", "blank")
KINDS = ("full", "partial", "blank", "broken")  # the first students get one of each, in this order
WEIGHTS = {"full": 4, "partial": 3, "blank": 1, "broken": 2}  # the rest are drawn with these weights
KERNEL_STARTS = 5


@dataclass
class Student:
    name: str
    kind: str  # full, partial, blank or broken
    how: str = ""  # what is broken
    expected: float | None = None  # the total an honest submission must get


@dataclass
class Timing:
    module: str
    notebooks: int
    stock_seconds: float = 0.0
    tito_seconds: float = 0.0
    stock_status: int = 0
    tito_status: int = 0
    problems: list[str] = field(default_factory=list)  # honest submissions graded differently
    notes: list[str] = field(default_factory=list)  # broken ones graded differently, failed commands


def code_cell(cell_id: str, source: str) -> dict:
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": cell_id,
        "metadata": {},
        "outputs": [],
        "source": source,
    }


def class_list(count: int, seed: int) -> list[tuple[str, str]]:
    """(student id, kind) for the whole class, the same for every module."""
    rng = random.Random(seed)
    kinds = list(KINDS[:count]) + rng.choices(
        list(WEIGHTS), weights=list(WEIGHTS.values()), k=max(0, count - len(KINDS))
    )
    return [(f"s{index:03d}_{kind}", kind) for index, kind in enumerate(kinds, start=1)]


def submission(
    release: dict, answers: dict[str, str], points: dict[str, float], kind: str, rng: random.Random
) -> tuple[dict, str, float | None]:
    """A student's notebook of `kind`, made from the release: (notebook, what is broken, expected total)."""
    order = list(answers)
    done = {"full": order, "broken": order, "partial": order[: len(order) // 2], "blank": []}[kind]
    notebook = answered(release, {grade_id: answers[grade_id] for grade_id in done})
    expected = sum(points[grade_id.replace("ex_", "test_", 1)] for grade_id in done) if kind in HONEST else None
    if kind != "broken":
        return notebook, "", expected
    middle = order[len(order) // 2]
    if rng.random() < 0.5:
        for cell in notebook["cells"]:
            if nbgrader_meta(cell).get("grade_id") == middle:
                cell["source"] += "\n\ndef half_written(x:\n"
        return notebook, f"a syntax error in {middle}", None
    at = next(
        index
        for index, cell in enumerate(notebook["cells"])
        if nbgrader_meta(cell).get("grade_id") == middle.replace("ex_", "test_", 1)
    )
    notebook["cells"].insert(at + 1, code_cell("student-scratch", 'raise RuntimeError("my own check, left in")'))
    return notebook, f"a RuntimeError cell after test of {middle}", None


def write_submissions(courses: list[Path], module: Module, students: list[tuple[str, str]], seed: int) -> list[Student]:
    """Release `module` in the stock course (its gradebook must know the assignment), build the class
    from that release and the solutions, and put the same files in every course's submitted/."""
    stock = courses[0]
    with nbgrader_environment():
        result = nbgrader_api(stock).generate_assignment(module.slug, force=True, create=True)
    if not result["success"]:
        sys.exit(f"nbgrader could not release {module.slug}:\n{result.get('log', '')}{result.get('error', '')}")
    release = read_notebook(module.notebook(stock))
    answers = exercise_sources(read_notebook(module.notebook(stock, SOURCE_DIR)))
    points = {
        nbgrader_meta(c)["grade_id"]: float(nbgrader_meta(c)["points"])
        for c in release["cells"]
        if nbgrader_meta(c).get("grade")
    }
    rng = random.Random(f"{seed}-{module.slug}")
    made = []
    for name, kind in students:
        notebook, how, expected = submission(release, answers, points, kind, rng)
        text = json.dumps(notebook, indent=1)
        for course in courses:
            path = course / "submitted" / name / module.slug / module.notebook_name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        made.append(Student(name, kind, how, expected))
    return made


def environment() -> dict[str, str]:
    """What both contenders run with: one BLAS thread, the venv's bin first on PATH (nbgrader runs
    alembic from it), and TITO_EXPORT=skip, as tito.grading.nbgrader_environment() sets."""
    env = {key: value for key, value in os.environ.items() if key not in ("TITO_COURSE_ROOT", "PYTHONPATH")}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["TITO_EXPORT"] = "skip"
    return env


def timed(command: list[str], cwd: Path, log: Path) -> tuple[float, int]:
    """Run `command` in `cwd`, its output to `log`; (wall-clock seconds, exit status)."""
    with open(log, "w") as handle:
        started = time.perf_counter()
        status = subprocess.run(
            command, check=False, cwd=cwd, env=environment(), stdout=handle, stderr=subprocess.STDOUT
        ).returncode
        return time.perf_counter() - started, status


def stock_totals(course: Path, slug: str, students: list[Student]) -> dict[str, float | None]:
    from nbgrader.api import Gradebook, MissingEntry

    totals: dict[str, float | None] = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for student in students:
            try:
                totals[student.name] = float(gradebook.find_submission_notebook(slug, slug, student.name).score)
            except MissingEntry:
                totals[student.name] = None
    return totals


def tito_totals(course: Path, slug: str) -> dict[str, float]:
    totals: dict[str, float] = {}
    path = course / "reports" / slug / "grades.csv"
    if path.exists():
        with open(path, newline="") as handle:
            for row in csv.DictReader(handle):
                totals[row["student"]] = totals.get(row["student"], 0.0) + float(row["points"])
    return totals


def compare(timing: Timing, students: list[Student], stock: dict[str, float | None], tito: dict[str, float]) -> None:
    for student in students:
        a, b = stock.get(student.name), tito.get(student.name)
        shown = f"{timing.module} {student.name}: stock {'-' if a is None else f'{a:g}'}, tito {'-' if b is None else f'{b:g}'}"
        if student.kind in HONEST:
            if a != b:
                timing.problems.append(f"{shown} (differ)")
            elif a != student.expected:
                timing.problems.append(f"{shown} (both, but it should get {student.expected:g})")
        elif a != b:
            timing.notes.append(f"{shown} ({student.how})")


def kernel_start_seconds(times: int = KERNEL_STARTS) -> float:
    """Median seconds to start a python3 kernel, wait until it answers, and shut it down."""
    from jupyter_client.manager import KernelManager

    seconds = []
    for _ in range(times):
        started = time.perf_counter()
        manager = KernelManager(kernel_name="python3")
        manager.start_kernel(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # not its TCP warning
        client = manager.client()
        client.start_channels()
        client.wait_for_ready(timeout=60)
        client.stop_channels()
        manager.shutdown_kernel()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def sandboxed_kernel_seconds(module: Module, times: int = KERNEL_STARTS) -> float:
    """Median seconds to start a sandboxed kernel as `tito grade` does (bubblewrap, limits, its
    checks of the shell), run an empty notebook in it, and stop it: the floor of a graded notebook."""
    import nbformat

    from tito.build.export import reference_before
    from tito.grading.limits import Limits
    from tito.grading.sandbox import execute_confined

    seconds = []
    for _ in range(times):
        started = time.perf_counter()
        execute_confined(nbformat.v4.new_notebook(), reference_before(ROOT, module), ROOT / "datasets", Limits())
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def per_minute(notebooks: int, seconds: float) -> float:
    return 60 * notebooks / seconds if seconds else 0.0


def print_row(label: str, notebooks: int, stock: float, tito: float) -> None:
    print(
        f"  {label:16s} {notebooks:5d}  {stock:8.1f} {per_minute(notebooks, stock):7.1f}  {tito:8.1f} {per_minute(notebooks, tito):7.1f}"
        f"  {tito / stock if stock else 0:10.2f}  {stock / notebooks:9.2f} {tito / notebooks:9.2f}",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=40, help="simulated students per module (default %(default)s)")
    parser.add_argument(
        "--modules", nargs="+", metavar="NN", help="modules to grade (default: every module with a source notebook)"
    )
    parser.add_argument("--jobs", type=int, default=2, help="tito grade --jobs (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the class's mix (default %(default)s)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch courses (their path is printed)")
    options = parser.parse_args()
    if options.students < 1 or options.jobs < 1:
        parser.error("--students and --jobs must be at least 1")
    if bubblewrap() is None:
        sys.exit("bubblewrap is not installed: `tito grade` needs it (sudo apt-get install bubblewrap)")
    registry = load_modules(ROOT)
    modules = [find_module(registry, key) for key in options.modules] if options.modules else registry
    modules = [module for module in modules if module.notebook(ROOT, SOURCE_DIR).exists()]
    students = class_list(options.students, options.seed)
    mix = {kind: sum(k == kind for _, k in students) for kind in KINDS}

    import nbgrader

    print(
        f"{len(modules)} modules x {len(students)} students ({', '.join(f'{n} {kind}' for kind, n in mix.items())}; seed {options.seed}); "
        f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, nbgrader {nbgrader.__version__}, 1 BLAS thread",
        flush=True,
    )
    print(
        f"bare python3 kernel, start + ready + shutdown: {kernel_start_seconds():.2f} s (median of {KERNEL_STARTS})",
        flush=True,
    )
    floor = sandboxed_kernel_seconds(modules[-1])
    print(
        f"sandboxed kernel as tito grade starts it, start + empty notebook + shutdown: {floor:.2f} s (median of {KERNEL_STARTS})",
        flush=True,
    )

    scratch = Path(tempfile.mkdtemp(prefix="tito-bench-grading-"))
    try:
        stock_course, tito_course = make_course(scratch / "stock"), make_course(scratch / "tito")
        logs = scratch / "logs"
        logs.mkdir()
        started = time.perf_counter()
        classes = {
            module.slug: write_submissions([stock_course, tito_course], module, students, options.seed)
            for module in modules
        }
        print(
            f"released and wrote {len(modules) * len(students)} submissions into two scratch courses in {time.perf_counter() - started:.1f} s"
            + (f": {scratch}" if options.keep else ""),
            flush=True,
        )
        nbgrader_cli = str(Path(sys.executable).parent / "nbgrader")
        timings = []
        for module in modules:
            timing = Timing(module.slug, len(students))
            timing.stock_seconds, timing.stock_status = timed(
                [nbgrader_cli, "autograde", module.slug, "--force"], stock_course, logs / f"stock-{module.slug}.log"
            )
            print(
                f"  {module.slug}: stock nbgrader autograde {timing.stock_seconds:.1f} s (exit {timing.stock_status})",
                flush=True,
            )
            timing.tito_seconds, timing.tito_status = timed(
                [sys.executable, "-m", "tito.cli", "grade", f"{module.number:02d}", "--jobs", str(options.jobs)],
                tito_course,
                logs / f"tito-{module.slug}.log",
            )
            print(
                f"  {module.slug}: tito grade --jobs {options.jobs} {timing.tito_seconds:.1f} s (exit {timing.tito_status})",
                flush=True,
            )
            for who, status in (("stock", timing.stock_status), ("tito", timing.tito_status)):
                if status:
                    tail = (logs / f"{who}-{module.slug}.log").read_text(errors="replace").strip().splitlines()[-5:]
                    timing.notes.append(
                        f"{module.slug}: {who} exited {status}; its log ends:\n      " + "\n      ".join(tail)
                    )
            compare(
                timing,
                classes[module.slug],
                stock_totals(stock_course, module.slug, classes[module.slug]),
                tito_totals(tito_course, module.slug),
            )
            timings.append(timing)

        print()
        print(
            f"  {'module':16s} {'nbs':>5s}  {'stock s':>8s} {'nb/min':>7s}  {'tito s':>8s} {'nb/min':>7s}  {'tito/stock':>10s}  {'stock s/nb':>9s} {'tito s/nb':>9s}"
        )
        for timing in timings:
            print_row(timing.module, timing.notebooks, timing.stock_seconds, timing.tito_seconds)
        notebooks = sum(t.notebooks for t in timings)
        stock, tito = sum(t.stock_seconds for t in timings), sum(t.tito_seconds for t in timings)
        print_row("overall", notebooks, stock, tito)
        if tito:
            print(
                f"  tito grade --jobs {options.jobs} grades {stock / tito:.2f}x as many notebooks a minute as the stock nbgrader autograde "
                "(tito/stock: the ratio of seconds; s/nb: a command's seconds over its notebooks, start-up included)"
            )
            print(
                f"  tito's seconds a notebook are {tito / notebooks / floor:.2f}x a sandboxed kernel's start and stop "
                f"({tito / notebooks:.2f} s against {floor:.2f} s)"
            )

        notes = [note for timing in timings for note in timing.notes]
        problems = [problem for timing in timings for problem in timing.problems]
        if notes:
            print("\nnotes (broken submissions graded differently, commands that failed):")
            for note in notes:
                print(f"    {note}")
        honest = sum(student.kind in HONEST for students_ in classes.values() for student in students_)
        if problems:
            print(f"\n!!!!!!!! {len(problems)} HONEST SUBMISSIONS GRADED DIFFERENTLY OR WRONGLY !!!!!!!!")
            for problem in problems:
                print(f"!!! {problem}")
            print(
                f"(the logs of both are in {logs}"
                + ("" if options.keep else "; rerun with --keep to inspect them")
                + ")"
            )
            return 1
        print(f"\nall {honest} honest submissions got the same total from both, and the total they should")
        return 0
    finally:
        if not options.keep:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
