"""The shared state in a real Redis (``crawler.store.shared``): the data directory's decisions,
each filed with its feed line in one transaction, races between crawls decided once, a restart
of the server ridden out, and the URL helpers the engine calls (password never shown)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any, cast

import pytest

from crawler.extract.urls import article_id
from crawler.store.datadir import Outcome, Store
from crawler.store.feed import encode_line
from crawler.store.filing import file_record
from crawler.store.shared import (
    FEED_STREAM,
    LINE_FIELD,
    Filing,
    SharedStore,
    StateServerError,
    check_reachable,
    parse_url,
    redact,
)
from crawler.store.state import PageValidators
from tests.redis_server import RedisServer, free_port
from tests.test_store import BODY, record

URL = "https://x.neu.edu.cn/info/1002/{}.htm"


def stream_lines(server: RedisServer) -> list[bytes]:
    client = server.client()
    try:
        entries = cast(list[tuple[bytes, dict[bytes, bytes]]], client.xrange(FEED_STREAM))
        return [fields[LINE_FIELD] for _id, fields in entries]
    finally:
        client.close()


def without_edit_time(line: dict[str, Any] | None) -> dict[str, Any] | None:
    """*line* with only whether it has an edit time (the two stores' clocks differ)."""
    return None if line is None else {**line, "updated_at": bool(line["updated_at"])}


# One story after another, as crawls bring them: new, repeat, edit, redirect, copy, new column.
SCENARIO: list[tuple[dict[str, Any], dict[str, Any]]] = [
    (record(URL.format(1), BODY), {"validators": ('"e1"', None)}),
    (record(URL.format(1), BODY), {}),
    ({**record(URL.format(1), BODY), "title": "新标题"}, {"validators": ('"e2"', "Mon")}),
    (
        record(URL.format(2), BODY + "第二篇。"),
        {"listed_as": (article_id(URL.format(3)), URL.format(3))},
    ),
    (record(URL.format(4), BODY + "第二篇。"), {}),  # the same body at another URL
    (record(URL.format(3), BODY + "第二篇。"), {}),  # the listed URL itself, later
    ({**record(URL.format(2), BODY + "第二篇。"), "columns": ["通知公告"]}, {}),
    (record(URL.format(5), "短"), {}),
    (record(URL.format(6), "短"), {}),  # too short to be called a copy
]


def test_records_are_filed_as_the_data_directory_files_them(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    local, shared = Store(tmp_path / "data"), SharedStore(redis_server.url)
    sources = frozenset({"news-ddyw"})
    for item, options in SCENARIO:
        there, here = local.add(item, **options), shared.add(item, **options)
        assert here[0] is there[0], item["url"]
        assert without_edit_time(here[1]) == without_edit_time(there[1])
    lines = [json.loads(line) for line in stream_lines(redis_server)]
    assert [line["version"] for line in lines] == [1, 2, 1, 1, 1]
    assert list(map(without_edit_time, lines)) == list(map(without_edit_time, feed_lines(local)))
    for number in range(1, 8):
        id_ = article_id(URL.format(number))
        assert shared.is_known(id_) is local.is_known(id_), number
    assert by_id(shared.known_articles(sources)) == by_id(local.known_articles(sources))
    assert by_id(shared.recheck_candidates(sources, 10**9)) == by_id(
        local.recheck_candidates(sources, 10**9)
    )
    assert shared.recheck_candidates(sources, 0) == local.recheck_candidates(sources, 0) == []
    local.close()
    shared.close()


def feed_lines(store: Store) -> list[dict[str, Any]]:
    store.flush()
    return [json.loads(line) for line in store.feed_path.read_text().splitlines()]


def by_id(rechecks: list[Any]) -> dict[str, tuple[Any, ...]]:
    return {item.id: (item.url, item.columns, item.headers, item.anchor) for item in rechecks}


def test_each_line_in_the_stream_is_the_feed_line_the_store_returned(
    redis_server: RedisServer,
) -> None:
    store = SharedStore(redis_server.url)
    _outcome, line = store.add(record(URL.format(7), BODY))
    assert line is not None
    assert stream_lines(redis_server) == [encode_line(line)]
    assert store.add(record(URL.format(7), BODY))[0] is Outcome.UNCHANGED
    assert len(stream_lines(redis_server)) == 1  # nothing more for a repeat
    store.close()


def test_walks_validators_and_relocations_are_kept(redis_server: RedisServer) -> None:
    store = SharedStore(redis_server.url)
    assert not store.walk_complete("k") and store.list_validators("k") is None
    store.set_walk_complete("k", True)
    store.set_list_validators("k", PageValidators('"t"', None, True))
    store.set_relocated_column("news-ddyw", "东大要闻", "http://a/", "http://b/")
    again = SharedStore(redis_server.url)  # another crawl, later
    assert again.walk_complete("k")
    assert again.list_validators("k") == PageValidators('"t"', None, True)
    assert again.relocated_column("news-ddyw", "东大要闻", "http://a/") == "http://b/"
    assert again.relocated_column("news-ddyw", "东大要闻", "http://c/") is None
    again.set_walk_complete("k", False)
    again.set_list_validators("k", PageValidators(None, None, True))
    assert not store.walk_complete("k") and store.list_validators("k") is None
    store.close()
    again.close()


def test_two_crawls_filing_one_article_at_once_file_it_once(redis_server: RedisServer) -> None:
    first, second = SharedStore(redis_server.url), SharedStore(redis_server.url)
    item = record(URL.format(8), BODY)
    # The first crawl has read the state and decided "new"; the second commits before it.
    with first.client.pipeline() as pipe:
        filing = Filing(pipe)
        outcome, _line = file_record(filing, item, None, None, filing.keep)
        assert outcome is Outcome.NEW
        assert second.add(item)[0] is Outcome.NEW
        with pytest.raises(Exception, match="Watched variable changed"):
            filing.commit()
    # Decided again, as SharedStore.add does after that: it is known now.
    assert first.add(item)[0] is Outcome.UNCHANGED
    assert len(stream_lines(redis_server)) == 1
    first.close()
    second.close()


def test_many_crawls_filing_the_same_articles_file_each_once(redis_server: RedisServer) -> None:
    items = [record(URL.format(100 + n), f"{BODY}第{n}篇。") for n in range(30)]
    outcomes: list[Outcome] = []

    def crawl() -> None:
        store = SharedStore(redis_server.url)
        outcomes.extend(store.add(item)[0] for item in items)
        store.close()

    threads = [threading.Thread(target=crawl) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count(Outcome.NEW) == len(items)
    assert len(stream_lines(redis_server)) == len(items)


def test_a_restart_of_the_server_is_ridden_out(redis_server: RedisServer) -> None:
    store = SharedStore(redis_server.url)
    items = [record(URL.format(200 + n), f"{BODY}第{n}篇。") for n in range(40)]
    for item in items[:20]:
        assert store.add(item)[0] is Outcome.NEW
    redis_server.stop()  # down for 2 s while the crawl files the rest
    back = threading.Timer(2.0, redis_server.start)
    back.start()
    started = time.monotonic()
    for item in items[20:]:
        assert store.add(item)[0] is Outcome.NEW
    waited = time.monotonic() - started
    back.join()
    assert waited >= 1.5
    assert all(store.is_known(item["id"]) for item in items)
    assert len(stream_lines(redis_server)) == len(items)
    store.close()


# -- the helpers -----------------------------------------------------------------------------


def test_a_password_is_redacted() -> None:
    assert redact("redis://:s3cret@h:6379/0") == "redis://:***@h:6379/0"
    assert redact("redis://user:s3cret@h/1") == "redis://user:***@h/1"
    assert redact("redis://h:6379/0") == "redis://h:6379/0"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:pa#SECRET@10.0.0.5:6379/0", "redis://:***@10.0.0.5:6379/0"),
        ("redis://:pa?SECRET@10.0.0.5:6379/0", "redis://:***@10.0.0.5:6379/0"),
        ("redis://:pa/SECRET@10.0.0.5:6379/0", "redis://:***@10.0.0.5:6379/0"),
        ("redis://:p@SECRET@10.0.0.5:6379/0", "redis://:***@10.0.0.5:6379/0"),
        ("redis://user:pa#SECRET@10.0.0.5/0", "redis://user:***@10.0.0.5/0"),
        ("redis://SECRET@10.0.0.5:6379/0", "redis://***@10.0.0.5:6379/0"),
        ("SECRET@10.0.0.5:6379", "***@10.0.0.5:6379"),
    ],
)
def test_a_password_with_url_marks_or_given_as_user_is_never_shown(url: str, shown: str) -> None:
    assert redact(url) == shown
    with pytest.raises(StateServerError) as caught:
        parse_url(url)
    text = str(caught.value)
    assert text.startswith(f"Redis URL {shown}: ") and "SECRET" not in text


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://:pw@h:1/0", "must start with redis://"),
        ("redis://:pw@:1/0", "names no host"),
        ("redis://:pw@h:99999/0", "the port is not a number"),
        ("redis://:pw@h:1/zero", "the database 'zero' is not a number"),
        ("redis://:pw@h:1/0?db=2", "takes no query"),
    ],
)
def test_a_bad_url_is_one_line_without_its_password(url: str, message: str) -> None:
    with pytest.raises(StateServerError) as caught:
        parse_url(url)
    text = str(caught.value)
    assert message in text and "pw" not in text and "\n" not in text


def test_an_unreachable_server_is_one_line_at_once(tmp_path: Path) -> None:
    url = f"redis://:s3cret@127.0.0.1:{free_port()}/0"
    with pytest.raises(StateServerError, match=r"^Redis at redis://:\*\*\*@127.0.0.1:\d+/0 cannot"):
        check_reachable(url)


def test_a_wrong_password_is_refused_in_one_line(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis", password="right").start()
    try:
        check_reachable(server.url)
        wrong = server.url.replace(":right@", ":wrong@")
        with pytest.raises(StateServerError, match="refused the login") as caught:
            check_reachable(wrong)
        assert "wrong" not in str(caught.value)
    finally:
        server.stop()
