"""The crawl's stats keys, named in one place: the crawl counts them, the scheduler reads them.

Every key exists twice: ``neu/<key>`` for the whole run and ``neu/source/<name>/<key>`` for one
source. Stdlib only, so the scheduler can read a stats file without loading Scrapy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

PREFIX = "neu"

# Per-source counters the scheduler's health checks read.
LIST_PAGES = "list_pages"
ARTICLE_LINKS = "article_links"
ARTICLES = "articles"  # article pages parsed
NEW = "new"
UPDATED = "updated"
COLUMNS_DISCOVERED = "columns_discovered"
NO_CONTAINER = "extract/no_container"
RECHECK_REQUESTS = "recheck/requests"
RECHECK_NOT_MODIFIED = "recheck/not_modified"
# A re-check that failed for good (404, 410, robots.txt…): its due steps are done, not asked for
# on every run.
RECHECK_GONE = "recheck/gone"
# A column's first list page answered 304 to its validators: the column is unchanged.
LIST_NOT_MODIFIED = "list/not_modified"
# Body bytes of the list pages read (a 304 has none).
LIST_BYTES = "list/bytes"
# A column's configured list page was gone (404, 410, no article links) and its label led to
# the new one on the site's home page; or the label led nowhere.
RELOCATED = "relocated"
COLUMN_NOT_FOUND = "column_not_found"


# The article fields whose absence is counted (``missing/<field>``), judged by the health check.
COUNTED_FIELDS = ("title", "published", "text")

# Scrapy's own keys that the scheduler reads.
FINISH_REASON = "finish_reason"
RESPONSES = "downloader/response_count"
EXCEPTION_PREFIX = "downloader/exception_type_count/"
STATUS_PREFIX = "downloader/response_status_count/"
LOG_ERRORS = "log_count/ERROR"
RETRIES = "retry/count"


def missing(field: str) -> str:
    """Articles parsed without *field* (``title``, ``published``, ``text``)."""
    return f"missing/{field}"


def skipped(reason: str) -> str:
    """A link or page not followed or not parsed, by reason (``known``, ``offsite``…).

    ``offsite``: a request (a redirect's included) to a host that no source may crawl;
    ``offsite_link``: an article link on a list page to a host its source may not follow."""
    return f"skipped/{reason}"


# What a site's claims may cost is capped (counted when a cap is hit): article links past
# NEU_MAX_LINKS_PER_PAGE on one list page, new articles past NEU_MAX_ARTICLES_PER_RUN in the run
# (their column is walked in full again next run), pages of more than NEU_MAX_PAGE_TAGS tags
# (not parsed).
LINK_LIMIT = skipped("link_limit")
ARTICLE_LIMIT = skipped("article_limit")
TOO_MANY_TAGS = skipped("too_many_tags")
# Re-checks due past the run's NEU_RECHECK_BUDGET: left due for the next run.
RECHECK_DEFERRED = skipped("recheck_budget")
# Scrapy's finish reason of a crawl stopped by a MemoryError: it did not finish.
OUT_OF_MEMORY = "out_of_memory"


def failed(reason: str) -> str:
    """A request that failed, by reason (``http_503``, ``too_large``, ``TimeoutError``…)."""
    return f"failed/{reason}"


def unreached(reason: str) -> str:
    """A column (or home page) of a source that the run could not fetch at all, by the reason
    of its last failure (``DNSLookupError``, ``http_404``, ``robots_txt``…): counted once per
    column, after any search for it by its label."""
    return f"unreached/{reason}"


def dropped(reason: str) -> str:
    """A record the feed did not take, by reason (``duplicate_url``, ``write_failed``…)."""
    return f"dropped/{reason}"


def feed_outcome(outcome: str) -> str:
    """Records the feed took, by outcome (``new``, ``updated``), over the whole run."""
    return f"articles/{outcome}"


def total(key: str) -> str:
    """The run-wide stats key of *key*."""
    return f"{PREFIX}/{key}"


def of_source(source: str, key: str) -> str:
    """The stats key of *key* for one source."""
    return f"{PREFIX}/source/{source}/{key}"


class Counter(Protocol):
    """What counting needs of Scrapy's stats collector."""

    def inc_value(self, key: str, count: int = 1, start: int = 0) -> None: ...


def count(stats: Counter, source: str, key: str, amount: int = 1) -> None:
    """Count *amount* of *key* for the run and for *source*."""
    stats.inc_value(total(key), amount)
    stats.inc_value(of_source(source, key), amount)


def read(stats: Mapping[str, Any], key: str, source: str | None = None) -> int:
    """A counter from a finished crawl's stats (0 when absent): run-wide, or one source's."""
    return int(stats.get(total(key) if source is None else of_source(source, key), 0))
