"""Extensions: the crawl's stats written to a JSON file, for the scheduler and for tests; a crawl
that ran out of memory stopped as unfinished."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Self

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import deferred_from_coro
from twisted.python.failure import Failure

from crawler import stats
from crawler.store.feed import write_atomically

logger = logging.getLogger(__name__)


class StatsFile:
    """Write every stat of the run to ``NEU_STATS_FILE`` when the spider closes.

    The exit code says only whether every source was fetched; the scheduler reads the figures
    behind it (crawler.outcome judges them), and its health checks the rest.
    """

    def __init__(self, crawler: Crawler, path: Path) -> None:
        self.crawler = crawler
        self.path = path

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        path = crawler.settings.get("NEU_STATS_FILE")
        if not path:
            raise NotConfigured("NEU_STATS_FILE is not set")
        extension = cls(crawler, Path(path))
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_closed(self, reason: str) -> None:
        assert self.crawler.stats is not None
        stats = dict(self.crawler.stats.get_stats())
        stats["finish_reason"] = reason
        document = json.dumps(stats, default=str, indent=1, sort_keys=True) + "\n"
        write_atomically(self.path, document.encode())
        logger.info("Wrote crawl stats to %s", self.path)


class StopOnMemoryError:
    """Close the crawl with reason ``out_of_memory`` when a callback or the item pipeline runs
    out of memory: Scrapy would count it as one page's error and report the crawl ``finished``
    (exit 0), though what comes after is anyone's guess."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        extension = cls(crawler)
        crawler.signals.connect(extension.failed, signal=signals.spider_error)
        crawler.signals.connect(extension.failed, signal=signals.item_error)
        return extension

    def failed(self, failure: Failure) -> None:
        if not isinstance(failure.value, MemoryError):
            return
        logger.error("Out of memory: stopping the crawl")
        assert self.crawler.engine is not None
        deferred_from_coro(self.crawler.engine.close_spider_async(reason=stats.OUT_OF_MEMORY))
