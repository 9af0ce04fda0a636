"""What a site claims bounds the work, not the memory (issue 11, items 1 and 2): the real crawl
against a real oversized site on 127.0.0.1 (``replica.oversized``), its peak RSS measured as the
benchmark measures it (``ru_maxrss`` of the crawl alone, from ``wait4``)."""

from __future__ import annotations

from pathlib import Path

from benchmarks.oversized import RSS_TARGET_MIB, crawl_oversized
from crawler import settings as project_settings
from crawler import stats
from crawler.extract.listing import numbered_pages
from replica.oversized import CLAIMED_PAGES, MANY_LINKS, PAGER_ARTICLES, OversizedServer
from tests.conftest import read_feed, run_crawl

FIRST = "https://a.cn/ddyw/999999999.htm"


def test_numbered_pages_stop_at_the_limit_whatever_the_pager_claims() -> None:
    assert numbered_pages(FIRST, "https://a.cn/ddyw/1.htm", 3) == [
        "https://a.cn/ddyw/999999999.htm",
        "https://a.cn/ddyw/999999998.htm",
        "https://a.cn/ddyw/999999997.htm",
    ]
    assert numbered_pages("https://a.cn/l/list2.htm", "https://a.cn/l/list9.htm", 2) == [
        "https://a.cn/l/list2.htm",
        "https://a.cn/l/list3.htm",
    ]
    assert numbered_pages(FIRST, "https://a.cn/ddyw/1.htm", 0) == []


def test_crawl_of_an_oversized_site_stays_under_300_mb_and_finishes(tmp_path: Path) -> None:
    crawl = crawl_oversized(tmp_path)
    peak = crawl.process.peak_rss_mib
    print(f"peak RSS {peak:.1f} MiB, {crawl.requests} requests, {crawl.process.wall_seconds:.1f} s")
    assert peak < RSS_TARGET_MIB
    assert crawl.stats[stats.FINISH_REASON] == "finished"
    pager, links, many, endless = (
        f"oversized-{name}" for name in ("pager", "links", "many", "endless")
    )
    # The pager's billion pages: the page limit's worth requested, the cut counted once.
    assert (
        crawl.stat(stats.of_source(pager, stats.LIST_PAGES)) == project_settings.NEU_MAX_LIST_PAGES
    )
    assert crawl.stat(stats.of_source(pager, stats.skipped("page_limit"))) == 1
    # 600,000 links: not parsed at all; 20,000: the first 1,000 taken, the rest counted.
    assert crawl.stat(stats.of_source(links, stats.TOO_MANY_TAGS)) == 1
    assert crawl.stat(stats.of_source(links, stats.ARTICLE_LINKS)) == 0
    limit = project_settings.NEU_MAX_LINKS_PER_PAGE
    assert crawl.stat(stats.of_source(many, stats.LINK_LIMIT)) == MANY_LINKS - limit
    assert crawl.stat(stats.of_source(many, stats.NEW)) == limit
    assert crawl.stat(stats.of_source(pager, stats.NEW)) == PAGER_ARTICLES
    # The endless body: cut by the download size limit, whatever the failure is called.
    assert any(key.startswith(f"neu/source/{endless}/failed/") for key in crawl.stats)
    assert crawl.requests < 2 * limit + project_settings.NEU_MAX_LIST_PAGES
    assert CLAIMED_PAGES > 1000 * project_settings.NEU_MAX_LIST_PAGES


def test_articles_past_the_run_limit_are_counted_and_fetched_by_the_next_run(
    tmp_path: Path,
) -> None:
    with OversizedServer() as server:
        sources = tmp_path / "sources.toml"
        server.write_sources(sources)
        data = tmp_path / "data"
        options = ("-a", "mode=incremental", "-a", "sources=oversized-many")
        runs = [
            run_crawl(sources, data, tmp_path / f"run{n}", *options, NEU_MAX_ARTICLES_PER_RUN="400")
            for n in range(3)
        ]
    first, second, third = runs
    for ran in runs:
        assert ran.returncode == 0, ran.stderr
    limit = project_settings.NEU_MAX_LINKS_PER_PAGE
    assert first.stat(stats.total(stats.feed_outcome("new"))) == 400
    assert first.stat(stats.total(stats.ARTICLE_LIMIT)) == limit - 400
    assert "Article limit (400 a run) reached" in first.log
    # The column was left unfinished: the next runs walk it again and fetch the rest.
    assert second.stat(stats.total(stats.feed_outcome("new"))) == 400
    assert third.stat(stats.total(stats.feed_outcome("new"))) == limit - 800
    assert third.stat(stats.total(stats.ARTICLE_LIMIT)) == 0
    assert len(read_feed(data)) == limit
