"""``python -m benchmarks.workers``: broker mode's throughput with 1, 2 and 4 ``neu-news worker``s
on a fleet of 60 sites with politeness delays (a backfill each time, into a fresh Redis), and a
model of how many workers one feed writer and one Redis serve, up to 100.

A worker crawls one site at a time and a site's crawl waits on its politeness delay, so the
work is I/O-bound: workers scale on 2 cores until the crawls' start-up and parsing fill them.

The model (``served``) takes the writer's and the state's capacity (benchmarks.stream_capacity:
records/s the writer appends, state operations/s Redis answers) and the measured records/s of
one worker. Assumptions, stated: workers add records at the same rate each, so N workers make N
times one worker's stream; each record costs the state ``OPS_PER_RECORD`` operations (the
filing's WATCHed reads and its MULTI/EXEC, the walks' and the lease's writes); the writer and
Redis are saturated when the demand reaches their capacity, and no other work shares them.
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

from benchmarks import PROJECT_ROOT
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
    "RANDOMIZE_DOWNLOAD_DELAY": "False",
    "AUTOTHROTTLE_ENABLED": "False",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "1",
    "TELNETCONSOLE_ENABLED": "False",
}
# Operations on the state per record (see the module's assumptions).
OPS_PER_RECORD = 12
MODEL_WORKERS = (1, 10, 25, 50, 100)
RUN_TIMEOUT = 3600.0


def measure(work: Path, sites: int, counts: Sequence[int]) -> dict[int, dict[str, float]]:
    """Seconds, sites/s and records/s of a backfill of the fleet, for each worker count."""
    figures = {}
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


def served(per_worker: float, writer_capacity: float, state_capacity: float) -> dict[str, float]:
    """Workers one writer and one Redis keep up with, each at *per_worker* records/s."""
    by_writer = writer_capacity / per_worker
    by_state = state_capacity / (per_worker * OPS_PER_RECORD)
    return {"by_writer": by_writer, "by_state": by_state, "workers": min(by_writer, by_state)}


def utilization(workers: int, per_worker: float, capacity: float, cost: float = 1.0) -> float:
    """The share of *capacity* that *workers* use, each at *per_worker* units of *cost*."""
    return workers * per_worker * cost / capacity


def rows(
    figures: dict[int, dict[str, float]],
    writer_capacity: float | None,
    state_capacity: float | None,
) -> list[Row]:
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
    if writer_capacity is None or state_capacity is None:
        return table
    per_worker = one["records_per_s"]
    model = served(per_worker, writer_capacity, state_capacity)
    table.append(
        Row("11. workers one writer and one Redis serve (model)", model["workers"], 100.0,
            "workers", ">= 100 workers", model["workers"] >= 100, "target")
    )  # fmt: skip
    for workers in MODEL_WORKERS:
        table.append(
            Row(f"11. model, {workers} workers: writer use", 100 * utilization(
                workers, per_worker, writer_capacity), None, "%", "", None)
        )  # fmt: skip
        table.append(
            Row(f"11. model, {workers} workers: Redis use", 100 * utilization(
                workers, per_worker, state_capacity, OPS_PER_RECORD), None, "%", "", None)
        )  # fmt: skip
    return table


def run(
    work: Path,
    writer_capacity: float | None = None,
    state_capacity: float | None = None,
    sites: int = SITES,
    counts: Sequence[int] = WORKER_COUNTS,
) -> tuple[list[Row], dict[str, Any]]:
    """The rows, and the figures behind them, for benchmarks/__main__.py."""
    figures = measure(work, sites, counts)
    details: dict[str, Any] = {
        "sites": sites,
        "settings": POLITE,
        "workers": figures,
        "ops_per_record": OPS_PER_RECORD,
    }
    return rows(figures, writer_capacity, state_capacity), details


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.workers", description=__doc__)
    parser.add_argument("--sites", type=int, default=SITES)
    parser.add_argument("--workers", type=int, nargs="+", default=list(WORKER_COUNTS))
    parser.add_argument("--writer-records-per-second", type=float, metavar="N")
    parser.add_argument("--state-ops-per-second", type=float, metavar="N")
    parser.add_argument("--work-dir", type=Path, required=True, help="logs, Redis and feeds")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    table, _ = run(
        args.work_dir,
        args.writer_records_per_second,
        args.state_ops_per_second,
        args.sites,
        args.workers,
    )
    print(format_table(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
