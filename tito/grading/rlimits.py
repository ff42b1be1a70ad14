"""Run a command under per-process caps, as an unprivileged user if asked:
`python -I rlimits.py AS CPU FSIZE NOFILE [--user UID:GID NPROC] -- COMMAND...`.

Run by path with `-I`, so that it starts in milliseconds (no site, no imports beyond the standard
library); the caps are inherited by the command and everything it starts. They are a backstop: the
address-space cap is a multiple of the sandbox's memory cap (threads reserve address space they
never touch), which tito.grading.watchdog keeps across all the sandbox's processes. With --user
(a grader running as root starts the sandbox privileged, without a user namespace, and the kernel
runs as that user inside it) the process count of that user is capped too."""

import os
import resource
import sys


def main(arguments: list[str]) -> None:
    split = arguments.index("--")
    options, command = arguments[:split], arguments[split + 1 :]
    address_space, cpu_seconds, file_bytes, open_files = (int(value) for value in options[:4])
    resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_bytes, file_bytes))
    resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if options[4:5] == ["--user"]:
        uid, gid = (int(part) for part in options[5].split(":"))
        processes = int(options[6])
        resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)  # from root: every capability goes too
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
