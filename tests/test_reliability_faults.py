"""Server faults, bad pages and hostile links: the crawl goes on, counts what went wrong, and
the feed loses nothing and gains no garbage."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from replica import ReplicaServer, build_replica
from replica.faults import TRANSIENT_KINDS, FaultConfig
from tests.conftest import read_feed, run_crawl
from tests.test_crawl_e2e import check_records

# Downloads slower than this count as failures; the replica's "slow" fault takes 3 s.
SHORT_TIMEOUT = "1"


def test_ten_percent_random_faults_feed_complete_within_three_runs(tmp_path: Path) -> None:
    replica = build_replica(seed=21, articles_per_column=12, page_size=5)
    faults = FaultConfig(rate=0.1, kinds=TRANSIENT_KINDS, seed=21, slow_seconds=3.0)
    data = tmp_path / "data"
    runs: list[Any] = []
    with ReplicaServer(replica, faults=faults) as server:
        sources = tmp_path / "sources.toml"
        replica.write_sources(sources, server)
        expected = set(replica.expected_records(server))
        for attempt in range(3):
            runs.append(
                run_crawl(sources, data, tmp_path / f"run{attempt}", DOWNLOAD_TIMEOUT=SHORT_TIMEOUT)
            )
            if {line["url"] for line in read_feed(data)} == expected:
                break
        injected = [entry.fault for entry in server.request_log if entry.fault]
    feed = read_feed(data)
    assert {line["url"] for line in feed} == expected
    keys = [(line["id"], line["version"]) for line in feed]
    assert len(keys) == len(set(keys))
    assert len(injected) >= 10
    print(
        f"{len(injected)} faults injected {dict(Counter(injected))}; complete after {len(runs)} runs"
    )
    first = runs[0]
    failures = {key: value for key, value in first.stats.items() if key.startswith("neu/failed/")}
    retries = first.stat("retry/count")
    assert failures or retries, "faults were injected but nothing was counted"
    assert "Traceback" not in first.log


def test_robots_txt_that_errors_does_not_stop_the_crawl(tmp_path: Path) -> None:
    replica = build_replica(seed=4, articles_per_column=6, page_size=5)
    faults = FaultConfig(paths={"/robots.txt": "robots_error"})
    with ReplicaServer(replica, faults=faults) as server:
        sources = tmp_path / "sources.toml"
        replica.write_sources(sources, server)
        result = run_crawl(sources, tmp_path / "data", tmp_path / "out", "-a", "mode=backfill")
        expected = replica.expected_records(server)
    assert result.returncode == 0, result.stderr
    check_records(result.items, expected)
    assert result.stat("downloader/response_status_count/500") >= 3


def test_bad_pages_are_counted_and_what_can_be_read_is_read_right(tmp_path: Path) -> None:
    replica = build_replica(seed=8, articles_per_column=6, page_size=5, bad_pages=True)
    with ReplicaServer(replica) as server:
        sources = tmp_path / "sources.toml"
        replica.write_sources(sources, server)
        result = run_crawl(
            sources, tmp_path / "data", tmp_path / "out", "-a", "mode=backfill",
            DOWNLOAD_MAXSIZE=str(8 * 1024 * 1024), DOWNLOAD_WARNSIZE=str(1024 * 1024),
        )  # fmt: skip
        expected = replica.expected_records(server)
        bad = replica.bad_pages(server)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.log
    check_records(result.items, expected)
    by_url = {item["url"]: item for item in result.items}
    kinds = {kind: url for url, kind in bad.items()}
    for readable in ("gbk_meta", "gbk_wrong_header", "gb2312", "nested", "no_container"):
        assert kinds[readable] in by_url, readable
    assert any("\u4e00" <= char <= "\u9fff" for char in by_url[kinds["gbk_wrong_header"]]["text"])
    assert by_url[kinds["no_date"]]["published"] is None
    assert by_url[kinds["no_title"]]["title"] is None
    for unreadable in ("empty", "binary", "huge"):
        assert kinds[unreadable] not in by_url, unreadable
    assert result.stat("neu/skipped/unparsable_article") == 2  # empty and binary
    assert result.stat("neu/failed/too_large") == 1
    assert result.stat("neu/missing/published") >= 1
    assert result.stat("neu/extract/no_container") == 1
    assert "expected response size" in result.log or "max size" in result.log


def test_hostile_links_are_never_followed_off_the_sites(tmp_path: Path) -> None:
    replica = build_replica(seed=9, articles_per_column=6, page_size=5, hostile=True)
    with ReplicaServer(replica) as server:
        sources = tmp_path / "sources.toml"
        replica.write_sources(sources, server)
        result = run_crawl(
            sources, tmp_path / "data", tmp_path / "out", "-a", "mode=backfill",
            NEU_MAX_LIST_PAGES="15",
        )  # fmt: skip
        expected = replica.expected_records(server)
        trapped = server.trap_hits
        paths = [entry.path for entry in server.request_log]
    assert result.returncode == 0, result.stderr
    check_records(result.items, expected)
    assert trapped == []
    assert not any(path.startswith("/go/") for path in paths)
    assert not any(len(path) > 2083 for path in paths)
    # A full walk trusts the first page's numbering (2 pages); the pager never ends after it.
    assert sum(path.startswith("/endless") for path in paths) <= 15
    assert result.stat("neu/skipped/offsite") >= 1  # the article that redirects to another port
    assert result.stat("neu/skipped/url_too_long") == 1


def test_list_pages_per_column_are_bounded_by_the_page_limit(
    tmp_path: Path, replica: Any, server: ReplicaServer, sources_file: Path
) -> None:
    result = run_crawl(
        sources_file, tmp_path / "data", tmp_path / "out", "-a", "mode=backfill",
        NEU_MAX_LIST_PAGES="2",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    columns = (
        len(replica.site("news").columns)
        + len(replica.site("english").columns)
        + len(replica.site("college").columns)
    )
    assert result.stat("neu/list_pages") == 2 * columns
    assert result.stat("neu/skipped/page_limit") == columns  # every column has 3 pages
