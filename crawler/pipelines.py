"""Item pipeline: the crawl's one owner of the data directory (feed, state and lock).

The spider asks it what is known (through ``store``) and hands it articles; nothing else opens
the data directory during a crawl.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any, Self

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.utils.defer import deferred_from_coro

from crawler import stats
from crawler.items import FetchedArticle
from crawler.store.datadir import NullStore, Outcome, Store, open_store

logger = logging.getLogger(__name__)


class FeedPipeline:
    """Appends new and edited articles to ``articles.jsonl``; drops what the feed already has.

    With ``NEU_DATA_DIR`` empty the store is a ``NullStore``: every article passes as new.
    """

    def __init__(self, crawler: Crawler, store: Store | NullStore) -> None:
        self.crawler = crawler
        self.store = store
        self.stopping = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        store = open_store(
            crawler.settings.get("NEU_DATA_DIR") or "",
            batch_size=crawler.settings.getint("NEU_FEED_BATCH_SIZE"),
        )
        logger.info(store.describe())
        return cls(crawler, store)

    @classmethod
    def of(cls, crawler: Crawler) -> Self:
        """The running crawl's pipeline (the engine must be open)."""
        pipeline = crawler.get_item_pipeline(cls)
        if pipeline is None:
            raise RuntimeError(f"{cls.__name__} is not in ITEM_PIPELINES")
        return pipeline

    def process_item(self, item: FetchedArticle) -> dict[str, Any]:
        counter = self.crawler.stats
        assert counter is not None
        record = item.record
        try:
            outcome, line = self.store.add(
                record,
                validators=(item.etag, item.last_modified),
                listed_as=item.listed_as,
                recheck_of=item.recheck_of,
            )
        except (OSError, sqlite3.Error) as exc:
            counter.inc_value(stats.total(stats.dropped("write_failed")))
            self._stop(exc)
            raise DropItem(f"not written: {record['url']}", log_level="DEBUG") from None
        if line is None:
            counter.inc_value(stats.total(stats.dropped(outcome.value)))
            raise DropItem(f"{outcome.value}: {record['url']}", log_level="DEBUG")
        counter.inc_value(stats.total(stats.feed_outcome(outcome.value)))
        counter.inc_value(stats.of_source(record["source"], outcome.value))
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
