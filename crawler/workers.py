"""Article extraction in worker processes, to use more than one core on large backfills.

Extraction is CPU-bound Python (about 1.5 ms a page, most of it trafilatura) and runs on the
reactor's thread by default; ``NEU_EXTRACT_PROCESSES`` moves it to that many child processes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import signal
import sys
from concurrent.futures import ProcessPoolExecutor

PR_SET_PDEATHSIG = 1


def extraction_pool(processes: int) -> ProcessPoolExecutor:
    """A pool of *processes* workers that die with the crawl, even when it is killed -9."""
    return ProcessPoolExecutor(processes, initializer=_die_with_parent)


def _die_with_parent() -> None:
    # Ctrl-C reaches the whole process group; the crawl decides when its workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A worker outliving a killed crawl would hold its memory forever: let the kernel kill it.
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
