"""The ``neu_news`` spider: columns' list pages to articles. Callbacks only route; the pages
are read by the pure functions of ``crawler.listing`` and ``crawler.parsers``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Self

import scrapy
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider
from scrapy.http import Response, TextResponse

from crawler.config import crawl_config
from crawler.items import ArticleRecord, build_record
from crawler.listing import ListPage, find_column_links, is_home_url, parse_list
from crawler.parsers import parse_article
from crawler.pipelines import FeedPipeline
from crawler.selectors import MIN_DISCOVERED_LIST_LINKS
from crawler.sources import Source
from crawler.store import Store
from crawler.urls import article_id

logger = logging.getLogger(__name__)


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
        self.store: Store | None = None
        # id -> labels of the columns listing it, in the order they were seen.
        self.columns_of: dict[str, list[str]] = {}
        # Article requests held back until the list phase is over.
        self.article_requests: list[scrapy.Request] = []

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
        crawler.signals.connect(spider.start_article_phase, signal=signals.spider_idle)
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
                callback = self.parse_home if is_home_url(url) else self.parse_list_page
                yield scrapy.Request(
                    url,
                    callback=callback,
                    cb_kwargs={"source": source, "column": source.column},
                )
        self.article_requests.extend(self._recheck_requests())

    def start_article_phase(self) -> None:
        """When no list page is left to read, fetch the articles they listed."""
        if not self.article_requests:
            return
        requests, self.article_requests = self.article_requests, []
        logger.info("List pages done; fetching %d articles", len(requests))
        assert self.crawler.engine is not None
        for request in requests:
            self.crawler.engine.crawl(request)
        raise DontCloseSpider

    # -- callbacks -------------------------------------------------------------------------------

    def parse_home(self, response: Response, source: Source, column: str | None) -> Iterator[Any]:
        """A site's home page: every same-site link that may be a column's list page."""
        if not self._is_html(response, source):
            return
        for link in find_column_links(response.text, response.url):
            if source.allows(link.url):
                yield response.follow(
                    link.url,
                    callback=self.parse_candidate_list,
                    cb_kwargs={"source": source, "column": source.column or link.label},
                )

    def parse_candidate_list(
        self, response: Response, source: Source, column: str | None
    ) -> Iterator[Any]:
        """A page linked from a home page: crawled as a column if it looks like a list."""
        if not self._is_html(response, source):
            return
        page = parse_list(response.text, response.url)
        if not page.has_pager and len(page.articles) < MIN_DISCOVERED_LIST_LINKS:
            self._count(source, "skipped/not_a_list")
            return
        self._count(source, "columns_discovered")
        yield from self._follow_list(
            page, response, source, column or page.title, 1, self.lookback_pages
        )

    def parse_list_page(
        self,
        response: Response,
        source: Source,
        column: str | None,
        page_number: int = 1,
        lookback: int | None = None,
    ) -> Iterator[Any]:
        if not self._is_html(response, source):
            return
        page = parse_list(response.text, response.url)
        yield from self._follow_list(
            page,
            response,
            source,
            column or page.title,
            page_number,
            self.lookback_pages if lookback is None else lookback,
        )

    def parse_article_page(
        self, response: Response, source: Source, article: str
    ) -> Iterator[ArticleRecord]:
        if response.status == 304:
            self._count(source, "recheck/not_modified")
            return
        if not self._is_html(response, source):
            return
        if self.store is not None:
            self.store.note_validators(
                article, _header(response, b"ETag"), _header(response, b"Last-Modified")
            )
        parsed = parse_article(response.text, response.url, cms=source.cms)
        if not parsed.container_found:
            self._count(source, "extract/fallback_whole_page")
        for name, value in (
            ("title", parsed.title),
            ("published", parsed.published),
            ("text", parsed.text),
        ):
            if not value:
                self._count(source, f"missing/{name}")
                logger.info("No %s found on %s", name, response.url)
        self._count(source, "articles")
        yield build_record(
            parsed,
            response.url,
            source=source.name,
            language=source.language,
            columns=self.columns_of.get(article, []),
        )

    # -- helpers ---------------------------------------------------------------------------------

    def _follow_list(
        self,
        page: ListPage,
        response: Response,
        source: Source,
        column: str | None,
        page_number: int,
        lookback: int,
    ) -> Iterator[scrapy.Request]:
        self._count(source, "list_pages")
        self._count(source, "article_links", len(page.articles))
        if not page.articles:
            logger.warning("No article links on list page %s", response.url)
        known = 0
        for listed in page.articles:
            article = article_id(listed.url)
            columns = self.columns_of.setdefault(article, [])
            first_sight = not columns
            if column and column not in columns:
                columns.append(column)
            if self.store is not None and self.store.is_known(article):
                known += 1
                if column:
                    self.store.add_columns(article, [column])
                self._count(source, "skipped/known")
                continue
            if not first_sight:
                self._count(source, "skipped/listed_again")
                continue
            self.article_requests.append(
                scrapy.Request(
                    listed.url,
                    callback=self.parse_article_page,
                    cb_kwargs={"source": source, "article": article},
                )
            )
        # Pages after the first all-known one are older still: only lookback pages remain.
        lookback = lookback if known < len(page.articles) else lookback - 1
        if page.next_url and self._wants_next_page(source, page_number, lookback):
            yield scrapy.Request(
                page.next_url,
                callback=self.parse_list_page,
                cb_kwargs={
                    "source": source,
                    "column": column,
                    "page_number": page_number + 1,
                    "lookback": lookback,
                },
            )

    def _wants_next_page(self, source: Source, page_number: int, lookback: int) -> bool:
        limit = min(source.max_pages or self.max_list_pages, self.max_list_pages)
        if page_number >= limit:
            self._count(source, "skipped/page_limit")
            return False
        return self.mode == "backfill" or lookback >= 0

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
                cb_kwargs={"source": source, "article": known.id},
                headers=headers,
                meta={"handle_httpstatus_list": [304]},
                dont_filter=True,
            )

    def _is_html(self, response: Response, source: Source) -> bool:
        if isinstance(response, TextResponse):
            return True
        self._count(source, "skipped/not_html")
        logger.warning("Not an HTML page: %s", response.url)
        return False

    def _count(self, source: Source, key: str, count: int = 1) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(f"neu/{key}", count)
        self.crawler.stats.inc_value(f"neu/source/{source.name}/{key}", count)


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None
