"""Article pages to items for the crawl: extracted in its own process, or in worker processes.

Each page goes through ``crawler.extract.record.record_of_page``, as in ``neu-news extract``;
this module adds what only the crawl knows (the listed URL, redirects, HTTP headers) and counts.

Extraction is CPU-bound Python (about 1.2 ms a page, half of it trafilatura) and runs on the
reactor's thread by default; ``NEU_EXTRACT_PROCESSES`` moves it to that many child processes,
to use more than one core on large backfills.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from typing import Self

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.http import Response

from crawler import stats
from crawler.extract.article import GENERIC
from crawler.extract.listing import ListedArticle
from crawler.extract.record import record_of_page
from crawler.items import ArticleRecord, FetchedArticle, utc_now
from crawler.processes import die_with_parent
from crawler.sources import Source

logger = logging.getLogger(__name__)

# Python's cycle collector looks at its youngest objects every 700 allocations (net of frees).
# A page's extraction makes thousands of short-lived objects that free themselves (lxml's element
# proxies, trafilatura's copies of the container), so those collections find next to nothing,
# and every 100th rescans everything the crawl holds: 0.2 ms an article, about 6 % of a
# backfill's CPU. Every 10,000 allocations, and without what the crawl held when it opened, the
# collector costs a tenth of that.
YOUNG_COLLECTION_THRESHOLD = 10_000


class ArticleExtractor:
    """Parses article pages and counts what they lack, per source."""

    def __init__(self, crawler: Crawler, pool: ProcessPoolExecutor | None) -> None:
        self.crawler = crawler
        self.pool = pool

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        processes = crawler.settings.getint("NEU_EXTRACT_PROCESSES")
        extractor = cls(crawler, extraction_pool(processes) if processes > 0 else None)
        crawler.signals.connect(spare_the_collector, signal=signals.spider_opened)
        crawler.signals.connect(extractor.close, signal=signals.spider_closed)
        return extractor

    async def article(
        self,
        response: Response,
        html: str,
        source: Source,
        listed: ListedArticle,
        columns: list[str],
        recheck_of: str | None = None,
    ) -> FetchedArticle | None:
        """The item of an article page listed as *listed* in *columns* (a re-check of the known
        article *recheck_of*, if given); None if it is not one."""
        # After a redirect the page is at another URL; the listed one is the first of the chain.
        redirects: list[str] = response.meta.get("redirect_urls", [])
        identity = None if redirects else (listed.canonical, listed.id)
        record = await self.extract(html, response.url, source, columns, identity)
        if record is None:
            return None
        return FetchedArticle(
            record,
            etag=header(response, b"ETag"),
            last_modified=header(response, b"Last-Modified"),
            listed_as=(listed.id, redirects[0]) if redirects else None,
            recheck_of=recheck_of,
        )

    async def extract(
        self,
        html: str,
        url: str,
        source: Source,
        columns: Sequence[str] = (),
        identity: tuple[str, str] | None = None,
    ) -> ArticleRecord | None:
        """The record of the article on the page at *url*, its missing fields counted; None if
        it is not one. *identity*: its canonical URL and id, when known (else from *url*)."""
        record = await self._run(
            partial(
                record_of_page,
                html,
                url,
                source=source.name,
                language=source.language,
                columns=columns,
                cms=source.cms,
                crawled_at=utc_now(),
                identity=identity,
                profile=source.profile,
            )
        )
        if record is None:
            return None
        assert self.crawler.stats is not None
        if record["parser"] == GENERIC:  # no CMS content container on the page
            stats.count(self.crawler.stats, source.name, stats.NO_CONTAINER)
        fields: Mapping[str, object] = record
        for name in stats.COUNTED_FIELDS:
            if not fields[name]:
                stats.count(self.crawler.stats, source.name, stats.missing(name))
                logger.info("No %s found on %s", name, url)
        stats.count(self.crawler.stats, source.name, stats.ARTICLES)
        return record

    async def _run(self, job: Callable[[], ArticleRecord | None]) -> ArticleRecord | None:
        """*job* in a worker process when there are workers, else here."""
        if self.pool is not None:
            try:
                return await asyncio.wrap_future(self.pool.submit(job))
            except BrokenProcessPool:
                logger.error("Extraction workers are gone; extracting in the crawl's process")
                self.pool = None
        return job()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)


def spare_the_collector() -> None:
    """Collect cycles less often, and never look again at what exists now (modules, settings,
    the crawl's components): see ``YOUNG_COLLECTION_THRESHOLD``."""
    gc.freeze()
    _young, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, middle, oldest)


def extraction_pool(processes: int) -> ProcessPoolExecutor:
    """A pool of *processes* workers that die with the crawl, even when it is killed -9, and
    collect cycles as the crawl does."""
    return ProcessPoolExecutor(processes, initializer=_start_worker)


def _start_worker() -> None:
    spare_the_collector()
    # Ctrl-C reaches the whole process group; the crawl decides when its workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A worker outliving a killed crawl would hold its memory forever: let the kernel kill it.
    die_with_parent()


def header(response: Response, name: bytes) -> str | None:
    """A response header as text, or None when absent."""
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None
