"""The broker mode's parts on their own: sites from sources, a site's sources file, the lease on
a real Redis, the merge of the sites' crawls into one."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from crawler.outcome import FINISHED, SHUTDOWN
from crawler.sources import DEFAULT_SOURCES_FILE, load_sources
from scheduler import broker
from scheduler.broker import Lease, lease_holder
from scheduler.dispatch import Tracked, merge_results, merge_stats
from scheduler.sites import Site, group_sites, source_tables, sources_toml
from tests.redis_server import RedisServer

SOURCES = """
[[sources]]
name = "a"
start_urls = ["http://one.example/a.htm"]
language = "zh"

[[sources]]
name = "b"
start_urls = ["http://two.example/b.htm"]
language = "zh"

[[sources]]
name = "c"
start_urls = ["http://three.example/c.htm"]
language = "en"
hosts = ["one.example"]

[[sources]]
name = "d"
start_urls = ["http://three.example/d.htm"]
language = "zh"
column = "新闻 \\"要闻\\""
max_pages = 3
enabled = false
"""


def test_sources_with_a_host_in_common_are_one_site(tmp_path: Path) -> None:
    path = tmp_path / "sources.toml"
    path.write_text(SOURCES, encoding="utf-8")
    sites = group_sites(load_sources(path))
    # c shares one.example with a, and three.example with d: one site of three sources.
    assert sites == [Site("one.example", ("a", "c", "d")), Site("two.example", ("b",))]


def test_sources_on_one_host_at_two_ports_are_one_site(tmp_path: Path) -> None:
    path = tmp_path / "sources.toml"
    path.write_text(
        "".join(
            f'[[sources]]\nname = "{name}"\nstart_urls = ["{url}"]\nlanguage = "zh"\n\n'
            for name, url in [
                ("news", "http://127.0.0.1:8081/news.htm"),
                ("other", "http://127.0.0.2:8081/other.htm"),
                ("events", "http://127.0.0.1:8082/events.htm"),
            ]
        ),
        encoding="utf-8",
    )
    # Scrapy's politeness slot is the host name's: one lease, one crawl at a time of both.
    assert group_sites(load_sources(path)) == [
        Site("127.0.0.1:8081", ("news", "events")),
        Site("127.0.0.2:8081", ("other",)),
    ]


def test_a_sites_sources_file_reads_back_as_the_same_sources(tmp_path: Path) -> None:
    path = tmp_path / "sources.toml"
    path.write_text(SOURCES, encoding="utf-8")
    shipped = load_sources(DEFAULT_SOURCES_FILE)
    for origin, names in ((path, ["a", "c", "d"]), (None, [s.name for s in shipped])):
        copy = tmp_path / "copy.toml"
        copy.write_text(sources_toml(source_tables(origin, names)), encoding="utf-8")
        by_name = {source.name: source for source in load_sources(origin)}
        assert load_sources(copy) == [by_name[name] for name in names]


def _site_result(sources: dict[str, int], reason: str = FINISHED, code: int = 0) -> dict[str, Any]:
    stats: dict[str, Any] = {
        "finish_reason": reason,
        "downloader/response_count": 10,
        "start_time": "2026-12-01 10:00:00",
    }
    for name, pages in sources.items():
        stats[f"neu/source/{name}/list_pages"] = pages
    stats["neu/articles/new"] = 4
    return {
        "status": "crawled",
        "exit_code": code,
        "timed_out": False,
        "stopped": False,
        "error": "",
        "stats": stats,
        "log": "",
    }


def test_the_sites_crawls_merge_into_one_crawl_of_them_all() -> None:
    one = Tracked(Site("h1", ("a",)), {}, "j1", result=_site_result({"a": 2}))
    two = Tracked(Site("h2", ("b", "c")), {}, "j2", result=_site_result({"b": 1, "c": 1}))
    child, stats, error = merge_results([one, two], stopped=False)
    assert (child.exit_code, error) == (0, "")
    assert stats["downloader/response_count"] == 20
    assert stats["neu/articles/new"] == 8
    assert stats["start_time"] == "2026-12-01 10:00:00"
    assert stats["finish_reason"] == FINISHED
    # c fetched nothing: the merged crawl partly failed (exit 3), as one crawl would have.
    two.result = _site_result({"b": 1, "c": 0}, code=3)
    child, stats, error = merge_results([one, two], stopped=False)
    assert (child.exit_code, error) == (3, "")


def test_a_failed_site_fails_the_merged_crawl_naming_the_site() -> None:
    one = Tracked(Site("h1", ("a",)), {}, "j1", result=_site_result({"a": 2}))
    broken = _site_result({"b": 0}, reason="out_of_memory", code=1)
    two = Tracked(Site("h2", ("b",)), {}, "j2", result=broken)
    lost = Tracked(Site("h3", ("c",)), {}, "j3", error="job failed: boom, 5 times")
    child, stats, error = merge_results([one, two, lost], stopped=False)
    assert child.exit_code == 1
    assert error == "site h2: finish reason 'out_of_memory'; site h3: job failed: boom, 5 times"
    assert stats["finish_reason"] == "out_of_memory"


def test_a_stopped_dispatch_is_a_shutdown_of_the_sites_not_done() -> None:
    one = Tracked(Site("h1", ("a",)), {}, "j1", result=_site_result({"a": 2}))
    waiting = Tracked(Site("h2", ("b",)), {}, "j2")
    child, stats, error = merge_results([one, waiting], stopped=True)
    assert child.stopped and error == ""
    assert stats["finish_reason"] == SHUTDOWN


def test_merged_times_are_the_earliest_start_and_the_latest_finish() -> None:
    merged = merge_stats(
        [
            {"start_time": "2026-12-01 10:00:05", "finish_time": "2026-12-01 10:01", "n": 1},
            {"start_time": "2026-12-01 10:00:01", "finish_time": "2026-12-01 10:03", "n": 2},
        ]
    )
    assert merged == {
        "start_time": "2026-12-01 10:00:01",
        "finish_time": "2026-12-01 10:03",
        "n": 3,
    }


def test_a_lease_keeps_a_second_job_off_its_site_until_released_or_lapsed(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = redis_server.client()
    first, second = Lease(client, "h1", "job-1"), Lease(client, "h1", "job-2")
    assert first.acquire()
    assert not second.acquire()
    assert lease_holder(client, "h1") == "job-1"
    assert first.renew() and not second.renew()
    first.release()
    assert lease_holder(client, "h1") is None
    assert second.acquire()
    second.release()
    # A holder that stops renewing loses it after the TTL, to the next job.
    monkeypatch.setattr(broker, "LEASE_TTL", 0.3)
    short = Lease(client, "h2", "job-3")
    assert short.acquire()
    time.sleep(0.5)
    assert lease_holder(client, "h2") is None
    taker = Lease(client, "h2", "job-4")
    assert taker.acquire()
    # The lapsed holder's renewal fails: another job holds it now.
    assert not short.renew()
    # Released by one that no longer holds it: the holder keeps it.
    short.release()
    assert lease_holder(client, "h2") == "job-4"


def test_a_lapsed_lease_nobody_took_is_taken_again_on_renewal(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = redis_server.client()
    monkeypatch.setattr(broker, "LEASE_TTL", 0.2)
    lease = Lease(client, "h1", "job-1")
    assert lease.acquire()
    time.sleep(0.4)
    assert lease_holder(client, "h1") is None
    assert lease.renew()
    assert lease_holder(client, "h1") == "job-1"
