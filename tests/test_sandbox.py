"""The sandbox a graded kernel runs in (tito.grading.sandbox), on one small notebook run once: what the
kernel can see and reach, its caps, and how a runaway cell is stopped without losing the rest."""

from __future__ import annotations

import concurrent.futures
import os
import socket
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from helpers import ROOT

from tito.course.verdict import KERNEL_DIED, REWRITTEN, TIMED_OUT
from tito.grading.limits import Limits
from tito.grading.sandbox import check_readable, execute_confined

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
    reference.chmod(0o755)  # as `tito export --reference` leaves it: a root grader's kernels run as another user
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
        cell("print('after the restart')", graded=True),
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
    streams = [o["name"] for o in notebook.cells[4].outputs if o["output_type"] == "stream"]
    assert streams == ["stdout"] and "debug" in text(notebook, 4)
    assert len(text(notebook, 5)) < 20_000 and "output cut" in text(notebook, 5)


def test_an_interrupted_loop_times_out_and_the_notebook_goes_on(executed) -> None:
    notebook, _ = executed
    assert error_name(notebook, 6) == TIMED_OUT
    assert "still alive" in text(notebook, 7)


def test_a_rewritten_test_cell_does_not_pass_nor_any_test_of_a_kernel_whose_ipython_was_changed(executed) -> None:
    notebook, events = executed
    assert error_name(notebook, 9) == REWRITTEN
    assert any("changed how IPython rewrites or runs cells" in event for event in events), events
    assert all(REWRITTEN in [o.get("ename") for o in notebook.cells[i].outputs] for i in (4, 7, 11))


def test_a_loop_that_swallows_interrupts_costs_only_its_own_cell(executed) -> None:
    notebook, events = executed
    assert error_name(notebook, 10) == TIMED_OUT
    assert "after the restart" in text(notebook, 11)
    assert any("ignored the interrupt" in event and "restarted" in event for event in events), events


# Tight caps, so that a broken one cannot take the machine down: what each fixture below tries is
# bounded by these, a few times over at worst.
CAPS = Limits(
    cell_seconds=20,
    notebook_seconds=60,
    memory_bytes=1 << 30,
    processes=16,
    disk_bytes=64 << 20,
    files=2_000,
    open_files=256,
    interrupt_grace_seconds=2,
)
FILL = (
    "def fill(path):\n    written = 0\n    try:\n        with open(path, 'wb') as handle:\n"
    "            while written < 200 * 2**20:\n                handle.write(b'x' * 2**20)\n"
    "                handle.flush()\n                written += 2**20\n"
    "    except OSError as error:\n        print(type(error).__name__, end=' ')\n"
    "    print('wrote', written // 2**20, 'MiB')\n"
)
TOKEN = f"tito-reap-{os.getpid()}"


def run_cells(*sources: str, limits: Limits = CAPS) -> tuple[nbformat.NotebookNode, list[str]]:
    notebook = nbformat.v4.new_notebook(
        cells=[cell(source) for source in sources] + [cell("print('end')", graded=True)]
    )
    events = execute_confined(notebook, ROOT / "tito", None, limits)
    return notebook, events


@pytest.fixture(scope="module")
def honest_but_busy():
    return run_cells(
        "import threading, time\nfor _ in range(300):\n    threading.Thread(target=time.sleep, args=(30,), daemon=True).start()\n"
        "print('threads', threading.active_count())",
        FILL + "fill('/dev/shm/x')",
        FILL + "fill('/tmp/x')",
        FILL + "fill('x')",
        "try:\n    open('/dev/x', 'w')\nexcept OSError as error:\n    print(type(error).__name__, error.errno)",
        f"import subprocess\nfor _ in range(3):\n    subprocess.Popen(['sleep', '300', '{TOKEN}'], start_new_session=True)",
    )


def test_hundreds_of_threads_still_grade_and_the_sandboxs_folders_are_small(honest_but_busy) -> None:
    notebook, events = honest_but_busy
    assert int(text(notebook, 0).split()[1]) > 300 and "end" in text(notebook, 6), events
    for index in (1, 2, 3):  # /dev/shm, /tmp, home: 64 MiB each
        assert "OSError" in text(notebook, index) and int(text(notebook, index).split()[-2]) <= 64, text(
            notebook, index
        )
    assert "OSError 30" in text(notebook, 4), "/dev is writable"


def test_every_process_a_notebook_started_is_gone_when_it_ends(honest_but_busy) -> None:
    survivors = subprocess.run(["pgrep", "-f", TOKEN], capture_output=True, text=True).stdout
    assert not survivors.strip(), f"processes the notebook started outlived it: {survivors}"


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        (
            "import subprocess\nfor _ in range(40):\n    subprocess.Popen(['sleep', '60'])\nimport time\ntime.sleep(5)",
            "started more than 16 processes",
        ),
        (
            "import subprocess, sys, time\ngrab = 'import numpy as np, time; a = np.ones(450 * 2**20 // 8); time.sleep(30)'\n"
            "children = [subprocess.Popen([sys.executable, '-c', grab]) for _ in range(3)]\ntime.sleep(15)",
            "used more than 1 GiB of memory, all its processes together",
        ),
        (
            "import os, sys, time\nfolder = os.path.dirname(sys.argv[sys.argv.index('-f') + 1])\n"
            "for n in range(3):\n    with open(os.path.join(folder, f'big{n}'), 'wb') as handle:\n"
            "        handle.write(b'x' * (60 * 2**20))\ntime.sleep(5)",
            "wrote more than 64 MiB",
        ),
        (
            "import os, time\nfiles = []\nfor _ in range(20):\n    fd = os.memfd_create('hoard')\n"
            "    os.posix_fallocate(fd, 0, 60 * 2**20)\n    files.append(fd)\ntime.sleep(5)",
            "used more than 1 GiB of memory, all its processes together",
        ),
    ],
    ids=["processes", "memory-across-processes", "disk", "memory-files"],
)
def test_a_sandbox_over_a_cap_as_a_whole_is_stopped_naming_it(source: str, reason: str) -> None:
    notebook, events = run_cells(source)
    assert error_name(notebook, 0) == KERNEL_DIED and reason in "".join(notebook.cells[0].outputs[-1]["traceback"])
    assert any(reason in event and "restarted" in event for event in events), events
    assert "end" in text(notebook, 1), "the cells after a sandbox that was stopped are not graded"


@pytest.fixture(scope="module")
def who_am_i():
    return run_cells(
        "import os\nprint(os.getuid(), open('/proc/self/uid_map').read().split())",
        "try:\n    open('/etc/shadow').read()\n    print('read /etc/shadow')\nexcept OSError as error:\n    print('shadow:', type(error).__name__)",
        "import os\nprint(' '.join(sorted(os.listdir('/etc'))))",
        "try:\n    print(open('/proc/1/environ').read())\nexcept OSError as error:\n    print('environ:', type(error).__name__)",
    )


def test_a_folder_the_kernels_user_cannot_read_is_named_before_grading(tmp_path) -> None:
    private = tmp_path / "reference"
    private.mkdir(mode=0o700)
    if os.geteuid() != 0:
        pytest.skip("only a grader that is root runs its kernels as another user")
    with pytest.raises(OSError, match="could not start as they must .*reference"):
        check_readable(private, None, CAPS, sandboxed=True)


def test_the_kernel_is_never_root_on_the_host_and_sees_little_of_it(who_am_i) -> None:
    notebook, events = who_am_i
    uid, *mapping = text(notebook, 0).replace("[", "").replace("]", "").replace("'", "").replace(",", "").split()
    inside, outside, count = (int(part) for part in mapping[:3])
    assert int(uid) != 0 and inside <= int(uid) < inside + count, text(notebook, 0)
    assert outside + int(uid) - inside != 0, f"the kernel's user is root outside the sandbox: {text(notebook, 0)}"
    assert text(notebook, 1).startswith("shadow:"), text(notebook, 1)
    assert set(text(notebook, 2).split()) <= {
        "ld.so.cache",
        "ld.so.conf",
        "ld.so.conf.d",
        "alternatives",
        "localtime",
        "passwd",
        "group",
        "nsswitch.conf",
        "mime.types",
    } | {name for name in text(notebook, 2).split() if name.startswith("python3")}, text(notebook, 2)
    assert "PYTEST" not in text(notebook, 3) and "HOME=/root" not in text(notebook, 3), text(notebook, 3)
    assert "end" in text(notebook, 4), events


def test_a_kernel_that_plants_a_link_for_its_restart_changes_nothing_outside(tmp_path) -> None:
    """The kernel owns its folder: a root grader restarting it must not follow a link put there."""
    victim = tmp_path / "victim"
    victim.write_text("the grader's")
    victim.chmod(0o600)
    before = victim.stat()
    plant = (
        "import os, sys\nconnection = sys.argv[sys.argv.index('-f') + 1]\nos.remove(connection)\n"
        f"os.symlink({str(victim)!r}, connection)\nos._exit(3)"
    )
    _, events = run_cells(plant)
    after = victim.stat()
    assert (after.st_uid, after.st_gid, after.st_mode) == (before.st_uid, before.st_gid, before.st_mode), events
    assert victim.read_text() == "the grader's"


def test_a_sandbox_that_keeps_more_than_one_and_a_half_cores_busy_for_ten_seconds_is_over(
    monkeypatch, tmp_path
) -> None:
    """The rule itself, on a measured history (spinning processes would make the test depend on the machine's load)."""
    import time as clock

    from tito.grading import watchdog

    dog = watchdog.Watchdog(os.getpid(), 0, tmp_path, Limits(processes=10_000))
    monkeypatch.setattr(watchdog, "process_tree", lambda root: [root])
    monkeypatch.setattr(watchdog, "resident_bytes", lambda pids: 0)
    monkeypatch.setattr(watchdog, "cpu_seconds", lambda pids: 16.0)
    dog.cpu_seen = [(clock.monotonic() - 9.5, 0.0)]
    assert "cores busy for 10 s" in dog.over()
    monkeypatch.setattr(watchdog, "cpu_seconds", lambda pids: 14.0)
    dog.cpu_seen = [(clock.monotonic() - 9.5, 0.0)]
    assert dog.over() == ""


def test_system_v_shared_memory_is_capped_in_the_sandbox() -> None:
    if os.geteuid() != 0:
        pytest.skip("a grader that is not root cannot reach the sandbox's IPC namespace")
    notebook, events = run_cells(
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "print('big', libc.shmget(0, ctypes.c_size_t(512 << 20), 0o1000 | 0o600))\n"
        "print('small', libc.shmget(0, ctypes.c_size_t(1 << 20), 0o1000 | 0o600) >= 0)"
    )
    assert "big -1" in text(notebook, 0) and "small True" in text(notebook, 0), (text(notebook, 0), events)


AHEAD = """
import concurrent.futures, multiprocessing, os, sys
from pathlib import Path
import nbformat
from tito.grading import sandbox
from tito.grading.limits import Limits

def run(source):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    sandbox.execute_confined(notebook, Path(sys.argv[1]), None, Limits(cell_seconds=20), prestart=True)
    text = "".join(output.get("text", "") for output in notebook.cells[0].outputs).strip()
    return text + "\\nspare " + str(sandbox._SPARE[sandbox._here()].folder)

FIRST = ("import os, subprocess\\nopen('/tmp/left', 'w').write('a')\\nopen(os.path.expanduser('~/left'), 'w').write('a')\\n"
    "os.environ['LEFT'] = 'a'\\nsubprocess.Popen(['sh', '-c', 'sleep 300', 'tito-left-behind'], start_new_session=True)\\n"
    "from ipykernel.connect import get_connection_file\\nprint('kernel', get_connection_file())")
SECOND = ("import os\\nleft = [p for p in ('/tmp/left', os.path.expanduser('~/left')) if os.path.exists(p)]\\n"
    "procs = [open(f'/proc/{p}/cmdline').read() for p in os.listdir('/proc') if p.isdigit()]\\n"
    "from ipykernel.connect import get_connection_file\\nprint('kernel', get_connection_file())\\n"
    "print('left', left, os.environ.get('LEFT'), [p for p in procs if 'tito-left-behind' in p])")

if __name__ == "__main__":  # in a forked worker, as tito grade runs them
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
        print(pool.submit(run, FIRST).result())
        print(pool.submit(run, SECOND).result())
"""


def test_a_kernel_started_ahead_is_a_fresh_sandbox_and_stops_with_its_grader(tmp_path) -> None:
    """The next notebook's kernel, started as one ends, is the one the next notebook runs in; it sees
    nothing the notebook before left (files, environment, processes), and the last one, never used,
    stops when the grading process exits."""
    script = tmp_path / "ahead.py"
    script.write_text(AHEAD)
    run = subprocess.run(
        [sys.executable, str(script), str(ROOT / "tito")], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert run.returncode == 0, run.stderr[-2000:]
    lines = run.stdout.splitlines()
    first_spare, second_kernel = lines[1].split()[1], lines[2].split()[-1]
    assert second_kernel.startswith(first_spare), (
        f"the second notebook did not run in the kernel started ahead: {lines}"
    )
    assert lines[3] == "left [] None []", f"the kernel started ahead saw what the notebook before left: {lines[3]}"
    last_spare = lines[4].split()[1]
    survivors = subprocess.run(["pgrep", "-f", last_spare], capture_output=True, text=True).stdout
    assert not survivors.strip(), f"the kernel started ahead outlived its grader: {survivors}"
    assert not Path(last_spare).exists(), "the folder of the kernel started ahead was left behind"


def test_notebooks_graded_in_two_threads_at_once_each_get_their_own_kernel() -> None:
    """execute_confined keeps an event loop (for the kernel started ahead): one per thread, so that a
    program grading from threads runs as it did with a loop per call."""
    notebooks = [nbformat.v4.new_notebook(cells=[cell(f"print({n} * 7)")]) for n in (1, 2)]
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        events = list(pool.map(lambda nb: execute_confined(nb, ROOT / "tito", None, CAPS), notebooks))
    assert events == [[], []] and [text(nb, 0).strip() for nb in notebooks] == ["7", "14"], events
