"""Section 8: CPU per article of a backfill, and of an incremental run with nothing new, each
against the bare Scrapy spider fetching the same pages.

CPU is user + system time of the measured process and of every process it started (extraction
workers included: ``benchmarks/launcher.py`` is their subreaper). Both sides crawl the same
replica host with the same politeness-off settings and the crawl's default settings otherwise
(extraction in the crawl's own process). The bare spider fetches what the crawl fetched: the
backfill's list and article pages, then the incremental run's list pages. The sides alternate,
``rounds`` times each, and the least CPU of each side is kept: on a shared machine, the run
that was disturbed least.

Then one more backfill runs under cProfile, for the per-stage breakdown
(``benchmarks.cpu_profile``).

``python -m benchmarks.cpu`` serves a replica of its own and prints this section's rows and the
breakdown.
"""

from __future__ import annotations

import logging
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from benchmarks import cpu_profile
from benchmarks.crawls import Measured, bare_argv, crawl_argv, measure
from benchmarks.replica_host import ReplicaHost
from benchmarks.replica_options import positive, replica_parser
from benchmarks.report import Row, format_table

logger = logging.getLogger(__name__)

# The target: bare CPU per article / ours at least this (ours at most 1.25x bare).
TARGET_RATIO = 0.80
ROBOTS_PATH = "/robots.txt"


def run(
    host: ReplicaHost, articles: list[str], work: Path, rounds: int
) -> tuple[list[Row], dict[str, Any]]:
    """Measure *rounds* alternating backfills and bare fetches of the replica's *articles*
    (their URLs), then as many incremental runs with nothing new and their bare fetches, then
    one profiled backfill."""
    backfills: list[Measured] = []
    bares: list[Measured] = []
    backfilled: Path | None = None
    for attempt in range(1, rounds + 1):
        logger.info("CPU %d/%d: backfill", attempt, rounds)
        out = work / f"cpu-backfill-{attempt}"
        backfills.append(_crawl(host, out, out / "data", "backfill"))
        backfilled = out / "data"
        logger.info("CPU %d/%d: bare spider, the backfill's pages", attempt, rounds)
        pages = [*fetched_pages(host.base_urls, backfills[0]), *articles]
        bares.append(_bare(host, pages, work / f"cpu-bare-{attempt}"))
    assert backfilled is not None, "rounds >= 1"
    incrementals: list[Measured] = []
    bare_incrementals: list[Measured] = []
    for attempt in range(1, rounds + 1):
        logger.info("CPU %d/%d: incremental run, nothing new", attempt, rounds)
        out = work / f"cpu-incremental-{attempt}"
        incrementals.append(_crawl(host, out, backfilled, "incremental"))
        logger.info("CPU %d/%d: bare spider, the incremental run's pages", attempt, rounds)
        pages = fetched_pages(host.base_urls, incrementals[0])
        bare_incrementals.append(_bare(host, pages, work / f"cpu-bare-incremental-{attempt}"))
    backfill, bare = min(backfills, key=cpu_seconds), min(bares, key=cpu_seconds)
    incremental = min(incrementals, key=cpu_seconds)
    bare_incremental = min(bare_incrementals, key=cpu_seconds)
    rows = section_rows(backfill, bare, incremental, bare_incremental)
    details = {
        "rounds": rounds,
        "backfill_cpu_ms_per_article": [cpu_ms_per_article(m) for m in backfills],
        "bare_cpu_ms_per_article": [bare_cpu_ms_per_article(m) for m in bares],
        "incremental_cpu_seconds": [cpu_seconds(m) for m in incrementals],
        "bare_incremental_cpu_seconds": [cpu_seconds(m) for m in bare_incrementals],
        "backfill": backfill.as_json(),
        "bare": bare.as_json(),
        "incremental": incremental.as_json(),
        "bare_incremental": bare_incremental.as_json(),
        "profile": cpu_profile.run(host, work),
    }
    return rows, details


def cpu_seconds(run: Measured) -> float:
    return run.process.cpu_seconds


def cpu_ms_per_article(run: Measured) -> float:
    """The crawl's CPU per article written to the feed."""
    return 1000 * cpu_seconds(run) / run.stat("neu/articles/new")


def bare_cpu_ms_per_article(run: Measured) -> float:
    """The bare spider's CPU per article page it fetched."""
    return 1000 * cpu_seconds(run) / run.requests.count("article")


def fetched_pages(base_urls: Mapping[str, str], run: Measured) -> list[str]:
    """The URLs of the pages *run* fetched other than articles and robots.txt (list pages, and
    any other page), on the sites at *base_urls* (by name): the bare spider asks for
    robots.txt on its own."""
    urls = []
    for entry in run.requests.not_article_paths:
        site, slash, path = entry.partition("/")
        if slash and f"/{path}" != ROBOTS_PATH:
            urls.append(f"{base_urls[site]}/{path}")
    return urls


def _crawl(host: ReplicaHost, out: Path, data_dir: Path, mode: str) -> Measured:
    out.mkdir()
    stats_path = out / "stats.json"
    argv = crawl_argv(host.sources_path, data_dir, stats_path, mode=mode)
    return measure(host, argv, stats_path, out / "stderr.log")


def _bare(host: ReplicaHost, urls: list[str], out: Path) -> Measured:
    out.mkdir()
    urls_path, stats_path = out / "urls.txt", out / "stats.json"
    urls_path.write_text("\n".join(urls) + "\n", encoding="utf-8")
    return measure(host, bare_argv(urls_path, stats_path), stats_path, out / "stderr.log")


def section_rows(
    backfill: Measured, bare: Measured, incremental: Measured, bare_incremental: Measured
) -> list[Row]:
    articles = backfill.stat("neu/articles/new")
    # Articles per CPU second: higher is better, so the ratio is the (bare CPU / ours).
    ours_rate = 1000 / cpu_ms_per_article(backfill)
    bare_rate = 1000 / bare_cpu_ms_per_article(bare)
    return [
        Row(
            f"8. backfill CPU, {articles:,} articles ({cpu_ms_per_article(backfill):.2f} vs "
            f"{bare_cpu_ms_per_article(bare):.2f} ms/article)",
            ours_rate,
            bare_rate,
            "art/CPU-s",
            f">= {TARGET_RATIO} x bare",
            ours_rate / bare_rate >= TARGET_RATIO,
            "bare Scrapy, same pages",
        ),
        Row(
            f"8. incremental CPU, nothing new ({incremental.requests.total} requests)",
            cpu_seconds(incremental),
            cpu_seconds(bare_incremental),
            "CPU-s",
            "report",
            None,
            "bare Scrapy, same pages",
        ),
        Row(
            "8. backfill peak RSS (default settings)",
            backfill.process.peak_rss_mib,
            bare.process.peak_rss_mib,
            "MiB",
            "report",
            None,
            "bare Scrapy, same pages",
        ),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = replica_parser("python -m benchmarks.cpu", __doc__)
    parser.add_argument(
        "--rounds", type=positive, default=3, help="runs per side, the least CPU kept (default 3)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="neu-bench-cpu-") as work:
        sources = Path(work) / "sources.toml"
        with ReplicaHost(args.seed, args.articles_per_column, args.page_size, sources) as host:
            articles = list(host.expected_records())
            rows, details = run(host, articles, Path(work), args.rounds)
    print(format_table(rows))
    print(cpu_profile.format_breakdown(details["profile"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
