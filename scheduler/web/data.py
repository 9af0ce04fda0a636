"""What the web app reads from a data directory: the feed, the run history, the sources' health.

Reading the feed through is the costly part, so the newest entries and the per-source counts
are kept per feed stamp (file, size, modification time): readers polling an unchanged feed cost
one ``stat``, and the first request after a crawl appended lines reads it once.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

from crawler.sources import load_sources
from crawler.store.export import newest
from crawler.store.feed import FEED_FILE, FeedStamp
from crawler.store.reader import Record, iter_feed, known_sources
from crawler.store.state import STATE_FILE
from scheduler.health import SourceState
from scheduler.history import RUNS_FILE, load_health
from scheduler.status import History, read_history

logger = logging.getLogger(__name__)

# Entries in each Atom/RSS feed, as `neu-news export` gives by default.
FEED_ENTRIES = 50


@dataclass(frozen=True)
class FeedSnapshot:
    """The feed (or one source of it) as of one stamp: its newest entries and what it holds."""

    newest: list[Record]  # newest first (crawler.store.export.newest), FEED_ENTRIES at most
    counts: Mapping[str, int]  # articles (their latest version) per source


EMPTY = FeedSnapshot(newest=[], counts={})


class DataDir:
    """A data directory as the web app reads it; *sources_file* names sources it may not hold
    any article of yet (their feeds are empty, not unknown)."""

    def __init__(self, path: Path, sources_file: Path | None = None) -> None:
        self.path = path
        self.feed_path = path / FEED_FILE
        self.state_path = path / STATE_FILE
        # SourcesError, with its one-line message, for a bad file.
        self.configured = frozenset(
            source.name for source in (load_sources(sources_file) if sources_file else [])
        )

    def stamp(self) -> FeedStamp | None:
        """The feed's stamp now, or None when there is no feed yet."""
        try:
            return FeedStamp.of(self.feed_path.stat())
        except FileNotFoundError:
            return None

    def snapshot(self, stamp: FeedStamp | None, source: str | None = None) -> FeedSnapshot:
        """The feed at *stamp* (``stamp()``), or one *source* of it."""
        if stamp is None:
            return EMPTY
        return _snapshot(self.feed_path, self.state_path, stamp, source)

    def source_names(self, stamp: FeedStamp | None) -> frozenset[str]:
        """Every source this directory knows: of its articles, its health, its sources file."""
        held = known_sources(self.state_path)
        if held is None:  # no state: only the feed can say
            held = set(self.snapshot(stamp).counts)
        return frozenset(held) | self.health().keys() | self.configured

    def health(self) -> dict[str, SourceState]:
        return load_health(self.path)

    def history(self, last: int) -> History | None:
        """The newest *last* runs and what status needs of the rest; None without any run (a
        data directory the scheduler never ran on)."""
        if not (self.path / RUNS_FILE).is_file():
            return None
        return read_history(self.path, last)

    def records(
        self, stamp: FeedStamp | None, since: date | None, source: str | None
    ) -> Iterator[Record]:
        """The feed's records in file order, as ``neu-news feed --since --source`` prints them;
        none without a feed."""
        if stamp is None:
            return iter(())
        return iter_feed(self.feed_path, since=since, source=source, state_path=self.state_path)


@lru_cache(maxsize=32)
def _snapshot(
    feed_path: Path, state_path: Path, stamp: FeedStamp, source: str | None
) -> FeedSnapshot:
    """One pass over the latest versions; the stamp in the key retires an entry when the feed
    changes."""
    counts: Counter[str] = Counter()

    def counted(records: Iterable[Record]) -> Iterator[Record]:
        for record in records:
            counts[str(record.get("source"))] += 1
            yield record

    records = iter_feed(feed_path, source=source, latest=True, state_path=state_path)
    entries = newest(counted(records), FEED_ENTRIES)
    logger.debug("Read %s at %s: %d articles", feed_path, stamp, counts.total())
    return FeedSnapshot(newest=entries, counts=dict(counts))
