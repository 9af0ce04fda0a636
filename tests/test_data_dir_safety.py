"""The data directory's promises (issue 11: 5, 9, 12, 13): the state never claims what the feed
lacks, no link is followed out of the data directory, the crawl lock is taken once, and the
feed's text is always valid."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from crawler.extract.article import ParsedArticle
from crawler.extract.record import build_record
from crawler.extract.urls import article_id
from crawler.store.datadir import LOCK_FILE, Store, check_data_dir
from crawler.store.feed import FEED_FILE, FeedWriter, encode_line, write_atomically
from crawler.store.locks import DataDirError, LockHeld, hold_lock
from crawler.store.state import STATE_FILE
from crawler.text import TITLE_MAX_CHARACTERS, clean_text
from replica import Replica, ReplicaServer
from scheduler.crawl import run_child
from tests.conftest import PROJECT_ROOT, crawl_command, read_feed, run_crawl
from tests.test_scheduler_e2e import scheduler_command

BODY = "东北大学召开2026年工作会议，会议总结了一年来的工作并部署了下一阶段的重点任务。" * 2
MISMATCH = "does not hold what the state knew"


def record(number: int, title: str = "标题", text: str = BODY) -> dict[str, Any]:
    url = f"https://x.neu.edu.cn/info/1002/{number}.htm"
    return {
        "id": article_id(url), "url": url, "source": "news-ddyw", "site": "x.neu.edu.cn",
        "column": "东大要闻", "columns": ["东大要闻"], "title": title, "published": None,
        "authors": [], "editors": [], "origin": None, "language": "zh",
        "text": f"{number}: {text}", "images": [], "attachments": [],
        "crawled_at": "2026-11-28T00:00:00+00:00",
    }  # fmt: skip


def filled(data: Path, count: int) -> list[dict[str, Any]]:
    """A data directory whose feed and state hold *count* articles, one line each."""
    store = Store(data)
    records = [record(number) for number in range(1, count + 1)]
    for each in records:
        store.add(each)
    store.set_walk_complete("news-ddyw 东大要闻", True)
    store.close()
    return records


def feed_lines(data: Path) -> list[bytes]:
    return (data / FEED_FILE).read_bytes().splitlines(keepends=True)


def known(
    data: Path, records: list[dict[str, Any]], caplog: pytest.LogCaptureFixture
) -> list[bool]:
    """Whether a reopened store knows each record; its warnings land in *caplog*."""
    with caplog.at_level(logging.WARNING, logger="crawler.store.datadir"):
        store = Store(data)
    try:
        return [store.is_known(each["id"]) for each in records]
    finally:
        store.close()


def mismatch_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if MISMATCH in r.getMessage()]


# -- 5. the state never claims what the feed lacks ------------------------------------------------


def test_a_feed_restored_from_an_older_backup_leaves_the_rest_unknown(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    records = filled(data, 5)
    (data / FEED_FILE).write_bytes(b"".join(feed_lines(data)[:2]))
    assert known(data, records, caplog) == [True, True, False, False, False]
    [warning] = mismatch_warnings(caplog)
    assert "3 known articles are not in it and will be fetched again" in warning
    store = Store(data)
    # Forgotten articles may sit on any list page: every walk is due in full again.
    assert not store.walk_complete("news-ddyw 东大要闻")
    # Fetched again, each is new, at version 1 again: the feed has no line of it.
    outcome, line = store.add(records[3])
    assert outcome.value == "new" and line is not None and line["version"] == 1
    store.close()


def test_an_emptied_feed_leaves_nothing_known(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    records = filled(data, 3)
    (data / FEED_FILE).write_bytes(b"")
    assert known(data, records, caplog) == [False, False, False]
    assert "3 known articles are not in it" in mismatch_warnings(caplog)[0]


def test_an_overwritten_middle_line_is_reported_by_its_number(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    records = filled(data, 4)
    lines = feed_lines(data)
    lines[1] = b"#" * (len(lines[1]) - 1) + b"\n"  # same size: only the content changed
    (data / FEED_FILE).write_bytes(b"".join(lines))
    assert known(data, records, caplog) == [True, False, True, True]
    [warning] = mismatch_warnings(caplog)
    assert "1 known articles are not in it" in warning
    assert "1 lines are unreadable (line 2)" in warning


@pytest.mark.parametrize(
    ("key", "value"),
    [("columns", 5), ("columns", "东大要闻"), ("version", 2**64), ("version", 0)],
    ids=["columns-number", "columns-string", "version-past-64-bits", "version-zero"],
)
def test_a_hand_edited_line_of_the_wrong_shape_is_unreadable_not_fatal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, key: str, value: object
) -> None:
    data = tmp_path / "data"
    records = filled(data, 3)
    lines = feed_lines(data)
    edited = json.loads(lines[1])
    edited[key] = value
    lines[1] = json.dumps(edited, ensure_ascii=False).encode() + b"\n"
    (data / FEED_FILE).write_bytes(b"".join(lines))
    assert known(data, records, caplog) == [True, False, True]
    [warning] = mismatch_warnings(caplog)
    assert "unreadable (line 2)" in warning


def test_a_foreign_feed_is_named_not_adopted_silently(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    our_records = filled(ours, 3)
    their_records = [record(number) for number in range(100, 102)]
    store = Store(theirs)
    for each in their_records:
        store.add(each)
    store.close()
    shutil.copyfile(theirs / FEED_FILE, ours / FEED_FILE)
    assert known(ours, our_records + their_records, caplog) == [False] * 3 + [True] * 2
    [warning] = mismatch_warnings(caplog)
    assert "3 known articles are not in it" in warning
    assert "2 the state did not know were taken from it" in warning
    assert "another data directory's feed" in warning


def test_a_version_the_feed_lost_is_set_back_and_its_validators_dropped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    first = record(1)
    store = Store(data)
    store.add(first)
    store.close()
    backup = (data / FEED_FILE).read_bytes()
    store = Store(data)
    store.add({**first, "title": "新标题"}, validators=('"v2"', None))
    store.close()
    (data / FEED_FILE).write_bytes(backup)
    with caplog.at_level(logging.WARNING, logger="crawler.store.datadir"):
        store = Store(data)
    state = store.state.get(first["id"])
    assert state is not None and state.version == 1 and state.etag is None
    # The edit is found again as version 2: the feed never saw the lost one.
    outcome, line = store.add({**first, "title": "新标题"})
    assert outcome.value == "updated" and line is not None and line["version"] == 2
    store.close()
    assert "1 are there at an older version" in mismatch_warnings(caplog)[0]


def test_lines_a_crash_left_uncommitted_are_recovered_without_a_mismatch(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    records = filled(data, 2)
    writer = FeedWriter(data / FEED_FILE)  # as a crawl killed before its commit left it
    writer.append({**record(3), "version": 1, "first_seen": "2026-11-28T00:00:00+00:00"})
    writer.close()
    assert known(data, [*records, record(3)], caplog) == [True, True, True]
    assert not mismatch_warnings(caplog)
    assert "Recovered 1 feed lines" in caplog.text


def test_an_unchanged_feed_is_opened_without_a_word(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    records = filled(data, 3)
    assert known(data, records, caplog) == [True, True, True]
    assert not caplog.records


def test_a_crawl_refetches_what_a_restored_feed_lacks_in_one_run(
    tmp_path: Path, replica: Replica, server: ReplicaServer, sources_file: Path
) -> None:
    data = tmp_path / "data"
    first = run_crawl(sources_file, data, tmp_path / "run1")
    assert first.returncode == 0, first.stderr
    expected = set(replica.expected_records(server))
    lines = feed_lines(data)
    (data / FEED_FILE).write_bytes(b"".join(lines[: len(lines) // 3]))  # an older backup

    second = run_crawl(sources_file, data, tmp_path / "run2")
    assert second.returncode == 0, second.stderr
    feed = read_feed(data)
    assert {line["url"] for line in feed} == expected
    keys = [(line["id"], line["version"]) for line in feed]
    assert len(keys) == len(set(keys))
    missing = len(expected) - len(lines) // 3
    assert f"{missing} known articles are not in it" in second.log
    print(f"restored backup: {len(lines) // 3} of {len(expected)} lines kept, {missing} refetched")


# -- 9. symbolic links are not followed -----------------------------------------------------------


@pytest.mark.parametrize("name", [LOCK_FILE, FEED_FILE, STATE_FILE])
def test_a_link_in_place_of_a_data_dir_file_is_refused_and_its_target_untouched(
    tmp_path: Path, name: str
) -> None:
    data = tmp_path / "data"
    filled(data, 2)
    target = tmp_path / "precious.txt"
    target.write_bytes(b"first line\nlast line without newline")
    before = target.read_bytes()
    (data / name).unlink()
    (data / name).symlink_to(target)
    with pytest.raises(DataDirError, match="is a symbolic link"):
        check_data_dir(data)
    with pytest.raises(DataDirError, match="is a symbolic link"):
        Store(data)
    assert target.read_bytes() == before


def test_a_crawl_refuses_a_linked_feed_in_one_line(tmp_path: Path, sources_file: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    target = tmp_path / "elsewhere.jsonl"
    target.write_bytes(b'{"a": 1}\nno newline')
    (data / FEED_FILE).symlink_to(target)
    result = run_crawl(sources_file, data, tmp_path / "out")
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert "is a symbolic link" in line and FEED_FILE in line
    assert target.read_bytes() == b'{"a": 1}\nno newline'


def test_the_scheduler_helpers_do_not_write_through_links(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.write_bytes(b"keep")
    runs, partial = tmp_path / "runs.jsonl", tmp_path / "health.json.part"
    runs.symlink_to(target)
    partial.symlink_to(target)
    with pytest.raises(DataDirError, match="symbolic link"):
        FeedWriter(runs)
    with pytest.raises(DataDirError, match="symbolic link"):
        write_atomically(tmp_path / "health.json", b"{}")
    assert target.read_bytes() == b"keep"


def test_the_scheduler_refuses_a_linked_run_history_in_one_line(
    tmp_path: Path, sources_file: Path
) -> None:
    data, target = tmp_path / "data", tmp_path / "target"
    data.mkdir()
    target.write_bytes(b"keep")
    (data / "runs.jsonl").symlink_to(target)
    done = subprocess.run(
        scheduler_command(sources_file, data, "--once"),
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "symbolic link" in done.stderr
    assert target.read_bytes() == b"keep"


# -- 12. one lock, taken once ---------------------------------------------------------------------


def test_the_checked_lock_is_held_until_the_store_takes_it_over(tmp_path: Path) -> None:
    data = tmp_path / "data"
    check_data_dir(data)
    # Another crawl's attempt between the check and the crawl's own open: refused.
    with pytest.raises(LockHeld):
        hold_lock(data / LOCK_FILE)
    store = Store(data)  # this process's crawl takes the lock it checked
    with pytest.raises(LockHeld):
        hold_lock(data / LOCK_FILE)
    store.close()
    os.close(hold_lock(data / LOCK_FILE))


def test_two_crawls_started_together_one_runs_the_other_refuses_in_one_line(
    tmp_path: Path, sources_file: Path
) -> None:
    data = tmp_path / "data"
    outs = [tmp_path / "a", tmp_path / "b"]
    for out in outs:
        out.mkdir()
    crawls = [
        subprocess.Popen(
            crawl_command(sources_file, data, out, files=False),
            cwd=PROJECT_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for out in outs
    ]
    results: list[tuple[int, str]] = []
    for crawl in crawls:
        _stdout, stderr = crawl.communicate(timeout=120)
        results.append((crawl.returncode, stderr))
    codes = sorted(code for code, _ in results)
    losers = [stderr for code, stderr in results if code != 0]
    print(f"two crawls started together: exit codes {codes}")
    # Both may run when the first is done before the second starts; never a failure but one.
    assert codes in ([0, 0], [0, 2]), results
    for stderr in losers:
        [line] = [text for text in stderr.splitlines() if text.strip()]
        assert "another crawl" in line


# -- 13. text is always valid ---------------------------------------------------------------------


def test_clean_text_strips_controls_and_overrides_keeps_tab_and_newline() -> None:
    assert clean_text("a\x00b\x07c\x1b[31md\x7f\x85e\u202eevil\u2066x\u2069") == "abc[31mdeevilx"
    assert clean_text("第一段\n\n第二\t段\r\n") == "第一段\n\n第二\t段\n"
    assert clean_text("bad \ud800 half") == "bad \ufffd half"
    assert clean_text("\x01\x02") is None
    assert clean_text(None) is None


def test_records_get_clean_titles_and_text_and_a_title_within_the_cap() -> None:
    parsed = ParsedArticle(
        title="\u202e" + "长" * 1000,
        published=None,
        authors=[],
        editors=[],
        origin=None,
        text="正文\x1b]0;title\x07内容\ud800\n\n第二段",
        images=[],
        attachments=[],
        parser="vsb",
    )
    url = "https://x.neu.edu.cn/info/1002/1.htm"
    built = build_record(
        parsed, url, article_id(url), source="s", language="zh", columns=[], crawled_at="t"
    )
    assert built["title"] == "长" * TITLE_MAX_CHARACTERS
    assert built["text"] == "正文]0;title内容\ufffd\n\n第二段"


def test_the_feed_writer_never_writes_a_lone_surrogate() -> None:
    line = encode_line({"title": "半个\ud800字"})
    assert json.loads(line.decode("utf-8")) == {"title": "半个\ufffd字"}


def test_a_feed_line_holding_a_lone_surrogate_does_not_stop_the_store(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    records = filled(data, 3)
    lines = feed_lines(data)
    # The escape is valid JSON, but the string it makes cannot be encoded: no text holds it.
    lines[2] = lines[2].replace('"标题"'.encode(), b'"\\ud800"')
    (data / FEED_FILE).write_bytes(b"".join(lines))
    assert known(data, records, caplog) == [True, True, False]
    assert "1 lines are unreadable (line 3)" in mismatch_warnings(caplog)[0]


def test_a_crawl_starts_on_a_feed_holding_a_lone_surrogate(
    tmp_path: Path, replica: Replica, server: ReplicaServer, sources_file: Path
) -> None:
    data = tmp_path / "data"
    assert run_crawl(sources_file, data, tmp_path / "run1").returncode == 0
    before = (data / FEED_FILE).read_bytes()
    # A line the state has not taken in yet (as a crash leaves it), whose title is no text.
    line = json.loads(before.splitlines()[0])
    line.update(id="00000000000000ff", url=line["url"] + "?copy", title="\ud800")
    with (data / FEED_FILE).open("ab") as feed:
        feed.write(json.dumps(line).encode("ascii") + b"\n")
    number = before.count(b"\n") + 1
    second = run_crawl(sources_file, data, tmp_path / "run2")
    assert second.returncode == 0, second.stderr
    assert f"1 lines are unreadable (line {number})" in second.log
    print(f"lone surrogate on line {number}: the next crawl exit {second.returncode}")
    third = run_crawl(sources_file, data, tmp_path / "run3")
    assert third.returncode == 0, third.stderr
    assert MISMATCH not in third.log  # reported once; the feed is unchanged since


def test_a_run_log_that_is_a_link_is_not_written_through(tmp_path: Path) -> None:
    """The scheduler appends a crawl's output to logs/<run-id>.log: never to a link's target."""
    target, log = tmp_path / "victim", tmp_path / "run.log"
    target.write_bytes(b"keep")
    log.symlink_to(target)
    with pytest.raises(DataDirError, match="symbolic link"):
        run_child(["echo", "written through"], log, 10, 1, threading.Event())
    assert target.read_bytes() == b"keep"
