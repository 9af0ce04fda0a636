"""The broker's password stays out of sight: a real ``neu-news worker`` hands its crawl child the
broker's URL through the environment (``NEU_STATE_URL``, crawler.settings), so the password is
in no process's argv (``/proc/<pid>/cmdline``, what ``ps`` shows every user) while the crawl
runs, and in no log, output or file of the run."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from replica import Replica, ReplicaServer
from scheduler.crawl import STATE_URL_ENV, crawl_env
from tests.conftest import PROJECT_ROOT, read_feed
from tests.redis_server import PASSWORD, RedisServer
from tests.test_distributed import descendants

RUN_SECONDS = 120
# One request at a time, a little apart: the crawl runs for some seconds, long enough to be seen.
SLOW = {
    "DOWNLOAD_DELAY": "0.1",
    "AUTOTHROTTLE_ENABLED": "False",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "1",
    "RETRY_TIMES": "1",
    "TELNETCONSOLE_ENABLED": "False",
}


def read_proc(pid: int, name: str) -> bytes | None:
    """``/proc/<pid>/<name>``, or None once the process is gone."""
    try:
        return (Path("/proc") / str(pid) / name).read_bytes()
    except OSError:
        return None


def test_the_password_is_in_no_argv_and_no_log_of_a_workers_crawl(
    tmp_path: Path,
    replica: Replica,
    server: ReplicaServer,
    sources_file: Path,
    protected_redis: RedisServer,
) -> None:
    url = protected_redis.url
    # The worker and the scheduler take the URL from the environment too (NEU_BROKER_URL):
    # then no process of the run has it in its argv.
    env = {**os.environ, "NEU_BROKER_URL": url}
    home, data = tmp_path / "worker", tmp_path / "data"
    home.mkdir()
    with (home / "out").open("wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "crawler.cli.main", "worker", "--name", "w0"],
            cwd=home, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
        )  # fmt: skip
    settings = [part for key, value in SLOW.items() for part in ("-s", f"{key}={value}")]
    argv = [
        sys.executable, "-m", "scheduler", "--once", "--every", "1h",
        "--sources", str(sources_file), "--data-dir", str(data), *settings,
    ]  # fmt: skip
    crawls: dict[int, bytes] = {}  # the worker's crawl children seen running: their environment
    try:
        with (tmp_path / "scheduler.out").open("wb") as out:
            scheduler = subprocess.Popen(
                argv, cwd=PROJECT_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out
            )
        deadline = time.monotonic() + RUN_SECONDS
        while scheduler.poll() is None:
            assert time.monotonic() < deadline, "the run did not end"
            for pid in [worker.pid, scheduler.pid, *descendants(worker.pid)]:
                argv_seen = read_proc(pid, "cmdline") or b""
                assert PASSWORD.encode() not in argv_seen, argv_seen
                if b"neu_news" in argv_seen:
                    crawls[pid] = read_proc(pid, "environ") or b""
            time.sleep(0.05)
    finally:
        worker.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            worker.wait(timeout=30)
        worker.kill()
    assert scheduler.returncode == 0, (tmp_path / "scheduler.out").read_text(errors="replace")
    # The crawl was seen, with the URL in its environment, and it used it: the feed is whole.
    assert crawls, "no crawl of the worker was seen running"
    assert any(f"{STATE_URL_ENV}={url}".encode() in environ for environ in crawls.values())
    assert {line["url"] for line in read_feed(data)} == set(replica.expected_records(server))
    written = [home / "out", tmp_path / "scheduler.out", *data.rglob("*")]
    for path in written:
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path


def test_only_a_workers_crawl_gets_a_state_url(monkeypatch: pytest.MonkeyPatch) -> None:
    # One in the scheduler's own environment would turn its local crawls to that Redis.
    monkeypatch.setenv(STATE_URL_ENV, "redis://127.0.0.1:1/0")
    assert STATE_URL_ENV not in crawl_env()
    assert crawl_env("redis://:pw@h:1/0")[STATE_URL_ENV] == "redis://:pw@h:1/0"
