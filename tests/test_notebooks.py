"""The module notebooks: solutions pass headless, stubs fail, nothing leaks, ids and points agree."""

from __future__ import annotations

import ast
import re
import textwrap

import pytest
from helpers import ROOT

from tito.build.release import release_differences
from tito.course.cells import cell_source, exercise_id, python_of, read_notebook
from tito.course.registry import RELEASE_DIR, SOURCE_DIR, load_modules
from tito.course.verdict import HEADING, exercise_results
from tito.student.testing import run_notebook

MODULES = [m for m in load_modules(ROOT) if m.notebook(ROOT, SOURCE_DIR).exists()]
IDS = [m.slug for m in MODULES]


def nbgrader_cells(notebook: dict, key: str) -> list[dict]:
    return [c for c in notebook["cells"] if c.get("metadata", {}).get("nbgrader", {}).get(key)]


@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_solution_runs_headless_with_every_test_passing_and_no_stderr(module, executed_solution) -> None:
    executed = executed_solution(module)
    problems = []
    for number, cell in enumerate(executed["cells"], start=1):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                problems.append(f"cell {number}: {output['ename']}: {output['evalue']}")
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                problems.append(f"cell {number} wrote to stderr: {''.join(output['text'])[:200]}")
    assert problems == []
    results = exercise_results(executed)
    assert results and all(r.status == "passed" for r in results), [r for r in results if r.status != "passed"]
    assert sum(r.points for r in results) == module.points


@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_every_stub_in_the_released_notebook_fails_its_tests(module, reference_path: str) -> None:
    # The reference package is importable, as when outside checks grade: tests must still use the notebook's own code.
    executed = run_notebook(module.notebook(ROOT, RELEASE_DIR), env={"PYTHONPATH": reference_path})
    results = exercise_results(executed)
    assert results and all(r.status != "passed" for r in results), [r for r in results if r.status == "passed"]
    assert results[0].status == "not attempted"


@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_notebooks_never_import_what_they_test_from_the_package(module) -> None:
    notebook = read_notebook(module.notebook(ROOT, SOURCE_DIR))
    own_file = module.dotted
    for cell in (c for c in notebook["cells"] if c["cell_type"] == "code"):
        text = cell_source(cell)
        assert own_file not in text and f"from tinytorch import {module.names[0]}" not in text, cell.get("id")
        if module.number == 1:
            assert "tinytorch" not in text.replace("tinytorch/core/tensor.py", ""), (
                "module 01 builds tinytorch: it cannot import it"
            )


# What a visible test cell may define besides its test_* functions: inputs and spies it builds its
# cases from (a module tree, a recording callback, a miniature MNIST), never a computation of the
# answer. A reference formula the grader needs lives in the cell's hidden tests.
TEST_HELPERS = {
    "Scaled",
    "Tree",
    "names_of",
    "check_order",
    "run_optimizer",
    "bowl",
    "tiny_setup",
    "Recorder",
    "Scripted",
    "stops_after",
    "check_save_load",
    "idx_bytes",
    "small_mnist",
    "CountingDataset",
    "START",
    "GRADS",
    "ADAM_GRADS",
}


@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_released_test_cells_show_what_is_checked_not_a_reference_answer(module) -> None:
    notebook = read_notebook(module.notebook(ROOT, RELEASE_DIR))
    for cell in nbgrader_cells(notebook, "grade"):
        if cell["metadata"]["nbgrader"].get("solution"):
            continue
        defined = set()
        for node in ast.parse(python_of(cell_source(cell))).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                defined.add(node.name)
            elif isinstance(node, ast.Assign):
                defined |= {target.id for target in node.targets if isinstance(target, ast.Name)}
        extra = {name for name in defined if not name.startswith("test_")} - TEST_HELPERS
        assert not extra, f"{cell.get('id')} defines {sorted(extra)}: a reference belongs in its hidden tests"


SOLUTION = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.S)
HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS", re.S)


def solution_expressions(source: str, shortest: int = 10) -> set[str]:
    """The expressions of an exercise's solution of at least `shortest` characters, as ast writes them."""
    found = set()
    for block in SOLUTION.findall(source):
        tree = ast.parse("if True:\n" + textwrap.indent(textwrap.dedent(block), "    "))
        for node in ast.walk(tree):
            simple = isinstance(node, (ast.Name, ast.Constant, ast.Attribute))
            if isinstance(node, ast.expr) and not simple and len(text := ast.unparse(node)) >= shortest:
                found.add(text)
    return found


def squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text).replace("'", '"')


@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_test_hints_name_the_mistake_without_giving_the_solutions_code(module) -> None:
    """A hint or message in a visible test may repeat code the exercise's own text states (its
    markdown, TODOs and given code); an expression of the solution that the text holds back belongs
    in the collapsed Hint, not in a test a student reads under the exercise."""
    source = read_notebook(module.notebook(ROOT, SOURCE_DIR))
    released = read_notebook(module.notebook(ROOT, RELEASE_DIR))
    stated = squeezed(
        "\n".join(cell_source(c) for c in released["cells"] if not c["metadata"].get("nbgrader", {}).get("grade"))
    )
    solutions = {exercise_id(c["metadata"]["nbgrader"]["grade_id"]): c for c in nbgrader_cells(source, "solution")}
    for cell in nbgrader_cells(source, "grade"):
        number = exercise_id(cell["metadata"]["nbgrader"]["grade_id"])
        visible = ast.parse(python_of(HIDDEN.sub("", cell_source(cell))))
        words = [
            squeezed(n.value) for n in ast.walk(visible) if isinstance(n, ast.Constant) and isinstance(n.value, str)
        ]
        given_away = [
            expression
            for expression in solution_expressions(cell_source(solutions[number]))
            if squeezed(expression) not in stated and any(squeezed(expression) in text for text in words)
        ]
        assert not given_away, f"Exercise {number}: a test's words give the solution's code {given_away}"


@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_exercise_ids_and_points_agree_everywhere(module) -> None:
    source = read_notebook(module.notebook(ROOT, SOURCE_DIR))
    student = read_notebook(module.notebook(ROOT, RELEASE_DIR))
    markdown = "\n".join(cell_source(c) for c in source["cells"] if c["cell_type"] == "markdown")
    headings = {number: int(points) for number, _title, points in HEADING.findall(markdown)}
    tests = {exercise_id(c["metadata"]["nbgrader"]["grade_id"]): c for c in nbgrader_cells(source, "grade")}
    exercises = {exercise_id(c["metadata"]["nbgrader"]["grade_id"]): c for c in nbgrader_cells(source, "solution")}
    assert len(headings) >= 6 and set(headings) == set(tests) == set(exercises)
    student_code = {
        exercise_id(c["metadata"]["nbgrader"]["grade_id"]): cell_source(c) for c in nbgrader_cells(student, "solution")
    }
    for number, points in headings.items():
        slug = number.replace(".", "_")
        assert tests[number]["metadata"]["nbgrader"]["points"] == points, (
            f"Exercise {number}: heading and test cell points differ"
        )
        assert re.search(rf"def test_{slug}_\w+\(", cell_source(tests[number])), (
            f"Exercise {number}: test function name"
        )
        assert f'NotImplementedError("Exercise {number}: ' in student_code[number], f"Exercise {number}: stub message"
        assert re.search(rf"\|\s*{re.escape(number)}\s*\|.*\|\s*{points}\s*\|", markdown), (
            f"Exercise {number}: points table row"
        )
    assert sum(headings.values()) == module.points, "modules.toml points must equal the notebook's total"


@pytest.mark.slow
def test_released_modules_are_in_sync_with_their_sources() -> None:
    assert release_differences(ROOT) == [], "run `tito release` and commit modules/"


def test_committed_notebooks_have_no_outputs() -> None:
    for folder in (SOURCE_DIR, RELEASE_DIR):
        for path in sorted((ROOT / folder).rglob("*.ipynb")):
            for cell in read_notebook(path)["cells"]:
                assert not cell.get("outputs") and cell.get("execution_count") is None, f"{path}: strip the outputs"


def test_committed_notebooks_carry_the_kernels_language_info() -> None:
    """JupyterLab writes the kernel's language_info into the notebook when the kernel connects: a
    notebook saved without it shows as modified before the student typed anything."""
    from ipykernel.ipkernel import IPythonKernel

    expected = {key: value for key, value in IPythonKernel.language_info.items() if key != "version"}
    notebooks = [
        *(ROOT / SOURCE_DIR).rglob("*.ipynb"),
        *(ROOT / RELEASE_DIR).rglob("*.ipynb"),
        *(ROOT / "milestones").glob("*/*.ipynb"),
    ]
    for path in sorted(notebooks):
        info = dict(read_notebook(path)["metadata"].get("language_info", {}))
        assert re.fullmatch(r"3\.\d+\.\d+", str(info.pop("version", ""))) and info == expected, (
            f"{path.relative_to(ROOT)}: its metadata's language_info is not the python3 kernel's ({info})"
        )
