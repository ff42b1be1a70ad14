"""`tito`, the course's command line: one small function per command, each calling the room that does the job.

Students: export, test, status, doctor, lab, milestone (tito.student, tito.build.export).
Instructors: release (tito.build), grade, merge-grades and grades (tito.grading, not in a students' copy).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from pathlib import Path
from typing import NoReturn

from tito.build.export import differences, export, package_root
from tito.build.release import release, release_differences
from tito.build.student_copy import is_student_copy, make_student_copy
from tito.course.registry import RELEASE_DIR, SOURCE_DIR, Module, course_root, find_module, load_modules
from tito.course.settings import CELL_SECONDS
from tito.course.verdict import Status, exercise_results, ungraded_errors
from tito.errors import GradingError, NotInStudentCopy, RegistryError, TitoError
from tito.student.status import save_results, status_lines
from tito.student.testing import format_report, run_notebook

HAS_GRADER = importlib.util.find_spec("tito.grading") is not None  # a students' copy has no grader


def _progress(label: str):
    """A one-line 'cell 12/48' counter on a terminal; silence elsewhere (CI logs stay short)."""
    if not sys.stdout.isatty():
        return None

    def show(done: int, total: int) -> None:
        print(f"\r  {label}: cell {done}/{total}", end="" if done < total else "\n", flush=True)

    return show


def cmd_export(args: argparse.Namespace, root: Path) -> int:
    folder = SOURCE_DIR if args.reference else RELEASE_DIR
    if args.reference and is_student_copy(root):
        raise NotInStudentCopy("there is no reference to export. `tito export` exports your own modules/.")
    if args.check:
        problems = differences(root, folder)
        for problem in problems:
            print(f"out of date: {problem}")
        fix = "run `tito export" + (" --reference`" if args.reference else "`")
        print("the package is in sync with its notebooks" if not problems else fix)
        return 1 if problems else 0
    written = export(root, folder)
    destination = package_root(root, folder) / "tinytorch"
    print(f"exported {folder}/ -> {destination.relative_to(root)}/ ({len(written)} files)")
    if args.reference:
        print(f"use it with PYTHONPATH={package_root(root, folder)} (your own tinytorch/ is untouched)")
    return 0


def cmd_release(args: argparse.Namespace, root: Path) -> int:
    if is_student_copy(root):
        raise NotInStudentCopy(f"there is nothing to release here. Your notebooks are in {RELEASE_DIR}/.")
    if args.check:
        print("releasing source_solutions/ into a scratch folder to compare ...", flush=True)
        problems = release_differences(root) + differences(root, RELEASE_DIR)
        for problem in problems:
            print(f"out of date: {problem}")
        fix = "run `tito release` and commit modules/ and tinytorch/"
        print("modules/ and tinytorch/ are in sync with source_solutions/" if not problems else fix)
        return 1 if problems else 0
    print("releasing source_solutions/ through nbgrader ...", flush=True)
    started = time.perf_counter()
    for path in release(root):
        print(f"released {path.relative_to(root)}")
    export(root, RELEASE_DIR)
    seconds = time.perf_counter() - started
    print(f"exported the released modules/ -> tinytorch/ (the students' starting package); done in {seconds:.1f} s")
    if args.student_copy:
        destination = make_student_copy(root, Path(args.student_copy), git=args.git)
        print(
            f"wrote the students' copy of the course to {destination}"
            + (" (a git repository with one commit)" if args.git else "")
            + ": released notebooks, the starting package, tito, the datasets, the milestones and the PyTorch quickstart port; no solutions or hidden tests"
        )
    return 0


def _notebook_to_test(root: Path, module: Module, solution: bool) -> Path:
    """The notebook `tito test` runs, or a clear error saying why it is not there."""
    folder = SOURCE_DIR if solution else RELEASE_DIR
    notebook = module.notebook(root, folder)
    if notebook.exists():
        return notebook
    if solution and is_student_copy(root):
        raise NotInStudentCopy(
            f"`--solution` needs them. Run `tito test {module.number:02d}` to test your own notebook."
        )
    if solution:
        raise RegistryError(
            f"{notebook.relative_to(root)} does not exist: module {module.slug} has no solution notebook yet."
        )
    raise RegistryError(f"{notebook.relative_to(root)} does not exist: module {module.slug} has not been released yet.")


def cmd_test(args: argparse.Namespace, root: Path) -> int:
    module = find_module(load_modules(root), args.module)
    notebook = _notebook_to_test(root, module, args.solution)
    env = {}
    if args.solution:
        export(root, SOURCE_DIR)  # later modules import the reference of the earlier ones
        env["PYTHONPATH"] = str(package_root(root, SOURCE_DIR))
    print(f"running {notebook.relative_to(root)} headless ...", flush=True)
    started = time.perf_counter()
    executed = run_notebook(notebook, env=env, timeout=args.timeout, progress=_progress(module.slug))
    results = exercise_results(executed, timeout=args.timeout)
    print(format_report(results, ungraded_errors(executed)))
    print(f"({time.perf_counter() - started:.1f} s)")
    if not args.solution:
        save_results(root, module.slug, notebook, results)
    missing = module.points - sum(result.points for result in results)
    if missing > 0:
        print(
            f"test cells worth {missing:g} of the module's {module.points} points are missing from the notebook: "
            "nbgrader restores and runs them when grading, so copy them back from a fresh release"
        )
    passed = all(result.status is Status.PASSED for result in results)
    return 0 if results and missing <= 0 and passed else 1


def cmd_status(args: argparse.Namespace, root: Path) -> int:
    print("\n".join(status_lines(root)))
    return 0


def cmd_doctor(args: argparse.Namespace, root: Path) -> int:
    from tito.student.doctor import run_checks

    checks = run_checks(root)
    if HAS_GRADER and not is_student_copy(root):
        from tito.grading.doctor import grading_checks

        checks += grading_checks(root)
    problems = 0
    for ok, what, fix in checks:
        print(f"{'✓' if ok else '✗'} {what}" + (f"\n   fix: {fix}" if fix and not ok else ""))
        problems += not ok
    print("everything looks fine" if not problems else f"{problems} problem(s) found")
    return 1 if problems else 0


def cmd_lab(args: argparse.Namespace, root: Path) -> NoReturn:
    from tito.student.lab import INSTRUCTOR, STUDENT, lab_command

    role = INSTRUCTOR if args.instructor else STUDENT
    arguments = [argument for argument in args.lab_arguments if argument != "--"]
    command, environment = lab_command(root, role, arguments)
    who = "the instructor" if args.instructor else "students"
    print(f"Starting JupyterLab for {who} in {root} (stop it with Ctrl+C)", flush=True)
    os.chdir(root)
    os.execve(command[0], command, environment)  # JupyterLab takes over this process: Ctrl+C and its PID are its own


def cmd_milestone(args: argparse.Namespace, root: Path) -> int:
    from tito.student.milestones import run_milestone

    return run_milestone(root, args.number, args.reference)


def cmd_grade(args: argparse.Namespace, root: Path) -> int:
    from tito.grading.grade import grade_class
    from tito.grading.limits import Limits
    from tito.grading.results import plural, printable
    from tito.grading.submissions import collect, in_shard, matched_to_roster
    from tito.grading.submitted import parse_timestamp

    module = find_module(load_modules(root), args.module)
    folder = Path(args.source).resolve() if args.source else None
    if folder is not None and not folder.is_dir():
        raise GradingError(f"{folder} is not a folder of notebooks")
    submissions, warnings = collect(root, module, folder)
    if args.roster:
        from tito.grading.lms import read_roster

        submissions, unmatched = matched_to_roster(submissions, [row["id"] for row in read_roster(Path(args.roster))])
        warnings += unmatched
    for warning in warnings:
        print(printable(f"warning: {warning}"), file=sys.stderr)
    if args.students:
        unknown = sorted(set(args.students) - {s.student for s in submissions})
        if unknown:
            print(f"warning: no submission of {module.slug} from {', '.join(unknown)}", file=sys.stderr)
        submissions = [s for s in submissions if s.student in set(args.students)]
    submissions = [s for s in submissions if in_shard(s.student, args.shard)]
    if not submissions:
        raise GradingError(f"no submissions of {module.slug} to grade in {folder or root / 'submitted'}")
    given = {
        "cell_seconds": args.cell_timeout,
        "notebook_seconds": args.notebook_timeout,
        "memory_bytes": int(args.memory_gb * (1 << 30)) if args.memory_gb else None,
    }
    limits = Limits(**{name: value for name, value in given.items() if value is not None})
    submitted_at = parse_timestamp(args.submitted_at) if args.submitted_at else None
    at_once = f", {min(args.jobs, len(submissions))} at a time" if len(submissions) > 1 else ""
    print(f"grading {plural(len(submissions), 'submission')} of {module.slug}{at_once} ...", flush=True)
    outcomes = grade_class(
        root,
        module,
        submissions,
        args.jobs,
        limits,
        sandboxed=not args.no_sandbox,
        say=lambda line: print(line, flush=True),
        submitted_at=submitted_at,
        warnings=tuple(f"warning: {warning}" for warning in warnings),
    )
    failed = sum(bool(outcome.error) for outcome in outcomes)
    return 1 if failed else 0


def cmd_merge_grades(args: argparse.Namespace, root: Path) -> int:
    from tito.grading.grade import merge_shards

    module = find_module(load_modules(root), args.module)
    merge_shards(root, module, [Path(path).resolve() for path in args.shards], say=lambda line: print(line, flush=True))
    return 0


def cmd_forget(args: argparse.Namespace, root: Path) -> int:
    from tito.grading.grade import forget

    forget(root, find_module(load_modules(root), args.module), args.students, say=lambda line: print(line, flush=True))
    return 0


def cmd_grades(args: argparse.Namespace, root: Path) -> int:
    from tito.grading.grade import REPORTS_DIR
    from tito.grading.lms import not_final, write_canvas_csv, write_course_table
    from tito.grading.results import printable

    reports, modules = root / REPORTS_DIR, load_modules(root)
    path = write_course_table(reports, modules)
    print(f"every student's total per module: {path.relative_to(root)}")
    for warning in not_final(reports, modules):
        print(printable(f"warning: {warning}"), file=sys.stderr)
    if args.canvas:
        canvas, warnings = write_canvas_csv(reports, modules, Path(args.canvas))
        for warning in warnings:
            print(printable(f"warning: {warning}"), file=sys.stderr)
        print(f"for Canvas (Grades → Import): {canvas.relative_to(root)}")
    return 0


def _shard(text: str) -> tuple[int, int]:
    index, _, count = text.partition("/")
    if not (index.isdigit() and count.isdigit() and 1 <= int(index) <= int(count)):
        raise argparse.ArgumentTypeError(f"{text!r}: write the shard as K/N, e.g. 1/3")
    return int(index), int(count)


def _add_student_commands(commands) -> None:
    export_cmd = commands.add_parser(
        "export", help="write the %%export cells of the notebooks into the tinytorch package"
    )
    export_cmd.add_argument(
        "--reference",
        action="store_true",
        help="export source_solutions/ into .tito/reference/ instead of your modules/ into tinytorch/",
    )
    export_cmd.add_argument(
        "--check", action="store_true", help="change nothing; fail if the package differs from its notebooks"
    )
    export_cmd.set_defaults(run=cmd_export)
    test_cmd = commands.add_parser("test", help="run a module notebook headless and report each exercise")
    test_cmd.add_argument("module", help="module number or name, e.g. 01 or 01_tensor")
    test_cmd.add_argument(
        "--solution", action="store_true", help="run the instructor's solution notebook instead of yours"
    )
    test_cmd.add_argument(
        "--timeout",
        type=int,
        default=CELL_SECONDS,
        help="seconds a cell may run before it is interrupted (default %(default)s)",
    )
    test_cmd.set_defaults(run=cmd_test)
    status_help = "per module: exercises attempted, tests passing, exported"
    commands.add_parser("status", help=status_help, description=status_help).set_defaults(run=cmd_status)
    doctor_help = "check the installation and say how to fix what is wrong"
    commands.add_parser("doctor", help=doctor_help, description=doctor_help).set_defaults(run=cmd_doctor)
    lab_cmd = commands.add_parser(
        "lab",
        help="start JupyterLab for this course: locked cells marked, students without nbgrader's instructor tools",
    )
    lab_cmd.add_argument(
        "--instructor",
        action="store_true",
        help="with nbgrader's instructor tools: Formgrader, Create Assignment, Validate",
    )
    lab_cmd.add_argument(
        "lab_arguments",
        nargs=argparse.REMAINDER,
        metavar="-- JUPYTER-LAB-OPTIONS",
        help="passed on to jupyter lab, e.g. -- --no-browser --port 8890",
    )
    lab_cmd.set_defaults(run=cmd_lab)
    milestone_cmd = commands.add_parser(
        "milestone", help="run a milestone's notebooks headless and report their accuracy and time"
    )
    milestone_cmd.add_argument("number", help="the milestone's number, e.g. 03")
    milestone_cmd.add_argument(
        "--reference", action="store_true", help="run on the course's reference solution instead of your tinytorch"
    )
    milestone_cmd.set_defaults(run=cmd_milestone)


def _add_release_command(commands) -> None:
    release_cmd = commands.add_parser(
        "release",
        help="(instructors) regenerate modules/ from source_solutions/ with nbgrader, and tinytorch/ from modules/",
    )
    release_cmd.add_argument(
        "--check",
        action="store_true",
        help="change nothing; fail if modules/ or tinytorch/ differ from a fresh release",
    )
    release_cmd.add_argument(
        "--student-copy",
        metavar="FOLDER",
        help="also write the students' copy of the course (no solutions, no hidden tests) into FOLDER, which must be new or empty",
    )
    release_cmd.add_argument(
        "--git", action="store_true", help="with --student-copy: make the copy a git repository with one commit"
    )
    release_cmd.set_defaults(run=cmd_release)


def _add_grading_commands(commands) -> None:
    from tito.grading.limits import DEFAULT

    grade_cmd = commands.add_parser(
        "grade", help="(instructors) grade a class's submissions of a module: grades, feedback and a report"
    )
    grade_cmd.add_argument("module", help="module number or name, e.g. 01")
    grade_cmd.add_argument(
        "--from",
        dest="source",
        metavar="FOLDER",
        help="a folder of notebooks named by student (default: nbgrader's submitted/)",
    )
    grade_cmd.add_argument("--students", nargs="+", metavar="ID", help="grade only these students")
    grade_cmd.add_argument(
        "--roster",
        metavar="ROSTER",
        help="the class's roster CSV (id, name, email): each file is graded under the roster id its name holds, "
        "and a file that names no one in it is not graded (said so)",
    )
    grade_cmd.add_argument(
        "--submitted-at",
        metavar="TIME",
        help="when these were submitted, e.g. '2026-12-01 23:59' (UTC, or with an offset); default: the time "
        "recorded for the same notebook before, else its timestamp.txt, else its file's time",
    )
    grade_cmd.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="submissions graded at once (default: the cores, %(default)s)",
    )
    grade_cmd.add_argument(
        "--shard",
        type=_shard,
        metavar="K/N",
        help="grade only shard K of N (a fixed split by student, for several machines)",
    )
    grade_cmd.add_argument(
        "--cell-timeout", type=float, help=f"seconds a cell may run (default {DEFAULT.cell_seconds:g})"
    )
    grade_cmd.add_argument(
        "--notebook-timeout",
        type=float,
        help=f"seconds a whole notebook may run (default {DEFAULT.notebook_seconds:g})",
    )
    grade_cmd.add_argument(
        "--memory-gb",
        type=float,
        help=f"memory cap, GiB, across a student's kernel and every process it starts (default {DEFAULT.memory_bytes / (1 << 30):g})",
    )
    grade_cmd.add_argument(
        "--no-sandbox",
        action="store_true",
        help="grade without bubblewrap: limits only, student code can read the course (see the README)",
    )
    grade_cmd.set_defaults(run=cmd_grade)
    merge_cmd = commands.add_parser(
        "merge-grades",
        help="(instructors) bring the grading of `tito grade --shard K/N` runs, each in its own copy of the course, into this one",
    )
    merge_cmd.add_argument("module", help="module number or name, e.g. 01")
    merge_cmd.add_argument(
        "shards",
        nargs="+",
        metavar="SHARD",
        help="each shard's course folder (or a copy of its reports/, autograded/, feedback/, submitted/)",
    )
    merge_cmd.set_defaults(run=cmd_merge_grades)
    forget_help = (
        "(instructors) take students out of a module's results (a file graded under a wrong name): kept in "
        ".tito/forgotten/, out of the gradebook and the reports"
    )
    forget_cmd = commands.add_parser("forget", help=forget_help, description=forget_help)
    forget_cmd.add_argument("module", help="the module's number or slug")
    forget_cmd.add_argument("students", nargs="+", metavar="STUDENT", help="the students' ids as graded")
    forget_cmd.set_defaults(run=cmd_forget)
    grades_help = "(instructors) every student's total per module (reports/course.csv), and a Canvas import"
    grades_cmd = commands.add_parser("grades", help=grades_help, description=grades_help)
    grades_cmd.add_argument(
        "--canvas",
        metavar="ROSTER",
        help="also write reports/canvas.csv from a roster CSV with id, name, email columns",
    )
    grades_cmd.set_defaults(run=cmd_grades)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tito", description="TinyTorch course tools.")
    commands = parser.add_subparsers(dest="command", required=True)
    _add_student_commands(commands)
    _add_release_command(commands)
    if HAS_GRADER:
        _add_grading_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "release" and args.git and not args.student_copy:
        build_parser().error("--git goes with --student-copy FOLDER")
    try:
        code = args.run(args, course_root())
        sys.stdout.flush()  # a closed pipe shows here, inside the try, not as a traceback at exit
        return code
    except TitoError as error:
        print(f"tito: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ntito: stopped (Ctrl-C)", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`tito status | head -2`): stop quietly, as Unix tools do, with the
        # exit status a shell gives a process ended by SIGPIPE.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
