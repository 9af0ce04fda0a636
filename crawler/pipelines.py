"""Item pipeline: the crawl's one owner of its store: the data directory (feed, state and lock),
or the shared state in Redis (``NEU_STATE_URL``) whose stream the feed writer appends.

The spider asks it what is known (through ``store``) and hands it articles; nothing else opens
the store during a crawl.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any, Self

import redis
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.utils.defer import deferred_from_coro

from crawler import stats
from crawler.items import FetchedArticle
from crawler.store.datadir import Outcome, open_store
from crawler.store.filing import CrawlStore
from crawler.store.shared import SharedStore, redact

logger = logging.getLogger(__name__)

# What a store raises when it cannot keep a record (full disk, Redis gone for good): the crawl
# stops, losing nothing already kept.
WRITE_ERRORS = (OSError, sqlite3.Error, redis.RedisError)


class FeedPipeline:
    """Appends new and edited articles to ``articles.jsonl``; drops what the feed already has.

    With ``NEU_STATE_URL`` set the store is a ``SharedStore`` (``NEU_DATA_DIR`` is not used);
    with ``NEU_DATA_DIR`` empty too it is a ``NullStore``: every article passes as new.
    """

    def __init__(self, crawler: Crawler, store: CrawlStore, place: str) -> None:
        self.crawler = crawler
        self.store = store
        self.place = place  # where the store keeps things, for messages
        self.stopping = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        state_url = settings.get("NEU_STATE_URL") or ""
        store: CrawlStore
        if state_url:
            store, place = SharedStore(state_url), f"the shared state {redact(state_url)}"
        else:
            data_dir = settings.get("NEU_DATA_DIR") or ""
            store = open_store(data_dir, batch_size=settings.getint("NEU_FEED_BATCH_SIZE"))
            place = f"the data directory {data_dir}"
        logger.info(store.describe())
        return cls(crawler, store, place)

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
        except WRITE_ERRORS as exc:
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
        except WRITE_ERRORS as exc:
            logger.error("Could not close %s: %s", self.place, exc)

    def _stop(self, error: Exception) -> None:
        """Stop the crawl at the first write error: nothing more can be kept (full disk, Redis
        down past its retries…)."""
        if self.stopping:
            return
        self.stopping = True
        logger.error(
            "Cannot write to %s (%s); stopping the crawl. The feed is intact.",
            self.place,
            error,
        )
        assert self.crawler.engine is not None
        deferred_from_coro(self.crawler.engine.close_spider_async(reason="feed_write_failed"))
