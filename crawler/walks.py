"""Column walks: which list pages and articles a run fetches. Pure policy, no Scrapy.

A column is walked from its first list page along its pager. A full walk (backfill, or a column
whose last walk did not finish) reads every page, requesting all the pages the pager numbers at
once; an incremental walk stops at the first page whose oldest article is known (lists run
newest first), after ``lookback`` more pages. A walk is finished when it met no failure and its
articles are done; until then the next run walks the column in full again. A first list page
that cannot be read, or lists no article, is such a failure.

An incremental walk asks for its first list page with the validators of that page's last 200
(If-None-Match, If-Modified-Since): a 304 says the column is unchanged, and the walk is done.
The validators are kept only when the walk finishes, so that a 304 stands for a column whose
articles are all fetched; a new article that fails for good makes them forgotten, so that the
next run reads the page again and asks for it once more. With lookback pages, the first page is
always read: a 304 would end the walk before them.

An article's columns are all known only once every list page that may list it is read: its
fetch waits for the list pages of its source's group, the sources whose hosts overlap (directly
or through another source: ``crawler.sources.host_groups``). Sources of other hosts cannot
list it, so a group's articles are fetched as soon as its own list pages are read, while other
sites' lists are still being walked: many sites side by side each take about as long as they
would alone.

An article listed in several columns is one record whatever order its list pages arrive in:
its source and column are those of the walk whose source comes first in the sources file (then
the walk whose first page's URL sorts first, for walks of one source, such as the columns a home
page links), and its columns follow the same order. A known article keeps the columns it is known
in, those it is newly listed in appended in that order.

A labelled column whose first list page is gone (404, 410, no article links) is looked for by
its label on the site's home page, once a run: the page found is walked in its place, and once
it lists articles, remembered, so that the next runs start there.
"""

from __future__ import annotations

import enum
import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from crawler import stats
from crawler.extract.columns import site_root
from crawler.extract.listing import ListedArticle, ListPage, numbered_pages
from crawler.extract.selectors import MIN_DISCOVERED_LIST_LINKS
from crawler.extract.urls import canonical_url
from crawler.outcome import CRAWL_STOPPED
from crawler.sources import Source, host_groups
from crawler.store.datadir import Recheck, Validators, conditional_headers
from crawler.store.state import PageValidators, merge_columns

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
    def list_validators(self, key: str) -> PageValidators | None: ...
    def set_list_validators(self, key: str, validators: PageValidators) -> None: ...
    def relocated_column(self, source: str, label: str, configured: str) -> str | None: ...
    def set_relocated_column(self, source: str, label: str, configured: str, url: str) -> None: ...


class Search(enum.Enum):
    """Where a column stands in the search for its list page by its label."""

    NONE = "none"  # not looked for in this run
    HOME = "home"  # its site's home page is being read for the label
    CANDIDATE = "candidate"  # this walk's first page is the one the label led to
    DONE = "done"  # found or not: not looked for again in this run


@dataclass
class Walk:
    """One column's walk through its list pages in this run."""

    url: str  # the first list page, as linked
    key: str  # its canonical URL
    source: Source
    column: str | None
    full: bool  # every page (backfill, or the last walk did not finish)
    lookback: int  # list pages still allowed after the first all-known one
    pages: int = 0
    seen: set[str] = field(default_factory=set)
    failed: bool = False
    enumerated: bool = False  # every page was requested from the pager's numbering at once
    # The labelled column's start URL in the sources file (None: a discovered column). Its
    # walk may start elsewhere: where the column was found when that URL was gone.
    configured: str | None = None
    search: Search = Search.NONE
    relocated_from: str | None = None  # the gone first page this walk replaces
    reached: bool = False  # its first page answered, 200 or 304
    failure: str | None = None  # the reason of the last failure of a request of the walk
    # What its first page's 200 in this run leaves for the next run's conditional request,
    # once the walk finishes (validators none: the old ones forgotten); None: nothing to change.
    validators: PageValidators | None = None


@dataclass(frozen=True)
class Fetch:
    """An article to fetch in the article phase, and the walk that listed it (of several, the
    one whose record it is: see :meth:`Walks.take_pending`)."""

    article: ListedArticle
    walk: Walk


def source_of(cb_kwargs: Mapping[str, Any]) -> Source | None:
    """The source a request of the crawl was made for (None: Scrapy's own, like robots.txt)."""
    walk: Walk | None = cb_kwargs.get("walk")
    source: Source | None = walk.source if walk is not None else cb_kwargs.get("source")
    return source


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
        max_links_per_page: int,
        max_articles: int,
        max_url_length: int,
        sources: Sequence[Source],
    ) -> None:
        self.state = state
        self.count = count
        self.backfill = backfill
        self.lookback_pages = lookback_pages
        self.max_list_pages = max_list_pages
        self.max_links_per_page = max_links_per_page
        self.max_articles = max_articles  # new articles queued in the run
        self.max_url_length = max_url_length
        self.walks: list[Walk] = []
        # Article id -> the walks that listed it in this run, each once.
        self.listed_by: dict[str, list[Walk]] = {}
        # Article id -> the columns a re-checked article is known in, in their stored order.
        self.known_columns: dict[str, list[str]] = {}
        # Source name -> its place in the sources file, which orders the walks listing one
        # article (the order they are read in is timing).
        self.places = {source.name: place for place, source in enumerate(sources)}
        # Source name -> its group (see crawler.sources.host_groups).
        self.groups = {
            source.name: index
            for index, group in enumerate(host_groups(sources))
            for source in group
        }
        # Group -> its new articles held back until every list page of the group is read, so
        # that the walks listing them are all known.
        self.waiting: dict[int, list[ListedArticle]] = {}
        # Group -> the known articles its walks listed under a column, filed under their new
        # columns once the group's list pages are all read, in the walks' order.
        self.known_listed: dict[int, set[str]] = {}
        # Group -> its list phase's requests (list pages, home pages and the pages they link)
        # asked for and not yet done.
        self.unread: Counter[int] = Counter()
        self.queued = 0  # articles ever put in pending (the run's cap counts them)

    def start(self, url: str, source: Source, column: str | None) -> Walk:
        """A new walk of the column whose first list page is *url*."""
        walk = self._walk(url, source, column)
        walk.full = not self._incremental(walk.key)
        self.walks.append(walk)
        return walk

    def _incremental(self, key: str) -> bool:
        """Whether the column whose first list page is *key* is walked incrementally: not in
        a backfill, and its last walk finished."""
        return not self.backfill and self.state.walk_complete(key)

    def conditional_headers(self, walk: Walk) -> dict[str, str]:
        """The headers that make *walk*'s first list page answer 304 when unchanged since its
        last 200: only in an incremental walk without lookback pages (a 304 would end it before
        them), and not for a page a label search led to."""
        found = self.state.list_validators(walk.key)
        if (
            walk.full
            or self.lookback_pages > 0
            or walk.search is not Search.NONE
            or found is None
            or not found.is_list
        ):
            return {}
        return conditional_headers(found.etag, found.last_modified)

    def candidate_headers(self, url: str) -> dict[str, str]:
        """The same for a page a home page links: a column last walked to its end (without
        lookback pages), or a page that was no list."""
        key = canonical_url(url)
        found = None if self.backfill else self.state.list_validators(key)
        if found is None or (
            found.is_list and (self.lookback_pages > 0 or not self.state.walk_complete(key))
        ):
            return {}
        return conditional_headers(found.etag, found.last_modified)

    def was_column(self, url: str) -> bool:
        """Whether the page at *url* was a column's first list page at its last walk's end."""
        found = self.state.list_validators(canonical_url(url))
        return found is not None and found.is_list

    def was_not_a_list(self, url: str) -> bool:
        """Whether the page at *url* was no list at its last 200."""
        found = self.state.list_validators(canonical_url(url))
        return found is not None and not found.is_list

    def not_a_list(self, source: Source, url: str, validators: Validators | None) -> None:
        """A page a home page links is no column's list: counted; the validators of its 200,
        when given, kept to ask the next run whether it changed."""
        self.count(source.name, stats.skipped("not_a_list"), 1)
        if validators is not None:
            self.state.set_list_validators(canonical_url(url), PageValidators(*validators, False))

    def arrived(self, walk: Walk, size: int, validators: Validators) -> None:
        """A list page of *walk* answered 200 with *size* body bytes: the first one's
        validators (none: forgotten) are kept for the next run's conditional request, once the
        walk finishes (kept at once, a kill before its articles are fetched would leave a 304
        that hides them from the next run)."""
        self.count(walk.source.name, stats.LIST_BYTES, size)
        if not walk.reached:
            walk.reached = True
            walk.validators = PageValidators(*validators, True)

    def unreadable(self, walk: Walk) -> None:
        """A list page of *walk* is no HTML, or too big a tree to read: counted; the first one
        fails the walk, so that the next run reads it again rather than trust a 304."""
        self.count(walk.source.name, stats.skipped("unparsable_list"), 1)
        if walk.pages == 0:
            self.fail(walk)

    def article_gone(self, walk: Walk) -> None:
        """A new article *walk* listed failed for good (404, robots.txt…): the first page's
        validators are forgotten, so that the next run reads it and asks for the article once
        more, as it would without conditional requests (a full walk every run would cost far
        more, were the article gone for good)."""
        walk.validators = PageValidators(None, None, True)

    def not_modified(self, walk: Walk) -> None:
        """*walk*'s first list page answered 304: the column is as its last walk, which went
        to its end, left it; nothing more to read."""
        walk.reached = True
        self.count(walk.source.name, stats.LIST_NOT_MODIFIED, 1)
        logger.debug("Column unchanged (304): %s", walk.url)

    def note_failure(self, walk: Walk, reason: str) -> None:
        """A request of *walk* failed for *reason*."""
        walk.failure = reason

    def unreached(self, stopped: bool) -> list[tuple[str, str]]:
        """(source, reason) of each walk whose first list page never answered, its search by
        label included (a walk found by its label stands in for the gone one): the reason of
        its last failure, or, when the crawl was *stopped* before its end, ``crawl_stopped``
        for a walk still waiting for its first answer."""
        unreached = []
        for walk in self.walks:
            reason = walk.failure or (CRAWL_STOPPED if stopped else None)
            if not walk.reached and reason is not None:
                unreached.append((walk.source.name, reason))
        return unreached

    def start_configured(self, url: str, source: Source) -> Walk:
        """The walk of a start URL of *source*: from where its column was found last, if that
        URL was gone then."""
        if source.column is None:
            return self.start(url, source, None)
        found = self.state.relocated_column(source.name, source.column, canonical_url(url))
        walk = self.start(found or url, source, source.column)
        walk.configured = url
        return walk

    def may_search(self, walk: Walk) -> bool:
        """Whether *walk*'s column is to be looked for by its label, its first page being
        gone: a configured column, not looked for yet in this run."""
        return walk.configured is not None and walk.search is Search.NONE and walk.pages == 0

    def search(self, walk: Walk) -> str:
        """The home page to read for *walk*'s label: that of its first page's site."""
        walk.search = Search.HOME
        return site_root(walk.url)

    def relocate(self, walk: Walk, url: str | None) -> Walk | None:
        """The walk of *url*, the page its site's home page links by *walk*'s label, in place
        of *walk*; None when the label led nowhere new."""
        if url is None or canonical_url(url) == walk.key:
            self.not_found(walk)
            return None
        walk.search = Search.DONE
        moved = self._walk(url, walk.source, walk.column)
        # A move does not make the column's history unknown: an incremental walk stays one.
        moved.full = walk.full
        moved.configured = walk.configured
        moved.search = Search.CANDIDATE
        moved.relocated_from = walk.url
        self.walks = [moved if each is walk else each for each in self.walks]
        return moved

    def search_failed(self, walk: Walk) -> None:
        """A page the search for *walk*'s column needed is gone for good: the column is not
        found (nothing happens when no search is under way)."""
        if walk.search in (Search.HOME, Search.CANDIDATE):
            self.not_found(walk)

    def _walk(self, url: str, source: Source, column: str | None) -> Walk:
        """A walk from *url*, full until said otherwise."""
        return Walk(
            url=url,
            key=canonical_url(url),
            source=source,
            column=column,
            full=True,
            lookback=self.lookback_pages,
        )

    def not_found(self, walk: Walk) -> None:
        """The search for *walk*'s column ends without a list page: counted and logged once."""
        walk.search = Search.DONE
        self.count(walk.source.name, stats.COLUMN_NOT_FOUND, 1)
        logger.warning(
            "Column %r of source %s not found: %s is gone and its site's home page links no "
            "list of articles by that label",
            walk.column,
            walk.source.name,
            walk.relocated_from or walk.url,
        )

    def _found(self, walk: Walk, page: ListPage) -> None:
        """The first page of a column found by its label is read: it is the column if it lists
        articles, and then remembered for the next runs."""
        if not page.articles:
            self.not_found(walk)
            return
        walk.search = Search.DONE
        assert walk.column is not None and walk.configured is not None  # set by start_configured
        self.state.set_relocated_column(
            walk.source.name, walk.column, canonical_url(walk.configured), walk.url
        )
        self.count(walk.source.name, stats.RELOCATED, 1)
        logger.warning(
            "Column %r of source %s moved: %s -> %s",
            walk.column,
            walk.source.name,
            walk.relocated_from,
            walk.url,
        )

    def read(self, walk: Walk, page: ListPage, url: str) -> list[str]:
        """Take in one list page of *walk*: queue its new articles; return the list pages to
        request next."""
        name = walk.source.name
        first = walk.pages == 0
        walk.pages += 1
        walk.seen.add(canonical_url(url))
        walk.column = walk.column or page.title
        self.count(name, stats.LIST_PAGES, 1)
        self.count(name, stats.ARTICLE_LINKS, len(page.articles))
        if not page.articles:
            logger.warning("No article links on list page %s", url)
            if first:
                # A layout change, or an empty shell: the column is not read, whatever its
                # 304s would say.
                self.fail(walk)
        listed_here = page.articles[: self.max_links_per_page]
        if len(page.articles) > len(listed_here):
            # Not a failure: the same page would be cut the same way on every run.
            self.count(name, stats.LINK_LIMIT, len(page.articles) - len(listed_here))
            logger.warning(
                "Taking the first %d of %d article links on %s (link limit)",
                len(listed_here),
                len(page.articles),
                url,
            )
        for listed in listed_here:
            self._take(walk, listed)
        if walk.search is Search.CANDIDATE:
            self._found(walk, page)
        if not page.articles or self.state.is_known(page.articles[-1].id):
            # Lists run newest first: once the oldest article of a page is known, the pages
            # after it hold nothing new (past the lookback pages). Pinned items sit on top.
            walk.lookback -= 1
        return self._next_pages(walk, page)

    def recheck(self, rechecks: list[Recheck]) -> None:
        """Known articles fetched again in this run: their records keep the columns they are
        known in."""
        for recheck in rechecks:
            self.known_columns[recheck.id] = list(recheck.columns)

    def columns(self, article_id: str) -> list[str]:
        """The columns of an article's record: those it is known in, then those of the walks
        that listed it in this run, in their order (see :meth:`_place`)."""
        return merge_columns(self.known_columns.get(article_id, []), self._listed_in(article_id))

    def _listed_in(self, article_id: str) -> list[str]:
        """The columns of the walks that listed an article in this run, in their order."""
        listers = sorted(self.listed_by.get(article_id, []), key=self._place)
        return list(dict.fromkeys(walk.column for walk in listers if walk.column))

    def _place(self, walk: Walk) -> tuple[int, str]:
        """Where *walk* stands among the walks listing one article: by its source's place in
        the sources file, then by its first page's URL."""
        return self.places[walk.source.name], walk.key

    def _fetch(self, article: ListedArticle) -> Fetch:
        """The fetch of a new *article*, for the first of the walks that listed it."""
        return Fetch(article, min(self.listed_by[article.id], key=self._place))

    def group(self, source: Source) -> int:
        return self.groups[source.name]

    def reading(self, source: Source) -> None:
        """A request of *source*'s list phase (a list page, a home page or a page it links)
        is asked for."""
        self.unread[self.group(source)] += 1

    def read_done(self, source: Source) -> list[Fetch]:
        """A request of *source*'s list phase is done (read, failed or dropped). When its group
        has no other left, the columns of the group's articles are known: its queued articles
        (see :meth:`take_pending`)."""
        group = self.group(source)
        self.unread[group] -= 1
        if self.unread[group] > 0:
            return []
        return self.take_pending(group)

    @property
    def pending(self) -> list[Fetch]:
        """The articles queued and not handed out yet, group by group, each in listed order."""
        return [self._fetch(article) for articles in self.waiting.values() for article in articles]

    def take_pending(self, group: int | None = None) -> list[Fetch]:
        """The articles the list pages queued (of one *group*, or all), once, each for the
        first of the walks that listed it (see :meth:`_place`), the others' listings counted;
        the known articles they listed filed under their new columns; the walks fetched for
        marked unfinished first: a kill from here on makes the next run walk them in full
        again."""
        groups = [*self.waiting, *self.known_listed] if group is None else [group]
        pending = [
            self._fetch(article) for each in groups for article in self.waiting.pop(each, [])
        ]
        for fetch in pending:
            for walk in self.listed_by[fetch.article.id]:
                if walk is not fetch.walk:
                    self.count(walk.source.name, stats.skipped("listed_again"), 1)
        for article_id in {known for each in groups for known in self.known_listed.pop(each, ())}:
            self.state.add_columns(article_id, self._listed_in(article_id))
        for walk in {id(fetch.walk): fetch.walk for fetch in pending}.values():
            self.state.set_walk_complete(walk.key, False)
        self.state.flush()
        return pending

    def fail(self, walk: Walk) -> None:
        """A page or an article of *walk* is not done: the next run walks the column in full."""
        walk.failed = True
        self.state.set_walk_complete(walk.key, False)

    def finish(self) -> None:
        """Nothing is left to fetch: every walk that met no failure is finished, and keeps its
        first page's validators."""
        for walk in self.walks:
            if not walk.failed:
                self.state.set_walk_complete(walk.key, True)
                if walk.validators is not None:
                    self.state.set_list_validators(walk.key, walk.validators)

    def _take(self, walk: Walk, listed: ListedArticle) -> None:
        name = walk.source.name
        if len(listed.url) > self.max_url_length:
            self.count(name, stats.skipped("url_too_long"), 1)
            return
        # Seen by id, not by its columns: a walk without a label adds none.
        first_sight = listed.id not in self.listed_by
        known = self.state.is_known(listed.id)
        if first_sight and not known and self.queued >= self.max_articles:
            # Before its walks are recorded: past the limit, links cost nothing that lasts.
            self._leave_for_next_run(walk)
            return
        listers = self.listed_by.setdefault(listed.id, [])
        listed_before = any(each is walk for each in listers)
        if not listed_before:
            listers.append(walk)
        if known:
            if walk.column:
                self.known_listed.setdefault(self.group(walk.source), set()).add(listed.id)
            self.count(name, stats.skipped("known"), 1)
        elif listed_before:
            # The same walk again (a pinned article on every page): another walk's listing
            # is counted once the article is handed out, against the walk not fetched for.
            self.count(name, stats.skipped("listed_again"), 1)
        elif first_sight:
            self.queued += 1
            self.waiting.setdefault(self.group(walk.source), []).append(listed)

    def _leave_for_next_run(self, walk: Walk) -> None:
        """A new article past the run's article limit: counted, and its walk left unfinished,
        so that the next run walks it in full and fetches what this one left."""
        self.count(walk.source.name, stats.ARTICLE_LIMIT, 1)
        if not walk.failed:
            self.fail(walk)
            logger.warning(
                "Article limit (%d a run) reached: the rest of %s is left for the next run",
                self.max_articles,
                walk.key,
            )

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
        # One page past the room, to tell a pager cut by the limit from one that fits.
        numbered = (
            numbered_pages(page.next_url, page.last_url, room + 1)
            if walk.full and page.last_url
            else []
        )
        walk.enumerated = bool(numbered)
        urls = numbered or [page.next_url]
        if len(urls) > room:
            self.count(walk.source.name, stats.skipped("page_limit"), 1)
            logger.warning("Stopping %s at %d list pages (page limit)", walk.key, limit)
        return urls[: max(room, 0)]
