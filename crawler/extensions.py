"""Extensions: the crawl's stats written to a JSON file, for the scheduler and for tests; a crawl
that ran out of memory stopped as unfinished; no log record built that ``LOG_LEVEL`` hides."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Self

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import deferred_from_coro
from scrapy.utils.log import get_scrapy_root_handler
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


class LogLevelFloor:
    """Make the root and ``scrapy`` loggers skip messages below ``LOG_LEVEL`` before building
    their records, and restore their levels when the engine stops.

    Scrapy sets its loggers to DEBUG and the root logger to NOTSET, leaving ``LOG_LEVEL`` to its
    root handler: every "Crawled (200)" and "Scraped from" line became a LogRecord that handler
    then dropped, about 3.4 per article. What reaches the handler is the same. Off when Scrapy
    installed no root handler: the loggers then belong to whoever configured logging.
    """

    # The loggers whose levels Scrapy leaves below any LOG_LEVEL: the root one, and its own.
    LOGGER_NAMES = ("", "scrapy")

    def __init__(self, level: int | str) -> None:
        self.loggers = [logging.getLogger(name) for name in self.LOGGER_NAMES]
        self.restored = [one.level for one in self.loggers]
        for one in self.loggers:
            one.setLevel(level)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        if get_scrapy_root_handler() is None:
            raise NotConfigured("Scrapy installed no root log handler")
        extension = cls(crawler.settings.get("LOG_LEVEL"))
        crawler.signals.connect(extension.engine_stopped, signal=signals.engine_stopped)
        return extension

    def engine_stopped(self) -> None:
        for one, level in zip(self.loggers, self.restored, strict=True):
            one.setLevel(level)
