"""The record of an article page: what the page says plus where it was found."""

from __future__ import annotations

from collections.abc import Sequence

from crawler.extract.article import ParsedArticle, parse_article
from crawler.extract.profiles import Profile
from crawler.extract.urls import canonical_id, canonical_url, netloc
from crawler.items import ArticleRecord, Attachment
from crawler.text import TITLE_MAX_CHARACTERS, clean_text


def record_of_page(
    html: str,
    url: str,
    *,
    source: str,
    language: str,
    columns: Sequence[str],
    cms: str | None,
    crawled_at: str,
    identity: tuple[str, str] | None = None,
    profile: Profile | None = None,
) -> ArticleRecord | None:
    """The record of the article page *html* at *url*; None if the page is not HTML.

    Its canonical URL and id are *identity* when the caller knows them already (the crawl
    computes both when a list page links the article), else they come from *url*. *cms* is the
    source's hint and *profile* its own extended profile (see ``parse_article``). This is what
    both the crawl and ``neu-news extract`` call: one page, one record, whoever asks.
    """
    parsed = parse_article(html, url, cms=cms, profile=profile)
    if parsed is None:
        return None
    if identity is None:
        canonical = canonical_url(url)
        identity = canonical, canonical_id(canonical)
    return build_record(
        parsed,
        *identity,
        source=source,
        language=language,
        columns=list(columns),
        crawled_at=crawled_at,
    )


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
    ``crawler.extract.urls.canonical_id``), from its parsed page and its columns; title and
    text cleaned (``crawler.text.clean_text``), whatever the page held."""
    return ArticleRecord(
        id=article_id,
        url=canonical,
        source=source,
        site=netloc(canonical),
        column=columns[0] if columns else None,
        columns=list(columns),
        title=clean_text(parsed.title, TITLE_MAX_CHARACTERS),
        published=parsed.published,
        authors=parsed.authors,
        editors=parsed.editors,
        origin=parsed.origin,
        language=language,
        text=clean_text(parsed.text),
        images=parsed.images,
        attachments=[Attachment(url=a["url"], name=a["name"]) for a in parsed.attachments],
        parser=parsed.parser,
        crawled_at=crawled_at,
    )
