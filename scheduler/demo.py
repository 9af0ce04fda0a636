"""``make demo``: the scheduler against the replica sites, offline, in a few seconds.

Serves the replica on 127.0.0.1, runs ``python -m scheduler --every 4s`` against it in a
temporary directory, publishes new articles between two runs, stops the scheduler with SIGTERM,
then prints what landed in the feed and the status table.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from crawler.store.feed import FEED_FILE
from replica import ReplicaServer, build_replica
from scheduler.health import SKIPPED
from scheduler.history import RUNS_FILE

INTERVAL = "4s"
# Politeness off: the replica is ours.
FAST_SETTINGS = (
    "DOWNLOAD_DELAY=0",
    "AUTOTHROTTLE_ENABLED=False",
    "NEU_RETRY_BACKOFF_BASE=0",
    "CONCURRENT_REQUESTS_PER_DOMAIN=8",
    "TELNETCONSOLE_ENABLED=False",
)
RUN_WAIT_SECONDS = 30.0
STOP_WAIT_SECONDS = 30.0


def main() -> int:
    replica = build_replica(seed=2026, articles_per_column=6, page_size=5)
    with (
        ReplicaServer(replica) as server,
        tempfile.TemporaryDirectory(prefix="neu-news-demo-") as tmp,
    ):
        sources = replica.write_sources(Path(tmp) / "sources.toml", server)
        data = Path(tmp) / "data"
        say(f"Replica sites: {', '.join(server.base_url(site) for site in server.sites)}")
        say(f"Scheduler: every {INTERVAL}, data in {data}")
        scheduler = start_scheduler(sources, data)
        try:
            wait_for_runs(data, 1)
            before = len(feed_lines(data))
            say(f"First run done: the feed holds {before} articles")
            for article in replica.publish("news", "ddyw", n=2) + replica.publish(
                "english", "focus", n=1
            ):
                say(f"Published on the replica: {article.title}")
            wait_for_runs(data, 2)
        finally:
            stopped = stop(scheduler)
        say(f"Scheduler stopped with SIGTERM, exit status {stopped}")
        say("New in the feed since the first run:")
        for line in feed_lines(data)[before:]:
            say(f"  + {line['title']} ({line['source']}, version {line['version']})")
        say("python -m scheduler status:")
        status = subprocess.run(
            [sys.executable, "-m", "scheduler", "status", "--data-dir", str(data)],
            capture_output=True,
            text=True,
            check=False,
        )
        print(status.stdout + status.stderr, end="", flush=True)
    return 0 if stopped == 0 else 1


def say(text: str) -> None:
    print(f"[demo] {text}", flush=True)


def start_scheduler(sources: Path, data: Path) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "scheduler",
        "--every",
        INTERVAL,
        "--sources",
        str(sources),
        "--data-dir",
        str(data),
    ]
    for setting in FAST_SETTINGS:
        command += ["-s", setting]
    # Its log lines go to our stderr, between the demo's own lines.
    return subprocess.Popen(command, stdin=subprocess.DEVNULL)


def wait_for_runs(data: Path, count: int) -> None:
    """Wait until *count* crawls (skipped runs aside) are recorded."""
    deadline = time.monotonic() + RUN_WAIT_SECONDS
    while len(crawl_runs(data)) < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"demo: no run {count} within {RUN_WAIT_SECONDS:.0f}s")
        time.sleep(0.2)


def crawl_runs(data: Path) -> list[dict[str, object]]:
    try:
        lines = (data / RUNS_FILE).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    runs = [json.loads(line) for line in lines]
    return [run for run in runs if run.get("outcome") != SKIPPED]


def feed_lines(data: Path) -> list[dict[str, object]]:
    text = (data / FEED_FILE).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def stop(scheduler: subprocess.Popen[bytes]) -> int:
    scheduler.send_signal(signal.SIGTERM)
    return scheduler.wait(timeout=STOP_WAIT_SECONDS)


if __name__ == "__main__":
    raise SystemExit(main())
