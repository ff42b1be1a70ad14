"""The nbgrader preprocessors the release and grading add (tito.build.preprocessors, tito.grading.preprocessors), on single cells."""

from __future__ import annotations

import nbformat

from tito.build.preprocessors import ClearSolutionsNamingExercises
from tito.grading.preprocessors import (
    HIGHLIGHTED,
    RENDERED,
    DeduplicateIdsDroppingEmptied,
    FeedbackExporter,
    RemoveHiddenTestsFromOutputs,
    ShortenTracebacksOfHiddenTests,
)


def cell(source: str, **nbgrader) -> nbformat.NotebookNode:
    made = nbformat.v4.new_code_cell(source)
    if nbgrader:
        made.metadata["nbgrader"] = {
            "schema_version": 3,
            "grade": False,
            "locked": False,
            "solution": False,
            "task": False,
            **nbgrader,
        }
    return made


def stubbed(source: str, grade_id: str = "ex_01_4") -> str:
    preprocessor = ClearSolutionsNamingExercises(code_stub={"python": 'raise NotImplementedError("{exercise}")'})
    notebook = nbformat.v4.new_notebook(cells=[cell(source, solution=True, grade_id=grade_id)])
    notebook.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    return preprocessor.preprocess(notebook, {})[0].cells[0].source


def test_stub_names_exercise_and_method_in_a_class() -> None:
    source = "class Tensor:\n    def __init__(self, data):\n        # TODO: keep me\n        ### BEGIN SOLUTION\n        self.data = data\n        ### END SOLUTION\n"
    assert (
        stubbed(source, "ex_01_1")
        == 'class Tensor:\n    def __init__(self, data):\n        # TODO: keep me\n        raise NotImplementedError("Exercise 01.1: Tensor.__init__")\n'
    )


def test_each_region_names_its_own_function_added_to_a_class() -> None:
    source = (
        "@add_to_class(Tensor)\ndef __matmul__(self, other):\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n\n\n"
        "@add_to_class(Tensor)\n@property\ndef T(self):\n    ### BEGIN SOLUTION\n    return 2\n    ### END SOLUTION\n"
    )
    result = stubbed(source)
    assert 'raise NotImplementedError("Exercise 01.4: Tensor.__matmul__")' in result
    assert 'raise NotImplementedError("Exercise 01.4: Tensor.T")' in result
    assert "return 1" not in result and "return 2" not in result


def test_duplicated_locked_cell_becomes_a_plain_cell() -> None:
    original = cell("test()", grade=True, locked=True, points=1, grade_id="test_01_1")
    copy = cell("test()", grade=True, locked=True, points=1, grade_id="test_01_1")
    notebook = nbformat.v4.new_notebook(cells=[copy, original])
    result = DeduplicateIdsDroppingEmptied().preprocess(notebook, {})[0]
    assert "nbgrader" not in result.cells[0].metadata
    assert result.cells[1].metadata["nbgrader"]["grade_id"] == "test_01_1"


def test_tracebacks_of_cells_with_hidden_tests_keep_only_the_error() -> None:
    graded = cell(
        "check()\n### BEGIN HIDDEN TESTS\nsecret()\n### END HIDDEN TESTS",
        grade=True,
        locked=True,
        points=1,
        grade_id="test_01_1",
    )
    graded.outputs = [
        nbformat.v4.new_output(
            "error",
            ename="AssertionError",
            evalue="x: got 1",
            traceback=["---> 3 secret()", "AssertionError: x: got 1"],
        )
    ]
    result = ShortenTracebacksOfHiddenTests().preprocess(nbformat.v4.new_notebook(cells=[graded]), {})[0]
    assert result.cells[0].outputs[0]["traceback"] == ["AssertionError: x: got 1"]


def page(notebook: nbformat.NotebookNode) -> str:
    return FeedbackExporter(template_name="classic").from_notebook_node(notebook)[0]


def test_a_feedback_page_made_after_others_is_the_page_made_alone() -> None:
    """The feedback exporter keeps highlighted code and rendered markdown for the next page: what a
    page holds is its own notebook's, byte for byte as if made first."""
    shared = nbformat.v4.new_markdown_cell("The same text for everyone: $x^2$ and `code`.")
    alice = nbformat.v4.new_notebook(
        cells=[shared, nbformat.v4.new_code_cell("alice = 1"), nbformat.v4.new_markdown_cell("**alice**")]
    )
    bob = nbformat.v4.new_notebook(
        cells=[shared, nbformat.v4.new_code_cell("bobby = 2"), nbformat.v4.new_markdown_cell("**bobby**")]
    )
    HIGHLIGHTED.clear(), RENDERED.clear()
    alone = page(bob)
    HIGHLIGHTED.clear(), RENDERED.clear()
    page(alice)
    after = page(bob)
    assert after == alone
    assert "bobby" in after and "alice" not in after


def test_a_syntax_error_after_hidden_tests_is_shown_and_nothing_the_kernel_printed() -> None:
    """Outputs of a student's cells that ran after hidden tests are left out of the feedback (they
    could hold a hidden test, encoded); a syntax error is shown, found by the grader's own compile."""
    hidden = cell("check(1)\n### BEGIN HIDDEN TESTS\nassert secret_answer() == 42\n### END HIDDEN TESTS", locked=True)
    broken = cell("%%export\ndef half_written(x:\n    return x", solution=True, grade_id="ex_1")
    raised = cell("raise SyntaxError('assert secret_answer() == 42'[::-1])", solution=True, grade_id="ex_2")
    shell = cell("%%bash\necho (", solution=True, grade_id="ex_3")  # not Python: the grader cannot tell
    for student in (broken, raised, shell):
        student.outputs = [nbformat.v4.new_output("error", ename="SyntaxError", evalue="from the kernel", traceback=[])]
    printed = cell("print(secret_answer()\n", solution=True, grade_id="ex_4")  # no syntax error reported: not shown
    printed.outputs = [nbformat.v4.new_output("stream", name="stdout", text="42")]
    notebook = nbformat.v4.new_notebook(cells=[hidden, broken, raised, shell, printed])
    RemoveHiddenTestsFromOutputs().preprocess(notebook, {})
    assert broken.outputs[0]["text"].startswith("SyntaxError on line 2 of the cell: '(' was never closed"), (
        broken.outputs
    )
    for kept_out in (raised, shell, printed):
        assert "not shown in feedback" in kept_out.outputs[0]["text"], kept_out.outputs
