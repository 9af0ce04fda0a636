"""Long soaks, run alone with `make soak` (CI runs them too): kills during a large backfill."""

from __future__ import annotations

import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from replica import ReplicaServer, build_replica
from tests.conftest import PROJECT_ROOT, crawl_command, read_feed, run_crawl
from tests.test_scheduler_e2e import scheduler_command

pytestmark = pytest.mark.soak

KILLS = 20
# A backfill of about 20 s (list pages first, then articles), so that kills a few seconds
# apart land in every phase, whatever the machine's speed: the rate is set by the delay.
THROTTLED = {"DOWNLOAD_DELAY": "0.05", "CONCURRENT_REQUESTS_PER_DOMAIN": "1"}
# Every other stop waits for the feed to grow, then comes within this many seconds: a run
# restarted after a stop walks its list pages again before it writes, so stops a few seconds
# in would all land before the first line.
WRITING_WINDOW = 0.5


def feed_lines(data: Path) -> int:
    path = data / "articles.jsonl"
    return path.read_bytes().count(b"\n") if path.exists() else 0


def wait_until_writing(data: Path, process: subprocess.Popen[bytes], rng: random.Random) -> bool:
    """Wait until the run adds a line to the feed, then a little more (it is mid-write);
    False if it ended first."""
    before = feed_lines(data)
    while process.poll() is None:
        if feed_lines(data) > before:
            time.sleep(rng.uniform(0.0, WRITING_WINDOW))
            return True
        time.sleep(0.02)
    return False


def test_twenty_kill_9s_during_a_1000_article_backfill_lose_and_duplicate_nothing(
    tmp_path: Path,
) -> None:
    replica = build_replica(seed=1000, articles_per_column=143, page_size=10)
    with ReplicaServer(replica) as server:
        expected = set(replica.expected_records(server))
        assert len(expected) >= 1000
        sources = tmp_path / "sources.toml"
        replica.write_sources(sources, server)
        data, out = tmp_path / "data", tmp_path / "out"
        out.mkdir()
        command = crawl_command(
            sources, data, out, "-a", "mode=backfill", files=False, NEU_FEED_BATCH_SIZE="7",
            **THROTTLED,
        )  # fmt: skip
        rng = random.Random(1000)
        kills = writing = 0
        while kills < KILLS:
            process = subprocess.Popen(
                command, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            if kills % 2:
                writing += wait_until_writing(data, process, rng)
            else:
                time.sleep(rng.uniform(1.0, 4.0))
            finished = process.poll() is not None
            process.kill()
            process.wait()
            if finished:
                break  # the backfill completed before this kill: nothing left to interrupt
            kills += 1
            # Every state the kill left must already be a whole feed: lines only, no repeats.
            feed = read_feed(data) if (data / "articles.jsonl").exists() else []
            keys = [(line["id"], line["version"]) for line in feed]
            assert len(keys) == len(set(keys))
        assert kills >= KILLS * 3 // 4, f"only {kills} kills landed mid-crawl"
        assert writing >= KILLS // 4, f"only {writing} kills landed while the feed was written"
        print(
            f"{kills} kill -9s mid-backfill of {len(expected)} articles, {writing} of them while "
            f"lines were written; {len(feed)} were in"
        )
        final = run_crawl(sources, data, tmp_path / "final", "-a", "mode=backfill")
    assert final.returncode == 0, final.stderr
    feed = read_feed(data)
    keys = [(line["id"], line["version"]) for line in feed]
    assert len(keys) == len(set(keys))
    assert {line["url"] for line in feed} == expected


def test_twenty_sigterms_to_the_scheduler_during_a_1000_article_crawl_lose_nothing(
    tmp_path: Path,
) -> None:
    replica = build_replica(seed=2000, articles_per_column=143, page_size=10)
    with ReplicaServer(replica) as server:
        expected = set(replica.expected_records(server))
        sources = tmp_path / "sources.toml"
        replica.write_sources(sources, server)
        data = tmp_path / "data"
        command = scheduler_command(sources, data, "--once", "--grace", "30s", **THROTTLED)
        rng = random.Random(2000)
        stops = writing = 0
        while stops < KILLS:
            process = subprocess.Popen(
                command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            if stops % 2:
                writing += wait_until_writing(data, process, rng)
            else:
                time.sleep(rng.uniform(1.5, 4.5))
            if process.poll() is not None:
                break  # the crawl completed before this stop
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=60) == 0
            stops += 1
            feed = read_feed(data) if (data / "articles.jsonl").exists() else []
            keys = [(line["id"], line["version"]) for line in feed]
            assert len(keys) == len(set(keys))
        assert stops >= KILLS * 3 // 4, f"only {stops} stops landed mid-crawl"
        assert writing >= KILLS // 4, f"only {writing} stops landed while the feed was written"
        print(
            f"{stops} SIGTERMs to the scheduler mid-crawl of {len(expected)} articles, {writing} "
            f"of them while lines were written; {len(feed)} were in"
        )
        final = subprocess.run(command, cwd=tmp_path, capture_output=True, timeout=300, check=False)
    assert final.returncode == 0, final.stderr
    feed = read_feed(data)
    keys = [(line["id"], line["version"]) for line in feed]
    assert len(keys) == len(set(keys))
    assert {line["url"] for line in feed} == expected
