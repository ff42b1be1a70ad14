"""Module 01's text says what is true: its examples print what the code prints, its measurements
are made the way it says, and it tells students that grading also runs hidden tests."""

from __future__ import annotations

import re

import pytest
from helpers import ROOT

from tito.course.cells import cell_source, read_notebook
from tito.course.registry import RELEASE_DIR, find_module, load_modules

MODULE = find_module(load_modules(ROOT), "01")


def cell(notebook: dict, cell_id: str) -> dict:
    return next(c for c in notebook["cells"] if c.get("id") == cell_id)


def outputs_text(executed: dict, cell_id: str) -> str:
    return "".join(
        "".join(o.get("text", ""))
        for o in cell(executed, cell_id).get("outputs", [])
        if o.get("output_type") == "stream"
    )


@pytest.fixture(scope="module")
def released() -> dict:
    return read_notebook(MODULE.notebook(ROOT, RELEASE_DIR))


def test_students_are_told_that_grading_also_runs_hidden_tests(released: dict, executed_solution) -> None:
    introduction = cell_source(cell(released, "md-title"))
    assert "hidden tests" in introduction and "provisional" in introduction
    assert "hidden tests" in outputs_text(executed_solution(MODULE), "test-module")


def test_the_matmul_timing_uses_one_blas_thread_and_sizes_where_slope_three_shows(executed_solution) -> None:
    printed = outputs_text(executed_solution(MODULE), "sys-matmul")
    assert re.search(r"BLAS: \w+ with \d+ thread\(s\) -> measuring with 1 thread", printed), printed
    assert re.search(r"^ 1024 +\d", printed, re.M), "the largest size, where the n^3 work dominates, is measured"
    assert re.search(r"slope of log\(time\) against log\(n\) over n = 256, 512, 1024: \d\.\d\d", printed), printed
    images = [o for o in cell(executed_solution(MODULE), "sys-matmul")["outputs"] if "image/png" in o.get("data", {})]
    assert len(images) == 1, "the plot is drawn"


def test_the_memory_table_never_rounds_a_small_tensor_to_zero(executed_solution) -> None:
    printed = outputs_text(executed_solution(MODULE), "sys-memory")
    assert "0.000 MB" not in printed and re.search(r"\(10, 10\) +100 +400 B +800 B", printed), printed


def test_the_peak_flops_question_says_how_to_find_the_numbers(released: dict) -> None:
    summary = cell_source(cell(released, "md-summary"))
    question = next(line for line in summary.splitlines() if line.startswith("4. "))
    for how in ("lscpu", "FLOPs per cycle", "AVX2", "os.cpu_count()", "one core"):
        assert how in question, how
