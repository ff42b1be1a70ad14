"""Run a command under memory and CPU-time caps: `python -I rlimits.py BYTES SECONDS -- COMMAND...`.

Run by path with `-I`, so that it starts in milliseconds (no site, no imports beyond the standard
library); the caps are inherited by the command and everything it starts."""

import os
import resource
import sys


def main(memory_bytes: int, cpu_seconds: int, command: list[str]) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[4:])
