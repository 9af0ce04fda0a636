"""Section 4: what an incremental run costs, in requests the sites saw and in wall time.

Runs use the default settings: the backfilled archive is old, so no re-check step is due, and
each column's first list page is asked for conditionally (304 when unchanged). One more run with
``-a recheck=all`` shows what asking for every known article once costs.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from benchmarks.crawls import Measured, crawl_argv, measure
from benchmarks.replica_host import ReplicaHost, ReplicaSize
from benchmarks.report import Row
from benchmarks.throughput import Backfill
from crawler import stats

logger = logging.getLogger(__name__)

# (site, column, how many) of the articles published between the runs: 10 in 3 of 7 columns.
PUBLISH = (("news", "ddyw", 4), ("english", "focus", 3), ("college", "xwdt", 3))
# Re-checks off, for runs that measure something else (benchmarks.scale).
NO_RECHECK = {"NEU_RECHECK_AFTER": ""}


def incremental_run(
    host: ReplicaHost, data_dir: Path, out: Path, *args: str, **settings: str
) -> Measured:
    out.mkdir()
    stats_path = out / "stats.json"
    argv = crawl_argv(host.sources_path, data_dir, stats_path, mode="incremental", **settings)
    return measure(host, [*argv, *args], stats_path, out / "stderr.log")


def run(host: ReplicaHost, backfill: Backfill, work: Path) -> tuple[list[Row], dict[str, Any]]:
    data_dir = backfill.data_dir
    logger.info("Incremental: unchanged replica")
    before = host.size()
    unchanged = incremental_run(host, data_dir, work / "incremental-unchanged")
    published = [url for site, column, n in PUBLISH for url in host.publish(site, column, n)]
    logger.info("Incremental: %d new articles", len(published))
    after = host.size()
    with_new = incremental_run(host, data_dir, work / "incremental-new")
    logger.info("Incremental: every known article re-checked (-a recheck=all)")
    recheck = incremental_run(host, data_dir, work / "incremental-recheck", "-a", "recheck=all")
    wanted = after.sites + after.columns + after.articles
    rows = [
        *_rows("unchanged", unchanged, before, 0, backfill.run),
        *_rows(f"+{len(published)} new", with_new, after, len(published), backfill.run),
        Row(
            "4. incremental, -a recheck=all: requests",
            recheck.requests.total,
            after.stateless_requests,
            "req",
            f"= {wanted} ({after.sites} robots + {after.columns} lists + every article)",
            recheck.requests.total == wanted,
            "no state",
        ),
    ]
    details = {
        "published": published,
        "unchanged": unchanged.as_json(),
        "new": with_new.as_json(),
        "recheck_all": recheck.as_json(),
        "stateless_requests": {
            "before": before.stateless_requests,
            "after": after.stateless_requests,
        },
    }
    return rows, details


def _rows(label: str, ran: Measured, size: ReplicaSize, new: int, backfill: Measured) -> list[Row]:
    wanted = size.sites + size.columns + new
    lists = ran.requests.count("list")
    not_modified = ran.requests.by_status.get("304", 0)
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
            f"4. incremental, {label}: list pages answered 304",
            not_modified,
            lists,
            "req",
            "report" if new else f"= {size.columns} (every column unchanged)",
            None if new else not_modified == lists == size.columns,
            "list requests",
        ),
        Row(
            f"4. incremental, {label}: list body bytes",
            ran.stat(stats.total(stats.LIST_BYTES)),
            backfill.stat(stats.total(stats.LIST_BYTES)),
            "B",
            "report" if new else "< 2 % of the backfill's",
            None
            if new
            else ran.stat(stats.total(stats.LIST_BYTES))
            < 0.02 * backfill.stat(stats.total(stats.LIST_BYTES)),
            "backfill",
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
