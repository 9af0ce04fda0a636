"""The ``neu_news`` spider's callbacks, errbacks and signal handlers, in process.

Each test builds a crawler with ``scrapy.utils.test.get_crawler`` (the project's settings, a
sources file and data directory under ``tmp_path``), opens a real engine on it without starting
it (no download handler is enabled: nothing can reach a network) and hands the spider built
``HtmlResponse``/``Failure`` objects, either straight to a callback or through Scrapy's scraper,
so that the spider middlewares (``HttpErrorMiddleware`` turning a 404 into an errback call) and
the ``spider_error``/``spider_idle`` signals do what they do in a crawl.
"""

from __future__ import annotations

import asyncio
import json
import tomllib
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from scrapy import Request, signals
from scrapy.core.engine import ExecutionEngine
from scrapy.crawler import Crawler
from scrapy.exceptions import (
    DontCloseSpider,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
)
from scrapy.http import HtmlResponse, Response
from scrapy.settings import Settings
from scrapy.utils._download_handlers import get_maxsize_msg
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.test import get_crawler
from twisted.python.failure import Failure

import crawler.extraction as extraction_module
import crawler.spiders.neu_news as neu_news_module
from crawler import settings as project_settings
from crawler import stats
from crawler.extensions import StopOnMemoryError
from crawler.extract.article import parse_article
from crawler.extract.record import build_record
from crawler.extract.urls import article_id, canonical_id, canonical_url
from crawler.items import FetchedArticle
from crawler.pipelines import FeedPipeline
from crawler.sources import Source
from crawler.spiders.neu_news import NeuNewsSpider, size_concurrency
from crawler.store.datadir import Store
from crawler.store.filing import CrawlStore
from crawler.store.state import PageValidators
from crawler.walks import Walk
from tests.conftest import PROJECT_ROOT, assert_valid_record, read_feed

NEWS = "https://neunews.neu.edu.cn"
DDYW = f"{NEWS}/ddyw.htm"
ENGLISH_HOME = "https://english.neu.edu.cn/index.htm"
COLUMN = "东大要闻"
DDYW_SOURCE = "neunews-ddyw"
ENGLISH_SOURCE = "english"
SOURCES_TOML = f"""
[[sources]]
name = "{DDYW_SOURCE}"
start_urls = ["{DDYW}"]
language = "zh"
column = "{COLUMN}"
cms = "vsb"

[[sources]]
name = "{ENGLISH_SOURCE}"
start_urls = ["{ENGLISH_HOME}"]
language = "en"
allow = ["^/(news|focus)"]
"""
PROJECT_SETTINGS: dict[str, Any] = {
    name: getattr(project_settings, name) for name in dir(project_settings) if name.isupper()
}
# No download handler at all: these tests hand the spider its responses.
NO_DOWNLOADS = {"http": None, "https": None, "ftp": None}

GOLDEN = PROJECT_ROOT / "tests" / "golden"
GOLDEN_URLS: dict[str, str] = {
    name: table["url"]
    for name, table in tomllib.loads((GOLDEN / "manifest.toml").read_text("utf-8")).items()
}
ARTICLE = "neunews-vsb-ddyw"  # a VSB article of 东大要闻, its stored page and expected parse
ARTICLE_URL = GOLDEN_URLS[ARTICLE]


def golden_page(name: str) -> bytes:
    return (GOLDEN / "pages" / f"{name}.html").read_bytes()


def golden_parse(name: str) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads((GOLDEN / "pages" / f"{name}.json").read_text("utf-8"))
    return parsed


def article_url(number: int) -> str:
    return f"{NEWS}/info/1002/{number}.htm"


def list_html(
    numbers: Iterable[int] = (),
    *,
    hrefs: Iterable[str] = (),
    next_href: str | None = None,
    last_href: str | None = None,
    title: str = f"{COLUMN}-东北大学新闻网",
    extra_links: Iterable[str] = (),
) -> bytes:
    """A VSB-like list page linking /info/1002/<n>.htm (and *hrefs*), with a pager when given
    its links."""
    links = [*(f"/info/1002/{number}.htm" for number in numbers), *hrefs]
    items = "".join(
        f'<li><a href="{href}">第{index}篇</a><span>2024-09-01</span></li>'
        for index, href in enumerate(links, start=1)
    )
    pager = ""
    if next_href or last_href:
        pager_links = (f'<a href="{next_href}">下页</a>' if next_href else "") + (
            f'<a href="{last_href}">尾页</a>' if last_href else ""
        )
        pager = f'<div class="pb_sys_common">共9页 {pager_links}</div>'
    extra = "".join(f'<a href="{href}">{href}</a>' for href in extra_links)
    return (
        f"<!DOCTYPE html><html><head><title>{title}</title></head><body>"
        f'<div class="nav">{extra}</div><div class="list"><ul>{items}</ul>{pager}</div>'
        "</body></html>"
    ).encode()


def html_response(
    request: Request,
    body: bytes,
    *,
    status: int = 200,
    url: str | None = None,
    headers: dict[str, str] | None = None,
) -> HtmlResponse:
    return HtmlResponse(
        url or request.url,
        status=status,
        body=body,
        headers={"Content-Type": "text/html; charset=utf-8", **(headers or {})},
        request=request,
    )


def known_record(
    url: str, number: int, *, crawled_at: str | None = None, published: str | None = "2024-08-01"
) -> dict[str, Any]:
    """A record of 东大要闻 as an earlier run filed it: by default, first seen in 2024 a month
    after its publication (past every re-check step then)."""
    html = (
        f"<html><head><title>已知文章{number}</title></head><body><h1>已知文章{number}</h1>"
        f'<div class="v_news_content"><p>{f"第{number}篇已知文章的正文。" * 8}</p></div></body></html>'
    )
    parsed = parse_article(html, url, cms="vsb")
    assert parsed is not None
    record = build_record(
        parsed,
        canonical_url(url),
        article_id(url),
        source=DDYW_SOURCE,
        language="zh",
        columns=[COLUMN],
        crawled_at=crawled_at or "2024-09-01T00:00:00+00:00",
    )
    return {**record, "published": published}


def seed_data_dir(
    data_dir: Path,
    records: Iterable[dict[str, Any]] = (),
    *,
    finished_walks: Iterable[str] = (),
    etag: str | None = None,
) -> None:
    """What an earlier run left in the data directory."""
    store = Store(data_dir)
    try:
        for record in records:
            store.add(record, validators=(etag, None))
        for key in finished_walks:
            store.set_walk_complete(canonical_url(key), True)
    finally:
        store.close()


@dataclass
class Crawl:
    """A crawler with an open (not started) engine, and the spider's start requests."""

    crawler: Crawler
    spider: NeuNewsSpider
    start_requests: list[Request]

    @property
    def engine(self) -> ExecutionEngine:
        engine: ExecutionEngine = self.crawler.engine
        return engine

    @property
    def store(self) -> CrawlStore:
        return FeedPipeline.of(self.crawler).store

    def stat(self, key: str, source: str | None = None) -> int:
        assert self.crawler.stats is not None
        return stats.read(self.crawler.stats.get_stats(), key, source)

    def start_request(self, url: str) -> Request:
        [request] = [request for request in self.start_requests if request.url == url]
        return request

    def walk(self, url: str = DDYW) -> Walk:
        walk: Walk = self.start_request(url).cb_kwargs["walk"]
        return walk

    async def scrape(self, result: Response | Failure, request: Request) -> None:
        """Hand a download's result to Scrapy's scraper: spider middlewares, the callback or
        errback, then the output (requests to the scheduler, items to the pipelines)."""
        await maybe_deferred_to_future(self.engine.scraper.enqueue_scrape(result, request))

    def scheduled(self) -> list[Request]:
        """Take every request waiting in the scheduler."""
        scheduler = self.engine.scheduler
        assert scheduler is not None
        taken = []
        while (request := scheduler.next_request()) is not None:
            taken.append(request)
        return taken

    def idle(self) -> bool:
        """Send ``spider_idle`` as the engine does; whether a handler kept the spider open."""
        results = self.crawler.signals.send_catch_log(
            signal=signals.spider_idle, spider=self.spider, dont_log=DontCloseSpider
        )
        failures = [result for _, result in results if isinstance(result, Failure)]
        assert all(isinstance(failure.value, DontCloseSpider) for failure in failures), failures
        return bool(failures)

    async def read_list(
        self, request: Request, body: bytes, headers: dict[str, str] | None = None
    ) -> None:
        await self.scrape(html_response(request, body, headers=headers), request)

    async def article_phase(self) -> list[Request]:
        """The article requests after the list pages: those a group's last list page sent, or
        when it sent none, those the engine going idle is given (re-checks)."""
        sent = self.scheduled()
        if sent:  # the engine is busy with them: not idle
            return sent
        assert self.idle(), "the article phase did not keep the spider open"
        return self.scheduled()


@asynccontextmanager
async def open_crawl(
    tmp_path: Path, mode: str | None = None, *, recheck: str | None = None, **settings: Any
) -> AsyncIterator[Crawl]:
    sources = tmp_path / "sources.toml"
    if not sources.exists():
        sources.write_text(SOURCES_TOML, encoding="utf-8")
    crawler = get_crawler(
        NeuNewsSpider,
        {
            **PROJECT_SETTINGS,
            "NEU_SOURCES_FILE": str(sources),
            "NEU_DATA_DIR": str(tmp_path / "data"),
            "DOWNLOAD_HANDLERS": NO_DOWNLOADS,
            "LOG_LEVEL": "WARNING",
            **settings,
        },
    )
    arguments = {"mode": mode, "recheck": recheck}
    spider = NeuNewsSpider.from_crawler(
        crawler, **{name: value for name, value in arguments.items() if value}
    )
    crawler.spider = spider
    crawler.engine = ExecutionEngine(crawler, lambda _: crawler.stop_async())
    await crawler.engine.open_spider_async(close_if_idle=False)
    try:
        start_requests = [request async for request in spider.start()]
        yield Crawl(crawler, spider, start_requests)
    finally:
        if crawler.engine.spider is not None:  # unless the crawl closed itself
            await crawler.engine.close_spider_async(reason="finished")


def moment_ago(**delta: float) -> str:
    """An ISO UTC moment that long ago, as the feed writes them."""
    return (datetime.now(UTC) - timedelta(**delta)).replace(microsecond=0).isoformat()


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(scenario())


def failure_of(error: BaseException) -> Failure:
    """A Failure of *error*, as Scrapy hands a download error to an errback."""
    return Failure(error)  # type: ignore[no-untyped-call]  # twisted's constructor is untyped


async def collect(output: AsyncIterator[FetchedArticle]) -> list[FetchedArticle]:
    return [item async for item in output]


# -- start -----------------------------------------------------------------------------------------


def test_start_walks_list_sources_and_fetches_the_home_pages_of_home_sources(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        async with open_crawl(tmp_path) as crawl:
            spider = crawl.spider
            assert [request.url for request in crawl.start_requests] == [DDYW, ENGLISH_HOME]
            listing, home = crawl.start_requests
            assert (listing.callback, listing.errback) == (
                spider.parse_list_page,
                spider.request_failed,
            )
            walk = listing.cb_kwargs["walk"]
            assert (walk.key, walk.column, walk.source.name) == (DDYW, COLUMN, DDYW_SOURCE)
            assert (home.callback, home.errback) == (spider.parse_home, spider.request_failed)
            assert home.cb_kwargs["source"].name == ENGLISH_SOURCE
            assert spider.hosts == {"neunews.neu.edu.cn", "english.neu.edu.cn"}

    run(scenario)


@pytest.mark.parametrize(("mode", "full"), [(None, False), ("backfill", True)])
def test_walk_after_a_finished_one_is_incremental_unless_backfilling(
    tmp_path: Path, mode: str | None, full: bool
) -> None:
    seed_data_dir(tmp_path / "data", finished_walks=[DDYW])

    async def scenario() -> None:
        async with open_crawl(tmp_path, mode) as crawl:
            assert crawl.walk().full is full

    run(scenario)


# -- list pages ------------------------------------------------------------------------------------


def test_full_walk_requests_every_numbered_page_at_once_from_the_first_page(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        async with open_crawl(tmp_path, "backfill") as crawl:
            request = crawl.start_request(DDYW)
            body = list_html([30, 29, 28], next_href="/ddyw/9.htm", last_href="/ddyw/1.htm")
            out = list(
                crawl.spider.parse_list_page(html_response(request, body), **request.cb_kwargs)
            )
            assert [page.url for page in out] == [f"{NEWS}/ddyw/{n}.htm" for n in range(9, 0, -1)]
            for page in out:
                assert page.callback == crawl.spider.parse_list_page
                assert page.errback == crawl.spider.request_failed
                assert page.cb_kwargs == {"walk": crawl.walk()}
            assert crawl.stat(stats.LIST_PAGES, DDYW_SOURCE) == 1
            assert crawl.stat(stats.ARTICLE_LINKS, DDYW_SOURCE) == 3

    run(scenario)


def test_numbered_pages_reach_the_scheduler_and_add_no_more_pages(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with open_crawl(tmp_path, "backfill") as crawl:
            first = crawl.start_request(DDYW)
            await crawl.read_list(
                first, list_html([30, 29], next_href="/ddyw/3.htm", last_href="/ddyw/1.htm")
            )
            pages = crawl.scheduled()
            assert sorted(page.url for page in pages) == [f"{NEWS}/ddyw/{n}.htm" for n in (1, 2, 3)]
            page_3 = next(page for page in pages if page.url.endswith("/3.htm"))
            await crawl.read_list(
                page_3, list_html([27, 26], next_href="/ddyw/2.htm", last_href="/ddyw/1.htm")
            )
            assert crawl.scheduled() == []
            assert crawl.walk().pages == 2

    run(scenario)


def test_incremental_walk_stops_at_the_first_page_whose_oldest_article_is_known(
    tmp_path: Path,
) -> None:
    seed_data_dir(tmp_path / "data", [known_record(article_url(1), 1)], finished_walks=[DDYW])

    async def scenario() -> None:
        async with open_crawl(tmp_path) as crawl:
            request = crawl.start_request(DDYW)
            body = list_html([3, 2, 1], next_href="/ddyw/9.htm", last_href="/ddyw/1.htm")
            await crawl.read_list(request, body)
            # No next list page: only the new articles, the column's list phase being done.
            articles = crawl.scheduled()
            assert sorted(article.url for article in articles) == [article_url(2), article_url(3)]
            assert crawl.stat(stats.skipped("known"), DDYW_SOURCE) == 1

    run(scenario)


def test_article_links_off_the_sources_hosts_are_counted_not_followed(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with open_crawl(tmp_path) as crawl:
            body = list_html(
                [2, 1],
                hrefs=[
                    "https://mp.weixin.example.com/info/1002/7.htm",
                    "https://other.edu.cn/info/1002/8.htm",
                ],
            )
            await crawl.read_list(crawl.start_request(DDYW), body)
            articles = await crawl.article_phase()
            assert sorted(a.url for a in articles) == [article_url(1), article_url(2)]
            assert crawl.stat(stats.skipped("offsite_link"), DDYW_SOURCE) == 2

    run(scenario)


def test_a_sources_hosts_and_article_pattern_widen_what_its_list_pages_list(
    tmp_path: Path,
) -> None:
    (tmp_path / "sources.toml").write_text(
        SOURCES_TOML.replace(
            'cms = "vsb"',
            'cms = "vsb"\nhosts = ["xinwen.neu.edu.cn"]\narticle_pattern = "/news/[0-9]+[.]shtml$"',
            1,
        ),
        encoding="utf-8",
    )

    async def scenario() -> None:
        async with open_crawl(tmp_path) as crawl:
            body = list_html(
                [1],
                hrefs=[
                    "https://xinwen.neu.edu.cn/info/1002/5.htm",
                    "/news/6.shtml",
                    "https://other.edu.cn/news/7.shtml",
                ],
            )
            await crawl.read_list(crawl.start_request(DDYW), body)
            articles = await crawl.article_phase()
            assert sorted(a.url for a in articles) == [
                f"{NEWS}/info/1002/1.htm",
                f"{NEWS}/news/6.shtml",
                "https://xinwen.neu.edu.cn/info/1002/5.htm",
            ]
            assert crawl.stat(stats.skipped("offsite_link"), DDYW_SOURCE) == 1

    run(scenario)


def test_first_list_page_that_is_not_html_is_counted_and_leaves_its_walk_unfinished(
    tmp_path: Path,
) -> None:
    finished_walk_with_validators(tmp_path)

    async def scenario() -> None:
        async with open_crawl(tmp_path) as crawl:
            request = crawl.start_request(DDYW)
            response = Response(
                DDYW, body=b"%PDF-1.4 \x00\x01", headers={"ETag": '"pdf"'}, request=request
            )
            assert list(crawl.spider.parse_list_page(response, **request.cb_kwargs)) == []
            assert crawl.stat(stats.skipped("not_html"), DDYW_SOURCE) == 1
            assert crawl.stat(stats.skipped("unparsable_list"), DDYW_SOURCE) == 1
            # Not read: the next run reads it in full again, rather than take a 304 for it.
            assert crawl.walk().failed
            assert not crawl.idle()
            assert not crawl.store.walk_complete(DDYW)
            assert crawl.store.list_validators(DDYW) == PageValidators(
                LIST_ETAG, LIST_MODIFIED, True
            )

    run(scenario)


# -- home pages and discovered columns --------------------------------------------------------------


def test_home_page_links_become_candidate_lists_within_the_allow_patterns(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with open_crawl(tmp_path) as crawl:
            home = crawl.start_request(ENGLISH_HOME)
            body = (
                b"<html><head><title>NEU</title></head><body>"
                b'<a href="/news.htm">News</a><a href="/focus/list.htm" title="Focus">F</a>'
                b'<a href="/about.htm">About</a><a href="/info/1003/5212.htm">An article</a>'
                b"</body></html>"
            )
            out = list(crawl.spider.parse_home(html_response(home, body), **home.cb_kwargs))
            assert [(request.url, request.cb_kwargs["label"]) for request in out] == [
                ("https://english.neu.edu.cn/news.htm", "News"),
                ("https://english.neu.edu.cn/focus/list.htm", "Focus"),
            ]
            for request in out:
                assert request.callback == crawl.spider.parse_candidate_list
                assert request.errback == crawl.spider.request_failed
                assert request.cb_kwargs["source"].name == ENGLISH_SOURCE

    run(scenario)


def test_candidate_with_a_pager_is_walked_as_a_column(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with open_crawl(tmp_path, "backfill") as crawl:
            source = crawl.start_request(ENGLISH_HOME).cb_kwargs["source"]
            url = "https://english.neu.edu.cn/news.htm"
            request = Request(url, cb_kwargs={"source": source, "label": "News"})
            body = (
                b"<html><head><title>Campus News</title></head><body><ul>"
                b'<li><a href="/info/1003/1.htm">One</a></li><li><a href="/info/1003/2.htm">Two</a></li>'
                b'</ul><div class="pb_sys_common"><a href="/news/2.htm">Next</a></div></body></html>'
            )
            response = html_response(request, body)
            out = list(crawl.spider.parse_candidate_list(response, **request.cb_kwargs))
            assert [page.url for page in out] == ["https://english.neu.edu.cn/news/2.htm"]
            [walk] = [walk for walk in crawl.spider.walks.walks if walk.key == url]
            assert out[0].cb_kwargs == {"walk": walk}
            assert (walk.column, walk.pages, walk.full) == ("News", 1, True)
            assert crawl.stat(stats.COLUMNS_DISCOVERED, ENGLISH_SOURCE) == 1

    run(scenario)


def test_candidate_without_a_pager_and_few_links_is_not_a_list(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with open_crawl(tmp_path) as crawl:
            source = crawl.start_request(ENGLISH_HOME).cb_kwargs["source"]
            url = "https://english.neu.edu.cn/about.htm"
            request = Request(url, cb_kwargs={"source": source, "label": "About"})
            body = b'<html><body><p>About us</p><a href="/info/1003/1.htm">One</a></body></html>'
            response = html_response(request, body)
            assert list(crawl.spider.parse_candidate_list(response, **request.cb_kwargs)) == []
            assert crawl.stat(stats.skipped("not_a_list"), ENGLISH_SOURCE) == 1
            assert crawl.stat(stats.COLUMNS_DISCOVERED, ENGLISH_SOURCE) == 0
            assert [walk.key for walk in crawl.spider.walks.walks] == [DDYW]

    run(scenario)


# -- the article phase ---------------------------------------------------------------------------------


def test_a_sites_articles_are_fetched_once_its_list_pages_are_read_then_the_walks_finish(
    tmp_path: Path,
) -> None:
    seed_data_dir(tmp_path / "data", finished_walks=[DDYW])

    async def scenario() -> None:
        async with open_crawl(tmp_path) as crawl:
            spider = crawl.spider
            assert crawl.store.walk_complete(DDYW)
            # The English home page (another host) is still unread: its site does not hold
            # this one's articles back.
            await crawl.read_list(crawl.start_request(DDYW), list_html([5, 4]))
            articles = crawl.scheduled()

            assert sorted(article.url for article in articles) == [article_url(4), article_url(5)]
            for article in articles:
                assert (article.callback, article.errback) == (
                    spider.parse_article_page,
                    spider.request_failed,
                )
                assert article.cb_kwargs["walk"] is crawl.walk()
                assert article.cb_kwargs["source"].name == DDYW_SOURCE
                assert article.cb_kwargs["listed"].url == article.url
            # A kill from here on makes the next run walk the column in full.
            assert not crawl.store.walk_complete(DDYW)
            # Nothing is left: the spider may close, and the walk is finished.
            assert not crawl.idle()
            assert crawl.store.walk_complete(DDYW)

    run(scenario)


def test_article_phase_sends_conditional_rechecks_of_articles_due_on_their_schedule(
    tmp_path: Path,
) -> None:
    # Undated: each is re-checked from its first sight, the first step an hour after it.
    due = known_record(article_url(7), 7, crawled_at=moment_ago(hours=2), published=None)
    fresh = known_record(article_url(8), 8, crawled_at=moment_ago(minutes=5), published=None)
    old = known_record(article_url(6), 6)  # first seen a month after its day: no step due
    seed_data_dir(tmp_path / "data", [due, fresh, old], etag='"v1"')

    async def scenario() -> None:
        async with open_crawl(tmp_path) as crawl:
            assert crawl.stat(stats.RECHECK_REQUESTS, DDYW_SOURCE) == 1
            await crawl.read_list(crawl.start_request(DDYW), list_html([8, 7, 6]))
            [recheck] = await crawl.article_phase()
            assert recheck.url == due["url"]
            assert recheck.headers.get("If-None-Match") == b'"v1"'
            assert recheck.meta["handle_httpstatus_list"] == [304]
            assert recheck.dont_filter
            assert recheck.cb_kwargs["walk"] is None
            assert recheck.cb_kwargs["recheck"] is True
            assert recheck.callback == crawl.spider.parse_article_page
            assert crawl.spider.walks.columns(due["id"]) == [COLUMN]

    run(scenario)


def test_rechecks_past_the_budget_wait_for_the_next_run_newest_first(tmp_path: Path) -> None:
    records = [
        known_record(
            article_url(number), number, crawled_at=moment_ago(hours=2 + number), published=None
        )
        for number in (1, 2, 3)
    ]
    seed_data_dir(tmp_path / "data", records)

    async def scenario() -> None:
        async with open_crawl(tmp_path, NEU_RECHECK_BUDGET=2) as crawl:
            # First seen 3, 4 and 5 hours ago: the two most recent are re-checked.
            rechecks = [recheck.id for recheck in crawl.spider.rechecks]
            assert rechecks == [records[0]["id"], records[1]["id"]]
            assert crawl.stat(stats.RECHECK_REQUESTS, DDYW_SOURCE) == 2
            assert crawl.stat(stats.RECHECK_DEFERRED, DDYW_SOURCE) == 1

    run(scenario)


@pytest.mark.parametrize(
    ("answer", "done"),
    [(304, True), (200, True), (404, True), (410, True), (503, False), ("refused", False)],
)
def test_a_recheck_step_is_done_when_its_answer_arrives(
    tmp_path: Path, answer: int | str, done: bool
) -> None:
    record = known_record(ARTICLE_URL, 1, crawled_at=moment_ago(hours=2), published=None)
    seed_data_dir(tmp_path / "data", [record], etag='"v1"')

    async def scenario() -> None:
        async with open_crawl(tmp_path) as crawl:
            await crawl.read_list(crawl.start_request(DDYW), list_html(hrefs=[ARTICLE_URL]))
            [recheck] = await crawl.article_phase()
            result: Response | Failure = (
                failure_of(DownloadConnectionRefusedError("refused"))
                if answer == "refused"
                else html_response(recheck, golden_page(ARTICLE), status=int(answer))
            )
            await crawl.scrape(result, recheck)
            assert crawl.idle() is False
            assert isinstance(crawl.store, Store)
            # Gone for good (404, 410): asked again, it would fail again.
            assert bool(crawl.store.recheck_candidates(frozenset({DDYW_SOURCE}), 3600)) is not done
            assert crawl.stat(stats.RECHECK_GONE, DDYW_SOURCE) == (answer in (404, 410))
            if answer == 200:  # the page differs from the seeded record: an edit
                [line] = [line for line in read_feed(tmp_path / "data") if line["version"] == 2]
                assert line["id"] == record["id"]

    run(scenario)


def test_recheck_all_asks_for_every_known_article_of_the_crawled_sources(tmp_path: Path) -> None:
    records = [known_record(article_url(number), number) for number in (1, 2)]
    seed_data_dir(tmp_path / "data", records)

    async def scenario() -> None:
        async with open_crawl(tmp_path, recheck="all") as crawl:
            assert sorted(recheck.url for recheck in crawl.spider.rechecks) == sorted(
                record["url"] for record in records
            )
            assert crawl.stat(stats.RECHECK_REQUESTS, DDYW_SOURCE) == 2

    run(scenario)


# -- conditional first list pages -------------------------------------------------------------------

LIST_ETAG = '"list-1"'
LIST_MODIFIED = "Tue, 01 Sep 2026 01:00:00 GMT"


def finished_walk_with_validators(tmp_path: Path, url: str = DDYW) -> None:
    """What a finished walk of the column left: its first page's validators."""
    store = Store(tmp_path / "data")
    try:
        store.set_walk_complete(canonical_url(url), True)
        store.set_list_validators(
            canonical_url(url), PageValidators(LIST_ETAG, LIST_MODIFIED, True)
        )
    finally:
        store.close()


def test_incremental_walk_asks_for_its_first_page_conditionally_and_304_ends_it(
    tmp_path: Path,
) -> None:
    finished_walk_with_validators(tmp_path)

    async def scenario() -> None:
        async with open_crawl(tmp_path) as crawl:
            request = crawl.start_request(DDYW)
            assert request.headers.get("If-None-Match") == LIST_ETAG.encode()
            assert request.headers.get("If-Modified-Since") == LIST_MODIFIED.encode()
            assert request.meta["handle_httpstatus_list"] == [304]
            await crawl.scrape(html_response(request, b"", status=304), request)
            assert crawl.scheduled() == []
            assert crawl.stat(stats.LIST_NOT_MODIFIED, DDYW_SOURCE) == 1
            assert crawl.stat(stats.LIST_PAGES, DDYW_SOURCE) == 0
            assert not crawl.idle()
            assert crawl.store.walk_complete(DDYW)

    run(scenario)


@pytest.mark.parametrize("mode", ["backfill", None])
def test_full_walks_and_later_pages_are_asked_for_unconditionally(
    tmp_path: Path, mode: str | None
) -> None:
    finished_walk_with_validators(tmp_path)
    if mode is None:  # the last walk did not finish
        seed_data_dir(tmp_path / "data")
        store = Store(tmp_path / "data")
        store.set_walk_complete(DDYW, False)
        store.close()

    async def scenario() -> None:
        async with open_crawl(tmp_path, mode) as crawl:
            request = crawl.start_request(DDYW)
            assert b"If-None-Match" not in request.headers
            assert "handle_httpstatus_list" not in request.meta
            body = list_html([3, 2], next_href="/ddyw/2.htm", last_href="/ddyw/1.htm")
            response = html_response(request, body, headers={"ETag": '"list-2"'})
            await crawl.scrape(response, request)
            later = crawl.scheduled()
            assert later and all(b"If-None-Match" not in page.headers for page in later)
            # Kept once the walk finishes, not before (its articles are not fetched yet).
            assert crawl.walk().validators == PageValidators('"list-2"', None, True)
            assert crawl.store.list_validators(DDYW) == PageValidators(
                LIST_ETAG, LIST_MODIFIED, True
            )
            assert crawl.stat(stats.LIST_BYTES, DDYW_SOURCE) == len(body)

    run(scenario)


def test_home_page_links_are_asked_for_conditionally_when_known(tmp_path: Path) -> None:
    news, about = "https://english.neu.edu.cn/news.htm", "https://english.neu.edu.cn/focus.htm"
    finished_walk_with_validators(tmp_path, news)
    store = Store(tmp_path / "data")
    store.set_list_validators(canonical_url(about), PageValidators('"about"', None, False))
    store.close()

    async def scenario() -> None:
        async with open_crawl(tmp_path) as crawl:
            home = crawl.start_request(ENGLISH_HOME)
            body = b'<html><body><a href="/news.htm">News</a><a href="/focus.htm">Focus</a>'
            candidates = list(crawl.spider.parse_home(html_response(home, body), **home.cb_kwargs))
            assert [page.headers.get("If-None-Match") for page in candidates] == [
                LIST_ETAG.encode(),
                b'"about"',
            ]
            for page in candidates:
                await crawl.scrape(html_response(page, b"", status=304), page)
            assert crawl.stat(stats.COLUMNS_DISCOVERED, ENGLISH_SOURCE) == 1
            assert crawl.stat(stats.LIST_NOT_MODIFIED, ENGLISH_SOURCE) == 1
            assert crawl.stat(stats.skipped("not_a_list"), ENGLISH_SOURCE) == 1
            assert crawl.scheduled() == []

    run(scenario)


# -- unreached columns and home pages, counted at the end ------------------------------------------


def test_columns_and_home_pages_never_reached_are_counted_by_reason_at_the_end(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        async with open_crawl(tmp_path, "backfill") as crawl:
            listing, home = crawl.start_request(DDYW), crawl.start_request(ENGLISH_HOME)
            await crawl.scrape(failure_of(DownloadTimeoutError("took too long")), listing)
            await crawl.scrape(failure_of(DownloadConnectionRefusedError("refused")), home)
            assert crawl.stat(stats.unreached("DownloadTimeoutError"), DDYW_SOURCE) == 0
            crawl_stats = crawl.crawler.stats
        assert crawl_stats is not None
        counted = stats.read(crawl_stats.get_stats(), stats.unreached("DownloadTimeoutError"))
        assert counted == 1
        by_source = crawl_stats.get_stats()
        assert stats.read(by_source, stats.unreached("DownloadTimeoutError"), DDYW_SOURCE) == 1
        refused = stats.unreached("DownloadConnectionRefusedError")
        assert stats.read(by_source, refused, ENGLISH_SOURCE) == 1
        assert stats.read(by_source, stats.unreached("crawl_stopped")) == 0

    run(scenario)


def test_columns_still_waiting_when_the_crawl_is_stopped_are_counted_unreached(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        async with open_crawl(tmp_path) as crawl:
            crawl_stats = crawl.crawler.stats
            assert crawl_stats is not None
            # SIGTERM before the column's first page answered.
            await crawl.engine.close_spider_async(reason="shutdown")
        by_source = crawl_stats.get_stats()
        assert stats.read(by_source, stats.unreached("crawl_stopped"), DDYW_SOURCE) == 1
        assert stats.read(by_source, stats.unreached("crawl_stopped")) == 1

    run(scenario)


# -- article pages (an async callback) ------------------------------------------------------------------


async def article_request(crawl: Crawl, url: str = ARTICLE_URL) -> Request:
    """The request the article phase makes for *url*, listed on the column's first page (which
    carries an ETag)."""
    await crawl.read_list(crawl.start_request(DDYW), list_html(hrefs=[url]), {"ETag": LIST_ETAG})
    [request] = await crawl.article_phase()
    assert request.url == url
    return request


def test_article_page_yields_its_record(tmp_path: Path) -> None:
    expected = golden_parse(ARTICLE)

    async def scenario() -> None:
        async with open_crawl(tmp_path, "backfill", NEU_EXTRACT_PROCESSES=0) as crawl:
            request = await article_request(crawl)
            response = html_response(
                request,
                golden_page(ARTICLE),
                headers={"ETag": '"abc"', "Last-Modified": "Sun, 15 Sep 2024 02:00:00 GMT"},
            )
            [item] = await collect(crawl.spider.parse_article_page(response, **request.cb_kwargs))
            record = item.record
            assert_valid_record(dict(record))
            assert record["url"] == canonical_url(ARTICLE_URL)
            assert record["id"] == canonical_id(canonical_url(ARTICLE_URL))
            for key in ("title", "published", "editors", "text", "images", "attachments"):
                assert record[key] == expected[key], key
            assert (record["source"], record["language"]) == (DDYW_SOURCE, "zh")
            assert (record["column"], record["columns"]) == (COLUMN, [COLUMN])
            assert (item.etag, item.last_modified) == ('"abc"', "Sun, 15 Sep 2024 02:00:00 GMT")
            assert item.listed_as is None
            assert crawl.stat(stats.ARTICLES, DDYW_SOURCE) == 1
            assert crawl.stat(stats.ARTICLES) == 1

    run(scenario)


def test_article_reached_through_a_redirect_is_filed_at_its_final_url(tmp_path: Path) -> None:
    final = f"{NEWS}/info/1002/999.htm"

    async def scenario() -> None:
        async with open_crawl(tmp_path, "backfill") as crawl:
            request = await article_request(crawl)
            redirected = request.replace(url=final, meta={"redirect_urls": [ARTICLE_URL]})
            response = html_response(redirected, golden_page(ARTICLE))
            [item] = await collect(
                crawl.spider.parse_article_page(response, **redirected.cb_kwargs)
            )
            assert item.record["url"] == canonical_url(final)
            assert item.listed_as == (canonical_id(canonical_url(ARTICLE_URL)), ARTICLE_URL)
            assert item.record["columns"] == [COLUMN]

    run(scenario)


def test_recheck_answered_not_modified_yields_nothing(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with open_crawl(tmp_path, "backfill") as crawl:
            request = await article_request(crawl)
            response = html_response(request, b"", status=304)
            assert (
                await collect(crawl.spider.parse_article_page(response, **request.cb_kwargs)) == []
            )
            assert crawl.stat(stats.RECHECK_NOT_MODIFIED, DDYW_SOURCE) == 1
            assert crawl.stat(stats.ARTICLES, DDYW_SOURCE) == 0

    run(scenario)


def test_empty_article_page_is_counted_unparsable(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with open_crawl(tmp_path, "backfill") as crawl:
            request = await article_request(crawl)
            response = html_response(request, b"  \n")
            assert (
                await collect(crawl.spider.parse_article_page(response, **request.cb_kwargs)) == []
            )
            assert crawl.stat(stats.skipped("unparsable_article"), DDYW_SOURCE) == 1

    run(scenario)


def test_article_record_reaches_the_feed_through_the_engine(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with open_crawl(tmp_path, "backfill") as crawl:
            request = await article_request(crawl)
            await crawl.scrape(html_response(request, golden_page(ARTICLE)), request)
            assert crawl.stat(stats.feed_outcome("new")) == 1
            assert crawl.stat(stats.NEW, DDYW_SOURCE) == 1
            assert crawl.store.list_validators(DDYW) is None
            assert not crawl.idle()
            # Every article it listed is fetched: the next run may take a 304 for the column.
            assert crawl.store.list_validators(DDYW) == PageValidators(LIST_ETAG, None, True)

    run(scenario)
    [line] = read_feed(tmp_path / "data")
    assert (line["url"], line["version"], line["columns"]) == (
        canonical_url(ARTICLE_URL),
        1,
        [COLUMN],
    )


# -- errbacks: every failure counted by reason; only a transient one leaves the walk unfinished --


@pytest.mark.parametrize(
    ("status", "permanent"), [(404, True), (410, True), (500, False), (503, False)]
)
def test_article_answering_an_http_error(tmp_path: Path, status: int, permanent: bool) -> None:
    async def scenario() -> None:
        async with open_crawl(tmp_path, "backfill") as crawl:
            request = await article_request(crawl)
            await crawl.scrape(
                html_response(request, b"<html>error</html>", status=status), request
            )
            assert crawl.stat(stats.failed(f"http_{status}"), DDYW_SOURCE) == 1
            assert crawl.walk().failed is not permanent
            assert not crawl.idle()  # nothing left: the walks that met no failure are finished
            assert crawl.store.walk_complete(DDYW) is permanent
            # Gone or not, the next run reads the column's first page and asks for it again
            # (no 304 for a page that lists an article not fetched).
            assert crawl.store.list_validators(DDYW) is None

    run(scenario)


@pytest.mark.parametrize(
    ("error", "reason", "permanent"),
    [
        (
            # What Scrapy's download handlers raise past DOWNLOAD_MAXSIZE.
            DownloadCancelledError(
                get_maxsize_msg(20_000_000, 16_777_216, Request(ARTICLE_URL), expected=False)
            ),
            "too_large",
            True,
        ),
        (DownloadTimeoutError("took longer than 30 seconds"), "DownloadTimeoutError", False),
        (DownloadConnectionRefusedError("refused"), "DownloadConnectionRefusedError", False),
    ],
)
def test_article_download_failing(
    tmp_path: Path, error: Exception, reason: str, permanent: bool
) -> None:
    async def scenario() -> None:
        async with open_crawl(tmp_path, "backfill") as crawl:
            request = await article_request(crawl)
            await crawl.scrape(failure_of(error), request)
            assert crawl.stat(stats.failed(reason), DDYW_SOURCE) == 1
            assert crawl.walk().failed is not permanent
            crawl.idle()
            assert crawl.store.walk_complete(DDYW) is permanent

    run(scenario)


@pytest.mark.parametrize(("status", "permanent"), [(404, True), (503, False)])
def test_list_page_answering_an_http_error(tmp_path: Path, status: int, permanent: bool) -> None:
    async def scenario() -> None:
        async with open_crawl(tmp_path, "backfill") as crawl:
            request = crawl.start_request(DDYW)
            await crawl.scrape(html_response(request, b"", status=status), request)
            assert crawl.stat(stats.failed(f"http_{status}"), DDYW_SOURCE) == 1
            assert crawl.walk().failed is not permanent
            assert not crawl.idle()
            assert crawl.store.walk_complete(DDYW) is permanent

    run(scenario)


def test_home_page_failure_is_counted_for_its_source(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with open_crawl(tmp_path) as crawl:
            home = crawl.start_request(ENGLISH_HOME)
            await crawl.scrape(html_response(home, b"", status=503), home)
            assert crawl.stat(stats.failed("http_503"), ENGLISH_SOURCE) == 1
            assert not crawl.walk().failed

    run(scenario)


# -- callbacks that raise (spider_error) -----------------------------------------------------------


class LayoutChangedError(Exception):
    """Stands for a bug that makes a parser raise on a page it has never seen."""


def raise_layout_changed(*args: object, **kwargs: object) -> None:
    raise LayoutChangedError("unexpected markup")


def test_list_callback_that_raises_leaves_its_walk_unfinished(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(neu_news_module, "parse_list", raise_layout_changed)

    async def scenario() -> None:
        async with open_crawl(tmp_path, "backfill") as crawl:
            request = crawl.start_request(DDYW)
            await crawl.read_list(request, list_html([3, 2]))
            assert crawl.crawler.stats is not None
            assert crawl.crawler.stats.get_value("spider_exceptions/LayoutChangedError") == 1
            assert crawl.stat(stats.failed("callback_LayoutChangedError"), DDYW_SOURCE) == 1
            assert crawl.stat(stats.failed("callback_LayoutChangedError")) == 1
            assert crawl.walk().failed
            assert not crawl.idle()
            assert not crawl.store.walk_complete(DDYW)

    run(scenario)


def test_async_article_callback_that_raises_leaves_its_walk_unfinished(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario() -> None:
        async with open_crawl(tmp_path, "backfill") as crawl:
            request = await article_request(crawl)
            monkeypatch.setattr(extraction_module, "record_of_page", raise_layout_changed)
            await crawl.scrape(html_response(request, golden_page(ARTICLE)), request)
            assert crawl.stat(stats.failed("callback_LayoutChangedError"), DDYW_SOURCE) == 1
            assert crawl.walk().failed
            assert crawl.stat(stats.feed_outcome("new")) == 0
            crawl.idle()
            assert not crawl.store.walk_complete(DDYW)

    run(scenario)


def test_home_callback_that_raises_is_counted_for_its_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(neu_news_module, "find_column_links", raise_layout_changed)

    async def scenario() -> None:
        async with open_crawl(tmp_path) as crawl:
            home = crawl.start_request(ENGLISH_HOME)
            await crawl.scrape(html_response(home, b"<html><body>home</body></html>"), home)
            assert crawl.stat(stats.failed("callback_LayoutChangedError"), ENGLISH_SOURCE) == 1
            assert not crawl.walk().failed

    run(scenario)


def test_spider_error_without_a_response_is_handled(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with open_crawl(tmp_path) as crawl:
            # As ExecutionEngine._process_start_next sends it.
            results = crawl.crawler.signals.send_catch_log(
                signal=signals.spider_error,
                failure=failure_of(LayoutChangedError("start() broke")),
                response=None,
                spider=crawl.spider,
            )
            handler_failures = [result for _, result in results if isinstance(result, Failure)]
            assert handler_failures == []

    run(scenario)


# -- what a page may cost ---------------------------------------------------------------------------


def test_list_page_of_more_tags_than_the_limit_is_not_parsed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(neu_news_module, "parse_list", raise_layout_changed)

    async def scenario() -> None:
        async with open_crawl(tmp_path, "backfill", NEU_MAX_PAGE_TAGS=20) as crawl:
            body = list_html(range(20, 0, -1))
            assert body.count(b"<") > 20
            await crawl.read_list(crawl.start_request(DDYW), body)
            assert crawl.stat(stats.TOO_MANY_TAGS, DDYW_SOURCE) == 1
            assert crawl.stat(stats.skipped("unparsable_list"), DDYW_SOURCE) == 1
            assert crawl.stat(stats.failed("callback_LayoutChangedError")) == 0  # never parsed
            assert crawl.scheduled() == []

    run(scenario)


def test_callback_out_of_memory_stops_the_crawl_as_unfinished(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def out_of_memory(*args: object, **kwargs: object) -> None:
        raise MemoryError

    monkeypatch.setattr(neu_news_module, "parse_list", out_of_memory)

    async def scenario() -> None:
        closed: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        async with open_crawl(tmp_path, "backfill") as crawl:
            # The harness starts no extensions: this one is built as Scrapy builds it.
            StopOnMemoryError.from_crawler(crawl.crawler)
            crawl.crawler.signals.connect(
                lambda reason: closed.set_result(reason), signal=signals.spider_closed, weak=False
            )
            await crawl.read_list(crawl.start_request(DDYW), list_html([3, 2]))
            assert crawl.stat(stats.failed("callback_MemoryError"), DDYW_SOURCE) == 1
            assert crawl.walk().failed
            assert await closed == stats.OUT_OF_MEMORY

    run(scenario)


# -- list phases per site: sources of one host wait for each other, other hosts do not ---------

MTDD = f"{NEWS}/mtdd.htm"
MTDD_COLUMN = "媒体东大"
ONE_HOST_TOML = f"""
[[sources]]
name = "{DDYW_SOURCE}"
start_urls = ["{DDYW}"]
language = "zh"
column = "{COLUMN}"

[[sources]]
name = "neunews-mtdd"
start_urls = ["{MTDD}"]
language = "zh"
column = "{MTDD_COLUMN}"

[[sources]]
name = "{ENGLISH_SOURCE}"
start_urls = ["{ENGLISH_HOME}"]
language = "en"
"""


def test_sources_of_one_host_fetch_their_articles_once_all_their_list_pages_are_read(
    tmp_path: Path,
) -> None:
    (tmp_path / "sources.toml").write_text(ONE_HOST_TOML, encoding="utf-8")

    async def scenario() -> None:
        async with open_crawl(tmp_path, "backfill") as crawl:
            await crawl.read_list(crawl.start_request(DDYW), list_html([5, 4]))
            # 媒体东大, on the same host, may list these too: they wait for its page.
            assert crawl.scheduled() == []
            await crawl.read_list(crawl.start_request(MTDD), list_html([4, 3]))
            # Its articles go now, the English home page (another host) still unread.
            articles = crawl.scheduled()
            assert sorted(article.url for article in articles) == [
                article_url(3),
                article_url(4),
                article_url(5),
            ]
            assert crawl.spider.walks.columns(article_id(article_url(4))) == [
                COLUMN,
                MTDD_COLUMN,
            ]

    run(scenario)


def test_an_article_in_two_columns_is_the_record_of_the_first_source_in_the_file(
    tmp_path: Path,
) -> None:
    (tmp_path / "sources.toml").write_text(ONE_HOST_TOML, encoding="utf-8")

    async def scenario() -> None:
        async with open_crawl(tmp_path, "backfill", NEU_EXTRACT_PROCESSES=0) as crawl:
            # 媒体东大, second in the file, is read first.
            mtdd_page = list_html(hrefs=[ARTICLE_URL], title=MTDD_COLUMN)
            await crawl.read_list(crawl.start_request(MTDD), mtdd_page)
            await crawl.read_list(crawl.start_request(DDYW), list_html(hrefs=[ARTICLE_URL]))
            [request] = crawl.scheduled()
            assert request.cb_kwargs["source"].name == DDYW_SOURCE
            await crawl.scrape(html_response(request, golden_page(ARTICLE)), request)
            assert crawl.stat(stats.NEW, DDYW_SOURCE) == 1
            assert crawl.stat(stats.skipped("listed_again"), "neunews-mtdd") == 1

    run(scenario)
    [line] = read_feed(tmp_path / "data")
    assert (line["source"], line["column"], line["columns"]) == (
        DDYW_SOURCE,
        COLUMN,
        [COLUMN, MTDD_COLUMN],
    )


def test_a_failed_list_page_ends_its_sites_wait_too(tmp_path: Path) -> None:
    (tmp_path / "sources.toml").write_text(ONE_HOST_TOML, encoding="utf-8")

    async def scenario() -> None:
        async with open_crawl(tmp_path, "backfill") as crawl:
            await crawl.read_list(crawl.start_request(DDYW), list_html([5, 4]))
            mtdd = crawl.start_request(MTDD)
            await crawl.scrape(html_response(mtdd, b"<html>busy</html>", status=503), mtdd)
            assert crawl.stat(stats.failed("http_503"), "neunews-mtdd") == 1
            articles = crawl.scheduled()
            assert sorted(article.url for article in articles) == [article_url(4), article_url(5)]

    run(scenario)


def test_a_list_page_dropped_as_a_duplicate_ends_its_wait(tmp_path: Path) -> None:
    # 媒体东大 starts at the second page of 东大要闻: that page, numbered on 东大要闻's first
    # page, is asked for twice, and the scheduler drops the second request.
    page_two = f"{NEWS}/ddyw/1.htm"
    (tmp_path / "sources.toml").write_text(ONE_HOST_TOML.replace(MTDD, page_two), encoding="utf-8")

    async def scenario() -> None:
        async with open_crawl(tmp_path, "backfill") as crawl:
            second = crawl.start_request(page_two)
            crawl.engine.crawl(second)
            assert crawl.scheduled() == [second]
            body = list_html([5, 4], next_href="/ddyw/1.htm", last_href="/ddyw/1.htm")
            await crawl.read_list(crawl.start_request(DDYW), body)
            assert crawl.scheduled() == []  # dropped: 媒体东大's page is still unread
            await crawl.read_list(second, list_html([3]))
            articles = crawl.scheduled()
            assert sorted(article.url for article in articles) == [
                article_url(3),
                article_url(4),
                article_url(5),
            ]

    run(scenario)


def many_hosts(hosts: int) -> list[Source]:
    return [
        Source(f"site{n}", (f"https://site{n}.example.edu.cn/list.htm",), "zh")
        for n in range(hosts)
    ]


def test_concurrent_requests_unless_set_lets_every_host_have_its_requests_at_once() -> None:
    settings = Settings({"CONCURRENT_REQUESTS_PER_DOMAIN": 1})
    sources = [*many_hosts(40), Source("more", ("https://site0.example.edu.cn/other.htm",), "zh")]
    size_concurrency(settings, sources)
    # 41 start requests that may wait for robots.txt, and 40 hosts transferring one each.
    assert settings.getint("CONCURRENT_REQUESTS") == 81
    settings = Settings({"CONCURRENT_REQUESTS_PER_DOMAIN": 2})
    size_concurrency(settings, sources)
    assert settings.getint("CONCURRENT_REQUESTS") == 41 + 80


def test_concurrent_requests_set_or_enough_for_the_hosts_is_left_alone() -> None:
    settings = Settings()
    settings.set("CONCURRENT_REQUESTS", 24, priority="cmdline")
    size_concurrency(settings, many_hosts(40))
    assert settings.getint("CONCURRENT_REQUESTS") == 24
    settings = Settings({"CONCURRENT_REQUESTS_PER_DOMAIN": 1})
    size_concurrency(settings, many_hosts(3))
    assert settings.getint("CONCURRENT_REQUESTS") == 16  # Scrapy's default
