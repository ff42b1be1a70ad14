"""Caps on a graded kernel's sandbox as a whole, kept from outside it: the grader looks at the
process tree the kernel started (memory across all of its processes, memory files included, and
how many there are) and
at the one folder on the host's disk the kernel may write (its sockets' folder), and kills the
whole sandbox when one is over its limit. The per-process caps (tito.grading.rlimits) stay as a
backstop, and the sandbox's /tmp, home and /dev/shm are size-limited in memory by bubblewrap.

System V shared memory lives in the sandbox's own IPC namespace, where no process shows it: a root
grader caps it there (cap_shared_memory).

Measured, not enforced by the operating system: a cgroup would be, but where the grader may not
create one (cgroup v1, or v2 without delegation, as on this project's machines) what a cell can
do between two looks, every POLL_SECONDS, is the overshoot. The reason is kept for the report.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tito.grading.limits import Limits

POLL_SECONDS = 0.2
CPU_WINDOW, CPU_CORES = 10.0, 1.5  # a sandbox may not keep more cores than this busy over the window
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def parents() -> dict[int, int]:
    """{pid: parent pid} of every process on the machine, from /proc."""
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()  # the name, in parentheses, may hold anything
            found[int(entry.name)] = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue  # it ended while we looked
    return found


def process_tree(root: int) -> list[int]:
    """`root` and every process below it (a process that daemonized inside the sandbox is still
    below its PID namespace's first process)."""
    children: dict[int, list[int]] = {}
    for pid, parent in parents().items():
        children.setdefault(parent, []).append(pid)
    tree, queue = [], [root]
    while queue:
        pid = queue.pop()
        tree.append(pid)
        queue += children.get(pid, [])
    return tree


def resident_bytes(pids: list[int]) -> int:
    """The memory the processes hold: their resident set sizes, summed (shared pages count once per
    process), and the memory files (memfd_create) they keep open, which no resident set shows
    until mapped, each once."""
    total = 0
    memory_files: dict[tuple[int, int], int] = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm") as handle:
                total += int(handle.read().split()[1]) * PAGE_BYTES
            for fd in os.listdir(f"/proc/{pid}/fd"):
                link = f"/proc/{pid}/fd/{fd}"
                if os.readlink(link).startswith("/memfd:"):
                    status = os.stat(link)
                    memory_files[(status.st_dev, status.st_ino)] = status.st_blocks * 512
        except (OSError, IndexError, ValueError):
            continue
    return total + sum(memory_files.values())


def cpu_seconds(pids: list[int]) -> float:
    """The CPU time the processes used, their reaped children's included."""
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
            total += sum(int(field) for field in fields[11:15])  # utime, stime, cutime, cstime
        except (OSError, IndexError, ValueError):
            continue
    return total / ticks


def open_files(pids: list[int]) -> int:
    """The most file descriptors any one of the processes has open."""
    most = 0
    for pid in pids:
        try:
            most = max(most, len(os.listdir(f"/proc/{pid}/fd")))
        except OSError:
            continue
    return most


def folder_bytes(folder: Path, most_entries: int) -> tuple[int, int]:
    """(bytes on disk, entries) under `folder`, counting at most `most_entries` entries."""
    used = entries = 0
    queue = [folder]
    while queue and entries <= most_entries:
        try:
            scanned = list(os.scandir(queue.pop()))
        except OSError:
            continue
        for entry in scanned:
            entries += 1
            try:
                if entry.is_dir(follow_symlinks=False):
                    queue.append(Path(entry.path))
                else:
                    used += entry.stat(follow_symlinks=False).st_blocks * 512
            except OSError:
                continue
    return used, entries


def cap_shared_memory(root: int, limit_bytes: int) -> str:
    """Cap System V shared memory in the sandbox's IPC namespace, which no process's memory shows:
    its shmall and shmmax, set by a root grader from outside with nsenter. Returns what went wrong, or ''."""
    inside = next((pid for pid in process_tree(root) if pid != root), None)
    program = shutil.which("nsenter")
    if inside is None or program is None:
        return "System V shared memory is not capped in this sandbox (nsenter was not found)"
    settings = (
        f"echo {limit_bytes // PAGE_BYTES} > /proc/sys/kernel/shmall; echo {limit_bytes} > /proc/sys/kernel/shmmax"
    )
    done = subprocess.run(
        [program, f"--target={inside}", "--ipc", "sh", "-c", settings], capture_output=True, text=True
    )
    return (
        "" if done.returncode == 0 else f"System V shared memory is not capped in this sandbox ({done.stderr.strip()})"
    )


@dataclass
class Watchdog:
    """Watches one kernel's sandbox while its notebook runs; `reason` says why it killed it, if it did."""

    root: int  # the first process of the sandbox (bwrap's, or the kernel's without a sandbox)
    own: int  # how many processes of the tree are the sandbox's and the kernel's own
    folder: Path  # the folder on the host's disk the kernel may write
    limits: Limits
    reason: str = ""
    cpu_seen: list[tuple[float, float]] = field(default_factory=list)  # (when, CPU seconds) over CPU_WINDOW

    def over(self) -> str:
        """Which cap the sandbox is over now, or ''."""
        tree = process_tree(self.root)
        started = len(tree) - self.own
        if started > self.limits.processes:
            return f"it started more than {self.limits.processes} processes"
        now, used = time.monotonic(), cpu_seconds(tree)
        self.cpu_seen = [(when, seconds) for when, seconds in self.cpu_seen if now - when <= CPU_WINDOW]
        self.cpu_seen.append((now, used))
        (first, before) = self.cpu_seen[0]
        if now - first >= CPU_WINDOW * 0.9 and used - before > CPU_CORES * (now - first):
            return f"it kept more than {CPU_CORES:g} cores busy for {CPU_WINDOW:g} s (a notebook runs on one)"
        if resident_bytes(tree) > self.limits.memory_bytes:
            return f"it used more than {self.limits.memory_bytes / 2**30:g} GiB of memory, all its processes together"
        used, entries = folder_bytes(self.folder, self.limits.files)
        if used > self.limits.disk_bytes or entries > self.limits.files:
            return f"it wrote more than {self.limits.disk_bytes / 2**20:g} MiB or {self.limits.files:,} files to disk"
        return ""

    def out_of_files(self) -> bool:
        """Whether a process of the sandbox has (nearly) every file descriptor it may have open."""
        return open_files(process_tree(self.root)) >= self.limits.open_files - 16

    async def watch(self) -> None:
        """Look every POLL_SECONDS until cancelled; kill the sandbox (its PID namespace with it) when over a cap."""
        while not self.reason:
            await asyncio.sleep(POLL_SECONDS)
            self.reason = self.over()
        with contextlib.suppress(ProcessLookupError):
            # the sandbox leads a process group of its own (jupyter_client starts kernels in a new session)
            if os.getpgid(self.root) == self.root:
                os.killpg(self.root, signal.SIGKILL)
            else:
                os.kill(self.root, signal.SIGKILL)
