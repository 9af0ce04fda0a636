"""``scrapy crawl neu_news`` says how the run went: exit 0 only when every source was fetched, 3
when some failed, 1 when none was fetched or the crawl stopped; one summary line last on stderr;
no traceback for a site that cannot be reached.

Real crawls (subprocesses) against the replica. Nothing touches the network: a refused
connection is a port of 127.0.0.1 bound but not listening, a DNS failure a host under
``.invalid`` that the test resolver (tests/resolver.py) fails without asking any DNS server.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from twisted.internet.error import DNSLookupError
from twisted.python.failure import Failure

from crawler import stats
from replica import Replica, ReplicaServer
from replica.faults import FaultConfig
from tests.conftest import PROJECT_ROOT, CrawlResult, crawl_command, read_feed, run_crawl
from tests.resolver import LoopbackResolver

RESOLVER = "tests.resolver.LoopbackResolver"
# The replica's sources (tests/conftest.py's replica): three sites, seven columns.
REPLICA_SOURCES = [
    "news-ddyw", "news-mtdd", "news-xsdt", "english-focus", "english-research",
    "college-xwdt", "college-tzgg",
]  # fmt: skip


@contextmanager
def refusing_port() -> Iterator[int]:
    """A port of 127.0.0.1 that refuses connections: bound, so that nothing else takes it,
    and never listening."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as bound:
        bound.bind(("127.0.0.1", 0))
        yield bound.getsockname()[1]


def source_table(name: str, url: str) -> str:
    """A sources-file table for one list page, without a column label: a page gone is not
    searched for on its site's home page."""
    return f'\n[[sources]]\nname = "{name}"\nstart_urls = ["{url}"]\nlanguage = "zh"\n'


def summary(stderr: str) -> str:
    """The last line on stderr."""
    lines = stderr.splitlines()
    assert lines, "nothing on stderr"
    return lines[-1]


def assert_no_traceback(result: CrawlResult) -> None:
    assert result.log, "the crawl wrote no log"
    assert "Traceback" not in result.stderr, result.stderr
    assert "Traceback" not in result.log, result.log


def lookup(resolver: LoopbackResolver, name: str) -> str | Failure:
    """What the resolver answers for *name*: an address, or the failure (it answers at once)."""
    answers: list[str | Failure] = []
    resolver.getHostByName(name).addBoth(answers.append)
    return answers[0]


def test_the_test_resolver_fails_other_names_without_asking_any_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_lookup(*args: object) -> None:
        raise AssertionError(f"the system resolver was asked: {args}")

    for call in ("getaddrinfo", "gethostbyname", "gethostbyname_ex", "gethostbyaddr"):
        monkeypatch.setattr(socket, call, no_lookup)
    resolver = LoopbackResolver(reactor=None)
    for name in ("news.invalid", "neunews.neu.edu.cn", "10.0.0.1", "::1"):
        answer = lookup(resolver, name)
        assert isinstance(answer, Failure), (name, answer)
        assert isinstance(answer.value, DNSLookupError), (name, answer)
    assert lookup(resolver, "localhost") == lookup(resolver, "127.0.0.1") == "127.0.0.1"
    assert lookup(resolver, "127.0.0.2") == "127.0.0.2"


def test_all_sources_unreachable_exit_1_naming_each_with_its_reason(
    tmp_path: Path, replica: Replica
) -> None:
    timing_out = FaultConfig(paths={"/ddyw.htm": "slow"}, slow_seconds=5)
    with refusing_port() as port, ReplicaServer(replica, faults=timing_out) as server:
        sources = tmp_path / "sources.toml"
        sources.write_text(
            source_table("refused", f"http://127.0.0.1:{port}/ddyw.htm")
            + source_table("refused-home", f"http://127.0.0.1:{port}/index.htm")
            + source_table("nowhere", "http://news.invalid/ddyw.htm")
            + source_table("timing-out", f"{server.base_url('news')}/ddyw.htm"),
            encoding="utf-8",
        )
        result = run_crawl(
            sources,
            tmp_path / "data",
            tmp_path / "out",
            DOWNLOAD_TIMEOUT="1",
            TWISTED_DNS_RESOLVER=RESOLVER,
        )
    assert result.returncode == 1, result.stderr
    assert result.stats[stats.FINISH_REASON] == "finished"
    assert summary(result.stderr) == (
        "neu-news: 0 new, 0 updated, 0/4 sources fetched; failed: "
        "refused (network: DownloadConnectionRefusedError), "
        "refused-home (network: DownloadConnectionRefusedError), "
        "nowhere (network: CannotResolveHostError), "
        "timing-out (network: DownloadTimeoutError)"
    )
    assert_no_traceback(result)
    # Each of the two unreachable hosts' robots.txt is one line.
    robots = [line for line in result.log.splitlines() if ".robotstxt] ERROR" in line]
    assert len(robots) == 2, robots
    assert read_feed(tmp_path / "data") == []


def test_some_sources_failed_exit_3_naming_them_the_others_fetched(
    tmp_path: Path, replica: Replica, server: ReplicaServer
) -> None:
    news = server.base_url("news")
    sources = tmp_path / "sources.toml"
    replica.write_sources(sources, server)
    with refusing_port() as port:
        with sources.open("a", encoding="utf-8") as file:
            file.write(
                source_table("gone", f"{news}/nosuch.htm")
                + source_table("refused", f"http://127.0.0.1:{port}/ddyw.htm")
                # The replica's robots.txt forbids /private/.
                + source_table("forbidden", f"{news}/private/secret.htm")
            )
        result = run_crawl(
            sources, tmp_path / "data", tmp_path / "out", TWISTED_DNS_RESOLVER=RESOLVER
        )
    feed = read_feed(tmp_path / "data")
    assert len(feed) == len(replica.expected_records(server)) > 0
    assert result.returncode == 3, result.stderr
    assert summary(result.stderr) == (
        f"neu-news: {len(feed)} new, 0 updated, 7/10 sources fetched; failed: "
        "gone (http: http_404), refused (network: DownloadConnectionRefusedError), "
        "forbidden (robots: robots_txt)"
    )
    assert_no_traceback(result)


def test_every_request_waiting_for_robots_txt_is_judged_by_it(
    tmp_path: Path, replica: Replica
) -> None:
    # A slow robots.txt: every start request to the site waits for it (Scrapy let all but the
    # first two of them through unjudged).
    slow_robots = FaultConfig(paths={"/robots.txt": "slow"}, slow_seconds=1)
    with ReplicaServer(replica, faults=slow_robots) as server:
        sources = tmp_path / "sources.toml"
        replica.write_sources(sources, server, sites=["news"])
        forbidden = [f"forbidden-{n}" for n in range(5)]
        with sources.open("a", encoding="utf-8") as file:
            for n, name in enumerate(forbidden):
                file.write(source_table(name, f"{server.base_url('news')}/private/{n}.htm"))
        result = run_crawl(
            sources, tmp_path / "data", tmp_path / "out", TWISTED_DNS_RESOLVER=RESOLVER
        )
        paths = [entry.path for entry in server.request_log]
    assert [path for path in paths if path.startswith("/private/")] == []
    assert result.returncode == 3, result.stderr
    feed = read_feed(tmp_path / "data")
    assert summary(result.stderr) == (
        f"neu-news: {len(feed)} new, 0 updated, 3/8 sources fetched; failed: "
        + ", ".join(f"{name} (robots: robots_txt)" for name in forbidden)
    )


def test_a_healthy_crawl_exits_0_with_its_new_articles_counted(
    tmp_path: Path, replica: Replica, server: ReplicaServer, sources_file: Path
) -> None:
    result = run_crawl(
        sources_file, tmp_path / "data", tmp_path / "out", TWISTED_DNS_RESOLVER=RESOLVER
    )
    feed = read_feed(tmp_path / "data")
    assert len(feed) == len(replica.expected_records(server)) > 0
    assert result.returncode == 0, result.stderr
    assert summary(result.stderr) == f"neu-news: {len(feed)} new, 0 updated, 7/7 sources fetched"
    assert_no_traceback(result)
    again = run_crawl(
        sources_file, tmp_path / "data", tmp_path / "again", TWISTED_DNS_RESOLVER=RESOLVER
    )
    assert again.returncode == 0, again.stderr
    assert summary(again.stderr) == "neu-news: 0 new, 0 updated, 7/7 sources fetched"


def test_a_crawl_stopped_by_sigterm_exits_1_saying_it_stopped(
    tmp_path: Path, replica: Replica, server: ReplicaServer, sources_file: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    # Politeness on, so that the crawl is still reading list pages when it is stopped (those
    # the downloader holds are read before it closes).
    command = crawl_command(
        sources_file,
        tmp_path / "data",
        out,
        DOWNLOAD_DELAY="0.5",
        CONCURRENT_REQUESTS="1",
        TWISTED_DNS_RESOLVER=RESOLVER,
    )
    with subprocess.Popen(command, cwd=PROJECT_ROOT, stderr=subprocess.PIPE, text=True) as crawl:
        log = out / "crawl.log"
        deadline = time.monotonic() + 60
        # Scrapy handles SIGTERM once the spider starts.
        while "Crawling 7 sources" not in (log.read_text() if log.exists() else ""):
            assert crawl.poll() is None and time.monotonic() < deadline, "the crawl never started"
            time.sleep(0.05)
        crawl.send_signal(signal.SIGTERM)
        _, stderr = crawl.communicate(timeout=60)
    run_stats = json.loads((out / "stats.json").read_text())
    assert crawl.returncode == 1, stderr
    assert run_stats[stats.FINISH_REASON] == "shutdown"
    feed = read_feed(tmp_path / "data")
    fetched = [
        name
        for name in REPLICA_SOURCES
        if stats.read(run_stats, stats.LIST_PAGES, name)
        or stats.read(run_stats, stats.LIST_NOT_MODIFIED, name)
    ]
    unfetched = ", ".join(
        f"{name} (other: crawl_stopped)" for name in REPLICA_SOURCES if name not in fetched
    )
    assert unfetched, "the crawl read every list page before it was stopped"
    assert summary(stderr) == (
        f"neu-news: stopped before the end (shutdown); {len(feed)} new, 0 updated, "
        f"{len(fetched)}/7 sources fetched; failed: {unfetched}"
    )
    assert "Traceback" not in stderr + log.read_text()
