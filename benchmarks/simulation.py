"""``python -m benchmarks.simulation``: how many workers one feed writer and one Redis serve,
simulated up to 100 workers on this machine's ``redis-server`` (append-only file fsynced at every
write).

Each simulated worker is a thread with a connection of its own that does, at a steady pace, what a
worker's crawl does per new article: ask whether it is known, then file it (the shared state's
WATCHed reads and its MULTI/EXEC with the feed line); the scheduler's feed writer drains the stream
into a data directory meanwhile. The pace is one worker's measured records/s (``--per-worker``;
``benchmarks.workers`` passes its one-worker figure). What it shows: whether the records/s asked
for are the records/s filed, how long a filing waits, how far the writer lags, and how busy Redis's
one thread is. Crawling itself is not simulated: it runs on the workers' own machines.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.report import Row, format_table
from benchmarks.stream_capacity import Capacity, redis_cpu_seconds, sample_record
from crawler.store.shared import SharedStore, connect
from crawler.store.stream import FeedStreamWriter
from tests.redis_server import RedisServer

WORKER_COUNTS = (10, 25, 50, 100)
SECONDS = 10.0
# One worker's records/s when run alone (a default: benchmarks.workers passes its measured one).
PER_WORKER = 3.0
# Served: at least this share of the asked records/s filed, and the writer caught up this soon
# after the last filing.
KEEPS_UP = 0.95
CATCH_UP_SECONDS = 2.0


def simulate(workers: int, per_worker: float, seconds: float, scratch: Path) -> dict[str, Any]:
    """*workers* simulated workers filing *per_worker* new records a second each for *seconds*,
    against a fresh Redis, with the feed writer draining meanwhile."""
    server = RedisServer(scratch / "redis").start()
    assert server.process is not None
    stop_writer = threading.Event()
    writer = FeedStreamWriter(connect(server.url), scratch / "data")
    writer_thread = threading.Thread(target=writer.run, args=(stop_writer,), daemon=True)
    waits: list[list[float]] = [[] for _ in range(workers)]
    deadline = time.perf_counter() + seconds
    threads = [
        threading.Thread(
            target=_worker, args=(server.url, n, n / workers, per_worker, deadline, waits[n])
        )
        for n in range(workers)
    ]
    try:
        writer_thread.start()
        cpu_before, started = redis_cpu_seconds(server.process.pid), time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        filed_seconds = time.perf_counter() - started
        redis_cpu = redis_cpu_seconds(server.process.pid) - cpu_before
        filed = sum(len(worker_waits) for worker_waits in waits)
        catch_up = _catch_up(writer.feed_path, filed)
    finally:
        stop_writer.set()
        writer_thread.join()
        writer.close()
        server.stop()
    all_waits = sorted(wait for worker_waits in waits for wait in worker_waits)
    return {
        "workers": workers,
        "asked_per_s": workers * per_worker,
        "filed_per_s": filed / filed_seconds,
        "filing_ms_p50": 1000 * statistics.median(all_waits),
        "filing_ms_p99": 1000 * all_waits[int(0.99 * (len(all_waits) - 1))],
        "writer_catch_up_s": catch_up,
        "redis_busy": redis_cpu / filed_seconds,
    }


def _worker(
    url: str, n: int, phase: float, per_worker: float, deadline: float, waits: list[float]
) -> None:
    """Simulated worker *n*: a known-article question and a filing every 1/*per_worker* s, the
    first *phase* of a period in (the workers spread over the period, not all at once)."""
    store = SharedStore(url)
    period, count = 1.0 / per_worker, 0
    due = time.perf_counter() + phase * period
    try:
        while due < deadline:
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            record = sample_record(n * 1_000_000 + count)
            started = time.perf_counter()
            if not store.is_known(record["id"]):
                store.add(record)
            waits.append(time.perf_counter() - started)
            count += 1
            due += period
    finally:
        store.close()


def _catch_up(feed: Path, lines: int) -> float:
    """Seconds until *feed* holds *lines* lines (the writer caught up with the filings)."""
    started = time.perf_counter()
    while _lines(feed) < lines:
        if time.perf_counter() - started > 60:
            return float("inf")
        time.sleep(0.02)
    return time.perf_counter() - started


def _lines(feed: Path) -> int:
    try:
        with feed.open("rb") as handle:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
    except FileNotFoundError:
        return 0


def served(result: dict[str, Any]) -> bool:
    return bool(
        result["filed_per_s"] >= KEEPS_UP * result["asked_per_s"]
        and result["writer_catch_up_s"] <= CATCH_UP_SECONDS
    )


def rows(results: Sequence[dict[str, Any]]) -> list[Row]:
    table = []
    for result in results:
        label = f"12. simulated {result['workers']} workers on one writer and one Redis"
        table += [
            Row(f"{label}: records/s filed", result["filed_per_s"], result["asked_per_s"],
                "rec/s", f">= {KEEPS_UP:.2f} of asked, writer caught up <= "
                f"{CATCH_UP_SECONDS:.0f} s", served(result), "asked"),
            Row(f"{label}: filing p50 / p99", result["filing_ms_p50"], None, "ms",
                f"p99 {result['filing_ms_p99']:.1f} ms", None),
            Row(f"{label}: writer catch-up / Redis busy", result["writer_catch_up_s"], None, "s",
                f"Redis thread {100 * result['redis_busy']:.0f}% busy", None),
        ]  # fmt: skip
    return table


def capacity_rows(capacity: Capacity, per_worker: float) -> list[Row]:
    """How many workers, each filing *per_worker* records/s, one writer and one Redis serve
    at the capacity ``benchmarks.stream_capacity`` measured (appendfsync always)."""
    by_writer = capacity.writer_records_per_s / per_worker
    by_redis = capacity.add_records_per_redis_cpu_s / per_worker
    return [
        Row("12. workers one feed writer serves (its records/s / one worker's)", by_writer,
            100.0, "workers", ">= 100", by_writer >= 100, "100 workers"),
        Row("12. workers one Redis serves (records filed per CPU s / one worker's)", by_redis,
            100.0, "workers", ">= 100", by_redis >= 100, "100 workers"),
    ]  # fmt: skip


def run(
    per_worker: float = PER_WORKER,
    counts: Sequence[int] = WORKER_COUNTS,
    seconds: float = SECONDS,
) -> tuple[list[Row], dict[str, Any]]:
    results = []
    for count in counts:
        with tempfile.TemporaryDirectory(prefix="neu-simulation-") as scratch:
            results.append(simulate(count, per_worker, seconds, Path(scratch)))
    return rows(results), {"per_worker_records_per_s": per_worker, "runs": results}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.simulation", description=__doc__)
    parser.add_argument("--per-worker", type=float, default=PER_WORKER, help="records/s")
    parser.add_argument("--workers", type=int, nargs="+", default=list(WORKER_COUNTS))
    parser.add_argument("--seconds", type=float, default=SECONDS)
    args = parser.parse_args(argv)
    table, _ = run(args.per_worker, args.workers, args.seconds)
    print(format_table(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
