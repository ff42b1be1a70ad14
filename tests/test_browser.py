"""What students and instructors see, in a real browser: JupyterLab on loopback driven by Playwright
in Debian's Chromium. One server and one browser for the whole file; a screenshot of every step
goes to tests/screenshots/ (not committed), which the README names."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import exercise_sources

from tito.export import read_notebook
from tito.grading import release

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "tests" / "screenshots"
TOKEN = "tinytorch-browser-test"
# Chromium as this machine can run it: no GPU, no sandbox (root), and none of its own network chatter.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]

playwright = pytest.importorskip("playwright.sync_api", reason="the browser tests need Playwright (pip install -e '.[browser]')")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="the browser tests need Debian's chromium (apt-get install chromium)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory):
    """A scratch course served by JupyterLab on loopback (its HOME a temporary folder), stopped by its PID."""
    base = tmp_path_factory.mktemp("browser")
    course = base / "course"
    course.mkdir()
    for name in ("modules.toml", "nbgrader_config.py"):
        (course / name).write_bytes((ROOT / name).read_bytes())
    subprocess.run(["cp", "-r", *(str(ROOT / folder) for folder in ("source_solutions", "modules", "tinytorch")), str(course)], check=True)
    (course / "datasets").symlink_to(ROOT / "datasets", target_is_directory=True)
    release(course)  # the gradebook the Formgrader lists
    home = base / "home"
    home.mkdir()
    port = free_port()
    environment = {key: value for key, value in os.environ.items() if not key.startswith("JUPYTER")}
    environment.update(HOME=str(home), TITO_EXPORT="",
                       PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    log = open(base / "lab.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
         f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={course}", "--LabApp.expose_app_in_browser=True"],
        cwd=course, env=environment, stdout=log, stderr=subprocess.STDOUT,
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
                pytest.fail(f"JupyterLab did not start:\n{(base / 'lab.log').read_text()[-3000:]}")
            time.sleep(0.5)
    yield url, course
    os.kill(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
    log.close()


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
        page.goto(f"{url}/lab/tree/{path}?token={TOKEN}")
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
        self.wait_idle()
        self.ids = page.evaluate("() => window.jupyterapp.shell.currentWidget.content.widgets.map(cell => cell.model.id)")

    def wait_idle(self, timeout: float = 120) -> None:
        indicator = self.page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").filter(visible=True)
        indicator.first.wait_for(timeout=timeout * 1000)

    def cell(self, cell_id: str):
        return self.page.locator(".jp-Notebook .jp-Cell").nth(self.ids.index(cell_id))

    def select(self, cell_id: str) -> None:
        self.cell(cell_id).locator(".jp-InputPrompt").click()

    def run(self, cell_id: str, timeout: float = 120) -> str:
        """Select the cell, press Shift+Enter, wait for the kernel; returns the cell's output text."""
        self.select(cell_id)
        self.page.keyboard.press("Shift+Enter")
        self.page.wait_for_function("(i) => window.jupyterapp.shell.currentWidget.content.widgets[i].model.executionCount !== null",
                                    arg=self.ids.index(cell_id), timeout=timeout * 1000)
        self.wait_idle(timeout)
        return self.output(cell_id)

    def output(self, cell_id: str) -> str:
        return self.cell(cell_id).locator(".jp-OutputArea").inner_text()

    def source(self, cell_id: str) -> str:
        return self.page.evaluate("(i) => window.jupyterapp.shell.currentWidget.content.widgets[i].model.sharedModel.getSource()",
                                  self.ids.index(cell_id))

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


def test_a_student_works_through_module_01_in_jupyterlab(lab, browser) -> None:
    url, course = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    notebook = Notebook(page, url, "modules/01_tensor/01_tensor.ipynb")
    notebook.shot("01-module-01-open")

    for cell_id in ("setup", "given-add-to-class", "ex-01-1"):  # top to bottom, as the notebook says
        assert "Error" not in notebook.run(cell_id), cell_id
    stub = notebook.run("test-01-1")
    assert "NotImplementedError" in stub and "Exercise 01.1: Tensor.__init__" in stub, stub
    notebook.shot("02-stub-names-the-exercise", "test-01-1")

    answer = exercise_sources(read_notebook(ROOT / "source_solutions/01_tensor/01_tensor.ipynb"))["ex_01_1"]
    notebook.type_into("ex-01-1", answer)
    assert notebook.source("ex-01-1").strip() == answer.strip()
    assert "Error" not in notebook.run("ex-01-1")
    passed = notebook.run("test-01-1")
    assert "Error" not in passed and "NotImplementedError" not in passed, passed
    notebook.shot("03-exercise-passes", "test-01-1")

    before = notebook.source("test-01-2")
    notebook.cell("test-01-2").locator(".cm-content").click()
    page.keyboard.type("x = 1  # editing a test")
    page.keyboard.press("Escape")
    assert notebook.source("test-01-2") == before, "a locked test cell changed"
    notebook.shot("04-locked-test-cell", "test-01-2")

    page.keyboard.press("Control+S")
    page.wait_for_function("() => !window.jupyterapp.shell.currentWidget.context.model.dirty", timeout=30_000)
    saved = exercise_sources(read_notebook(course / "modules/01_tensor/01_tensor.ipynb"))
    assert saved["ex_01_1"].strip() == answer.strip()

    report = notebook.run("check", timeout=180)
    assert "✅ Exercise 01.1" in report and "1 passed, 0 failed, 10 not attempted" in report, report
    notebook.shot("05-check-your-work", "check")

    exported = notebook.run("export")
    assert "Exported modules/01_tensor/01_tensor.ipynb -> tinytorch/core/tensor.py" in exported, exported
    assert "def __init__" in (course / "tinytorch/core/tensor.py").read_text()
    notebook.shot("06-exported", "export")
    page.close()


def test_an_instructor_sees_the_modules_in_the_formgrader(lab, browser) -> None:
    url, _ = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{url}/formgrader?token={TOKEN}")
    page.wait_for_selector("text=01_tensor", timeout=60_000)
    for slug in ("01_tensor", "08_dataloader"):
        assert page.locator(f"text={slug}").count() >= 1, slug
    page.screenshot(path=str(SCREENSHOTS / "08-formgrader.png"))
    page.close()
