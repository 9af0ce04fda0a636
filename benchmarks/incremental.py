"""Section 4: what an incremental run costs, in requests the sites saw and in wall time.

Runs use ``NEU_RECHECK_DAYS=0``: by design, articles first seen in the last two days are fetched
again (conditionally) to catch edits, and right after a backfill that is every article. One
extra run with the default shows that cost.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from benchmarks.crawls import Measured, crawl_argv, measure
from benchmarks.replica_host import ReplicaHost, ReplicaSize
from benchmarks.report import Row
from benchmarks.throughput import Backfill

logger = logging.getLogger(__name__)

# (site, column, how many) of the articles published between the runs: 10 in 3 of 7 columns.
PUBLISH = (("news", "ddyw", 4), ("english", "focus", 3), ("college", "xwdt", 3))
NO_RECHECK = {"NEU_RECHECK_DAYS": "0"}


def incremental_run(host: ReplicaHost, data_dir: Path, out: Path, **settings: str) -> Measured:
    out.mkdir()
    stats_path = out / "stats.json"
    argv = crawl_argv(host.sources_path, data_dir, stats_path, mode="incremental", **settings)
    return measure(host, argv, stats_path, out / "stderr.log")


def run(host: ReplicaHost, backfill: Backfill, work: Path) -> tuple[list[Row], dict[str, Any]]:
    data_dir = backfill.data_dir
    logger.info("Incremental: unchanged replica")
    before = host.size()
    unchanged = incremental_run(host, data_dir, work / "incremental-unchanged", **NO_RECHECK)
    published = [url for site, column, n in PUBLISH for url in host.publish(site, column, n)]
    logger.info("Incremental: %d new articles", len(published))
    after = host.size()
    with_new = incremental_run(host, data_dir, work / "incremental-new", **NO_RECHECK)
    logger.info("Incremental: default re-checks, right after the backfill")
    recheck = incremental_run(host, data_dir, work / "incremental-recheck")
    rows = [
        *_rows("unchanged", unchanged, before, 0, backfill.run),
        *_rows(f"+{len(published)} new", with_new, after, len(published), backfill.run),
        Row(
            "4. incremental, unchanged, default re-checks: requests",
            recheck.requests.total,
            unchanged.requests.total,
            "req",
            "report (by design)",
            None,
            "NEU_RECHECK_DAYS=0",
        ),
    ]
    details = {
        "published": published,
        "unchanged": unchanged.as_json(),
        "new": with_new.as_json(),
        "default_recheck": recheck.as_json(),
        "stateless_requests": {
            "before": before.stateless_requests,
            "after": after.stateless_requests,
        },
    }
    return rows, details


def _rows(label: str, ran: Measured, size: ReplicaSize, new: int, backfill: Measured) -> list[Row]:
    wanted = size.sites + size.columns + new
    return [
        Row(
            f"4. incremental, {label}: requests",
            ran.requests.total,
            size.stateless_requests,
            "req",
            f"= {wanted} ({size.sites} robots + {size.columns} lists + {new} new)",
            ran.requests.total == wanted and ran.requests.count("article") == new,
            "no state",
        ),
        Row(
            f"4. incremental, {label}: wall time",
            ran.process.wall_seconds,
            backfill.process.wall_seconds,
            "s",
            "report",
            None,
            "backfill",
        ),
    ]
