"""What a finished crawl did for each source: fetched or not and why, the crawl's exit code and
its one-line summary.

Stdlib only: the scheduler classifies its runs with it from a stats file, without Scrapy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from crawler import stats
from crawler.commandline import PARTIAL_FAILURE_EXIT, UNFINISHED_EXIT

# Exception class names (crawler.failures.failure_reason) of a server never reached or never
# answering in full: Scrapy's own download errors and the Twisted ones they wrap.
NETWORK_REASONS = frozenset(
    {
        # Scrapy (2.13+)
        "CannotResolveHostError",
        "DownloadConnectionRefusedError",
        "DownloadTimeoutError",
        "DownloadFailedError",
        "ResponseDataLossError",
        "TunnelError",
        # Twisted
        "DNSLookupError",
        "ConnectionRefusedError",
        "ConnectError",
        "ConnectingCancelledError",
        "ConnectionDone",
        "ConnectionLost",
        "NoRouteError",
        "TCPTimedOutError",
        "TimeoutError",
        "ResponseNeverReceived",
        "ResponseFailed",
        "SSLError",
    }
)
ROBOTS_REASON = "robots_txt"
# A source that read no list page though nothing failed: its home page linked no column, or
# the crawl stopped before it got to the source.
NO_LIST_PAGE = "no_list_page"
CRAWL_STOPPED = "crawl_stopped"
# Pages fetched but not readable as the crawl expects, by the stats key that counts them.
LAYOUT_KEYS = {
    "unparsable_list": stats.skipped("unparsable_list"),
    "not_a_list": stats.skipped("not_a_list"),
    "column_not_found": stats.COLUMN_NOT_FOUND,
    "not_html": stats.skipped("not_html"),
    "too_many_tags": stats.TOO_MANY_TAGS,
}
LAYOUT_REASONS = frozenset({*LAYOUT_KEYS, NO_LIST_PAGE, "no_article_links"})
FINISHED = "finished"
# Scrapy's finish reason of a crawl stopped by SIGTERM or SIGINT.
SHUTDOWN = "shutdown"


def failure_class(reason: str) -> str:
    """What kind of failure *reason* is: ``network``, ``http``, ``robots``, ``layout`` or
    ``other``."""
    if reason in NETWORK_REASONS:
        return "network"
    if reason.startswith("http_") and reason[5:].isdigit():
        return "http"
    if reason == ROBOTS_REASON:
        return "robots"
    if reason in LAYOUT_REASONS:
        return "layout"
    return "other"


@dataclass(frozen=True)
class SourceOutcome:
    """One source in one crawl: whether it read any list page, and what it failed to fetch
    (reason -> columns, or requests when no column was counted unreached)."""

    name: str
    fetched: bool
    failures: Mapping[str, int]

    @property
    def failed(self) -> bool:
        return bool(self.failures)

    @property
    def reason(self) -> str | None:
        """The reason most of its failures share (the first by name on a tie), or None."""
        if not self.failures:
            return None
        return min(self.failures, key=lambda reason: (-self.failures[reason], reason))

    @property
    def failure_class(self) -> str | None:
        return None if self.reason is None else failure_class(self.reason)


def _counts_under(run_stats: Mapping[str, Any], prefix: str) -> dict[str, int]:
    """Every positive counter whose key starts with *prefix*, by the rest of its key."""
    return {
        key.removeprefix(prefix): int(value)
        for key, value in run_stats.items()
        if key.startswith(prefix) and int(value) > 0
    }


def source_outcome(run_stats: Mapping[str, Any], name: str) -> SourceOutcome:
    """The outcome of source *name* from a finished crawl's stats."""
    fetched = any(
        stats.read(run_stats, key, name) for key in (stats.LIST_PAGES, stats.LIST_NOT_MODIFIED)
    )
    failures = _counts_under(run_stats, stats.of_source(name, stats.unreached("")))
    if not failures and not fetched:
        # No column counted unreached (a crawl before that count, or a stopped one): what its
        # requests failed with, else what its pages were when they came.
        failures = _counts_under(run_stats, stats.of_source(name, stats.failed(""))) or {
            reason: count
            for reason, key in LAYOUT_KEYS.items()
            if (count := stats.read(run_stats, key, name))
        }
        finished = run_stats.get(stats.FINISH_REASON) == FINISHED
        failures = failures or {NO_LIST_PAGE if finished else CRAWL_STOPPED: 1}
    return SourceOutcome(name, fetched, failures)


def source_outcomes(run_stats: Mapping[str, Any], sources: Iterable[str]) -> list[SourceOutcome]:
    """The outcome of each of *sources*, in their order, from a finished crawl's stats."""
    return [source_outcome(run_stats, name) for name in sources]


def crawl_exit_code(finish_reason: str | None, outcomes: Sequence[SourceOutcome]) -> int:
    """0: the crawl finished and every source was fetched; 3: some sources failed; 1: nothing
    was fetched, or the crawl did not finish."""
    if finish_reason != FINISHED or not any(outcome.fetched for outcome in outcomes):
        return UNFINISHED_EXIT
    if any(outcome.failed for outcome in outcomes):
        return PARTIAL_FAILURE_EXIT
    return 0


def summary_line(run_stats: Mapping[str, Any], outcomes: Sequence[SourceOutcome]) -> str:
    """One line for a person: how the crawl ended unless it finished, new and updated articles,
    sources fetched, and each failed source with the class and reason of its failure."""
    finish_reason = run_stats.get(stats.FINISH_REASON)
    if finish_reason == FINISHED:
        ending = ""
    elif finish_reason == SHUTDOWN:
        ending = "stopped before the end (shutdown); "
    else:
        ending = f"did not finish ({finish_reason or 'no finish reason'}); "
    new = stats.read(run_stats, stats.feed_outcome("new"))
    updated = stats.read(run_stats, stats.feed_outcome("updated"))
    fetched = f"{sum(outcome.fetched for outcome in outcomes)}/{len(outcomes)}"
    line = f"neu-news: {ending}{new} new, {updated} updated, {fetched} sources fetched"
    failed = [
        f"{outcome.name} ({outcome.failure_class}: {outcome.reason})"
        for outcome in outcomes
        if outcome.failed
    ]
    return f"{line}; failed: {', '.join(failed)}" if failed else line
