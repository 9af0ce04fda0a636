"""Many small sites side by side at default politeness (issue 13, part 1): ``python -m
benchmarks.sites`` prints the rows for 10, 100 and 300 sites.

Each site of a :class:`replica.fleet.Fleet` is on its own loopback address, so each has its own
politeness slot; a backfill of all of them at the project's own settings (one request at a time
per site, ``DOWNLOAD_DELAY`` apart) ideally takes as long as the busiest site needs: the delay
between each two of its requests, (requests - 1) x the delay. Measured: Scrapy's own clock,
spider opened to closed (the process's wall time, Python and Scrapy's start included, is in the
details). The figure is the ratio of the requests per second to the ideal's (ideal time /
measured), with every record exact against the fleet's ground truth, and the least gap between
two requests to one site as the site saw it.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.procs import run_child
from benchmarks.report import Row, format_table
from crawler import settings as project_settings
from replica.fleet import Fleet

logger = logging.getLogger(__name__)

SITE_COUNTS = (10, 100, 300)
TARGET_RATIO = 0.85
DEFAULT_SEED = 0


def crawl_argv(sources: Path, work: Path) -> list[str]:
    """A backfill at the project's own settings (politeness on), its records to items.jsonl."""
    settings = {
        "NEU_SOURCES_FILE": str(sources),
        "NEU_DATA_DIR": str(work / "data"),
        "NEU_STATS_FILE": str(work / "stats.json"),
        "LOG_LEVEL": "WARNING",
    }
    argv = [sys.executable, "-m", "scrapy", "crawl", "neu_news", "-a", "mode=backfill"]
    for key, value in settings.items():
        argv += ["-s", f"{key}={value}"]
    return [*argv, "-O", str(work / "items.jsonl")]


def inexact(items: list[dict[str, Any]], expected: dict[str, dict[str, Any]]) -> list[str]:
    """The URLs whose records are not exactly the ground truth: missing, twice, unexpected, or a
    field that differs (the columns in any order)."""
    by_url: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        by_url.setdefault(item["url"], []).append(item)
    wrong = sorted(
        url for url, records in by_url.items() if url not in expected or len(records) > 1
    )
    for url, want in expected.items():
        records = by_url.get(url)
        got = records[0] if records else None
        if got is None or any(
            sorted(got.get(key) or []) != sorted(value)
            if key == "columns"
            else got.get(key) != value
            for key, value in want.items()
        ):
            wrong.append(url)
    return wrong


def measure(sites: int, seed: int, work: Path) -> dict[str, Any]:
    """One backfill of a fleet of *sites*: its figures as a JSON-able dict."""
    work.mkdir(parents=True, exist_ok=True)
    delay = float(project_settings.DOWNLOAD_DELAY)
    with Fleet(sites, seed) as fleet:
        sources = work / "sources.toml"
        fleet.write_sources(sources)
        process = run_child(crawl_argv(sources, work), work / "crawl.log")
        log = fleet.request_log
        fleet_gaps = fleet.request_gaps()
        expected = fleet.expected_records()
        budget = fleet.backfill_requests()
    items = [json.loads(line) for line in (work / "items.jsonl").read_text("utf-8").splitlines()]
    stats = json.loads((work / "stats.json").read_text("utf-8"))
    elapsed = float(stats["elapsed_time_seconds"])
    requests = sum(len(entries) for entries in log.values())
    gaps = [gap for site in fleet_gaps.values() for gap in site]
    ideal = (max(budget.values()) - 1) * delay
    wrong = inexact(items, expected)
    return {
        "sites": sites,
        "delay_seconds": delay,
        "busiest_site_requests": max(budget.values()),
        "ideal_seconds": ideal,
        "elapsed_seconds": elapsed,
        "wall_seconds": process.wall_seconds,
        "cpu_seconds": process.cpu_seconds,
        "requests": requests,
        "expected_requests": sum(budget.values()),
        "requests_per_second": requests / elapsed,
        "ratio": ideal / elapsed,
        "records": len(items),
        "expected_records": len(expected),
        "inexact": wrong[:10],
        "inexact_count": len(wrong),
        "least_gap_seconds": min(gaps),
        "mean_gap_seconds": sum(gaps) / len(gaps),
    }


def rows(results: Sequence[dict[str, Any]]) -> list[Row]:
    out: list[Row] = []
    for result in results:
        sites = result["sites"]
        exact = result["inexact_count"] == 0 and result["requests"] == result["expected_requests"]
        ideal_rate = result["expected_requests"] / result["ideal_seconds"]
        out += [
            Row(
                f"9. {sites} sites at default politeness: requests/s (backfill)",
                result["requests_per_second"],
                ideal_rate,
                "req/s",
                f">= {TARGET_RATIO} of ideal, records exact",
                result["ratio"] >= TARGET_RATIO and exact,
                baseline_name=f"ideal: ({result['busiest_site_requests']} requests - 1) x "
                f"{result['delay_seconds']:g} s",
            ),
            Row(
                f"9. {sites} sites: spider open to close",
                result["elapsed_seconds"],
                result["ideal_seconds"],
                "s",
                "",
                None,
                baseline_name="ideal",
            ),
            Row(
                f"9. {sites} sites: exact records",
                result["records"] - result["inexact_count"],
                result["expected_records"],
                "records",
                "all",
                exact,
                baseline_name="ground truth",
            ),
            Row(
                f"9. {sites} sites: least gap between two requests to one site",
                result["least_gap_seconds"],
                result["delay_seconds"],
                "s",
                "",
                None,
                baseline_name="DOWNLOAD_DELAY",
            ),
        ]
    return out


def run(
    work: Path, seed: int = DEFAULT_SEED, site_counts: Sequence[int] = SITE_COUNTS
) -> tuple[list[Row], list[dict[str, Any]]]:
    """Every fleet size in turn: the rows and the details (for results.json)."""
    results = []
    for sites in site_counts:
        logger.info("Backfill of %d sites at default politeness", sites)
        results.append(measure(sites, seed, work / f"sites-{sites}"))
    return rows(results), results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sites", description=__doc__)
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"fleet seed (default {DEFAULT_SEED})"
    )
    parser.add_argument(
        "--sites", type=int, nargs="+", default=list(SITE_COUNTS), help="fleet sizes (10 100 300)"
    )
    parser.add_argument("--work-dir", type=Path, help="keep logs and data here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with tempfile.TemporaryDirectory(prefix="bench-sites-") as scratch:
        table, details = run(args.work_dir or Path(scratch), args.seed, args.sites)
    print(format_table(table))
    print(json.dumps(details, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
