"""The record of an article page: what the page says plus where it was found."""

from __future__ import annotations

from crawler.extract.article import ParsedArticle
from crawler.extract.urls import netloc
from crawler.items import ArticleRecord, Attachment


def build_record(
    parsed: ParsedArticle,
    canonical: str,
    article_id: str,
    *,
    source: str,
    language: str,
    columns: list[str],
    crawled_at: str,
) -> ArticleRecord:
    """The record of the article at the *canonical* URL (whose id is *article_id*: see
    ``crawler.extract.urls.canonical_id``), from its parsed page and its columns."""
    return ArticleRecord(
        id=article_id,
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
        parser=parsed.parser,
        crawled_at=crawled_at,
    )
