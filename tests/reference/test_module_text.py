"""What the modules' text shows the reference printing is what it prints."""

from __future__ import annotations

import doctest
import re

import numpy as np
from helpers import ROOT

from tinytorch import Tensor
from tito.course.cells import cell_source, read_notebook
from tito.course.registry import RELEASE_DIR, find_module, load_modules


def test_module_01s_repr_examples_are_what_the_reference_prints() -> None:
    released = read_notebook(find_module(load_modules(ROOT), "01").notebook(ROOT, RELEASE_DIR))
    text = cell_source(next(cell for cell in released["cells"] if cell.get("id") == "md-ex-01-11"))
    examples = re.findall(r"```\n(>>> .*?)```", text, re.S)
    assert examples and examples[0].count(">>>") >= 4 and "shape=(100, 100)" in examples[0]
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    runner.run(doctest.DocTestParser().get_doctest(examples[0], {"np": np, "Tensor": Tensor}, "markdown", None, 0))
    assert runner.summarize(verbose=False).failed == 0
