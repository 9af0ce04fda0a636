"""``python -m benchmarks.stream_capacity``: what one feed writer and one Redis can take, on this
machine's ``redis-server`` (append-only file fsynced at every write, as the README asks).

- the writer's records/s: a stream of filed records drained into a fresh data directory
  (parse, append, fsync per batch, acknowledge and delete, checkpoint);
- the shared state's records/s: new records filed by one client (each its WATCHed reads and one
  MULTI/EXEC with the feed line), and ``is_known`` questions/s;
- Redis's own capacity: the same operations per second of the server's CPU (its one thread),
  which is where many clients saturate it: a client alone waits on round trips instead.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.report import Row, format_table
from crawler.store.shared import SharedStore, connect
from crawler.store.stream import FeedStreamWriter
from tests.redis_server import RedisServer

RECORDS = 3000
BODY = "东北大学召开工作会议，总结一年来的工作并部署下一阶段的重点任务。" * 20


@dataclass(frozen=True)
class Capacity:
    writer_records_per_s: float
    add_records_per_s: float  # one client
    add_records_per_redis_cpu_s: float  # Redis's capacity for filing records
    is_known_per_s: float  # one client
    is_known_per_redis_cpu_s: float


def measure(records: int = RECORDS, appendfsync: str = "always") -> Capacity:
    """File *records* new records, ask ``is_known`` of each, drain them into a feed: rates,
    with the server's append-only file fsynced as *appendfsync* says (always, everysec)."""
    with tempfile.TemporaryDirectory(prefix="stream-capacity-") as scratch:
        server = RedisServer(Path(scratch) / "redis").start()
        try:
            client = server.client()
            client.config_set("appendfsync", appendfsync)
            client.close()
            return _measure(server, Path(scratch) / "data", records)
        finally:
            server.stop()


def _measure(server: RedisServer, data_dir: Path, records: int) -> Capacity:
    assert server.process is not None
    pid = server.process.pid
    store = SharedStore(server.url)
    items = [sample_record(n) for n in range(records)]
    add_seconds, add_cpu = _timed(pid, lambda: [store.add(item) for item in items])
    ask_seconds, ask_cpu = _timed(pid, lambda: [store.is_known(item["id"]) for item in items])
    store.close()
    client = connect(server.url)
    started = time.perf_counter()
    writer = FeedStreamWriter(client, data_dir)
    written = writer.drain()
    writer.close()
    write_seconds = time.perf_counter() - started
    client.close()
    assert written == records, (written, records)
    return Capacity(
        writer_records_per_s=records / write_seconds,
        add_records_per_s=records / add_seconds,
        add_records_per_redis_cpu_s=records / add_cpu,
        is_known_per_s=records / ask_seconds,
        is_known_per_redis_cpu_s=records / ask_cpu,
    )


def _timed(pid: int, work: Any) -> tuple[float, float]:
    """Wall seconds of *work* and the CPU seconds the Redis process spent meanwhile."""
    cpu, started = redis_cpu_seconds(pid), time.perf_counter()
    work()
    return time.perf_counter() - started, max(redis_cpu_seconds(pid) - cpu, 1e-6)


def redis_cpu_seconds(pid: int) -> float:
    """CPU seconds the process *pid* (a Redis server) has spent so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    # utime and stime: fields 14 and 15 of stat(5), 12 and 13 after the command's ")".
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sample_record(n: int) -> dict[str, Any]:
    """Crawled record number *n*: a distinct article of about 2 kB, as a crawl files one."""
    url = f"https://news.example.edu.cn/info/1002/{n}.htm"
    return {
        "id": f"{n:016x}", "url": url, "source": "news-ddyw", "site": "news.example.edu.cn",
        "column": "要闻", "columns": ["要闻"], "title": f"第{n}篇", "published": "2026-11-28",
        "authors": [], "editors": [], "origin": None, "language": "zh", "text": f"{BODY}{n}",
        "images": [], "attachments": [], "crawled_at": "2026-11-28T00:00:00+00:00",
    }  # fmt: skip


def rows(capacity: Capacity, appendfsync: str = "always") -> list[Row]:
    fsync = f"appendfsync {appendfsync}"
    return [
        Row(f"10. feed writer: records appended ({fsync})", capacity.writer_records_per_s, None,
            "/s", "", None),
        Row(f"10. shared state: records filed, one client ({fsync})", capacity.add_records_per_s,
            None, "/s", "", None),
        Row(f"10. shared state: records filed per Redis CPU second ({fsync})",
            capacity.add_records_per_redis_cpu_s, None, "/s", "", None),
        Row(f"10. shared state: is_known, one client ({fsync})", capacity.is_known_per_s, None,
            "/s", "", None),
        Row(f"10. shared state: is_known per Redis CPU second ({fsync})",
            capacity.is_known_per_redis_cpu_s, None, "/s", "", None),
    ]  # fmt: skip


def main() -> None:
    table = [
        row for mode in ("always", "everysec") for row in rows(measure(appendfsync=mode), mode)
    ]
    print(format_table(table))


if __name__ == "__main__":
    main()
