"""The column-walk policy of ``crawler.walks``, against a dict-backed ``WalkState``.

Pure unit tests: no Scrapy, no data directory. List pages are built as ``ListPage`` values, as
``crawler.extract.listing.parse_list`` would return them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from crawler import stats
from crawler.extract.listing import ListedArticle, ListPage
from crawler.extract.urls import canonical_id, canonical_url
from crawler.sources import Source, host_groups
from crawler.store.datadir import Recheck
from crawler.store.state import PageValidators
from crawler.walks import Search, Walk, Walks

BASE = "https://neunews.neu.edu.cn"
FIRST = f"{BASE}/ddyw.htm"
COLUMN = "东大要闻"
SOURCE = Source(name="neunews-ddyw", start_urls=(FIRST,), language="zh", column=COLUMN)
OTHER = Source(name="neunews-mtdd", start_urls=(f"{BASE}/mtdd.htm",), language="zh")


@dataclass
class DictState:
    """A ``WalkState`` in dicts, recording the order of what the walks ask of it."""

    known: set[str] = field(default_factory=set)
    complete: dict[str, bool] = field(default_factory=dict)
    columns: dict[str, list[str]] = field(default_factory=dict)
    validators: dict[str, PageValidators] = field(default_factory=dict)
    events: list[tuple[str, str, bool] | tuple[str]] = field(default_factory=list)
    # (source, label, canonical configured URL) -> where the column was found
    relocated: dict[tuple[str, str, str], str] = field(default_factory=dict)

    def is_known(self, article_id: str) -> bool:
        return article_id in self.known

    def add_columns(self, article_id: str, columns: list[str]) -> None:
        held = self.columns.setdefault(article_id, [])
        held.extend(column for column in columns if column not in held)

    def walk_complete(self, key: str) -> bool:
        return self.complete.get(key, False)

    def set_walk_complete(self, key: str, complete: bool) -> None:
        self.complete[key] = complete
        self.events.append(("set", key, complete))

    def flush(self) -> None:
        self.events.append(("flush",))

    def list_validators(self, key: str) -> PageValidators | None:
        return self.validators.get(key)

    def set_list_validators(self, key: str, validators: PageValidators) -> None:
        self.validators[key] = validators

    def relocated_column(self, source: str, label: str, configured: str) -> str | None:
        return self.relocated.get((source, label, configured))

    def set_relocated_column(self, source: str, label: str, configured: str, url: str) -> None:
        self.relocated[(source, label, configured)] = url


class Counts:
    """The walks' ``CountFn``: (source, key) -> amount."""

    def __init__(self) -> None:
        self.by_key: Counter[tuple[str, str]] = Counter()

    def __call__(self, source: str, key: str, amount: int) -> None:
        self.by_key[(source, key)] += amount

    def __getitem__(self, source_and_key: tuple[str, str]) -> int:
        return self.by_key[source_and_key]


def listed(number: int, base: str = BASE) -> ListedArticle:
    url = f"{base}/info/1002/{number}.htm"
    canonical = canonical_url(url)
    return ListedArticle(url, canonical, canonical_id(canonical))


def vsb_page(number: int) -> str:
    """VSB numbers a column's later pages down to 1: ddyw/9.htm … ddyw/1.htm."""
    return f"{BASE}/ddyw/{number}.htm"


def list_page(
    numbers: list[int],
    next_url: str | None = None,
    last_url: str | None = None,
    title: str | None = COLUMN,
) -> ListPage:
    return ListPage(
        articles=[listed(number) for number in numbers],
        next_url=next_url,
        last_url=last_url,
        has_pager=next_url is not None,
        title=title,
    )


def make_walks(
    state: DictState,
    counts: Counts,
    *,
    backfill: bool = False,
    lookback_pages: int = 0,
    max_list_pages: int = 1000,
    max_links_per_page: int = 1000,
    max_articles: int = 100_000,
    max_url_length: int = 2083,
    sources: Sequence[Source] = (SOURCE, OTHER),
) -> Walks:
    return Walks(
        state,
        counts,
        backfill=backfill,
        lookback_pages=lookback_pages,
        max_list_pages=max_list_pages,
        max_links_per_page=max_links_per_page,
        max_articles=max_articles,
        max_url_length=max_url_length,
        sources=sources,
    )


def incremental(state: DictState, counts: Counts, lookback_pages: int = 0) -> tuple[Walks, Walk]:
    """Walks and an incremental walk of SOURCE (its last walk finished)."""
    state.complete[canonical_url(FIRST)] = True
    walks = make_walks(state, counts, lookback_pages=lookback_pages)
    walk = walks.start(FIRST, SOURCE, COLUMN)
    assert not walk.full
    return walks, walk


# -- full or incremental --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("backfill", "last_walk_complete", "full"),
    [(True, True, True), (True, False, True), (False, False, True), (False, True, False)],
)
def test_walk_is_full_in_backfill_or_when_the_last_walk_did_not_finish(
    backfill: bool, last_walk_complete: bool, full: bool
) -> None:
    state = DictState(complete={canonical_url(FIRST): last_walk_complete})
    walks = make_walks(state, Counts(), backfill=backfill, lookback_pages=3)
    walk = walks.start(FIRST, SOURCE, COLUMN)
    assert walk.full is full
    assert walk.lookback == 3
    assert walks.walks == [walk]


def test_walk_is_keyed_by_the_canonical_url_of_its_first_page() -> None:
    state = DictState(complete={canonical_url(FIRST): True})
    walk = make_walks(state, Counts()).start(f"{FIRST}#main", SOURCE, COLUMN)
    assert walk.key == canonical_url(FIRST)
    assert not walk.full  # the state was asked under the canonical key


def test_reading_a_page_counts_it_and_queues_its_new_articles() -> None:
    state, counts = DictState(), Counts()
    walks, walk = incremental(state, counts)
    walks.read(walk, list_page([3, 2, 1]), FIRST)
    assert walk.pages == 1
    assert counts[(SOURCE.name, stats.LIST_PAGES)] == 1
    assert counts[(SOURCE.name, stats.ARTICLE_LINKS)] == 3
    assert [fetch.article for fetch in walks.pending] == [listed(3), listed(2), listed(1)]
    assert all(fetch.walk is walk for fetch in walks.pending)
    assert walks.columns(listed(2).id) == [COLUMN]


# -- incremental walks: stop at the first page whose oldest article is known ----------------------


def test_incremental_walk_reads_on_while_the_oldest_article_is_new() -> None:
    state, counts = DictState(known={listed(1).id}), Counts()
    walks, walk = incremental(state, counts)
    assert walks.read(walk, list_page([3, 2], next_url=vsb_page(9)), FIRST) == [vsb_page(9)]


def test_incremental_walk_stops_at_the_first_page_whose_oldest_article_is_known() -> None:
    state, counts = DictState(known={listed(1).id}), Counts()
    walks, walk = incremental(state, counts)
    page = list_page([3, 2, 1], next_url=vsb_page(9), last_url=vsb_page(1))
    assert walks.read(walk, page, FIRST) == []
    # The newer articles above the known one are still fetched.
    assert [fetch.article for fetch in walks.pending] == [listed(3), listed(2)]
    assert counts[(SOURCE.name, stats.skipped("known"))] == 1


def test_known_pinned_article_on_top_does_not_stop_an_incremental_walk() -> None:
    state, counts = DictState(known={listed(99).id}), Counts()
    walks, walk = incremental(state, counts)
    assert walks.read(walk, list_page([99, 3, 2], next_url=vsb_page(9)), FIRST) == [vsb_page(9)]


def test_lookback_pages_are_read_past_the_first_all_known_page() -> None:
    state, counts = DictState(known={listed(n).id for n in range(1, 10)}), Counts()
    walks, walk = incremental(state, counts, lookback_pages=2)
    assert walks.read(walk, list_page([9, 8], next_url=vsb_page(4)), FIRST) == [vsb_page(4)]
    assert walks.read(walk, list_page([7, 6], next_url=vsb_page(3)), vsb_page(4)) == [vsb_page(3)]
    assert walks.read(walk, list_page([5, 4], next_url=vsb_page(2)), vsb_page(3)) == []
    assert walks.pending == []


def test_page_without_article_links_ends_an_incremental_walk_but_not_a_full_one() -> None:
    state, counts = DictState(), Counts()
    walks, walk = incremental(state, counts)
    assert walks.read(walk, list_page([], next_url=vsb_page(9)), FIRST) == []
    assert counts[(SOURCE.name, stats.ARTICLE_LINKS)] == 0
    full_walks = make_walks(DictState(), Counts())
    full = full_walks.start(FIRST, SOURCE, COLUMN)
    assert full.full
    assert full_walks.read(full, list_page([], next_url=vsb_page(9)), FIRST) == [vsb_page(9)]


# -- full walks: every page, all the pager numbers at once ----------------------------------------


def test_full_walk_reads_past_known_pages() -> None:
    state, counts = DictState(known={listed(n).id for n in range(1, 4)}), Counts()
    walks = make_walks(state, counts, backfill=True)
    walk = walks.start(FIRST, SOURCE, COLUMN)
    assert walks.read(walk, list_page([3, 2, 1], next_url=vsb_page(9)), FIRST) == [vsb_page(9)]
    assert walks.pending == []
    assert counts[(SOURCE.name, stats.skipped("known"))] == 3


def test_full_walk_requests_every_numbered_page_at_once_from_the_first_page() -> None:
    walks = make_walks(DictState(), Counts(), backfill=True)
    walk = walks.start(FIRST, SOURCE, COLUMN)
    first = list_page([30, 29], next_url=vsb_page(9), last_url=vsb_page(1))
    assert walks.read(walk, first, FIRST) == [vsb_page(n) for n in range(9, 0, -1)]
    assert walk.enumerated
    # The numbered pages have pagers of their own; they add nothing.
    later = list_page([28, 27], next_url=vsb_page(8), last_url=vsb_page(1))
    assert walks.read(walk, later, vsb_page(9)) == []
    assert walk.pages == 2


def test_full_walk_enumerates_a_pager_counting_up() -> None:
    first_url = f"{BASE}/xyfc/list.htm"
    walks = make_walks(DictState(), Counts(), backfill=True)
    walk = walks.start(first_url, SOURCE, COLUMN)
    page = list_page([5], next_url=f"{BASE}/xyfc/list2.htm", last_url=f"{BASE}/xyfc/list5.htm")
    assert walks.read(walk, page, first_url) == [f"{BASE}/xyfc/list{n}.htm" for n in range(2, 6)]


def test_full_walk_goes_page_by_page_when_the_pager_numbers_nothing() -> None:
    walks = make_walks(DictState(), Counts(), backfill=True)
    walk = walks.start(FIRST, SOURCE, COLUMN)
    page = list_page([3], next_url=vsb_page(9), last_url=f"{BASE}/ddyw.jsp?page=1")
    assert walks.read(walk, page, FIRST) == [vsb_page(9)]
    assert not walk.enumerated
    assert walks.read(walk, list_page([2], next_url=vsb_page(8)), vsb_page(9)) == [vsb_page(8)]


def test_incremental_walk_does_not_enumerate_the_pager() -> None:
    state, counts = DictState(), Counts()
    walks, walk = incremental(state, counts)
    page = list_page([3, 2], next_url=vsb_page(9), last_url=vsb_page(1))
    assert walks.read(walk, page, FIRST) == [vsb_page(9)]
    assert not walk.enumerated


# -- page limits and loops --------------------------------------------------------------------------


def test_page_limit_cuts_the_enumerated_pages() -> None:
    counts = Counts()
    walks = make_walks(DictState(), counts, backfill=True, max_list_pages=4)
    walk = walks.start(FIRST, SOURCE, COLUMN)
    page = list_page([3], next_url=vsb_page(9), last_url=vsb_page(1))
    assert walks.read(walk, page, FIRST) == [vsb_page(9), vsb_page(8), vsb_page(7)]
    assert counts[(SOURCE.name, stats.skipped("page_limit"))] == 1


def test_a_pager_claiming_a_billion_pages_costs_the_page_limit_not_the_claim() -> None:
    counts = Counts()
    walks = make_walks(DictState(), counts, backfill=True, max_list_pages=1000)
    walk = walks.start(FIRST, SOURCE, COLUMN)
    page = list_page([3], next_url=vsb_page(999_999_999), last_url=vsb_page(1))
    pages = walks.read(walk, page, FIRST)
    assert pages == [vsb_page(n) for n in range(999_999_999, 999_999_000, -1)]
    assert walk.enumerated
    assert counts[(SOURCE.name, stats.skipped("page_limit"))] == 1


@pytest.mark.parametrize(
    ("source_max", "global_max", "pages"), [(None, 3, 3), (2, 5, 2), (8, 3, 3), (5, 1000, 5)]
)
def test_page_limit_is_the_tighter_of_the_setting_and_the_source(
    source_max: int | None, global_max: int, pages: int
) -> None:
    source = Source(name="neunews-ddyw", start_urls=(FIRST,), language="zh", max_pages=source_max)
    walks = make_walks(DictState(), Counts(), backfill=True, max_list_pages=global_max)
    walk = walks.start(FIRST, source, COLUMN)
    page = list_page([3], next_url=vsb_page(9), last_url=vsb_page(1))
    assert len(walks.read(walk, page, FIRST)) == pages - 1


def test_page_limit_stops_a_page_by_page_walk() -> None:
    counts = Counts()
    walks = make_walks(DictState(), counts, backfill=True, max_list_pages=2)
    walk = walks.start(FIRST, SOURCE, COLUMN)
    assert walks.read(walk, list_page([3], next_url=vsb_page(9)), FIRST) == [vsb_page(9)]
    assert counts[(SOURCE.name, stats.skipped("page_limit"))] == 0
    assert walks.read(walk, list_page([2], next_url=vsb_page(8)), vsb_page(9)) == []
    assert counts[(SOURCE.name, stats.skipped("page_limit"))] == 1


def test_pager_loop_is_counted_and_ends_the_walk() -> None:
    counts = Counts()
    walks = make_walks(DictState(), counts, backfill=True)
    walk = walks.start(FIRST, SOURCE, COLUMN)
    assert walks.read(walk, list_page([3], next_url=vsb_page(9)), FIRST) == [vsb_page(9)]
    # Page 9's "next" leads back to the first page (spelt differently).
    assert walks.read(walk, list_page([2], next_url=f"{FIRST}#top"), vsb_page(9)) == []
    assert counts[(SOURCE.name, stats.skipped("pager_loop"))] == 1


# -- articles --------------------------------------------------------------------------------------


def test_article_url_longer_than_the_limit_is_skipped_and_counted() -> None:
    counts = Counts()
    walks = make_walks(DictState(), counts, backfill=True, max_url_length=60)
    walk = walks.start(FIRST, SOURCE, COLUMN)
    long_one = listed(1, base=f"{BASE}/{'x' * 40}")
    page = ListPage([listed(2), long_one], None, None, has_pager=False, title=None)
    walks.read(walk, page, FIRST)
    assert [fetch.article for fetch in walks.pending] == [listed(2)]
    assert counts[(SOURCE.name, stats.skipped("url_too_long"))] == 1
    assert walks.columns(long_one.id) == []


def test_known_article_is_not_fetched_but_is_filed_under_the_column() -> None:
    state, counts = DictState(known={listed(5).id}), Counts()
    walks = make_walks(state, counts, backfill=True)
    walks.read(walks.start(FIRST, SOURCE, COLUMN), list_page([6, 5]), FIRST)
    assert [fetch.article for fetch in walks.pending] == [listed(6)]
    assert state.columns == {}  # filed once its group's list pages are all read
    walks.take_pending()
    assert state.columns == {listed(5).id: [COLUMN]}


def test_article_listed_in_two_columns_is_fetched_once_and_names_both() -> None:
    counts = Counts()
    walks = make_walks(DictState(), counts, backfill=True)
    first = walks.start(FIRST, SOURCE, COLUMN)
    second = walks.start(OTHER.start_urls[0], OTHER, "媒体东大")
    walks.read(first, list_page([7, 6]), FIRST)
    walks.read(second, list_page([6]), OTHER.start_urls[0])
    assert [(fetch.article, fetch.walk) for fetch in walks.take_pending()] == [
        (listed(7), first),
        (listed(6), first),
    ]
    assert walks.columns(listed(6).id) == [COLUMN, "媒体东大"]
    assert counts[(OTHER.name, stats.skipped("listed_again"))] == 1


MTDD_COLUMN = "媒体东大"


def test_an_article_in_two_columns_is_the_first_sources_whatever_column_is_read_first() -> None:
    counts = Counts()
    walks = make_walks(DictState(), counts, backfill=True)  # SOURCE before OTHER in the file
    ddyw = walks.start(FIRST, SOURCE, COLUMN)
    mtdd = walks.start(OTHER.start_urls[0], OTHER, MTDD_COLUMN)
    walks.read(mtdd, list_page([6, 5], title=MTDD_COLUMN), mtdd.url)
    walks.read(ddyw, list_page([7, 6]), FIRST)
    assert [(fetch.article, fetch.walk) for fetch in walks.take_pending()] == [
        (listed(6), ddyw),
        (listed(5), mtdd),
        (listed(7), ddyw),
    ]
    assert walks.columns(listed(6).id) == [COLUMN, MTDD_COLUMN]
    # The listing dropped is the one of the walk not fetched for.
    assert counts[(OTHER.name, stats.skipped("listed_again"))] == 1
    assert counts[(SOURCE.name, stats.skipped("listed_again"))] == 0


def test_columns_of_one_source_are_ordered_by_their_first_pages_url() -> None:
    walks = make_walks(DictState(), Counts(), backfill=True)
    later = walks.start(f"{BASE}/xsky.htm", SOURCE, "学术科研")
    earlier = walks.start(f"{BASE}/dxwh.htm", SOURCE, "大学文化")
    walks.read(later, list_page([3]), later.url)
    walks.read(earlier, list_page([3]), earlier.url)
    [fetch] = walks.take_pending()
    assert fetch.walk is earlier
    assert walks.columns(listed(3).id) == ["大学文化", "学术科研"]


def test_known_articles_newly_listed_in_two_columns_append_them_in_the_sources_order() -> None:
    old = ["旧栏目"]
    state = DictState(known={listed(4).id, listed(3).id})
    state.columns = {listed(4).id: list(old), listed(3).id: list(old)}
    walks = make_walks(state, Counts(), backfill=True)
    walks.recheck([Recheck(listed(3).id, listed(3).url, OTHER.name, old, {}, 0, 0)])
    ddyw = walks.start(FIRST, SOURCE, COLUMN)
    mtdd = walks.start(OTHER.start_urls[0], OTHER, MTDD_COLUMN)
    walks.read(mtdd, list_page([4, 3], title=MTDD_COLUMN), mtdd.url)
    walks.read(ddyw, list_page([4, 3]), FIRST)
    assert walks.take_pending() == []
    assert state.columns == {
        listed(4).id: [*old, COLUMN, MTDD_COLUMN],
        listed(3).id: [*old, COLUMN, MTDD_COLUMN],
    }
    # A re-checked one's record: its stored columns, then this run's in the same order.
    assert walks.columns(listed(3).id) == [*old, COLUMN, MTDD_COLUMN]


def test_walk_without_a_column_label_takes_the_page_title() -> None:
    walks = make_walks(DictState(), Counts(), backfill=True)
    walk = walks.start(FIRST, SOURCE, None)
    walks.read(walk, list_page([1], title="学术科研"), FIRST)
    assert walk.column == "学术科研"
    assert walks.columns(listed(1).id) == ["学术科研"]


def test_article_listed_twice_by_unlabelled_walks_is_queued_once() -> None:
    walks = make_walks(DictState(), Counts(), backfill=True)
    first = walks.start(FIRST, SOURCE, None)
    second = walks.start(OTHER.start_urls[0], OTHER, None)
    walks.read(first, list_page([6], title=None), FIRST)
    walks.read(second, list_page([6], title=None), OTHER.start_urls[0])
    assert [fetch.article for fetch in walks.pending] == [listed(6)]


# -- the article phase, and when a walk is finished ----------------------------------------------


def test_take_pending_marks_walks_unfinished_then_flushes_and_hands_out_once() -> None:
    state, counts = DictState(complete={canonical_url(FIRST): True}), Counts()
    walks = make_walks(state, counts)
    busy = walks.start(FIRST, SOURCE, COLUMN)
    idle = walks.start(OTHER.start_urls[0], OTHER, "媒体东大")
    state.known.add(listed(1).id)
    walks.read(busy, list_page([3, 2]), FIRST)
    walks.read(idle, list_page([1]), OTHER.start_urls[0])

    taken = walks.take_pending()

    assert [fetch.article for fetch in taken] == [listed(3), listed(2)]
    # Marked unfinished before anything else can happen, and made durable.
    assert state.events == [("set", busy.key, False), ("flush",)]
    assert state.complete[busy.key] is False
    assert idle.key not in state.complete
    assert walks.take_pending() == []
    assert state.events[2:] == [("flush",)]


def test_fail_marks_the_walk_unfinished_and_finish_completes_the_others() -> None:
    state = DictState()
    walks = make_walks(state, Counts())
    failed = walks.start(FIRST, SOURCE, COLUMN)
    done = walks.start(OTHER.start_urls[0], OTHER, "媒体东大")

    walks.fail(failed)
    assert failed.failed
    assert state.events == [("set", failed.key, False)]

    walks.finish()
    assert state.complete == {failed.key: False, done.key: True}
    assert not done.failed


def test_rechecked_articles_keep_their_known_columns() -> None:
    recheck = Recheck("a" * 16, f"{BASE}/info/1002/1.htm", SOURCE.name, [COLUMN], {}, 0, 0)
    walks = make_walks(DictState(), Counts())
    walks.recheck([recheck])
    assert walks.columns(recheck.id) == [COLUMN]
    assert walks.columns("b" * 16) == []


# -- conditional first list pages ------------------------------------------------------------------

ETAG, MODIFIED = '"v1"', "Tue, 01 Sep 2026 01:00:00 GMT"
CONDITIONAL = {"If-None-Match": ETAG, "If-Modified-Since": MODIFIED}


def test_first_list_page_validators_are_kept_from_its_200_only_once_the_walk_finishes() -> None:
    state, counts = DictState(), Counts()
    walks = make_walks(state, counts, backfill=True)
    walk = walks.start(FIRST, SOURCE, COLUMN)
    walks.arrived(walk, 1200, (ETAG, MODIFIED))
    walks.read(walk, list_page([3, 2], next_url=vsb_page(9)), FIRST)
    walks.arrived(walk, 800, ('"page-9"', None))  # a later page: its validators are not kept
    assert walk.reached
    assert counts[(SOURCE.name, stats.LIST_BYTES)] == 2000
    walks.take_pending()
    # Its articles are not fetched yet: a kill now must not leave a 304 to hide them.
    assert state.validators == {}
    walks.finish()
    assert state.validators == {walk.key: PageValidators(ETAG, MODIFIED, True)}


def test_a_walk_that_did_not_finish_keeps_the_old_validators() -> None:
    old = PageValidators('"v0"', None, True)
    state = DictState(validators={canonical_url(FIRST): old})
    walks, walk = incremental(state, Counts())
    walks.arrived(walk, 10, (ETAG, MODIFIED))
    walks.read(walk, list_page([3, 2]), FIRST)
    walks.fail(walk)
    walks.finish()
    assert state.validators == {walk.key: old}


def test_a_first_page_without_validators_forgets_the_old_ones() -> None:
    state = DictState(validators={canonical_url(FIRST): PageValidators(ETAG, None, True)})
    walks = make_walks(state, Counts())
    walks.arrived(walks.start(FIRST, SOURCE, COLUMN), 10, (None, None))
    walks.finish()
    assert state.validators == {canonical_url(FIRST): PageValidators(None, None, True)}


def test_a_new_article_gone_for_good_forgets_the_validators_only() -> None:
    state = DictState(validators={canonical_url(FIRST): PageValidators('"v0"', None, True)})
    walks, walk = incremental(state, Counts())
    walks.arrived(walk, 10, (ETAG, MODIFIED))
    walks.read(walk, list_page([3, 2]), FIRST)
    walks.take_pending()
    walks.article_gone(walk)
    walks.finish()
    # The next run reads the first page (one page, not the whole column) and asks again.
    assert state.validators == {walk.key: PageValidators(None, None, True)}
    assert state.complete[walk.key] is True
    assert make_walks(state, Counts()).conditional_headers(walk) == {}


@pytest.mark.parametrize("articles", [[], None])
def test_a_first_page_unread_or_without_article_links_fails_its_walk(
    articles: list[int] | None,
) -> None:
    old = PageValidators('"v0"', None, True)
    state, counts = DictState(validators={canonical_url(FIRST): old}), Counts()
    walks, walk = incremental(state, counts)
    walks.arrived(walk, 10, (ETAG, MODIFIED))
    if articles is None:  # not HTML, or too many tags
        walks.unreadable(walk)
        assert counts[(SOURCE.name, stats.skipped("unparsable_list"))] == 1
    else:
        walks.read(walk, list_page(articles), FIRST)
    walks.finish()
    # The next run walks the column in full, unconditionally, rather than take a 304.
    assert walk.failed and state.complete[walk.key] is False
    assert state.validators[walk.key] == old
    assert make_walks(state, Counts()).start(FIRST, SOURCE, COLUMN).full


def test_a_later_page_unread_or_without_article_links_fails_nothing() -> None:
    state, counts = DictState(), Counts()
    walks = make_walks(state, counts, backfill=True)
    walk = walks.start(FIRST, SOURCE, COLUMN)
    walks.read(walk, list_page([3, 2], next_url=vsb_page(2)), FIRST)
    walks.read(walk, list_page([], next_url=vsb_page(1)), vsb_page(2))
    walks.unreadable(walk)
    assert not walk.failed
    assert counts[(SOURCE.name, stats.skipped("unparsable_list"))] == 1


@pytest.mark.parametrize(
    ("backfill", "last_walk_complete", "headers"),
    [(False, True, CONDITIONAL), (False, False, {}), (True, True, {})],
)
def test_only_an_incremental_walk_asks_whether_its_first_page_changed(
    backfill: bool, last_walk_complete: bool, headers: dict[str, str]
) -> None:
    key = canonical_url(FIRST)
    state = DictState(
        complete={key: last_walk_complete},
        validators={key: PageValidators(ETAG, MODIFIED, True)},
    )
    walks = make_walks(state, Counts(), backfill=backfill)
    walk = walks.start(FIRST, SOURCE, COLUMN)
    assert walks.conditional_headers(walk) == headers
    assert walks.candidate_headers(FIRST) == headers


def test_a_walk_with_lookback_pages_reads_its_first_page_unconditionally() -> None:
    key, about = canonical_url(FIRST), canonical_url(f"{BASE}/about.htm")
    state = DictState(
        complete={key: True},
        validators={
            key: PageValidators(ETAG, MODIFIED, True),
            about: PageValidators(ETAG, None, False),
        },
    )
    walks = make_walks(state, Counts(), lookback_pages=1)
    walk = walks.start(FIRST, SOURCE, COLUMN)
    assert not walk.full
    # A 304 would end the walk before its lookback pages.
    assert walks.conditional_headers(walk) == {}
    assert walks.candidate_headers(FIRST) == {}
    # A page that was no list has no lookback pages to miss.
    assert walks.candidate_headers(about) == {"If-None-Match": ETAG}


def test_a_page_the_label_led_to_is_not_asked_conditionally() -> None:
    key = canonical_url(MOVED)
    state = DictState(
        complete={canonical_url(FIRST): True, key: True},
        validators={key: PageValidators(ETAG, None, True)},
    )
    walks = make_walks(state, Counts())
    walk = walks.start_configured(FIRST, SOURCE)
    walks.search(walk)
    moved = walks.relocate(walk, MOVED)
    assert moved is not None and not moved.full
    assert walks.conditional_headers(moved) == {}


def test_a_linked_page_that_was_no_list_is_asked_conditionally_and_stays_none() -> None:
    state, counts = DictState(), Counts()
    about = f"{BASE}/about.htm"
    walks = make_walks(state, counts, backfill=True)
    walks.not_a_list(OTHER, about, (ETAG, None))
    assert walks.was_not_a_list(about)
    assert counts[(OTHER.name, stats.skipped("not_a_list"))] == 1
    # No walk of it ever finished, yet the next incremental run asks whether it changed.
    assert make_walks(state, counts).candidate_headers(about) == {"If-None-Match": ETAG}
    walks.not_a_list(OTHER, about, None)  # a 304: nothing to keep
    assert state.validators == {canonical_url(about): PageValidators(ETAG, None, False)}
    assert not walks.was_not_a_list(FIRST)


def test_an_unchanged_column_is_counted_reached_and_finished() -> None:
    state, counts = DictState(), Counts()
    walks, walk = incremental(state, counts)
    walks.not_modified(walk)
    assert walk.reached and walk.pages == 0
    assert counts[(SOURCE.name, stats.LIST_NOT_MODIFIED)] == 1
    walks.finish()
    assert state.complete[walk.key] is True
    assert walks.unreached(stopped=False) == []


# -- unreached columns -------------------------------------------------------------------------------


def test_a_walk_whose_first_page_never_answered_is_unreached_by_its_last_failure() -> None:
    walks = make_walks(DictState(), Counts())
    refused = walks.start(FIRST, SOURCE, COLUMN)
    reached = walks.start(OTHER.start_urls[0], OTHER, "媒体东大")
    quiet = walks.start(f"{BASE}/tzgg.htm", OTHER, "通知公告")  # no answer, no failure yet
    walks.note_failure(refused, "TimeoutError")
    walks.note_failure(refused, "ConnectionRefusedError")
    walks.arrived(reached, 10, (None, None))
    walks.note_failure(reached, "http_503")  # an article: its column was reached
    assert walks.unreached(stopped=False) == [(SOURCE.name, "ConnectionRefusedError")]
    assert not quiet.reached
    # A crawl stopped before its end: the walk still waiting was not reached either.
    assert walks.unreached(stopped=True) == [
        (SOURCE.name, "ConnectionRefusedError"),
        (OTHER.name, "crawl_stopped"),
    ]


def test_a_column_found_by_its_label_stands_in_for_its_gone_first_page() -> None:
    walks = make_walks(DictState(), Counts())
    gone = walks.start_configured(FIRST, SOURCE)
    walks.note_failure(gone, "http_404")
    walks.search(gone)
    moved = walks.relocate(gone, MOVED)
    assert moved is not None
    assert walks.unreached(stopped=False) == []  # not yet failed: the found page may still answer
    walks.note_failure(moved, "TimeoutError")
    assert walks.unreached(stopped=False) == [(SOURCE.name, "TimeoutError")]
    lost = make_walks(DictState(), Counts())
    never_found = lost.start_configured(FIRST, SOURCE)
    lost.note_failure(never_found, "http_404")
    lost.search(never_found)
    assert lost.relocate(never_found, None) is None
    assert lost.unreached(stopped=False) == [(SOURCE.name, "http_404")]


# -- columns found again by their label ------------------------------------------------------------

MOVED = f"{BASE}/xwzx/ddyw.htm"


def test_configured_column_starts_where_it_was_found_last() -> None:
    state = DictState(relocated={(SOURCE.name, COLUMN, canonical_url(FIRST)): MOVED})
    walk = make_walks(state, Counts()).start_configured(FIRST, SOURCE)
    assert (walk.url, walk.key, walk.configured) == (MOVED, canonical_url(MOVED), FIRST)
    assert walk.column == COLUMN


def test_relocation_of_another_configured_url_is_not_used() -> None:
    # The sources file now names another URL: the user's fix wins over the remembered one.
    state = DictState(relocated={(SOURCE.name, COLUMN, canonical_url(f"{BASE}/old.htm")): MOVED})
    walk = make_walks(state, Counts()).start_configured(FIRST, SOURCE)
    assert walk.url == FIRST


def test_only_a_labelled_configured_column_is_searched_and_only_from_its_first_page() -> None:
    walks = make_walks(DictState(), Counts())
    unlabelled = Source(name="x", start_urls=(FIRST,), language="zh")
    assert not walks.may_search(walks.start_configured(FIRST, unlabelled))
    assert not walks.may_search(walks.start(FIRST, SOURCE, COLUMN))  # a discovered column
    walk = walks.start_configured(FIRST, SOURCE)
    assert walks.may_search(walk)
    walks.read(walk, list_page([3, 2], next_url=vsb_page(2)), FIRST)
    assert not walks.may_search(walk)


def test_relocated_walk_replaces_the_gone_one_keeps_it_incremental_and_is_remembered() -> None:
    state = DictState()
    counts = Counts()
    state.complete[canonical_url(FIRST)] = True
    walks = make_walks(state, counts)
    gone = walks.start_configured(FIRST, SOURCE)
    other = walks.start_configured(OTHER.start_urls[0], OTHER)
    assert walks.search(gone) == f"{BASE}/"
    assert not walks.may_search(gone)

    moved = walks.relocate(gone, MOVED)

    assert moved is not None
    assert walks.walks == [moved, other]
    assert (moved.url, moved.column, moved.relocated_from) == (MOVED, COLUMN, FIRST)
    assert not moved.full
    assert moved.search is Search.CANDIDATE
    assert state.relocated == {}  # not before the page is seen to list articles
    walks.read(moved, list_page([3, 2]), MOVED)
    assert state.relocated == {(SOURCE.name, COLUMN, canonical_url(FIRST)): MOVED}
    assert counts[(SOURCE.name, stats.RELOCATED)] == 1
    assert not walks.may_search(moved)
    walks.finish()
    assert [event for event in state.events if event[0] == "set"] == [
        ("set", canonical_url(MOVED), True),
        ("set", other.key, True),
    ]


@pytest.mark.parametrize("found", [None, FIRST])
def test_label_leading_nowhere_new_is_counted_not_found(found: str | None) -> None:
    counts = Counts()
    walks = make_walks(DictState(), counts)
    walk = walks.start_configured(FIRST, SOURCE)
    walks.search(walk)
    assert walks.relocate(walk, found) is None
    assert counts[(SOURCE.name, stats.COLUMN_NOT_FOUND)] == 1
    assert walk.search is Search.DONE
    assert walks.walks == [walk]


def test_found_page_without_articles_is_not_the_column() -> None:
    state = DictState()
    counts = Counts()
    walks = make_walks(state, counts)
    walk = walks.start_configured(FIRST, SOURCE)
    walks.search(walk)
    moved = walks.relocate(walk, MOVED)
    assert moved is not None
    walks.read(moved, list_page([]), MOVED)
    assert state.relocated == {}
    assert counts[(SOURCE.name, stats.RELOCATED)] == 0
    assert counts[(SOURCE.name, stats.COLUMN_NOT_FOUND)] == 1


def test_search_failed_ends_only_a_search_under_way() -> None:
    counts = Counts()
    walks = make_walks(DictState(), counts)
    walk = walks.start_configured(FIRST, SOURCE)
    walks.search_failed(walk)  # no search yet: a gone later page says nothing of the column
    assert counts[(SOURCE.name, stats.COLUMN_NOT_FOUND)] == 0
    walks.search(walk)
    walks.search_failed(walk)  # the home page is gone
    assert counts[(SOURCE.name, stats.COLUMN_NOT_FOUND)] == 1
    walks.search_failed(walk)
    assert counts[(SOURCE.name, stats.COLUMN_NOT_FOUND)] == 1


# -- caps on links and articles -------------------------------------------------------------------


def test_links_past_the_page_cap_are_counted_and_the_walk_still_finishes() -> None:
    state, counts = DictState(), Counts()
    walks = make_walks(state, counts, backfill=True, max_links_per_page=2)
    walk = walks.start(FIRST, SOURCE, COLUMN)
    walks.read(walk, list_page([5, 4, 3, 2, 1]), FIRST)
    assert [fetch.article for fetch in walks.pending] == [listed(5), listed(4)]
    assert counts[(SOURCE.name, stats.LINK_LIMIT)] == 3
    assert counts[(SOURCE.name, stats.ARTICLE_LINKS)] == 5
    # The same page is cut the same way every run: not a reason to walk the column again.
    walks.take_pending()
    walks.finish()
    assert state.complete[walk.key] is True


def test_new_articles_past_the_run_cap_are_counted_and_left_for_the_next_run() -> None:
    state, counts = DictState(), Counts()
    walks = make_walks(state, counts, backfill=True, max_articles=3)
    walk = walks.start(FIRST, SOURCE, COLUMN)
    other = walks.start(f"{BASE}/mtdd.htm", OTHER, "媒体东大")
    walks.read(walk, list_page([5, 4]), FIRST)
    walks.read(other, list_page([15, 14, 13]), other.url)
    assert [fetch.article for fetch in walks.pending] == [listed(5), listed(4), listed(15)]
    assert counts[(OTHER.name, stats.ARTICLE_LIMIT)] == 2
    assert counts[(SOURCE.name, stats.ARTICLE_LIMIT)] == 0
    # Links past the limit are not remembered: a million of them cost nothing that lasts.
    assert walks.columns(listed(14).id) == [] and listed(14).id not in walks.listed_by
    walks.take_pending()
    walks.finish()
    assert state.complete == {walk.key: True, other.key: False}


def test_known_and_repeated_links_do_not_count_against_the_run_cap() -> None:
    state, counts = DictState(known={listed(5).id}), Counts()
    walks = make_walks(state, counts, backfill=True, max_articles=2)
    walk = walks.start(FIRST, SOURCE, COLUMN)
    walks.read(walk, list_page([5, 4, 4, 3]), FIRST)
    assert [fetch.article for fetch in walks.pending] == [listed(4), listed(3)]
    assert counts[(SOURCE.name, stats.ARTICLE_LIMIT)] == 0


# -- groups: sources whose hosts overlap wait for each other's list pages, others do not -------


def source(name: str, *urls: str, hosts: frozenset[str] = frozenset()) -> Source:
    return Source(name=name, start_urls=urls, language="zh", extra_hosts=hosts)


def test_host_groups_join_sources_whose_hosts_overlap_by_name_whatever_the_port() -> None:
    a = source("a", "http://127.0.0.1:8001/ddyw.htm")
    b = source("b", "http://127.0.0.1:8002/focus.htm")  # another port: the same host
    c = source("c", "https://news.example.edu.cn/list.htm", hosts=frozenset({"www.example.edu.cn"}))
    d = source("d", "https://www.example.edu.cn/index.htm")  # joins c through c's hosts
    e = source("e", "https://english.example.edu.cn/index.htm")
    f = source("f", "https://english.example.edu.cn/focus.htm")
    assert host_groups([a, c, e, b, d, f]) == [[a, b], [c, d], [e, f]]
    # Two groups bridged by a later source become one, in the order of their sources.
    g = source("g", "http://127.0.0.1/x.htm", hosts=frozenset({"english.example.edu.cn"}))
    assert host_groups([a, e, g, c]) == [[a, e, g], [c]]


def test_a_groups_articles_are_handed_out_once_its_last_list_request_is_done() -> None:
    state, counts = DictState(), Counts()
    other_site = source("english", "https://english.neu.edu.cn/focus.htm")
    walks = make_walks(state, counts, backfill=True, sources=(SOURCE, OTHER, other_site))
    ddyw, mtdd = walks.start(FIRST, SOURCE, COLUMN), walks.start(OTHER.start_urls[0], OTHER, None)
    english = walks.start(other_site.start_urls[0], other_site, None)
    for each in (SOURCE, OTHER, other_site):
        walks.reading(each)
    walks.read(ddyw, list_page([2, 1]), FIRST)
    assert walks.read_done(SOURCE) == []  # its group still waits for mtdd's page
    walks.read(english, list_page([9], title="Focus"), english.url)
    [english_fetch] = walks.read_done(other_site)  # another group: handed out at once
    assert english_fetch.walk is english
    walks.read(mtdd, list_page([3, 2], title="媒体东大"), mtdd.url)
    fetched = walks.read_done(OTHER)
    assert [(fetch.article, fetch.walk) for fetch in fetched] == [
        (listed(2), ddyw),
        (listed(1), ddyw),
        (listed(3), mtdd),
    ]
    assert walks.columns(listed(2).id) == [COLUMN, "媒体东大"]
    assert walks.pending == []
