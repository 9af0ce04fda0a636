"""Columns found by their label, and found again: when a column's list page is gone (404, 410,
no article links), its site's home page is read for the column's label and the page linked
there is walked instead, and remembered.

From the pure label finder, through the spider's routing (built responses on a crawler from
``get_crawler``) and the replica's "column that moves", to real crawls of the replica.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import urllib.error
import urllib.request
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from apscheduler.triggers.interval import IntervalTrigger
from scrapy import Request
from scrapy.exceptions import IgnoreRequest

from crawler import stats
from crawler.extract.columns import find_column, site_root
from crawler.extract.listing import parse_list
from crawler.extract.urls import canonical_url
from crawler.middlewares import SourceHostsMiddleware
from crawler.sources import load_sources
from crawler.store.datadir import Store
from crawler.walks import Search
from replica import Replica, ReplicaServer
from scheduler.config import Job
from scheduler.crawl import ChildExit
from scheduler.health import OK, SourceHealth, source_figures
from scheduler.runner import Crawled, run_record
from tests.conftest import read_feed, run_crawl
from tests.test_crawl_e2e import check_records
from tests.test_spider_callbacks import (
    COLUMN,
    DDYW,
    DDYW_SOURCE,
    ENGLISH_HOME,
    NEWS,
    SOURCES_TOML,
    Crawl,
    article_url,
    html_response,
    list_html,
    open_crawl,
    run,
)

MOVED = f"{NEWS}/xwzx/ddyw.htm"


def home_html(*links: tuple[str, str]) -> str:
    """A home page whose menu links each (href, text)."""
    items = "".join(f'<li><a href="{href}">{text}</a></li>' for href, text in links)
    return (
        "<!DOCTYPE html><html><head><title>东北大学新闻网</title></head><body>"
        f'<ul class="nav"><li><a href="/index.htm">首页</a></li>{items}</ul>'
        '<div class="news"><a href="/info/1002/5.htm">东大要闻：一篇文章</a></div>'
        "</body></html>"
    )


# -- the label finder (pure) ------------------------------------------------------------------------


def test_site_root_is_the_origin_of_the_page() -> None:
    assert site_root("http://127.0.0.1:8001/xsky/xsdt.htm?a=1") == "http://127.0.0.1:8001/"


def test_link_whose_text_is_the_label_wins_over_one_that_contains_it() -> None:
    html = home_html(("/more/ddyw.htm", "更多东大要闻"), ("xwzx/ddyw.htm", "\u3000东大要闻 "))
    assert find_column(html, f"{NEWS}/index.htm", "东大要闻") == MOVED


def test_label_and_link_text_are_compared_with_whitespace_normalised() -> None:
    html = home_html(("/more/news.htm", "More Campus News"), ("/news.htm", " Campus\n\t news "))
    assert find_column(html, f"{NEWS}/", "Campus  News") == f"{NEWS}/news.htm"


def test_link_that_contains_the_label_is_taken_when_none_is_it() -> None:
    html = home_html(("/mtdd.htm", "媒体东大"), ("/news/focus.htm", "More FOCUS &gt;&gt;"))
    assert find_column(html, f"{NEWS}/", "Focus") == f"{NEWS}/news/focus.htm"


def test_link_titled_with_the_label_counts_as_the_label() -> None:
    html = home_html(('/xwzx/ddyw.htm" title="东大要闻', '<img src="/a.png" alt="">'))
    assert find_column(html, f"{NEWS}/", "东大要闻") == MOVED


def test_no_link_with_the_label_is_no_answer() -> None:
    html = home_html(("/mtdd.htm", "媒体东大"))
    assert find_column(html, f"{NEWS}/", "东大要闻") is None
    assert find_column("", f"{NEWS}/", "东大要闻") is None


def test_links_off_the_site_or_not_to_list_pages_do_not_count() -> None:
    html = home_html(
        ("https://www.neu.edu.cn/ddyw.htm", "东大要闻"),  # another host
        ("http://neunews.neu.edu.cn:8080/ddyw.htm", "东大要闻"),  # another port
        ("/info/1002/7.htm", "东大要闻"),  # an article
        ("/docs/ddyw.pdf", "东大要闻"),  # a document
    )
    assert find_column(html, f"{NEWS}/", "东大要闻") is None
    html = home_html(
        ("https://www.neu.edu.cn/ddyw.htm", "东大要闻"), ("/xwzx/ddyw.htm", "东大要闻")
    )
    assert find_column(html, f"{NEWS}/", "东大要闻") == MOVED


def test_two_pages_with_the_label_are_ambiguous_but_one_page_linked_twice_is_not() -> None:
    twice = home_html(("/xwzx/ddyw.htm", "东大要闻"), ("../xwzx/ddyw.htm#top", "东大要闻"))
    assert find_column(twice, f"{NEWS}/", "东大要闻") == MOVED
    two = home_html(("/xwzx/ddyw.htm", "东大要闻"), ("/old/ddyw.htm", "东大要闻"))
    assert find_column(two, f"{NEWS}/", "东大要闻") is None
    two_partial = home_html(("/a.htm", "东大要闻一"), ("/b.htm", "东大要闻二"))
    assert find_column(two_partial, f"{NEWS}/", "东大要闻") is None


# -- the spider's routing (built responses) ---------------------------------------------------------


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The crawl's own warnings (Scrapy's about disabled components aside)."""
    return [
        record.getMessage()
        for record in caplog.records
        if record.levelno >= logging.WARNING and record.name.startswith("crawler.")
    ]


@pytest.mark.parametrize("status", [404, 410])
def test_gone_first_list_page_of_a_labelled_column_asks_its_home_page(
    tmp_path: Path, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        async with open_crawl(tmp_path) as crawl:
            request = crawl.start_request(DDYW)
            await crawl.scrape(html_response(request, b"", status=status), request)
            [home] = crawl.scheduled()
            assert home.url == f"{NEWS}/"
            assert (home.callback, home.errback) == (
                crawl.spider.parse_search_home,
                crawl.spider.request_failed,
            )
            assert home.dont_filter  # other columns of the site may be looked for too
            assert home.cb_kwargs == {"walk": crawl.walk()}
            assert crawl.walk().search is Search.HOME
            assert crawl.stat(stats.failed(f"http_{status}"), DDYW_SOURCE) == 1

    with caplog.at_level(logging.INFO):
        run(scenario)
    assert warnings(caplog) == []  # the search, not the 404, is what is worth a warning


def test_first_list_page_without_article_links_asks_its_home_page_not_its_pager(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        async with open_crawl(tmp_path) as crawl:
            request = crawl.start_request(DDYW)
            await crawl.read_list(request, list_html([], next_href="/ddyw/2.htm"))
            assert [page.url for page in crawl.scheduled()] == [f"{NEWS}/"]
            assert crawl.stat(stats.LIST_PAGES, DDYW_SOURCE) == 1

    run(scenario)


def test_gone_later_page_or_discovered_column_is_not_looked_for(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with open_crawl(tmp_path, "backfill") as crawl:
            first = crawl.start_request(DDYW)
            await crawl.read_list(first, list_html([5, 4], next_href="/ddyw/2.htm"))
            [page_2] = crawl.scheduled()
            await crawl.scrape(html_response(page_2, b"", status=404), page_2)
            # The site has no list page left: its articles go, and no home page for the label.
            sent = crawl.scheduled()
            assert sorted(request.url for request in sent) == [article_url(4), article_url(5)]
            assert {request.callback for request in sent} == {crawl.spider.parse_article_page}
            source = crawl.start_request(ENGLISH_HOME).cb_kwargs["source"]
            url = "https://english.neu.edu.cn/news.htm"
            gone = Request(
                url,
                callback=crawl.spider.parse_list_page,
                errback=crawl.spider.request_failed,
                cb_kwargs={"walk": crawl.spider.walks.start(url, source, "News")},
            )
            await crawl.scrape(html_response(gone, b"", status=404), gone)
            assert crawl.scheduled() == []
            assert crawl.stat(stats.failed("http_404")) == 2
            assert [walk.search for walk in crawl.spider.walks.walks] == [Search.NONE] * 2

    run(scenario)


async def gone_to_home(crawl: Crawl) -> Request:
    """The configured ddyw page answers 404: the home request that follows."""
    request = crawl.start_request(DDYW)
    await crawl.scrape(html_response(request, b"", status=404), request)
    [home] = crawl.scheduled()
    return home


def test_page_linked_with_the_label_is_walked_in_place_and_remembered_once_it_lists(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        async with open_crawl(tmp_path) as crawl:
            home = await gone_to_home(crawl)
            page = home_html(("/mtdd.htm", "媒体东大"), ("xwzx/ddyw.htm", COLUMN))
            await crawl.scrape(html_response(home, page.encode()), home)
            [moved] = crawl.scheduled()
            assert moved.url == MOVED
            assert moved.callback == crawl.spider.parse_list_page
            assert moved.dont_filter
            walk = moved.cb_kwargs["walk"]
            assert (walk.relocated_from, walk.configured, walk.column) == (DDYW, DDYW, COLUMN)
            assert crawl.spider.walks.walks == [walk]
            store = crawl.store
            assert isinstance(store, Store)
            assert store.relocated_column(DDYW_SOURCE, COLUMN, canonical_url(DDYW)) is None

            await crawl.read_list(moved, list_html([5, 4]))
            assert store.relocated_column(DDYW_SOURCE, COLUMN, canonical_url(DDYW)) == MOVED
            assert crawl.stat(stats.RELOCATED, DDYW_SOURCE) == 1
            articles = await crawl.article_phase()
            assert {article.cb_kwargs["walk"].key for article in articles} == {walk.key}
            assert not crawl.idle()
            assert crawl.store.walk_complete(MOVED)

        async with open_crawl(tmp_path) as again:
            [first] = [request for request in again.start_requests if request.url != ENGLISH_HOME]
            assert first.url == MOVED
            assert first.cb_kwargs["walk"].configured == DDYW

    with caplog.at_level(logging.INFO):
        run(scenario)
    assert warnings(caplog) == [
        f"Column '{COLUMN}' of source {DDYW_SOURCE} moved: {DDYW} -> {MOVED}"
    ]


def test_home_page_without_the_label_reports_the_column_not_found(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        async with open_crawl(tmp_path) as crawl:
            home = await gone_to_home(crawl)
            page = home_html(("/mtdd.htm", "媒体东大"))
            await crawl.scrape(html_response(home, page.encode()), home)
            assert crawl.scheduled() == []
            assert crawl.stat(stats.COLUMN_NOT_FOUND, DDYW_SOURCE) == 1
            assert crawl.stat(stats.LIST_PAGES, DDYW_SOURCE) == 0  # the source fails, as before

    with caplog.at_level(logging.INFO):
        run(scenario)
    [warning] = warnings(caplog)
    assert f"Column '{COLUMN}' of source {DDYW_SOURCE} not found: {DDYW} is gone" in warning


@pytest.mark.parametrize(("status", "searched"), [(404, False), (503, True)])
def test_failing_home_page_ends_the_search(tmp_path: Path, status: int, searched: bool) -> None:
    async def scenario() -> None:
        async with open_crawl(tmp_path) as crawl:
            home = await gone_to_home(crawl)
            await crawl.scrape(html_response(home, b"", status=status), home)
            assert crawl.scheduled() == []  # never the home page again
            # Gone: the column is not found; struggling: the walk is unfinished, tried next run.
            assert crawl.stat(stats.COLUMN_NOT_FOUND, DDYW_SOURCE) == int(not searched)
            assert crawl.walk().failed is searched

    run(scenario)


def test_gone_page_found_by_the_label_ends_the_search_not_found(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with open_crawl(tmp_path) as crawl:
            home = await gone_to_home(crawl)
            await crawl.scrape(html_response(home, home_html((MOVED, COLUMN)).encode()), home)
            [moved] = crawl.scheduled()
            await crawl.scrape(html_response(moved, b"", status=410), moved)
            assert crawl.scheduled() == []
            assert crawl.stat(stats.COLUMN_NOT_FOUND, DDYW_SOURCE) == 1
            assert crawl.stat(stats.RELOCATED, DDYW_SOURCE) == 0

    run(scenario)


# -- off-site requests, per source; a source's extra hosts ------------------------------------------


def test_offsite_requests_are_counted_for_their_source_and_extra_hosts_pass(
    tmp_path: Path,
) -> None:
    (tmp_path / "sources.toml").write_text(
        SOURCES_TOML.replace('cms = "vsb"', 'cms = "vsb"\nhosts = ["www.neu.edu.cn"]'),
        encoding="utf-8",
    )

    async def scenario() -> None:
        async with open_crawl(tmp_path) as crawl:
            middleware = crawl.crawler.get_downloader_middleware(SourceHostsMiddleware)
            assert middleware is not None
            walk = {"walk": crawl.walk()}
            middleware.process_request(
                Request("https://www.neu.edu.cn/info/1/2.htm", cb_kwargs=walk)
            )
            for url in ("https://example.com/a.htm", "https://neunews.neu.edu.cn:81/"):
                with pytest.raises(IgnoreRequest):
                    middleware.process_request(Request(url, cb_kwargs=walk))
            home_source = crawl.start_request(ENGLISH_HOME).cb_kwargs
            with pytest.raises(IgnoreRequest):
                middleware.process_request(Request("https://example.com/", cb_kwargs=home_source))
            with pytest.raises(IgnoreRequest):
                middleware.process_request(Request("https://example.com/robots.txt"))
            assert crawl.stat(stats.skipped("offsite"), DDYW_SOURCE) == 2
            assert crawl.stat(stats.skipped("offsite"), "english") == 1
            assert crawl.stat(stats.skipped("offsite")) == 4
            assert "www.neu.edu.cn" in crawl.spider.hosts

    run(scenario)


# -- the replica's column that moves ----------------------------------------------------------------


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read().decode("utf-8")


def post(url: str) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=b"", method="POST")
    status, body = (0, "")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            status, body = response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        with error:
            status, body = error.code, error.read().decode("utf-8")
    return status, json.loads(body)


@pytest.mark.parametrize(
    ("site", "column", "new_path", "status"),
    [("news", "ddyw", "/xwzx/ddyw.htm", 404), ("college", "xwdt", "/news/list.htm", 410)],
)
def test_moved_column_is_linked_from_home_at_its_new_url_with_its_articles_reachable(
    replica: Replica, server: ReplicaServer, site: str, column: str, new_path: str, status: int
) -> None:
    base = server.base_url(site)
    label = replica.site(site).column(column).label
    before = [article.path for article in replica.articles(site, column)]
    assert replica.pages(site, column) >= 2

    old_path = replica.move_column(site, column, new_path, status=status)
    new = replica.publish(site, column, n=1)

    assert fetch(base + old_path)[0] == status
    home = fetch(base + "/")[1]
    assert find_column(home, base + "/", label) == base + new_path
    code, first = fetch(base + new_path)
    assert code == 200
    page = parse_list(first, base + new_path)
    assert page is not None
    listed = [article.url for article in page.articles]
    assert listed == [base + path for path in [new[0].path, *before][: replica.page_size]]
    assert page.next_url is not None and fetch(page.next_url)[0] == 200
    assert all(fetch(base + path)[0] == 200 for path in before[:2])


def test_move_switch_refuses_what_no_redesign_does(replica: Replica) -> None:
    for path in ("/mtdd.htm", "/index.htm", "xwzx/ddyw.htm", "/xwzx/ddyw.html"):
        with pytest.raises(ValueError, match="cannot move"):
            replica.move_column("news", "ddyw", path)
    with pytest.raises(ValueError, match="404 or 410"):
        replica.move_column("news", "ddyw", "/xwzx/ddyw.htm", status=301)
    with pytest.raises(KeyError):
        replica.move_column("news", "nope", "/xwzx/ddyw.htm")


def test_move_switch_over_http_and_moving_back(replica: Replica, server: ReplicaServer) -> None:
    news = server.base_url("news")
    assert post(news + "/__replica__/move?column=ddyw&to=/xwzx/ddyw.htm&status=410") == (
        200,
        {"site": "news", "from": "/ddyw.htm", "to": "/xwzx/ddyw.htm"},
    )
    assert fetch(news + "/ddyw.htm")[0] == 410
    assert post(news + "/__replica__/move?column=nope&to=/a.htm")[0] == 400
    replica.move_column("news", "ddyw", "/ddyw.htm")
    assert fetch(news + "/ddyw.htm")[0] == 200
    assert fetch(news + "/xwzx/ddyw.htm")[0] == 404


# -- end to end: the next incremental run finds the moved column ------------------------------------


def run_line(stats: Mapping[str, Any], sources: Path) -> dict[str, Any]:
    """The scheduler's run history line of a crawl of every source, from its stats."""
    names = tuple(source.name for source in load_sources(sources))
    now = datetime.now(UTC)
    job = Job("all", IntervalTrigger(minutes=30), names, 1800.0, "every source")
    crawled = Crawled(now, now, ChildExit(0, timed_out=False, stopped=False), dict(stats), "")
    figures = {name: source_figures(stats, name) for name in names}
    health = {name: SourceHealth(OK, (), None) for name in names}
    return run_record("run", job, crawled, figures, health, OK)


def crawl_warnings(log: str) -> list[str]:
    """The crawl's own warnings in a crawl log (Scrapy's about disabled components aside)."""
    return [line for line in log.splitlines() if "[crawler." in line and "WARNING" in line]


def test_moved_column_is_found_by_its_label_on_the_next_run_and_then_walked_directly(
    tmp_path: Path, replica: Replica, server: ReplicaServer, sources_file: Path
) -> None:
    data = tmp_path / "data"
    backfill = run_crawl(sources_file, data, tmp_path / "run1", "-a", "mode=backfill")
    assert backfill.returncode == 0, backfill.stderr
    known = {line["url"] for line in read_feed(data)}
    assert known == set(replica.expected_records(server))

    old_path = replica.move_column("news", "ddyw", "/xwzx/ddyw.htm")
    published = replica.publish("news", "ddyw", n=2)
    server.clear_log()
    second = run_crawl(sources_file, data, tmp_path / "run2")
    assert second.returncode == 0, second.stderr

    # Its new articles landed, exactly as the replica rendered them, and nothing else.
    expected = replica.expected_records(server)
    news = server.base_url("news")
    new_urls = {news + article.path for article in published}
    assert {line["url"] for line in read_feed(data)} == known | new_urls == set(expected)
    check_records(second.items, {url: expected[url] for url in new_urls})
    assert second.stat(stats.of_source("news-ddyw", stats.RELOCATED)) == 1
    assert second.stat(stats.total(stats.RELOCATED)) == 1
    [warning] = crawl_warnings(second.log)
    assert f"moved: {news}{old_path} -> {news}/xwzx/ddyw.htm" in warning
    with sqlite3.connect(data / "state.sqlite3") as db:
        rows = db.execute("SELECT source, label, url FROM relocated_columns").fetchall()
    assert rows == [("news-ddyw", "东大要闻", f"{news}/xwzx/ddyw.htm")]
    assert run_line(second.stats, sources_file)["relocated"] == {"news-ddyw": 1}

    # The old page, the home page, the new first page and the new articles; every other
    # column's first page only: none is walked again.
    first_pages = [column.list_path for site in ("news", "english", "college")
                   for column in replica.site(site).columns]  # fmt: skip
    expected_paths = ["/robots.txt"] * 3 + first_pages + [old_path, "/"]
    expected_paths += [article.path for article in published]
    requested = sorted(entry.path for entry in server.request_log)
    assert requested == sorted(expected_paths)
    assert second.stat("downloader/request_count") == len(expected_paths) <= 24

    server.clear_log()
    third = run_crawl(sources_file, data, tmp_path / "run3")
    assert third.returncode == 0, third.stderr
    assert sorted(entry.path for entry in server.request_log) == sorted(
        ["/robots.txt"] * 3 + first_pages
    )
    assert third.stat(stats.total(stats.RELOCATED)) == 0
    assert run_line(third.stats, sources_file)["relocated"] == {}
    assert crawl_warnings(third.log) == []
    assert len(read_feed(data)) == len(expected)
