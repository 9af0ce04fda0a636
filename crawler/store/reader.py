"""Reading the JSON Lines feed as it is written: whole lines only, in constant memory.

The crawler appends each line with one write() and may be writing while we read, so a last line
without its newline is unfinished: ``iter_feed`` stops before it, ``follow_feed`` waits for the
rest. A complete line that is not a JSON object is logged with its byte offset and skipped.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing, contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any

from crawler.store.feed import (
    BadLines,
    UnreadableLine,
    complete_lines,
    end_of_complete_lines,
    id_version,
    parse_line,
    read_record,
)
from crawler.store.state import STATE_FILE

logger = logging.getLogger(__name__)

# A feed line as read: a record plus its version fields (crawler.items.ArticleRecord).
Record = dict[str, Any]
# Whether a record with this (id, version) is the latest version of its id.
LatestCheck = Callable[[str, int], bool]


def iter_feed(
    path: Path,
    *,
    since: date | None = None,
    seen_since: date | None = None,
    source: str | None = None,
    latest: bool = False,
    state_path: Path | None = None,
    bad: BadLines | None = None,
) -> Iterator[Record]:
    """The feed's complete lines as records, in file order, in constant memory; lines that hold
    none are logged by number, counted in *bad* and read past.

    *since* keeps records whose ``published`` date is on or after it (records without one are
    dropped); *seen_since* those first seen (``first_seen``, UTC) on or after that day; *source*
    keeps one source. *latest* keeps only the latest version of each id, as
    the state DB (*state_path*, default ``state.sqlite3`` beside the feed) records it, one indexed
    lookup per line. Without a usable state DB it first scans the feed for each id's highest
    version: that fallback holds an {id: version} dict, so memory grows with the number of ids.

    Raises ``FileNotFoundError`` (on the first ``next``) when the feed does not exist.
    """
    path = Path(path)
    filters = (_as_date(since), _as_date(seen_since), source)
    with ExitStack() as stack:
        handle = stack.enter_context(path.open("rb"))
        check = stack.enter_context(_latest_check(path, state_path)) if latest else None
        for number, (offset, line) in enumerate(complete_lines(handle), start=1):
            record = _select(line, offset, path, filters, check, number, bad)
            if record is not None:
                yield record


def follow_feed(
    path: Path,
    *,
    poll_interval: float = 0.5,
    stop: threading.Event | None = None,
    from_start: bool = True,
    since: date | None = None,
    seen_since: date | None = None,
    source: str | None = None,
    latest: bool = False,
    state_path: Path | None = None,
    bad: BadLines | None = None,
) -> Iterator[Record]:
    """Like ``tail -f``: the feed's records (all of them, or only new ones if not *from_start*),
    then each new complete line as it lands, until *stop* is set.

    Filters and *bad* are those of ``iter_feed``. A missing feed is waited for; a partial last
    line is buffered until its newline arrives; a feed that shrinks (a crashed writer's torn tail
    cut, or the file replaced) is read again from the first byte that may have changed.
    """
    path = Path(path)
    filters = (_as_date(since), _as_date(seen_since), source)
    stop = stop if stop is not None else threading.Event()
    with ExitStack() as stack:
        check = stack.enter_context(_latest_check(path, state_path)) if latest else None
        for offset, line in _follow_lines(path, poll_interval, stop, from_start):
            record = _select(line, offset, path, filters, check, bad=bad)
            if record is not None:
                yield record


def published_date(record: Record) -> date | None:
    """The date part of the record's ``published``, or None."""
    published = record.get("published")
    if not isinstance(published, str):
        return None
    try:
        return date.fromisoformat(published[:10])
    except ValueError:
        return None


def first_seen_date(record: Record) -> date | None:
    """The (UTC) date of the record's ``first_seen``, or None."""
    first_seen = record.get("first_seen")
    if not isinstance(first_seen, str):
        return None
    try:
        return datetime.fromisoformat(first_seen).astimezone(UTC).date()
    except ValueError:
        return None


def matches(
    record: Record,
    since: date | None = None,
    source: str | None = None,
    seen_since: date | None = None,
) -> bool:
    """Whether the record passes the *since* (publication), *seen_since* (first sight) and
    *source* filters."""
    if source is not None and record.get("source") != source:
        return False
    for bound, day_of in ((since, published_date), (seen_since, first_seen_date)):
        if bound is not None:
            day = day_of(record)
            if day is None or day < bound:
                return False
    return True


def open_state(path: Path) -> sqlite3.Connection | None:
    """A read-only connection to the state DB, or None if it is missing or has no articles."""
    if not path.is_file():
        return None
    try:
        # check_same_thread off: a generator may be resumed from another thread than its first.
        conn = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False
        )
    except sqlite3.Error as exc:
        logger.warning("Cannot open state DB %s: %s", path, exc)
        return None
    try:
        conn.execute("SELECT id, version FROM articles LIMIT 0")
    except sqlite3.Error as exc:
        logger.warning("State DB %s has no usable articles table: %s", path, exc)
        conn.close()
        return None
    return conn


def known_sources(state_path: Path) -> set[str] | None:
    """The sources the state DB has articles of, or None when it cannot say (no state)."""
    conn = open_state(state_path)
    if conn is None:
        return None
    try:
        return {row[0] for row in conn.execute("SELECT DISTINCT source FROM articles")}
    except sqlite3.Error as exc:
        logger.warning("State DB %s: cannot list its sources: %s", state_path, exc)
        return None
    finally:
        conn.close()


def state_version(conn: sqlite3.Connection, article_id: str) -> int | None:
    """The version the state DB holds for *article_id*, or None if unknown or unreadable."""
    try:
        row = conn.execute("SELECT version FROM articles WHERE id = ?", (article_id,)).fetchone()
    except sqlite3.Error as exc:
        logger.warning("State DB lookup of %s failed: %s", article_id, exc)
        return None
    return row[0] if row is not None and isinstance(row[0], int) else None


def scan_max_versions(path: Path) -> dict[str, int]:
    """{id: highest version} over the feed's complete lines; {} if there is no feed."""
    versions: dict[str, int] = {}
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return versions
    with handle:
        for _offset, line in complete_lines(handle):
            try:
                record = read_record(line)
            except UnreadableLine:
                continue  # warned about when the line is read for real
            pair = id_version(record) if record is not None else None
            if pair is not None and pair[1] > versions.get(pair[0], 0):
                versions[pair[0]] = pair[1]
    return versions


def _as_date(value: date | None) -> date | None:
    # A datetime is a date but does not compare with one.
    return value.date() if isinstance(value, datetime) else value


def _select(
    line: bytes,
    offset: int,
    path: Path,
    filters: tuple[date | None, date | None, str | None],  # since, seen_since, source
    check: LatestCheck | None,
    number: int | None = None,
    bad: BadLines | None = None,
) -> Record | None:
    record = parse_line(line, offset, path, number, bad)
    since, seen_since, source = filters
    if record is None or not matches(record, since, source, seen_since):
        return None
    if check is not None:
        pair = id_version(record)
        if pair is None or not check(*pair):
            return None
    return record


@contextmanager
def _latest_check(feed_path: Path, state_path: Path | None) -> Iterator[LatestCheck]:
    state_path = state_path if state_path is not None else feed_path.with_name(STATE_FILE)
    conn = open_state(state_path)
    if conn is not None:
        with closing(conn):
            yield lambda article_id, version: _is_latest_in_state(conn, article_id, version)
        return
    logger.info("No state DB at %s: scanning %s for latest versions", state_path, feed_path)
    versions = scan_max_versions(feed_path)
    yield lambda article_id, version: _is_latest_in_memory(versions, article_id, version)


def _is_latest_in_state(conn: sqlite3.Connection, article_id: str, version: int) -> bool:
    known = state_version(conn, article_id)
    # The state is committed after the feed lines it covers, so it may lag: a version at or
    # above the committed one, or an id not committed yet, is the newest there is so far.
    return known is None or version >= known


def _is_latest_in_memory(versions: dict[str, int], article_id: str, version: int) -> bool:
    known = versions.get(article_id)
    if known is not None and version < known:
        return False
    # Lines appended after the scan (follow mode) raise the bar for the lines after them.
    versions[article_id] = version
    return True


def _follow_lines(
    path: Path, poll_interval: float, stop: threading.Event, from_start: bool
) -> Iterator[tuple[int, bytes]]:
    """(offset, line) for each complete line as it lands, until *stop* is set."""
    handle: IO[bytes] | None = None
    skip_existing = not from_start and path.exists()
    offset = 0  # where `pending` starts: just past the last line yielded
    pending = b""
    reads = 0  # reads that went into `pending`
    try:
        while not stop.is_set():
            if handle is None:
                handle = _open_or_none(path)
                if handle is None:
                    stop.wait(poll_interval)
                    continue
                if skip_existing:
                    offset = end_of_complete_lines(handle)
                    skip_existing = False
                handle.seek(offset)
                pending, reads = b"", 0
            chunk = handle.readline()
            if chunk:
                pending += chunk
                reads += 1
                if not pending.endswith(b"\n"):
                    continue
                # A line pieced together across polls may straddle a truncation (torn tail cut,
                # then a new line written at the same offset): keep it only if the file agrees.
                if reads > 1 and os.pread(handle.fileno(), len(pending), offset) != pending:
                    handle.seek(offset)
                    pending, reads = b"", 0
                    continue
                line, pending, reads = pending, b"", 0
                yield offset, line
                offset += len(line)
                continue
            restart = _restart_offset(handle, path, offset, offset + len(pending))
            if restart is not None:
                handle.close()
                handle = None
                offset = restart
                continue
            stop.wait(poll_interval)
    finally:
        if handle is not None:
            handle.close()


def _open_or_none(path: Path) -> IO[bytes] | None:
    try:
        return path.open("rb")
    except FileNotFoundError:
        return None


def _restart_offset(handle: IO[bytes], path: Path, offset: int, position: int) -> int | None:
    """Where to reopen the feed from if it shrank or was replaced under us, else None."""
    try:
        current = path.stat()
    except FileNotFoundError:
        logger.warning("Feed %s went away; waiting for it to come back", path)
        return 0
    opened = os.fstat(handle.fileno())
    if (current.st_dev, current.st_ino) != (opened.st_dev, opened.st_ino):
        logger.warning("Feed %s was replaced; reading the new file from the start", path)
        return 0
    if current.st_size >= position:
        return None
    if current.st_size >= offset:
        return offset  # only the unfinished line was cut
    logger.warning("Feed %s shrank below what was read; reading it again from the start", path)
    return 0
