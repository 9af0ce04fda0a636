"""The feed reader: filters, latest versions, torn lines, follow mode and constant memory."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
import tracemalloc
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from crawler.cli.main import main
from crawler.store.feed import BadLines
from crawler.store.reader import follow_feed, iter_feed

Record = dict[str, Any]


def record(article_id: str, version: int = 1, **fields: Any) -> Record:
    """A feed line as the crawler writes it; *fields* override the defaults."""
    number = int(article_id, 16)
    base: Record = {
        "id": article_id,
        "url": f"https://neunews.neu.edu.cn/info/1003/{number}.htm",
        "source": "neunews-xsdt",
        "site": "neunews.neu.edu.cn",
        "column": "学术动态",
        "columns": ["学术动态"],
        "title": f"东北大学举办学术报告会（{number}）",
        "published": "2023-04-07",
        "authors": ["张三"],
        "editors": ["李四"],
        "origin": "新闻中心",
        "language": "zh",
        "text": "东北大学举办学术报告会。\n\n报告会由校长主持。",
        "images": [],
        "attachments": [],
        "crawled_at": "2023-04-08T01:00:00+00:00",
        "version": version,
        "first_seen": "2023-04-08T01:00:00+00:00",
    }
    if version >= 2:
        base["updated_at"] = "2023-04-09T01:00:00+00:00"
    base.update(fields)
    return base


def line(rec: Record) -> bytes:
    return (json.dumps(rec, ensure_ascii=False) + "\n").encode("utf-8")


def write_feed(path: Path, records: list[Record], tail: bytes = b"") -> Path:
    path.write_bytes(b"".join(line(rec) for rec in records) + tail)
    return path


def append(path: Path, data: bytes) -> None:
    with path.open("ab") as handle:
        handle.write(data)


def write_state(path: Path, versions: dict[str, int]) -> Path:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE articles (id TEXT PRIMARY KEY, version INTEGER NOT NULL, url TEXT)")
    conn.executemany("INSERT INTO articles (id, version) VALUES (?, ?)", versions.items())
    conn.commit()
    conn.close()
    return path


def ids(records: Iterator[Record] | list[Record]) -> list[tuple[str, int]]:
    return [(rec["id"], rec["version"]) for rec in records]


A, B, C = "00000000000000a1", "00000000000000b2", "00000000000000c3"


def test_yields_every_record_in_file_order_with_chinese_intact(tmp_path: Path) -> None:
    records = [record(A), record(B), record(A, 2, title="东北大学举办学术报告会（更正）")]
    feed = write_feed(tmp_path / "articles.jsonl", records)

    assert list(iter_feed(feed)) == records


def test_since_compares_the_date_part_and_drops_undated(tmp_path: Path) -> None:
    feed = write_feed(
        tmp_path / "articles.jsonl",
        [
            record(A, published="2023-04-06T23:59:00+08:00"),
            record(B, published="2023-04-07T10:30:00+08:00"),
            record(C, published="2023-04-07"),
            record("00000000000000d4", published=None),
            record("00000000000000e5", published="2024-01-01"),
        ],
    )

    got = [rec["id"] for rec in iter_feed(feed, since=date(2023, 4, 7))]

    assert got == [B, C, "00000000000000e5"]


def test_seen_since_keeps_lines_by_first_sight_whenever_published(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    """--seen-since is the first sight's UTC day (an old article backfilled yesterday passes),
    --since the publication's: after a backfill of an old archive they part ways."""
    write_feed(
        tmp_path / "articles.jsonl",
        [
            # Seen at 23:30 on the 7th in Beijing: the 7th's evening is the 7th in UTC too.
            record(A, published="2009-01-01", first_seen="2024-09-07T15:30:00+00:00"),
            # 07:00 in Beijing on the 8th is still the 7th in UTC.
            record(B, published="2024-09-08", first_seen="2024-09-07T23:00:00+00:00"),
            record(C, published="2024-09-09", first_seen="2024-09-06T23:59:59+00:00"),
            record("00000000000000d4", published=None, first_seen="2024-09-08T00:00:00+00:00"),
        ],
    )

    assert main(["feed", "--data-dir", str(tmp_path), "--seen-since", "2024-09-07"]) == 0
    seen = [json.loads(row)["id"] for row in capsysbinary.readouterr().out.splitlines()]
    assert seen == [A, B, "00000000000000d4"]
    assert main(["feed", "--data-dir", str(tmp_path), "--since", "2024-09-07"]) == 0
    published = [json.loads(row)["id"] for row in capsysbinary.readouterr().out.splitlines()]
    assert published == [B, C]


def test_source_keeps_one_source(tmp_path: Path) -> None:
    feed = write_feed(
        tmp_path / "articles.jsonl",
        [record(A), record(B, source="neunews-ddyw"), record(C)],
    )

    assert [rec["id"] for rec in iter_feed(feed, source="neunews-ddyw")] == [B]
    assert list(iter_feed(feed, source="nothing")) == []


def test_latest_asks_the_state_db(tmp_path: Path) -> None:
    feed = write_feed(
        tmp_path / "articles.jsonl",
        [record(A), record(B), record(A, 2), record(C), record(C, 2), record(C, 3)],
    )
    # C's third version is in the feed but not committed to the state yet (the state lags
    # the feed by a batch): it must still come out, and so does the committed version 2.
    write_state(tmp_path / "state.sqlite3", {A: 2, B: 1, C: 2})

    assert ids(iter_feed(feed, latest=True)) == [(B, 1), (A, 2), (C, 2), (C, 3)]


def test_latest_takes_an_explicit_state_path(tmp_path: Path) -> None:
    feed = write_feed(tmp_path / "articles.jsonl", [record(A), record(A, 2)])
    state = write_state(tmp_path / "elsewhere.sqlite3", {A: 1})

    assert ids(iter_feed(feed, latest=True, state_path=state)) == [(A, 1), (A, 2)]


def test_latest_without_state_db_scans_the_feed(tmp_path: Path) -> None:
    feed = write_feed(
        tmp_path / "articles.jsonl",
        [record(A), record(B), record(A, 2), record(C), record(A, 3)],
    )

    assert ids(iter_feed(feed, latest=True)) == [(B, 1), (C, 1), (A, 3)]


def test_latest_with_an_unusable_state_db_scans_the_feed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    feed = write_feed(tmp_path / "articles.jsonl", [record(A), record(A, 2)])
    sqlite3.connect(tmp_path / "state.sqlite3").close()  # created, no tables yet

    with caplog.at_level(logging.WARNING, logger="crawler.store.reader"):
        assert ids(iter_feed(feed, latest=True)) == [(A, 2)]
    assert "no usable articles table" in caplog.text


def test_filters_apply_before_latest(tmp_path: Path) -> None:
    # The latest version moved out of the window: no older version stands in for it.
    feed = write_feed(
        tmp_path / "articles.jsonl",
        [record(A, published="2023-04-07"), record(A, 2, published="2023-03-01")],
    )

    assert list(iter_feed(feed, since=date(2023, 4, 1), latest=True)) == []


def test_a_torn_last_line_is_not_yielded(tmp_path: Path) -> None:
    whole = line(record(C))
    feed = write_feed(tmp_path / "articles.jsonl", [record(A), record(B)], tail=whole[:-1])

    assert ids(iter_feed(feed)) == [(A, 1), (B, 1)]
    assert ids(iter_feed(feed, latest=True)) == [(A, 1), (B, 1)]


def test_bad_lines_are_logged_with_their_offset_and_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = line(record(A))
    feed = tmp_path / "articles.jsonl"
    feed.write_bytes(first + b'{"id": "broken\n' + b"\n" + b"[1, 2]\n" + line(record(B)))

    with caplog.at_level(logging.WARNING, logger="crawler.store.reader"):
        assert ids(iter_feed(feed)) == [(A, 1), (B, 1)]
    assert f"offset {len(first)}" in caplog.text
    assert "not an object" in caplog.text


# A line whose JSON is valid but whose title is half a surrogate pair: no UTF-8 text holds it.
LONE_SURROGATE = line(record(B, 2)).replace("东北大学".encode(), b"\\ud800", 1)


def test_a_line_holding_a_lone_surrogate_is_read_past_by_number_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    feed = write_feed(tmp_path / "articles.jsonl", [record(A), record(B)], LONE_SURROGATE)
    append(feed, line(record(C)))
    bad = BadLines()
    with caplog.at_level(logging.WARNING, logger="crawler.store.feed"):
        assert ids(iter_feed(feed, bad=bad)) == [(A, 1), (B, 1), (C, 1)]
    assert bad.count == 1
    assert "line 3 " in caplog.text and "lone surrogate" in caplog.text
    # Nor does it count as B's latest version when the feed is scanned for them.
    assert ids(iter_feed(feed, latest=True)) == [(A, 1), (B, 1), (C, 1)]


def test_neu_news_feed_reads_past_a_lone_surrogate(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    write_feed(tmp_path / "articles.jsonl", [record(A)], LONE_SURROGATE + line(record(C)))
    assert main(["feed", "--data-dir", str(tmp_path)]) == 0
    out, err = capsysbinary.readouterr()
    assert [json.loads(text)["id"] for text in out.splitlines()] == [A, C]
    assert b"read past 1 bad lines" in err


def test_a_missing_feed_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        next(iter_feed(tmp_path / "articles.jsonl"))


def test_memory_stays_constant_on_a_large_feed(tmp_path: Path) -> None:
    count = 200_000
    feed = tmp_path / "articles.jsonl"
    with feed.open("w", encoding="utf-8") as handle:
        handle.writelines(
            f'{{"id":"{i:016x}","source":"neunews-xsdt","version":1,'
            f'"published":"2023-04-07","title":"东北大学新闻{i}"}}\n'
            for i in range(count)
        )
    assert feed.stat().st_size > 20_000_000

    tracemalloc.start()
    try:
        seen = sum(1 for _ in iter_feed(feed, since=date(2023, 1, 1), source="neunews-xsdt"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert seen == count
    assert peak < 2_000_000


def test_latest_lookups_keep_memory_constant(tmp_path: Path) -> None:
    # Smaller than above: each line costs a query. Holding the ids would still take megabytes.
    count = 30_000
    feed = tmp_path / "articles.jsonl"
    with feed.open("w", encoding="utf-8") as handle:
        handle.writelines(
            f'{{"id":"{i:016x}","source":"neunews-xsdt","version":1,"title":"东北大学"}}\n'
            for i in range(count)
        )
    write_state(tmp_path / "state.sqlite3", {f"{i:016x}": 1 for i in range(count)})

    tracemalloc.start()
    try:
        seen = sum(1 for _ in iter_feed(feed, latest=True))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert seen == count
    assert peak < 1_000_000


def collect(records: Iterator[Record], stop: threading.Event, until: str) -> list[Record]:
    """Records from a follower until one with id *until* arrives (or a 10 s watchdog fires)."""
    watchdog = threading.Timer(10, stop.set)
    watchdog.start()
    got: list[Record] = []
    try:
        for rec in records:
            got.append(rec)
            if rec["id"] == until:
                stop.set()
    finally:
        watchdog.cancel()
    return got


def run_writer(steps: Any) -> threading.Thread:
    thread = threading.Thread(target=steps, daemon=True)
    thread.start()
    return thread


def test_follow_waits_for_the_feed_and_the_rest_of_a_partial_line(tmp_path: Path) -> None:
    feed = tmp_path / "articles.jsonl"
    first, second, third = record(A), record(B, title="东北大学召开党委常委会"), record(C)
    whole = line(second)
    cut = whole.index("党".encode()) + 1  # inside a character: the bytes must be buffered
    stop = threading.Event()
    got: list[Record] = []
    during_partial: list[int] = []

    def writer() -> None:
        time.sleep(0.05)  # the follower starts before the feed exists
        append(feed, line(first))
        while not got:
            time.sleep(0.005)
        append(feed, whole[:cut])
        time.sleep(0.15)  # many polls see only the partial line
        during_partial.append(len(got))
        append(feed, whole[cut:])
        append(feed, line(third))

    thread = run_writer(writer)
    for rec in follow_feed(feed, poll_interval=0.01, stop=stop):
        got.append(rec)
        if rec["id"] == C:
            stop.set()
    thread.join(5)

    assert got == [first, second, third]
    assert during_partial == [1]


def test_follow_not_from_start_skips_existing_lines(tmp_path: Path) -> None:
    feed = write_feed(tmp_path / "articles.jsonl", [record(A)], tail=line(record(B))[:10])
    stop = threading.Event()

    def writer() -> None:
        time.sleep(0.1)
        append(feed, line(record(B))[10:] + line(record(C)))

    thread = run_writer(writer)
    got = collect(follow_feed(feed, poll_interval=0.01, stop=stop, from_start=False), stop, C)
    thread.join(5)

    # B was unfinished when the follower started, so it is new: no line is lost between an
    # earlier reader that stopped before a torn tail and this one.
    assert ids(got) == [(B, 1), (C, 1)]


def test_follow_recovers_from_a_cut_torn_tail(tmp_path: Path) -> None:
    first, torn, second, third = record(A), record(B), record(C), record("00000000000000d4")
    feed = write_feed(tmp_path / "articles.jsonl", [first])
    stop = threading.Event()

    def writer() -> None:
        time.sleep(0.05)
        append(feed, line(torn)[:-20])  # the writer crashes mid-line...
        time.sleep(0.1)
        # ...and on restart cuts the torn tail and appends new lines at the same offset.
        with feed.open("r+b") as handle:
            handle.truncate(len(line(first)))
        append(feed, line(second) + line(third))

    thread = run_writer(writer)
    got = collect(follow_feed(feed, poll_interval=0.01, stop=stop), stop, third["id"])
    thread.join(5)

    assert got == [first, second, third]


def test_follow_skips_bad_lines_and_applies_filters(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    feed = write_feed(tmp_path / "articles.jsonl", [record(A, source="neunews-ddyw")])
    stop = threading.Event()

    def writer() -> None:
        time.sleep(0.05)
        append(feed, b"not json\n" + line(record(B)) + line(record(C, source="neunews-ddyw")))

    thread = run_writer(writer)
    with caplog.at_level(logging.WARNING, logger="crawler.store.reader"):
        got = collect(
            follow_feed(feed, poll_interval=0.01, stop=stop, source="neunews-ddyw"), stop, C
        )
    thread.join(5)

    assert ids(got) == [(A, 1), (C, 1)]
    assert "offset" in caplog.text


def test_follow_latest_without_state_db_tracks_new_versions(tmp_path: Path) -> None:
    feed = write_feed(tmp_path / "articles.jsonl", [record(A), record(A, 2), record(B)])
    stop = threading.Event()

    def writer() -> None:
        time.sleep(0.05)
        append(feed, line(record(B, 2)) + line(record(C)))

    thread = run_writer(writer)
    got = collect(follow_feed(feed, poll_interval=0.01, stop=stop, latest=True), stop, C)
    thread.join(5)

    assert ids(got) == [(A, 2), (B, 1), (B, 2), (C, 1)]


def test_follow_stops_when_told_even_without_a_feed(tmp_path: Path) -> None:
    stop = threading.Event()
    threading.Timer(0.1, stop.set).start()
    started = time.monotonic()

    assert list(follow_feed(tmp_path / "articles.jsonl", poll_interval=0.01, stop=stop)) == []
    assert time.monotonic() - started < 5
