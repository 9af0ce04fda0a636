"""`scrapy crawl neu_news` end to end against the replica: one exact record per article."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from replica import ReplicaServer, build_replica
from tests.conftest import PROJECT_ROOT, assert_valid_record, crawl_command, run_crawl

FIELDS = (
    "title",
    "published",
    "authors",
    "editors",
    "origin",
    "language",
    "text",
    "images",
    "attachments",
    "site",
    "parser",
)


def check_records(items: list[dict[str, Any]], expected: dict[str, dict[str, Any]]) -> None:
    """Exactly one record per expected article, each field as the replica rendered it."""
    by_url: dict[str, dict[str, Any]] = {}
    for item in items:
        assert_valid_record(item)
        assert item["url"] not in by_url, f"two records for {item['url']}"
        by_url[item["url"]] = item
    assert set(by_url) == set(expected)
    for url, want in expected.items():
        got = by_url[url]
        for field in FIELDS:
            assert got[field] == want[field], f"{field} of {url}"
        assert set(got["columns"]) == set(want["columns"]), url
        assert got["column"] in want["columns"]


@pytest.mark.parametrize("theme", ["default", "variant-3", "variant-8"])
def test_backfill_gives_one_exact_record_per_article(tmp_path: Path, theme: str) -> None:
    replica = build_replica(seed=5, articles_per_column=12, page_size=5, theme=theme)
    with ReplicaServer(replica) as server:
        sources = tmp_path / "sources.toml"
        replica.write_sources(sources, server)
        result = run_crawl(sources, tmp_path / "data", tmp_path / "out", "-a", "mode=backfill")
        expected = replica.expected_records(server)
    assert result.returncode == 0, result.stderr
    check_records(result.items, expected)
    undated = sum(1 for record in expected.values() if record["published"] is None)
    assert undated > 0
    assert result.stat("neu/missing/published") == undated
    assert result.stat("neu/extract/no_container") == 0


def test_home_pages_discover_columns_and_never_leave_the_sites(tmp_path: Path) -> None:
    replica = build_replica(seed=2, articles_per_column=6, page_size=5)
    with ReplicaServer(replica) as server:
        sources = tmp_path / "sources.toml"
        replica.write_sources(sources, server, home=True)
        result = run_crawl(sources, tmp_path / "data", tmp_path / "out", "-a", "mode=backfill")
        expected = replica.expected_records(server)
        paths = [entry.path for entry in server.request_log]
    assert result.returncode == 0, result.stderr
    assert {item["url"] for item in result.items} == set(expected)
    assert not any(path.startswith("/private/") for path in paths), "robots.txt ignored"
    documents = [
        path
        for path in paths
        if path.split("?")[0].rsplit(".", 1)[-1] in {"pdf", "docx", "xlsx", "jpg"}
    ]
    assert documents == []
    assert not any("download.jsp" in path for path in paths)
    assert result.stat("neu/skipped/not_a_list") >= 1  # the about page


def test_sources_argument_limits_the_run(
    tmp_path: Path, replica: Any, server: ReplicaServer, sources_file: Path
) -> None:
    result = run_crawl(
        sources_file,
        tmp_path / "data",
        tmp_path / "out",
        "-a",
        "mode=backfill",
        "-a",
        "sources=english-focus",
    )
    assert result.returncode == 0, result.stderr
    focus = {
        url
        for url, record in replica.expected_records(server).items()
        if "Focus" in record["columns"]
    }
    assert {item["url"] for item in result.items} == focus
    assert {item["source"] for item in result.items} == {"english-focus"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[[sources]]\nname = "a"\nlanguage = "zh"\n', "source 'a': missing key 'start_urls'"),
        (
            '[[sources]]\nname = "a"\nstart_urls = ["ftp://x/"]\nlanguage = "zh"\n',
            "key 'start_urls'",
        ),
        (
            '[[sources]]\nname = "a"\nstart_urls = ["http://127.0.0.1:1/"]\nlanguage = "fr"\n',
            "key 'language'",
        ),
        (
            '[[sources]]\nname = "a"\nstart_urls = ["http://127.0.0.1:1/"]\nlanguage = "zh"\ncolour = 1\n',
            "unknown key 'colour'",
        ),
        (
            '[[sources]]\nname = "a"\nstart_urls = ["http://127.0.0.1:1/"]\nlanguage = "zh"\n' * 2,
            "source 'a': duplicate name",
        ),
        ("[[sources]\n", "not valid TOML"),
    ],
)
def test_bad_sources_file_stops_before_any_request(
    tmp_path: Path, server: ReplicaServer, content: str, message: str
) -> None:
    sources = tmp_path / "bad.toml"
    sources.write_text(content)
    result = run_crawl(sources, tmp_path / "data", tmp_path / "out")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(sources) in lines[0] and message in lines[0]
    assert server.request_log == []
    assert not (tmp_path / "data").exists()


def test_extraction_in_worker_processes_gives_the_same_records(
    tmp_path: Path, replica: Any, server: ReplicaServer, sources_file: Path
) -> None:
    result = run_crawl(
        sources_file, tmp_path / "data", tmp_path / "out", "-a", "mode=backfill",
        NEU_EXTRACT_PROCESSES="1",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    check_records(result.items, replica.expected_records(server))


def test_extraction_workers_die_with_a_killed_crawl(
    tmp_path: Path, server: ReplicaServer, sources_file: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    command = crawl_command(
        sources_file, tmp_path / "data", out, "-a", "mode=backfill",
        NEU_EXTRACT_PROCESSES="2", DOWNLOAD_DELAY="0.2", CONCURRENT_REQUESTS_PER_DOMAIN="1",
    )  # fmt: skip
    crawl = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while len(_children(crawl.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        workers = _children(crawl.pid)
        assert len(workers) >= 2, "the extraction workers never started"
    finally:
        crawl.kill()
        crawl.wait()
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers), "orphaned workers"


def _children(pid: int) -> list[int]:
    """Pids of the direct children of *pid* (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found
