"""The CPU section's figures from finished runs (pure: runs built by hand, no crawl): the ratio
is bare CPU per article over ours, NO below 0.80, and the bare spider is given the pages the
crawl fetched."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from benchmarks.cpu import TARGET_RATIO, fetched_pages, section_rows
from benchmarks.crawls import Measured
from benchmarks.procs import ChildRun
from benchmarks.replica_host import RequestLog

START = datetime(2026, 12, 1, tzinfo=UTC).isoformat()


def _run(cpu_seconds: float, articles: int = 0, pages: tuple[str, ...] = ()) -> Measured:
    """A finished run: *articles* article pages fetched and as many written, *pages* besides."""
    process = ChildRun(0, 0.0, 10.0, cpu_seconds, 100.0)
    requests = RequestLog(
        total=articles + len(pages),
        by_kind={"article": articles},
        by_status={"200": articles + len(pages)},
        not_article_paths=list(pages),
        first_at=None,
        server_cpu_seconds=0.0,
    )
    stats: dict[str, Any] = {
        "elapsed_time_seconds": 10.0,
        "start_time": START,
        "neu/articles/new": articles,
    }
    return Measured(process, requests, stats)


def test_the_ratio_is_bare_cpu_per_article_over_ours_and_says_no_below_the_target() -> None:
    bare = _run(2.0, articles=1000)  # 2 ms an article
    just_in = _run(2.0 / TARGET_RATIO, articles=1000)  # 2.5 ms: 1.25 x bare
    over = _run(2.6, articles=1000)
    incremental = _run(0.8)
    backfill, *_rest = section_rows(just_in, bare, incremental, _run(0.7))
    assert backfill.ratio is not None and abs(backfill.ratio - TARGET_RATIO) < 1e-9
    assert backfill.met is True
    assert "2.50 vs 2.00 ms/article" in backfill.measure
    backfill, incremental_row, memory = section_rows(over, bare, incremental, _run(0.7))
    assert backfill.met is False
    assert backfill.ratio is not None and round(backfill.ratio, 3) == round(2.0 / 2.6, 3)
    assert (incremental_row.ours, incremental_row.baseline, incremental_row.met) == (0.8, 0.7, None)
    assert (memory.ours, memory.baseline) == (100.0, 100.0)


def test_the_bare_spider_fetches_what_the_crawl_fetched_but_robots_txt() -> None:
    crawl = _run(1.0, pages=("news/robots.txt", "news/ddyw.htm", "english/list2.htm"))
    base_urls = {"news": "http://127.0.0.1:8001", "english": "http://127.0.0.1:8002"}
    assert fetched_pages(base_urls, crawl) == [
        "http://127.0.0.1:8001/ddyw.htm",
        "http://127.0.0.1:8002/list2.htm",
    ]
