"""Broker mode's dispatcher when things go wrong: the broker away while it waits, a feed it
cannot write, no worker serving the queue, a sources file changed while the scheduler runs.
On a real redis-server; a writer that fails is the one fake (the disk cannot be made full)."""

from __future__ import annotations

import errno
import json
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis
from apscheduler.triggers.interval import IntervalTrigger
from rq.job import Job as RQJob
from rq.job import JobStatus
from rq.serializers import JSONSerializer

from crawler.sources import load_sources
from crawler.store.shared import connect
from crawler.store.stream import FeedStreamWriter
from scheduler import dispatch
from scheduler.broker import site_queue
from scheduler.config import HealthRules, Job
from scheduler.crawl import ChildExit, CrawlOptions
from scheduler.dispatch import Dispatcher, SiteJobOptions
from scheduler.metrics import Metrics
from scheduler.runner import Runner, RunnerOptions
from tests.conftest import PROJECT_ROOT
from tests.redis_server import RedisServer

# No worker serves the queue in these tests: a site's job stays queued.
SOURCES = """
[[sources]]
name = "a"
start_urls = ["http://one.example/a.htm"]
language = "zh"
"""


@pytest.fixture
def sources_file(tmp_path: Path) -> Path:
    path = tmp_path / "sources.toml"
    path.write_text(SOURCES, encoding="utf-8")
    return path


@dataclass
class Crawling:
    """``Dispatcher.crawl`` on a thread of its own, what it returned or raised kept."""

    dispatcher: Dispatcher
    stop: threading.Event = field(default_factory=threading.Event)
    returned: tuple[ChildExit, dict[str, Any], str] | None = None
    raised: BaseException | None = None

    def start(self, directory: Path, timeout: float = 600.0) -> threading.Thread:
        def crawl() -> None:
            try:
                self.returned = self.dispatcher.crawl(
                    ["a"], "run-1", timeout, directory / "log", directory / "stats.json", self.stop
                )
            except BaseException as exc:
                self.raised = exc

        thread = threading.Thread(target=crawl)
        thread.start()
        return thread


def dispatcher(client: redis.Redis, writer: Any, sources_file: Path) -> Dispatcher:
    return Dispatcher(
        client, writer, SiteJobOptions(sources_file, (), 1.0), load_sources(sources_file)
    )


def queued(client: redis.Redis, seconds: float = 10.0) -> str:
    """The id of the site job once the dispatcher has enqueued it."""
    deadline = time.monotonic() + seconds
    while not (ids := site_queue(client).get_job_ids()):
        assert time.monotonic() < deadline, "no job enqueued"
        time.sleep(0.05)
    return ids[0]


def job_status(client: redis.Redis, job_id: str) -> JobStatus:
    return RQJob.fetch(job_id, connection=client, serializer=JSONSerializer).get_status()


@pytest.fixture
def fast_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    # The progress line (it counts the workers on the broker) during the outage, too.
    monkeypatch.setattr(dispatch, "PROGRESS_EVERY", 0.2)


@pytest.mark.usefixtures("fast_progress")
def test_a_broker_outage_while_waiting_is_waited_out(
    tmp_path: Path,
    sources_file: Path,
    redis_server: RedisServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="scheduler.dispatch")
    # No retries: each command fails at once while the server is down.
    client = connect(redis_server.url, retries=0)
    writer = FeedStreamWriter(client, tmp_path / "data")
    crawling = Crawling(dispatcher(client, writer, sources_file))
    thread = crawling.start(tmp_path)
    job_id = queued(redis_server.client())
    redis_server.restart(down_seconds=2.0)
    time.sleep(1.0)
    assert thread.is_alive() and crawling.raised is None, crawling.raised
    crawling.stop.set()
    thread.join(30)
    writer.close()
    assert crawling.raised is None and crawling.returned is not None
    child, _, error = crawling.returned
    assert child.stopped and error == ""
    # Said once for the whole outage, and its end.
    unreachable = [r for r in caplog.records if "broker unreachable" in r.getMessage()]
    assert len(unreachable) == 1
    assert any("broker back after" in r.getMessage() for r in caplog.records)
    # Stopped: the job no worker took is withdrawn.
    assert job_status(redis_server.client(), job_id) == JobStatus.CANCELED


class FailingWriter:
    """A feed writer whose drains numbered in *failing* (from 1) raise *error*."""

    def __init__(self, error: Exception, failing: range) -> None:
        self.error, self.failing, self.drains = error, failing, 0

    def drain(self) -> int:
        self.drains += 1
        if self.drains in self.failing:
            raise self.error
        return 0

    def close(self) -> None:
        pass


def test_a_broker_timing_out_is_waited_out_too(
    tmp_path: Path, sources_file: Path, redis_server: RedisServer
) -> None:
    # redis.TimeoutError is no redis.ConnectionError.
    writer = FailingWriter(redis.TimeoutError("Timeout reading from socket"), range(1, 4))
    crawling = Crawling(dispatcher(redis_server.client(), writer, sources_file))
    thread = crawling.start(tmp_path)
    queued(redis_server.client())
    deadline = time.monotonic() + 10
    while writer.drains < 5:
        assert time.monotonic() < deadline and thread.is_alive(), crawling.raised
        time.sleep(0.05)
    crawling.stop.set()
    thread.join(30)
    assert crawling.raised is None and crawling.returned is not None
    assert crawling.returned[0].stopped


def job(interval: float = 3600.0) -> Job:
    return Job("all", IntervalTrigger(seconds=interval), ("a",), interval, "every source")


def test_a_feed_that_cannot_be_written_fails_the_run_in_its_history(
    tmp_path: Path, sources_file: Path, redis_server: RedisServer
) -> None:
    data_dir = tmp_path / "data"
    full = OSError(errno.ENOSPC, "No space left on device")
    options = RunnerOptions(
        crawl=CrawlOptions(data_dir, sources_file, (), 1.0),
        timezone=ZoneInfo("Asia/Shanghai"),
        rules=HealthRules(),
        timeout=600.0,
        keep_logs=5,
    )
    client = redis_server.client()
    # The first drain goes well (the site's job is enqueued after it), the next fail.
    writer = FailingWriter(full, range(2, 100))
    runner = Runner(
        options, ["a"], Metrics(), threading.Event(), None, dispatcher(client, writer, sources_file)
    )
    started = time.monotonic()
    assert runner.run(job()) == "failed"
    assert time.monotonic() - started < 60  # ended, not waited out to the timeout
    (record,) = [json.loads(line) for line in (data_dir / "runs.jsonl").read_text().splitlines()]
    assert record["outcome"] == "failed"
    assert record["exit_code"] == 1
    assert (
        record["failure"] == "cannot write the data directory: [Errno 28] No space left on device"
    )
    # Its site's job, which no worker had taken, is withdrawn with the run.
    (job_id,) = site_queue(client).canceled_job_registry.get_job_ids()
    assert job_status(client, job_id) == JobStatus.CANCELED


def scheduler_once(
    data_dir: Path, sources_file: Path, *options: str
) -> subprocess.CompletedProcess[str]:
    argv = [
        sys.executable, "-m", "scheduler", "--once", "--every", "1h",
        "--sources", str(sources_file), "--data-dir", str(data_dir), *options,
    ]  # fmt: skip
    return subprocess.run(
        argv, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=90, check=False
    )


def test_once_with_no_worker_ends_at_the_runs_timeout_with_its_sites_failed(
    tmp_path: Path, sources_file: Path, redis_server: RedisServer
) -> None:
    data_dir = tmp_path / "data"
    started = time.monotonic()
    done = scheduler_once(
        data_dir, sources_file, "--broker", redis_server.url, "--timeout", "2s", "--grace", "1s"
    )
    assert done.returncode == 2, done.stderr
    assert time.monotonic() - started < 60
    (record,) = [json.loads(line) for line in (data_dir / "runs.jsonl").read_text().splitlines()]
    assert record["outcome"] == "failed"
    assert record["failure"] == (
        "site one.example: not crawled within the run's timeout: no worker took it"
    )
    assert record["per_source"]["a"]["health"] == "failed"
    # Nothing left in the queue for a worker that comes later to crawl for nobody.
    client = redis_server.client()
    assert site_queue(client).get_job_ids() == []
    (job_id,) = site_queue(client).canceled_job_registry.get_job_ids()
    assert job_status(client, job_id) == JobStatus.CANCELED


def payloads(client: redis.Redis) -> Iterator[dict[str, Any]]:
    registry = site_queue(client).canceled_job_registry
    for job_id in registry.get_job_ids():
        yield RQJob.fetch(job_id, connection=client, serializer=JSONSerializer).args[0]


def test_a_source_renamed_while_the_scheduler_runs_is_crawled_as_it_was_at_its_start(
    tmp_path: Path, sources_file: Path, redis_server: RedisServer
) -> None:
    client = redis_server.client()
    crawling = Crawling(dispatcher(client, FailingWriter(OSError(), range(0)), sources_file))
    # The scheduler runs on the sources it read at its start (its jobs name them).
    sources_file.write_text(SOURCES.replace('"a"', '"renamed"'), encoding="utf-8")
    thread = crawling.start(tmp_path, timeout=0.5)
    thread.join(30)
    assert crawling.raised is None, crawling.raised
    assert crawling.returned is not None
    assert crawling.returned[2] == (
        "site one.example: not crawled within the run's timeout: no worker took it"
    )
    (payload,) = payloads(client)
    assert payload["sources"] == ["a"]
    assert load_sources_text(tmp_path, payload["sources_toml"]) == ["a"]


def load_sources_text(directory: Path, text: str) -> list[str]:
    path = directory / "job-sources.toml"
    path.write_text(text, encoding="utf-8")
    return [source.name for source in load_sources(path)]


def test_a_broker_whose_feed_another_writer_appends_is_refused_at_the_start(
    tmp_path: Path, sources_file: Path, redis_server: RedisServer
) -> None:
    client = connect(redis_server.url)
    other = FeedStreamWriter(client, tmp_path / "other")
    try:
        done = scheduler_once(tmp_path / "data", sources_file, "--broker", redis_server.url)
    finally:
        other.close()
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith("error: another feed writer is appending this broker's records: ")
    assert str((tmp_path / "other").absolute()) in line
    assert not (tmp_path / "data" / "runs.jsonl").exists()


def test_a_data_directory_the_broker_did_not_feed_is_refused_at_the_start(
    tmp_path: Path, sources_file: Path, redis_server: RedisServer
) -> None:
    # A single machine's data directory: its feed has a line no broker's writer appended.
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    line = {"id": "https://one.example/info/1/1.htm", "version": 1, "title": "t"}
    (data_dir / "articles.jsonl").write_text(json.dumps(line) + "\n", encoding="utf-8")
    done = scheduler_once(data_dir, sources_file, "--broker", redis_server.url)
    assert done.returncode == 2, done.stderr
    (error,) = done.stderr.splitlines()
    assert error.startswith(f"error: data directory {data_dir.absolute()} holds a feed "), error
    assert "this broker's state was not fed from" in error
    assert site_queue(redis_server.client()).get_job_ids() == []
