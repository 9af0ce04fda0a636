"""Many sites side by side at the project's own politeness (issue 13, part 1): a real backfill of
a fleet of small sites, each on its own loopback address, gives exactly the ground truth, asks
each site for each page once, and keeps to one request at a time per site, the configured delay
apart, as the sites saw it. (How long it takes is a benchmark's: ``benchmarks.sites``.)"""

from __future__ import annotations

from pathlib import Path

from crawler import settings as project_settings
from replica.fleet import Fleet
from tests.conftest import FAST_SETTINGS, run_crawl
from tests.test_crawl_e2e import check_records

SITES = 12
# The project's own values of everything the suite's fast settings change: politeness on.
DEFAULT_POLITENESS = {name: str(getattr(project_settings, name)) for name in FAST_SETTINGS}
DELAY = float(project_settings.DOWNLOAD_DELAY)
# A request leaves Scrapy at least DELAY after the previous one left; it reaches the site a few
# milliseconds later, a tenth of a second or more when the crawl is busy (parsing other sites'
# pages) or the machine loaded, so two arrivals may be a little closer than two departures.
# Scrapy's default jitter would make them as close as half the delay.
ARRIVAL_SLACK = 0.25


def test_a_backfill_of_many_sites_is_exact_and_polite_to_each(tmp_path: Path) -> None:
    assert DELAY >= 1  # what is checked is the project's politeness
    with Fleet(sites=SITES, seed=1) as fleet:
        fleet.write_sources(tmp_path / "sources.toml")
        result = run_crawl(
            tmp_path / "sources.toml",
            tmp_path / "data",
            tmp_path / "out",
            "-a",
            "mode=backfill",
            timeout=300,
            **DEFAULT_POLITENESS,
        )
        expected = fleet.expected_records()
        log = fleet.request_log
        gaps = fleet.request_gaps()
        at_once = fleet.most_in_flight()
        budget = fleet.backfill_requests()
    assert result.returncode == 0, result.stderr
    check_records(result.items, expected)
    # The news sites each list one article in two columns: one record names both.
    assert sum(len(record["columns"]) == 2 for record in expected.values()) == SITES // 3
    assert {site: len(entries) for site, entries in log.items()} == budget
    for site, entries in log.items():
        assert len({entry.path for entry in entries}) == len(entries), site
    assert at_once == dict.fromkeys(log, 1)
    for site, between in gaps.items():
        assert min(between) >= DELAY - ARRIVAL_SLACK, (site, min(between))
    # Side by side: every site was being crawled before any was done.
    first_done = min(entries[-1].at for entries in log.values())
    assert max(entries[0].at for entries in log.values()) < first_done
