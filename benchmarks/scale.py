"""Section 5: a million known articles. Crawl start-up and peak memory with that state and feed
against the same with the backfill's state, and ``neu-news feed --since`` time and peak memory
on 100,000 and on all lines of the big feed."""

from __future__ import annotations

import logging
import statistics
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from benchmarks.crawls import Measured
from benchmarks.incremental import NO_RECHECK, incremental_run
from benchmarks.procs import ChildRun, run_child
from benchmarks.replica_host import ReplicaHost
from benchmarks.report import Row
from benchmarks.synthetic import FEED_FILE, copy_prefix, extend_data_dir
from benchmarks.throughput import Backfill

logger = logging.getLogger(__name__)

PREFIX_LINES = 100_000
# About a tenth of the synthetic lines are published on or after this day.
SINCE = "2023-06-01"
# Start-up varies by a few tenths of a second from run to run: the median of these is reported.
CRAWL_REPEATS = 3
STARTUP_TARGET_SECONDS = 1.0
RSS_TARGET_MIB = 200.0
# "Constant" memory: far more data may cost at most this much more peak RSS.
FLAT_GROWTH = 1.1


def run(
    host: ReplicaHost, backfill: Backfill, work: Path, total: int
) -> tuple[list[Row], dict[str, Any]]:
    big_dir, prefix_dir = work / "scale-data", work / "scale-prefix"
    logger.info("Scale: generating %d known articles", total)
    generated = extend_data_dir(backfill.data_dir, big_dir, total)
    copy_prefix(big_dir / FEED_FILE, prefix_dir, PREFIX_LINES)
    logger.info("Scale: incremental crawls with the backfill's state and with %d known", total)
    small = _crawls(host, backfill.data_dir, work / "scale-crawl-small")
    big = _crawls(host, big_dir, work / "scale-crawl-big")
    logger.info("Scale: feed --since %s on %d and %d lines", SINCE, PREFIX_LINES, total)
    readers = {
        "prefix": _feed_since(prefix_dir, work / "reader-prefix"),
        "full": _feed_since(big_dir, work / "reader-full"),
    }
    rows = _crawl_rows(big, small, total) + _reader_rows(readers, generated.feed_lines)
    details = {
        "generated": asdict(generated),
        "crawls": {
            "small": [ran.as_json() for ran in small],
            "big": [ran.as_json() for ran in big],
        },
        "empty_state_startup": {
            "spider_opened_seconds": backfill.run.spider_opened_seconds,
            "first_request_seconds": backfill.run.first_request_seconds,
        },
        "feed_since": {
            "since": SINCE,
            **{name: {**asdict(ran), "lines_out": lines} for name, (ran, lines) in readers.items()},
        },
    }
    return rows, details


def _crawls(host: ReplicaHost, data_dir: Path, out: Path) -> list[Measured]:
    """Incremental runs on the unchanged replica with the state in *data_dir*."""
    return [
        incremental_run(host, data_dir, out.with_name(f"{out.name}-{attempt}"), **NO_RECHECK)
        for attempt in range(1, CRAWL_REPEATS + 1)
    ]


def _feed_since(data_dir: Path, out: Path) -> tuple[ChildRun, int]:
    """Run ``neu-news feed --since`` to a file; return its figures and how many lines it wrote."""
    out.mkdir()
    argv = [sys.executable, "-m", "crawler.cli.main", "feed", "--since", SINCE]
    output = out / "out.jsonl"
    ran = run_child([*argv, "--data-dir", str(data_dir)], out / "stderr.log", output)
    with output.open("rb") as lines:
        count = sum(1 for _ in lines)
    output.unlink()
    return ran, count


def _median(values: list[float | None]) -> float | None:
    known = [value for value in values if value is not None]
    return statistics.median(known) if known else None


def _crawl_rows(big: list[Measured], small: list[Measured], total: int) -> list[Row]:
    label, baseline = f"{total:,} known", "backfill's state"
    first = _median([ran.first_request_seconds for ran in big])
    peak = max(ran.process.peak_rss_mib for ran in big)
    small_peak = max(ran.process.peak_rss_mib for ran in small)
    return [
        Row(
            f"5. start-up to first request, {label} (median of {CRAWL_REPEATS})",
            first,
            _median([ran.first_request_seconds for ran in small]),
            "s",
            f"< {STARTUP_TARGET_SECONDS:g} s",
            first is not None and first < STARTUP_TARGET_SECONDS,
            baseline,
        ),
        Row(
            f"5. start-up to spider_opened, {label} (median of {CRAWL_REPEATS})",
            _median([ran.spider_opened_seconds for ran in big]),
            _median([ran.spider_opened_seconds for ran in small]),
            "s",
            "report",
            None,
            baseline,
        ),
        Row(
            f"5. incremental run peak RSS, {label}",
            peak,
            small_peak,
            "MiB",
            f"< {RSS_TARGET_MIB:g} MiB, <= {FLAT_GROWTH} x baseline",
            peak < RSS_TARGET_MIB and peak <= FLAT_GROWTH * small_peak,
            baseline,
        ),
    ]


def _reader_rows(readers: dict[str, tuple[ChildRun, int]], lines: int) -> list[Row]:
    full, prefix = readers["full"][0], readers["prefix"][0]
    baseline = f"{PREFIX_LINES:,} lines"
    return [
        Row(
            f"5. feed --since, {lines:,} lines: time",
            full.wall_seconds,
            prefix.wall_seconds,
            "s",
            "report (linear)",
            None,
            baseline,
        ),
        Row(
            f"5. feed --since, {lines:,} lines: peak RSS",
            full.peak_rss_mib,
            prefix.peak_rss_mib,
            "MiB",
            f"<= {FLAT_GROWTH} x baseline",
            full.peak_rss_mib <= FLAT_GROWTH * prefix.peak_rss_mib,
            baseline,
        ),
    ]
