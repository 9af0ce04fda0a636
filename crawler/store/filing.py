"""What a crawled record is to the feed: new, an edit, unchanged, or another URL's story.

One decision for every backend: the data directory's SQLite state (``crawler.store.datadir``)
and the shared state in Redis (``crawler.store.shared``) both hand ``file_record`` what they
know through ``FilingState`` and keep the feed line it returns.
"""

from __future__ import annotations

import enum
import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from crawler.items import utc_now
from crawler.rechecks import anchor_of, epoch
from crawler.store.state import KnownArticle, PageValidators, Recalled, merge_columns
from crawler.text import normalize_space

# Bodies shorter than this (empty pages, "详见附件") say too little to call two pages the same.
MIN_DEDUP_BODY = 40

# (ETag, Last-Modified) of an article's last fetch, sent back to ask whether it changed.
Validators = tuple[str | None, str | None]
# Keeps one feed line: (line, content hash, body hash); the backend writes and remembers it.
KeepLine = Callable[[dict[str, Any], str, str | None], None]


class Outcome(enum.Enum):
    NEW = "new"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    DUPLICATE_CONTENT = "duplicate_content"
    DUPLICATE_URL = "duplicate_url"


@dataclass(frozen=True)
class Recheck:
    """A known article to fetch again, conditionally, to catch an edit; *anchor* and *checked*
    are its re-check schedule (``crawler.rechecks``)."""

    id: str
    url: str
    source: str
    columns: list[str]
    headers: dict[str, str]
    anchor: int
    checked: int


class CrawlStore(Protocol):
    """What a crawl asks of its store: ``crawler.store.datadir.Store`` (a data directory),
    ``NullStore`` (none) or ``crawler.store.shared.SharedStore`` (Redis)."""

    def describe(self) -> str: ...
    def is_known(self, article_id: str) -> bool: ...
    def recheck_candidates(self, sources: frozenset[str], last_step: int) -> list[Recheck]: ...
    def known_articles(self, sources: frozenset[str]) -> list[Recheck]: ...
    def set_rechecked(self, article_id: str) -> None: ...
    def list_validators(self, key: str) -> PageValidators | None: ...
    def set_list_validators(self, key: str, validators: PageValidators) -> None: ...
    def walk_complete(self, key: str) -> bool: ...
    def set_walk_complete(self, key: str, complete: bool) -> None: ...
    def add_columns(self, article_id: str, columns: list[str]) -> None: ...
    def relocated_column(self, source: str, label: str, configured: str) -> str | None: ...
    def set_relocated_column(self, source: str, label: str, configured: str, url: str) -> None: ...
    def add(
        self,
        record: Mapping[str, Any],
        validators: Validators | None = None,
        listed_as: tuple[str, str] | None = None,
        recheck_of: str | None = None,
    ) -> tuple[Outcome, dict[str, Any] | None]: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...


class FilingState(Protocol):
    """What ``file_record`` reads and changes of a backend's state."""

    def recall(self, article_id: str, body_hash: str | None) -> Recalled: ...
    def add_alias(self, alias_id: str, url: str, article_id: str) -> None: ...
    def add_columns(self, article_id: str, columns: list[str]) -> None: ...
    def set_validators(
        self, article_id: str, etag: str | None, last_modified: str | None
    ) -> None: ...


def file_record(
    state: FilingState,
    record: Mapping[str, Any],
    validators: Validators | None,
    listed_as: tuple[str, str] | None,
    keep: KeepLine,
) -> tuple[Outcome, dict[str, Any] | None]:
    """Decide what *record* is against *state*, make the state changes that follow, and
    *keep* its feed line if it is new or an edit; return the outcome and that line."""
    article_id = str(record["id"])
    columns = list(record.get("columns") or [])
    validators = validators if validators and any(validators) else None
    if listed_as and listed_as[0] != article_id:
        # Listed at one URL, found at another: the listed one is known from now on.
        state.add_alias(listed_as[0], listed_as[1], article_id)
    content, body = digests(record)
    recalled = state.recall(article_id, body)
    if recalled.alias_of:
        return Outcome.DUPLICATE_URL, None
    known = recalled.known
    if known is not None:
        state.add_columns(article_id, columns)
        outcome, line = Outcome.UNCHANGED, None
        if known.content_hash != content:
            merged = merge_columns(known.columns, columns)
            line = feed_line(record, known.version + 1, known.first_seen, utc_now(), merged)
            keep(line, content, body)
            outcome = Outcome.UPDATED
        # After the line: a new ETag stored without it would hide the edit behind a 304.
        if validators:
            state.set_validators(article_id, *validators)
        return outcome, line
    owner = recalled.body_owner
    if owner:
        state.add_alias(article_id, str(record["url"]), owner)
        state.add_columns(owner, columns)
        return Outcome.DUPLICATE_CONTENT, None
    line = feed_line(record, 1, str(record["crawled_at"]), None, columns)
    keep(line, content, body)
    if validators:
        state.set_validators(article_id, *validators)
    return Outcome.NEW, line


def digests(record: Mapping[str, Any]) -> tuple[str, str | None]:
    """The record's content hash (title and text: what an edit changes) and body hash (the text
    alone, whitespace aside: what makes two URLs one story; None when too short to tell)."""
    body = normalize_space(record.get("text"))
    content = _sha1(f"{record.get('title') or ''}\n{body}")
    return content, _sha1(body) if len(body) >= MIN_DEDUP_BODY else None


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def feed_line(
    record: Mapping[str, Any],
    version: int,
    first_seen: str,
    updated_at: str | None,
    columns: list[str],
) -> dict[str, Any]:
    """The feed line of *record* at *version*: its columns merged, first sighting kept."""
    line = dict(record)
    line["columns"] = columns
    line["column"] = record.get("column") or (columns[0] if columns else None)
    line["version"] = version
    line["first_seen"] = first_seen
    line["updated_at"] = updated_at
    return line


def schedule_of(line: Mapping[str, Any]) -> dict[str, int]:
    """The re-check schedule of a feed line's article: its anchor, and its steps done up to
    the line's fetch (its first sight, or the edit it records; now if the line names none)."""
    fetched = epoch(line.get("updated_at")) or epoch(line.get("first_seen")) or int(time.time())
    seen = epoch(line.get("first_seen")) or fetched
    return {"anchor": anchor_of(line.get("published"), seen), "checked": fetched}


def conditional_headers(etag: str | None, last_modified: str | None) -> dict[str, str]:
    """The request headers that make a re-fetch answer 304 when nothing changed."""
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


def as_recheck(known: KnownArticle) -> Recheck:
    """A known article (with its schedule) as a re-check to send."""
    assert known.anchor is not None and known.checked is not None  # filled on open
    return Recheck(
        id=known.id,
        url=known.url,
        source=known.source,
        columns=known.columns,
        headers=conditional_headers(known.etag, known.last_modified),
        anchor=known.anchor,
        checked=known.checked,
    )
