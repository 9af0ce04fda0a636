"""``python -m benchmarks.launcher REPORT -- COMMAND...``: run COMMAND, then write its wall time,
CPU time and peak RSS to REPORT (JSON) and exit with its status.

A child's peak RSS (``ru_maxrss``) starts at its parent's high-water mark, which Linux carries
across fork and exec. Spawned straight from the benchmark process, every child would report at
least the benchmark's own peak; spawned from this small launcher, it reports at least this
interpreter's (about 12 MiB), a floor far below anything measured.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    report, separator, *command = argv
    if separator != "--" or not command:
        print("usage: python -m benchmarks.launcher REPORT -- COMMAND...", file=sys.stderr)
        return 2
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
