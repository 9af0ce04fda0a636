"""``python -m benchmarks.launcher REPORT [--max-address-space BYTES] -- COMMAND...``: run
COMMAND, then write its wall time, CPU time and peak RSS to REPORT (JSON) and exit with its
status. The CPU time is user + system of COMMAND and of every process it started (extraction
workers): the launcher is their subreaper, so a worker its parent left behind is waited for
here, and counted, rather than by init. With ``--max-address-space``, COMMAND runs under that
``RLIMIT_AS``: a program that would take the machine's memory gets a MemoryError instead.

A child's peak RSS (``ru_maxrss``) starts at its parent's high-water mark, which Linux carries
across fork and exec. Spawned straight from the benchmark process, every child would report at
least the benchmark's own peak; spawned from this small launcher, it reports at least this
interpreter's (about 12 MiB), a floor far below anything measured.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

# prctl(2): orphaned descendants are reparented to this process instead of init.
PR_SET_CHILD_SUBREAPER = 36
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
    _become_subreaper()
    launched_at = time.time()
    started = time.perf_counter()
    process = subprocess.Popen(command)
    # COMMAND's own peak RSS (and its waited-for children's): the figure reported as its memory.
    _pid, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    _reap_orphans()
    everything = resource.getrusage(resource.RUSAGE_CHILDREN)
    figures = {
        "returncode": process.returncode,
        "launched_at": launched_at,
        "wall_seconds": wall,
        "cpu_seconds": everything.ru_utime + everything.ru_stime,
        "peak_rss_mib": usage.ru_maxrss / 1024,  # kilobytes on Linux
    }
    Path(report).write_text(json.dumps(figures), encoding="utf-8")
    return process.returncode


def _become_subreaper() -> None:
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")


def _reap_orphans() -> None:
    """Wait for every descendant left running or unreaped: their CPU time counts too."""
    while True:
        try:
            os.wait()
        except ChildProcessError:
            return


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
