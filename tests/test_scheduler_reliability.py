"""The scheduler under hostile conditions, end to end: real crawls of the replica in child
processes, real webhooks on 127.0.0.1, real signals (issue 11: items 3, 4, 7, 8, 11, 15, 16)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from crawler.store.locks import lock_holder
from replica import Replica, ReplicaServer, build_replica
from scheduler.outbox import Outbox
from tests.conftest import PROJECT_ROOT, read_feed
from tests.test_alerts import Trickler
from tests.test_scheduler_e2e import (
    crawls,
    feed_size,
    free_port,
    once,
    run_lines,
    scheduler_command,
    start,
    wait_until,
)
from tests.test_scheduler_health import Receiver

linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's"
)
# Slow enough that a crawl of the news site outlasts every step of a test that kills it.
THROTTLED = {"DOWNLOAD_DELAY": "0.3", "CONCURRENT_REQUESTS_PER_DOMAIN": "1"}
CRAWL_LOCK = ".lock"


def alerting_schedule(tmp_path: Path, every: str) -> Path:
    """One job; a source alerts after its first unhealthy run."""
    path = tmp_path / "schedule.toml"
    path.write_text(f'[[jobs]]\nid = "news"\nevery = "{every}"\n[health]\nalert_after = 1\n')
    return path


def broken_english(seed: int) -> Replica:
    replica = build_replica(seed=seed, articles_per_column=4, page_size=5)
    replica.break_layout("english", "no_links")
    return replica


def alive(pid: int) -> bool:
    """Whether *pid* is a running process (a zombie waiting for its reaper is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def crawl_pid(data: Path) -> int:
    """The pid of the crawl holding *data*, once its spider is open (the lock is held from the
    crawl's start-up checks on, before Scrapy handles signals)."""
    wait_until(lambda: lock_holder(data / CRAWL_LOCK) is not None, 60, "crawl holding the lock")
    wait_until(lambda: spider_opened(data), 60, "crawl's spider open")
    return int(lock_holder(data / CRAWL_LOCK) or 0)


def spider_opened(data: Path) -> bool:
    return any("Spider opened" in log.read_text() for log in (data / "logs").glob("*.log"))


def end(process: subprocess.Popen[bytes], *pids: int) -> None:
    """Clean up after a failed test: nothing we started may outlive it."""
    if process.poll() is None:
        process.kill()
        process.wait()
    for pid in pids:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_a_trickling_webhook_stalls_neither_the_schedule_nor_the_shutdown(
    tmp_path: Path,
) -> None:
    # One byte every 2 s keeps any per-read timeout alive: the answer never ends.
    trickler = Trickler(pause=2.0)
    data = tmp_path / "data"
    replica = broken_english(seed=31)
    with ReplicaServer(replica) as server:
        sources = replica.write_sources(tmp_path / "sources.toml", server, sites=["english"])
        schedule = alerting_schedule(tmp_path, "1s")
        command = scheduler_command(
            sources, data, "--schedule", str(schedule), "--webhook", trickler.url, "--grace", "5s"
        )
        process = start(tmp_path, command)
        try:
            # The alert of the first run goes to the trickler; the schedule goes on regardless.
            wait_until(
                lambda: trickler.connections >= 1 and len(crawls(data)) >= 4,
                60,
                "four crawls with the webhook trickling",
            )
            asked = time.monotonic()
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=30)
            took = time.monotonic() - asked
        finally:
            end(process)
            trickler.close()
    assert code == 0
    print(f"stopped {took:.1f}s after SIGTERM (grace 5s), the webhook still trickling")
    # Not delivered, not lost: the alert waits for the next start.
    assert [name.rpartition("-")[2] for name in Outbox(data).names()] == ["alert"]


def test_an_alert_raised_while_the_webhook_is_down_arrives_once_after_a_restart(
    tmp_path: Path,
) -> None:
    data, port = tmp_path / "data", free_port()
    replica = broken_english(seed=32)
    with ReplicaServer(replica) as server:
        sources = replica.write_sources(tmp_path / "sources.toml", server, sites=["english"])
        options = ("--schedule", str(alerting_schedule(tmp_path, "1h")))
        webhook = ("--webhook", f"http://127.0.0.1:{port}/hook")
        down = once(tmp_path, sources, data, *options, *webhook)
        assert down.returncode == 1, down.stderr
        [waiting] = Outbox(data).names()
        receiver = Receiver(port)
        try:
            # Still broken: no new alert, but the one kept goes out, once, whatever the runs.
            for _restart in range(2):
                up = once(tmp_path, sources, data, *options, *webhook)
                assert up.returncode == 1, up.stderr
        finally:
            receiver.close()
    assert [body["event"] for body in receiver.bodies] == ["alert"]
    assert receiver.bodies[0]["id"] == waiting
    assert [source["source"] for source in receiver.bodies[0]["sources"]] == [
        "english-focus",
        "english-research",
    ]
    assert Outbox(data).names() == []


def test_no_webhook_secret_reaches_the_logs(tmp_path: Path) -> None:
    data = tmp_path / "data"
    secret = f"http://bot:S3CRET-PASS@127.0.0.1:{free_port()}/hook/S3CRET?token=S3CRET-TOKEN"
    replica = broken_english(seed=33)
    with ReplicaServer(replica) as server:
        sources = replica.write_sources(tmp_path / "sources.toml", server, sites=["english"])
        options = ("--schedule", str(alerting_schedule(tmp_path, "1h")), "--webhook", secret)
        done = once(tmp_path, sources, data, *options)
    assert done.returncode == 1, done.stderr
    assert "S3CRET" not in done.stderr
    assert "Webhook http://127.0.0.1:" in done.stderr and "failed" in done.stderr
    for log in (data / "logs").iterdir():
        assert "S3CRET" not in log.read_text(errors="replace")


def test_deleting_the_logs_directory_does_not_stop_the_runs(tmp_path: Path) -> None:
    data = tmp_path / "data"
    replica = build_replica(seed=34, articles_per_column=4, page_size=5)
    with ReplicaServer(replica) as server:
        sources = replica.write_sources(tmp_path / "sources.toml", server, sites=["english"])
        process = start(tmp_path, scheduler_command(sources, data, "--every", "1s"))
        try:
            wait_until(lambda: len(crawls(data)) >= 1, 60, "first crawl")
            # Atomically gone, as `rm -rf` would leave it, whatever the crawl is writing.
            (data / "logs").rename(tmp_path / "deleted-logs")
            # The crawl under way may fail (its stats file has nowhere to go); the next must not.
            done = len(crawls(data))
            wait_until(
                lambda: any(run["outcome"] == "ok" for run in crawls(data)[done + 1 :]),
                60,
                "ok crawl started after the deletion",
            )
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=60) == 0
        finally:
            end(process)
    later = [run for run in crawls(data)[done + 1 :] if run["outcome"] == "ok"]
    assert (data / "logs" / f"{later[0]['run_id']}.log").stat().st_size > 0


@linux_only
def test_a_crawl_dies_with_its_scheduler_killed_9_and_the_next_scheduler_runs_clean(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    replica = build_replica(seed=35, articles_per_column=12, page_size=5)
    with ReplicaServer(replica) as server:
        sources = replica.write_sources(tmp_path / "sources.toml", server)
        command = scheduler_command(sources, data, "--every", "1h", **THROTTLED)
        process = start(tmp_path, command)
        pid = 0
        try:
            pid = crawl_pid(data)
            wait_until(lambda: feed_size(data) >= 1, 60, "a feed line")
            process.kill()
            process.wait()
            killed = time.monotonic()
            wait_until(lambda: not alive(pid), 20, "end of the killed scheduler's crawl")
            print(f"the crawl ended {time.monotonic() - killed:.2f}s after its scheduler's kill -9")
        finally:
            end(process, pid)
        # Started at once, as a supervisor would: its first run finds the data directory free.
        again = once(tmp_path, sources, data)
        expected = set(replica.expected_records(server))
    assert again.returncode == 0, again.stderr
    [run] = run_lines(data)  # the killed scheduler recorded nothing
    assert run["outcome"] == "ok", run
    feed = read_feed(data)
    keys = [(line["id"], line["version"]) for line in feed]
    assert len(keys) == len(set(keys))
    assert {line["url"] for line in feed} == expected


@linux_only
def test_sighup_stops_the_scheduler_and_its_crawl_cleanly(tmp_path: Path) -> None:
    data = tmp_path / "data"
    replica = build_replica(seed=36, articles_per_column=12, page_size=5)
    with ReplicaServer(replica) as server:
        sources = replica.write_sources(tmp_path / "sources.toml", server)
        process = start(tmp_path, scheduler_command(sources, data, "--every", "1h", **THROTTLED))
        pid = 0
        try:
            pid = crawl_pid(data)
            process.send_signal(signal.SIGHUP)
            code = process.wait(timeout=60)
        finally:
            end(process, pid)
    assert code == 0
    assert not alive(pid)
    [run] = run_lines(data)
    assert (run["outcome"], run["stopped"], run["finish_reason"]) == ("stopped", True, "shutdown")


HOLD_CRAWL_LOCK = """
import sys
from pathlib import Path
from crawler.store.locks import hold_lock
hold_lock(Path(sys.argv[1]))
print("held", flush=True)
sys.stdin.read()
"""


def test_a_run_waits_for_a_crawl_still_finishing_and_is_skipped_past_the_grace(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_CRAWL_LOCK, str(data / CRAWL_LOCK)],
        cwd=PROJECT_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    replica = build_replica(seed=37, articles_per_column=4, page_size=5)
    with ReplicaServer(replica) as server, holder:
        assert holder.stdout is not None and holder.stdin is not None
        assert holder.stdout.readline() == "held\n"
        sources = replica.write_sources(tmp_path / "sources.toml", server, sites=["english"])
        # Held past the grace: skipped, and not counted against the sources.
        skipped = once(tmp_path, sources, data, "--grace", "1s")
        assert skipped.returncode == 1, skipped.stderr
        [run] = run_lines(data)
        assert run["outcome"] == "skipped"
        assert run["reason"] == f"another crawl (pid {holder.pid}) holds the data directory"
        assert not (data / "health.json").exists()
        # Let go within the grace: the run waits for it, then crawls.
        waiting = start(tmp_path, scheduler_command(sources, data, "--once", "--grace", "60s"))
        try:
            wait_until(
                lambda: "waiting up to 60s" in (tmp_path / "scheduler.log").read_text(),
                30,
                "scheduler waiting for the lock",
            )
            holder.stdin.close()
            holder.wait(timeout=30)
            assert waiting.wait(timeout=120) == 0
        finally:
            end(waiting)
    assert run_lines(data)[-1]["outcome"] == "ok"


def test_a_run_of_skips_is_one_line_with_its_count(tmp_path: Path) -> None:
    data = tmp_path / "data"
    replica = build_replica(seed=38, articles_per_column=6, page_size=5)
    with ReplicaServer(replica) as server:
        sources = replica.write_sources(tmp_path / "sources.toml", server, sites=["english"])
        # Each crawl takes a few seconds: several 1-second ticks find it running.
        command = scheduler_command(
            sources, data, "--every", "1s", DOWNLOAD_DELAY="0.2", CONCURRENT_REQUESTS_PER_DOMAIN="1"
        )
        process = start(tmp_path, command)
        try:
            wait_until(lambda: len(crawls(data)) >= 2, 60, "two crawls")
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=60) == 0
        finally:
            end(process)
    runs = run_lines(data)
    skips = [run for run in runs if run["outcome"] == "skipped"]
    assert skips and all(run["count"] >= 1 for run in skips)
    assert sum(run["count"] for run in skips) > len(skips)
    print(f"{sum(run['count'] for run in skips)} skipped runs in {len(skips)} lines")
    for before, after in pairwise(runs):
        same = [(run["outcome"], run["job"], run.get("reason")) for run in (before, after)]
        assert not (same[0] == same[1] and same[0][0] == "skipped"), (before, after)
    for skip in skips:
        assert datetime.fromisoformat(skip["start"]) <= datetime.fromisoformat(skip["end"])


def run_line(run_id: str, when: datetime, **fields: Any) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "job": "news",
        "sources": ["a", "b"],
        "start": when.isoformat(),
        "end": (when + timedelta(seconds=5)).isoformat(),
        "duration": 5.0,
        "interval": 1800.0,
        "exit_code": 0,
        "outcome": "ok",
        "failure": None,
        "new": 1,
        "updated": 0,
        "pages": 3,
        "errors": {"exceptions": {}, "http": {}, "log_errors": 0, "retries": 0},
        "per_source": {"a": {"health": "ok"}, "b": {"health": "degraded"}},
        **fields,
    }


def test_hand_edited_history_is_reported_by_line_and_status_carries_on(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    now = datetime.now(UTC)
    lines = [
        run_line("r1", now, start="2026-01-01T08:00:00", end="2026-01-01T08:00:05"),  # naive
        run_line("r2", now, duration="quick"),
        run_line("r3", now, errors="none"),
        run_line("r4", now - timedelta(minutes=1)),
    ]
    (data / "runs.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    recent = now.isoformat()
    health = {
        "updated": recent,
        "sources": {
            "a": {"status": "ok", "last_run": recent, "last_ok": "yesterday"},
            "b": {"status": "degraded", "streak": "two", "problems": ["no links"]},
        },
    }
    (data / "health.json").write_text(json.dumps(health))
    done = subprocess.run(
        [sys.executable, "-m", "scheduler", "status", "--data-dir", str(data)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    # b is degraded: the exit status says so, whatever else the files hold.
    assert done.returncode == 1, done.stdout + done.stderr
    runs = data / "runs.jsonl"
    for warning in (
        f"{runs} line 1: start '2026-01-01T08:00:00' has no time zone: line skipped",
        f"{runs} line 2: duration 'quick' is not a number: line skipped",
        f"{runs} line 3: errors 'none' is not an object: line skipped",
        f"{data / 'health.json'}: source 'a': last_ok 'yesterday' is not a time: left out",
        f"{data / 'health.json'}: source 'b': streak 'two' is not a count: left out",
    ):
        assert warning in done.stderr, done.stderr
    assert "Last 1 runs" in done.stdout and "r4" in done.stdout
    assert "1 source(s) degraded: b" in done.stdout


def test_hand_edited_health_does_not_stop_the_scheduler(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    health = {"updated": "x", "sources": {"english-focus": {"status": "ok", "last_ok": "noon"}}}
    (data / "health.json").write_text(json.dumps(health))
    replica = build_replica(seed=39, articles_per_column=4, page_size=5)
    with ReplicaServer(replica) as server:
        sources = replica.write_sources(tmp_path / "sources.toml", server, sites=["english"])
        done = once(tmp_path, sources, data)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "source 'english-focus': last_ok 'noon' is not a time" in done.stderr
    saved = json.loads((data / "health.json").read_text())["sources"]["english-focus"]
    assert saved["status"] == "ok" and datetime.fromisoformat(saved["last_ok"]).tzinfo


PRINT_DEATH_SIGNAL = """
import ctypes, ctypes.util
libc = ctypes.CDLL(ctypes.util.find_library("c"))
signal = ctypes.c_int()
libc.prctl(2, ctypes.byref(signal))  # PR_GET_PDEATHSIG
print(signal.value)
"""


@linux_only
def test_the_tether_arms_the_death_signal_across_exec_and_refuses_an_orphan() -> None:
    def tether(parent: int) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-c", PRINT_DEATH_SIGNAL]
        return subprocess.run(
            [sys.executable, "-m", "scheduler.tether", str(parent), "--", *command],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    armed = tether(os.getpid())
    assert (armed.returncode, armed.stdout) == (0, f"{int(signal.SIGKILL)}\n"), armed.stderr
    # Not our child's parent: that parent is gone, and nothing would stop the command.
    orphan = tether(os.getppid())
    assert (orphan.returncode, orphan.stdout) == (1, "")
