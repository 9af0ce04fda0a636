"""Conditional list pages (issue 12, Deliver 2) and unreached columns (Deliver 3's contract).

An incremental walk asks for its column's first list page with the validators of that page's
last 200; the replica, as a CMS's static pages are served, answers 304 while the page is
unchanged. An unchanged site then costs robots.txt and one conditional request per column, with
next to no body bytes. A column whose first page never answered is counted ``unreached/<reason>``
at the end of the run, for the crawl's exit code.

The real spider (``scrapy crawl neu_news`` subprocesses) against the replica's HTTP servers.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
import urllib.request
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from urllib.error import HTTPError

import pytest

from crawler import stats
from crawler.items import CHINA_TZ
from replica import FaultConfig, Replica, ReplicaServer
from tests.conftest import PROJECT_ROOT, CrawlResult, crawl_command, read_feed, run_crawl

RUNS_AFTER_BACKFILL = 3


def column_paths(replica: Replica) -> list[str]:
    return [column.list_path for site in replica.sites.values() for column in site.columns]


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except HTTPError as error:  # urllib raises for a 304
        return error.code, dict(error.headers), error.read()


# -- the replica serves list pages as a CMS's static pages are served ---------------------------


def test_replica_list_pages_answer_304_until_the_column_changes(
    replica: Replica, server: ReplicaServer
) -> None:
    url = server.base_url("news") + "/ddyw.htm"
    status, headers, body = get(url)
    assert status == 200 and body
    etag, modified = headers["ETag"], headers["Last-Modified"]
    assert get(url, {"If-None-Match": etag})[0] == 304
    assert get(url, {"If-Modified-Since": modified})[0] == 304
    assert get(url, {"If-None-Match": '"other"'})[0] == 200

    replica.publish("news", "ddyw", n=1)
    status, after, _ = get(url, {"If-None-Match": etag, "If-Modified-Since": modified})
    assert status == 200
    assert after["ETag"] != etag and after["Last-Modified"] != modified

    # An edit shows on the lists that carry its title; a layout change on every page.
    etag = after["ETag"]
    replica.edit(replica.articles("news", "ddyw")[0], title="改过的标题")
    assert get(url, {"If-None-Match": etag})[0] == 200
    etag = get(url)[1]["ETag"]
    replica.break_layout("news", "no_links")
    assert get(url, {"If-None-Match": etag})[0] == 200


# -- an unchanged site --------------------------------------------------------------------------------


def backfill_then_incremental_runs(
    tmp_path: Path, server: ReplicaServer, sources: Path
) -> tuple[CrawlResult, list[tuple[CrawlResult, Counter[tuple[str, int]]]]]:
    """A backfill, then incremental runs with the default settings: each run's result and the
    (path, status) of the requests the sites answered."""
    data = tmp_path / "data"
    backfill = run_crawl(sources, data, tmp_path / "backfill", "-a", "mode=backfill")
    assert backfill.returncode == 0, backfill.stderr
    runs = []
    for number in range(RUNS_AFTER_BACKFILL):
        server.clear_log()
        result = run_crawl(sources, data, tmp_path / f"run{number}")
        assert result.returncode == 0, result.stderr
        runs.append((result, Counter((entry.path, entry.status) for entry in server.request_log)))
    return backfill, runs


def test_runs_after_a_backfill_of_an_old_archive_cost_one_conditional_request_per_column(
    tmp_path: Path, replica: Replica, server: ReplicaServer, sources_file: Path
) -> None:
    newest = max(article.date for article in replica.articles())
    assert newest < datetime.now(CHINA_TZ).date() - timedelta(days=8), "the archive is old"
    backfill, runs = backfill_then_incremental_runs(tmp_path, server, sources_file)
    columns = column_paths(replica)
    backfill_bytes = backfill.stat(stats.total(stats.LIST_BYTES))
    assert backfill_bytes > 0
    assert backfill.stat(stats.total(stats.LIST_PAGES)) > len(columns)
    for result, requests in runs:
        # robots.txt, and each column's first page answered 304: no article is asked for.
        assert requests == Counter(
            {("/robots.txt", 200): len(replica.sites), **{(path, 304): 1 for path in columns}}
        )
        lists = [(path, status) for (path, status) in requests.elements() if path != "/robots.txt"]
        not_modified = sum(status == 304 for _path, status in lists)
        assert not_modified >= 0.8 * len(lists)
        assert result.stat(stats.total(stats.LIST_NOT_MODIFIED)) == len(columns)
        assert result.stat(stats.total(stats.LIST_PAGES)) == 0
        assert result.stat(stats.total(stats.LIST_BYTES)) < 0.02 * backfill_bytes
        assert result.stat(stats.total(stats.RECHECK_REQUESTS)) == 0
        for source in ("news-ddyw", "english-focus", "college-xwdt"):
            assert result.stat(stats.of_source(source, stats.LIST_NOT_MODIFIED)) == 1
    print(
        f"after a backfill of {backfill.stat(stats.total(stats.LIST_PAGES))} list pages "
        f"({backfill_bytes} bytes): {RUNS_AFTER_BACKFILL} runs of "
        f"{sum(runs[0][1].values())} requests, {len(columns)} answered 304, 0 list bytes"
    )


def test_home_page_sources_add_their_home_page_and_ask_for_its_links_conditionally(
    tmp_path: Path, replica: Replica, server: ReplicaServer
) -> None:
    sources = replica.write_sources(tmp_path / "sources.toml", server, home=True)
    backfill, runs = backfill_then_incremental_runs(tmp_path, server, sources)
    columns = column_paths(replica)
    for result, requests in runs:
        fetched = {key: count for key, count in requests.items() if key[1] == 200}
        assert fetched == {("/robots.txt", 200): 3, ("/index.htm", 200): 3}
        linked = sum(count for (_path, status), count in requests.items() if status == 304)
        # Every column, and the pages the home pages link that are no list (an About page).
        assert {path for path, status in requests if status == 304} >= set(columns)
        assert linked > len(columns)
        assert result.stat(stats.total(stats.LIST_NOT_MODIFIED)) == len(columns)
        assert result.stat(stats.total(stats.COLUMNS_DISCOVERED)) == len(columns)
        assert result.stat(stats.total(stats.skipped("not_a_list"))) == linked - len(columns)
        assert (
            result.stat(stats.total(stats.LIST_BYTES))
            == 0
            < backfill.stat(stats.total(stats.LIST_BYTES))
        )


def test_a_changed_column_is_read_and_only_it(
    tmp_path: Path, replica: Replica, server: ReplicaServer, sources_file: Path
) -> None:
    data = tmp_path / "data"
    assert (
        run_crawl(sources_file, data, tmp_path / "backfill", "-a", "mode=backfill").returncode == 0
    )
    before = len(read_feed(data))
    new = replica.publish("college", "tzgg", n=2)
    server.clear_log()
    result = run_crawl(sources_file, data, tmp_path / "run")
    assert result.returncode == 0, result.stderr
    answered = {(entry.path, entry.status) for entry in server.request_log}
    tzgg = replica.site("college").column("tzgg").list_path
    # The college site's other column lists nothing new, but its page shows the site's
    # newest articles beside the list: it changed too, and is read (its articles all known).
    changed = {tzgg, replica.site("college").column("xwdt").list_path}
    unchanged = set(column_paths(replica)) - changed
    assert answered == {
        ("/robots.txt", 200),
        *((path, 200) for path in changed),
        *((path, 304) for path in unchanged),
        *((article.path, 200) for article in new),
    }
    assert len(read_feed(data)) == before + 2
    assert result.stat(stats.total(stats.LIST_NOT_MODIFIED)) == len(unchanged)

    # The changed page's new validators were kept: the next run gets 304s only.
    server.clear_log()
    assert run_crawl(sources_file, data, tmp_path / "again").returncode == 0
    assert {entry.status for entry in server.request_log if entry.path != "/robots.txt"} == {304}


def test_a_walk_that_did_not_finish_is_full_and_asks_unconditionally(
    tmp_path: Path, replica: Replica, server: ReplicaServer, sources_file: Path
) -> None:
    data = tmp_path / "data"
    # Three articles a run: the rest of the backfill is left for later, its walks unfinished.
    first = run_crawl(
        sources_file, data, tmp_path / "first", "-a", "mode=backfill", NEU_MAX_ARTICLES_PER_RUN="3"
    )
    assert first.returncode == 0, first.stderr
    server.clear_log()
    second = run_crawl(sources_file, data, tmp_path / "second")
    assert second.returncode == 0, second.stderr
    first_pages = [
        entry for entry in server.request_log if entry.path in set(column_paths(replica))
    ]
    assert first_pages and all("If-None-Match" not in entry.headers for entry in first_pages)
    assert {line["url"] for line in read_feed(data)} == set(replica.expected_records(server))
    # Finished now: the next walk of every column asks whether its first page changed.
    server.clear_log()
    assert run_crawl(sources_file, data, tmp_path / "third").returncode == 0
    asked = [entry for entry in server.request_log if entry.path != "/robots.txt"]
    assert len(asked) == len(column_paths(replica))
    assert all(entry.status == 304 and "If-None-Match" in entry.headers for entry in asked)


# -- a 304 stands only for a column whose listed articles are all fetched ---------------------------


def answers(server: ReplicaServer, path: str) -> list[tuple[int, str | None]]:
    """(status, If-None-Match sent) of each request for *path* the sites answered."""
    return [
        (entry.status, entry.headers.get("If-None-Match"))
        for entry in server.request_log
        if entry.path == path
    ]


def backfill(tmp_path: Path, sources: Path) -> Path:
    data = tmp_path / "data"
    result = run_crawl(sources, data, tmp_path / "backfill", "-a", "mode=backfill")
    assert result.returncode == 0, result.stderr
    return data


def test_a_crawl_stopped_in_its_list_phase_leaves_the_next_run_its_new_articles(
    tmp_path: Path, replica: Replica, server: ReplicaServer, sources_file: Path
) -> None:
    data = backfill(tmp_path, sources_file)
    ddyw = replica.site("news").column("ddyw").list_path
    mtdd = replica.site("news").column("mtdd").list_path
    # More than a page of new articles: the walk asks for its second page once it has read
    # the first, and the slow column keeps the crawl in its list phase meanwhile.
    new = replica.publish("news", "ddyw", n=replica.page_size + 1)
    server.faults = FaultConfig(paths={mtdd: "slow"}, slow_seconds=60)
    server.clear_log()
    out = tmp_path / "stopped"
    out.mkdir()
    with subprocess.Popen(
        crawl_command(sources_file, data, out), cwd=PROJECT_ROOT, stderr=subprocess.PIPE, text=True
    ) as crawl:
        deadline = time.monotonic() + 60
        while not any(entry.path.startswith("/ddyw/") for entry in server.request_log):
            assert crawl.poll() is None and time.monotonic() < deadline, "no second page asked"
            time.sleep(0.02)
        crawl.send_signal(signal.SIGTERM)
        _, stderr = crawl.communicate(timeout=60)
    assert crawl.returncode == 1, stderr
    stopped = json.loads((out / "stats.json").read_text())
    assert stopped[stats.FINISH_REASON] == "shutdown"
    [(status, asked_with)] = answers(server, ddyw)
    assert status == 200 and asked_with is not None
    # The slow column never answered: counted unreached, not left to look healthy.
    assert stats.read(stopped, stats.unreached("crawl_stopped"), "news-mtdd") == 1
    assert stats.read(stopped, stats.unreached("crawl_stopped")) == 1
    urls = {server.base_url("news") + article.path for article in new}
    assert not urls & {line["url"] for line in read_feed(data)}, "stopped after the list phase"

    server.faults = None
    server.clear_log()
    again = run_crawl(sources_file, data, tmp_path / "again")
    assert again.returncode == 0, again.stderr
    # Asked with the validators of the last finished walk, not those of the stopped run's 200.
    assert answers(server, ddyw) == [(200, asked_with)]
    assert urls <= {line["url"] for line in read_feed(data)}


def test_a_column_whose_first_page_lists_no_article_is_read_in_full_every_run(
    tmp_path: Path, replica: Replica, server: ReplicaServer, sources_file: Path
) -> None:
    data = backfill(tmp_path, sources_file)
    news = [column.list_path for column in replica.site("news").columns]
    replica.break_layout("news", "no_links")
    for run in ("broken", "still_broken"):
        server.clear_log()
        result = run_crawl(sources_file, data, tmp_path / run)
        # Its first page is read, unconditionally after the first time: never a 304.
        for path in news:
            [(status, asked_with)] = answers(server, path)
            assert status == 200, (run, path)
            assert (asked_with is None) is (run == "still_broken"), (run, path)
        assert result.stat(stats.of_source("news-ddyw", stats.LIST_NOT_MODIFIED)) == 0
        assert result.stat(stats.of_source("news-ddyw", stats.COLUMN_NOT_FOUND)) == 1
    replica.fix_layout("news")
    assert run_crawl(sources_file, data, tmp_path / "fixed").returncode == 0
    server.clear_log()
    assert run_crawl(sources_file, data, tmp_path / "after").returncode == 0
    assert all(answers(server, path)[0][0] == 304 for path in news)


def test_lookback_pages_are_read_past_the_first_page_of_an_unchanged_column(
    tmp_path: Path, replica: Replica, server: ReplicaServer, sources_file: Path
) -> None:
    data = backfill(tmp_path, sources_file)
    server.clear_log()
    result = run_crawl(sources_file, data, tmp_path / "lookback", NEU_LOOKBACK_PAGES="1")
    assert result.returncode == 0, result.stderr
    for path in column_paths(replica):
        assert answers(server, path) == [(200, None)], path
    # Each column's second page, the lookback page past its first all-known one.
    assert result.stat(stats.total(stats.LIST_PAGES)) == 2 * len(column_paths(replica))
    assert result.stat(stats.total(stats.LIST_NOT_MODIFIED)) == 0


def test_a_new_article_gone_for_good_is_asked_for_again_each_run_for_one_list_page(
    tmp_path: Path, replica: Replica, server: ReplicaServer, sources_file: Path
) -> None:
    data = backfill(tmp_path, sources_file)
    mtdd = replica.site("news").column("mtdd").list_path
    [gone] = replica.publish("news", "mtdd", n=1)
    server.faults = FaultConfig(paths={gone.path: "404"})
    for run in ("first", "second"):
        server.clear_log()
        result = run_crawl(sources_file, data, tmp_path / run)
        assert answers(server, gone.path) == [(404, None)], run
        # One list page of its column, not a full walk of it.
        assert [status for status, _ in answers(server, mtdd)] == [200], run
        assert result.stat(stats.of_source("news-mtdd", stats.LIST_PAGES)) == 1, run
    server.faults = None
    assert run_crawl(sources_file, data, tmp_path / "back").returncode == 0
    assert server.base_url("news") + gone.path in {line["url"] for line in read_feed(data)}
    server.clear_log()
    assert run_crawl(sources_file, data, tmp_path / "after").returncode == 0
    assert [status for status, _ in answers(server, mtdd)] == [304]


# -- columns never reached, counted by reason at the end ---------------------------------------------


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("retries", ["0", "1"])
def test_columns_and_home_pages_never_reached_are_counted_by_their_last_failure(
    tmp_path: Path, replica: Replica, server: ReplicaServer, retries: str
) -> None:
    news, port = server.base_url("news"), closed_port()
    sources = tmp_path / "sources.toml"
    sources.write_text(
        f"""
[[sources]]
name = "fine"
start_urls = ["{news}/ddyw.htm"]
language = "zh"

[[sources]]
name = "gone"
start_urls = ["{news}/no-such-column.htm"]
language = "zh"
column = "没有的栏目"

[[sources]]
name = "refused"
start_urls = ["http://127.0.0.1:{port}/ddyw.htm", "http://127.0.0.1:{port}/mtdd.htm"]
language = "zh"

[[sources]]
name = "home"
start_urls = ["http://127.0.0.1:{port}/index.htm"]
language = "zh"
""",
        encoding="utf-8",
    )
    result = run_crawl(sources, tmp_path / "data", tmp_path / "out", RETRY_TIMES=retries)
    refused = stats.unreached("DownloadConnectionRefusedError")
    assert {
        key: value
        for key, value in result.stats.items()
        if key.startswith(f"{stats.PREFIX}/source/") and "/unreached/" in key
    } == {
        stats.of_source("gone", stats.unreached("http_404")): 1,  # its label led nowhere
        stats.of_source("refused", refused): 2,  # one per column
        stats.of_source("home", refused): 1,
    }
    assert result.stat(stats.total(stats.unreached("http_404"))) == 1
    assert result.stat(stats.of_source("gone", stats.COLUMN_NOT_FOUND)) == 1
    # An expected network failure is a line in the log, not a traceback.
    assert "Traceback" not in result.log + result.stderr


def test_a_known_column_a_home_page_links_that_fails_is_unreached(
    tmp_path: Path, replica: Replica, server: ReplicaServer
) -> None:
    """A home-page source's columns have no walk until their page answers: one that was a
    column at its last walk and now fails leaves its source partly failed (exit 3), while a
    linked page that never was a list (the About page) failing costs nothing."""
    sources = replica.write_sources(tmp_path / "sources.toml", server, home=True)
    data = tmp_path / "data"
    backfill = run_crawl(sources, data, tmp_path / "backfill", "-a", "mode=backfill")
    assert backfill.returncode == 0, backfill.stderr
    broken = server.base_url("news") + replica.sites["news"].columns[0].list_path
    # The About page of every site is linked from its home page and is no list.
    server.faults = FaultConfig(paths={broken: "404", "/about.htm": "404"})

    result = run_crawl(sources, data, tmp_path / "run")

    assert result.returncode == 3, result.stderr
    unreached = {key: value for key, value in result.stats.items() if "/unreached/" in key}
    assert unreached == {
        stats.total(stats.unreached("http_404")): 1,
        stats.of_source("news", stats.unreached("http_404")): 1,
    }
    assert result.stat(stats.total(stats.failed("http_404"))) == 1 + len(replica.sites)
    assert result.stderr.splitlines()[-1].endswith("failed: news (http: http_404)")
