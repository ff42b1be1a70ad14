"""What students and instructors see, in a real browser: JupyterLab on loopback driven by Playwright
in Debian's Chromium. One server and one browser for the whole file; a screenshot of every step
goes to tests/screenshots/ (not committed), which the README names."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import (
    ROOT,
    answered,
    copy_course,
    exercise_sources,
    exported_reference,
    reference_answers,
    released_notebook,
)

from tito.course.cells import read_notebook
from tito.course.registry import find_module, load_modules

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "tests" / "screenshots"
TOKEN = "tinytorch-browser-test"
INSTRUCTOR_TOOLS = [
    "@jupyter/nbgrader:formgrader",
    "@jupyter/nbgrader:create-assignment",
    "@jupyter/nbgrader:course-list",
    "@jupyter/nbgrader:validate-assignment",
]
NEWS = "@jupyterlab/apputils-extension:announcements"
# Chromium as this machine can run it: no GPU, no sandbox (root), and none of its own network chatter.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

MISSING = [
    need
    for need, missing in (
        ("Playwright (pip install -e '.[test]')", importlib.util.find_spec("playwright") is None),
        ("Debian's chromium (apt-get install chromium)", not CHROMIUM.exists()),
    )
    if missing
]
if (
    MISSING and os.environ.get("TITO_BROWSER_TESTS") == "required"
):  # CI sets it: there, a skip would hide a broken install
    pytest.fail(f"the browser tests need {' and '.join(MISSING)}", pytrace=False)
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(bool(MISSING), reason=f"the browser tests need {' and '.join(MISSING)}"),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def course(released_course: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the released course (the gradebook the Formgrader lists), with the starting package
    and the milestones, as the instructor's course holds them."""
    course = copy_course(released_course, tmp_path_factory.mktemp("browser") / "course")
    skipped = shutil.ignore_patterns("__pycache__", "executed", "trained")
    for folder in ("tinytorch", "milestones"):
        shutil.copytree(ROOT / folder, course / folder, ignore=skipped)
    return course


@contextlib.contextmanager
def tito_lab(course: Path, *role: str) -> Iterator[str]:
    """`tito lab` (as the README says to start JupyterLab) on loopback with a token, its HOME a
    temporary folder, the course's own tinytorch first on the kernels' path as an editable install
    of that course would give; stopped by its PID. Yields the server's address."""
    name = "lab-instructor" if role else "lab-student"
    home = course.parent / f"{name}-home"
    home.mkdir()
    port = free_port()
    environment = {key: value for key, value in os.environ.items() if not key.startswith("JUPYTER")}
    environment.update(
        HOME=str(home),
        PYTHONPATH=str(course),
        PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    )
    environment.pop("TITO_EXPORT", None)
    log_path = course.parent / f"{name}.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "tito"),
                "lab",
                *role,
                "--",
                "--no-browser",
                "--ServerApp.ip=127.0.0.1",
                f"--ServerApp.port={port}",
                f"--IdentityProvider.token={TOKEN}",
                "--LabApp.expose_app_in_browser=True",
            ],
            cwd=course,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    server.kill()
                    pytest.fail(f"JupyterLab did not start:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.5)
        try:
            yield url
        finally:
            os.kill(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()


@pytest.fixture(scope="module")
def student_lab(course: Path) -> Iterator[str]:
    with tito_lab(course) as url:
        yield url


@pytest.fixture(scope="module")
def instructor_lab(course: Path) -> Iterator[str]:
    with tito_lab(course, "--instructor") as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(exist_ok=True)
    with sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Notebook:
    """A notebook open in JupyterLab, found and used by its cells' ids, as a student sees it."""

    def __init__(self, page, url: str, path: str) -> None:
        self.page = page
        page.goto(f"{url}/lab/tree/{path}?reset&token={TOKEN}")  # reset: no tab restored from an earlier page
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
        self.wait_idle()
        self.ids = page.evaluate(
            "() => window.jupyterapp.shell.currentWidget.content.widgets.map(cell => cell.model.id)"
        )

    def wait_idle(self, timeout: float = 120) -> None:
        """Until the notebook's kernel is connected and idle (the toolbar's indicator says idle before
        a kernel has connected at all)."""
        self.page.wait_for_function(
            "() => { const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session?.kernel;"
            " return kernel?.connectionStatus === 'connected' && kernel.status === 'idle'; }",
            timeout=timeout * 1000,
        )

    def cell(self, cell_id: str):
        return self.page.locator(".jp-Notebook .jp-Cell").nth(self.ids.index(cell_id))

    def select(self, cell_id: str) -> None:
        self.cell(cell_id).locator(".jp-InputPrompt").click()

    def run(self, cell_id: str, timeout: float = 120) -> str:
        """Select the cell, press Shift+Enter, wait for the kernel; returns the cell's output text.

        Done means a new execution count (a cell run twice already has one, and the kernel may not
        have gone busy yet when the key is pressed), then the kernel idle again (outputs arrive first)."""

        def run_it() -> None:
            self.select(cell_id)
            self.page.keyboard.press("Shift+Enter")

        self.until_run(cell_id, run_it, timeout)
        return self.output(cell_id)

    def run_all(self, timeout: float = 240) -> None:
        """Run > Run All Cells, from the menu bar, until the last cell has run."""

        def run_them() -> None:
            self.page.locator(".lm-MenuBar-itemLabel").get_by_text("Run", exact=True).click()
            self.page.locator(".lm-Menu-itemLabel").get_by_text("Run All Cells", exact=True).click()

        self.until_run(self.ids[-1], run_them, timeout)

    def until_run(self, cell_id: str, action, timeout: float) -> None:
        """Do `action`, then wait until `cell_id` has a new execution count and the kernel is idle."""
        index = self.ids.index(cell_id)
        count = "window.jupyterapp.shell.currentWidget.content.widgets[i].model.executionCount"
        before = self.page.evaluate(f"(i) => {count}", index)
        action()
        self.page.wait_for_function(
            f"([i, before]) => {count} !== null && {count} !== before", arg=[index, before], timeout=timeout * 1000
        )
        self.wait_idle(timeout)

    def dirty(self) -> bool:
        return self.page.evaluate("() => window.jupyterapp.shell.currentWidget.context.model.dirty")

    def index_of(self, text: str) -> int:
        """The index of the first code cell whose source contains `text`."""
        return self.page.evaluate(
            "(text) => window.jupyterapp.shell.currentWidget.content.widgets.findIndex("
            "cell => cell.model.type === 'code' && cell.model.sharedModel.getSource().includes(text))",
            text,
        )

    def badge(self, cell_id: str) -> str:
        """The text a cell's editor shows over its code (the lock badge of `tito lab`), or ''."""
        return (
            self.cell(cell_id)
            .locator(".jp-InputArea-editor")
            .evaluate("(el) => getComputedStyle(el, '::before').content")
        )

    def output(self, cell_id: str) -> str:
        """The cell's output as text, read from the notebook's model: JupyterLab skips rendering cells
        out of view (CSS content-visibility), so their DOM text can read as empty."""
        outputs = self.page.evaluate(
            "(i) => window.jupyterapp.shell.currentWidget.content.widgets[i].model.outputs.toJSON()",
            self.ids.index(cell_id),
        )
        parts = []
        for output in outputs:
            text = (
                output.get("text") or output.get("data", {}).get("text/plain") or "\n".join(output.get("traceback", []))
            )
            parts.append("".join(text) if isinstance(text, list) else text)
        return "\n".join(parts)

    def shown(self, cell_id: str) -> str:
        """The cell's output as the page renders it (scrolled into view first, so that it is rendered)."""
        output = self.cell(cell_id).locator(".jp-OutputArea")
        output.scroll_into_view_if_needed()
        return output.inner_text().strip()

    def source(self, cell_id: str) -> str:
        return self.page.evaluate(
            "(i) => window.jupyterapp.shell.currentWidget.content.widgets[i].model.sharedModel.getSource()",
            self.ids.index(cell_id),
        )

    def type_into(self, cell_id: str, text: str) -> None:
        """Click into the cell's editor, select everything and type `text`, as a student pastes an answer."""
        self.cell(cell_id).locator(".cm-content").click()
        self.page.keyboard.press("Control+A")
        self.page.keyboard.insert_text(text)
        self.page.keyboard.press("Escape")

    def shot(self, name: str, cell_id: str | None = None) -> None:
        if cell_id:
            self.cell(cell_id).scroll_into_view_if_needed()
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def plugins(page, names: list[str]) -> dict[str, bool]:
    """Which of these JupyterLab plugins the page has (a disabled one is not registered at all)."""
    return page.evaluate(
        "(names) => Object.fromEntries(names.map(name => [name, window.jupyterapp.hasPlugin(name)]))", names
    )


def test_a_student_works_through_module_01_in_jupyterlab(student_lab, course, browser) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    notebook = Notebook(page, student_lab, "modules/01_tensor/01_tensor.ipynb")
    notebook.shot("01-module-01-open")
    assert not notebook.dirty(), "the notebook shows as modified before the student did anything"
    released = (course / "modules/01_tensor/01_tensor.ipynb").read_bytes()
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")  # resolves once saved
    assert (course / "modules/01_tensor/01_tensor.ipynb").read_bytes() == released, (
        "saving an untouched notebook changed it"
    )
    assert plugins(page, [*INSTRUCTOR_TOOLS, NEWS]) == dict.fromkeys([*INSTRUCTOR_TOOLS, NEWS], False)
    # no nbgrader exchange on this machine: the Assignments panel, with nothing to list, is off (test_lab.py has a hub's)
    assert plugins(page, ["@jupyter/nbgrader:assignment-list"]) == {"@jupyter/nbgrader:assignment-list": False}
    assert page.get_by_text("Validate", exact=True).count() == 0, "students check their work with the check cell"
    # nbgrader's server side: neither the Formgrader nor, without an exchange, the Assignments handler is there
    assert page.request.get(f"{student_lab}/formgrader?token={TOKEN}").status == 404
    assert page.request.get(f"{student_lab}/assignments?token={TOKEN}").status == 404

    setup = notebook.run("setup")
    assert setup.strip() == "✓ Ready: this course's tinytorch, the datasets in place.", (
        f"the setup cell found a problem in a fresh course: {setup}"
    )
    for cell_id in ("given-add-to-class", "ex-01-1"):  # top to bottom, as the notebook says
        assert "Error" not in notebook.run(cell_id), cell_id
    stub = notebook.run("test-01-1")
    assert "NotImplementedError" in stub and "Exercise 01.1: Tensor.__init__" in stub, stub
    assert stub.lstrip().startswith(  # the line that names the mistake comes first
        "✎ Exercise 01.1 (Tensor.__init__) is not written yet: in its cell, replace the "
        "`raise NotImplementedError(...)` line with your code and run the cell."
    ), stub
    notebook.shot("02-stub-names-the-exercise", "test-01-1")

    answer = reference_answers(find_module(load_modules(ROOT), "01"))["ex_01_1"]
    notebook.type_into("ex-01-1", answer)
    assert notebook.source("ex-01-1").strip() == answer.strip()
    assert "Error" not in notebook.run("ex-01-1")
    passed = notebook.run("test-01-1")
    assert "Error" not in passed and "NotImplementedError" not in passed, passed
    notebook.shot("03-exercise-passes", "test-01-1")

    assert "LOCKED" in notebook.badge("test-01-2") and "LOCKED" not in notebook.badge("ex-01-1")
    before = notebook.source("test-01-2")
    notebook.cell("test-01-2").locator(".cm-content").click(position={"x": 10, "y": 10})
    page.keyboard.type("x = 1  # editing a test")
    page.keyboard.press("Escape")
    assert notebook.source("test-01-2") == before, "a locked test cell changed"
    notebook.shot("04-locked-test-cell", "test-01-2")

    page.keyboard.press("Control+S")
    page.wait_for_function("() => !window.jupyterapp.shell.currentWidget.context.model.dirty", timeout=30_000)
    saved = exercise_sources(read_notebook(course / "modules/01_tensor/01_tensor.ipynb"))
    assert saved["ex_01_1"].strip() == answer.strip()

    kernel_status = "() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status"
    answered_while_checking = []

    def check_while_asking_the_server() -> None:
        """The check runs the notebook for seconds; the Jupyter server must answer meanwhile (Validate stalled it)."""
        notebook.select("check")
        page.keyboard.press("Shift+Enter")
        page.wait_for_function(f"() => ({kernel_status})() === 'busy'")
        assert page.request.get(f"{student_lab}/api/status?token={TOKEN}").ok
        answered_while_checking.append(page.evaluate(f"() => ({kernel_status})() === 'busy'"))

    notebook.until_run("check", check_while_asking_the_server, timeout=180)
    assert answered_while_checking == [True], "the server answered only after the check had finished"
    report = notebook.output("check")
    assert "✓ Exercise 01.1" in report and "1 passed, 0 failed, 10 not attempted" in report, report
    notebook.shot("05-check-your-work", "check")

    exported = notebook.run("export")
    assert "Exported modules/01_tensor/01_tensor.ipynb -> tinytorch/core/tensor.py" in exported, exported
    assert "def __init__" in (course / "tinytorch/core/tensor.py").read_text()
    notebook.shot("06-exported", "export")

    # The other ten exercises, typed in; save; Run All: every test passes, and the check gives 20/20
    answers = reference_answers(find_module(load_modules(ROOT), "01"))
    for number in range(2, 12):
        notebook.type_into(f"ex-01-{number}", answers[f"ex_01_{number}"])
    page.keyboard.press("Control+S")
    page.wait_for_function("() => !window.jupyterapp.shell.currentWidget.context.model.dirty", timeout=30_000)
    notebook.run_all()
    for number in range(1, 12):
        output = notebook.output(f"test-01-{number}")
        assert "passed" in output and "Error" not in output, (number, output)
    report = notebook.output("check")
    assert "11 passed, 0 failed, 0 not attempted" in report and "score: 20/20" in report, report
    notebook.shot("07-module-01-complete", "check")
    assert "Exported modules/01_tensor/01_tensor.ipynb -> tinytorch/core/tensor.py" in notebook.output("export")
    page.close()


def test_a_student_on_module_02_reads_the_mistake_first_and_every_line_whole(student_lab, course, browser) -> None:
    """Module 02 in a window of Playwright's default size (1280 × 720), Module 01 done and exported: a failing
    test's output starts with the line naming the mistake and shows none of the course's own frames;
    no line of an exercise or test cell runs past the editor's edge; a locked cell says so."""
    module_01 = find_module(load_modules(ROOT), "01")
    done = answered(released_notebook(module_01, course), reference_answers(module_01))
    module_01.notebook(course).write_text(json.dumps(done, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    subprocess.run([str(Path(sys.executable).parent / "tito"), "export"], cwd=course, check=True, capture_output=True)
    page = browser.new_page()
    notebook = Notebook(page, student_lab, "modules/02_activations/02_activations.ipynb")
    assert notebook.run("setup").strip().startswith("✓ Ready"), notebook.output("setup")
    assert "Error" not in notebook.run("given-activation")

    wrong = reference_answers(find_module(load_modules(ROOT), "02"))["ex_02_1"].replace(
        "np.maximum(x.data, 0)", "np.abs(x.data)"
    )
    notebook.type_into("ex-02-1", wrong)
    assert "Error" not in notebook.run("ex-02-1")
    notebook.run("test-02-1")
    failed = notebook.shown("test-02-1")
    first = failed.splitlines()[0]
    assert first.startswith("CheckFailed: ReLU()(x) for x of shape (2, 3)") and "negatives become 0" in first, failed
    notebook.shot("12-module-02-wrong-answer", "test-02-1")
    stub = (notebook.run("ex-02-2"), notebook.run("test-02-2"), notebook.shown("test-02-2"))[-1]
    assert stub.startswith("✎ Exercise 02.2 (LeakyReLU.__init__) is not written yet"), stub
    for shown in (failed, stub):
        internal = [line for line in shown.splitlines() if re.search(r"tito[/\\]|tinytorch[/\\]|site-packages", line)]
        assert not internal, f"the course's own frames are shown: {internal}"
    notebook.shot("13-module-02-stub", "test-02-2")

    cut_off = {}
    for cell_id in (cell_id for cell_id in notebook.ids if cell_id.startswith(("ex-", "test-"))):
        notebook.cell(cell_id).scroll_into_view_if_needed()
        overflow = notebook.cell(cell_id).evaluate(
            "(cell) => { const scroller = cell.querySelector('.cm-scroller');"
            " const right = Math.min(scroller.getBoundingClientRect().right, window.innerWidth);"
            " return [scroller.scrollWidth - scroller.clientWidth,"
            " ...[...cell.querySelectorAll('.cm-line')].map(line => line.getBoundingClientRect().right - right)]"
            ".filter(excess => excess > 1).length; }"
        )
        if overflow:
            cut_off[cell_id] = overflow
    assert cut_off == {}, f"lines run past the editor's edge at 1280 × 720: {cut_off}"
    notebook.shot("14-module-02-long-lines-wrap", "test-02-6")

    notebook.cell("test-02-3").evaluate("(cell) => cell.scrollIntoView({block: 'start'})")
    notebook.cell("test-02-3").locator(".cm-content").click(position={"x": 10, "y": 10})
    assert "cannot be edited" in notebook.badge("test-02-3"), notebook.badge("test-02-3")
    below_the_banner = notebook.cell("test-02-3").evaluate(
        "(cell) => cell.querySelector('.cm-editor').getBoundingClientRect().top"
        " - cell.querySelector('.jp-InputArea-editor').getBoundingClientRect().top"
    )
    assert below_the_banner >= 12, "the lock's banner covers the cell's first line"
    notebook.shot("15-module-02-locked-cell-says-so")
    page.close()


def test_a_student_with_every_module_done_runs_the_milestone(student_lab, course, browser) -> None:
    """Run All on Milestone 03.1 with a finished library (the reference, in the course's own
    tinytorch/): the live progress bar and the plots render as images."""
    shutil.copytree(exported_reference() / "tinytorch", course / "tinytorch", dirs_exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    notebook = Notebook(page, student_lab, "milestones/03_1986_mlp/01_rumelhart_tinydigits.ipynb")
    assert not notebook.dirty()
    notebook.run_all()
    last = notebook.ids[-1]
    first = notebook.output(notebook.ids[1])
    assert "your own export" in first, first
    fit = notebook.ids[notebook.index_of("trainer.fit(")]
    training = notebook.output(fit)
    assert "epoch 20: loss" in training and "trained in" in training, training
    bar = notebook.cell(fit).locator(
        ".jp-OutputArea .widget-hprogress"
    )  # tqdm's ipywidgets bar, live while training runs
    bar.wait_for(state="attached", timeout=30_000)
    progress = notebook.cell(fit).locator(".jp-OutputArea .widget-hbox").first.evaluate("(box) => box.textContent")
    assert "640/640" in progress and "100%" in progress, progress
    notebook.shot("08-milestone-trained", fit)
    images = page.locator(".jp-OutputArea .jp-RenderedImage img")
    assert images.count() >= 3, images.count()
    sizes = images.evaluate_all("(all) => all.map(img => [img.complete, img.naturalWidth, img.naturalHeight])")
    assert all(complete and width > 200 and height > 100 for complete, width, height in sizes), sizes
    assert "Error" not in notebook.output(last) and "Traceback" not in page.locator(".jp-Notebook").inner_text()
    notebook.shot("09-milestone-plots", notebook.ids[notebook.index_of("plot_hidden_weights(")])
    page.close()


def test_an_instructor_sees_the_modules_in_the_formgrader(instructor_lab, browser) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    notebook = Notebook(page, instructor_lab, "source_solutions/01_tensor/01_tensor.ipynb")
    assert plugins(page, [*INSTRUCTOR_TOOLS, NEWS]) == {**dict.fromkeys(INSTRUCTOR_TOOLS, True), NEWS: False}
    assert page.get_by_text("Validate", exact=True).count() >= 1
    notebook.shot("10-instructor-source-notebook")
    page.goto(f"{instructor_lab}/formgrader?token={TOKEN}")
    page.wait_for_selector("text=01_tensor", timeout=60_000)
    for slug in ("01_tensor", "08_dataloader"):
        assert page.locator(f"text={slug}").count() >= 1, slug
    page.screenshot(path=str(SCREENSHOTS / "11-formgrader.png"))
    page.close()
