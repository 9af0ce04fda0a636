"""The scheduler's files in the data directory: run history, source health, run logs, its lock.

``runs.jsonl`` gets one JSON line per run, in a single ``write`` on a descriptor opened with
O_APPEND, as the feed does: a reader never sees half a line, and two writers never interleave.
``health.json`` is replaced atomically, so a crash leaves the old state or the new one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crawler.store.feed import FeedWriter, cut_torn_tail, iter_lines_from, write_atomically
from crawler.store.locks import DataDirError
from crawler.store.locks import lock_data_dir as lock_dir
from scheduler.health import SourceState

logger = logging.getLogger(__name__)

RUNS_FILE = "runs.jsonl"
HEALTH_FILE = "health.json"
LOGS_DIR = "logs"
LOCK_FILE = ".scheduler.lock"
LOG_SUFFIX = ".log"
STATS_SUFFIX = ".stats.json"


def new_run_id(started: datetime, job: str) -> str:
    """``20261128T143915.123Z-news``: sorts by start time, and names the run's files."""
    utc = started.astimezone(UTC)
    return f"{utc:%Y%m%dT%H%M%S}.{utc.microsecond // 1000:03d}Z-{job}"


def log_path(data_dir: Path, run_id: str) -> Path:
    return data_dir / LOGS_DIR / f"{run_id}{LOG_SUFFIX}"


def stats_path(data_dir: Path, run_id: str) -> Path:
    return data_dir / LOGS_DIR / f"{run_id}{STATS_SUFFIX}"


def lock_data_dir(data_dir: Path) -> int:
    """Create the data directory if its parent exists and hold it for this scheduler process.

    Returns the descriptor holding the lock; the lock ends with the process.
    """
    try:
        fd = lock_dir(data_dir, LOCK_FILE, "another scheduler", "stop it first")
        (data_dir / LOGS_DIR).mkdir(exist_ok=True)
    except OSError as exc:
        raise DataDirError(f"data directory {data_dir} is not usable: {exc.strerror}") from None
    return fd


def repair_runs(data_dir: Path) -> None:
    """Cut a last line torn by a crash, so the next line does not start inside it."""
    cut_torn_tail(data_dir / RUNS_FILE)


def append_run(data_dir: Path, record: Mapping[str, Any]) -> None:
    """One whole, durable line (the feed's writer: a short write on a full disk is undone)."""
    writer = FeedWriter(data_dir / RUNS_FILE)
    try:
        writer.append(record)
    finally:
        writer.close()


def iter_runs(data_dir: Path) -> Iterator[dict[str, Any]]:
    """Every complete run line, oldest first; lines that are not JSON objects are skipped."""
    for _end, record in iter_lines_from(data_dir / RUNS_FILE, 0):
        yield record


def read_stats(path: Path) -> dict[str, Any] | None:
    """A crawl's stats file, or None if the crawl left none (or a broken one)."""
    try:
        stats = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return stats if isinstance(stats, dict) else None


def load_health(data_dir: Path) -> dict[str, SourceState]:
    path = data_dir / HEALTH_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {name: SourceState.from_json(state) for name, state in data["sources"].items()}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        logger.warning("Ignored unreadable %s (%s): source health starts afresh", path, exc)
        return {}


def save_health(data_dir: Path, states: Mapping[str, SourceState], when: str) -> None:
    path = data_dir / HEALTH_FILE
    document = {
        "updated": when,
        "sources": {name: state.to_json() for name, state in sorted(states.items())},
    }
    write_atomically(path, (json.dumps(document, ensure_ascii=False, indent=1) + "\n").encode())


def prune_logs(data_dir: Path, keep: int) -> int:
    """Delete the files (log, stats) of all but the newest *keep* runs; return how many runs."""
    files = [(path, _run_of(path)) for path in (data_dir / LOGS_DIR).iterdir()]
    runs = sorted({run_id for _, run_id in files if run_id}, reverse=True)
    old = set(runs[keep:])
    for path, run_id in files:
        if run_id in old:
            path.unlink(missing_ok=True)
    return len(old)


def _run_of(path: Path) -> str:
    """The run a file in logs/ belongs to ("" if none): stats left half-written included."""
    for suffix in (STATS_SUFFIX + ".part", STATS_SUFFIX, LOG_SUFFIX):
        if path.name.endswith(suffix):
            return path.name.removesuffix(suffix)
    return ""
