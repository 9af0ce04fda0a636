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

One writer per stream: the writer holds a lease in Redis (``neu:feed-writer``, naming its host,
process and data directory), renewed while it is open, so a second one on the same broker (another
data directory, another machine) is refused with ``FeedWriterBusy`` instead of splitting the
records between two feeds. It also holds the data directory's crawl lock, so no local crawl
writes the same feed. A data directory's feed that this broker's state was not fed from (a
single machine's, or one whose Redis was lost) is refused with ``ForeignFeed``.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
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
from crawler.store.shared import FEED_STREAM, LINE_FIELD, key

logger = logging.getLogger(__name__)

GROUP = "feed-writer"
# One writer per stream (it holds the lease): its pending entries are its own.
CONSUMER = "writer"
LEASE_KEY = key("feed-writer")
# A writer killed -9 holds the stream this long at most; renewed three times as often.
LEASE_SECONDS = 30.0
# Renew the lease if it is ours, take it if it lapsed (Redis away that long) or if its holder
# is ARGV[3] (a dead writer's); else the holder's name.
RENEW_LEASE = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] or not holder or holder == ARGV[3] then
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
    return false
end
return holder
"""
RELEASE_LEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
"""
# The feed's size after the last acknowledged batch, in the data directory.
CHECKPOINT_FILE = ".feed-stream"
BATCH_SIZE = 500
POLL_SECONDS = 1.0

# One stream entry: its id and its feed line's bytes (None: an entry with no line).
Entry = tuple[str, bytes | None]


class FeedWriterBusy(DataDirError):
    """Another feed writer holds the stream's lease; the message names it."""


class ForeignFeed(DataDirError):
    """The data directory's feed was not written from this broker's state: every article would
    come again as a second line."""


class FeedStreamWriter:
    """Appends the stream's lines to ``<data_dir>/articles.jsonl``; opened, it has taken the
    crawl lock and the stream's lease and recovered what a killed writer left pending."""

    def __init__(
        self,
        client: redis.Redis,
        data_dir: Path,
        batch_size: int = BATCH_SIZE,
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        self.client = client
        self.data_dir = data_dir
        self.batch_size = batch_size
        self.lease_ms = int(lease_seconds * 1000)
        # A lease whose holder names this place is a dead writer's: the crawl lock is ours.
        self.place = f"data directory {data_dir.absolute()} on {socket.gethostname()}"
        self.token = f"{self.place}, pid {os.getpid()} ({secrets.token_hex(4)})"
        self.lease_lost: str | None = None  # the holder that took the lease from this writer
        self.closing = threading.Event()
        self.lock_fd = crawl_lock(data_dir)
        self.renewer: threading.Thread | None = None
        try:
            self._take_lease()
            self.renewer = threading.Thread(target=self._renew, name="feed-lease", daemon=True)
            self.renewer.start()
            cut_torn_tail(self.feed_path)
            self.feed = FeedWriter(self.feed_path)
            self._check_fed_from_here()
            self._join_group()
            self.drain_pending()
        except BaseException as exc:
            if hasattr(self, "feed"):
                os.close(self.feed.fd)
            self._release_lease()
            os.close(self.lock_fd)
            if isinstance(exc, OSError):
                raise DataDirError(f"data directory {data_dir} cannot be used: {exc}") from None
            raise

    @property
    def feed_path(self) -> Path:
        return self.data_dir / FEED_FILE

    def close(self) -> None:
        self.feed.close()
        self._release_lease()
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

    def _check_fed_from_here(self) -> None:
        """Raise ``ForeignFeed`` unless the feed is empty or this broker's writer wrote it (the
        checkpoint is there) from a state that knows articles; an empty feed is this broker's
        from now on."""
        checkpoint = self.data_dir / CHECKPOINT_FILE
        if self.feed.size == 0 and not checkpoint.exists():
            write_atomically(checkpoint, b"0\n")
            return
        if not checkpoint.exists():
            why = "it was not written by a broker's feed writer"
        elif not self.client.exists(key("count")):
            why = "the broker's state knows no article"
        else:
            return
        raise ForeignFeed(
            f"data directory {self.data_dir} holds a feed this broker's state was not fed from "
            f"({why}): every article would be added again; use a fresh data directory for "
            "broker mode, or the Redis that was fed from this one"
        )

    # -- the lease -------------------------------------------------------------------------------

    def _take_lease(self) -> None:
        """Take (or renew) the stream's lease; ``FeedWriterBusy`` if another writer holds it.
        A writer killed -9 here held it last: it is taken over at once."""
        holder = self._lease_holder(stale="")
        if holder is not None and holder.startswith(f"{self.place}, pid "):
            holder = self._lease_holder(stale=holder)
        if holder is not None:
            raise FeedWriterBusy(
                f"another feed writer is appending this broker's records: {holder}; "
                f"stop it first (a killed one's lease lapses within {self.lease_ms // 1000} s)"
            )

    def _lease_holder(self, stale: str) -> str | None:
        """None once the lease is this writer's (taken over from *stale*); else its holder."""
        holder = self.client.eval(RENEW_LEASE, 1, LEASE_KEY, self.token, self.lease_ms, stale)
        return None if holder is None else _text(holder)

    def _renew(self) -> None:
        """Renew the lease until the writer closes; a lost one stops the writer's appends."""
        while not self.closing.wait(self.lease_ms / 3000):
            try:
                self._take_lease()
            except FeedWriterBusy as exc:
                self.lease_lost = str(exc)
                logger.error("Feed writer: lost its lease: %s", exc)
                return
            except redis.RedisError as exc:
                logger.warning("Feed writer: cannot renew its lease yet: %s", exc)

    def _release_lease(self) -> None:
        if self.renewer is None:  # never taken
            return
        self.closing.set()
        self.renewer.join()
        try:
            self.client.eval(RELEASE_LEASE, 1, LEASE_KEY, self.token)
        except redis.RedisError as exc:  # it lapses by itself
            logger.warning("Feed writer: cannot release its lease: %s", exc)

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
        if self.lease_lost is not None:
            raise FeedWriterBusy(self.lease_lost)
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
