"""The sandbox a graded kernel runs in (tito.grading.sandbox), on one small notebook run once: what the
kernel can see and reach, its caps, and how a runaway cell is stopped without losing the rest."""

from __future__ import annotations

import socket

import nbformat
import pytest
from helpers import ROOT

from tito.course.verdict import NOT_RUN, REWRITTEN, TIMED_OUT
from tito.grading.limits import Limits
from tito.grading.sandbox import execute_confined

pytestmark = pytest.mark.sandbox


def cell(source: str, graded: bool = False) -> nbformat.NotebookNode:
    made = nbformat.v4.new_code_cell(source)
    if graded:
        made.metadata["nbgrader"] = {
            "grade": True,
            "grade_id": f"t{abs(hash(source)) % 10**6}",
            "points": 1,
            "solution": False,
            "locked": True,
        }
    return made


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    reference = tmp_path_factory.mktemp("reference")
    (reference / "marker.txt").write_text("earlier modules")
    cells = [
        cell(f"import os\nprint(sorted(os.listdir({str(ROOT)!r})))"),
        cell(f"print(open({str(reference / 'marker.txt')!r}).read())"),
        cell(
            f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=2)\n    print('reached')\nexcept OSError as e:\n    print('no network:', type(e).__name__)"
        ),
        cell(
            "import numpy as np\ntry:\n    np.ones(2**30)\n    print('allocated 8 GB')\nexcept MemoryError:\n    print('memory cap')"
        ),
        cell("import sys\nprint('debug', file=sys.stderr)", graded=True),
        cell("print('y' * 1_000_000)"),
        cell("while True:\n    pass"),
        cell("print('still alive')", graded=True),
        cell(
            "get_ipython().input_transformers_cleanup.append(lambda lines: ['pass\\n'] if any('rewrite me' in l for l in lines) else lines)"
        ),
        cell("# rewrite me\nraise AssertionError('a failing test')", graded=True),
        cell(
            "import time\nwhile True:\n    try:\n        time.sleep(0.05)\n    except KeyboardInterrupt:\n        pass"
        ),
        cell("print('never')", graded=True),
    ]
    notebook = nbformat.v4.new_notebook(cells=cells)
    limits = Limits(
        cell_seconds=3, notebook_seconds=60, memory_bytes=2 << 30, output_bytes=10_000, interrupt_grace_seconds=2
    )
    events = execute_confined(notebook, reference, ROOT / "datasets", limits)
    listener.close()
    return notebook, events


def text(notebook, index: int) -> str:
    return "".join(o.get("text", "") for o in notebook.cells[index].outputs if o.get("output_type") == "stream")


def error_name(notebook, index: int) -> str:
    return next((o["ename"] for o in notebook.cells[index].outputs if o.get("output_type") == "error"), "")


def test_the_kernel_sees_only_python_tito_and_the_earlier_reference(executed) -> None:
    notebook, _ = executed
    visible = text(notebook, 0)
    assert "source_solutions" not in visible and "modules.toml" not in visible and "tito" in visible, visible
    assert "earlier modules" in text(notebook, 1)


def test_no_network_and_a_memory_cap(executed) -> None:
    notebook, _ = executed
    assert "no network" in text(notebook, 2)
    assert "memory cap" in text(notebook, 3)


def test_stderr_in_a_test_cell_is_ordinary_output_and_floods_are_cut(executed) -> None:
    notebook, _ = executed
    assert [o["name"] for o in notebook.cells[4].outputs] == ["stdout"] and "debug" in text(notebook, 4)
    assert len(text(notebook, 5)) < 20_000 and "output cut" in text(notebook, 5)


def test_an_interrupted_loop_times_out_and_the_notebook_goes_on(executed) -> None:
    notebook, _ = executed
    assert error_name(notebook, 6) == TIMED_OUT
    assert "still alive" in text(notebook, 7)


def test_a_rewritten_test_cell_does_not_pass(executed) -> None:
    notebook, _ = executed
    assert error_name(notebook, 9) == REWRITTEN


def test_a_loop_that_swallows_interrupts_stops_the_kernel_and_marks_the_rest(executed) -> None:
    notebook, events = executed
    assert error_name(notebook, 10) == TIMED_OUT
    assert error_name(notebook, 11) == NOT_RUN
    assert any("ignored the interrupt" in event for event in events), events
