"""The crawl's components, built the way Scrapy builds them (``build_from_crawler`` on a crawler
from ``scrapy.utils.test.get_crawler``): failure classification, the downloader middlewares,
the feed pipeline, the stats file extension and the article extractor."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.offsite import OffsiteMiddleware
from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.exceptions import (
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    DropItem,
    IgnoreRequest,
    NotConfigured,
)
from scrapy.http import HtmlResponse
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils._download_handlers import get_maxsize_msg
from scrapy.utils.misc import build_from_crawler
from scrapy.utils.spider import DefaultSpider
from scrapy.utils.test import get_crawler
from twisted.python.failure import Failure

from crawler import stats
from crawler.extensions import StatsFile
from crawler.extraction import ArticleExtractor
from crawler.failures import PERMANENT_FAILURES, failed_request, failure_reason, is_permanent
from crawler.items import FetchedArticle
from crawler.middlewares import RetryBackoffMiddleware, SourceHostsMiddleware
from crawler.pipelines import FeedPipeline
from crawler.sources import Source
from crawler.store.datadir import NullStore, Store
from tests.conftest import assert_valid_feed_line, read_feed
from tests.test_spider_callbacks import (
    ARTICLE,
    ARTICLE_URL,
    DDYW_SOURCE,
    GOLDEN_URLS,
    NO_DOWNLOADS,
    failure_of,
    golden_page,
    golden_parse,
    known_record,
    open_crawl,
    run,
)

T = TypeVar("T")
URL = "https://neunews.neu.edu.cn/info/1002/1.htm"


def component_crawler(**settings: Any) -> Crawler:
    """An unstarted crawler with a spider, for components that need one."""
    crawler = get_crawler(DefaultSpider, {"DOWNLOAD_HANDLERS": NO_DOWNLOADS, **settings})
    crawler.spider = DefaultSpider.from_crawler(crawler)
    return crawler


def stat(crawler: Crawler, key: str, source: str | None = None) -> int:
    assert crawler.stats is not None
    return stats.read(crawler.stats.get_stats(), key, source)


def drive(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that must finish without waiting for anything."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        result: T = done.value
        return result
    coroutine.close()
    raise AssertionError("the coroutine waited")


# -- failures ----------------------------------------------------------------------------------------


def http_error(status: int) -> HttpError:
    response = HtmlResponse(URL, status=status, body=b"", request=Request(URL))
    return HttpError(response, "Ignoring non-200 response")


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (http_error(404), "http_404"),
        (http_error(503), "http_503"),
        # As Scrapy's download handlers cancel a download past DOWNLOAD_MAXSIZE.
        (
            DownloadCancelledError(get_maxsize_msg(20_000, 10_000, Request(URL), expected=True)),
            "too_large",
        ),
        (DownloadCancelledError("Cancelled by a signal handler"), "DownloadCancelledError"),
        (DownloadTimeoutError("took longer than 30 seconds"), "DownloadTimeoutError"),
        (DownloadConnectionRefusedError("refused"), "DownloadConnectionRefusedError"),
        (TimeoutError(), "TimeoutError"),
    ],
)
def test_failure_reason(error: BaseException, reason: str) -> None:
    assert failure_reason(error) == reason


@pytest.mark.parametrize("reason", ["http_404", "http_410", "too_large"])
def test_failures_saying_the_page_is_not_there_are_permanent(reason: str) -> None:
    assert is_permanent(reason)
    assert reason in PERMANENT_FAILURES


@pytest.mark.parametrize(
    "reason", ["http_500", "http_503", "http_429", "DownloadTimeoutError", "TimeoutError"]
)
def test_failures_of_a_struggling_server_are_not_permanent(reason: str) -> None:
    assert not is_permanent(reason)


def test_failed_request_is_the_request_scrapy_attached_to_the_failure() -> None:
    request = Request(URL)
    failure = failure_of(DownloadTimeoutError("slow"))
    failure.request = request  # type: ignore[attr-defined]  # as Scraper.call_spider_async does
    assert failed_request(failure) is request


# -- SourceHostsMiddleware -----------------------------------------------------------------------------


def test_source_hosts_middleware_keeps_requests_on_the_sources_host_and_port(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        async with open_crawl(tmp_path) as crawl:
            middleware = crawl.crawler.get_downloader_middleware(SourceHostsMiddleware)
            assert middleware is not None
            assert crawl.crawler.get_downloader_middleware(OffsiteMiddleware) is None
            middleware.process_request(Request(URL))  # raises IgnoreRequest when offsite
            middleware.process_request(Request("https://english.neu.edu.cn/a.htm"))
            assert crawl.stat(stats.skipped("offsite")) == 0
            for offsite in (
                "https://neunews.neu.edu.cn:8443/info/1002/1.htm",  # same host, other port
                "https://www.neu.edu.cn/info/1002/1.htm",
                "https://neunews.neu.edu.cn.example.com/",
            ):
                with pytest.raises(IgnoreRequest):
                    middleware.process_request(Request(offsite))
            assert crawl.stat(stats.skipped("offsite")) == 3

    run(scenario)


def test_source_hosts_middleware_lets_everything_through_without_a_sources_spider() -> None:
    crawler = component_crawler()
    middleware = build_from_crawler(SourceHostsMiddleware, crawler)
    middleware.process_request(Request("https://example.com/"))  # raises IgnoreRequest when offsite
    assert stat(crawler, stats.skipped("offsite")) == 0


# -- RetryBackoffMiddleware ------------------------------------------------------------------------------


def test_retry_backoff_is_off_when_its_base_is_zero() -> None:
    with pytest.raises(NotConfigured):
        build_from_crawler(RetryBackoffMiddleware, component_crawler(NEU_RETRY_BACKOFF_BASE=0))


def test_retry_backoff_is_enabled_in_the_crawl_by_default(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with open_crawl(tmp_path) as crawl:
            middleware = crawl.crawler.get_downloader_middleware(RetryBackoffMiddleware)
            assert middleware is not None
            assert (middleware.base, middleware.cap) == (2.0, 60.0)

    run(scenario)


def test_retry_backoff_doubles_before_each_retry_up_to_the_cap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slept: list[float] = []

    async def record_sleep(delay: float) -> None:
        slept.append(delay)

    # Only the middleware's coroutines run (see drive): no event loop is affected.
    monkeypatch.setattr(asyncio, "sleep", record_sleep)
    crawler = component_crawler(NEU_RETRY_BACKOFF_BASE=2, NEU_RETRY_BACKOFF_MAX=60)
    middleware = build_from_crawler(RetryBackoffMiddleware, crawler)

    assert drive(middleware.process_request(Request(URL))) is None
    assert slept == []  # a first attempt is not held back
    waits = []
    for retries in range(1, 8):
        slept.clear()
        assert (
            drive(middleware.process_request(Request(URL, meta={"retry_times": retries}))) is None
        )
        waits.extend(slept)
    assert waits == [2, 4, 8, 16, 32, 60, 60]


def test_retry_request_made_by_scrapy_waits_on_the_event_loop() -> None:
    crawler = component_crawler(NEU_RETRY_BACKOFF_BASE=3600, NEU_RETRY_BACKOFF_MAX=7200)
    middleware = build_from_crawler(RetryBackoffMiddleware, crawler)
    assert crawler.spider is not None
    retry = get_retry_request(Request(URL), spider=crawler.spider, reason="http_503")
    assert retry is not None

    async def scenario() -> tuple[bool, bool]:
        first = asyncio.ensure_future(middleware.process_request(Request(URL)))
        again = asyncio.ensure_future(middleware.process_request(retry))
        for _ in range(5):
            await asyncio.sleep(0)
        done = (first.done(), again.done())
        again.cancel()
        return done

    # The first attempt goes on at once; the retry is held back (an hour: it never ends here).
    assert asyncio.run(scenario()) == (True, False)


# -- FeedPipeline ------------------------------------------------------------------------------------


def item(number: int = 1, **changes: Any) -> FetchedArticle:
    record = {**known_record(f"https://neunews.neu.edu.cn/info/1002/{number}.htm", number)}
    record.update(changes)
    return FetchedArticle(record, etag='"e1"')  # type: ignore[arg-type]


def test_feed_pipeline_without_a_data_dir_passes_every_article_as_new() -> None:
    crawler = component_crawler(NEU_DATA_DIR="")
    pipeline = build_from_crawler(FeedPipeline, crawler)
    assert isinstance(pipeline.store, NullStore)
    first = item()
    assert pipeline.process_item(first) == dict(first.record)
    assert pipeline.process_item(first) == dict(first.record)
    assert stat(crawler, stats.feed_outcome("new")) == 2
    assert stat(crawler, stats.NEW, DDYW_SOURCE) == 2
    pipeline.close_spider()


def test_feed_pipeline_appends_new_drops_unchanged_and_versions_edits(tmp_path: Path) -> None:
    data = tmp_path / "data"
    crawler = component_crawler(NEU_DATA_DIR=str(data))
    pipeline = build_from_crawler(FeedPipeline, crawler)
    assert isinstance(pipeline.store, Store)
    try:
        line = pipeline.process_item(item())
        assert_valid_feed_line(line)
        assert (line["version"], line["updated_at"]) == (1, None)
        with pytest.raises(DropItem):
            pipeline.process_item(item())
        edited = pipeline.process_item(item(text="更正后的正文。" * 10))
        assert (edited["id"], edited["version"]) == (line["id"], 2)
        assert edited["first_seen"] == line["first_seen"]
    finally:
        pipeline.close_spider()

    assert stat(crawler, stats.feed_outcome("new")) == 1
    assert stat(crawler, stats.dropped("unchanged")) == 1
    assert stat(crawler, stats.feed_outcome("updated")) == 1
    assert stat(crawler, stats.UPDATED, DDYW_SOURCE) == 1
    assert [(feed_line["id"], feed_line["version"]) for feed_line in read_feed(data)] == [
        (line["id"], 1),
        (line["id"], 2),
    ]
    # Closed: the data directory is free for the next crawl, which knows the article.
    store = Store(data)
    try:
        assert store.is_known(line["id"])
    finally:
        store.close()


def test_feed_pipeline_of_a_crawl_is_the_one_in_item_pipelines(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with open_crawl(tmp_path) as crawl:
            pipeline = FeedPipeline.of(crawl.crawler)
            assert crawl.crawler.get_item_pipeline(FeedPipeline) is pipeline
            assert isinstance(pipeline.store, Store)
            assert pipeline.store.data_dir == tmp_path / "data"

    run(scenario)


def test_feed_pipeline_of_a_crawl_without_it_is_an_error() -> None:
    from scrapy.core.engine import ExecutionEngine

    crawler = component_crawler(ITEM_PIPELINES={})
    crawler.engine = ExecutionEngine(crawler, lambda _: None)
    try:
        with pytest.raises(RuntimeError, match="FeedPipeline is not in ITEM_PIPELINES"):
            FeedPipeline.of(crawler)
    finally:
        crawler.engine.downloader.close()


# -- StatsFile -----------------------------------------------------------------------------------------


def test_stats_file_is_off_without_a_path() -> None:
    with pytest.raises(NotConfigured):
        build_from_crawler(StatsFile, component_crawler(NEU_STATS_FILE=""))


def test_stats_file_is_written_when_the_spider_closes(tmp_path: Path) -> None:
    path = tmp_path / "stats.json"
    # Scrapy's own extensions off: only this one listens to the signal sent below.
    crawler = component_crawler(NEU_STATS_FILE=str(path), EXTENSIONS_BASE={})
    extension = build_from_crawler(StatsFile, crawler)  # held: signals keep weak references
    assert extension.path == path
    assert crawler.stats is not None
    stats.count(crawler.stats, DDYW_SOURCE, stats.NEW, 3)
    assert not path.exists()

    results = crawler.signals.send_catch_log(
        signal=signals.spider_closed, spider=crawler.spider, reason="shutdown"
    )

    assert not [result for _, result in results if isinstance(result, Failure)]
    written = json.loads(path.read_text())
    assert written["finish_reason"] == "shutdown"
    assert stats.read(written, stats.NEW) == 3
    assert stats.read(written, stats.NEW, DDYW_SOURCE) == 3
    assert [file.name for file in tmp_path.iterdir()] == ["stats.json"]  # no partial file left


def test_stats_file_of_a_crawl_holds_its_figures(tmp_path: Path) -> None:
    path = tmp_path / "stats.json"

    async def scenario() -> None:
        async with open_crawl(tmp_path, "backfill", NEU_STATS_FILE=str(path)) as crawl:
            request = crawl.start_request(crawl.walk().key)
            await crawl.scrape(HtmlResponse(request.url, status=503, request=request), request)

    run(scenario)
    written = json.loads(path.read_text())
    assert written["finish_reason"] == "finished"
    assert stats.read(written, stats.failed("http_503"), DDYW_SOURCE) == 1


# -- ArticleExtractor ------------------------------------------------------------------------------------


def extractor(crawler: Crawler) -> ArticleExtractor:
    built = build_from_crawler(ArticleExtractor, crawler)
    assert built.pool is None  # NEU_EXTRACT_PROCESSES=0: extraction runs in this process
    return built


def test_extractor_parses_an_article_and_counts_it_for_its_source() -> None:
    crawler = component_crawler(NEU_EXTRACT_PROCESSES=0)
    html = golden_page(ARTICLE).decode("utf-8")
    source = Source(DDYW_SOURCE, (ARTICLE_URL,), "zh", cms="vsb")
    parsed = asyncio.run(extractor(crawler).extract(html, ARTICLE_URL, source))
    assert parsed is not None
    assert parsed["title"] == golden_parse(ARTICLE)["title"]
    assert parsed["parser"] != "generic"  # the CMS container was found
    assert stat(crawler, stats.ARTICLES, DDYW_SOURCE) == 1
    assert stat(crawler, stats.ARTICLES) == 1
    assert stat(crawler, stats.NO_CONTAINER, DDYW_SOURCE) == 0
    assert stat(crawler, stats.missing("published"), DDYW_SOURCE) == 0


def test_extractor_counts_what_an_article_lacks() -> None:
    name = "no-date-no-container"
    crawler = component_crawler(NEU_EXTRACT_PROCESSES=0)
    html = golden_page(name).decode("utf-8")
    source = Source("other", (GOLDEN_URLS[name],), "zh")
    parsed = asyncio.run(extractor(crawler).extract(html, GOLDEN_URLS[name], source))
    assert parsed is not None
    assert (parsed["published"], parsed["parser"]) == (None, "generic")
    assert stat(crawler, stats.NO_CONTAINER, "other") == 1
    assert stat(crawler, stats.missing("published"), "other") == 1
    assert stat(crawler, stats.missing("title"), "other") == 0
    assert stat(crawler, stats.ARTICLES, "other") == 1


def test_extractor_finds_no_article_in_an_empty_page() -> None:
    crawler = component_crawler(NEU_EXTRACT_PROCESSES=0)
    source = Source(DDYW_SOURCE, (URL,), "zh", cms="vsb")
    assert asyncio.run(extractor(crawler).extract(" \n", URL, source)) is None
    assert stat(crawler, stats.ARTICLES) == 0
