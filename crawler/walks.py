"""Column walks: which list pages and articles a run fetches. Pure policy, no Scrapy.

A column is walked from its first list page along its pager. A full walk (backfill, or a column
whose last walk did not finish) reads every page, requesting all the pages the pager numbers at
once; an incremental walk stops at the first page whose oldest article is known (lists run
newest first), after ``lookback`` more pages. A walk is finished when it met no failure and its
articles are done; until then the next run walks the column in full again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from crawler import stats
from crawler.extract.listing import ListedArticle, ListPage, numbered_pages
from crawler.extract.selectors import MIN_DISCOVERED_LIST_LINKS
from crawler.extract.urls import canonical_url
from crawler.sources import Source
from crawler.store.datadir import Recheck

logger = logging.getLogger(__name__)

# Counts one stats key for a source: (source name, key, amount).
CountFn = Callable[[str, str, int], None]


class WalkState(Protocol):
    """What walking needs of the data directory (``Store``, or ``NullStore`` without one)."""

    def is_known(self, article_id: str) -> bool: ...
    def add_columns(self, article_id: str, columns: list[str]) -> None: ...
    def walk_complete(self, key: str) -> bool: ...
    def set_walk_complete(self, key: str, complete: bool) -> None: ...
    def flush(self) -> None: ...
    def rechecks(self, first_seen_after: str) -> list[Recheck]: ...


@dataclass
class Walk:
    """One column's walk through its list pages in this run."""

    key: str  # canonical URL of the first list page
    source: Source
    column: str | None
    full: bool  # every page (backfill, or the last walk did not finish)
    lookback: int  # list pages still allowed after the first all-known one
    pages: int = 0
    seen: set[str] = field(default_factory=set)
    failed: bool = False
    enumerated: bool = False  # every page was requested from the pager's numbering at once


@dataclass(frozen=True)
class Fetch:
    """An article to fetch in the article phase, and the walk that listed it."""

    article: ListedArticle
    walk: Walk


def is_column(page: ListPage) -> bool:
    """Whether a page linked from a home page is a column's list: it has a pager, or lists
    enough articles."""
    return page.has_pager or len(page.articles) >= MIN_DISCOVERED_LIST_LINKS


class Walks:
    """The run's column walks, the articles they listed, and each article's columns."""

    def __init__(
        self,
        state: WalkState,
        count: CountFn,
        *,
        backfill: bool,
        lookback_pages: int,
        max_list_pages: int,
        max_url_length: int,
    ) -> None:
        self.state = state
        self.count = count
        self.backfill = backfill
        self.lookback_pages = lookback_pages
        self.max_list_pages = max_list_pages
        self.max_url_length = max_url_length
        self.walks: list[Walk] = []
        # id -> labels of the columns listing it, in the order they were seen.
        self.columns_of: dict[str, list[str]] = {}
        # Articles held back until every list page is read, so their columns are all known.
        self.pending: list[Fetch] = []

    def start(self, url: str, source: Source, column: str | None) -> Walk:
        """A new walk of the column whose first list page is *url*."""
        key = canonical_url(url)
        walk = Walk(
            key=key,
            source=source,
            column=column,
            full=self.backfill or not self.state.walk_complete(key),
            lookback=self.lookback_pages,
        )
        self.walks.append(walk)
        return walk

    def read(self, walk: Walk, page: ListPage, url: str) -> list[str]:
        """Take in one list page of *walk*: queue its new articles; return the list pages to
        request next."""
        name = walk.source.name
        walk.pages += 1
        walk.seen.add(canonical_url(url))
        walk.column = walk.column or page.title
        self.count(name, stats.LIST_PAGES, 1)
        self.count(name, stats.ARTICLE_LINKS, len(page.articles))
        if not page.articles:
            logger.warning("No article links on list page %s", url)
        for listed in page.articles:
            self._take(walk, listed)
        if not page.articles or self.state.is_known(page.articles[-1].id):
            # Lists run newest first: once the oldest article of a page is known, the pages
            # after it hold nothing new (past the lookback pages). Pinned items sit on top.
            walk.lookback -= 1
        return self._next_pages(walk, page)

    def rechecks(self, since: datetime, sources: frozenset[str]) -> list[Recheck]:
        """The known articles of *sources* first seen since then, to fetch again (their
        records keep the columns they are known in)."""
        found = [
            recheck
            for recheck in self.state.rechecks(since.replace(microsecond=0).isoformat())
            if recheck.source in sources
        ]
        for recheck in found:
            self.columns_of[recheck.id] = list(recheck.columns)
        return found

    def columns(self, article_id: str) -> list[str]:
        return self.columns_of.get(article_id, [])

    def take_pending(self) -> list[Fetch]:
        """The articles the list pages queued, once, marking their walks unfinished first: a
        kill from here on makes the next run walk them in full again."""
        pending, self.pending = self.pending, []
        for walk in {id(fetch.walk): fetch.walk for fetch in pending}.values():
            self.state.set_walk_complete(walk.key, False)
        self.state.flush()
        return pending

    def fail(self, walk: Walk) -> None:
        """A page or an article of *walk* is not done: the next run walks the column in full."""
        walk.failed = True
        self.state.set_walk_complete(walk.key, False)

    def finish(self) -> None:
        """Nothing is left to fetch: every walk that met no failure is finished."""
        for walk in self.walks:
            if not walk.failed:
                self.state.set_walk_complete(walk.key, True)

    def _take(self, walk: Walk, listed: ListedArticle) -> None:
        name = walk.source.name
        if len(listed.url) > self.max_url_length:
            self.count(name, stats.skipped("url_too_long"), 1)
            return
        # Seen by id, not by its columns: a walk without a label adds none.
        first_sight = listed.id not in self.columns_of
        columns = self.columns_of.setdefault(listed.id, [])
        if walk.column and walk.column not in columns:
            columns.append(walk.column)
        if self.state.is_known(listed.id):
            if walk.column:
                self.state.add_columns(listed.id, [walk.column])
            self.count(name, stats.skipped("known"), 1)
        elif not first_sight:
            self.count(name, stats.skipped("listed_again"), 1)
        else:
            self.pending.append(Fetch(listed, walk))

    def _next_pages(self, walk: Walk, page: ListPage) -> list[str]:
        """The next page, or in a full walk every page the pager numbers (fetched side by side
        rather than one after another), within the page limit."""
        if not page.next_url or walk.enumerated or not (walk.full or walk.lookback >= 0):
            return []
        if canonical_url(page.next_url) in walk.seen:
            self.count(walk.source.name, stats.skipped("pager_loop"), 1)
            return []
        limit = min(walk.source.max_pages or self.max_list_pages, self.max_list_pages)
        room = limit - walk.pages
        numbered = (
            numbered_pages(page.next_url, page.last_url) if walk.full and page.last_url else []
        )
        walk.enumerated = bool(numbered)
        urls = numbered or [page.next_url]
        if len(urls) > room:
            self.count(walk.source.name, stats.skipped("page_limit"), 1)
            logger.warning("Stopping %s at %d list pages (page limit)", walk.key, limit)
        return urls[: max(room, 0)]
