"""The ``neu_news`` spider: columns' list pages to articles. Callbacks only route; the pages
are read by the pure functions of ``crawler.listing`` and ``crawler.parsers``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Self

import scrapy
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider, DownloadCancelledError
from scrapy.http import Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from crawler.config import crawl_config
from crawler.items import ArticleRecord, build_record
from crawler.listing import (
    ListPage,
    find_column_links,
    is_home_url,
    numbered_pages,
    parse_list,
)
from crawler.pages import decode_html
from crawler.parsers import ParsedArticle, parse_article
from crawler.pipelines import FeedPipeline
from crawler.selectors import MIN_DISCOVERED_LIST_LINKS
from crawler.sources import Source
from crawler.store import Store
from crawler.urls import canonical_url
from crawler.workers import extraction_pool

logger = logging.getLogger(__name__)

# Failures that say a page is not there (or never fits) rather than that the server struggles:
# they do not make the next run walk the whole column again.
PERMANENT_FAILURES = frozenset({"http_404", "http_410", "too_large"})


@dataclass
class Walk:
    """One column's walk through its list pages in this run."""

    key: str  # canonical URL of the first list page
    source: Source
    column: str | None
    full: bool  # every page (backfill, or the last walk did not finish)
    lookback: int  # list pages still allowed after the first all-known one
    pages: int = 0
    seen: set[str] = field(default_factory=set)
    failed: bool = False
    fetching: bool = False  # article requests queued: unfinished until they are all done
    enumerated: bool = False  # every page was requested from the pager's numbering at once


class NeuNewsSpider(scrapy.Spider):
    """Crawls in two phases: every list page first, then the articles they listed.

    Only when all lists are read is an article's set of columns known, so an article listed in
    two columns becomes one record naming both, whatever order the pages arrive in.
    """

    name = "neu_news"

    def __init__(self, mode: str | None = None, sources: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.mode_arg = mode
        self.sources_arg = sources
        self.sources: list[Source] = []
        self.mode = "incremental"
        self.hosts: frozenset[str] = frozenset()
        self.max_list_pages = 0
        self.lookback_pages = 0
        self.recheck_days = 0.0
        self.max_url_length = 0
        self.store: Store | None = None
        self.extract_pool: ProcessPoolExecutor | None = None
        # id -> labels of the columns listing it, in the order they were seen.
        self.columns_of: dict[str, list[str]] = {}
        # Article requests held back until the list phase is over.
        self.article_requests: list[scrapy.Request] = []
        self.walks: list[Walk] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider: Self = super().from_crawler(crawler, *args, **kwargs)
        config = crawl_config(crawler.settings, spider.mode_arg, spider.sources_arg)
        spider.sources = config.sources
        spider.mode = config.mode
        spider.hosts = frozenset().union(*(source.hosts for source in config.sources))
        spider.max_list_pages = crawler.settings.getint("NEU_MAX_LIST_PAGES")
        spider.lookback_pages = crawler.settings.getint("NEU_LOOKBACK_PAGES")
        spider.recheck_days = crawler.settings.getfloat("NEU_RECHECK_DAYS")
        # Article requests go straight to the engine, past UrlLengthMiddleware: check here.
        spider.max_url_length = crawler.settings.getint("URLLENGTH_LIMIT")
        crawler.signals.connect(spider.start_article_phase, signal=signals.spider_idle)
        crawler.signals.connect(spider.callback_failed, signal=signals.spider_error)
        processes = crawler.settings.getint("NEU_EXTRACT_PROCESSES")
        if processes > 0:
            spider.extract_pool = extraction_pool(processes)
            crawler.signals.connect(spider.close_extract_pool, signal=signals.spider_closed)
        return spider

    async def start(self) -> AsyncIterator[scrapy.Request]:
        pipeline = self.crawler.get_item_pipeline(FeedPipeline)
        self.store = pipeline.store if pipeline else None
        logger.info(
            "Crawling %d sources in %s mode: %s",
            len(self.sources),
            self.mode,
            ", ".join(source.name for source in self.sources),
        )
        for source in self.sources:
            for url in source.start_urls:
                if is_home_url(url):
                    yield scrapy.Request(
                        url,
                        callback=self.parse_home,
                        errback=self.home_failed,
                        cb_kwargs={"source": source},
                    )
                else:
                    yield self._list_request(url, self._new_walk(url, source, source.column))
        self.article_requests.extend(self._recheck_requests())

    def start_article_phase(self) -> None:
        """When no list page is left to read, fetch the articles they listed; when nothing is
        left at all, the walks that met no failure are finished."""
        if not self.article_requests:
            self._finish_walks()
            return
        requests, self.article_requests = self.article_requests, []
        logger.info("List pages done; fetching %d articles", len(requests))
        if self.store is not None:
            # The walks about to fetch are unfinished on disk before any of their articles is
            # known: a kill from here on makes the next run walk them in full again.
            self.store.flush()
        assert self.crawler.engine is not None
        for request in requests:
            self.crawler.engine.crawl(request)
        raise DontCloseSpider

    # -- callbacks -------------------------------------------------------------------------------

    def parse_home(self, response: Response, source: Source) -> Iterator[scrapy.Request]:
        """A site's home page: every same-site link that may be a column's list page."""
        html = self._html(response, source)
        if html is None:
            return
        for link in find_column_links(html, response.url):
            if source.allows(link.url):
                yield scrapy.Request(
                    link.url,
                    callback=self.parse_candidate_list,
                    errback=self.home_failed,
                    cb_kwargs={"source": source, "label": link.label},
                )

    def parse_candidate_list(
        self, response: Response, source: Source, label: str
    ) -> Iterator[scrapy.Request]:
        """A page linked from a home page: crawled as a column if it looks like a list."""
        html = self._html(response, source)
        page = parse_list(html, response.url) if html is not None else None
        if page is None or (not page.has_pager and len(page.articles) < MIN_DISCOVERED_LIST_LINKS):
            self._count(source, "skipped/not_a_list")
            return
        self._count(source, "columns_discovered")
        walk = self._new_walk(response.url, source, source.column or label)
        yield from self._follow_list(page, response.url, walk)

    def parse_list_page(self, response: Response, walk: Walk) -> Iterator[scrapy.Request]:
        html = self._html(response, walk.source)
        page = parse_list(html, response.url) if html is not None else None
        if page is None:
            self._count(walk.source, "skipped/unparsable_list")
            return
        yield from self._follow_list(page, response.url, walk)

    async def parse_article_page(
        self, response: Response, source: Source, article: str, walk: Walk | None
    ) -> AsyncIterator[ArticleRecord]:
        if response.status == 304:
            self._count(source, "recheck/not_modified")
            return
        html = self._html(response, source)
        parsed = (
            await self._parse_article(html, response.url, source.cms) if html is not None else None
        )
        if parsed is None:
            self._count(source, "skipped/unparsable_article")
            logger.warning("Not an article page (empty or not HTML): %s", response.url)
            return
        if not parsed.container_found:
            self._count(source, "extract/no_container")
        for name, value in (
            ("title", parsed.title),
            ("published", parsed.published),
            ("text", parsed.text),
        ):
            if not value:
                self._count(source, f"missing/{name}")
                logger.info("No %s found on %s", name, response.url)
        self._count(source, "articles")
        record = build_record(
            parsed,
            response.url,
            source=source.name,
            language=source.language,
            columns=self.columns_of.get(article, []),
        )
        if self.store is not None:
            etag, modified = _header(response, b"ETag"), _header(response, b"Last-Modified")
            # After a redirect the listed URL is the first of the chain.
            listed_url = response.meta.get("redirect_urls", [response.url])[0]
            self.store.note_fetch(record["id"], etag, modified, requested=(article, listed_url))
        yield record

    async def _parse_article(self, html: str, url: str, cms: str | None) -> ParsedArticle | None:
        if self.extract_pool is not None:
            try:
                future = self.extract_pool.submit(parse_article, html, url, cms)
                return await asyncio.wrap_future(future)
            except BrokenProcessPool:
                logger.error("Extraction workers are gone; extracting in the crawl's process")
                self.extract_pool = None
        return parse_article(html, url, cms=cms)

    def close_extract_pool(self) -> None:
        if self.extract_pool is not None:
            self.extract_pool.shutdown(cancel_futures=True)

    # -- errbacks: count every failure by reason; a transient one leaves the walk unfinished ----

    def list_failed(self, failure: Failure) -> None:
        walk: Walk = _failed_request(failure).cb_kwargs["walk"]
        self._failed(failure, walk.source, walk)

    def article_failed(self, failure: Failure) -> None:
        kwargs = _failed_request(failure).cb_kwargs
        self._failed(failure, kwargs["source"], kwargs["walk"])

    def callback_failed(self, failure: Failure, response: Response) -> None:
        """A callback raised: its page is not done, so neither is its column's walk."""
        kwargs = response.request.cb_kwargs if response.request else {}
        walk: Walk | None = kwargs.get("walk")
        source: Source | None = kwargs.get("source") or (walk.source if walk else None)
        if source is not None:
            self._count(source, f"failed/callback_{type(failure.value).__name__}")
        if walk is not None:
            walk.failed = True
            if self.store is not None:
                self.store.set_walk_complete(walk.key, False)

    def home_failed(self, failure: Failure) -> None:
        self._failed(failure, _failed_request(failure).cb_kwargs["source"], None)

    def _failed(self, failure: Failure, source: Source, walk: Walk | None) -> None:
        reason = _failure_reason(failure.value)
        self._count(source, f"failed/{reason}")
        logger.warning("Failed (%s): %s", reason, _failed_request(failure).url)
        if walk is not None and reason not in PERMANENT_FAILURES:
            walk.failed = True
            if self.store is not None:
                self.store.set_walk_complete(walk.key, False)

    # -- helpers ---------------------------------------------------------------------------------

    def _new_walk(self, url: str, source: Source, column: str | None) -> Walk:
        key = canonical_url(url)
        finished_before = self.store is not None and self.store.walk_complete(key)
        walk = Walk(
            key=key,
            source=source,
            column=column,
            full=self.mode == "backfill" or not finished_before,
            lookback=self.lookback_pages,
        )
        self.walks.append(walk)
        return walk

    def _list_request(self, url: str, walk: Walk) -> scrapy.Request:
        return scrapy.Request(
            url, callback=self.parse_list_page, errback=self.list_failed, cb_kwargs={"walk": walk}
        )

    def _follow_list(self, page: ListPage, url: str, walk: Walk) -> Iterator[scrapy.Request]:
        source = walk.source
        walk.pages += 1
        walk.seen.add(canonical_url(url))
        walk.column = walk.column or page.title
        self._count(source, "list_pages")
        self._count(source, "article_links", len(page.articles))
        if not page.articles:
            logger.warning("No article links on list page %s", url)
        for listed in page.articles:
            if len(listed.url) > self.max_url_length:
                self._count(source, "skipped/url_too_long")
                continue
            article = listed.id
            columns = self.columns_of.setdefault(article, [])
            first_sight = not columns
            if walk.column and walk.column not in columns:
                columns.append(walk.column)
            if self.store is not None and self.store.is_known(article):
                if walk.column:
                    self.store.add_columns(article, [walk.column])
                self._count(source, "skipped/known")
            elif not first_sight:
                self._count(source, "skipped/listed_again")
            else:
                self._mark_fetching(walk)
                self.article_requests.append(
                    scrapy.Request(
                        listed.url,
                        callback=self.parse_article_page,
                        errback=self.article_failed,
                        cb_kwargs={"source": source, "article": article, "walk": walk},
                    )
                )
        if not page.articles or (
            self.store is not None and self.store.is_known(page.articles[-1].id)
        ):
            # Lists run newest first: once the oldest article of a page is known, the pages
            # after it hold nothing new (past the lookback pages). Pinned items sit on top.
            walk.lookback -= 1
        for next_url in self._next_list_urls(page, walk):
            yield self._list_request(next_url, walk)

    def _mark_fetching(self, walk: Walk) -> None:
        if not walk.fetching and self.store is not None:
            self.store.set_walk_complete(walk.key, False)
        walk.fetching = True

    def _finish_walks(self) -> None:
        if self.store is None:
            return
        for walk in self.walks:
            if not walk.failed:
                self.store.set_walk_complete(walk.key, True)

    def _next_list_urls(self, page: ListPage, walk: Walk) -> list[str]:
        """The list pages to request after this one: the next, or in a full walk every page
        the pager numbers (fetched side by side rather than one after another)."""
        if not page.next_url or walk.enumerated or not (walk.full or walk.lookback >= 0):
            return []
        if canonical_url(page.next_url) in walk.seen:
            self._count(walk.source, "skipped/pager_loop")
            return []
        limit = min(walk.source.max_pages or self.max_list_pages, self.max_list_pages)
        room = limit - walk.pages
        numbered = (
            numbered_pages(page.next_url, page.last_url) if walk.full and page.last_url else []
        )
        walk.enumerated = bool(numbered)
        urls = numbered or [page.next_url]
        if len(urls) > room:
            self._count(walk.source, "skipped/page_limit")
            logger.warning("Stopping %s at %d list pages (page limit)", walk.key, limit)
        return urls[: max(room, 0)]

    def _recheck_requests(self) -> Iterator[scrapy.Request]:
        """Conditional requests for recently first-seen articles, to catch their edits."""
        if self.store is None or self.recheck_days <= 0:
            return
        since = datetime.now(UTC) - timedelta(days=self.recheck_days)
        sources = {source.name: source for source in self.sources}
        for known in self.store.recheck_candidates(since.replace(microsecond=0).isoformat()):
            source = sources.get(known.source)
            if source is None:
                continue
            self.columns_of[known.id] = list(known.columns)
            headers = {}
            if known.etag:
                headers["If-None-Match"] = known.etag
            if known.last_modified:
                headers["If-Modified-Since"] = known.last_modified
            self._count(source, "recheck/requests")
            yield scrapy.Request(
                known.url,
                callback=self.parse_article_page,
                errback=self.article_failed,
                cb_kwargs={"source": source, "article": known.id, "walk": None},
                headers=headers,
                meta={"handle_httpstatus_list": [304]},
                dont_filter=True,
            )

    def _html(self, response: Response, source: Source) -> str | None:
        """The page's HTML, decoded with the encoding its bytes fit; None if it is not HTML."""
        if isinstance(response, TextResponse):
            return decode_html(response.body, _header(response, b"Content-Type"))
        self._count(source, "skipped/not_html")
        logger.warning("Not an HTML page: %s", response.url)
        return None

    def _count(self, source: Source, key: str, count: int = 1) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(f"neu/{key}", count)
        self.crawler.stats.inc_value(f"neu/source/{source.name}/{key}", count)


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


def _failed_request(failure: Failure) -> scrapy.Request:
    """The request an errback's failure is about (Scrapy attaches it to the failure)."""
    request: scrapy.Request = failure.request  # type: ignore[attr-defined]
    return request


def _failure_reason(error: BaseException | None) -> str:
    """A short reason for a failed request: ``http_503``, ``too_large``, ``TimeoutError``…"""
    if isinstance(error, HttpError):
        return f"http_{error.response.status}"
    if isinstance(error, DownloadCancelledError) and "max size" in str(error):
        return "too_large"
    return type(error).__name__
