"""The data directory's store on its own: ids, aliases and versions without a crawl."""

from __future__ import annotations

import logging
import sqlite3
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from crawler.extract.urls import article_id
from crawler.store.datadir import Outcome, Store


def record(url: str, text: str, title: str = "标题") -> dict[str, Any]:
    return {
        "id": article_id(url), "url": url, "source": "news-ddyw", "site": "x.neu.edu.cn",
        "column": "东大要闻", "columns": ["东大要闻"], "title": title, "published": None,
        "authors": [], "editors": [], "origin": None, "language": "zh", "text": text,
        "images": [], "attachments": [], "crawled_at": "2026-11-28T00:00:00+00:00",
    }  # fmt: skip


BODY = "东北大学召开2026年工作会议，会议总结了一年来的工作并部署了下一阶段的重点任务。" * 2


def test_an_article_reached_through_a_redirect_is_known_by_its_listed_url(tmp_path: Path) -> None:
    listed = "https://x.neu.edu.cn/info/1002/1.htm"
    moved = record("https://x.neu.edu.cn/info/1002/2.htm", BODY)
    store = Store(tmp_path)
    outcome, _line = store.add(
        moved, validators=('"etag-1"', None), listed_as=(article_id(listed), listed)
    )
    assert outcome is Outcome.NEW
    assert store.is_known(article_id(listed))
    known = store.state.get(moved["id"])
    assert known is not None and known.etag == '"etag-1"'
    store.close()


def test_an_edit_is_a_new_version_and_a_repeat_is_not(tmp_path: Path) -> None:
    store = Store(tmp_path)
    first = record("https://x.neu.edu.cn/info/1002/3.htm", BODY)
    assert store.add(first)[0] is Outcome.NEW
    assert store.add(first)[0] is Outcome.UNCHANGED
    outcome, line = store.add({**first, "title": "新标题"})
    assert outcome is Outcome.UPDATED and line is not None and line["version"] == 2
    store.close()
    reopened = Store(tmp_path)  # the versions survive a restart
    known = reopened.state.get(first["id"])
    assert known is not None and known.version == 2
    reopened.close()


# -- the re-check schedule: kept with each article, rebuilt from the feed ------------------------


def epoch_of(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp())


def schedules(data_dir: Path) -> dict[str, tuple[int | None, int | None]]:
    with sqlite3.connect(data_dir / "state.sqlite3") as db:
        rows = db.execute("SELECT url, anchor, checked FROM articles").fetchall()
    return {url: (anchor, checked) for url, anchor, checked in rows}


DATED = "https://x.neu.edu.cn/info/1002/10.htm"
UNDATED = "https://x.neu.edu.cn/info/1002/11.htm"
SEEN = "2026-11-28T00:00:00+00:00"  # 08:00 in Beijing


def seed_schedules(data_dir: Path) -> None:
    store = Store(data_dir)
    store.add({**record(DATED, BODY), "published": "2026-11-28"})
    store.add({**record(UNDATED, BODY + "另一篇。"), "published": None})
    store.close()


def test_each_article_keeps_the_anchor_of_its_schedule_and_its_first_sight_as_done(
    tmp_path: Path,
) -> None:
    seed_schedules(tmp_path)
    assert schedules(tmp_path) == {
        # Seen at 08:00 Beijing time on its day: anchored at its first sight.
        DATED: (epoch_of(SEEN), epoch_of(SEEN)),
        UNDATED: (epoch_of(SEEN), epoch_of(SEEN)),
    }


def test_an_edit_or_an_answered_recheck_marks_the_steps_due_so_far_done(tmp_path: Path) -> None:
    seed_schedules(tmp_path)
    store = Store(tmp_path)
    before = int(time.time())
    edit = {**record(UNDATED, BODY + "改过了。"), "published": None}
    assert store.add(edit)[0] is Outcome.UPDATED
    unchanged = {**record(DATED, BODY), "published": "2026-11-28"}
    assert store.add(unchanged, recheck_of=article_id(DATED))[0] is Outcome.UNCHANGED
    store.close()
    after = schedules(tmp_path)
    for url in (DATED, UNDATED):
        anchor, checked = after[url]
        assert anchor == epoch_of(SEEN)
        assert checked is not None and checked >= before


def test_a_replayed_older_line_sets_no_step_back(tmp_path: Path) -> None:
    seed_schedules(tmp_path)
    store = Store(tmp_path)
    store.set_rechecked(article_id(DATED))
    known = store.state.get(article_id(DATED))
    assert known is not None and known.checked is not None and known.checked > epoch_of(SEEN)
    store.state.put(
        article_id=known.id, url=DATED, source=known.source, version=1, first_seen=SEEN,
        content_hash=known.content_hash, body_hash=None, columns=[],
        anchor=epoch_of(SEEN), checked=epoch_of(SEEN),
    )  # fmt: skip
    replayed = store.state.get(article_id(DATED))
    store.close()
    assert replayed is not None and replayed.checked == known.checked


def test_a_state_from_before_schedules_gets_them_from_the_feed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    seed_schedules(tmp_path)
    expected = schedules(tmp_path)
    with sqlite3.connect(tmp_path / "state.sqlite3") as db:  # the state file as it was
        db.execute("DROP INDEX articles_unscheduled")
        db.execute("ALTER TABLE articles DROP COLUMN anchor")
        db.execute("ALTER TABLE articles DROP COLUMN checked")
    with caplog.at_level(logging.INFO, logger="crawler.store.datadir"):
        Store(tmp_path).close()
    assert schedules(tmp_path) == expected
    assert "Gave 2 known articles their re-check schedule from the feed" in caplog.text
    assert "does not hold what the state knew" not in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="crawler.store.datadir"):
        Store(tmp_path).close()  # once is enough
    assert "re-check schedule" not in caplog.text


def test_a_state_rebuilt_from_the_feed_has_the_schedules(tmp_path: Path) -> None:
    seed_schedules(tmp_path)
    expected = schedules(tmp_path)
    for name in ("state.sqlite3", "state.sqlite3-wal", "state.sqlite3-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    Store(tmp_path).close()
    assert schedules(tmp_path) == expected


def test_a_new_record_is_filed_in_three_statements_and_each_outcome_stands(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path, batch_size=1000)  # no commit inside the traced filing
    statements: list[str] = []
    store.state.db.set_trace_callback(statements.append)
    first = record("https://x.neu.edu.cn/info/1002/1.htm", BODY)
    assert store.add(first, validators=('"e1"', None))[0] is Outcome.NEW
    # What it knows of the record in one look-up, the article, its validators.
    run = [statement.split()[0] for statement in statements if statement.split()[0] != "BEGIN"]
    assert run == ["SELECT", "INSERT", "UPDATE"], statements
    store.state.db.set_trace_callback(None)
    copy = record("https://x.neu.edu.cn/info/1002/2.htm", BODY)
    assert store.add(copy)[0] is Outcome.DUPLICATE_CONTENT
    assert store.add(copy)[0] is Outcome.DUPLICATE_URL  # the copy's URL is an alias now
    assert store.add(first)[0] is Outcome.UNCHANGED
    # Listed at the first article's URL, found at a third: that URL is an alias too, and an
    # alias wins over the article of the same id.
    moved = record("https://x.neu.edu.cn/info/1002/3.htm", BODY + "另一篇。")
    listed = (first["id"], first["url"])
    assert store.add(moved, listed_as=listed)[0] is Outcome.NEW
    assert store.add(first)[0] is Outcome.DUPLICATE_URL
    short = record("https://x.neu.edu.cn/info/1002/4.htm", "短")
    assert store.add(short)[0] is Outcome.NEW
    assert store.add(record("https://x.neu.edu.cn/info/1002/5.htm", "短"))[0] is Outcome.NEW
    store.close()
