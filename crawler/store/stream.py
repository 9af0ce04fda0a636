"""The feed writer: one process appends the lines of the shared state's stream to a data
directory's feed, each exactly once, fsynced.

Workers' crawls add their feed lines to the ``neu:feed`` stream (``crawler.store.shared``); the
writer reads them with a consumer group, appends a batch to ``articles.jsonl`` (``FeedWriter``:
one write a line), fsyncs it, then acknowledges the batch's entries and deletes them from the
stream in one transaction, and records the feed's size in a small checkpoint file. A line is
in the feed once:

- killed after the fsync and before the acknowledgement, or mid-append (a torn last line, cut
  on start), the batch is still pending in the group: on start the writer matches each pending
  entry's (id, version) against the lines past the checkpoint and appends only those missing;
- killed after the acknowledgement, before the checkpoint: nothing is pending, and the older
  checkpoint only makes the next match read a few more lines;
- a reply lost to a Redis restart leaves entries delivered but never seen (the client's retry
  reads the next ones): before each read of new entries the writer looks at what is pending,
  the same way.

An (id, version) is one version of one article: the shared state files it once.

The writer holds the data directory's crawl lock, so no local crawl writes the same feed.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, cast

import redis

from crawler.store.datadir import crawl_lock, feed_line_key
from crawler.store.feed import (
    FEED_FILE,
    FeedWriter,
    UnreadableLine,
    complete_lines,
    cut_torn_tail,
    read_record,
    write_atomically,
)
from crawler.store.files import DataDirError
from crawler.store.shared import FEED_STREAM, LINE_FIELD

logger = logging.getLogger(__name__)

GROUP = "feed-writer"
# One writer per stream (it holds the data directory's lock): its pending entries are its own.
CONSUMER = "writer"
# The feed's size after the last acknowledged batch, in the data directory.
CHECKPOINT_FILE = ".feed-stream"
BATCH_SIZE = 500
POLL_SECONDS = 1.0

# One stream entry: its id and its feed line's bytes (None: an entry with no line).
Entry = tuple[str, bytes | None]


class FeedStreamWriter:
    """Appends the stream's lines to ``<data_dir>/articles.jsonl``; opened, it has taken the
    crawl lock and recovered what a killed writer left pending."""

    def __init__(self, client: redis.Redis, data_dir: Path, batch_size: int = BATCH_SIZE) -> None:
        self.client = client
        self.data_dir = data_dir
        self.batch_size = batch_size
        self.lock_fd = crawl_lock(data_dir)
        try:
            cut_torn_tail(self.feed_path)
            self.feed = FeedWriter(self.feed_path)
            self._join_group()
            self.drain_pending()
        except BaseException as exc:
            if hasattr(self, "feed"):
                os.close(self.feed.fd)
            os.close(self.lock_fd)
            if isinstance(exc, OSError):
                raise DataDirError(f"data directory {data_dir} cannot be used: {exc}") from None
            raise

    @property
    def feed_path(self) -> Path:
        return self.data_dir / FEED_FILE

    def close(self) -> None:
        self.feed.close()
        os.close(self.lock_fd)

    def drain(self) -> int:
        """Append everything the stream holds now; return how many lines were written."""
        written = 0
        while True:
            written += self.drain_pending()
            entries = self._read(">", block_ms=None)
            if not entries:
                return written
            written += self._append(entries, already=frozenset())

    def run(self, stop: threading.Event, poll_seconds: float = POLL_SECONDS) -> None:
        """Append the stream's lines as they come until *stop* is set (waits at most
        *poll_seconds* for a line, so a stop is seen that soon)."""
        block_ms = max(1, int(poll_seconds * 1000))
        while not stop.is_set():
            # Before each read of new entries: one whose reply was lost (the client read
            # again) is pending here, delivered but never appended.
            self.drain_pending()
            if entries := self._read(">", block_ms=block_ms):
                self._append(entries, already=frozenset())

    def drain_pending(self) -> int:
        """Append the entries delivered to this writer and not acknowledged (a killed writer's
        batch, a reply lost to a restart) whose lines the feed lacks; return how many."""
        written = 0
        after = "0"
        while entries := self._read(after, block_ms=None):
            already = frozenset(self._keys_past_checkpoint())
            appended = self._append(entries, already)
            if appended < len(entries):
                logger.info(
                    "Feed writer: %d pending stream entries were already in %s",
                    len(entries) - appended,
                    self.feed_path,
                )
            written += appended
            after = entries[-1][0]
        return written

    # -- steps -----------------------------------------------------------------------------------

    def _join_group(self) -> None:
        """Create the consumer group if it is not there, from the stream's first entry (lines
        added before any writer ran are the feed's too)."""
        try:
            self.client.xgroup_create(FEED_STREAM, GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def _read(self, after: str, block_ms: int | None) -> list[Entry]:
        """Up to a batch of entries: new ones (*after* ``>``), or this writer's pending ones
        with ids above *after*."""
        reply = self.client.xreadgroup(
            GROUP, CONSUMER, {FEED_STREAM: after}, count=self.batch_size, block=block_ms
        )
        return list(_entries(cast(list[Any], reply or [])))

    def _append(self, entries: list[Entry], already: frozenset[tuple[str, int]]) -> int:
        """Append the lines of *entries* whose (id, version) is not in *already*, make them
        durable, then acknowledge the entries and delete them from the stream."""
        appended = 0
        for entry_id, line in entries:
            record = _record(entry_id, line)
            if record is None or feed_line_key(record) in already:
                continue
            self.feed.append(record)
            appended += 1
        self.feed.sync()
        self._acknowledge([entry_id for entry_id, _line in entries])
        write_atomically(self.data_dir / CHECKPOINT_FILE, f"{self.feed.size}\n".encode())
        return appended

    def _acknowledge(self, entry_ids: list[str]) -> None:
        # Exactly these entries: older ones may still be pending (a reply lost to a
        # reconnect), a trim by id would delete them unwritten.
        with self.client.pipeline(transaction=True) as pipe:
            pipe.xack(FEED_STREAM, GROUP, *entry_ids)
            pipe.xdel(FEED_STREAM, *entry_ids)
            pipe.execute()

    def _checkpoint(self) -> int:
        """The feed size the checkpoint records, if the feed still reaches it; else 0."""
        try:
            size = int((self.data_dir / CHECKPOINT_FILE).read_text().strip())
        except (FileNotFoundError, ValueError):
            return 0
        return size if size <= self.feed.size else 0

    def _keys_past_checkpoint(self) -> Iterator[tuple[str, int]]:
        start = self._checkpoint()
        with self.feed_path.open("rb") as file:
            file.seek(start)
            for _offset, line in complete_lines(file, start):
                try:
                    record = read_record(line)
                except UnreadableLine:
                    continue
                pair = feed_line_key(record) if record is not None else None
                if pair is not None:
                    yield pair


def _entries(reply: list[Any]) -> Iterable[Entry]:
    """The entries of an XREADGROUP reply (``[[stream, [(id, fields), ...]]]``)."""
    for _stream, entries in reply:
        for entry_id, fields in entries:
            line = fields.get(LINE_FIELD) if fields else None
            yield _text(entry_id), line


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _record(entry_id: str, line: bytes | None) -> dict[str, Any] | None:
    """The feed line an entry holds; None, with a warning, for one that holds none (it is
    acknowledged all the same: it could never be written)."""
    try:
        record = read_record(line) if line else None
    except UnreadableLine:
        record = None
    if record is None or feed_line_key(record) is None:
        logger.warning("Feed writer: stream entry %s holds no feed line; skipped", entry_id)
        return None
    return record
