"""Atom and RSS exports are newest first by publication and never date an undated article.

A backfill of an archive whose pages show no date used to put every undated old story at the top
of the feed, each ``published`` the day it was first seen. Read back with feedparser, as feed
readers do.
"""

from __future__ import annotations

import calendar
import io
import subprocess
import sys
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import feedparser  # type: ignore[import-untyped]

from crawler.branding import DEFAULT_BRANDING
from crawler.store.export import newest, render, sort_key, write_syndication
from replica import Replica, ReplicaServer
from tests.conftest import PROJECT_ROOT, read_feed, run_crawl

BEIJING = timezone(timedelta(hours=8))
Record = dict[str, Any]
EXPORT = (sys.executable, "-m", "crawler.cli.main", "export")


def publication_seconds(published: str) -> int:
    """A feed line's ``published`` as Unix seconds: a bare day is midnight in Beijing."""
    if len(published) == 10:
        return int(datetime.combine(date.fromisoformat(published), time(), BEIJING).timestamp())
    return int(datetime.fromisoformat(published).timestamp())


def seconds(value: str) -> int:
    return int(datetime.fromisoformat(value).timestamp())


def entry_seconds(parsed: Any) -> int:
    return calendar.timegm(parsed)


def export(data_dir: Path, fmt: str, *args: str) -> Any:
    done = subprocess.run(
        [*EXPORT, "--format", fmt, "--data-dir", str(data_dir), *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    parsed = feedparser.parse(done.stdout)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return parsed


def test_a_crawl_with_an_undated_site_exports_dated_news_first_and_dates_nothing_today(
    tmp_path: Path, replica: Replica, server: ReplicaServer, sources_file: Path
) -> None:
    # The English site's article pages show no date: its stories are undated, first seen today.
    replica.break_layout("english", "no_dates")
    data = tmp_path / "data"
    crawl = run_crawl(sources_file, data, tmp_path / "run")
    assert crawl.returncode == 0, crawl.stderr
    records = {record["url"]: record for record in read_feed(data)}
    published_at = {
        url: publication_seconds(record["published"])
        for url, record in records.items()
        if record["published"] is not None
    }
    undated = [url for url in records if url not in published_at]
    assert len(undated) >= 24 and len(published_at) >= 50, "the replica must give both kinds"
    today = datetime.combine(datetime.now(UTC).date(), time(), UTC).timestamp()

    atom = export(data, "atom", "--limit", "500")

    entries = atom.entries
    assert {entry.id for entry in entries} == set(records)
    kinds = ["published" in entry for entry in entries]
    assert kinds == sorted(kinds, reverse=True), "an undated entry came before a dated one"
    dated_entries, undated_entries = entries[: len(published_at)], entries[len(published_at) :]
    times = [entry_seconds(entry.published_parsed) for entry in dated_entries]
    assert times == [published_at[entry.id] for entry in dated_entries]
    assert times == sorted(times, reverse=True)
    assert max(times) < today, "an old article was published today"
    for entry in undated_entries:
        # No publication time at all; Atom's mandatory `updated` is when it was first seen.
        assert "published" not in entry
        assert entry_seconds(entry.updated_parsed) == seconds(records[entry.id]["first_seen"])
    sights = [entry_seconds(entry.updated_parsed) for entry in undated_entries]
    assert sights == sorted(sights, reverse=True)

    # The default 50 are the 50 latest publications: every one left out is no later.
    top = export(data, "atom").entries
    assert len(top) == 50 and all("published" in entry for entry in top)
    oldest_kept = min(entry_seconds(entry.published_parsed) for entry in top)
    kept = {entry.id for entry in top}
    assert all(when <= oldest_kept for url, when in published_at.items() if url not in kept)

    rss = export(data, "rss", "--limit", "500")
    assert [item.id for item in rss.entries] == [entry.id for entry in entries]
    for item in rss.entries[len(published_at) :]:
        assert "published" not in item, "an undated RSS item got a pubDate"


def record(number: int, **fields: Any) -> Record:
    base: Record = {
        "id": f"{number:016x}",
        "url": f"https://news.example.edu.cn/info/1002/{number}.htm",
        "title": f"第{number}条",
        "published": f"2024-03-{number:02d}",
        "text": "正文。",
        "version": 1,
        "first_seen": "2026-12-01T08:00:00+00:00",
        "updated_at": None,
    }
    return {**base, **fields}


def test_undated_records_follow_the_dated_by_first_sight_and_timeless_ones_are_left_out() -> None:
    records = [
        record(1, published=None, first_seen="2026-12-01T09:00:00+00:00"),
        record(2),
        record(3, published=None, first_seen="2026-11-30T09:00:00+00:00"),
        record(4, published="2024-03-01T18:30:00+08:00"),
        record(5, published=None, first_seen=None),  # no time at all: no entry
        record(6, published="not a date", first_seen="2026-12-01T10:00:00+00:00"),
    ]

    got = [rec["id"] for rec in newest(records, 10)]

    # A publication of 2024 outranks a first sight of 2026; an unreadable date is no date.
    assert got == [f"{n:016x}" for n in (2, 4, 6, 1, 3)]
    assert sort_key(records[4]) is None
    assert [rec["id"] for rec in newest(records, 2)] == [f"{n:016x}" for n in (2, 4)]


def test_an_entry_is_published_only_when_its_page_says_and_the_feed_links_itself() -> None:
    edited = record(7, version=2, updated_at="2026-12-01T11:00:00+00:00")
    undated = record(8, published=None)
    out = io.BytesIO()
    write_syndication([edited, undated], out, fmt="atom")

    atom = feedparser.parse(out.getvalue())
    assert [link.rel for link in atom.feed.links] == ["alternate"]
    assert atom.feed.updated == "2026-12-01T11:00:00+00:00"
    dated_entry, undated_entry = atom.entries
    assert dated_entry.published == "2024-03-07T00:00:00+08:00"
    assert dated_entry.updated == "2026-12-01T11:00:00+00:00"
    assert "published" not in undated_entry
    assert undated_entry.updated == "2026-12-01T08:00:00+00:00"

    document = render(
        [undated], fmt="rss", branding=DEFAULT_BRANDING, self_url="http://127.0.0.1:8080/feed.rss"
    )
    rss = feedparser.parse(document)
    assert {link.rel: link.href for link in rss.feed.links}["self"] == (
        "http://127.0.0.1:8080/feed.rss"
    )
    assert "published" not in rss.entries[0]
