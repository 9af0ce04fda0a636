"""The ``neu_news`` spider: columns' list pages to articles. Callbacks only route: pages are read
by ``crawler.extract``, the walk policy is ``crawler.walks``, articles are filed by the feed
pipeline, which owns the data directory."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from itertools import islice
from typing import Any, Self
from urllib.parse import urlsplit

import scrapy
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider
from scrapy.http import Response, TextResponse
from scrapy.settings import SETTINGS_PRIORITIES, Settings
from twisted.python.failure import Failure

from crawler import stats
from crawler.config import crawl_config
from crawler.extract.columns import find_column
from crawler.extract.decoding import decode_html
from crawler.extract.listing import (
    ListedArticle,
    ListPage,
    find_column_links,
    is_home_url,
    parse_list,
)
from crawler.extraction import ArticleExtractor, header
from crawler.failures import failed_request, failure_reason, is_gone, is_permanent
from crawler.items import FetchedArticle
from crawler.outcome import FINISHED
from crawler.pipelines import FeedPipeline
from crawler.rechecks import Schedule
from crawler.sources import Source
from crawler.store.datadir import Recheck
from crawler.store.filing import CrawlStore
from crawler.walks import Fetch, Walk, Walks, is_column, source_of

logger = logging.getLogger(__name__)

# Re-check requests handed to the engine at a time: all the known articles of a
# `-a recheck=all` run become requests a batch at a time, not all at once.
RECHECK_BATCH = 1000
# What a conditional request lets through to its callback besides 2xx.
NOT_MODIFIED_META = {"handle_httpstatus_list": [304]}


class NeuNewsSpider(scrapy.Spider):
    """Crawls in two phases per group of sources that may share articles (``host_groups``):
    every list page of the group first, then the articles they listed.

    Only when the group's lists are all read is an article's set of columns known, so an
    article listed in two columns becomes one record naming both, the source and column of its
    record and the order of its columns by the sources file, whatever order the pages arrive
    in. Groups do not wait for each other: many sites crawl side by side.
    """

    name = "neu_news"
    walks: Walks
    extractor: ArticleExtractor
    max_page_tags: int

    def __init__(
        self,
        mode: str | None = None,
        sources: str | None = None,
        recheck: str | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.mode_arg = mode
        self.sources_arg = sources
        self.recheck_arg = recheck
        self.sources: list[Source] = []
        self.mode = "incremental"
        self.hosts: frozenset[str] = frozenset()
        self.schedule = Schedule((), 0)
        self.recheck_all = False
        # Known articles to fetch again (conditionally) to catch edits, sent with the articles.
        self.rechecks: Iterator[Recheck] = iter(())
        # (source, reason) of each home page start URL that failed, and of each page one links
        # that was a column at its last walk and failed: no walk stands for them.
        self.unreached_pages: list[tuple[str, str]] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider: Self = super().from_crawler(crawler, *args, **kwargs)
        config = crawl_config(
            crawler.settings, spider.mode_arg, spider.sources_arg, spider.recheck_arg
        )
        spider.sources = config.sources
        spider.mode = config.mode
        spider.schedule = config.rechecks
        spider.recheck_all = config.recheck_all
        spider.hosts = frozenset().union(*(source.hosts for source in config.sources))
        size_concurrency(crawler.settings, config.sources)
        spider.extractor = ArticleExtractor.from_crawler(crawler)
        spider.max_page_tags = crawler.settings.getint("NEU_MAX_PAGE_TAGS")
        crawler.signals.connect(spider.start_article_phase, signal=signals.spider_idle)
        crawler.signals.connect(spider.callback_failed, signal=signals.spider_error)
        crawler.signals.connect(spider.request_dropped, signal=signals.request_dropped)
        # Connected before the extensions are built: counted before the stats file is written.
        crawler.signals.connect(spider.count_unreached, signal=signals.spider_closed)
        return spider

    @property
    def store(self) -> CrawlStore:
        return FeedPipeline.of(self.crawler).store

    async def start(self) -> AsyncIterator[scrapy.Request]:
        settings = self.crawler.settings
        self.walks = Walks(
            self.store,
            self._count,
            backfill=self.mode == "backfill",
            lookback_pages=settings.getint("NEU_LOOKBACK_PAGES"),
            max_list_pages=settings.getint("NEU_MAX_LIST_PAGES"),
            max_links_per_page=settings.getint("NEU_MAX_LINKS_PER_PAGE"),
            max_articles=settings.getint("NEU_MAX_ARTICLES_PER_RUN"),
            # Article requests go straight to the engine (when their group's last list request
            # is done, or at the idle signal), past the spider middlewares, so
            # UrlLengthMiddleware never sees them.
            max_url_length=settings.getint("URLLENGTH_LIMIT"),
            sources=self.sources,
        )
        names = ", ".join(source.name for source in self.sources)
        logger.info("Crawling %d sources in %s mode: %s", len(self.sources), self.mode, names)
        # Every start request is counted before the first is sent: a group whose first page
        # is read before its second is asked for would fetch its articles too soon.
        starts = [
            self._start_request(source, url) for source in self.sources for url in source.start_urls
        ]
        for request in starts:
            yield request
        rechecks = self._rechecks()
        self.walks.recheck(rechecks)
        self.rechecks = iter(rechecks)

    def _start_request(self, source: Source, url: str) -> scrapy.Request:
        if not is_home_url(url):
            return self._list_request(self.walks.start_configured(url, source))
        self.walks.reading(source)
        return scrapy.Request(
            url, callback=self.parse_home, errback=self.request_failed, cb_kwargs={"source": source}
        )

    def _rechecks(self) -> list[Recheck]:
        """The known articles this run fetches again: every one with ``-a recheck=all``, else
        those due on the schedule, within its budget (the rest counted, left for later)."""
        names = frozenset(source.name for source in self.sources)
        if self.recheck_all:
            rechecks = self.store.known_articles(names)
        else:
            candidates = self.store.recheck_candidates(names, self.schedule.last_step)
            rechecks, left = self.schedule.pick(candidates, int(time.time()))
            for recheck in left:
                self._count(recheck.source, stats.RECHECK_DEFERRED)
            if left:
                logger.info("Re-check budget reached: %d due re-checks left for later", len(left))
        for recheck in rechecks:
            self._count(recheck.source, stats.RECHECK_REQUESTS)
        return rechecks

    def start_article_phase(self) -> None:
        """When nothing is left to download, fetch the next re-checks and any article still
        held back (a group whose list request was dropped unseen, by a spider middleware);
        when nothing is left at all, the walks that met no failure are finished."""
        requests = [
            *self._recheck_requests(),
            *(self._fetch_request(fetch) for fetch in self.walks.take_pending()),
        ]
        if not requests:
            self.walks.finish()
            return
        logger.info("List pages done; fetching %d articles and re-checks", len(requests))
        self._crawl(requests)
        raise DontCloseSpider

    def request_dropped(self, request: scrapy.Request) -> None:
        """The scheduler dropped a request (a duplicate): a list phase's is done."""
        source = source_of(request.cb_kwargs)
        if source is not None and self._in_list_phase(request):
            self._fetch_group(self.walks.read_done(source))

    @contextmanager
    def _reading(self, source: Source) -> Iterator[None]:
        """Around a list phase's callback or errback: once it is done, its group's articles
        when it was the last the group waited for."""
        try:
            yield
        finally:
            self._fetch_group(self.walks.read_done(source))

    def _fetch_group(self, fetches: list[Fetch]) -> None:
        if fetches:
            sources = sorted({fetch.walk.source.name for fetch in fetches})
            logger.info(
                "List pages of %s done; fetching %d articles", ", ".join(sources), len(fetches)
            )
            self._crawl(self._fetch_request(fetch) for fetch in fetches)

    def _crawl(self, requests: Iterable[scrapy.Request]) -> None:
        assert self.crawler.engine is not None
        for request in requests:
            # Straight to the engine, past the spider middlewares: see max_url_length above.
            self.crawler.engine.crawl(request)

    def _in_list_phase(self, request: scrapy.Request) -> bool:
        return request.callback in (
            self.parse_home,
            self.parse_candidate_list,
            self.parse_list_page,
            self.parse_search_home,
        )

    # -- callbacks -------------------------------------------------------------------------------

    def parse_home(self, response: Response, source: Source) -> Iterator[scrapy.Request]:
        """A site's home page: every same-site link that may be a column's list page."""
        with self._reading(source):
            html = self._html(response, source)
            for link in find_column_links(html, response.url) if html is not None else []:
                if source.allows(link.url):
                    headers = self.walks.candidate_headers(link.url)
                    self.walks.reading(source)
                    yield scrapy.Request(
                        link.url,
                        callback=self.parse_candidate_list,
                        errback=self.request_failed,
                        cb_kwargs={"source": source, "label": link.label},
                        headers=headers,
                        meta=NOT_MODIFIED_META if headers else None,
                    )

    def parse_candidate_list(
        self, response: Response, source: Source, label: str
    ) -> Iterator[scrapy.Request]:
        """A page linked from a home page: crawled as a column if it looks like a list. A 304
        says it is as it was: no list, or a column walked to its end, unchanged."""
        with self._reading(source):
            if response.status == 304:
                if self.walks.was_not_a_list(response.url):
                    self.walks.not_a_list(source, response.url, None)
                else:
                    self.walks.not_modified(self._discovered(response.url, source, label))
                return
            page = self._list_page(response, source)
            if page is None or not is_column(page):
                self.walks.not_a_list(source, response.url, _validators(response))
                return
            walk = self._discovered(response.url, source, label)
            self.walks.arrived(walk, len(response.body), _validators(response))
            for url in self.walks.read(walk, page, response.url):
                yield self._list_request(walk, url)

    def _discovered(self, url: str, source: Source, label: str) -> Walk:
        self._count(source.name, stats.COLUMNS_DISCOVERED)
        return self.walks.start(url, source, source.column or label)

    def parse_list_page(self, response: Response, walk: Walk) -> Iterator[scrapy.Request]:
        with self._reading(walk.source):
            if response.status == 304:
                self.walks.not_modified(walk)
                return
            self.walks.arrived(walk, len(response.body), _validators(response))
            page = self._list_page(response, walk.source)
            if page is None:
                self.walks.unreadable(walk)
                return
            lost = not page.articles and self.walks.may_search(walk)
            next_pages = self.walks.read(walk, page, response.url)
            if lost:
                # A shell of the old column: its pager, if any, is not the column's.
                yield self._search_request(walk)
                return
            for url in next_pages:
                yield self._list_request(walk, url)

    def parse_search_home(self, response: Response, walk: Walk) -> Iterator[scrapy.Request]:
        """The home page of a column whose list page is gone: the link with its label is
        walked in its place."""
        with self._reading(walk.source):
            html = self._html(response, walk.source)
            assert walk.column is not None  # only labelled columns are searched
            found = find_column(html, response.url, walk.column) if html is not None else None
            moved = self.walks.relocate(walk, found)
            if moved is not None:
                yield self._list_request(moved, dont_filter=True)

    async def parse_article_page(
        self,
        response: Response,
        source: Source,
        listed: ListedArticle,
        walk: Walk | None,
        recheck: bool = False,
    ) -> AsyncIterator[FetchedArticle]:
        """An article page; for a re-check, its answer makes the steps due so far done (a
        page filed as a record, by the feed pipeline, once its line is written)."""
        if response.status == 304:
            self._count(source.name, stats.RECHECK_NOT_MODIFIED)
            if recheck:
                self.store.set_rechecked(listed.id)
            return
        html = self._html(response, source)
        columns = self.walks.columns(listed.id)
        recheck_of = listed.id if recheck else None
        article = (
            await self.extractor.article(response, html, source, listed, columns, recheck_of)
            if html is not None
            else None
        )
        if article is None:
            self._count(source.name, stats.skipped("unparsable_article"))
            logger.warning("Not an article page (empty or not HTML): %s", response.url)
            if recheck:
                self.store.set_rechecked(listed.id)
            return
        yield article

    # -- errbacks: count every failure by reason; a transient one leaves the walk unfinished ----

    def request_failed(self, failure: Failure) -> Iterator[scrapy.Request]:
        request = failed_request(failure)
        source, walk = _source_and_walk(request.cb_kwargs)
        done: AbstractContextManager[None] = (
            self._reading(source) if self._in_list_phase(request) else nullcontext()
        )
        with done:
            yield from self._failed(request, failure, source, walk)

    def _failed(
        self, request: scrapy.Request, failure: Failure, source: Source, walk: Walk | None
    ) -> Iterator[scrapy.Request]:
        reason = failure_reason(failure.value)
        self._count(source.name, stats.failed(reason))
        if request.cb_kwargs.get("recheck") and is_permanent(reason):
            # Asked again, it fails again: its steps due so far are done (later ones stay).
            self._count(source.name, stats.RECHECK_GONE)
            self.store.set_rechecked(request.cb_kwargs["listed"].id)
        if walk is not None:
            self.walks.note_failure(walk, reason)
        elif request.callback == self.parse_home or (
            request.callback == self.parse_candidate_list and self.walks.was_column(request.url)
        ):
            self.unreached_pages.append((source.name, reason))
        if walk is not None and is_gone(reason) and self.walks.may_search(walk):
            logger.info("Gone (%s): %s; looking for column %r", reason, request.url, walk.column)
            yield self._search_request(walk)
            return
        logger.warning("Failed (%s): %s", reason, request.url)
        if walk is None:
            return
        if not is_permanent(reason):
            self.walks.fail(walk)
        elif request.callback == self.parse_article_page:
            self.walks.article_gone(walk)
        else:
            self.walks.search_failed(walk)

    def count_unreached(self, reason: str) -> None:
        """At the end of the run (its finish *reason*): each column whose first list page never
        answered, each home page that failed and each known column it links that failed,
        counted by the reason of its last failure; in a crawl that did not finish, a column
        still waiting is ``crawl_stopped``, so that a cut-short run does not show its source
        healthy."""
        stopped = reason != FINISHED
        for source, why in [*self.walks.unreached(stopped), *self.unreached_pages]:
            self._count(source, stats.unreached(why))

    def callback_failed(self, failure: Failure, response: Response | None) -> None:
        """A callback raised: its page is not done, so neither is its column's walk. (Scrapy
        sends no response when ``start`` itself raised: then there is no walk to fail.)"""
        if response is None or response.request is None or not response.request.cb_kwargs:
            return
        source, walk = _source_and_walk(response.request.cb_kwargs)
        self._count(source.name, stats.failed(f"callback_{type(failure.value).__name__}"))
        if walk is not None:
            self.walks.fail(walk)

    # -- requests --------------------------------------------------------------------------------

    def _list_request(
        self, walk: Walk, url: str | None = None, *, dont_filter: bool = False
    ) -> scrapy.Request:
        """A list page of *walk* (its first page without *url*, conditional when the walk is
        incremental)."""
        headers = self.walks.conditional_headers(walk) if url is None else {}
        self.walks.reading(walk.source)
        return scrapy.Request(
            url or walk.url,
            callback=self.parse_list_page,
            errback=self.request_failed,
            cb_kwargs={"walk": walk},
            dont_filter=dont_filter,
            headers=headers,
            meta=NOT_MODIFIED_META if headers else None,
        )

    def _search_request(self, walk: Walk) -> scrapy.Request:
        """The home page of *walk*'s site, to find its column by its label. Never filtered as a
        duplicate: other columns of the site may be looked for in the same run."""
        self.walks.reading(walk.source)
        return scrapy.Request(
            self.walks.search(walk),
            callback=self.parse_search_home,
            errback=self.request_failed,
            cb_kwargs={"walk": walk},
            dont_filter=True,
        )

    def _article_request(
        self,
        source: Source,
        listed: ListedArticle,
        walk: Walk | None,
        *,
        recheck: bool = False,
        **options: Any,
    ) -> scrapy.Request:
        cb_kwargs: dict[str, Any] = {"source": source, "listed": listed, "walk": walk}
        if recheck:
            cb_kwargs["recheck"] = True
        return scrapy.Request(
            listed.url,
            callback=self.parse_article_page,
            errback=self.request_failed,
            cb_kwargs=cb_kwargs,
            **options,
        )

    def _fetch_request(self, fetch: Fetch) -> scrapy.Request:
        return self._article_request(fetch.walk.source, fetch.article, fetch.walk)

    def _recheck_requests(self) -> Iterator[scrapy.Request]:
        """Conditional requests for the next batch of re-checks."""
        by_name = {source.name: source for source in self.sources}
        for recheck in islice(self.rechecks, RECHECK_BATCH):
            listed = ListedArticle(recheck.url, recheck.url, recheck.id)
            yield self._article_request(
                by_name[recheck.source],
                listed,
                None,
                recheck=True,
                headers=recheck.headers,
                meta=NOT_MODIFIED_META,
                dont_filter=True,
            )

    def _html(self, response: Response, source: Source) -> str | None:
        """The page's HTML, decoded with the encoding its bytes fit; None if it is not HTML,
        or has more tags than a page's tree may cost."""
        if not isinstance(response, TextResponse):
            self._count(source.name, stats.skipped("not_html"))
            logger.warning("Not an HTML page: %s", response.url)
            return None
        # Every tag opens with "<": counted in the bytes before any tree is built.
        tags = response.body.count(b"<")
        if tags > self.max_page_tags:
            self._count(source.name, stats.TOO_MANY_TAGS)
            logger.warning(
                "Not parsing %s: up to %d tags, over the limit of %d",
                response.url,
                tags,
                self.max_page_tags,
            )
            return None
        return decode_html(response.body, header(response, b"Content-Type"))

    def _list_page(self, response: Response, source: Source) -> ListPage | None:
        """The list page as *source* reads it (its profile, its hosts), off-site links counted."""
        html = self._html(response, source)
        page = parse_list(html, response.url, source.profile, source.hosts) if html else None
        if page is not None and page.offsite:
            self._count(source.name, stats.skipped("offsite_link"), page.offsite)
            logger.debug(
                "%d article links off %s's hosts on %s", page.offsite, source.name, response.url
            )
        return page

    def _count(self, source: str, key: str, amount: int = 1) -> None:
        assert self.crawler.stats is not None
        stats.count(self.crawler.stats, source, key, amount)


def size_concurrency(settings: Settings, sources: list[Source]) -> None:
    """Unless set, ``CONCURRENT_REQUESTS`` is what many hosts crawled side by side need: every
    start request may wait for its host's robots.txt, and every host's downloader slot may
    transfer ``CONCURRENT_REQUESTS_PER_DOMAIN`` at once. Scrapy counts requests waiting out
    their slot's delay against this limit, so its 16 kept all but a few sites idle (100 sites
    took 1.6 times as long as the busiest one needs); more than this would only move requests
    from the scheduler's queue, where they are handed out slot by slot, into the slots'."""
    if settings.getpriority("CONCURRENT_REQUESTS") != SETTINGS_PRIORITIES["default"]:
        return
    hosts = {urlsplit(url).hostname for source in sources for url in source.start_urls}
    starts = sum(len(source.start_urls) for source in sources)
    needed = starts + len(hosts) * settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN")
    if needed > settings.getint("CONCURRENT_REQUESTS"):
        settings.set("CONCURRENT_REQUESTS", needed, priority="spider")


def _validators(response: Response) -> tuple[str | None, str | None]:
    """The (ETag, Last-Modified) a response carried."""
    return header(response, b"ETag"), header(response, b"Last-Modified")


def _source_and_walk(cb_kwargs: dict[str, Any]) -> tuple[Source, Walk | None]:
    """The source and (for list and listed article pages) the walk a request was made for."""
    source = source_of(cb_kwargs)
    assert source is not None  # every request the spider makes names its source
    walk: Walk | None = cb_kwargs.get("walk")
    return source, walk
