"""Child processes measured one by one: wall time, CPU time and peak RSS of each.

Each runs under ``benchmarks.launcher``, so that its peak RSS is its own (see there).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from benchmarks import PROJECT_ROOT

logger = logging.getLogger(__name__)

CHILD_TIMEOUT = 300.0


class BenchmarkError(RuntimeError):
    """A measured process failed; the message says where its log is."""


@dataclass(frozen=True)
class ChildRun:
    """One finished child process. ``launched_at`` is the epoch time just before it started."""

    returncode: int
    launched_at: float
    wall_seconds: float
    cpu_seconds: float
    peak_rss_mib: float


def run_child(
    argv: list[str],
    log_path: Path,
    stdout_path: Path | None = None,
    *,
    max_address_space: int | None = None,
    expected_exit: int = 0,
) -> ChildRun:
    """Run *argv* from the project root to its end (within *max_address_space* bytes of address
    space if given); raise ``BenchmarkError`` unless it exits with *expected_exit*."""
    logger.debug("Running %s", " ".join(argv))
    report = log_path.with_suffix(".rusage.json")
    cap = ["--max-address-space", str(max_address_space)] if max_address_space else []
    launcher = [sys.executable, "-m", "benchmarks.launcher", str(report), *cap, "--", *argv]
    out_target = stdout_path if stdout_path is not None else Path(os.devnull)
    with log_path.open("wb") as log, out_target.open("wb") as out:
        process = subprocess.Popen(
            launcher, cwd=PROJECT_ROOT, stdout=out, stderr=log, start_new_session=True
        )
        try:
            process.wait(timeout=CHILD_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise BenchmarkError(
                f"{argv[:5]} ran over {CHILD_TIMEOUT:g} s; see {log_path}"
            ) from None
    if process.returncode != expected_exit:
        raise BenchmarkError(f"{argv[:5]} exited with {process.returncode}; see {log_path}")
    return ChildRun(**json.loads(report.read_text(encoding="utf-8")))
