"""`tito grade` on a class of Module 01 submissions: honest ones, broken ones and hostile ones, graded
together in one run, each to its exact expected score and log line, none disturbing the rest."""

from __future__ import annotations

import copy
import csv
import json
import os
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


def with_cell_source(notebook: dict, grade_id: str, change) -> dict:
    for cell in notebook["cells"]:
        if nbgrader_meta(cell).get("grade_id") == grade_id:
            cell["source"] = change(cell_source(cell))
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


AST_REWRITER = (
    "import ast\nfrom IPython.core.interactiveshell import InteractiveShell\n\n"
    "class LastLine(ast.NodeTransformer):\n"
    "    def visit_Module(self, node):\n        node.body = node.body[-1:]\n        return node\n\n"
    "InteractiveShell.instance().ast_transformers.append(LastLine())"
)
# The second trial class's: every exercise `pass`, the tests wrapped in try/except by a transformer
# reached without writing its names, the proof-of-run marker kept as the last line.
WRAPPING_TRANSFORMER = (
    "ip = globals()['get_' + 'ipython']()\n\n"
    "def wrap(lines):\n    if any('test_' in line for line in lines):\n"
    "        body = ''.join('    ' + line for line in lines[:-1])\n"
    "        return ['try:\\n', body + '\\n', 'except BaseException:\\n', '    pass\\n', lines[-1]]\n    return lines\n\n"
    "getattr(ip, 'input_transformers_' + 'post').append(wrap)"
)
# The third trial's: errors kept from showing, and the marker printed from the running cell.
HIDES_ERRORS = (
    "import IPython as _I, re as _re\n_sh = getattr(_I, 'get_' + 'ipython')()\n"
    "_sh.showtraceback = lambda *a, **k: None\n\n"
    "def _proof(result):\n    found = _re.search('tito-ran-[0-9a-f]+', result.info.raw_cell or '')\n"
    "    if found and result.error_in_exec is not None:\n        print(found.group(0))\n\n"
    "_sh.events.register('post_run_cell', _proof)"
)
ENCODES_THE_HISTORY = (
    "import base64, zlib\nblob = base64.b64encode(zlib.compress('\\n'.join(In).encode(), 9)).decode()\n"
    "for start in range(0, len(blob), 100):\n    print(blob[start : start + 100])"
)
SCRIPT_IN_PAGE = (
    "from IPython.display import HTML, display\n"
    "display(HTML('<script>window.tito_hacked = 1</script><img src=x onerror=\"window.tito_hacked = 2\">'))"
)
# The file a student's notebook is saved as, where it is not `<student>.ipynb`, and the id it is graded as.
FILE_NAMES = {
    "full": ("Grace Hopper - 01_Tensor (1)", "grace_hopper"),
    "jose": ("José Ñúñez", "josé_ñúñez"),
    "jose_2": ("José Nunez", "josé_nunez"),
    "li": ("李雷 01_tensor", "李雷"),
    "han": ("韩梅梅", "韩梅梅"),
}


def graded_as(student: str) -> str:
    return FILE_NAMES.get(student, (student, student))[1]


def markdown(source: str) -> dict:
    return {"cell_type": "markdown", "id": f"md-{abs(hash(source)) % 10**8}", "metadata": {}, "source": source}


def with_every_exercise(notebook: dict, source: str) -> dict:
    for cell in notebook["cells"]:
        if nbgrader_meta(cell).get("solution"):
            cell["source"] = source
    return notebook


def deep_output(notebook: dict, depth: int) -> dict:
    """The notebook with an output left from an earlier run whose data nests `depth` levels deep."""
    nested: dict = {}
    for _ in range(depth):
        nested = {"level": nested}
    cell = next(cell for cell in notebook["cells"] if cell["cell_type"] == "code")
    cell["outputs"] = [{"output_type": "display_data", "metadata": {}, "data": {"application/json": nested}}]
    return notebook


def deeply_nested(notebook: dict, depth: int) -> dict:
    """The notebook with a cell whose metadata nests `depth` levels deep (valid JSON, as some tools write)."""
    nested: dict = {}
    for _ in range(depth):
        nested = {"level": nested}
    notebook["cells"][0]["metadata"]["tool"] = nested
    return notebook


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
        # a cell that takes its kernel down costs only itself: a fresh kernel runs the rest
        "dies_after_nine": (
            after(filled(), "test_01_9", code("import os\nos._exit(1)")),
            FULL,
            "it exited with status 1",
        ),
        "killed_after_nine": (
            after(filled(), "test_01_9", code("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")),
            FULL,
            "(killed, SIGKILL",
        ),
        "swallows_interrupt": (
            after(filled(), "test_01_5", code(SWALLOWS_INTERRUPTS)),
            FULL,
            "ignored the interrupt, so its kernel was stopped; restarted",
        ),
        "swallows_interrupt_in_ex5": (
            with_cell_source(filled(), "ex_01_5", lambda source: source + "\n\n" + SWALLOWS_INTERRUPTS),
            FULL - POINTS["test_01_5"],
            "the code cell of Exercise 01.5 timed out",
        ),
        "loops_in_init": (with_lines_in_init(filled(), "while True:", "    pass"), 0, "timed out 01.1"),
        "not_json": ("{this is not a notebook", 0, "NOT GRADED: the notebook could not be read"),
        # hostile: full marks with no code, the trial class's six ways, and more
        "skip_tags": (tagged_tests(copy.deepcopy(blank), "skip-execution"), 0, "tags restored as released on 11 cells"),
        "input_transformer": (first(released(), code(INPUT_TRANSFORMER)), 0, "did not run as written"),
        "detached_process": (first(filled(), code(DETACHED_WRITER)), FULL, "flagged: "),
        "ast_rewriter": (first(released(), code(AST_REWRITER)), 0, "flagged: "),
        "ast_rewriter_one_answer": (
            first(filled(1), code(AST_REWRITER)),
            0,
            "code in the notebook changed how IPython rewrites or runs cells, or what the tests call: no test of it counts",
        ),
        "wrapping_transformer": (
            first(with_every_exercise(released(), "pass"), code(WRAPPING_TRANSFORMER)),
            0,
            "flagged: the notebook: code in the notebook changed how IPython rewrites or runs cells",
        ),
        "fake_checks": (
            first(filled(4), code("import numpy as np\ncheck_tensor = check_close = lambda *args, **kwargs: None")),
            0,
            "or what the tests call: no test of it counts",
        ),
        "hides_errors": (
            first(with_every_exercise(released(), "pass"), code(HIDES_ERRORS)),
            0,
            "flagged: the notebook: code in the notebook changed how IPython",
        ),
        "encodes_the_history": (
            after(filled(), "test_01_11", code(ENCODES_THE_HISTORY)),
            FULL,
            "encodes_the_history: 20/20",
        ),
        "prints_the_history": (
            after(filled(), "test_01_11", code("print('\\n'.join(In))")),
            FULL,
            "prints_the_history: 20/20",
        ),
        "writes_the_marker": (
            first(filled(), code("# BEGIN HIDDEN TESTS\nx = 1  # END HIDDEN TESTS")),
            FULL,
            "writes_the_marker: 20/20",
        ),
        "deep_output": (deep_output(filled(), 800), FULL, "deep_output: 20/20"),
        "script_in_page": (
            first(
                filled(),
                markdown("<script>window.tito_hacked = 3</script><img src=x onerror='alert(1)'>"),
                code(SCRIPT_IN_PAGE),
            ),
            FULL,
            f"script_in_page: {FULL:g}/{FULL:g}",
        ),
        "escapes_in_heading": (
            first(filled(), markdown("## \x1b[2J\x1b[31mred heading"), code("get_ipython()")),
            FULL,
            "flagged: the code cell under the heading",
        ),
        # fair to the honest, bounded for the rest
        "warns_in_init": (
            with_lines_in_init(filled(), "import warnings; warnings.warn('debug: a tensor was made', stacklevel=1)"),
            FULL,
            f"warns_in_init: {FULL:g}/{FULL:g}",
        ),
        "deep_metadata": (deeply_nested(filled(), 400), FULL, "nested deeper than 32 levels was dropped"),
        "many_cells": (
            {**filled(), "cells": filled()["cells"] + [markdown(f"note {n}") for n in range(20_000)]},
            0,
            "NOT GRADED: the notebook has 20,",
        ),
        # names in other scripts stay readable and distinct
        "jose": (filled(2), points_up_to(2), f"josé_ñúñez: {points_up_to(2):g}/{FULL:g}"),
        "jose_2": (filled(3), points_up_to(3), f"josé_nunez: {points_up_to(3):g}/{FULL:g}"),
        "li": (filled(4), points_up_to(4), f"李雷: {points_up_to(4):g}/{FULL:g}"),
        "han": (filled(5), points_up_to(5), f"韩梅梅: {points_up_to(5):g}/{FULL:g}"),
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
        name = FILE_NAMES.get(student, (student,))[0]
        (folder / f"{name}.ipynb").write_text(notebook if isinstance(notebook, str) else json.dumps(notebook, indent=1))
    refused_files(course, folder)
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


def refused_files(course: Path, folder: Path) -> None:
    """What must never be graded: links to the solutions, a FIFO, what archive tools add, two files
    naming one student; and a student folder whose name holds glob and control characters."""
    solution = course / SOURCE_DIR / MODULE.slug / f"{MODULE.slug}.ipynb"
    (folder / "linked.ipynb").symlink_to(solution)
    (folder / "linked_folder").symlink_to(solution.parent, target_is_directory=True)
    os.mkfifo(folder / "fifo.ipynb")
    (folder / "__MACOSX").mkdir()
    (folder / "__MACOSX" / "._full.ipynb").write_bytes(b"\x00\x05\x16\x07 AppleDouble")
    (folder / "._half.ipynb").write_bytes(b"\x00\x05\x16\x07 AppleDouble")
    (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (folder / "twice.ipynb").write_text(json.dumps(filled()))
    (folder / "Twice - 01_tensor.ipynb").write_text(json.dumps(filled()))
    for name in ("star[1]*\x1b[31m", "=HYPERLINK(1)"):
        (folder / name).mkdir()
        (folder / name / f"{MODULE.slug}.ipynb").write_text(json.dumps(filled(1)))


REFUSED = {  # a fragment of the warning each one gets
    "linked.ipynb": "linked.ipynb is a symbolic link: refused",
    "linked_folder": "linked_folder is a symbolic link: refused",
    "fifo.ipynb": "fifo.ipynb is not a regular file: refused",
    "twice": "all name the student 'twice': none is graded",
}


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
    expected_students = {graded_as(s) for s in students} | {"star_1_31m", "HYPERLINK(1)"}
    assert set(totals) == expected_students, run.stdout + run.stderr
    problems = []
    for student, (_, expected, fragment) in students.items():
        name = graded_as(student)
        line = student_log(run.stdout, name)
        if totals[name] != expected or fragment.replace("full:", "grace_hopper:") not in line:
            problems.append(
                f"{name}: scored {totals[name]:g}, expected {expected:g}; log: {line!r} (expected {fragment!r})"
            )
    assert not problems, "\n".join(problems) + "\n" + run.stdout[-4000:] + run.stderr[-3000:]
    assert run.returncode == 1  # one notebook could not be graded, and the exit status says so
    assert "took Grace Hopper - 01_Tensor (1).ipynb for student 'grace_hopper'" in run.stdout


def test_links_fifos_files_tools_add_and_clashing_names_are_refused_or_ignored(graded_class) -> None:
    _, _, run, rows = graded_class
    for name, fragment in REFUSED.items():
        assert fragment in run.stderr, (name, run.stderr)
    assert not {row["student"] for row in rows} & {"linked", "linked_folder", "fifo", "twice", "macosx", "ds_store"}
    assert "MACOSX" not in run.stderr and "DS_Store" not in run.stderr and "._half" not in run.stderr, run.stderr
    assert "graded as 'star_1_31m'" in run.stdout and f"star_1_31m: {points_up_to(1):g}/" in run.stdout, run.stdout


def test_a_csv_cell_never_starts_a_formula_nor_holds_a_control_character(tmp_path: Path) -> None:
    from tito.course.verdict import ExerciseResult, Status
    from tito.grading.autograde import Outcome
    from tito.grading.results import write_csv

    outcome = Outcome("eve", exercises=[ExerciseResult("01.1", "x", 2, Status.FAILED, '=HYPERLINK("http://x")\x1b[2J')])
    write_csv(tmp_path / "grades.csv", MODULE, [outcome])
    with open(tmp_path / "grades.csv", newline="") as handle:
        assert next(iter(csv.DictReader(handle)))["reason"] == '\'=HYPERLINK("http://x")\\x1b[2J'


def test_nothing_a_student_wrote_reaches_the_terminal_or_a_spreadsheet_as_a_control(graded_class) -> None:
    _, _, run, rows = graded_class
    assert "\x1b" not in run.stdout and "\x1b" not in run.stderr
    assert "\\x1b[2J" in student_log(run.stdout, "escapes_in_heading")
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row.values()), "a formula"
    assert "graded as 'HYPERLINK(1)'" in run.stdout


def test_a_stub_scores_zero_and_a_changed_ipython_fails_every_test_whatever_they_printed(graded_class) -> None:
    _, _, run, rows = graded_class
    blank = {row["exercise"]: row for row in rows if row["student"] == "ast_rewriter"}
    assert all(row["status"] == "not attempted" and row["points"] == "0" for row in blank.values()), blank
    assert "still the released stub" in blank["01.2"]["reason"]
    assert "reaches IPython's shell" in student_log(run.stdout, "ast_rewriter")
    rewritten = {row["exercise"]: row for row in rows if row["student"] == "ast_rewriter_one_answer"}
    assert rewritten["01.1"]["status"] == "failed" and "IPython" in rewritten["01.1"]["reason"], rewritten["01.1"]


def test_statuses_name_what_happened(graded_class) -> None:
    _, _, _, rows = graded_class
    status = {(row["student"], row["exercise"]): row for row in rows}
    assert status[("blank", "01.1")]["status"] == "not attempted"
    assert status[("half", "01.5")]["status"] == "not attempted"
    assert status[("dies_after_nine", "01.9")]["status"] == "passed"
    assert status[("dies_after_nine", "01.10")]["status"] == "passed", "a restarted kernel grades the rest"
    assert status[("swallows_interrupt", "01.6")]["status"] == "passed"
    assert status[("swallows_interrupt_in_ex5", "01.5")]["status"] in ("failed", "timed out")
    assert status[("loops_in_init", "01.1")]["status"] == "timed out"
    assert status[("not_json", "01.1")]["status"] == "error"
    assert status[("input_transformer", "01.1")]["status"] == "not attempted"
    assert set(row["status"] for row in rows) <= {"passed", "failed", "not attempted", "timed out", "error"}


def test_hostile_submissions_are_flagged_naming_the_cell_and_honest_ones_are_not(graded_class) -> None:
    _, _, run, _ = graded_class
    for student in ("input_transformer", "detached_process", *hostile_sources(Path("/x"))):
        assert "flagged: code cell" in student_log(run.stdout, student) or "flagged: the code cell" in student_log(
            run.stdout, student
        ), student
    for honest in ("blank", "half", "debug_stderr", "deleted_tests", "old_format", "josé_ñúñez", "李雷"):
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
        name = graded_as(student)
        page = (course / "feedback" / name / MODULE.slug / f"{MODULE.slug}.html").read_text()
        leaked = [line for line in hidden_lines if line in page]
        assert not leaked, f"{name}'s feedback shows hidden tests: {leaked[:2]}"
        scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", page, re.S)
        assert not any("tito_hacked" in script for script in scripts), f"{name}'s feedback page runs a student's script"
        assert not re.search(r"<[^>]*\sonerror\s*=", page), f"{name}'s feedback page has a student's event handler"
    assert "could not be graded" in (course / "feedback" / "not_json" / MODULE.slug / f"{MODULE.slug}.html").read_text()
    pages = {
        student: (course / "feedback" / student / MODULE.slug / f"{MODULE.slug}.html").read_text()
        for student in ("writes_the_marker", "prints_the_history", "encodes_the_history")
    }
    assert not [student for student, page in pages.items() if "could not be made" in page], "a feedback page was lost"
    assert all(
        "it ran after hidden tests" in pages[student] for student in ("prints_the_history", "encodes_the_history")
    )
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


HOLD_THE_LOCK = (
    "import sys, time\nfrom pathlib import Path\nfrom tito.grading.grade import grading_lock\n"
    "with grading_lock(Path(sys.argv[1])):\n    print('holding', flush=True)\n    time.sleep(60)\n"
)


def test_a_second_grading_run_refuses_while_one_holds_the_lock_and_takes_over_a_dead_ones(tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLD_THE_LOCK, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        with (
            pytest.raises(GradeLockBusy, match=rf"another `tito grade` is running .*pid {holder.pid}"),
            grading_lock(tmp_path),
        ):
            pass
    finally:
        holder.kill()  # as kill -9 would: no clean-up of its own
        holder.wait()
    said: list[str] = []
    with grading_lock(tmp_path, say=said.append):
        pass
    assert said and f"pid {holder.pid}" in said[0] and "its lock is taken over" in said[0], said
    assert not (tmp_path / ".tito" / "grade.lock").exists(), "the lock file stays behind after a run"


def test_file_names_are_matched_forgivingly() -> None:
    assert student_from_file_name("alice", MODULE) == "alice"
    assert student_from_file_name("Alice_01_Tensor", MODULE) == "alice"
    assert student_from_file_name("01_tensor (2) - Bob Smith", MODULE) == "bob_smith"
    assert student_from_file_name("Copy of 01_tensor", MODULE) == ""
    assert student_from_file_name("fay_final_v2", MODULE) == "fay", "versions and the words students add go"
    assert student_from_file_name("Draft submission - Dan (1)", MODULE) == "dan"
    assert student_from_file_name("s1234567_01", MODULE) == "s1234567", "an id's digits stay"


def test_a_roster_puts_each_file_under_its_id_and_refuses_what_names_no_one(tmp_path: Path) -> None:
    from tito.grading.submissions import Submission, matched_to_roster

    found = [Submission(name, tmp_path / f"{name}.ipynb") for name in ("fay_smith", "ada", "nobody", "bo", "bo_b")]
    kept, warnings = matched_to_roster(found, ["ada", "fay", "bo", "zed"])
    assert {s.student: s.notebook.name for s in kept} == {"ada": "ada.ipynb", "fay": "fay_smith.ipynb"}
    assert "took fay_smith.ipynb for the roster's 'fay'" in next(s for s in kept if s.student == "fay").warning
    assert any("nobody.ipynb (as 'nobody') names no student of the roster: not graded" in w for w in warnings)
    assert any("bo.ipynb and bo_b.ipynb all name the student 'bo'" in w for w in warnings), warnings
    assert "no submission here from zed (in the roster)" in warnings, warnings


def test_shards_split_the_class_deterministically() -> None:
    students = [f"student{i:03d}" for i in range(60)]
    shards = [[s for s in students if in_shard(s, (k, 3))] for k in (1, 2, 3)]
    assert sorted(s for shard in shards for s in shard) == students and all(shards)
