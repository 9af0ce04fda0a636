"""The fleet replica: many small sites, each on its own loopback address, with sources, ground
truth and a request log per site; a real crawl of it gives exactly its ground truth."""

from __future__ import annotations

import signal
import subprocess
import sys
import tomllib
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from replica import ReplicaServer, build_replica
from replica.fleet import Fleet, site_address
from tests.conftest import PROJECT_ROOT, run_crawl
from tests.test_crawl_e2e import check_records


def get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=10) as response:
        return int(response.status)


def test_site_addresses_count_through_the_loopback_network() -> None:
    assert site_address(0) == "127.0.1.1"
    assert site_address(253) == "127.0.1.254"
    assert site_address(254) == "127.0.2.1"
    assert site_address(300) == "127.0.2.47"
    with pytest.raises(ValueError):
        site_address(-1)


def test_a_fleet_needs_a_site() -> None:
    with pytest.raises(ValueError, match="at least 1 site"):
        Fleet(sites=0)


def test_a_server_serves_only_the_sites_it_is_given() -> None:
    replica = build_replica(articles_per_column=2)
    with ReplicaServer(replica, host="127.0.1.1", sites=["college"]) as server:
        assert server.sites == ["college"]
        assert server.base_url("college").startswith("http://127.0.1.1:")
        assert get(server.base_url("college") + "/xwdt/list.htm") == 200
        with pytest.raises(KeyError):
            server.base_url("news")
    with pytest.raises(KeyError):
        ReplicaServer(replica, sites=["nowhere"])


def test_each_site_has_its_own_address_and_a_source_per_column(tmp_path: Path) -> None:
    with Fleet(sites=4, seed=3) as fleet:
        names = fleet.write_sources(tmp_path / "sources.toml")
        tables = tomllib.loads((tmp_path / "sources.toml").read_text())["sources"]
        assert [table["name"] for table in tables] == names
        by_site = fleet.sources_of_site
        assert [name for site in by_site.values() for name in site] == names
        assert [site.kind for site in fleet.sites] == ["english", "college", "news", "english"]
        hosts: dict[str, set[str | None]] = {}
        for table in tables:
            (url,) = table["start_urls"]
            assert get(url) == 200
            site = table["name"].partition("-")[0]
            hosts.setdefault(site, set()).add(urlsplit(url).hostname)
        assert hosts == {f"site00{i}": {f"127.0.1.{i}"} for i in range(1, 5)}
        assert set(fleet.backfill_requests().values()) == {27, 29}


def test_a_full_crawl_gives_the_ground_truth_and_the_requests_counted(tmp_path: Path) -> None:
    with Fleet(sites=6, seed=1) as fleet:
        fleet.write_sources(tmp_path / "sources.toml")
        result = run_crawl(
            tmp_path / "sources.toml", tmp_path / "data", tmp_path / "out", "-a", "mode=backfill"
        )
        expected = fleet.expected_records()
        log = fleet.request_log
        fetches = fleet.article_fetches()
        assert result.returncode == 0, result.stderr
        check_records(result.items, expected)
        # One article of each news site is listed in two of its columns: one record names both.
        assert sum(len(record["columns"]) == 2 for record in expected.values()) == 2
        assert {site: len(entries) for site, entries in log.items()} == fleet.backfill_requests()
        per_site = {site.name: site.base_url for site in fleet.sites}
        assert fetches == {
            name: sum(url.startswith(base + "/") for url in expected)
            for name, base in per_site.items()
        }
        for entries in log.values():
            assert entries[0].path == "/robots.txt"
            times = [entry.at for entry in entries]
            assert times == sorted(times) and times[0] > 0
        gaps = fleet.request_gaps()
        assert {site: len(between) for site, between in gaps.items()} == {
            site: len(entries) - 1 for site, entries in log.items()
        }
        assert all(gap >= 0 for between in gaps.values() for gap in between)
        assert all(most >= 1 for most in fleet.most_in_flight().values())
        fleet.clear_log()
        assert not any(fleet.request_log.values())
        assert set(fleet.most_in_flight().values()) == {0}
        assert set(fleet.article_fetches().values()) == {0}


def test_python_m_replica_fleet_serves_until_sigterm(tmp_path: Path) -> None:
    sources = tmp_path / "fleet.toml"
    with subprocess.Popen(
        [sys.executable, "-m", "replica", "fleet", "--sites", "3", "--sources-out", str(sources)],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            lines = [proc.stdout.readline().split() for _ in range(3)]
            assert [(name, kind) for name, kind, _ in lines] == [
                ("site001", "english"),
                ("site002", "college"),
                ("site003", "news"),
            ]
            for index, (_, _, base) in enumerate(lines, start=1):
                assert urlsplit(base).hostname == f"127.0.1.{index}"
                assert get(base + "/robots.txt") == 200
            assert len(tomllib.loads(sources.read_text())["sources"]) == 2 + 2 + 3
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0
        finally:
            proc.kill()


def test_python_m_replica_fleet_refuses_no_sites() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "replica", "fleet", "--sites", "0"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 2
    assert completed.stderr == "replica: a fleet has at least 1 site\n"
