"""``python -m benchmarks.launcher REPORT [--max-address-space BYTES] -- COMMAND...``: run
COMMAND, then write its wall time, CPU time and peak RSS to REPORT (JSON) and exit with its
status. With ``--max-address-space``, COMMAND runs under that ``RLIMIT_AS``: a program that would
take the machine's memory gets a MemoryError instead.

A child's peak RSS (``ru_maxrss``) starts at its parent's high-water mark, which Linux carries
across fork and exec. Spawned straight from the benchmark process, every child would report at
least the benchmark's own peak; spawned from this small launcher, it reports at least this
interpreter's (about 12 MiB), a floor far below anything measured.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

USAGE = "usage: python -m benchmarks.launcher REPORT [--max-address-space BYTES] -- COMMAND..."


def main(argv: list[str]) -> int:
    report, *rest = argv or [""]
    cap: int | None = None
    if rest[:1] == ["--max-address-space"] and len(rest) > 1 and rest[1].isdigit():
        cap, rest = int(rest[1]), rest[2:]
    separator, *command = rest or [""]
    if separator != "--" or not command:
        print(USAGE, file=sys.stderr)
        return 2
    if cap is not None:
        # Set here, before the child starts, which inherits it: this launcher stays small.
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    launched_at = time.time()
    started = time.perf_counter()
    process = subprocess.Popen(command)
    _pid, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    figures = {
        "returncode": process.returncode,
        "launched_at": launched_at,
        "wall_seconds": wall,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "peak_rss_mib": usage.ru_maxrss / 1024,  # kilobytes on Linux
    }
    Path(report).write_text(json.dumps(figures), encoding="utf-8")
    return process.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
