"""Running a notebook nobody trusts: its kernel in a bubblewrap sandbox, under limits, one cell at a time.

The kernel sees the Python environment, the `tito` package, the reference of the modules before
the graded one and the datasets, all read-only, and an empty home of its own; not the course
folder, the gradebook, the solutions or anyone's submission. It has no network (it talks to the
grader over Unix sockets in a folder of its own), a memory cap and a CPU-time cap, and when its
notebook ends every process it started dies with it (its own PID namespace).

Whatever happens in a cell, the notebook keeps what ran before it: a cell that runs too long is
interrupted and recorded as timed out; a kernel that ignores the interrupt, dies, or uses up the
notebook's time leaves every graded cell below it marked with the reason, not a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import math
import multiprocessing.util
import os
import queue
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import nbformat
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning import LocalProvisioner
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from traitlets import Type

import tito
from tito.course.cells import describe_cell, first_error, is_code, is_demonstration, is_graded, is_locked
from tito.course.settings import DATA_ENV, EXPORT_ENV, EXPORT_SKIP
from tito.course.verdict import KERNEL_DIED, NOT_RUN, REWRITTEN, TIMED_OUT
from tito.grading.limits import Limits
from tito.grading.watchdog import Watchdog, cap_shared_memory

SYSTEM_FOLDERS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64")
# Of the host's /etc, only what Python and its libraries read: not its secrets, not its settings.
SYSTEM_FILES = (
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/alternatives",
    "/etc/localtime",
    "/etc/passwd",
    "/etc/group",
    "/etc/nsswitch.conf",
    "/etc/mime.types",
)
HOME = "/home/student"
KERNEL_FOLDER = "tito-kernel-"  # + the grading process's id: a kernel's folder on the host, see remove_kernel_folders
DATA = "/datasets"
NOBODY = 65534  # the kernel's user inside the sandbox's user namespace (a grader that is not root)
KERNEL_USERS = 100_000  # a root grader's kernels run as host users from here: see kernel_user


@functools.lru_cache(maxsize=1)
def bubblewrap_probe() -> tuple[str | None, str]:
    """(the `bwrap` program or None, why it cannot make a sandbox here: '' when it can)."""
    program = shutil.which("bwrap")
    if not program:
        return None, "bubblewrap is not installed"
    probe = subprocess.run(
        [program, "--unshare-all", "--ro-bind", "/", "/", "true"], capture_output=True, text=True, timeout=30
    )
    return program, "" if probe.returncode == 0 else (probe.stderr.strip().splitlines() or ["no message"])[-1]


def bubblewrap() -> str | None:
    """The `bwrap` program, if it is installed and may create namespaces here; else None."""
    program, problem = bubblewrap_probe()
    return None if problem else program


def readable_folders(earlier_reference: Path) -> list[Path]:
    """What a graded kernel may read: Python, the installed packages, tito (and the data code it
    loads, Module 08's given cells as released), the earlier modules' reference."""
    from tito.student.datasets import DATA_MODULE

    folders = {
        Path(sys.base_prefix),
        Path(sys.prefix),
        Path(tito.__file__).resolve().parent,
        earlier_reference.resolve(),
    }
    if DATA_MODULE.is_file():
        folders.add(DATA_MODULE.resolve())
    folders.update(Path(entry).resolve() for entry in sys.path if "site-packages" in entry and Path(entry).is_dir())
    return sorted(folders)


def sandbox_prefix(
    program: str, readable: list[Path], datasets: Path | None, kernel_folder: Path, limits: Limits
) -> list[str]:
    """The bwrap arguments that put a command in the sandbox described at the top of this module.

    A grader that is not root maps the kernel's user (65534) onto itself, in a user namespace; one
    that is root would map it onto root, so there the sandbox is made without a user namespace and
    the kernel drops to an unprivileged host user of its own as it starts (`kernel_user`)."""
    if as_root():
        command = [program, "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts"]
        command += ["--unshare-cgroup-try", "--die-with-parent"]
    else:
        command = [program, "--unshare-all", "--die-with-parent", "--uid", str(NOBODY), "--gid", str(NOBODY)]
    for folder in SYSTEM_FOLDERS:
        if os.path.islink(folder):
            command += ["--symlink", os.readlink(folder), folder]
        elif os.path.isdir(folder):
            command += ["--ro-bind", folder, folder]
    size = str(limits.disk_bytes)
    # /dev read-only but its /dev/shm, and /tmp (before the binds: it would hide those under it) and
    # the home, all in memory, size-limited and the kernel's to write
    command += ["--proc", "/proc", "--dev", "/dev", "--remount-ro", "/dev"]
    for folder, mode in (("/dev/shm", "1777"), ("/tmp", "1777"), (HOME, "0777")):
        command += ["--perms", mode, "--size", size, "--tmpfs", folder]
    command += ["--chdir", HOME]
    system_files = [*SYSTEM_FILES, *map(str, Path("/etc").glob("python3*"))]
    binds = [*map(str, readable), str(kernel_folder), *system_files, HOME]
    mounted = {"/", "/tmp", "/dev", "/proc", *SYSTEM_FOLDERS}
    # the folders above what is bound in: bubblewrap would make them 0700 (the user's own, in a user
    # namespace; root's, without one), so they are made first, readable by all
    above = {str(parent) for path in binds for parent in Path(path).parents} - mounted
    for folder in sorted(above, key=lambda path: (path.count("/"), path)):
        command += ["--perms", "0755", "--dir", folder]
    for path in system_files:
        command += ["--ro-bind-try", path, path]
    for path in map(str, readable):
        command += ["--ro-bind", path, path]
    if datasets is not None and datasets.is_dir():
        command += ["--ro-bind", str(datasets.resolve()), DATA]
    command += ["--bind", str(kernel_folder), str(kernel_folder)]
    return command


def as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def kernel_user() -> int:
    """The unprivileged host user a root grader runs this worker's kernels as: one of its own per
    worker process, no account's, so that the per-user process cap counts this sandbox alone (with
    one shared user, a fork bomb in one sandbox would stop the kernels of the others starting)."""
    return KERNEL_USERS + os.getpid() % 900_000


def limits_prefix(limits: Limits, user: int | None = None) -> list[str]:
    """A command prefix that sets the per-process caps (inherited by everything the kernel starts)
    and, given a `user`, makes the command run as that unprivileged user, with a process cap."""
    caps = [4 * limits.memory_bytes, int(limits.notebook_seconds) + 30, limits.disk_bytes, limits.open_files]
    # threads count as processes of a user: room for an honest notebook's hundreds of threads
    drop = ["--user", f"{user}:{user}", str(limits.processes + 1024)] if user is not None else []
    return [sys.executable, "-I", str(Path(__file__).with_name("rlimits.py")), *map(str, caps), *drop, "--"]


def kernel_environment(earlier_reference: Path, datasets: str | None, home: str) -> dict[str, str]:
    """The whole environment of a graded kernel: nothing of the grader's own leaks in."""
    environment = {
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": home,
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(earlier_reference.resolve()),
        EXPORT_ENV: EXPORT_SKIP,
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    }
    if datasets is not None:
        environment[DATA_ENV] = datasets
    return environment


# ipykernel's launcher, less the debugger: nothing in grading debugs, and importing debugpy was
# 0.1 of a graded kernel's 0.45 CPU-s start (measured interleaved on an empty notebook)
WITHOUT_DEBUGGER = (
    "import sys; sys.modules['debugpy'] = None; del sys.path[0]; "
    "from ipykernel.kernelapp import launch_new_instance; launch_new_instance()"
)


class ReadyClient(AsyncKernelClient):
    """jupyter_client's client, ready as soon as the kernel is: its own wait_for_ready ends by reading
    IOPub until 0.2 s pass without a message, a fixed 0.2 s of every graded notebook. This one stops
    at the last message its kernel_info request causes (the idle status), and checks as much:
    a kernel_info reply on the shell channel, IOPub connected (else ask again), the kernel alive."""

    async def wait_for_ready(self, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (math.inf if timeout is None else timeout)
        while True:
            request = self.kernel_info()
            reply = await self._answer(self.shell_channel, request, 1.0, "kernel_info_reply")
            # IOPub is connected when it brings this request's idle status (its first messages may be
            # lost while it connects: then ask again, as jupyter_client does)
            if reply is not None and await self._answer(self.iopub_channel, request, 0.2, "status") is not None:
                self._handle_kernel_info_reply(reply)
                return
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:.0f} seconds")

    @staticmethod
    async def _answer(channel, request: str, seconds: float, kind: str) -> dict | None:
        """The next message on `channel` of `kind` sent in answer to `request` (for a status, the idle
        one), passing over others; None when `seconds` pass without a message."""
        while True:
            try:
                message = await channel.get_msg(timeout=seconds)
            except queue.Empty:
                return None
            if message["msg_type"] != kind or message["parent_header"].get("msg_id") != request:
                continue
            if kind != "status" or message["content"].get("execution_state") == "idle":
                return message


class ConfinedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel command runs under `prefix` (the sandbox, then the limits)."""

    client_factory = Type(ReadyClient, klass=AsyncKernelClient)
    prefix: list[str]  # set before the kernel starts

    async def _async_wait(self, pollinterval: float = 0.01) -> None:
        """Wait for a killed kernel to end, looking every 10 ms (jupyter_client's 100 ms: a notebook's
        50 ms, on average, of waiting for a sandbox already gone)."""
        await super()._async_wait(pollinterval)

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        command = super().format_kernel_cmd(extra_arguments)
        launcher = ["-m", "ipykernel_launcher"]
        at = next((i for i in range(len(command)) if command[i : i + 2] == launcher), None)
        if at is not None:
            command[at : at + 2] = ["-c", WITHOUT_DEBUGGER]
        return self.prefix + command

    def write_connection_file(self, **kwargs) -> None:
        super().write_connection_file(**kwargs)
        if as_root() and not getattr(self, "_given_to_kernel", False):
            # written as root, 0600: the kernel, an unprivileged user, must read it. Once, before the
            # kernel runs, and never through a link: the kernel owns the folder and could put one there.
            os.chown(self.connection_file, kernel_user(), kernel_user(), follow_symlinks=False)
            self._given_to_kernel = True


class CappedClient(NotebookClient):
    """nbclient's client with a cap on the bytes of output a cell may keep, which also takes the
    proof-of-run marker (see `_execute`) out of a test cell's output."""

    output_cap: int = 100_000
    marker: str = ""
    marked: set
    failed: set  # cells whose execute_reply said error, whatever their outputs show

    async def _check_raise_for_error(self, cell, cell_index: int, exec_reply) -> None:
        if exec_reply is not None and exec_reply.get("content", {}).get("status") == "error":
            self.failed.add(cell_index)
        await super()._check_raise_for_error(cell, cell_index, exec_reply)

    def output(self, outs, msg, display_id, cell_index):
        out = super().output(outs, msg, display_id, cell_index)
        if out is None or not outs or outs[-1] is not out:
            return out
        if self.marker and out.get("output_type") == "stream" and self.marker in out.get("text", ""):
            self.marked.add(cell_index)
            out["text"] = out["text"].replace(self.marker + "\n", "").replace(self.marker, "")
            if not out["text"]:
                outs.pop()
                return out
        self._used = getattr(self, "_used", {})
        self._used[cell_index] = self._used.get(cell_index, 0) + len(json.dumps(out))
        if self._used[cell_index] > self.output_cap:
            outs.pop()
            note = f"\n[output cut: this cell printed more than {self.output_cap:,} bytes]\n"
            if not (outs and outs[-1].get("text") == note):
                outs.append(nbformat.v4.new_output("stream", name="stdout", text=note))
        return out


MAX_RESTARTS = 3  # kernels a notebook may take down before grading stops at the next
KERNEL_ARGUMENTS = ["--HistoryManager.hist_file=:memory:"]


def _quiet(message: dict) -> None:
    """What a replayed cell prints is dropped: it was recorded the first time."""


def _error_output(name: str, message: str) -> dict:
    return nbformat.v4.new_output("error", ename=name, evalue=message, traceback=[f"{name}: {message}"])


async def _responsive(client: NotebookClient, seconds: float) -> bool:
    """Whether the kernel answers a kernel_info request within `seconds` (it queues behind a running cell)."""
    kc = client.kc
    if not isinstance(kc, AsyncKernelClient):  # no kernel client: the kernel is gone
        return False
    msg_id = kc.kernel_info()
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            reply = await kc.get_shell_msg(timeout=left)
        except Exception:
            return False
        if reply.get("parent_header", {}).get("msg_id") == msg_id:
            return True
    return False


# How the kernel's IPython rewrites and runs cells, and what the tests call (tito's checks, numpy,
# the builtins), read through a user expression, which IPython evaluates without its input or AST
# transformers: taken after the (locked) setup cell and after the last, a difference means code in
# the notebook changed how the tests ran.
SHELL_STATE = (
    "(lambda ip, sys, zlib: repr(("
    # how cells are rewritten and run
    "len(ip.ast_transformers), "
    "[getattr(t, '__module__', '') + '.' + getattr(t, '__qualname__', type(t).__qualname__) "
    "for t in ip.input_transformers_cleanup + ip.input_transformers_post], "
    "type(ip).run_cell.__module__, type(ip).run_cell.__qualname__, getattr(ip.run_cell, '__func__', None) is type(ip).run_cell, "
    "type(ip).run_cell_async.__module__, type(ip).run_ast_nodes.__module__, "
    # how errors are shown and what runs around each cell
    "sorted(k for k, v in vars(ip).items() if callable(v) and not isinstance(v, type)), repr(ip.custom_exceptions), "
    # (the libraries' own callbacks left out: matplotlib registers its own when pyplot is imported)
    "sorted((event, [str(getattr(f, '__module__', '')) + '.' + str(getattr(f, '__qualname__', type(f).__qualname__)) "
    "for f in callbacks if not str(getattr(f, '__module__', '')).startswith(('matplotlib', 'IPython', 'ipykernel'))]) "
    "for event, callbacks in ip.events.callbacks.items()), "
    # what the tests call: tito's checks as the notebook names them and as their module holds them,
    # numpy as the notebook names it, numpy's and the builtins' callables
    "sorted((n, str(getattr(v, '__module__', '')), zlib.crc32(getattr(getattr(v, '__code__', None), 'co_code', b''))) "
    "for n, v in ip.user_ns.items() if str(getattr(v, '__module__', '')).startswith('tito.')), "
    "sorted((n, zlib.crc32(f.__code__.co_code)) for n, f in vars(sys.modules.get('tito.student.checks', sys)).items() "
    "if hasattr(f, '__code__')), "
    "getattr(ip.user_ns.get('np'), '__name__', None), "
    "zlib.crc32(repr(sorted((n, str(getattr(v, '__module__', ''))) for n, v in vars(sys.modules['numpy']).items() "
    "if callable(v))).encode()) if 'numpy' in sys.modules else None, "
    "zlib.crc32(repr(sorted((n, type(v).__name__, str(getattr(v, '__module__', ''))) "
    "for n, v in vars(sys.modules['builtins']).items())).encode()))))"
    "(__import__('IPython').get_ipython(), __import__('sys'), __import__('zlib'))"
)


SHELL_CHANGED = "code in the notebook changed how IPython rewrites or runs cells, or what the tests call"


async def _shell_state(client: NotebookClient, seconds: float = 10) -> str:
    """SHELL_STATE as the kernel answers it, or a note that it did not."""
    kc = client.kc
    if not isinstance(kc, AsyncKernelClient):
        return "no kernel"
    msg_id = kc.execute("", silent=True, store_history=False, user_expressions={"state": SHELL_STATE})
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            reply = await kc.get_shell_msg(timeout=left)
        except Exception:
            break
        if reply.get("parent_header", {}).get("msg_id") == msg_id:
            state = reply["content"].get("user_expressions", {}).get("state", {})
            return str(state.get("data", {}).get("text/plain", state))
    return "no answer"


@dataclass
class _Run:
    """One notebook's run, cell by cell: what stopped it (if anything) and the events to log."""

    client: CappedClient
    manager: ConfinedKernelManager
    limits: Limits
    deadline: float
    watchdog: Watchdog | None = None  # set once the kernel runs
    watching: asyncio.Future | None = None
    stopped: str = ""
    events: list[str] = field(default_factory=list)
    ran: list[int] = field(default_factory=list)  # the code cells run so far, to replay after a restart
    killed: set[int] = field(default_factory=set)  # cells that timed out or took their kernel down: never replayed
    restarts: int = 0

    def where(self, index: int) -> str:
        return describe_cell(self.client.nb.cells, index)

    def start_watching(self) -> None:
        """Watch the sandbox's caps (again, after a restart: a new sandbox, a new first process)."""
        pid = self.manager.provisioner.pid if isinstance(self.manager.provisioner, LocalProvisioner) else None
        if pid is None:
            raise OSError("the grading kernel was not started as a local process, so its caps cannot be kept")
        assert self.watchdog is not None
        self.watchdog.root, self.watchdog.reason, self.watchdog.cpu_seen = pid, "", []
        if self.watchdog.own > 1 and as_root():  # in a sandbox of its own IPC namespace
            problem = cap_shared_memory(pid, self.limits.disk_bytes)
            if problem and problem not in self.events:
                self.events.append(problem)
        self.watching = asyncio.ensure_future(self.watchdog.watch())

    async def cell(self, index: int, cell) -> None:
        """Run one cell, or mark it not run once the notebook was stopped; what passed before keeps its points."""
        if not self.stopped and time.monotonic() >= self.deadline:
            self.stop(f"the notebook used up its {self.limits.notebook_seconds:.0f} s")
        if self.stopped:
            if is_graded(cell):
                cell.outputs = [_error_output(NOT_RUN, f"not run: {self.stopped}")]
            return
        self.client.timeout = max(1, math.ceil(min(self.limits.cell_seconds, self.deadline - time.monotonic())))
        source = cell.source
        if is_graded(cell):  # the proof of run: see CappedClient
            cell.source = f"{source}\nprint({self.client.marker!r})"
        self.ran.append(index)
        try:
            await self.client.async_execute_cell(cell, index)
        except CellTimeoutError:
            await self.timed_out(index, cell)
        except DeadKernelError:
            why = self.death()
            cell.outputs.append(_error_output(KERNEL_DIED, f"the kernel died while running this cell ({why})"))
            await self.restart(index, f"the kernel died in {self.where(index)} ({why})")
        cell.source = source
        if is_graded(cell):
            self.check_proof_of_run(index, cell)
            for output in cell.outputs:  # an honest print to stderr is not a failure
                if output.get("output_type") == "stream" and output.get("name") == "stderr":
                    output["name"] = "stdout"

    async def timed_out(self, index: int, cell) -> None:
        """Interrupt a cell past its time; a kernel that does not answer then is stopped."""
        timeout = self.client.timeout
        cell.outputs.append(_error_output(TIMED_OUT, f"this cell ran longer than {timeout:.0f} s and was interrupted"))
        self.events.append(f"{self.where(index)} timed out after {timeout:.0f} s")
        self.killed.add(index)  # interrupted or not, it is not run again after a restart
        await self.manager.interrupt_kernel()
        if not await _responsive(self.client, self.limits.interrupt_grace_seconds):
            await self.restart(
                index, f"{self.where(index)} timed out and ignored the interrupt, so its kernel was stopped"
            )

    async def restart(self, index: int, reason: str) -> None:
        """A cell that took its kernel down costs only itself: a fresh kernel (a fresh sandbox) runs
        again the cells before it but the ones that took a kernel down, and the notebook goes on,
        at most MAX_RESTARTS times and within the notebook's time."""
        self.killed.add(index)
        if self.watching is not None:
            self.watching.cancel()
        if self.restarts >= MAX_RESTARTS:
            self.stop(f"{reason}; it had been restarted {MAX_RESTARTS} times already, so grading stopped there")
            await self.manager.shutdown_kernel(now=True)
            return
        self.restarts += 1
        self.events.append(f"{reason}; restarted, and the cells above it run again")
        try:
            await self.manager.shutdown_kernel(now=True, restart=True)
            if self.client.kc is not None:
                self.client.kc.stop_channels()
            self.watchdog_folder_emptied()
            await self.manager.start_kernel(**(self.manager._launch_args or {}))
            self.start_watching()
            await self.client.async_start_new_kernel_client()  # a new client: nothing of the old one's waits
            assert isinstance(self.client.kc, AsyncKernelClient)
            for earlier in self.ran:
                cell = self.client.nb.cells[earlier]
                if earlier in self.killed or is_graded(cell):
                    continue
                left = self.deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"the notebook used up its {self.limits.notebook_seconds:.0f} s")
                reply = await self.client.kc.execute_interactive(
                    cell.source, store_history=False, timeout=min(self.limits.cell_seconds, left), output_hook=_quiet
                )
                if reply["content"].get("status") == "aborted":
                    raise RuntimeError("the kernel did not run them")
        except Exception as error:  # a restart that fails stops the notebook as before restarts existed
            why = "a cell above did not finish in time" if isinstance(error, (queue.Empty, TimeoutError)) else error
            self.stop(f"{reason}; running the cells above it again failed ({type(error).__name__}: {why})")
            await self.manager.shutdown_kernel(now=True)

    def watchdog_folder_emptied(self) -> None:
        """What the stopped kernel wrote in its folder on disk goes (its sockets too, made anew): the
        connection file and the start-up log stay."""
        assert self.watchdog is not None
        for entry in self.watchdog.folder.iterdir():
            if entry.name in ("connection.json", "kernel.log"):
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)

    def death(self) -> str:
        """Why the kernel died, as far as the grader can tell: the cap it broke, or its exit."""
        if self.watchdog is not None and self.watchdog.reason:
            return f"stopped by the grader: {self.watchdog.reason}"
        process = getattr(self.manager.provisioner, "process", None)
        code = process.poll() if process is not None else None
        if code is not None and (code < 0 or code > 128):  # a signal (bubblewrap passes it on as 128 + N)
            number = -code if code < 0 else code - 128
            name = signal.Signals(number).name if number in signal.Signals._value2member_map_ else f"signal {number}"
            return {"SIGSEGV": f"a crash, {name}", "SIGKILL": f"killed, {name}: out of memory, or from outside"}.get(
                name, name
            )
        if code is not None:
            return f"it exited with status {code}: sys.exit in a thread, os._exit or a crash"
        return "out of memory, os._exit or a crash"

    def check_proof_of_run(self, index: int, cell) -> None:
        """A test cell without an error that did not print the marker did not run as written, unless
        the kernel had run out of file descriptors, which a print needs too."""
        if index in self.client.failed and first_error(cell) is None:  # the kernel said error; no error shows
            message = "this test cell raised an error, but code in the notebook kept it from showing"
            self.events.append(f"{self.where(index)} raised an error that code in the notebook hid")
            cell.outputs.append(_error_output(REWRITTEN, message))
        elif index not in self.client.marked and first_error(cell) is None:
            if self.watchdog is not None and self.watchdog.out_of_files():
                message = "this test cell could not report its result: the kernel ran out of file descriptors (code above opened files and kept them open)"
                self.events.append(f"{self.where(index)} ran out of file descriptors")
            else:
                message = "this test cell did not run as written: code in the notebook changed it"
                self.events.append(f"{self.where(index)} did not run as written")
            cell.outputs.append(_error_output(REWRITTEN, message))

    def check_shell(self, clean: str, now: str) -> None:
        """Code that changed how IPython rewrites or runs cells made every test result of this
        kernel untrustworthy: each test cell fails, saying so."""
        if now == clean:
            return
        self.events.append(f"{SHELL_CHANGED}: no test of it counts")
        for cell in self.client.nb.cells:
            if is_graded(cell) and first_error(cell) is None:
                message = "this test cell ran in a kernel whose IPython code in the notebook had changed (how it rewrites or runs cells)"
                cell.outputs.append(_error_output(REWRITTEN, message))

    def stop(self, reason: str) -> None:
        self.stopped = reason
        self.events.append(reason)


async def _execute(
    notebook, manager: ConfinedKernelManager, limits: Limits, start: dict, kernel_folder: Path, sandboxed: bool
) -> list[str]:
    """Run every code cell that runs under grading; returns what went wrong, one line per event."""
    client = CappedClient(
        notebook,
        km=manager,
        timeout=limits.cell_seconds,
        interrupt_on_timeout=False,
        allow_errors=True,
        raise_on_iopub_timeout=False,
        startup_timeout=60,
        shutdown_kernel="immediate",
        extra_arguments=KERNEL_ARGUMENTS,
    )
    client.output_cap = limits.output_bytes
    # Proof that a test cell ran as written: its last line prints a marker the kernel cannot know
    # in advance. Code that rewrites cells (an IPython input transformer) drops it.
    client.marker, client.marked, client.failed = f"tito-ran-{secrets.token_hex(12)}", set(), set()
    run = _Run(client, manager, limits, deadline=time.monotonic() + limits.notebook_seconds)
    # cleanup_kc: nbclient keeps a kernel alive when it did not make its manager; this one goes now,
    # and with it (its own PID namespace) every process it started.
    async with client.async_setup_kernel(cleanup_kc=True, **start):
        # the sandbox's own processes: bwrap's two and the kernel (without bwrap, the kernel alone)
        run.watchdog = Watchdog(0, 3 if sandboxed else 1, kernel_folder, limits)
        run.start_watching()
        clean = await _shell_state(client)
        try:
            trusted = True  # until the first cell the student could write: the setup cell adds tito's own
            for index, cell in enumerate(notebook.cells):
                if is_code(cell) and not is_demonstration(cell):
                    trusted = trusted and is_locked(cell)
                    await run.cell(index, cell)
                    if trusted:
                        clean = await _shell_state(client)
            if not run.stopped:
                run.check_shell(clean, await _shell_state(client))
        finally:
            if run.watching is not None:
                run.watching.cancel()
    return run.events


def check_readable(earlier_reference: Path, datasets: Path | None, limits: Limits, sandboxed: bool) -> None:
    """Refuse to grade, naming the folder, when the kernel's user cannot read what it is given (a
    grader that is root runs kernels as an unprivileged user, which a private umask or home folder
    shuts out), or its Python cannot import this tito (an environment installed from another copy
    of the course): every student would otherwise fail every test for the same wrong reason."""
    program = bubblewrap() if sandboxed else None
    kernel = _new_kernel((program, earlier_reference, datasets, limits))
    try:
        needed = [Path(sys.executable), *readable_folders(earlier_reference)]
        if datasets is not None and datasets.is_dir():
            needed.append(Path(DATA) if program else datasets.resolve())
        probe = (
            "import os, sys\nfor path in sys.argv[2:]:\n    os.listdir(path) if os.path.isdir(path) else open(path, 'rb').close()\n"
            "import ipykernel, numpy, tito\n"
            "if os.path.dirname(tito.__file__) != sys.argv[1]:\n"
            "    raise ImportError(f'the kernels import tito from {os.path.dirname(tito.__file__)}, not {sys.argv[1]}')"
        )
        run = subprocess.run(
            [
                *kernel.manager.prefix,
                sys.executable,
                "-c",
                probe,
                str(Path(tito.__file__).resolve().parent),
                *map(str, needed),
            ],
            capture_output=True,
            text=True,
            env=kernel.start["env"],
            cwd=kernel.start.get("cwd"),
        )
    finally:
        kernel.close()
    if run.returncode != 0:
        denied = (run.stderr.strip().splitlines() or ["no output"])[-1]
        raise OSError(
            f"the graded kernels could not start as they must ({denied}): make what they read readable by "
            "others (chmod -R o+rX on that folder) or run `tito grade` as a user other than root; and run it "
            "with the Python environment installed from this course (pip install -e . here)"
        )


@dataclass
class _Kernel:
    """A confined kernel's manager, its folder on the host and its start-up log; started or not."""

    manager: ConfinedKernelManager
    start: dict  # the keywords its kernel starts with
    folder: Path
    key: tuple  # what its sandbox was made for: (program, earlier reference, datasets, limits)
    holder: tempfile.TemporaryDirectory
    log: IO[str]  # the open file of its start-up log

    def close(self) -> None:
        """Remove its folder (the kernel has been shut down, or is shut down now)."""
        with contextlib.suppress(Exception):
            if self.manager.has_kernel:
                _run(self.manager.shutdown_kernel(now=True))
        self.log.close()
        self.holder.cleanup()


def _new_kernel(key: tuple) -> _Kernel:
    """A kernel manager for a confined kernel in a folder of its own, not started; `key` says its
    sandbox: (bwrap or None, the earlier reference, the datasets, the limits)."""
    program, earlier_reference, datasets, limits = key
    holder = tempfile.TemporaryDirectory(prefix=f"{KERNEL_FOLDER}{os.getpid()}-")
    folder = Path(holder.name)
    os.chmod(folder, 0o755)
    manager = ConfinedKernelManager(
        kernel_name="python3",
        transport="ipc",
        ip=str(folder / "ipc"),
        connection_file=str(folder / "connection.json"),
    )
    if manager.kernel_spec is None:
        holder.cleanup()
        raise OSError("there is no python3 Jupyter kernel to grade with: `python -m ipykernel install --sys-prefix`")
    manager.kernel_spec.interrupt_mode = "message"  # SIGINT cannot cross into the sandbox's own PID namespace
    manager.prefix, start = _kernel_start(program, folder, earlier_reference, datasets, limits)
    log = open(folder / "kernel.log", "w")  # noqa: SIM115 (the kernel's own start-up chatter, closed in close())
    start["stderr"] = start["stdout"] = log
    return _Kernel(manager, start, folder, key, holder, log)


def remove_kernel_folders(pid: int | None = None) -> None:
    """Remove what the kernels of a killed grading process left on the host (their folders in the
    temporary directory, which a killed process cannot remove itself): that process's, or, without
    a `pid`, those of every grading process that is gone."""
    for folder in Path(tempfile.gettempdir()).glob(f"{KERNEL_FOLDER}*-*"):
        owner = folder.name[len(KERNEL_FOLDER) :].split("-")[0]
        if not owner.isdigit() or (pid is not None and int(owner) != pid):
            continue
        if pid is None and _running(int(owner)):
            continue
        shutil.rmtree(folder, ignore_errors=True)


def _running(pid: int) -> bool:
    """Whether a process of that id runs (a zombie, killed but not yet reaped, does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


# per process and thread (a loop runs in one thread): the loop is kept so that a spare kernel outlives a run
_LOOP: dict[tuple[int, int], asyncio.AbstractEventLoop] = {}
_SPARE: dict[tuple[int, int], _Kernel] = {}  # the kernel started ahead for the next notebook


def _here() -> tuple[int, int]:
    return os.getpid(), threading.get_ident()


def _run(coroutine):
    """Run a coroutine on this thread's loop (made after a fork, never a parent's), then cancel what
    it left behind; the signal handlers a run adds (nbclient's) are taken off again."""
    here = _here()
    if here not in _LOOP:
        # a parent's loop and spare, after a fork: its kernel is the parent's to stop
        for inherited in [key for key in _LOOP if key[0] != here[0]]:
            _LOOP.pop(inherited)
            _SPARE.pop(inherited, None)
        _LOOP[here] = asyncio.new_event_loop()
        multiprocessing.util.Finalize(None, _discard_spare, args=(here,), exitpriority=100)
    loop = _LOOP[here]
    main = threading.current_thread() is threading.main_thread()  # signals are the main thread's only
    handlers = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)} if main else {}
    try:
        return loop.run_until_complete(coroutine)
    finally:
        left = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in left:
            task.cancel()
        if left:
            loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))
        for number, handler in handlers.items():
            loop.remove_signal_handler(number)
            if handler is not None:  # None: set outside Python, which cannot be put back
                signal.signal(number, handler)


def _discard_spare(here: tuple[int, int]) -> None:
    spare = _SPARE.pop(here, None)
    if spare is not None:
        spare.close()


def _spare_for(key: tuple) -> _Kernel | None:
    """The kernel started ahead for a notebook like this one, if it is still alive."""
    spare = _SPARE.pop(_here(), None)
    if spare is None:
        return None
    if spare.key == key and _run(spare.manager.is_alive()):
        return spare
    spare.close()
    return None


def _start_spare(key: tuple) -> None:
    """Start the next notebook's kernel now, so that it boots while this one's grades are saved and
    its page is made. It is a new sandbox, started after the last kernel was stopped: nothing of a
    notebook graded before reaches it."""
    spare = _new_kernel(key)
    try:
        _run(spare.manager.start_kernel(extra_arguments=KERNEL_ARGUMENTS, **spare.start))
    except Exception:  # the next notebook starts its own, and says what went wrong
        spare.close()
        return
    _SPARE[_here()] = spare


def execute_confined(
    notebook,
    earlier_reference: Path,
    datasets: Path | None,
    limits: Limits,
    sandboxed: bool = True,
    prestart: bool = False,
) -> list[str]:
    """Execute `notebook` in place, confined as this module describes; returns the events to log.

    With `sandboxed=False` (no bubblewrap here) only the limits apply: the kernel runs in an empty
    temporary folder but can read whatever the grading user can. With `prestart`, the next
    notebook's sandboxed kernel is started as this one ends (a process grading a class).
    """
    program = bubblewrap() if sandboxed else None
    if sandboxed and program is None:
        raise OSError(
            "bubblewrap (bwrap) is not installed or may not create namespaces here: `tito grade` checks this first"
        )
    key = (program, earlier_reference, datasets, limits)
    kernel = _spare_for(key) or _new_kernel(key)
    try:
        events = _run(_execute(notebook, kernel.manager, limits, kernel.start, kernel.folder, program is not None))
    finally:
        kernel.close()
    if prestart and program is not None:  # not unconfined: only bubblewrap makes a kernel die with its grader
        _start_spare(key)
    return events


def _kernel_start(
    program: str | None, kernel_folder: Path, earlier_reference: Path, datasets: Path | None, limits: Limits
) -> tuple[list[str], dict]:
    """(the prefix of the kernel's command, the keywords that start it): in the sandbox with
    `program` (bwrap), else under the limits alone in an empty home of its own."""
    data = str(datasets.resolve()) if datasets is not None and datasets.is_dir() else None
    if program is None:
        home = kernel_folder / "home"
        home.mkdir()
        user = kernel_user() if as_root() else None
        if user is not None:
            for folder in (kernel_folder, home):
                os.chown(folder, user, user)
        environment = kernel_environment(earlier_reference, data, str(home))
        return limits_prefix(limits, user), {"env": environment, "cwd": str(home)}
    environment = kernel_environment(earlier_reference, DATA if data else None, HOME)
    prefix = sandbox_prefix(program, readable_folders(earlier_reference), datasets, kernel_folder, limits)
    prefix += ["--clearenv", *(part for key, value in environment.items() for part in ("--setenv", key, value)), "--"]
    user = kernel_user() if as_root() else None
    if user is not None:  # the kernel's folder (its sockets) and connection file are that user's
        os.chown(kernel_folder, user, user)
        os.chmod(kernel_folder, 0o700)
    prefix += limits_prefix(limits, user)
    return prefix, {"env": {"PATH": "/usr/bin:/bin"}}
