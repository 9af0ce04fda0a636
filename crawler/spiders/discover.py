"""The ``discover`` spider: a university portal's sub-sites, each surveyed for news columns.

``neu-news discover`` (crawler.cli.discover) runs it and writes the sources file from
``spider.sites``. Each sub-site of the portal's registrable domain gets its home page read
(CMS, language, links) and its list-page links checked the way the ``neu_news`` spider checks
them when it starts at a home page (``find_column_links``, ``parse_list``, ``is_column``), so
the columns found are the ones a crawl will walk. At most ``NEU_DISCOVER_MAX_REQUESTS``
requests go to one sub-site; robots.txt and the project's politeness settings apply as in a
crawl.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Self

import scrapy
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response, TextResponse
from scrapy.settings import BaseSettings
from twisted.python.failure import Failure

from crawler import stats
from crawler.commandline import ConfigError
from crawler.discover import (
    DomainHosts,
    SubSite,
    check_portal_url,
    home_url,
    is_news_column,
    left_out_reason,
    page_language,
    source_name,
    sub_site_links,
)
from crawler.extract.article import detect_cms
from crawler.extract.decoding import decode_html
from crawler.extract.listing import ColumnLink, find_column_links, is_home_url
from crawler.extract.urls import netloc
from crawler.extraction import header
from crawler.failures import failed_request, failure_reason

logger = logging.getLogger(__name__)

MAX_REQUESTS_SETTING = "NEU_DISCOVER_MAX_REQUESTS"
# A sub-site's home page and enough of its menu to reach the news columns.
DEFAULT_MAX_REQUESTS = 30


def max_requests(settings: BaseSettings) -> int:
    """The request bound per sub-site from the settings; ConfigError unless a positive int."""
    try:
        bound = settings.getint(MAX_REQUESTS_SETTING)
    except ValueError:
        bound = 0
    if bound < 1:
        raise ConfigError(
            f"setting {MAX_REQUESTS_SETTING}: {settings.get(MAX_REQUESTS_SETTING)!r} "
            "is not a positive integer"
        )
    return bound


def _log_progress(line: str) -> None:
    logger.info("%s", line)


class DiscoverSpider(scrapy.Spider):
    """Reads the portal page, then surveys every sub-site it links to. Yields no items."""

    name = "discover"

    @classmethod
    def update_settings(cls, settings: BaseSettings) -> None:
        super().update_settings(settings)
        # A survey files nothing: no feed, no data directory opened or locked.
        settings.set("ITEM_PIPELINES", {}, priority="spider")
        settings.set(MAX_REQUESTS_SETTING, DEFAULT_MAX_REQUESTS, priority="default")

    def __init__(
        self,
        portal: str = "",
        report: Callable[[str], None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.portal = check_portal_url(portal)
        self.report = report or _log_progress
        # SourceHostsMiddleware keeps every request, redirects included, to these hosts.
        self.hosts = DomainHosts(self.portal)
        self.sites: dict[str, SubSite] = {}
        self.portal_failure: str | None = None
        self.max_requests = DEFAULT_MAX_REQUESTS

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider: Self = super().from_crawler(crawler, *args, **kwargs)
        spider.max_requests = max_requests(crawler.settings)
        return spider

    async def start(self) -> AsyncIterator[scrapy.Request]:
        yield scrapy.Request(
            self.portal, callback=self.parse_portal, errback=self.portal_failed, dont_filter=True
        )

    def closed(self, reason: str) -> None:
        for site in self.sites.values():
            self._report(site)

    # -- callbacks -------------------------------------------------------------------------------

    def parse_portal(self, response: Response) -> Iterator[scrapy.Request]:
        html = self._html(response)
        if html is None:
            self.portal_failure = "not an HTML page"
            return
        links = sub_site_links(html, response.url)
        self.report(
            f"portal {response.url}: {len(links.homes)} sites of {self.hosts.domain}, "
            f"links to other domains ignored: {links.off_domain}"
        )
        for home in links.homes:
            site = self.sites.setdefault(netloc(home), SubSite(netloc(home), home))
            if site.location == netloc(response.url):
                site.requests += 1  # the portal page itself
                if is_home_url(response.url):
                    site.pending += 1
                    yield from self.parse_home(response, site)
                    continue
            if site.requests < self.max_requests:
                yield self._request(site, home, self.parse_home)

    def parse_home(self, response: Response, site: SubSite) -> Iterator[scrapy.Request]:
        """A sub-site's home page: its CMS, language and the links that may be columns."""
        site.start_url = home_url(response.url)
        html = self._html(response)
        if html is None:
            site.failure = "not an HTML page"
        else:
            self._read_page(site, html)
            site.links = find_column_links(html, response.url)
            for link in site.links:
                if site.requests >= self.max_requests:
                    break
                site.checked += 1
                yield self._request(site, link.url, self.parse_candidate, link=link)
        self._answered(site)

    def parse_candidate(self, response: Response, site: SubSite, link: ColumnLink) -> None:
        """A page its home page links to: a news column if it looks like a list."""
        html = self._html(response)
        if html is not None and is_news_column(html, response.url):
            site.news.add(link)
            self._read_page(site, html)
            self._count(site, stats.COLUMNS_DISCOVERED)
        else:
            self._count(site, stats.skipped("not_a_list"))
        self._answered(site)

    # -- errbacks --------------------------------------------------------------------------------

    def portal_failed(self, failure: Failure) -> None:
        self.portal_failure = _reason(failure)

    def request_failed(self, failure: Failure) -> None:
        request = failed_request(failure)
        site: SubSite = request.cb_kwargs["site"]
        self._count(site, stats.failed(failure_reason(failure.value)))
        if "link" not in request.cb_kwargs:  # the home page
            site.failure = _reason(failure)
        self._answered(site)

    # -- helpers ---------------------------------------------------------------------------------

    def _request(
        self, site: SubSite, url: str, callback: Callable[..., Any], **cb_kwargs: Any
    ) -> scrapy.Request:
        site.requests += 1
        site.pending += 1
        # Not filtered: links are unique per sub-site already, and a redirect onto a URL asked
        # for before would otherwise vanish without a callback, leaving the survey open.
        return scrapy.Request(
            url,
            callback=callback,
            errback=self.request_failed,
            cb_kwargs={"site": site, **cb_kwargs},
            dont_filter=True,
        )

    def _read_page(self, site: SubSite, html: str) -> None:
        cms = detect_cms(html)
        if cms is not None:
            site.cms_votes[cms] += 1
        site.language = site.language or page_language(html)

    def _answered(self, site: SubSite) -> None:
        site.pending -= 1
        if site.pending == 0:
            self._report(site)

    def _report(self, site: SubSite) -> None:
        """One progress line per sub-site, when its survey is over."""
        if site.reported:
            return
        site.reported = True
        reason = left_out_reason(site, self.max_requests)
        if reason is not None:
            self.report(f"left out {site.location}: {reason}")
            return
        labels = ", ".join(column.label or column.url for column in site.columns)
        limit = (
            f" (request limit: {site.checked} of {len(site.links)} links checked)"
            if site.limited
            else ""
        )
        self.report(
            f"{site.location}: {site.cms or 'CMS not recognised'}, {site.language}, "
            f"{len(site.columns)} news columns: {labels}{limit}"
        )

    def _html(self, response: Response) -> str | None:
        if isinstance(response, TextResponse):
            return decode_html(response.body, header(response, b"Content-Type"))
        return None

    def _count(self, site: SubSite, key: str) -> None:
        assert self.crawler.stats is not None
        stats.count(self.crawler.stats, source_name(site.location), key)


def _reason(failure: Failure) -> str:
    """Why a request failed, for a person: robots.txt and offsite drops say so."""
    error = failure.value
    if type(error) is IgnoreRequest and str(error):  # not its subclass HttpError
        return str(error)
    return failure_reason(error)
