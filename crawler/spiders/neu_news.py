"""The ``neu_news`` spider: columns' list pages to articles. Callbacks only route; the pages
are read by the pure functions of ``crawler.listing`` and ``crawler.parsers``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any, Self

import scrapy
from scrapy.crawler import Crawler
from scrapy.http import Response, TextResponse

from crawler.config import crawl_config
from crawler.items import ArticleRecord, build_record
from crawler.listing import ListPage, find_column_links, is_home_url, parse_list
from crawler.parsers import parse_article
from crawler.selectors import MIN_DISCOVERED_LIST_LINKS
from crawler.sources import Source
from crawler.urls import article_id

logger = logging.getLogger(__name__)

# List pages before articles: every column's listing is known before its articles are fetched,
# so an article listed in two columns is fetched once, knowing both.
LIST_PRIORITY = 10
ARTICLE_PRIORITY = 0


class NeuNewsSpider(scrapy.Spider):
    name = "neu_news"

    def __init__(self, mode: str | None = None, sources: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.mode_arg = mode
        self.sources_arg = sources
        self.sources: list[Source] = []
        self.mode = "incremental"
        self.hosts: frozenset[str] = frozenset()
        self.max_list_pages = 0
        # id -> labels of the columns listing it, in the order they were seen.
        self.columns_of: dict[str, list[str]] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider: Self = super().from_crawler(crawler, *args, **kwargs)
        config = crawl_config(crawler.settings, spider.mode_arg, spider.sources_arg)
        spider.sources = config.sources
        spider.mode = config.mode
        spider.hosts = frozenset().union(*(source.hosts for source in config.sources))
        spider.max_list_pages = crawler.settings.getint("NEU_MAX_LIST_PAGES")
        return spider

    async def start(self) -> AsyncIterator[scrapy.Request]:
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
                    priority=LIST_PRIORITY,
                )

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
                    priority=LIST_PRIORITY,
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
        yield from self._follow_list(page, response, source, column or page.title, 1)

    def parse_list_page(
        self, response: Response, source: Source, column: str | None, page_number: int = 1
    ) -> Iterator[Any]:
        if not self._is_html(response, source):
            return
        page = parse_list(response.text, response.url)
        yield from self._follow_list(page, response, source, column or page.title, page_number)

    def parse_article_page(
        self, response: Response, source: Source, article: str
    ) -> Iterator[ArticleRecord]:
        if not self._is_html(response, source):
            return
        parsed = parse_article(response.text, response.url, cms=source.cms)
        if not parsed.container_found:
            self._count(source, "extract/fallback_whole_page")
        for name, value in (("title", parsed.title), ("published", parsed.published),
                            ("text", parsed.text)):  # fmt: skip
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
    ) -> Iterator[scrapy.Request]:
        self._count(source, "list_pages")
        self._count(source, "article_links", len(page.articles))
        if not page.articles:
            logger.warning("No article links on list page %s", response.url)
        for listed in page.articles:
            article = article_id(listed.url)
            columns = self.columns_of.setdefault(article, [])
            first_sight = not columns
            if column and column not in columns:
                columns.append(column)
            if not first_sight:
                self._count(source, "skipped/listed_again")
                continue
            yield scrapy.Request(
                listed.url,
                callback=self.parse_article_page,
                cb_kwargs={"source": source, "article": article},
                priority=ARTICLE_PRIORITY,
            )
        if page.next_url and self._wants_next_page(source, page_number):
            yield scrapy.Request(
                page.next_url,
                callback=self.parse_list_page,
                cb_kwargs={"source": source, "column": column, "page_number": page_number + 1},
                priority=LIST_PRIORITY,
            )

    def _wants_next_page(self, source: Source, page_number: int) -> bool:
        limit = min(source.max_pages or self.max_list_pages, self.max_list_pages)
        if page_number >= limit:
            self._count(source, "skipped/page_limit")
            return False
        return self.mode == "backfill"

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
