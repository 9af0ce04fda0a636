"""``python -m benchmarks.workers``: broker mode's throughput with 1, 2 and 4 ``neu-news worker``s
on a fleet of 60 sites with politeness delays (a backfill each time, into a fresh Redis), then
how many workers one feed writer and one Redis serve, simulated up to 100 at the measured
one-worker pace (``benchmarks.simulation``).

A worker crawls one site at a time and a site's crawl waits on its politeness delay, so the
work is I/O-bound: workers scale on 2 cores until the crawls' start-up and parsing fill them.
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks import PROJECT_ROOT, simulation
from benchmarks.report import Row, format_table
from replica.fleet import Fleet
from tests.redis_server import RedisServer

logger = logging.getLogger(__name__)

WORKER_COUNTS = (1, 2, 4)
SITES = 60
# Politeness on (one request at a time per site, this far apart), shortened from the default
# 1 s so that the one-worker run ends within minutes.
DELAY = "0.2"
POLITE = {
    "DOWNLOAD_DELAY": DELAY,
    "AUTOTHROTTLE_ENABLED": "False",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "1",
    "TELNETCONSOLE_ENABLED": "False",
}
RUN_TIMEOUT = 3600.0


def measure(work: Path, sites: int, counts: Sequence[int]) -> dict[int, dict[str, float]]:
    """Seconds, sites/s and records/s of a backfill of the fleet, for each worker count."""
    figures = {}
    work.mkdir(parents=True, exist_ok=True)
    with Fleet(sites=sites, seed=0) as fleet:
        sources = work / "fleet.toml"
        fleet.write_sources(sources)
        for count in counts:
            figures[count] = backfill(work / f"workers-{count}", sources, count, sites)
            logger.info("%d workers: %s", count, figures[count])
    return figures


def backfill(work: Path, sources: Path, count: int, sites: int) -> dict[str, float]:
    redis = RedisServer(work / "redis").start()
    worker_argv = [sys.executable, "-m", "scheduler", "worker", "--broker", redis.url]
    workers = []
    for index in range(count):
        with (work / f"worker-{index}.log").open("wb") as log:
            workers.append(
                subprocess.Popen(
                    [*worker_argv, "--log-level", "warning"],
                    cwd=work,
                    stdin=subprocess.DEVNULL,
                    stderr=log,
                    start_new_session=True,
                )
            )
    settings = [part for key, value in POLITE.items() for part in ("-s", f"{key}={value}")]
    data_dir = work / "data"
    try:
        started = time.perf_counter()
        with (work / "scheduler.log").open("wb") as log:
            subprocess.run(
                [sys.executable, "-m", "scheduler", "--once", "--every", "1h", "--broker",
                 redis.url, "--sources", str(sources), "--data-dir", str(data_dir), *settings],
                cwd=PROJECT_ROOT,
                stdin=subprocess.DEVNULL,
                stderr=log,
                timeout=RUN_TIMEOUT,
                check=True,
            )  # fmt: skip
        seconds = time.perf_counter() - started
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait()
        redis.stop()
    records = len((data_dir / "articles.jsonl").read_bytes().splitlines())
    return {"seconds": seconds, "sites_per_s": sites / seconds, "records_per_s": records / seconds}


def rows(figures: dict[int, dict[str, float]]) -> list[Row]:
    one = figures[min(figures)]
    table = []
    for count, figure in sorted(figures.items()):
        scaling = figure["records_per_s"] / (count * one["records_per_s"])
        table += [
            Row(f"11. broker backfill, {count} workers: sites/s", figure["sites_per_s"],
                None, "sites/s", "", None),
            Row(f"11. broker backfill, {count} workers: records/s", figure["records_per_s"],
                one["records_per_s"] * count, "rec/s", "scaling >= 0.8 of linear",
                scaling >= 0.8 if count > 1 else None, f"{count} x 1 worker"),
        ]  # fmt: skip
    return table


def run(
    work: Path, sites: int = SITES, counts: Sequence[int] = WORKER_COUNTS
) -> tuple[list[Row], dict[str, Any]]:
    """The rows, and the figures behind them, for benchmarks/__main__.py: the measured runs,
    then the simulation of up to 100 workers at the measured one-worker pace."""
    figures = measure(work, sites, counts)
    simulated_rows, simulated = simulation.run(per_worker=figures[min(figures)]["records_per_s"])
    details: dict[str, Any] = {
        "sites": sites,
        "settings": POLITE,
        "workers": figures,
        "simulation": simulated,
    }
    return rows(figures) + simulated_rows, details


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.workers", description=__doc__)
    parser.add_argument("--sites", type=int, default=SITES)
    parser.add_argument("--workers", type=int, nargs="+", default=list(WORKER_COUNTS))
    parser.add_argument("--work-dir", type=Path, required=True, help="logs, Redis and feeds")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    table, _ = run(args.work_dir, args.sites, args.workers)
    print(format_table(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
