"""Downloader middlewares: stay on the sources' hosts, back off before retries, and obey
robots.txt without a traceback when a site is unreachable."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Self

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares import robotstxt
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.robotstxt import RobotParser
from scrapy.utils.httpobj import urlparse_cached

from crawler import stats
from crawler.extract.urls import netloc
from crawler.failures import OFFSITE_MESSAGE, failure_reason
from crawler.outcome import failure_class
from crawler.walks import source_of

logger = logging.getLogger(__name__)


class SourceHostsMiddleware:
    """Drop any request, redirects included, whose host:port is not one of the sources' (their
    start URLs' and ``hosts``), counted for the source it was made for.

    Scrapy's OffsiteMiddleware compares host names only; on one machine two sites differ by
    port, and a redirect to another port must not leave the crawl's sites either.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        hosts: frozenset[str] | None = getattr(self.crawler.spider, "hosts", None)
        if hosts is None or netloc(request.url) in hosts:
            return
        counter = self.crawler.stats
        assert counter is not None
        source = source_of(request.cb_kwargs)
        if source is None:
            counter.inc_value(stats.total(stats.skipped("offsite")))
        else:
            stats.count(counter, source.name, stats.skipped("offsite"))
        logger.debug("Not leaving the sources' hosts: %s", request.url)
        raise IgnoreRequest(f"{OFFSITE_MESSAGE}{request.url}")


class RetryBackoffMiddleware:
    """Wait base * 2**(n-1) seconds (capped) before the n-th retry of a request.

    Scrapy retries at once; a struggling server gets a breather instead. The wait happens
    before the request reaches its download slot, so other requests go on meanwhile.
    """

    def __init__(self, base: float, cap: float) -> None:
        self.base = base
        self.cap = cap

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        base = crawler.settings.getfloat("NEU_RETRY_BACKOFF_BASE")
        if base <= 0:
            raise NotConfigured("NEU_RETRY_BACKOFF_BASE is 0")
        return cls(base, crawler.settings.getfloat("NEU_RETRY_BACKOFF_MAX"))

    async def process_request(self, request: Request) -> Any:
        retries = int(request.meta.get("retry_times", 0))
        if retries:
            await asyncio.sleep(min(self.cap, self.base * 2 ** (retries - 1)))
        return None


class RobotsTxtMiddleware(robotstxt.RobotsTxtMiddleware):
    """Scrapy's RobotsTxtMiddleware, but every request waiting for its host's robots.txt is
    judged by it, and a robots.txt lost to a network failure (DNS, refused, timeout…) is one
    log line: Scrapy logs a 60-line traceback per host, for a failure that is expected, and
    counted when the site's pages fail next."""

    async def robot_parser(self, request: Request) -> RobotParser | None:
        parser = await super().robot_parser(request)
        # Scrapy 2.19 awaits the one Deferred of a robots.txt under way once per waiting request;
        # a Deferred awaited as a Future passes None on to the next, so from the third request
        # to a host while its robots.txt was fetched, each was let through. The parser is
        # stored by now.
        stored = self._parsers.get(urlparse_cached(request).netloc)
        return stored if isinstance(stored, RobotParser) else parser

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        middleware = cls(crawler)
        robots_logger = logging.getLogger(robotstxt.__name__)
        robots_logger.addFilter(without_network_traceback)
        crawler.signals.connect(
            lambda: robots_logger.removeFilter(without_network_traceback),
            signal=signals.engine_stopped,
            weak=False,
        )
        return middleware


def without_network_traceback(record: logging.LogRecord) -> bool:
    """A log filter: *record* without its traceback when the error it logs is a network
    failure (it is still logged)."""
    error = record.exc_info[1] if record.exc_info else None
    if error is not None and failure_class(failure_reason(error)) == "network":
        record.exc_info = None
        record.exc_text = None
    return True
