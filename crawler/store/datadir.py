"""The data directory: feed, state and lock, kept consistent with each other.

A record becomes part of the feed in three steps: its line is appended (one write), the feed is
fsynced at the end of a batch, and only then is the state committed with the new feed size. On
open, a torn last line is cut and lines past the committed size are replayed into the state, so
a crash at any instant neither loses an article nor lets it be written twice.

The state never claims what the feed lacks: each commit records the feed's stamp (file, size,
modification time), and a feed found with another one on open (a crash's uncommitted lines, a
backup restored, the file emptied, replaced or edited) is read through and the state made to
match it: what the feed does not hold is forgotten, and fetched again.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from crawler.store.feed import (
    FEED_FILE,
    FeedWriter,
    UnreadableLine,
    complete_lines,
    cut_torn_tail,
    id_version,
    read_record,
)
from crawler.store.files import open_no_link, refuse_links
from crawler.store.filing import Outcome as Outcome
from crawler.store.filing import Recheck as Recheck
from crawler.store.filing import Validators as Validators
from crawler.store.filing import as_recheck, digests, file_record, schedule_of
from crawler.store.filing import conditional_headers as conditional_headers
from crawler.store.locks import DataDirError, lock_data_dir
from crawler.store.state import STATE_FILE, PageValidators, State

logger = logging.getLogger(__name__)

LOCK_FILE = ".lock"
# SQLite opens these itself, following links: each is checked beforehand instead.
STATE_FILES = (STATE_FILE, f"{STATE_FILE}-wal", f"{STATE_FILE}-shm", f"{STATE_FILE}-journal")
# Unreadable feed lines named by number in the warning; the rest are only counted.
NAMED_BAD_LINES = 10

# Crawl locks taken by ``check_data_dir``, by data directory, for the crawl's ``Store`` to take
# over: released in between, another crawl could take the lock and make this one fail late.
_checked_locks: dict[Path, int] = {}


def feed_line_key(record: Mapping[str, Any]) -> tuple[str, int] | None:
    """The (id, version) of a record that is a feed line the state can take (its URL, source,
    first sighting, title and text of the right types); None for any other object."""
    strings = all(isinstance(record.get(key), str) for key in ("url", "source", "first_seen"))
    texts = all(isinstance(record.get(key), str | None) for key in ("title", "text"))
    columns = record.get("columns")
    listed = columns is None or (
        isinstance(columns, list) and all(isinstance(column, str) for column in columns)
    )
    return id_version(record) if strings and texts and listed else None


class Store:
    def __init__(self, data_dir: Path, batch_size: int = 20) -> None:
        self.data_dir = data_dir
        self.batch_size = batch_size
        self.pending = 0
        self.lock_fd = crawl_lock(data_dir)
        try:
            self.state = _open_state(data_dir)
            cut_torn_tail(data_dir / FEED_FILE)
            self.feed = FeedWriter(data_dir / FEED_FILE)
            self._reconcile()
        except BaseException as exc:
            self._close_opened()
            if isinstance(exc, OSError | sqlite3.Error):
                raise DataDirError(f"data directory {data_dir} cannot be used: {exc}") from None
            raise

    def _close_opened(self) -> None:
        """Release what a failed ``__init__`` had opened."""
        if hasattr(self, "feed"):
            os.close(self.feed.fd)
        if hasattr(self, "state"):
            self.state.db.close()
        os.close(self.lock_fd)

    @property
    def feed_path(self) -> Path:
        return self.data_dir / FEED_FILE

    def describe(self) -> str:
        return f"Feed {self.feed_path} holds {self.state.count()} articles"

    def close(self) -> None:
        self.flush()
        self.feed.close()
        self.state.close()
        os.close(self.lock_fd)

    def flush(self) -> None:
        """Make the appended lines durable, then commit the state that matches them."""
        self.feed.sync()
        self.state.commit(self.feed.size, self.feed.stamp())
        self.pending = 0

    # -- what the crawl asks -----------------------------------------------------------------------

    def is_known(self, article_id: str) -> bool:
        return self.state.is_known(article_id)

    def recheck_candidates(self, sources: frozenset[str], last_step: int) -> list[Recheck]:
        """The articles of *sources* with a re-check step not done yet, were *last_step* the
        last one (``crawler.rechecks.Schedule`` picks the due ones)."""
        return [as_recheck(known) for known in self.state.unfinished_schedules(sources, last_step)]

    def known_articles(self, sources: frozenset[str]) -> list[Recheck]:
        """Every known article of *sources*, to re-check, the most recently published first."""
        return [as_recheck(known) for known in self.state.of_sources(sources)]

    def set_rechecked(self, article_id: str) -> None:
        """A re-check of *article_id* was answered: its steps due by now are done."""
        self.state.set_checked(article_id, int(time.time()))

    def list_validators(self, key: str) -> PageValidators | None:
        return self.state.list_validators(key)

    def set_list_validators(self, key: str, validators: PageValidators) -> None:
        self.state.set_list_validators(key, validators)

    def walk_complete(self, key: str) -> bool:
        return self.state.walk_complete(key)

    def set_walk_complete(self, key: str, complete: bool) -> None:
        self.state.set_walk_complete(key, complete)

    def add_columns(self, article_id: str, columns: list[str]) -> None:
        self.state.add_columns(self.state.alias_target(article_id) or article_id, columns)

    def relocated_column(self, source: str, label: str, configured: str) -> str | None:
        return self.state.relocated_column(source, label, configured)

    def set_relocated_column(self, source: str, label: str, configured: str, url: str) -> None:
        self.state.set_relocated_column(source, label, configured, url)

    # -- records ---------------------------------------------------------------------------------

    def add(
        self,
        record: Mapping[str, Any],
        validators: Validators | None = None,
        listed_as: tuple[str, str] | None = None,
        recheck_of: str | None = None,
    ) -> tuple[Outcome, dict[str, Any] | None]:
        """File one crawled record; return what it was and the feed line written, if any.

        *validators*: the (ETag, Last-Modified) its response carried; *listed_as*: the (id, URL)
        it was listed as, when a redirect brought it to another URL; *recheck_of*: the known
        article it re-checked, whose due steps are done once the record is filed (after its
        line: a step done without the edit's line would hide the edit).
        """
        filed = file_record(self.state, record, validators, listed_as, self._write)
        if recheck_of is not None:
            self.set_rechecked(recheck_of)
        return filed

    def _write(self, line: dict[str, Any], content: str, body: str | None) -> None:
        self.feed.append(line)
        self._remember(line, content, body)
        self.pending += 1
        if self.pending >= self.batch_size:
            self.flush()

    def _remember(self, line: Mapping[str, Any], content: str, body: str | None) -> None:
        self.state.put(
            article_id=str(line["id"]),
            url=str(line["url"]),
            source=str(line["source"]),
            version=int(line["version"]),
            first_seen=str(line["first_seen"]),
            content_hash=content,
            body_hash=body,
            columns=list(line.get("columns") or []),
            **schedule_of(line),
        )

    def _reconcile(self) -> None:
        """Make the state hold what the feed holds, unless the feed is as the last commit left
        it (one ``fstat``): replay the lines a crash left uncommitted, forget what the feed
        lacks, set back what it holds at an older version, take in what the state never knew."""
        recorded, found = self.state.feed_stamp, self.feed.stamp()
        if recorded == found and not self.state.unscheduled():
            return
        committed = self.state.feed_offset
        # Lines past the committed size are the last run's own, if the feed is still its file.
        same_file = recorded is None or recorded.same_file(found)
        tail = committed if same_file and committed <= self.feed.size else self.feed.size
        known_before = self.state.count()
        bad: list[int] = []
        self.state.scan_feed(self._scanned_lines(bad))
        forgotten = self.state.forget_unscanned()
        recovered = taken = behind = scheduled = 0
        with self.feed_path.open("rb") as file:
            for offset, version, known in self.state.scan_differences():
                file.seek(offset)
                line = read_record(file.readline())
                assert line is not None  # it was scanned as a record
                if known == version:  # known as it is, but from before re-check schedules
                    self.state.set_schedule(str(line["id"]), **schedule_of(line))
                    scheduled += 1
                    continue
                self._remember(line, *digests(line))
                if known is not None and known > version:
                    self.state.forget_validators(str(line["id"]))
                    behind += 1
                elif offset >= tail:
                    recovered += 1
                else:
                    taken += 1
        self.state.end_scan()
        self.flush()
        if scheduled:
            logger.info("Gave %d known articles their re-check schedule from the feed", scheduled)
        if forgotten or behind or taken or bad:
            self._warn_mismatch(forgotten, behind, taken + recovered, bad, known_before)
        elif recovered:
            logger.warning(
                "Recovered %d feed lines the last run wrote but did not commit", recovered
            )

    def _scanned_lines(self, bad: list[int]) -> Iterator[tuple[str, int, int]]:
        """(id, version, offset) of each of the feed's records; the numbers of the lines that
        hold none go to *bad*."""
        with self.feed_path.open("rb") as file:
            for number, (offset, line) in enumerate(complete_lines(file), start=1):
                try:
                    record = read_record(line)
                except UnreadableLine:
                    bad.append(number)
                    continue
                pair = feed_line_key(record) if record is not None else None
                if pair is not None:
                    yield (*pair, offset)
                elif record is not None:
                    bad.append(number)  # an object, but no feed line's

    def _warn_mismatch(
        self, forgotten: int, behind: int, taken: int, bad: list[int], known_before: int
    ) -> None:
        named = ", ".join(map(str, bad[:NAMED_BAD_LINES])) + (
            ", …" if len(bad) > NAMED_BAD_LINES else ""
        )
        foreign = known_before > 0 and forgotten == known_before and taken > 0
        logger.warning(
            "Feed %s does not hold what the state knew (was it restored from a backup, emptied, "
            "replaced or edited?): %d known articles are not in it and will be fetched again, "
            "%d are there at an older version, %d the state did not know were taken from it, "
            "%d lines are unreadable%s%s",
            self.feed_path,
            forgotten,
            behind,
            taken,
            len(bad),
            f" (line {named})" if bad else "",
            f"; none of the {known_before} articles it knew is in it: is it another data "
            "directory's feed?"
            if foreign
            else "",
        )


class NullStore:
    """The data directory when there is none (``NEU_DATA_DIR`` empty): nothing is known or kept,
    every record is new. Stands in for ``Store`` so that its users need no ``None`` checks."""

    data_dir = None

    def describe(self) -> str:
        return "No data directory: no feed is kept, every article is new"

    def is_known(self, article_id: str) -> bool:
        return False

    def recheck_candidates(self, sources: frozenset[str], last_step: int) -> list[Recheck]:
        return []

    def known_articles(self, sources: frozenset[str]) -> list[Recheck]:
        return []

    def set_rechecked(self, article_id: str) -> None:
        pass

    def list_validators(self, key: str) -> PageValidators | None:
        return None

    def set_list_validators(self, key: str, validators: PageValidators) -> None:
        pass

    def walk_complete(self, key: str) -> bool:
        return False

    def set_walk_complete(self, key: str, complete: bool) -> None:
        pass

    def add_columns(self, article_id: str, columns: list[str]) -> None:
        pass

    def relocated_column(self, source: str, label: str, configured: str) -> str | None:
        return None

    def set_relocated_column(self, source: str, label: str, configured: str, url: str) -> None:
        pass

    def add(
        self,
        record: Mapping[str, Any],
        validators: Validators | None = None,
        listed_as: tuple[str, str] | None = None,
        recheck_of: str | None = None,
    ) -> tuple[Outcome, dict[str, Any] | None]:
        return Outcome.NEW, dict(record)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def open_store(data_dir: str, batch_size: int) -> Store | NullStore:
    """The data directory a crawl keeps its feed in, or ``NullStore`` when *data_dir* is empty."""
    return Store(Path(data_dir), batch_size=batch_size) if data_dir else NullStore()


def check_data_dir(data_dir: Path) -> None:
    """Raise ``DataDirError`` now if a crawl could not use *data_dir* (missing, locked, full…).

    Creates what a crawl would (the directory, lock, empty state and feed) but repairs nothing:
    repairs are the crawl's, logged in its own log. The lock stays held, for this process's
    ``Store`` of *data_dir* to take over: the crawl takes it once, here, and a second crawl
    started at the same moment fails here, in one line, not later.
    """
    lock_fd = crawl_lock(data_dir)
    try:
        _open_state(data_dir).close()
        os.close(open_no_link(data_dir / FEED_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT))
    except BaseException as exc:
        os.close(lock_fd)
        if isinstance(exc, OSError | sqlite3.Error):
            raise DataDirError(f"data directory {data_dir} cannot be used: {exc}") from None
        raise
    _checked_locks[data_dir.resolve()] = lock_fd


def crawl_lock(data_dir: Path) -> int:
    """The crawl lock ``check_data_dir`` holds for *data_dir*, handed over, else taken now: held
    by whatever writes the feed (a crawl's ``Store``, the stream's feed writer)."""
    key = data_dir.resolve()
    return _checked_locks.pop(key) if key in _checked_locks else _lock(data_dir)


def _open_state(data_dir: Path) -> State:
    refuse_links(*(data_dir / name for name in STATE_FILES))
    return State(data_dir / STATE_FILE)


def _lock(data_dir: Path) -> int:
    """Take the data directory's crawl lock, or fail at once if another crawl holds it."""
    return lock_data_dir(
        data_dir, LOCK_FILE, "another crawl", "wait for it to finish or use another -s NEU_DATA_DIR"
    )
