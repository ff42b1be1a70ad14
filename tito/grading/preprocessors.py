"""The nbgrader preprocessors grading adds, named in tito.grading.pipelines."""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict
from html import unescape
from pathlib import Path

import nbformat
from jinja2 import pass_context
from jinja2.bccache import Bucket, BytecodeCache
from nbconvert.exporters import HTMLExporter, TemplateExporter
from nbconvert.filters.highlight import Highlight2HTML
from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter
from nbgrader.preprocessors import DeduplicateIds, Execute, NbGraderPreprocessor
from nbgrader.utils import setenv
from traitlets import Bool, Dict, Unicode

from tito.build.export import reference_before
from tito.course.cells import (
    HIDDEN_TESTS_MARKER,
    cell_exercise,
    is_code,
    is_demonstration,
    is_export_marker,
    is_graded,
    nbgrader_meta,
)
from tito.course.registry import find_module, load_modules
from tito.course.verdict import SYNTAX_ERRORS, exercise_titles
from tito.grading.limits import DEFAULT, Limits


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
        if is_code(cell) and HIDDEN_TESTS_MARKER in cell.source:
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output['ename']}: {output['evalue']}"]
        return cell, resources


class RemoveHiddenTestsFromOutputs(NbGraderPreprocessor):
    """The kernel that ran the hidden tests holds their source (IPython's history, linecache), so a
    student's own cell can print it into its output, and so into the feedback page: every output
    line that quotes a line of a hidden test is replaced by a note, and the outputs of the student's
    cells that ran after a hidden test are left out (they could hold it encoded)."""

    def preprocess(self, nb, resources):
        hidden: set[str] = set()
        for cell in nb.cells:
            if is_code(cell) and HIDDEN_TESTS_MARKER in cell.source:
                for block in re.findall(r"### BEGIN HIDDEN TESTS(.*?)(?:### END HIDDEN TESTS|$)", cell.source, re.S):
                    hidden.update(line.strip() for line in block.splitlines() if len(line.strip()) >= 12)
        visible = "\n".join(
            re.sub(r"### BEGIN HIDDEN TESTS.*?(### END HIDDEN TESTS|$)", "", c.source, flags=re.S) for c in nb.cells
        )
        hidden = {line for line in hidden if line not in visible}
        if hidden:
            for cell in nb.cells:
                for output in cell.get("outputs", []) if is_code(cell) else []:
                    _scrub(output, hidden)
        # Encoded, no line matches: what the student's own cells printed after the first hidden test
        # ran is left out of the page (their grades are in the test cells' outputs).
        after_hidden = False
        for cell in nb.cells:
            if not is_code(cell):
                continue
            if after_hidden and not cell.metadata.get("nbgrader", {}).get("locked") and cell.get("outputs"):
                # a syntax error is safe to show when the grader finds it too, by itself: the cell never ran
                reported = any(o.get("ename") in SYNTAX_ERRORS for o in cell.outputs if o.get("output_type") == "error")
                mistake = syntax_error(cell.source) if reported else ""
                cell.outputs = [
                    _note(f"{mistake}: this cell did not run; fix it, run it, and submit again")
                    if mistake
                    else _note("[this cell's output is not shown in feedback: it ran after hidden tests]")
                ]
            after_hidden = after_hidden or HIDDEN_TESTS_MARKER in cell.source
        return nb, resources


def syntax_error(source: str) -> str:
    """`SyntaxError on line 3 of the cell: '(' was never closed` when the cell's code cannot be
    compiled (as IPython would compile it: its magics turned into calls, a cell magic's body
    compiled as the code it runs), else ''. Found by compiling here, never read from the kernel."""
    from IPython.core.inputtransformer2 import TransformerManager

    lines, offset = source.splitlines(keepends=True), 0
    if lines and is_export_marker(lines[0]):  # its body is the cell's code
        lines, offset = lines[1:], 1
    elif lines and lines[0].startswith("%%"):  # another cell magic's body may not be Python at all
        return ""
    try:
        compile(TransformerManager().transform_cell("".join(lines)), "<cell>", "exec")
    except SyntaxError as error:
        return f"{type(error).__name__} on line {(error.lineno or 1) + offset} of the cell: {error.msg}"
    return ""


def _note(text: str):
    from nbformat import v4

    return v4.new_output("stream", name="stdout", text=text + "\n")


def _scrub(output, hidden: set[str]) -> None:
    """Replace, in place, the lines of an output that quote a hidden test's line."""

    def clean(text: str) -> str:
        lines = text.split("\n")
        return "\n".join(
            "[a line of a hidden test, removed]" if any(h in line for h in hidden) else line for line in lines
        )

    if isinstance(output.get("text"), str):
        output["text"] = clean(output["text"])
    if "traceback" in output:
        output["traceback"] = [clean(line) for line in output["traceback"]]
        output["evalue"] = clean(str(output.get("evalue", "")))
    for mime, value in (output.get("data") or {}).items():
        if isinstance(value, str) and mime.startswith("text/"):
            output["data"][mime] = clean(value)


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
    """Execute for `tito grade`: the kernel runs confined (tito.grading.sandbox), cell by cell, so a
    timeout, a dead kernel or a flood of output costs only the cells it touches. What happened is
    appended, one JSON line per notebook, to `events_file`."""

    earlier_reference = Unicode("", help="The reference package of the modules before the graded one.").tag(config=True)
    datasets = Unicode("", help="The course's datasets folder, shown read-only to the kernel.").tag(config=True)
    sandboxed = Bool(True, help="Run the kernel in bubblewrap (False: limits only).").tag(config=True)
    limits = Dict(default_value=asdict(DEFAULT), help="The fields of tito.grading.limits.Limits.").tag(config=True)
    events_file = Unicode(
        "", help="Where to append what grading stopped or restored (one JSON list per notebook)."
    ).tag(config=True)
    prestart = Bool(False, help="Start the next notebook's kernel as this one ends (more are to come).").tag(
        config=True
    )

    def preprocess(self, nb, resources):
        from tito.grading.sandbox import execute_confined

        datasets = Path(self.datasets) if self.datasets else None
        events = execute_confined(
            nb, Path(self.earlier_reference), datasets, Limits(**self.limits), self.sandboxed, self.prestart
        )
        if self.events_file:
            with open(self.events_file, "a", encoding="utf-8") as log:
                log.write(json.dumps(events) + "\n")
        return nb, resources


class NameExercisesInSummary(NbGraderPreprocessor):
    """The feedback page's summary names each test by its exercise ("Exercise 02.6: LogSoftmax"),
    not nbgrader's "Test cell" six times over (read by tito_feedback/index.html.j2)."""

    def preprocess(self, nb, resources):
        titles = exercise_titles(nb)
        resources["tito_labels"] = {
            nbgrader_meta(cell)["grade_id"]: f"Exercise {number}: {titles.get(number, '')}".rstrip(": ")
            for cell in nb.cells
            if is_graded(cell)
            for number in [cell_exercise(cell) or nbgrader_meta(cell)["grade_id"]]
        }
        return nb, resources


class MarkDemonstrationsNotRun(NbGraderPreprocessor):
    """A cell that only demonstrates is skipped under grading; its page says so, instead of an empty
    `In [ ]:` that reads as if it had been lost."""

    def preprocess_cell(self, cell, resources, cell_index):
        if is_demonstration(cell) and not cell.get("outputs"):
            cell.outputs = [
                nbformat.v4.new_output(
                    "stream",
                    name="stdout",
                    text="(not run during grading: this cell only demonstrates; run it yourself in JupyterLab)\n",
                )
            ]
        return cell, resources


MATHML_TAGS = {
    "math", "mrow", "mi", "mo", "mn", "ms", "mtext", "mspace", "msup", "msub", "msubsup", "mfrac", "msqrt",
    "mroot", "mover", "munder", "munderover", "mtable", "mtr", "mtd", "mstyle", "mpadded", "mphantom",
    "menclose", "semantics", "annotation",
}  # fmt: skip
MATHML_ATTRIBUTES = {
    "display", "xmlns", "mathvariant", "stretchy", "fence", "separator", "lspace", "rspace", "accent",
    "accentunder", "columnalign", "rowalign", "linethickness", "displaystyle", "scriptlevel", "width", "form",
    "largeop", "movablelimits", "symmetric", "minsize", "maxsize", "notation", "encoding",
}  # fmt: skip
DISPLAY_MATH = re.compile(r"\$\$(.+?)\$\$", re.S)
INLINE_MATH = re.compile(r"(?<![\\$])\$(?![\s$])([^$\n]+?)(?<!\s)\$(?!\$)")


def math_to_mathml(html: str) -> str:
    """`$...$` and `$$...$$` in rendered markdown as MathML, which browsers draw themselves: the page
    needs no MathJax (from a CDN, so none offline). What latex2mathml cannot read stays as written."""
    import latex2mathml.converter

    def convert(found: re.Match, display: str) -> str:
        try:
            return latex2mathml.converter.convert(unescape(found.group(1)).strip(), display=display)
        except Exception:  # its parser raises several kinds; the TeX as written is still readable
            return found.group(0)

    html = DISPLAY_MATH.sub(lambda found: convert(found, "block"), html)
    return INLINE_MATH.sub(lambda found: convert(found, "inline"), html)


def clean_html(html) -> str:
    """Untrusted HTML made safe to open: no scripts, event handlers or javascript: links (ammonia's
    rules, through nh3); classes are kept, for the page's own styles, and MathML, for its math."""
    import nh3

    text = html.decode() if isinstance(html, bytes) else str(html)
    attributes = {tag: set(names) for tag, names in nh3.ALLOWED_ATTRIBUTES.items()}
    attributes["*"] = attributes.get("*", set()) | {"class"}
    attributes |= {tag: MATHML_ATTRIBUTES for tag in MATHML_TAGS}
    return nh3.clean(text, tags=set(nh3.ALLOWED_TAGS) | MATHML_TAGS, attributes=attributes)


class MemoryBytecodeCache(BytecodeCache):
    """Compiled templates kept in memory, keyed by name and source checksum: each feedback page
    builds a new Jinja environment, which compiled nbgrader's and nbconvert's templates anew
    (a quarter of a page's time)."""

    def __init__(self) -> None:
        self.compiled: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        if bucket.key in self.compiled:
            bucket.bytecode_from_string(self.compiled[bucket.key])

    def dump_bytecode(self, bucket: Bucket) -> None:
        self.compiled[bucket.key] = bucket.bytecode_to_string()


COMPILED_TEMPLATES = MemoryBytecodeCache()  # one per process: a grading worker makes every page of its run


REMEMBERED = 4096  # pages' pieces kept per process, of each kind


def remembered(store: dict, key: str, make):
    """store[key], made with make() the first time (the store emptied when full)."""
    if key not in store:
        if len(store) >= REMEMBERED:
            store.clear()
        store[key] = make()
    return store[key]


HIGHLIGHTED: dict[str, str] = {}
RENDERED: dict[str, str] = {}


class CachedHighlight(Highlight2HTML):
    """Highlight2HTML remembering what it highlighted: most of a page's code (the given and test
    cells) is the same for every student, and pygments took a fifth of a page's time."""

    def __call__(self, source, language=None, metadata=None):
        language = language or self.pygments_lexer
        magic = (metadata or {}).get("magics_language")  # all of the metadata that nbconvert reads
        key = json.dumps([source, language, magic, self.extra_formatter_options], sort_keys=True, default=str)
        return remembered(HIGHLIGHTED, key, lambda: super(CachedHighlight, self).__call__(source, language, metadata))


class FeedbackExporter(HTMLExporter):
    """nbconvert's HTMLExporter less its last step, a BeautifulSoup pass over the finished page that
    adds alt text and tab stops: it re-parses the whole page and took most of a feedback page's
    time (0.9 of 1.4 s a notebook). The rest is HTMLExporter.from_notebook_node as nbconvert 7 has it,
    with the page's HTML sanitized; compiled templates, highlighted code and rendered markdown are
    kept for the next page."""

    # A student's markdown and outputs are untrusted HTML: no script or event handler of theirs runs
    # in the page a student or an instructor opens. nbgrader's feedback template renders markdown
    # unsanitized, so markdown is cleaned here too, with the same rules as outputs.
    sanitize_html = Bool(True, help="Sanitize the HTML of markdown cells and outputs.").tag(config=True)

    @pass_context
    def markdown2html(self, context, source):
        cell = context.get("cell", {})
        # the notebook's folder matters only to embedded images (each student's folder differs)
        folder = context.get("resources", {}).get("metadata", {}).get("path", "") if self.embed_images else ""
        settings = [folder, self.embed_images, self.anchor_link_text, self.exclude_anchor_links, self.lexer_options]
        key = json.dumps([source, cell.get("attachments", {}), settings], sort_keys=True, default=str)
        return remembered(
            RENDERED,
            key,
            lambda: clean_html(math_to_mathml(super(FeedbackExporter, self).markdown2html(context, source))),
        )

    def default_filters(self):
        yield from super().default_filters()
        yield ("markdown2html", self.markdown2html)
        yield ("clean_html", clean_html)

    def _create_environment(self):
        environment = super()._create_environment()
        environment.bytecode_cache = COMPILED_TEMPLATES
        return environment

    def from_notebook_node(self, nb, resources=None, **kw):
        language = nb.metadata.get("language_info", {})
        lexer = language.get("pygments_lexer", language.get("name", None))
        self.register_filter(
            "highlight_code", self.filters.get("highlight_code", CachedHighlight(pygments_lexer=lexer, parent=self))
        )
        resources = self._init_resources(resources)
        self.register_filter(
            "filter_data_type",
            WidgetsDataTypeFilter(notebook_metadata=self._nb_metadata, parent=self, resources=resources),
        )
        return TemplateExporter.from_notebook_node(self, nb, resources, **kw)
