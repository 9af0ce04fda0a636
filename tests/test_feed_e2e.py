"""The feed across runs: incremental, deduplicated, versioned, locked and crash-safe."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from replica import Replica, ReplicaServer, build_replica
from tests.conftest import PROJECT_ROOT, crawl_command, read_feed, run_crawl


def test_second_run_fetches_only_robots_and_first_list_pages(
    tmp_path: Path, replica: Replica, server: ReplicaServer, sources_file: Path
) -> None:
    data = tmp_path / "data"
    first = run_crawl(sources_file, data, tmp_path / "run1")
    assert first.returncode == 0, first.stderr
    feed = read_feed(data)
    assert {line["url"] for line in feed} == set(replica.expected_records(server))

    server.clear_log()
    second = run_crawl(sources_file, data, tmp_path / "run2")
    assert second.returncode == 0, second.stderr
    assert read_feed(data) == feed
    requested = sorted(entry.path for entry in server.request_log)
    expected = sorted(
        ["/robots.txt"] * 3
        + [
            column.list_path
            for site in ("news", "english", "college")
            for column in replica.site(site).columns
        ]
    )
    assert requested == expected
    assert second.stat("neu/articles/new") == 0


def test_new_and_edited_articles_append_new_lines_and_versions(
    tmp_path: Path, replica: Replica, server: ReplicaServer, sources_file: Path
) -> None:
    data = tmp_path / "data"
    assert run_crawl(sources_file, data, tmp_path / "run1").returncode == 0
    before = read_feed(data)

    published = replica.publish("news", "ddyw", n=2) + replica.publish("college", "tzgg", n=1)
    edited = replica.articles("english", "focus")[3]
    replica.edit(edited, title=edited.title + " (Updated)")

    # An old article's edit: its re-check steps are long past, so asked for by `recheck=all`.
    second = run_crawl(sources_file, data, tmp_path / "run2", "-a", "recheck=all")
    assert second.returncode == 0, second.stderr
    after = read_feed(data)
    assert after[: len(before)] == before
    added = after[len(before) :]
    expected = replica.expected_records(server)
    new_urls = {url for url in expected if any(url.endswith(a.path) for a in published)}
    assert len(new_urls) == 3
    assert {line["url"] for line in added if line["version"] == 1} == new_urls
    versions = [line for line in added if line["version"] > 1]
    assert len(versions) == 1
    version = versions[0]
    old = next(line for line in before if line["id"] == version["id"])
    assert version["version"] == 2
    assert version["title"] == edited.title == expected[version["url"]]["title"]
    assert version["first_seen"] == old["first_seen"]
    assert version["updated_at"] >= old["first_seen"]
    assert second.stat("neu/articles/updated") == 1
    # Every other known article was asked for conditionally and answered 304.
    assert second.stat("neu/recheck/not_modified") == len(before) - 1


def test_story_at_two_urls_is_one_record_with_an_alias(
    tmp_path: Path, replica: Replica, server: ReplicaServer, sources_file: Path
) -> None:
    story = replica.articles("news", "ddyw")[0]
    copy = replica.repost(story, "college", "xwdt")
    result = run_crawl(sources_file, tmp_path / "data", tmp_path / "out", "-a", "mode=backfill")
    assert result.returncode == 0, result.stderr
    feed = read_feed(tmp_path / "data")
    copy_url = f"{server.base_url('college')}{copy.path}"
    story_url = f"{server.base_url('news')}{story.path}"
    urls = [line["url"] for line in feed]
    assert (story_url in urls) != (copy_url in urls), "the story must be in the feed exactly once"
    assert len(urls) == len(set(urls)) == len(replica.expected_records(server)) - 1
    with sqlite3.connect(tmp_path / "data" / "state.sqlite3") as db:
        aliases = db.execute("SELECT url FROM aliases").fetchall()
    assert aliases == [(copy_url if story_url in urls else story_url,)]
    assert result.stat("neu/dropped/duplicate_content") == 1


def test_second_crawl_on_one_data_dir_refuses_to_start(
    tmp_path: Path, server: ReplicaServer, sources_file: Path
) -> None:
    data, out = tmp_path / "data", tmp_path / "slow"
    out.mkdir()
    slow = subprocess.Popen(
        crawl_command(
            sources_file,
            data,
            out,
            "-a",
            "mode=backfill",
            DOWNLOAD_DELAY="0.2",
            CONCURRENT_REQUESTS_PER_DOMAIN="1",
        ),
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not (data / "articles.jsonl").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        second = run_crawl(sources_file, data, tmp_path / "second")
        assert second.returncode == 2
        assert "another crawl" in second.stderr and str(data) in second.stderr
    finally:
        slow.send_signal(signal.SIGINT)
        slow.wait(timeout=60)


def test_torn_last_line_is_cut_with_a_warning(
    tmp_path: Path, replica: Replica, server: ReplicaServer, sources_file: Path
) -> None:
    data = tmp_path / "data"
    assert run_crawl(sources_file, data, tmp_path / "run1").returncode == 0
    complete = (data / "articles.jsonl").read_bytes()
    with (data / "articles.jsonl").open("ab") as feed:
        feed.write(b'{"id":"0123456789abcdef","url":"http://torn')
    result = run_crawl(sources_file, data, tmp_path / "run2")
    assert result.returncode == 0
    assert "Cut a torn last line" in result.log
    assert (data / "articles.jsonl").read_bytes() == complete


def test_kill_9_at_random_moments_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    replica = build_replica(seed=3, articles_per_column=30, page_size=10)
    with ReplicaServer(replica) as server:
        sources_file = tmp_path / "sources.toml"
        replica.write_sources(sources_file, server)
        _kill_loop(tmp_path, sources_file)
        expected = set(replica.expected_records(server))
        final = run_crawl(
            sources_file, tmp_path / "data", tmp_path / "final", "-a", "mode=backfill"
        )
    assert final.returncode == 0, final.stderr
    feed = read_feed(tmp_path / "data")
    keys = [(line["id"], line["version"]) for line in feed]
    assert len(keys) == len(set(keys))
    assert {line["url"] for line in feed} == expected


def _kill_loop(tmp_path: Path, sources_file: Path) -> None:
    """Start a slowed-down backfill and kill -9 it at a random moment, six times."""
    data, out = tmp_path / "data", tmp_path / "out"
    out.mkdir()
    rng = random.Random(20261128)
    command = crawl_command(
        sources_file,
        data,
        out,
        "-a",
        "mode=backfill",
        DOWNLOAD_DELAY="0.03",
        CONCURRENT_REQUESTS_PER_DOMAIN="1",
        NEU_FEED_BATCH_SIZE="3",
    )
    kills = 0
    for _ in range(6):
        process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(rng.uniform(1.0, 3.0))
        if process.poll() is None:
            process.kill()
            kills += 1
        process.wait()
    assert kills >= 4, "the crawl finished before most kills: slow it down"


def test_feed_follow_sees_lines_of_a_concurrent_crawl(
    tmp_path: Path, replica: Replica, server: ReplicaServer, sources_file: Path
) -> None:
    data, out = tmp_path / "data", tmp_path / "out"
    data.mkdir()
    out.mkdir()
    follower = subprocess.Popen(
        [sys.executable, "-m", "crawler.cli.main", "feed", "--data-dir", str(data), "--follow"],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        result = run_crawl(sources_file, data, out, "-a", "mode=backfill", DOWNLOAD_DELAY="0.01")
        assert result.returncode == 0
        expected = len(replica.expected_records(server))
        seen: list[dict[str, Any]] = []
        assert follower.stdout is not None
        while len(seen) < expected:
            seen.append(json.loads(follower.stdout.readline()))
    finally:
        follower.terminate()
        follower.wait(timeout=10)
        if follower.stdout is not None:
            follower.stdout.close()
    assert seen == read_feed(data)


def test_incremental_run_killed_while_fetching_loses_nothing_next_time(
    tmp_path: Path, replica: Replica, server: ReplicaServer, sources_file: Path
) -> None:
    data = tmp_path / "data"
    assert run_crawl(sources_file, data, tmp_path / "run1").returncode == 0
    before = len(read_feed(data))
    replica.publish("news", "ddyw", n=14)  # three list pages of new articles

    out = tmp_path / "killed"
    out.mkdir()
    slow = subprocess.Popen(
        crawl_command(sources_file, data, out, DOWNLOAD_DELAY="0.2",
                      CONCURRENT_REQUESTS_PER_DOMAIN="1",
                      NEU_FEED_BATCH_SIZE="1",
                      # Oldest request first: page 1's articles are done before the others.
                      SCHEDULER_MEMORY_QUEUE="scrapy.squeues.FifoMemoryQueue"),
        cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        # Past the first list page's five articles: page 1 is all known, pages 2-3 are not.
        while len(read_feed(data)) < before + 7 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        slow.kill()
        slow.wait()
    landed = len(read_feed(data))
    assert before + 7 <= landed < before + 14, "the kill must land mid-way through the articles"

    again = run_crawl(sources_file, data, tmp_path / "again")
    assert again.returncode == 0, again.stderr
    assert {line["url"] for line in read_feed(data)} == set(replica.expected_records(server))


def test_new_articles_cost_only_first_list_pages_and_themselves(
    tmp_path: Path, replica: Replica, server: ReplicaServer, sources_file: Path
) -> None:
    data = tmp_path / "data"
    assert run_crawl(sources_file, data, tmp_path / "run1").returncode == 0
    new = replica.publish("news", "ddyw", n=2) + replica.publish("english", "research", n=3)
    server.clear_log()
    second = run_crawl(sources_file, data, tmp_path / "run2")
    assert second.returncode == 0, second.stderr
    first_pages = [column.list_path for site in ("news", "english", "college")
                   for column in replica.site(site).columns]  # fmt: skip
    expected = sorted(["/robots.txt"] * 3 + first_pages + [article.path for article in new])
    assert sorted(entry.path for entry in server.request_log) == expected
    assert second.stat("neu/articles/new") == 5
