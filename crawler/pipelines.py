"""Item pipeline: file each record in the data directory's feed and state."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Self

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem, NotConfigured

from crawler.store import Outcome, Store

logger = logging.getLogger(__name__)


class FeedPipeline:
    """Appends new and edited articles to ``articles.jsonl``; drops what the feed already has."""

    def __init__(self, crawler: Crawler, store: Store) -> None:
        self.crawler = crawler
        self.store = store

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        setting = crawler.settings.get("NEU_DATA_DIR")
        if not setting:
            raise NotConfigured("NEU_DATA_DIR is empty: no feed is kept")
        store = Store(Path(setting), batch_size=crawler.settings.getint("NEU_FEED_BATCH_SIZE"))
        logger.info("Feed %s holds %d articles", store.feed_path, store.state.count())
        return cls(crawler, store)

    def process_item(self, item: dict[str, Any]) -> dict[str, Any]:
        outcome, line = self.store.add(item)
        stats = self.crawler.stats
        assert stats is not None
        if line is None:
            stats.inc_value(f"neu/dropped/{outcome.value}")
            raise DropItem(f"{outcome.value}: {item['url']}", log_level="DEBUG")
        stats.inc_value(f"neu/articles/{outcome.value}")
        stats.inc_value(f"neu/source/{item['source']}/{outcome.value}")
        if outcome is Outcome.UPDATED:
            logger.info("Article changed, version %d: %s", line["version"], line["url"])
        return line

    def close_spider(self) -> None:
        self.store.close()
