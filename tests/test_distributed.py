"""Broker mode end to end: a real redis-server, ``neu-news worker``s as real processes (each in
a directory of its own, sharing no disk with the scheduler), ``python -m scheduler --once
--broker`` and a fleet of replica sites each on its own 127.0.1.x address.

The feed a broker run writes must be the one a single-machine run writes (records compared
field by field but for their crawl timestamps, an article listed in two columns included: its
source and column are its first source's in the sources file, whichever list page a crawl reads
first), through a worker killed -9 mid-crawl and a Redis restart.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from rq.job import Job as RQJob
from rq.serializers import JSONSerializer

from replica.fleet import Fleet
from scheduler.broker import LEASE_PREFIX
from tests.conftest import FAST_SETTINGS, PROJECT_ROOT, read_feed
from tests.redis_server import PASSWORD, RedisServer, free_port

# The crawl's own (wall-clock) times: they differ between any two runs.
CRAWL_TIMES = ("crawled_at", "first_seen", "updated_at")
RUN_SECONDS = 170


def fast(**overrides: str) -> list[str]:
    settings = {**FAST_SETTINGS, **overrides}
    return [part for key, value in settings.items() for part in ("-s", f"{key}={value}")]


def scheduler_once(
    data_dir: Path, sources: Path, *options: str, settings: list[str] | None = None
) -> subprocess.CompletedProcess[str]:
    argv = [
        sys.executable, "-m", "scheduler", "--once", "--every", "1h",
        "--sources", str(sources), "--data-dir", str(data_dir),
        *(fast() if settings is None else settings), *options,
    ]  # fmt: skip
    return subprocess.run(
        argv, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=RUN_SECONDS, check=False
    )


@dataclass
class Background:
    """``python -m scheduler --once --broker`` running, its output in files."""

    process: subprocess.Popen[bytes]
    stderr_file: Path

    def wait(self) -> tuple[int, str]:
        code = self.process.wait(timeout=RUN_SECONDS)
        return code, self.stderr_file.read_text(errors="replace")


def start_scheduler(data_dir: Path, sources: Path, url: str, settings: list[str]) -> Background:
    argv = [
        sys.executable, "-m", "scheduler", "--once", "--every", "1h", "--broker", url,
        "--sources", str(sources), "--data-dir", str(data_dir), *settings,
    ]  # fmt: skip
    stderr_file = data_dir.with_name(data_dir.name + ".stderr")
    with stderr_file.open("wb") as stderr:
        process = subprocess.Popen(
            argv, cwd=PROJECT_ROOT, stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr
        )
    return Background(process, stderr_file)


@dataclass
class Workers:
    """``neu-news worker`` processes, each in a session and a directory of its own."""

    base: Path
    url: str
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, count: int) -> Workers:
        for index in range(len(self.processes), len(self.processes) + count):
            name = f"w{index}"
            home = self.base / name
            home.mkdir(parents=True)
            argv = [sys.executable, "-m", "crawler.cli.main", "worker", "--broker", self.url]
            with (home / "stdout").open("wb") as stdout, (home / "stderr").open("wb") as stderr:
                self.processes[name] = subprocess.Popen(
                    [*argv, "--name", name],
                    cwd=home,
                    stdin=subprocess.DEVNULL,
                    stdout=stdout,
                    stderr=stderr,
                    start_new_session=True,
                )
        return self

    def output(self) -> str:
        return "".join(
            (self.base / name / part).read_text(errors="replace")
            for name in self.processes
            for part in ("stdout", "stderr")
        )

    def kill(self, name: str) -> None:
        """kill -9 the worker's whole tree: its group and every process under it (the crawl
        runs in a session of its own)."""
        pid = self.processes[name].pid
        tree = descendants(pid)
        os.killpg(pid, signal.SIGKILL)
        for child in tree:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
        self.processes[name].wait(timeout=10)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def descendants(pid: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, of in parents.items() if of == parent]
        found += children
        frontier += children
    return found


@pytest.fixture
def fleet() -> Iterator[Fleet]:
    with Fleet(sites=12, seed=3) as running:
        yield running


@pytest.fixture
def fleet_sources(tmp_path: Path, fleet: Fleet) -> Path:
    path = tmp_path / "fleet.toml"
    fleet.write_sources(path)
    return path


@pytest.fixture
def workers(tmp_path: Path, redis_server: RedisServer) -> Iterator[Workers]:
    running = Workers(tmp_path / "workers", redis_server.url)
    try:
        yield running
    finally:
        running.stop()


def records(data_dir: Path) -> list[dict[str, Any]]:
    """The feed's lines without the crawl's times, by URL; no URL twice."""
    lines = read_feed(data_dir)
    urls = [line["url"] for line in lines]
    assert len(urls) == len(set(urls)), "a record twice in the feed"
    stripped = [{k: v for k, v in line.items() if k not in CRAWL_TIMES} for line in lines]
    return sorted(stripped, key=lambda line: str(line["url"]))


def single_machine_feed(
    tmp_path: Path, sources: Path, settings: list[str] | None = None
) -> list[dict[str, Any]]:
    """The feed of one machine's run."""
    local = tmp_path / "local"
    completed = scheduler_once(local, sources, settings=settings)
    assert completed.returncode == 0, completed.stderr
    return records(local)


def test_three_workers_give_the_feed_one_machine_gives_and_never_log_the_password(
    tmp_path: Path, fleet: Fleet, fleet_sources: Path, protected_redis: RedisServer
) -> None:
    # Several requests at a time per site (the fast settings): which column's list page a
    # crawl reads first is timing, and must not show in the feed.
    expected = single_machine_feed(tmp_path, fleet_sources)
    assert {line["url"] for line in expected} == set(fleet.expected_records())
    # Articles listed in two columns are among those compared.
    assert any(len(line["columns"]) > 1 for line in expected)
    crew = Workers(tmp_path / "workers", protected_redis.url).start(3)
    try:
        data_dir = tmp_path / "broker"
        completed = scheduler_once(data_dir, fleet_sources, "--broker", protected_redis.url)
    finally:
        crew.stop()
    assert completed.returncode == 0, completed.stderr
    assert records(data_dir) == expected
    # One run line, judged as a local run is: every source fetched and ok.
    runs = [json.loads(line) for line in (data_dir / "runs.jsonl").read_text().splitlines()]
    assert [run["outcome"] for run in runs] == ["ok"]
    assert runs[0]["new"] == len(expected)
    # The work was shared: every worker crawled some site.
    log = next((data_dir / "logs").glob("*.log")).read_text()
    assert all(f"on worker {name}," in log for name in crew.processes), log[:2000]
    written = [path.read_text(errors="replace") for path in data_dir.rglob("*") if path.is_file()]
    for text in [completed.stderr, completed.stdout, crew.output(), *written]:
        assert PASSWORD not in text


def test_a_worker_killed_mid_crawl_is_taken_over_and_the_feed_stays_exact(
    tmp_path: Path,
    fleet: Fleet,
    fleet_sources: Path,
    redis_server: RedisServer,
    workers: Workers,
) -> None:
    # Politeness on (a site takes a few seconds), so the kill lands mid-crawl.
    polite = fast(DOWNLOAD_DELAY="0.1", CONCURRENT_REQUESTS_PER_DOMAIN="1")
    expected = single_machine_feed(tmp_path, fleet_sources, polite)
    fleet.clear_log()
    workers.start(3)
    data_dir = tmp_path / "broker"
    scheduler = start_scheduler(data_dir, fleet_sources, redis_server.url, polite)
    with contextlib.closing(redis_server.client()) as client:
        victim, site, job_id = _busy_worker(client)
        fleet_site = next(s for s in fleet.sites if urlsplit(s.base_url).hostname == site)
        _wait_for(lambda: fleet.article_fetches()[fleet_site.name] >= 2)
        workers.kill(victim)
        killed_at = time.monotonic()
        fetched_before = fleet.article_fetches()[fleet_site.name]
        # Taken over: another job holds the site's lease.
        while client.get(LEASE_PREFIX + site) in (None, job_id.encode()):
            assert time.monotonic() - killed_at < 60, "not taken over within 60s"
            time.sleep(0.2)
    code, stderr = scheduler.wait()
    assert code == 0, stderr
    # Mid-crawl: some of its articles were fetched, not all.
    listed = len(fleet_site.replica.site(fleet_site.kind).listed)
    assert 0 < fetched_before < listed
    assert f"job {job_id}'s lease lapsed (its worker is gone): enqueued again" in stderr
    assert records(data_dir) == expected
    # The next run fetches no article: the state in Redis knows them all.
    fleet.clear_log()
    again = scheduler_once(data_dir, fleet_sources, "--broker", redis_server.url)
    assert again.returncode == 0, again.stderr
    assert sum(fleet.article_fetches().values()) == 0
    assert records(data_dir) == expected


def test_a_redis_restart_mid_run_loses_nothing_and_duplicates_nothing(
    tmp_path: Path,
    fleet: Fleet,
    fleet_sources: Path,
    redis_server: RedisServer,
    workers: Workers,
) -> None:
    polite = fast(DOWNLOAD_DELAY="0.1", CONCURRENT_REQUESTS_PER_DOMAIN="1")
    expected = single_machine_feed(tmp_path, fleet_sources, polite)
    workers.start(2)
    data_dir = tmp_path / "broker"
    scheduler = start_scheduler(data_dir, fleet_sources, redis_server.url, polite)
    with contextlib.closing(redis_server.client()) as client:
        _busy_worker(client)
    time.sleep(1.5)
    assert scheduler.process.poll() is None, "the run ended before the restart"
    redis_server.restart(down_seconds=2.0)
    code, stderr = scheduler.wait()
    assert code == 0, stderr
    assert records(data_dir) == expected
    # Every worker is still serving: a second run is crawled, and fetches no article.
    assert all(process.poll() is None for process in workers.processes.values())
    fleet.clear_log()
    again = scheduler_once(data_dir, fleet_sources, "--broker", redis_server.url)
    assert again.returncode == 0, again.stderr
    assert sum(fleet.article_fetches().values()) == 0


@pytest.mark.parametrize("command", [["--once"], ["worker"]])
def test_an_unreachable_broker_is_one_error_line_and_exit_2(
    tmp_path: Path, command: list[str]
) -> None:
    url = f"redis://:{PASSWORD}@127.0.0.1:{free_port()}/0"
    argv = [sys.executable, "-m", "scheduler", *command, "--broker", url]
    if command == ["--once"]:
        argv += ["--data-dir", str(tmp_path / "data")]
    completed = subprocess.run(
        argv, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )
    assert completed.returncode == 2
    lines = completed.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: broker: "), completed.stderr
    assert "cannot be reached" in lines[0]
    assert PASSWORD not in completed.stderr + completed.stdout


def test_a_refused_password_is_one_error_line_and_exit_2(
    tmp_path: Path, protected_redis: RedisServer
) -> None:
    url = protected_redis.url.replace(PASSWORD, "wrong-" + PASSWORD)
    completed = subprocess.run(
        [sys.executable, "-m", "scheduler", "worker", "--broker", url],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 2
    assert completed.stderr.count("\n") == 1 and completed.stderr.startswith("error: broker: ")
    assert PASSWORD not in completed.stderr


def _wait_for(condition: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "waited in vain"
        time.sleep(0.05)


def _busy_worker(client: Any) -> tuple[str, str, str]:
    """A worker crawling a site now, once one is: its name, the site and the job."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for key in client.scan_iter(f"{LEASE_PREFIX}*"):
            holder = client.get(key)
            if holder is None:
                continue
            job = RQJob.fetch(holder.decode(), connection=client, serializer=JSONSerializer)
            if job.worker_name:
                site = key.decode().removeprefix(LEASE_PREFIX)
                return job.worker_name, site, job.id
        time.sleep(0.1)
    raise AssertionError("no worker took a site within 60s")
