"""The article record: one per article, every key present (null or [] when unknown).

Stdlib only: the extraction layer builds records, the store files them, readers read them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import TypedDict

# Pages give Beijing time without saying so; a bare ``published`` date is a Beijing day.
CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")


class Attachment(TypedDict):
    url: str
    name: str


class ArticleRecord(TypedDict):
    id: str
    url: str
    source: str
    site: str
    column: str | None
    columns: list[str]
    title: str | None
    published: str | None
    authors: list[str]
    editors: list[str]
    origin: str | None
    language: str
    text: str | None
    images: list[str]
    attachments: list[Attachment]
    # Whose content container the body was read from: a CMS profile's name (vsb, webplus), or
    # "generic" when the page has none (the densest paragraphs, else the whole page).
    parser: str
    crawled_at: str


def utc_now() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


@dataclass(frozen=True)
class FetchedArticle:
    """The spider's item: an article's record and what its fetch said besides the page."""

    record: ArticleRecord
    etag: str | None = None
    last_modified: str | None = None
    # (id, URL) it was listed as, when a redirect brought it to another URL.
    listed_as: tuple[str, str] | None = None
    # The id of the known article this fetch re-checked (None: not a re-check).
    recheck_of: str | None = None
