"""Shared test fixtures: the replica server and a real `scrapy crawl neu_news` subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from replica import Replica, ReplicaServer, build_replica

# Real redis-servers on free ports for the scale-out tests (the fixtures of those names).
from tests.redis_server import protected_redis, redis_server  # noqa: F401

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SCHEMA_DIR = PROJECT_ROOT / "crawler" / "schema"
# Politeness off: the replica is ours, and the suite must stay fast.
FAST_SETTINGS = {
    "DOWNLOAD_DELAY": "0",
    "AUTOTHROTTLE_ENABLED": "False",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "8",
    "NEU_RETRY_BACKOFF_BASE": "0",
    "RETRY_TIMES": "1",
    "DOWNLOAD_TIMEOUT": "10",
    "TELNETCONSOLE_ENABLED": "False",
}


@dataclass
class CrawlResult:
    returncode: int
    items: list[dict[str, Any]]
    stats: dict[str, Any]
    log: str
    stderr: str

    def stat(self, key: str) -> int:
        return int(self.stats.get(key, 0))


def crawl_command(
    sources: Path,
    data_dir: Path,
    out_dir: Path,
    *args: str,
    files: bool = True,
    **settings: str,
) -> list[str]:
    """The argv of a real crawl against *sources*, writing feed and stats under the dirs given;
    with *files*, also this run's items (-O) and log file in *out_dir*."""
    command = [sys.executable, "-m", "scrapy", "crawl", "neu_news"]
    merged = {
        **FAST_SETTINGS,
        "NEU_SOURCES_FILE": str(sources),
        "NEU_DATA_DIR": str(data_dir),
        "NEU_STATS_FILE": str(out_dir / "stats.json"),
        **({"LOG_FILE": str(out_dir / "crawl.log")} if files else {}),
        **settings,
    }
    for key, value in merged.items():
        command += ["-s", f"{key}={value}"]
    if files:
        command += ["-O", str(out_dir / "items.jsonl")]
    return [*command, *args]


def run_crawl(
    sources: Path, data_dir: Path, out_dir: Path, *args: str, timeout: float = 120, **settings: str
) -> CrawlResult:
    """Run `scrapy crawl neu_news` in a subprocess and collect what it produced."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in ("items.jsonl", "stats.json", "crawl.log"):
        (out_dir / name).unlink(missing_ok=True)
    completed = subprocess.run(
        crawl_command(sources, data_dir, out_dir, *args, files=True, **settings),
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    items_path, stats_path, log_path = (
        out_dir / "items.jsonl",
        out_dir / "stats.json",
        out_dir / "crawl.log",
    )
    items = (
        [json.loads(line) for line in items_path.read_text().splitlines()]
        if items_path.exists()
        else []
    )
    return CrawlResult(
        returncode=completed.returncode,
        items=items,
        stats=json.loads(stats_path.read_text()) if stats_path.exists() else {},
        log=log_path.read_text() if log_path.exists() else "",
        stderr=completed.stderr,
    )


# Plain validators, as a consumer builds them: the one schema file refers to nothing outside
# itself, and its formats (date, date-time, uri) are checked.
FEED_LINE_SCHEMA: dict[str, Any] = json.loads((SCHEMA_DIR / "feed-line.schema.json").read_text())
_FEED_LINE = Draft202012Validator(
    FEED_LINE_SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER
)
_RECORD = Draft202012Validator(
    FEED_LINE_SCHEMA["$defs"]["record"], format_checker=Draft202012Validator.FORMAT_CHECKER
)


def assert_valid_record(record: dict[str, Any]) -> None:
    _RECORD.validate(record)


def assert_valid_feed_line(line: dict[str, Any]) -> None:
    _FEED_LINE.validate(line)


def read_feed(data_dir: Path) -> list[dict[str, Any]]:
    """Every line of the feed, each checked to be complete JSON that fits the schema."""
    raw = (data_dir / "articles.jsonl").read_bytes()
    assert not raw or raw.endswith(b"\n"), "feed ends in a torn line"
    lines = [json.loads(line) for line in raw.decode("utf-8").splitlines()]
    for line in lines:
        assert_valid_feed_line(line)
    return lines


@pytest.fixture
def replica() -> Replica:
    return build_replica(seed=11, articles_per_column=12, page_size=5)


@pytest.fixture
def server(replica: Replica) -> Iterator[ReplicaServer]:
    with ReplicaServer(replica) as running:
        yield running


@pytest.fixture
def sources_file(tmp_path: Path, replica: Replica, server: ReplicaServer) -> Path:
    path = tmp_path / "sources.toml"
    replica.write_sources(path, server)
    return path
