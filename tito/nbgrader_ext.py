"""The nbgrader preprocessors the course adds, named in nbgrader_config.py."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from nbconvert.exporters import HTMLExporter, TemplateExporter
from nbconvert.filters.highlight import Highlight2HTML
from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter
from nbgrader.preprocessors import ClearSolutions, DeduplicateIds, Execute, NbGraderPreprocessor
from nbgrader.utils import setenv
from traitlets import Bool, Float, Integer, Unicode

from tito.cells import exercise_id, stub_message
from tito.export import reference_before
from tito.registry import find_module, load_modules

EXERCISE_PLACEHOLDER = "{exercise}"
HIDDEN_TESTS_MARKER = "### BEGIN HIDDEN TESTS"
_DEF = re.compile(r"^(\s*)def\s+(\w+)\s*\(")
_CLASS = re.compile(r"^(\s*)class\s+(\w+)")
_ADD_TO_CLASS = re.compile(r"^\s*@add_to_class\((\w+)\)")


def enclosing_name(lines_above: list[str]) -> str:
    """The qualified name of the function a solution region sits in, e.g. `Tensor.__matmul__`."""
    for index in range(len(lines_above) - 1, -1, -1):
        found = _DEF.match(lines_above[index])
        if not found:
            continue
        indent, name = found.groups()
        for above in reversed(lines_above[:index]):
            decorator = _ADD_TO_CLASS.match(above)
            if decorator:
                return f"{decorator.group(1)}.{name}"
            if not above.strip().startswith("@"):
                break
        for above in reversed(lines_above[:index]):
            owner = _CLASS.match(above)
            if owner and len(owner.group(1)) < len(indent):
                return f"{owner.group(2)}.{name}"
        return name
    return ""


class ClearSolutionsNamingExercises(ClearSolutions):
    """ClearSolutions whose code stub names its exercise and method:
    `raise NotImplementedError("Exercise 01.3: Tensor.__matmul__")`.

    The released cell also lists its stubs' names in `metadata.tito.stubs`, so that a report can
    tell an exercise not attempted (every stub left) from one partly done (some stubs left).
    """

    def _replace_solution_region(self, cell, language):
        if cell.cell_type != "code":
            return super()._replace_solution_region(cell, language)
        lines = cell.source.split("\n")
        number = exercise_id(cell.metadata.get("nbgrader", {}).get("grade_id", ""))
        names = [
            enclosing_name(lines[:index]) or "?"
            for index, line in enumerate(lines)
            if self.begin_solution_delimeter in line
        ]
        replaced = super()._replace_solution_region(cell, language)
        for name in names:
            cell.source = cell.source.replace(EXERCISE_PLACEHOLDER, stub_message(number or "?", name), 1)
        if names:
            cell.metadata["tito"] = {"stubs": names}
        return replaced


class DeduplicateIdsDroppingEmptied(DeduplicateIds):
    """DeduplicateIds leaves `nbgrader: {}` on a copy-pasted locked cell, which later crashes
    autograde with KeyError 'grade_id'; drop the emptied metadata so the copy is a plain cell."""

    def preprocess_cell(self, cell, resources, cell_index):
        cell, resources = super().preprocess_cell(cell, resources, cell_index)
        if cell.metadata.get("nbgrader") == {}:
            del cell.metadata["nbgrader"]
        return cell, resources


class ShortenTracebacksOfHiddenTests(NbGraderPreprocessor):
    """A traceback quotes the source lines around the failure, so in a test cell with hidden tests
    it would show them in the feedback; keep only its last line (the error and its message)."""

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "code" and HIDDEN_TESTS_MARKER in cell.source:
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output['ename']}: {output['evalue']}"]
        return cell, resources


class ExecuteWithEarlierModules(Execute):
    """Execute whose kernel imports `tinytorch` from the reference of the modules before the one
    being graded: module 02's notebook builds on the reference Tensor, so a mistake in module 01
    costs no points in module 02, but no module can import its own answer (or a later one's).
    The graded module's own file is not in that package, and the package shadows any other
    `tinytorch` the kernel could find."""

    course_root = Unicode("", help="The course folder (set by nbgrader_config.py).").tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        root = Path(self.course_root)
        module = find_module(load_modules(root), resources["nbgrader"]["assignment"])
        earlier = reference_before(root, module)
        with setenv(PYTHONPATH=os.pathsep.join(filter(None, [str(earlier), os.environ.get("PYTHONPATH")]))):
            return super().preprocess(nb, resources, km)


class GuardedExecute(NbGraderPreprocessor):
    """Execute for `tito grade`: the kernel runs confined (tito.sandbox), cell by cell, so a timeout,
    a dead kernel or a flood of output costs only the cells it touches. What happened is appended,
    one JSON line per notebook, to the file $TITO_GRADING_EVENTS names."""

    earlier_reference = Unicode("", help="The reference package of the modules before the graded one.").tag(config=True)
    datasets = Unicode("", help="The course's datasets folder, shown read-only to the kernel.").tag(config=True)
    sandboxed = Bool(True, help="Run the kernel in bubblewrap (False: limits only).").tag(config=True)
    cell_seconds = Float(60).tag(config=True)
    notebook_seconds = Float(600).tag(config=True)
    memory_bytes = Integer(4 << 30).tag(config=True)
    output_bytes = Integer(100_000).tag(config=True)

    def preprocess(self, nb, resources):
        from tito.sandbox import Limits, execute_confined

        limits = Limits(self.cell_seconds, self.notebook_seconds, self.memory_bytes, self.output_bytes)
        datasets = Path(self.datasets) if self.datasets else None
        events = execute_confined(nb, Path(self.earlier_reference), datasets, limits, self.sandboxed)
        if os.environ.get("TITO_GRADING_EVENTS"):
            with open(os.environ["TITO_GRADING_EVENTS"], "a", encoding="utf-8") as log:
                log.write(json.dumps(events) + "\n")
        return nb, resources


class FeedbackExporter(HTMLExporter):
    """nbconvert's HTMLExporter less its last step, a BeautifulSoup pass over the finished page that
    adds alt text and tab stops: it re-parses the whole page and took most of a feedback page's
    time (0.9 of 1.4 s a notebook). The rest is HTMLExporter.from_notebook_node as nbconvert 7 has it."""

    def from_notebook_node(self, nb, resources=None, **kw):
        language = nb.metadata.get("language_info", {})
        lexer = language.get("pygments_lexer", language.get("name", None))
        self.register_filter(
            "highlight_code", self.filters.get("highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self))
        )
        resources = self._init_resources(resources)
        self.register_filter(
            "filter_data_type",
            WidgetsDataTypeFilter(notebook_metadata=self._nb_metadata, parent=self, resources=resources),
        )
        return TemplateExporter.from_notebook_node(self, nb, resources, **kw)
