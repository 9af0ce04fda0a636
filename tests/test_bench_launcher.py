"""The benchmarks' launcher counts the CPU time of every process its command started, even one
the command left running when it exited (an extraction worker outliving its crawl)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

# A grandchild that burns CPU after its parent has exited, then writes how much it used.
ORPHAN = """
import resource, sys
total = 0
for number in range(3_000_000):
    total += number * number
usage = resource.getrusage(resource.RUSAGE_SELF)
open(sys.argv[1], "w").write(str(usage.ru_utime + usage.ru_stime))
"""
PARENT = """
import subprocess, sys
subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2]])
"""


def test_an_orphaned_grandchild_is_waited_for_and_its_cpu_counted(tmp_path: Path) -> None:
    report, orphan_cpu = tmp_path / "report.json", tmp_path / "orphan-cpu.txt"
    command = [sys.executable, "-c", PARENT, ORPHAN, str(orphan_cpu)]
    launcher = [sys.executable, "-m", "benchmarks.launcher", str(report), "--", *command]
    finished = subprocess.run(launcher, cwd=Path(__file__).parents[1], timeout=120, check=False)
    assert finished.returncode == 0
    # The launcher waited for the grandchild: its figure is there as soon as the launcher ends.
    used = float(orphan_cpu.read_text(encoding="utf-8"))
    figures = json.loads(report.read_text(encoding="utf-8"))
    assert used > 0.05
    assert figures["cpu_seconds"] >= used


def test_a_bad_command_line_is_refused_with_usage(tmp_path: Path) -> None:
    launcher = [sys.executable, "-m", "benchmarks.launcher", str(tmp_path / "r.json"), "ls"]
    finished = subprocess.run(
        launcher, cwd=Path(__file__).parents[1], capture_output=True, text=True, check=False
    )
    assert finished.returncode == 2
    assert finished.stderr.startswith("usage: python -m benchmarks.launcher")
