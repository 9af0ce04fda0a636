"""Atom 1.0 and RSS 2.0 documents of the newest articles in the feed.

Newest means newest *published*: dated articles come first, by publication time; undated ones
follow, by when the crawler first saw them. An undated article is never given a publication
time: it has no ``published`` (no RSS ``pubDate``), and its Atom ``updated`` (which Atom
requires) is when it was first seen, or edited. Otherwise a backfill of an undated archive would
put old stories at the top of the feed, each dated the day of the backfill.

Only the newest ``limit`` records are ever held (a heap), whatever the feed's size. Give it the
latest version of each id (``iter_feed(latest=True)``): a later line of an id that is still held
replaces the earlier one, but an id's versions are not remembered once it has left the heap.
"""

from __future__ import annotations

import heapq
import logging
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import BinaryIO, Literal

from feedgen.feed import FeedGenerator

from crawler.branding import DEFAULT_BRANDING, Branding
from crawler.items import CHINA_TZ
from crawler.store.feed import write_atomically
from crawler.store.reader import Record

logger = logging.getLogger(__name__)

Format = Literal["atom", "rss"]
FORMATS: tuple[Format, ...] = ("atom", "rss")

# Characters XML 1.0 cannot carry; lxml refuses the whole document if one slips through.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

# Newest first: (dated, publication or first-sight time); tuples sort dated ones above undated.
SortKey = tuple[bool, float]
_HeapItem = tuple[SortKey, int, Record]


def write_syndication(
    records: Iterable[Record],
    out: BinaryIO | Path,
    *,
    fmt: Format,
    limit: int = 50,
    branding: Branding = DEFAULT_BRANDING,
) -> int:
    """Write an Atom or RSS document of the newest *limit* records to *out*, titled, linked and
    identified as *branding* says; return the entry count.

    Newest is by ``published`` (a bare date is midnight Beijing time), the undated after the
    dated by first sight (see :func:`sort_key`); the entry's id (Atom) or guid (RSS) is the
    article URL. A *Path* is replaced atomically.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown syndication format {fmt!r}: use atom or rss")
    entries = newest(records, limit)
    document = render(entries, fmt=fmt, branding=branding)
    if isinstance(out, Path):
        write_atomically(out, document)
    else:
        out.write(document)
        out.flush()
    logger.info("Wrote %s document with %d entries", fmt, len(entries))
    return len(entries)


def newest(records: Iterable[Record], limit: int) -> list[Record]:
    """The *limit* newest records with a URL and a time, newest first (:func:`sort_key`), one
    per id (its last line). A record without any time is no entry: Atom needs one."""
    if limit <= 0:
        return []
    heap: list[_HeapItem] = []
    held: dict[str, _HeapItem] = {}  # ids in the heap, so never more than `limit` of them
    for seq, record in enumerate(records):
        url = record.get("url")
        order = sort_key(record)
        if not isinstance(url, str) or not url or order is None:
            continue
        key = _article_id(record, url)
        # seq breaks ties (later lines win) and keeps tuple comparison away from the dicts.
        item: _HeapItem = (order, seq, record)
        previous = held.pop(key, None)
        if previous is not None:
            if _version(record) < _version(previous[2]):
                held[key] = previous
                continue
            heap.remove(previous)
            heapq.heapify(heap)
        if len(heap) < limit:
            heapq.heappush(heap, item)
        elif item[:2] > heap[0][:2]:
            evicted = heapq.heapreplace(heap, item)
            held.pop(_article_id(evicted[2], evicted[2]["url"]), None)
        else:
            continue
        held[key] = item
    return [item[2] for item in sorted(heap, key=lambda item: item[:2], reverse=True)]


def render(
    entries: list[Record], *, fmt: Format, branding: Branding, self_url: str | None = None
) -> bytes:
    """The UTF-8 XML document for *entries*, in the order given; *self_url* is where it is
    served (its ``rel=self`` link)."""
    fg = FeedGenerator()
    if fmt == "rss":
        # RSS <author> must be an e-mail address; names go in dc:creator instead.
        fg.load_extension("dc")
    fg.id(branding.id)
    fg.title(branding.title)
    fg.subtitle(branding.title)
    fg.link(href=branding.link, rel="alternate")
    if self_url is not None:
        fg.link(href=self_url, rel="self")
    fg.author({"name": branding.title})
    fg.language(branding.language)
    updated: list[datetime] = []
    for record in entries:
        updated.append(_add_entry(fg, record, fmt))
    # The newest entry's time rather than now, so an unchanged feed renders the same bytes.
    fg.updated(max(updated) if updated else datetime.now(UTC))
    document = bytes(fg.rss_str(pretty=True) if fmt == "rss" else fg.atom_str(pretty=True))
    return document if document.endswith(b"\n") else document + b"\n"


def sort_key(record: Record) -> SortKey | None:
    """Where *record* goes in a newest-first feed: dated articles by publication time, above
    every undated one, and those by first sight; None when it has no time at all."""
    published = parse_published(record.get("published"))
    if published is not None:
        return (True, published.timestamp())
    seen = first_sight(record)
    return (False, seen.timestamp()) if seen is not None else None


def first_sight(record: Record) -> datetime | None:
    """When the crawler first saw the article (``first_seen``; a record outside a feed has only
    its ``crawled_at``), or None."""
    return parse_utc(record.get("first_seen")) or parse_utc(record.get("crawled_at"))


def parse_published(value: object) -> datetime | None:
    """A ``published`` value as an aware datetime: a bare date is midnight Beijing time."""
    if not isinstance(value, str) or not value:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime(day.year, day.month, day.day, tzinfo=CHINA_TZ)
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=CHINA_TZ)


def parse_utc(value: object) -> datetime | None:
    """A UTC ISO timestamp (``crawled_at``, ``first_seen``, ``updated_at``), or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def first_paragraph(text: str) -> str | None:
    """The first non-blank paragraph of an article text (paragraphs are split by a blank line)."""
    for paragraph in text.split("\n\n"):
        if paragraph.strip():
            return paragraph.strip()
    return None


def _add_entry(fg: FeedGenerator, record: Record, fmt: Format) -> datetime:
    url = _xml_text(record["url"])
    text = _xml_text(record.get("text"))
    published = parse_published(record.get("published"))
    # Atom requires `updated`: for an undated article the only honest time is its first sight.
    updated = parse_utc(record.get("updated_at")) or published or first_sight(record)
    if updated is None:  # newest() leaves such records out
        raise ValueError(f"record {url} has no time at all")
    entry = fg.add_entry(order="append")  # feedgen prepends by default; we pass newest first
    entry.guid(url, permalink=True)
    entry.title(_xml_text(record.get("title")) or url)
    entry.link(href=url, rel="alternate")
    if published is not None:
        entry.published(published)
    entry.updated(updated)
    authors = [_xml_text(name) for name in record.get("authors") or [] if isinstance(name, str)]
    for name in filter(None, authors):
        if fmt == "rss":
            entry.dc.dc_creator(name)
        else:
            entry.author({"name": name})
    summary = first_paragraph(text)
    if summary:
        entry.summary(summary)
    if text.strip():
        entry.content(text, type="text")
    return updated


def _xml_text(value: object) -> str:
    return _NOT_XML.sub("", value) if isinstance(value, str) else ""


def _article_id(record: Record, url: str) -> str:
    article_id = record.get("id")
    return article_id if isinstance(article_id, str) and article_id else url


def _version(record: Record) -> int:
    version = record.get("version")
    return version if isinstance(version, int) else 0
