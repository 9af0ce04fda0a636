"""Sections 1 and 6: backfill throughput and peak memory, full pipeline against bare Scrapy.

Both sides crawl the same replica host (a process of its own) with the same politeness-off
settings; the bare spider fetches the same article URLs and does nothing with them. The sides
alternate, ``repeats`` times each, and the fastest run of each side is reported.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.crawls import Measured, bare_argv, crawl_argv, measure
from benchmarks.replica_host import ReplicaHost
from benchmarks.report import Row

logger = logging.getLogger(__name__)

TARGET_RATIO = 0.75


@dataclass(frozen=True)
class Backfill:
    """The reported full backfill and the data directory it filled."""

    run: Measured
    data_dir: Path


def full_rate(run: Measured) -> float:
    """Articles fetched, extracted, deduplicated and written per second of crawling."""
    return run.stat("neu/articles/new") / run.elapsed_seconds


def bare_rate(run: Measured) -> float:
    """Article pages fetched per second of crawling."""
    return run.requests.count("article") / run.elapsed_seconds


def run(
    host: ReplicaHost, urls: list[str], work: Path, repeats: int
) -> tuple[list[Row], dict[str, Any], Backfill]:
    urls_path = work / "article-urls.txt"
    urls_path.write_text("\n".join(urls) + "\n", encoding="utf-8")
    bares: list[Measured] = []
    fulls: list[Backfill] = []
    for attempt in range(1, repeats + 1):
        logger.info("Throughput %d/%d: bare spider, %d article URLs", attempt, repeats, len(urls))
        bares.append(_bare(host, urls_path, work / f"bare-{attempt}"))
        logger.info("Throughput %d/%d: full backfill", attempt, repeats)
        fulls.append(_backfill(host, work / f"backfill-{attempt}"))
    bare = max(bares, key=bare_rate)
    full = max(fulls, key=lambda backfill: full_rate(backfill.run))
    rows = _rows(full.run, bare, len(urls))
    details = {
        "articles": len(urls),
        "full": full.run.as_json(),
        "bare": bare.as_json(),
        "full_rates": [full_rate(backfill.run) for backfill in fulls],
        "bare_rates": [bare_rate(measured) for measured in bares],
    }
    return rows, details, full


def _bare(host: ReplicaHost, urls_path: Path, out: Path) -> Measured:
    out.mkdir()
    stats_path = out / "stats.json"
    return measure(host, bare_argv(urls_path, stats_path), stats_path, out / "stderr.log")


def _backfill(host: ReplicaHost, out: Path) -> Backfill:
    out.mkdir()
    data_dir, stats_path = out / "data", out / "stats.json"
    # A backfill with politeness off is bound by extraction's CPU: give it the second core.
    argv = crawl_argv(
        host.sources_path, data_dir, stats_path, mode="backfill", NEU_EXTRACT_PROCESSES="1"
    )
    return Backfill(measure(host, argv, stats_path, out / "stderr.log"), data_dir)


def _rows(full: Measured, bare: Measured, articles: int) -> list[Row]:
    ratio = full_rate(full) / bare_rate(bare)
    return [
        Row(
            f"1. backfill throughput, {articles:,} articles",
            full_rate(full),
            bare_rate(bare),
            "art/s",
            f">= {TARGET_RATIO} x bare",
            ratio >= TARGET_RATIO,
            "bare Scrapy",
        ),
        Row(
            "6. backfill peak RSS",
            full.process.peak_rss_mib,
            bare.process.peak_rss_mib,
            "MiB",
            "report",
            None,
            "bare Scrapy",
        ),
    ]
