"""Section 7: peak RSS of a backfill of a site whose claims are too big (``replica.oversized``:
a pager claiming a billion pages, a list page of 600,000 links, one of 20,000, a body without
end), with the project's default bounds."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.crawls import crawl_argv
from benchmarks.procs import ChildRun, run_child
from benchmarks.report import Row
from crawler.commandline import PARTIAL_FAILURE_EXIT
from replica.oversized import OversizedServer

RSS_TARGET_MIB = 300.0
# A crawl that believes the claims gets a MemoryError at 4 GiB instead of taking the machine.
ADDRESS_SPACE_CAP = 4 * 1024**3


@dataclass(frozen=True)
class OversizedCrawl:
    """A finished backfill of the oversized site: its process, Scrapy's stats, the requests
    the site answered."""

    process: ChildRun
    stats: dict[str, Any]
    requests: int

    def stat(self, key: str) -> int:
        return int(self.stats.get(key, 0))


def crawl_oversized(work: Path, **settings: str) -> OversizedCrawl:
    """Backfill the oversized site into an empty data directory under *work*; raise
    ``BenchmarkError`` unless the crawl exits 3: of its sources, the page of too many tags and
    the endless body yield no list page, by design."""
    work.mkdir(parents=True, exist_ok=True)
    sources, stats_path = work / "sources.toml", work / "stats.json"
    with OversizedServer() as server:
        server.write_sources(sources)
        argv = crawl_argv(sources, work / "data", stats_path, mode="backfill", **settings)
        process = run_child(
            argv,
            work / "crawl.log",
            max_address_space=ADDRESS_SPACE_CAP,
            expected_exit=PARTIAL_FAILURE_EXIT,
        )
        requests = server.requests
    stats: dict[str, Any] = json.loads(stats_path.read_text(encoding="utf-8"))
    return OversizedCrawl(process, stats, requests)


def run(work: Path) -> tuple[list[Row], dict[str, Any]]:
    crawl = crawl_oversized(work / "oversized")
    peak = crawl.process.peak_rss_mib
    row = Row(
        "7. backfill peak RSS, oversized site (10^9-page pager, 600,000 and 20,000 links, "
        "endless body)",
        peak,
        None,
        "MiB",
        f"< {RSS_TARGET_MIB:g} MiB",
        peak < RSS_TARGET_MIB,
    )
    counted = {key: value for key, value in crawl.stats.items() if key.startswith("neu/")}
    details = {"process": asdict(crawl.process), "requests": crawl.requests, "stats": counted}
    return [row], details
