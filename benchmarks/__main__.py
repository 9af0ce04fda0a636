"""``python -m benchmarks`` (``make bench``): serve a large replica, measure, print the table
and write every figure to ``benchmarks/results.json``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from benchmarks import (
    RESULTS_PATH,
    cpu,
    extraction,
    incremental,
    oversized,
    scale,
    simulation,
    sites,
    stream_capacity,
    throughput,
    workers,
)
from benchmarks.crawls import POLITENESS_OFF
from benchmarks.machine import machine_info
from benchmarks.replica_host import ReplicaHost
from benchmarks.replica_options import positive, replica_parser
from benchmarks.report import Row, format_table, write_results

logger = logging.getLogger("benchmarks")

# A 1-minute load average above this at the start means the machine is not quiet.
BUSY_LOAD = 1.0


def _parser() -> argparse.ArgumentParser:
    parser = replica_parser("python -m benchmarks", __doc__)
    parser.add_argument(
        "--repeats",
        type=positive,
        default=2,
        help="throughput runs per side, the best kept (CPU rounds: at least 3)",
    )
    parser.add_argument(
        "--sample",
        type=positive,
        default=300,
        help="replica pages for extraction cost and accuracy",
    )
    parser.add_argument(
        "--scale", type=positive, default=1_000_000, help="known articles (and feed lines) at scale"
    )
    parser.add_argument("--output", type=Path, default=RESULTS_PATH, help="results JSON file")
    parser.add_argument(
        "--work-dir", type=Path, help="keep logs and data here (default: a temporary directory)"
    )
    return parser


def measure_all(args: argparse.Namespace, work: Path) -> tuple[list[Row], dict[str, Any]]:
    sources = work / "sources.toml"
    with ReplicaHost(args.seed, args.articles_per_column, args.page_size, sources) as host:
        expected = host.expected_records()
        logger.info("Replica serves %d articles at %s", len(expected), host.base_urls)
        rows, details, backfill = throughput.run(host, list(expected), work, args.repeats)
        results: dict[str, Any] = {"throughput": details}
        # Before the incremental section, which publishes new articles.
        more_rows, results["cpu"] = cpu.run(host, list(expected), work, max(args.repeats, 3))
        rows += more_rows
        more_rows, results["extraction"] = extraction.run(expected, args.sample)
        rows += more_rows
        more_rows, results["incremental"] = incremental.run(host, backfill, work)
        rows += more_rows
        more_rows, results["scale"] = scale.run(host, backfill, work, args.scale)
        rows += more_rows
    more_rows, results["oversized"] = oversized.run(work)
    rows += more_rows
    rows += scale_out(work, results)
    rows.sort(key=lambda row: int(row.measure.partition(".")[0]))
    return rows, results


def scale_out(work: Path, results: dict[str, Any]) -> list[Row]:
    """Sections 9 to 12: many sites on one machine, then broker mode's parts and workers."""
    rows, results["sites"] = sites.run(work / "sites")
    capacity = stream_capacity.measure()
    rows += stream_capacity.rows(capacity)
    more_rows, results["workers"] = workers.run(work / "workers")
    rows += more_rows
    one_worker = results["workers"]["workers"][min(workers.WORKER_COUNTS)]["records_per_s"]
    rows += simulation.capacity_rows(capacity, one_worker)
    results["stream_capacity"] = asdict(capacity)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    started = time.perf_counter()
    machine = machine_info()
    if machine["load_average_1min"] > BUSY_LOAD:
        logger.warning(
            "Load average %.1f: other processes share the CPUs, figures will be noisy",
            machine["load_average_1min"],
        )
    if args.work_dir is not None:
        args.work_dir.mkdir(parents=True)
        rows, results = measure_all(args, args.work_dir)
    else:
        with tempfile.TemporaryDirectory(prefix="neu-bench-") as work:
            rows, results = measure_all(args, Path(work))
    wall = time.perf_counter() - started
    print(format_table(rows))
    config = {key: value for key, value in vars(args).items() if key not in ("output", "work_dir")}
    payload = {
        "machine": {**machine, "load_average_1min_at_end": os.getloadavg()[0]},
        "config": {**config, "crawl_settings": POLITENESS_OFF},
        "wall_seconds": wall,
        "rows": [row.as_json() for row in rows],
        "details": results,
    }
    write_results(args.output, payload)
    print(f"\nWrote {args.output} ({wall:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
