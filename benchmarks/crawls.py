"""Crawls measured against the replica host: the process's figures and the server's log."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.procs import ChildRun, run_child

if TYPE_CHECKING:
    from benchmarks.replica_host import ReplicaHost, RequestLog

# Politeness off: the replica is ours. Both sides of the throughput comparison use these.
POLITENESS_OFF = {
    "DOWNLOAD_DELAY": "0",
    "AUTOTHROTTLE_ENABLED": "False",
    "CONCURRENT_REQUESTS": "32",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "32",
    "NEU_RETRY_BACKOFF_BASE": "0",
    "LOG_LEVEL": "WARNING",
}


@dataclass(frozen=True)
class Measured:
    """A finished crawl: its process, what the sites saw, and Scrapy's stats."""

    process: ChildRun
    requests: RequestLog
    stats: dict[str, Any]

    @property
    def elapsed_seconds(self) -> float:
        """Scrapy's own clock: spider opened to spider closed."""
        return float(self.stats["elapsed_time_seconds"])

    @property
    def first_request_seconds(self) -> float | None:
        """From launching the process to the first request reaching a site."""
        if self.requests.first_at is None:
            return None
        return self.requests.first_at - self.process.launched_at

    @property
    def spider_opened_seconds(self) -> float:
        """From launching the process to ``spider_opened`` (Scrapy's ``start_time`` stat)."""
        opened = datetime.fromisoformat(str(self.stats["start_time"])).timestamp()
        return opened - self.process.launched_at

    def stat(self, key: str) -> int:
        return int(self.stats.get(key, 0))

    def as_json(self) -> dict[str, Any]:
        return {
            "process": asdict(self.process),
            "requests": asdict(self.requests),
            "elapsed_seconds": self.elapsed_seconds,
            "spider_opened_seconds": self.spider_opened_seconds,
            "first_request_seconds": self.first_request_seconds,
            "scrapy_stats": {key: value for key, value in self.stats.items() if "/" in key},
        }


def crawl_argv(
    sources: Path, data_dir: Path, stats_path: Path, *, mode: str, **settings: str
) -> list[str]:
    """``scrapy crawl neu_news`` with politeness off, its feed in *data_dir*."""
    merged = {
        **POLITENESS_OFF,
        "NEU_SOURCES_FILE": str(sources),
        "NEU_DATA_DIR": str(data_dir),
        "NEU_STATS_FILE": str(stats_path),
        **settings,
    }
    argv = [sys.executable, "-m", "scrapy", "crawl", "neu_news", "-a", f"mode={mode}"]
    for key, value in merged.items():
        argv += ["-s", f"{key}={value}"]
    return argv


def bare_argv(urls_path: Path, stats_path: Path) -> list[str]:
    return [sys.executable, "-m", "benchmarks.bare_spider", str(urls_path), str(stats_path)]


def measure(host: ReplicaHost, argv: list[str], stats_path: Path, log_path: Path) -> Measured:
    """Run one crawl to its end with a fresh request log; raise if it fails."""
    host.clear_log()
    process = run_child(argv, log_path)
    stats: dict[str, Any] = json.loads(stats_path.read_text(encoding="utf-8"))
    return Measured(process, host.log(), stats)
