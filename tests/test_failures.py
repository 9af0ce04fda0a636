"""Failures that will happen again however often a page is asked for: an off-site redirect, a
robots.txt ban, a body past DOWNLOAD_MAXSIZE once decompressed. Each raises ``IgnoreRequest``
from a downloader middleware; each is counted by its reason and is permanent, so it does not
make the next run walk its column in full.

The exceptions are raised by the real middlewares (this project's and Scrapy's), then handed
to the spider's errback through Scrapy's scraper; the end-to-end test runs the real spider
against the replica, one of whose articles redirects off the sites and one is robots.txt's.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.robotstxt import ProtegoRobotParser
from scrapy.utils.test import get_crawler

from crawler import stats
from crawler.extract.urls import netloc
from crawler.failures import failure_reason, is_permanent
from crawler.middlewares import SourceHostsMiddleware
from crawler.spiders.neu_news import NeuNewsSpider
from replica import ReplicaServer, build_replica
from replica.model import ExtraLink, Redirect
from tests.conftest import run_crawl
from tests.test_spider_callbacks import (
    ARTICLE_URL,
    DDYW,
    DDYW_SOURCE,
    PROJECT_SETTINGS,
    article_request,
    failure_of,
    open_crawl,
    run,
)

# Where WeChat articles live: the links many university sites list as their own articles.
WECHAT = "https://mp.weixin.qq.com/s/Xy3aBcD"


def offsite_redirect_error() -> IgnoreRequest:
    """What SourceHostsMiddleware raises for an article's redirect to WeChat."""
    crawler = get_crawler(NeuNewsSpider, PROJECT_SETTINGS)
    crawler.spider = NeuNewsSpider()
    crawler.spider.hosts = frozenset({netloc(DDYW)})
    assert crawler.stats is not None
    crawler.stats.open_spider()
    with pytest.raises(IgnoreRequest) as raised:
        SourceHostsMiddleware.from_crawler(crawler).process_request(Request(WECHAT))
    return raised.value


def robots_txt_error() -> IgnoreRequest:
    """What Scrapy's RobotsTxtMiddleware raises for a page its site's robots.txt forbids."""
    crawler = get_crawler(NeuNewsSpider, PROJECT_SETTINGS)
    middleware = RobotsTxtMiddleware.from_crawler(crawler)
    parser = ProtegoRobotParser.from_crawler(crawler, b"User-agent: *\nDisallow: /info/\n")
    with pytest.raises(IgnoreRequest) as raised:
        middleware.process_request_2(parser, Request(ARTICLE_URL))
    return raised.value


def decompression_bomb_error() -> IgnoreRequest:
    """What Scrapy's HttpCompressionMiddleware raises for a body past DOWNLOAD_MAXSIZE once
    decompressed (16 MB by default; the response came in small)."""
    crawler = get_crawler(NeuNewsSpider, {**PROJECT_SETTINGS, "DOWNLOAD_MAXSIZE": 10_000})
    middleware = HttpCompressionMiddleware.from_crawler(crawler)
    request = Request(ARTICLE_URL)
    bomb = Response(
        ARTICLE_URL,
        body=gzip.compress(b"<p>" * 100_000),
        headers={"Content-Encoding": "gzip", "Content-Type": "text/html"},
        request=request,
    )
    with pytest.raises(IgnoreRequest) as raised:
        middleware.process_response(request, bomb)
    return raised.value


def test_dropped_requests_are_named_by_reason_and_permanent() -> None:
    reasons = [
        failure_reason(offsite_redirect_error()),
        failure_reason(robots_txt_error()),
        failure_reason(decompression_bomb_error()),
    ]
    assert reasons == ["offsite", "robots_txt", "too_large"]
    assert all(is_permanent(reason) for reason in reasons)


def test_a_request_dropped_for_another_reason_stays_transient() -> None:
    # RedirectMiddleware's loop guard: the site may be mid-deploy.
    reason = failure_reason(IgnoreRequest("max redirections reached"))
    assert reason == "IgnoreRequest"
    assert not is_permanent(reason)


@pytest.mark.parametrize("kind", ["offsite", "robots_txt", "too_large"])
def test_an_article_that_can_never_be_fetched_leaves_its_walk_finished(
    tmp_path: Path, kind: str
) -> None:
    error = {
        "offsite": offsite_redirect_error,
        "robots_txt": robots_txt_error,
        "too_large": decompression_bomb_error,
    }[kind]()

    async def scenario() -> None:
        async with open_crawl(tmp_path, "backfill") as crawl:
            request = await article_request(crawl)
            await crawl.scrape(failure_of(error), request)
            assert crawl.stat(stats.failed(kind), DDYW_SOURCE) == 1
            assert not crawl.walk().failed
            crawl.idle()
            assert crawl.store.walk_complete(DDYW)

    run(scenario)


def test_next_run_does_not_walk_a_column_in_full_for_its_unfetchable_articles(
    tmp_path: Path,
) -> None:
    replica = build_replica(seed=11, articles_per_column=10, page_size=2)
    column = replica.site("news").column("ddyw")
    with replica.lock:
        newest = column.articles[0]
        # The newest article now redirects to WeChat; page 1 also lists one robots.txt forbids.
        replica.site("news").redirects[newest.path] = Redirect(WECHAT)
        column.extra_links = [
            ExtraLink("/private/info/1002/1.htm", "内部文章", newest.date, "robots")
        ]
    with ReplicaServer(replica) as server:
        sources = tmp_path / "sources.toml"
        replica.write_sources(sources, server, sites=["news"])
        first = run_crawl(sources, tmp_path / "data", tmp_path / "run1", "-a", "mode=backfill")
        # A title on page 1 changes: the page is read again (unchanged, it would answer 304).
        replica.edit(column.articles[1], title=column.articles[1].title + "（更新）")
        server.clear_log()
        second = run_crawl(sources, tmp_path / "data", tmp_path / "run2")
        list_pages = [
            entry.path
            for entry in server.request_log
            if entry.path.startswith(column.list_path.removesuffix(".htm"))
        ]
    assert (first.returncode, second.returncode) == (0, 0), second.stderr
    # Page 1 lists two articles the feed lacks, so page 2 is read; 5 pages in a full walk.
    assert sorted(list_pages) == ["/ddyw.htm", "/ddyw/4.htm"]
    for result in (first, second):
        assert result.stat(stats.of_source("news-ddyw", stats.failed("offsite"))) == 1
        assert result.stat(stats.of_source("news-ddyw", stats.failed("robots_txt"))) == 1
