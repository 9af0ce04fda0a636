"""The broker mode's parts on their own: sites from sources, a site's sources file, the lease on
a real Redis, the merge of the sites' crawls into one."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from crawler.commandline import ConfigError
from crawler.outcome import FINISHED, SHUTDOWN
from crawler.sources import DEFAULT_SOURCES_FILE, load_sources
from scheduler import broker
from scheduler.broker import Lease, lease_holders
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
    assert sites == [
        Site("one.example", ("a", "c", "d"), ("one.example", "three.example")),
        Site("two.example", ("b",), ("two.example",)),
    ]


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
        Site("127.0.0.1:8081", ("news", "events"), ("127.0.0.1",)),
        Site("127.0.0.2:8081", ("other",), ("127.0.0.2",)),
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


def test_a_source_gone_from_the_file_is_a_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "sources.toml"
    path.write_text(SOURCES, encoding="utf-8")
    with pytest.raises(ConfigError, match="no source 'e': was the file changed just now"):
        source_tables(path, ["a", "e"])


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
    one = Tracked(Site("h1", ("a",), ("h1",)), {}, "j1", result=_site_result({"a": 2}))
    two = Tracked(Site("h2", ("b", "c"), ("h2",)), {}, "j2", result=_site_result({"b": 1, "c": 1}))
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
    one = Tracked(Site("h1", ("a",), ("h1",)), {}, "j1", result=_site_result({"a": 2}))
    broken = _site_result({"b": 0}, reason="out_of_memory", code=1)
    two = Tracked(Site("h2", ("b",), ("h2",)), {}, "j2", result=broken)
    lost = Tracked(Site("h3", ("c",), ("h3",)), {}, "j3", error="job failed: boom, 5 times")
    child, stats, error = merge_results([one, two, lost], stopped=False)
    assert child.exit_code == 1
    assert error == "site h2: finish reason 'out_of_memory'; site h3: job failed: boom, 5 times"
    assert stats["finish_reason"] == "out_of_memory"


def test_a_stopped_dispatch_is_a_shutdown_of_the_sites_not_done() -> None:
    one = Tracked(Site("h1", ("a",), ("h1",)), {}, "j1", result=_site_result({"a": 2}))
    waiting = Tracked(Site("h2", ("b",), ("h2",)), {}, "j2")
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
    first, second = Lease(client, ["h1"], "job-1"), Lease(client, ["h1"], "job-2")
    assert first.hold()
    assert not second.hold()
    assert lease_holders(client, ["h1"]) == ["job-1"]
    assert first.hold() and not second.hold()
    first.release()
    assert lease_holders(client, ["h1"]) == [None]
    assert second.hold()
    second.release()
    # A holder that stops renewing loses it after the TTL, to the next job.
    monkeypatch.setattr(broker, "LEASE_TTL", 0.3)
    short = Lease(client, ["h2"], "job-3")
    assert short.hold()
    time.sleep(0.5)
    assert lease_holders(client, ["h2"]) == [None]
    taker = Lease(client, ["h2"], "job-4")
    assert taker.hold()
    # The lapsed holder's renewal fails: another job holds it now.
    assert not short.hold()
    # Released by one that no longer holds it: the holder keeps it.
    short.release()
    assert lease_holders(client, ["h2"]) == ["job-4"]


def test_a_lapsed_lease_nobody_took_is_taken_again_on_renewal(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = redis_server.client()
    monkeypatch.setattr(broker, "LEASE_TTL", 0.2)
    lease = Lease(client, ["h1"], "job-1")
    assert lease.hold()
    time.sleep(0.4)
    assert lease_holders(client, ["h1"]) == [None]
    assert lease.hold()
    assert lease_holders(client, ["h1"]) == ["job-1"]


def test_a_lease_taken_again_by_its_own_job_is_held(redis_server: RedisServer) -> None:
    # What a retry does when the server took the first try but its reply was lost: the key
    # holds the job's own id, which is no other job's lease.
    client = redis_server.client()
    lease = Lease(client, ["h1", "h2"], "job-1")
    assert lease.hold()
    assert lease.hold()
    assert not Lease(client, ["h2"], "job-2").hold()
    assert lease_holders(client, ["h1", "h2"]) == ["job-1", "job-1"]


def test_a_host_is_crawled_by_one_job_however_jobs_group_their_sources(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    path = tmp_path / "sources.toml"
    path.write_text(SOURCES, encoding="utf-8")
    by_name = {source.name: source for source in load_sources(path)}
    client = redis_server.client()
    # One job crawls a and d (two sites, one.example and three.example), another c alone,
    # whose pages are on three.example and one.example both.
    one, three = group_sites([by_name["a"], by_name["d"]])
    (both,) = group_sites([by_name["c"]])
    assert both.hosts == ("one.example", "three.example")
    assert Lease(client, three.hosts, "job-d").hold()
    assert not Lease(client, both.hosts, "job-c").hold()
    # Refused whole: nothing of it was taken, one.example is free for a's site.
    assert lease_holders(client, both.hosts) == [None, "job-d"]
    assert Lease(client, one.hosts, "job-a").hold()
    Lease(client, three.hosts, "job-d").release()
    assert not Lease(client, both.hosts, "job-c").hold()
    Lease(client, one.hosts, "job-a").release()
    # Both hosts free: c's site takes them together, released together.
    lease = Lease(client, both.hosts, "job-c")
    assert lease.hold()
    assert lease_holders(client, ["one.example", "three.example"]) == ["job-c", "job-c"]
    assert not Lease(client, three.hosts, "job-d").hold()
    lease.release()
    assert lease_holders(client, both.hosts) == [None, None]
