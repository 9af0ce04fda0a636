"""The scheduler's files in the data directory: run history, source health, run logs, its lock.

``runs.jsonl`` gets one JSON line per run, in a single ``write`` on a descriptor opened with
O_APPEND, as the feed does: a reader never sees half a line, and two writers never interleave.
``health.json`` is replaced atomically, so a crash leaves the old state or the new one, and
only ever changed under its lock (``update_health``): the scheduler after each run and
``health ack`` between runs do not undo each other.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crawler.store.feed import (
    FeedWriter,
    complete_lines,
    cut_torn_tail,
    parse_line,
    write_atomically,
)
from crawler.store.files import open_no_link
from crawler.store.locks import DataDirError
from crawler.store.locks import lock_data_dir as lock_dir
from scheduler.health import SourceState, time_problem

logger = logging.getLogger(__name__)

RUNS_FILE = "runs.jsonl"
HEALTH_FILE = "health.json"
LOGS_DIR = "logs"
LOCK_FILE = ".scheduler.lock"
# Held while health.json is read, changed and replaced: for a moment, never across a crawl.
HEALTH_LOCK_FILE = ".health.lock"
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
        make_dirs(data_dir)
    except OSError as exc:
        raise DataDirError(f"data directory {data_dir} is not usable: {exc.strerror}") from None
    return fd


def make_dirs(data_dir: Path) -> None:
    """The data directory and its logs/, made again before each run if someone deleted them."""
    data_dir.mkdir(exist_ok=True)
    (data_dir / LOGS_DIR).mkdir(exist_ok=True)


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
    """Every complete run line that can be reported on, oldest first. The others (not JSON
    objects, or edited by hand into something else) are logged, by line number, and skipped."""
    path = data_dir / RUNS_FILE
    with path.open("rb") as file:
        for number, (offset, line) in enumerate(complete_lines(file), start=1):
            record = parse_line(line, offset, path)
            problem = None if record is None else run_problem(record)
            if problem is not None:
                logger.warning("%s line %d: %s: line skipped", path, number, problem)
            elif record is not None:
                yield record


def run_problem(run: Mapping[str, Any]) -> str | None:
    """Why a run line cannot be reported on; None if it can."""
    checks = (
        ("start", True, time_problem),
        ("end", True, time_problem),
        ("duration", True, _number_problem),
        ("interval", False, _number_problem),
        ("count", False, _number_problem),
        ("errors", False, _errors_problem),
        ("per_source", False, _objects_problem),
    )
    for key, required, problem_of in checks:
        if run.get(key) is None:
            if required:
                return f"{key} is missing"
            continue
        problem = problem_of(run[key])
        if problem is not None:
            return f"{key} {run[key]!r} {problem}"
    return None


def read_stats(path: Path) -> dict[str, Any] | None:
    """A crawl's stats file, or None if the crawl left none (or a broken one)."""
    try:
        stats = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return stats if isinstance(stats, dict) else None


def load_health(data_dir: Path) -> dict[str, SourceState]:
    """Each source's state in health.json. What in it cannot be read is logged, naming the
    source and the field, and left out; the rest is kept."""
    path = data_dir / HEALTH_FILE
    try:
        sources = json.loads(path.read_text(encoding="utf-8"))["sources"]
        if not isinstance(sources, dict):
            raise TypeError("'sources' is not an object")
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        logger.warning("Ignored unreadable %s (%s): source health starts afresh", path, exc)
        return {}
    states = {}
    for name, entry in sources.items():
        if not isinstance(entry, dict):
            logger.warning("%s: source %r is not an object: left out", path, name)
            continue
        states[name], problems = SourceState.from_json(entry)
        for problem in problems:
            logger.warning("%s: source %r: %s: left out", path, name, problem)
    return states


def save_health(data_dir: Path, states: Mapping[str, SourceState], when: str) -> None:
    path = data_dir / HEALTH_FILE
    document = {
        "updated": when,
        "sources": {name: state.to_json() for name, state in sorted(states.items())},
    }
    write_atomically(path, (json.dumps(document, ensure_ascii=False, indent=1) + "\n").encode())


@contextlib.contextmanager
def health_lock(data_dir: Path) -> Iterator[None]:
    """Hold health.json's lock, waiting for whoever has it (a moment: one read and write)."""
    fd = open_no_link(data_dir / HEALTH_LOCK_FILE, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def update_health(
    data_dir: Path,
    change: Callable[[dict[str, SourceState]], dict[str, SourceState]],
    when: str,
) -> dict[str, SourceState]:
    """Read health.json, *change* its states and write them back, under its lock; the states
    written."""
    with health_lock(data_dir):
        states = change(load_health(data_dir))
        save_health(data_dir, states, when)
    return states


def prune_logs(data_dir: Path, keep: int) -> int:
    """Delete the files (log, stats) of all but the newest *keep* runs; return how many runs."""
    try:
        files = [(path, _run_of(path)) for path in (data_dir / LOGS_DIR).iterdir()]
    except FileNotFoundError:  # deleted during the crawl: nothing to prune
        return 0
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


def _number_problem(value: object) -> str | None:
    number = isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
    return None if number else "is not a number"


def _errors_problem(value: object) -> str | None:
    if not isinstance(value, dict):
        return "is not an object"
    by_kind = [value.get("exceptions", {}), value.get("http", {})]
    if not all(isinstance(counts, dict) for counts in by_kind):
        return "holds no counts"
    counts = [*by_kind[0].values(), *by_kind[1].values(), value.get("log_errors", 0)]
    return None if all(_number_problem(count) is None for count in counts) else "holds no counts"


def _objects_problem(value: object) -> str | None:
    objects = isinstance(value, dict) and all(isinstance(item, dict) for item in value.values())
    return None if objects else "is not an object of objects"
