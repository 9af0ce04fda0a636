"""Item pipeline: file each record in the data directory's feed and state."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any, Self

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem, NotConfigured
from scrapy.utils.defer import deferred_from_coro

from crawler.store import Outcome, Store

logger = logging.getLogger(__name__)


class FeedPipeline:
    """Appends new and edited articles to ``articles.jsonl``; drops what the feed already has."""

    def __init__(self, crawler: Crawler, store: Store) -> None:
        self.crawler = crawler
        self.store = store
        self.stopping = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        setting = crawler.settings.get("NEU_DATA_DIR")
        if not setting:
            raise NotConfigured("NEU_DATA_DIR is empty: no feed is kept")
        store = Store(Path(setting), batch_size=crawler.settings.getint("NEU_FEED_BATCH_SIZE"))
        logger.info("Feed %s holds %d articles", store.feed_path, store.state.count())
        return cls(crawler, store)

    def process_item(self, item: dict[str, Any]) -> dict[str, Any]:
        stats = self.crawler.stats
        assert stats is not None
        try:
            outcome, line = self.store.add(item)
        except (OSError, sqlite3.Error) as exc:
            stats.inc_value("neu/dropped/write_failed")
            self._stop(exc)
            raise DropItem(f"not written: {item['url']}", log_level="DEBUG") from None
        if line is None:
            stats.inc_value(f"neu/dropped/{outcome.value}")
            raise DropItem(f"{outcome.value}: {item['url']}", log_level="DEBUG")
        stats.inc_value(f"neu/articles/{outcome.value}")
        stats.inc_value(f"neu/source/{item['source']}/{outcome.value}")
        if outcome is Outcome.UPDATED:
            logger.info("Article changed, version %d: %s", line["version"], line["url"])
        return line

    def close_spider(self) -> None:
        try:
            self.store.close()
        except (OSError, sqlite3.Error) as exc:
            logger.error("Could not close the data directory %s: %s", self.store.data_dir, exc)

    def _stop(self, error: Exception) -> None:
        """Stop the crawl at the first write error: nothing more can be kept (full disk…)."""
        if self.stopping:
            return
        self.stopping = True
        logger.error(
            "Cannot write to the data directory %s (%s); stopping the crawl. The feed is intact.",
            self.store.data_dir,
            error,
        )
        assert self.crawler.engine is not None
        deferred_from_coro(self.crawler.engine.close_spider_async(reason="feed_write_failed"))
