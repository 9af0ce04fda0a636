"""A finished crawl's stats judged per source: failure classes, outcomes, exit code, summary.

Pure unit tests: the stats dicts are built with the keys the crawl counts (crawler.stats), as a
stats file holds them; tests/test_exits.py checks the same against real crawls.
"""

from __future__ import annotations

from typing import Any

import pytest

from crawler import stats
from crawler.commandline import PARTIAL_FAILURE_EXIT, UNFINISHED_EXIT
from crawler.outcome import (
    SourceOutcome,
    crawl_exit_code,
    failure_class,
    source_outcomes,
    summary_line,
)


def counted(**by_source: dict[str, int]) -> dict[str, Any]:
    """A stats dict with each source's counters (and their run-wide totals), finished."""
    run: dict[str, Any] = {stats.FINISH_REASON: "finished"}
    for source, counters in by_source.items():
        for key, value in counters.items():
            run[stats.of_source(source, key)] = value
            run[stats.total(key)] = run.get(stats.total(key), 0) + value
    return run


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        # What crawler.failures.failure_reason makes of Scrapy 2.19's download errors ...
        ("CannotResolveHostError", "network"),
        ("DownloadConnectionRefusedError", "network"),
        ("DownloadTimeoutError", "network"),
        ("ResponseDataLossError", "network"),
        # ... and of the Twisted ones other download handlers raise.
        ("DNSLookupError", "network"),
        ("ConnectionRefusedError", "network"),
        ("TCPTimedOutError", "network"),
        ("ConnectionLost", "network"),
        ("ResponseNeverReceived", "network"),
        ("http_404", "http"),
        ("http_503", "http"),
        ("robots_txt", "robots"),
        ("unparsable_list", "layout"),
        ("not_a_list", "layout"),
        ("column_not_found", "layout"),
        ("no_list_page", "layout"),
        ("too_large", "other"),
        ("offsite", "other"),
        ("callback_KeyError", "other"),
        ("http_", "other"),
        ("http_abc", "other"),
    ],
)
def test_failure_class(reason: str, expected: str) -> None:
    assert failure_class(reason) == expected


def test_a_source_with_unreached_columns_failed_by_their_reasons() -> None:
    run = counted(
        english={
            stats.unreached("CannotResolveHostError"): 2,
            stats.unreached("DownloadTimeoutError"): 1,
            stats.failed("CannotResolveHostError"): 5,
        },
        news={stats.LIST_PAGES: 3, stats.unreached("http_404"): 1},
        ddyw={stats.LIST_PAGES: 2},
        tzgg={stats.LIST_NOT_MODIFIED: 1},
    )
    english, news, ddyw, tzgg = source_outcomes(run, ["english", "news", "ddyw", "tzgg"])
    assert english == SourceOutcome(
        "english", False, {"CannotResolveHostError": 2, "DownloadTimeoutError": 1}
    )
    assert (english.reason, english.failure_class) == ("CannotResolveHostError", "network")
    # One of its columns unreached, another read: partly fetched, and failed.
    assert news == SourceOutcome("news", True, {"http_404": 1})
    assert (news.failed, news.reason, news.failure_class) == (True, "http_404", "http")
    # An unchanged column (304) is fetched as well as a read one.
    for healthy in (ddyw, tzgg):
        assert healthy.fetched and not healthy.failed
        assert (healthy.reason, healthy.failure_class) == (None, None)


def test_a_source_that_read_no_list_page_failed_by_its_requests_or_its_pages() -> None:
    run = counted(
        refused={stats.failed("DownloadConnectionRefusedError"): 1},
        gone={stats.failed("http_404"): 1, stats.COLUMN_NOT_FOUND: 1},
        home={stats.skipped("not_a_list"): 4, stats.COLUMNS_DISCOVERED: 0},
        empty={stats.skipped("known"): 0},
    )
    outcomes = source_outcomes(run, ["refused", "gone", "home", "empty", "absent"])
    assert [(o.name, o.fetched, dict(o.failures)) for o in outcomes] == [
        ("refused", False, {"DownloadConnectionRefusedError": 1}),
        ("gone", False, {"http_404": 1}),
        ("home", False, {"not_a_list": 4}),
        ("empty", False, {"no_list_page": 1}),
        ("absent", False, {"no_list_page": 1}),
    ]
    assert [o.failure_class for o in outcomes] == ["network", "http", "layout", "layout", "layout"]


def test_a_source_a_stopped_crawl_never_got_to_is_not_called_a_layout_failure() -> None:
    run = counted(done={stats.LIST_PAGES: 2})
    run[stats.FINISH_REASON] = "shutdown"
    done, later = source_outcomes(run, ["done", "later"])
    assert done == SourceOutcome("done", True, {})
    assert later == SourceOutcome("later", False, {"crawl_stopped": 1})
    assert later.failure_class == "other"


def test_the_main_reason_is_the_most_frequent_then_the_first_by_name() -> None:
    assert SourceOutcome("s", False, {"http_404": 1, "robots_txt": 3}).reason == "robots_txt"
    assert SourceOutcome("s", False, {"robots_txt": 2, "http_404": 2}).reason == "http_404"


HEALTHY = SourceOutcome("a", True, {})
PARTLY = SourceOutcome("b", True, {"http_404": 1})
FAILED = SourceOutcome("c", False, {"DNSLookupError": 1})


@pytest.mark.parametrize(
    ("finish_reason", "outcomes", "code"),
    [
        ("finished", [HEALTHY], 0),
        ("finished", [HEALTHY, HEALTHY], 0),
        ("finished", [HEALTHY, FAILED], PARTIAL_FAILURE_EXIT),
        ("finished", [PARTLY], PARTIAL_FAILURE_EXIT),
        ("finished", [FAILED, FAILED], UNFINISHED_EXIT),
        ("finished", [], UNFINISHED_EXIT),
        ("shutdown", [HEALTHY], UNFINISHED_EXIT),
        ("out_of_memory", [HEALTHY, FAILED], UNFINISHED_EXIT),
        (None, [HEALTHY], UNFINISHED_EXIT),
    ],
)
def test_crawl_exit_code(
    finish_reason: str | None, outcomes: list[SourceOutcome], code: int
) -> None:
    assert crawl_exit_code(finish_reason, outcomes) == code
    assert (PARTIAL_FAILURE_EXIT, UNFINISHED_EXIT) == (3, 1)


def test_summary_line_counts_new_and_updated_and_names_each_failed_source() -> None:
    run = counted(
        english={stats.unreached("CannotResolveHostError"): 1},
        ddyw={stats.LIST_PAGES: 1, stats.unreached("http_404"): 1, stats.NEW: 12},
        tzgg={stats.LIST_PAGES: 4, stats.NEW: 3, stats.UPDATED: 1},
    )
    # The feed pipeline counts the run's totals under its own keys.
    run[stats.total(stats.feed_outcome("new"))] = 15
    run[stats.total(stats.feed_outcome("updated"))] = 1
    outcomes = source_outcomes(run, ["english", "ddyw", "tzgg"])
    assert summary_line(run, outcomes) == (
        "neu-news: 15 new, 1 updated, 2/3 sources fetched; failed: "
        "english (network: CannotResolveHostError), ddyw (http: http_404)"
    )


def test_summary_line_of_a_healthy_crawl_names_no_failure() -> None:
    run = counted(a={stats.LIST_PAGES: 1}, b={stats.LIST_NOT_MODIFIED: 1})
    assert summary_line(run, source_outcomes(run, ["a", "b"])) == (
        "neu-news: 0 new, 0 updated, 2/2 sources fetched"
    )


@pytest.mark.parametrize(
    ("finish_reason", "ending"),
    [
        ("shutdown", "stopped before the end (shutdown)"),
        ("out_of_memory", "did not finish (out_of_memory)"),
        (None, "did not finish (no finish reason)"),
    ],
)
def test_summary_line_says_when_the_crawl_did_not_finish(
    finish_reason: str | None, ending: str
) -> None:
    run = counted(a={stats.LIST_PAGES: 1})
    run[stats.FINISH_REASON] = finish_reason
    run[stats.total(stats.feed_outcome("new"))] = 2
    assert summary_line(run, source_outcomes(run, ["a"])) == (
        f"neu-news: {ending}; 2 new, 0 updated, 1/1 sources fetched"
    )
