"""Crawls on the shared state (``-s NEU_STATE_URL=redis://...``) and the feed writer that
appends their stream to a data directory (``crawler.store.stream``): the same feed a data
directory's crawl gives, nothing fetched twice, edits as versions, and no loss and no duplicate
when the writer is killed (a real SIGKILL) between its append and its acknowledgement or in the
middle of a line, or when Redis restarts under a crawl or under the writer."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from crawler.store.shared import SharedStore, connect
from crawler.store.stream import FeedStreamWriter, FeedWriterBusy, ForeignFeed
from replica import Replica, ReplicaServer
from tests.conftest import PROJECT_ROOT, CrawlResult, crawl_command, read_feed, run_crawl
from tests.redis_server import RedisServer, free_port
from tests.test_store import BODY, record

# What differs between two crawls of the same pages: when they ran.
CRAWL_TIMES = ("crawled_at", "first_seen", "updated_at")


def shared_crawl(sources: Path, url: str, out: Path, *args: str, **settings: str) -> CrawlResult:
    """A crawl on the shared state at *url*, with no data directory."""
    return run_crawl(
        sources, Path(), out, *args, timeout=120, NEU_STATE_URL=url, NEU_DATA_DIR="", **settings
    )


def write_feed(server: RedisServer, data: Path) -> int:
    """Drain the stream into *data*'s feed, as the scheduler's writer does; lines written."""
    client = connect(server.url)
    writer = FeedStreamWriter(client, data)
    try:
        return writer.drain()
    finally:
        writer.close()
        client.close()


def timeless(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The lines without their crawl times, in (id, version) order (the order of a crawl's
    responses is the network's)."""
    kept = [{k: v for k, v in line.items() if k not in CRAWL_TIMES} for line in lines]
    return sorted(kept, key=lambda line: (line["id"], line["version"]))


def feed_of(data: Path) -> list[dict[str, Any]]:
    """The feed's lines, whole (the store's own records, not a crawl's: no schema check)."""
    raw = (data / "articles.jsonl").read_bytes()
    assert raw.endswith(b"\n"), "a torn last line"
    return [json.loads(line) for line in raw.splitlines()]


def assert_once_each(lines: list[dict[str, Any]]) -> None:
    counts = Counter((line["id"], line["version"]) for line in lines)
    assert [pair for pair, count in counts.items() if count > 1] == []


def test_a_shared_crawl_gives_the_feed_a_data_directory_crawl_gives(
    tmp_path: Path,
    replica: Replica,
    server: ReplicaServer,
    sources_file: Path,
    redis_server: RedisServer,
) -> None:
    local = run_crawl(sources_file, tmp_path / "local", tmp_path / "run-local")
    assert local.returncode == 0, local.stderr
    shared = shared_crawl(sources_file, redis_server.url, tmp_path / "run1")
    assert shared.returncode == 0, shared.stderr
    data = tmp_path / "data"
    written = write_feed(redis_server, data)
    feed = read_feed(data)
    assert written == len(feed) == shared.stat("neu/articles/new") > 0
    assert timeless(feed) == timeless(read_feed(tmp_path / "local"))
    assert {line["url"] for line in feed} == set(replica.expected_records(server))

    server.clear_log()
    again = shared_crawl(sources_file, redis_server.url, tmp_path / "run2")
    assert again.returncode == 0, again.stderr
    assert again.stat("neu/articles/new") == 0
    fetched = {entry.path for entry in server.request_log}
    assert not fetched & {article.path for article in replica.articles("news", "ddyw")}
    assert write_feed(redis_server, data) == 0
    assert read_feed(data) == feed


def test_an_edit_found_by_a_shared_crawl_is_version_2_in_the_feed(
    tmp_path: Path,
    replica: Replica,
    server: ReplicaServer,
    sources_file: Path,
    redis_server: RedisServer,
) -> None:
    assert shared_crawl(sources_file, redis_server.url, tmp_path / "run1").returncode == 0
    data = tmp_path / "data"
    write_feed(redis_server, data)
    before = read_feed(data)
    edited = replica.articles("english", "focus")[3]
    replica.edit(edited, title=edited.title + " (Updated)")
    second = shared_crawl(sources_file, redis_server.url, tmp_path / "run2", "-a", "recheck=all")
    assert second.returncode == 0, second.stderr
    assert write_feed(redis_server, data) == 1
    after = read_feed(data)
    assert after[: len(before)] == before
    (version,) = after[len(before) :]
    old = next(line for line in before if line["id"] == version["id"])
    assert (version["version"], version["title"]) == (2, edited.title)
    assert version["first_seen"] == old["first_seen"]
    assert second.stat("neu/recheck/not_modified") == len(before) - 1


# -- the writer killed -----------------------------------------------------------------------

# A writer in a child process that SIGKILLs itself at one step of its first batch: after the
# feed's fsync and before the acknowledgement, or halfway through writing a line.
KILLED_WRITER = """
import os, signal, sys
from pathlib import Path
import crawler.store.feed as feed
import crawler.store.stream as stream
from crawler.store.shared import connect

url, data, when = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
if when == "before-ack":
    stream.FeedStreamWriter._acknowledge = lambda self, ids: os.kill(os.getpid(), signal.SIGKILL)
else:
    writes = []
    real_write = os.write
    def torn_write(fd, data):
        writes.append(data)
        if len(writes) == 3:  # two whole lines, then half of the third
            real_write(fd, data[: len(data) // 2])
            os.fsync(fd)
            os.kill(os.getpid(), signal.SIGKILL)
        return real_write(fd, data)
    feed.os.write = torn_write
stream.FeedStreamWriter(connect(url), data, batch_size=4).drain()
"""


def file_records(server: RedisServer, count: int, start: int = 0) -> list[str]:
    store = SharedStore(server.url)
    ids = []
    for n in range(start, start + count):
        _outcome, line = store.add(record(f"https://x.neu.edu.cn/info/1/{n}.htm", f"{BODY}{n}"))
        assert line is not None
        ids.append(line["id"])
    store.close()
    return ids


def killed_writer(server: RedisServer, data: Path, when: str) -> int:
    child = subprocess.run(
        [sys.executable, "-c", KILLED_WRITER, server.url, str(data), when],
        cwd=PROJECT_ROOT,
        capture_output=True,
        timeout=60,
        check=False,
    )
    return child.returncode


def test_a_writer_killed_between_its_append_and_its_ack_writes_each_line_once(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    ids = file_records(redis_server, 10)
    data = tmp_path / "data"
    assert killed_writer(redis_server, data, "before-ack") == -9
    assert [line["id"] for line in feed_of(data)] == ids[:4]  # its first batch, unacked
    assert write_feed(redis_server, data) == 6
    feed = feed_of(data)
    assert [line["id"] for line in feed] == ids
    assert_once_each(feed)


def test_a_writer_killed_in_the_middle_of_a_line_writes_each_line_once(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    ids = file_records(redis_server, 10)
    data = tmp_path / "data"
    assert killed_writer(redis_server, data, "mid-line") == -9
    raw = (data / "articles.jsonl").read_bytes()
    assert raw.count(b"\n") == 2 and not raw.endswith(b"\n")  # a torn third line
    write_feed(redis_server, data)  # the torn line cut, its batch's two missing lines added
    feed = feed_of(data)
    assert [line["id"] for line in feed] == ids
    assert_once_each(feed)


def test_a_writer_started_again_writes_nothing_twice(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    ids = file_records(redis_server, 5)
    data = tmp_path / "data"
    assert write_feed(redis_server, data) == 5
    assert write_feed(redis_server, data) == 0
    ids += file_records(redis_server, 3, start=5)
    assert write_feed(redis_server, data) == 3
    assert [line["id"] for line in feed_of(data)] == ids
    client = redis_server.client()
    assert client.xlen("neu:feed") == 0  # acknowledged lines are trimmed off
    client.close()


def test_the_writer_holds_the_crawl_lock(
    tmp_path: Path, sources_file: Path, redis_server: RedisServer
) -> None:
    data = tmp_path / "data"
    client = connect(redis_server.url)
    writer = FeedStreamWriter(client, data)
    try:
        crawl = subprocess.run(
            crawl_command(sources_file, data, tmp_path, files=False),
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        writer.close()
        client.close()
    assert crawl.returncode == 2
    assert "is using data directory" in crawl.stderr


def test_a_second_writer_on_the_same_broker_is_refused_while_the_first_runs(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    ids = file_records(redis_server, 3)
    client = connect(redis_server.url)
    first = FeedStreamWriter(client, tmp_path / "first", lease_seconds=1.0)
    try:
        time.sleep(2.5)  # past the lease: renewed meanwhile
        with pytest.raises(FeedWriterBusy, match=r"another feed writer .*first"):
            FeedStreamWriter(client, tmp_path / "second")
        assert first.drain() == 3
    finally:
        first.close()
    assert [line["id"] for line in feed_of(tmp_path / "first")] == ids
    second = FeedStreamWriter(client, tmp_path / "second")  # the lease is released on close
    second.close()
    client.close()


def test_a_scheduler_on_a_broker_another_writer_holds_is_one_error_line_and_exit_2(
    tmp_path: Path, sources_file: Path, redis_server: RedisServer
) -> None:
    client = connect(redis_server.url)
    writer = FeedStreamWriter(client, tmp_path / "first")
    try:
        scheduler = subprocess.run(
            [
                sys.executable, "-m", "scheduler", "--once", "--every", "1h",
                "--sources", str(sources_file), "--data-dir", str(tmp_path / "second"),
                "--broker", redis_server.url,
            ],
            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    finally:
        writer.close()
        client.close()
    assert scheduler.returncode == 2
    (line,) = scheduler.stderr.splitlines()
    assert line.startswith("error: another feed writer is appending")
    assert str(tmp_path / "first") in line


@pytest.mark.parametrize("lost", ["the state", "the checkpoint"])
def test_a_feed_the_state_was_not_fed_from_is_refused(
    tmp_path: Path, redis_server: RedisServer, lost: str
) -> None:
    file_records(redis_server, 3)
    data = tmp_path / "data"
    assert write_feed(redis_server, data) == 3
    feed = (data / "articles.jsonl").read_bytes()
    client = redis_server.client()
    if lost == "the state":
        client.flushall()  # a Redis that knows nothing of the articles in the feed
    else:
        (data / ".feed-stream").unlink()  # a single machine's feed
    client.close()
    with pytest.raises(ForeignFeed, match="use a fresh data directory for broker mode"):
        write_feed(redis_server, data)
    assert (data / "articles.jsonl").read_bytes() == feed


# -- Redis restarted -------------------------------------------------------------------------


def test_a_redis_restart_under_the_writer_loses_and_duplicates_nothing(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    data = tmp_path / "data"
    client = connect(redis_server.url)
    writer = FeedStreamWriter(client, data, batch_size=7)
    stop = threading.Event()
    running = threading.Thread(target=writer.run, args=(stop,), kwargs={"poll_seconds": 0.2})
    running.start()
    ids = file_records(redis_server, 30)
    redis_server.restart(down_seconds=2.0)
    ids += file_records(redis_server, 30, start=30)
    deadline = time.monotonic() + 30
    while len(feed_of(data)) < len(ids) and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    running.join()
    writer.close()
    client.close()
    feed = feed_of(data)
    assert [line["id"] for line in feed] == ids
    assert_once_each(feed)


class ReplyDropper:
    """A TCP proxy in front of a Redis that forwards everything, except that it swallows the
    reply to the first ``XREADGROUP ... >`` and drops the connection: the server has delivered
    the entries to the group, the client never sees them and (its retry policy) asks again."""

    def __init__(self, port: int) -> None:
        self.upstream = ("127.0.0.1", port)
        self.listener = socket.create_server(("127.0.0.1", free_port()))
        self.armed = threading.Event()  # the next reply is to be swallowed
        self.dropped = threading.Event()
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.listener.getsockname()[1]}/0"

    def close(self) -> None:
        self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept
        self.listener.close()
        for connection in self.connections:
            connection.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _address = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            self.connections += [client, server]
            threading.Thread(target=self._requests, args=(client, server), daemon=True).start()
            threading.Thread(target=self._replies, args=(server, client), daemon=True).start()

    def _requests(self, client: socket.socket, server: socket.socket) -> None:
        while chunk := _received(client):
            if not self.dropped.is_set() and b"XREADGROUP" in chunk and b"\r\n>\r\n" in chunk:
                self.armed.set()
            server.sendall(chunk)

    def _replies(self, server: socket.socket, client: socket.socket) -> None:
        while chunk := _received(server):
            if self.armed.is_set() and not self.dropped.is_set():
                self.dropped.set()
                client.shutdown(socket.SHUT_RDWR)
                server.shutdown(socket.SHUT_RDWR)
                return
            client.sendall(chunk)


def _received(connection: socket.socket) -> bytes:
    try:
        return connection.recv(65536)
    except OSError:
        return b""


def test_a_lost_reply_to_a_read_of_new_lines_loses_nothing(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    ids = file_records(redis_server, 5)
    proxy = ReplyDropper(redis_server.port)
    client = connect(proxy.url)
    data = tmp_path / "data"
    writer = FeedStreamWriter(client, data, batch_size=2)
    try:
        # The first read's reply (lines 0 and 1) is lost; the client's retry reads 2 and 3.
        assert writer.drain() == 5
    finally:
        writer.close()
        client.close()
        proxy.close()
    assert proxy.dropped.is_set()
    feed = feed_of(data)
    assert sorted(line["id"] for line in feed) == sorted(ids)
    assert_once_each(feed)
    check = redis_server.client()
    assert check.xlen("neu:feed") == 0  # each line deleted once it was acknowledged
    check.close()


def test_a_redis_restart_under_a_crawl_loses_and_duplicates_nothing(
    tmp_path: Path,
    replica: Replica,
    server: ReplicaServer,
    sources_file: Path,
    redis_server: RedisServer,
) -> None:
    out = tmp_path / "run1"
    out.mkdir()
    crawl = subprocess.Popen(
        crawl_command(
            sources_file, Path(), out, files=True,
            NEU_STATE_URL=redis_server.url, NEU_DATA_DIR="", DOWNLOAD_DELAY="0.05",
            CONCURRENT_REQUESTS_PER_DOMAIN="1",
        ),
        cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    client = redis_server.client()
    deadline = time.monotonic() + 60
    while not client.xlen("neu:feed") and time.monotonic() < deadline:
        time.sleep(0.05)  # restart once the crawl is filing articles
    client.close()
    assert crawl.poll() is None, "the crawl ended before the restart"
    redis_server.restart(down_seconds=2.0)
    _stdout, stderr = crawl.communicate(timeout=120)
    assert crawl.returncode == 0, stderr
    data = tmp_path / "data"
    write_feed(redis_server, data)
    feed = read_feed(data)
    assert_once_each(feed)
    assert {line["url"] for line in feed} == set(replica.expected_records(server))
    again = shared_crawl(sources_file, redis_server.url, tmp_path / "run2")
    assert again.returncode == 0 and again.stat("neu/articles/new") == 0


def test_a_password_in_the_state_url_is_never_shown(
    tmp_path: Path, server: ReplicaServer, sources_file: Path
) -> None:
    redis_server = RedisServer(tmp_path / "redis", password="pw-s3cret-42").start()
    try:
        crawl = shared_crawl(sources_file, redis_server.url, tmp_path / "run", LOG_LEVEL="DEBUG")
        assert crawl.returncode == 0, crawl.stderr
        assert "Shared state redis://:***@127.0.0.1" in crawl.log
        assert "pw-s3cret-42" not in crawl.log + crawl.stderr
        wrong = redis_server.url.replace("pw-s3cret-42", "pw-wrong-43")
        refused = shared_crawl(sources_file, wrong, tmp_path / "wrong")
        assert refused.returncode != 0
        assert "pw-wrong-43" not in refused.log + refused.stderr
    finally:
        redis_server.stop()
