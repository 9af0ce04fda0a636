"""The article record: one per article, every key present (null or [] when unknown)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TypedDict

from crawler.parsers import ParsedArticle
from crawler.urls import canonical_id, canonical_url, netloc


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
    crawled_at: str


def utc_now() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def build_record(
    parsed: ParsedArticle, url: str, *, source: str, language: str, columns: list[str]
) -> ArticleRecord:
    """The record of the article at *url*, from what its page says and where it was listed."""
    canonical = canonical_url(url)
    return ArticleRecord(
        id=canonical_id(canonical),
        url=canonical,
        source=source,
        site=netloc(canonical),
        column=columns[0] if columns else None,
        columns=list(columns),
        title=parsed.title,
        published=parsed.published,
        authors=parsed.authors,
        editors=parsed.editors,
        origin=parsed.origin,
        language=language,
        text=parsed.text,
        images=parsed.images,
        attachments=[Attachment(url=a["url"], name=a["name"]) for a in parsed.attachments],
        crawled_at=utc_now(),
    )
