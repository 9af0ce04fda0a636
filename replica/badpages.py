"""Bad pages (opt-in: ``build_replica(bad_pages=True)``): articles whose pages break a crawler.

Two columns are added to the news site (VSB):

* ``bad`` 问题页面 (``/bad.htm``, a normal pager) lists a few normal articles and one article of
  each kind in :data:`replica.model.BAD_KINDS`, served as :func:`respond` describes;
* ``nopager`` 无分页 (``/nopager.htm``) lists five normal articles on a page without a pager.

Ground truth (:mod:`replica.truth`): the kinds in :data:`replica.model.UNEXTRACTABLE` are not
expected at all; the others are expected with the text as it was before encoding, ``published``
None for ``no_date`` and ``title`` None for ``no_title`` (the page shows no title anywhere).

The kinds are model data (:mod:`replica.model`); this module only builds the columns and
renders the pages, so nothing below it (the model, the templates) imports it.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from replica import vsb
from replica.common import esc, replace_once
from replica.model import Article, BadKind, ReplicaModel, Site
from replica.response import Response, Stream

BAD_COLID = 1097
NOPAGER_COLID = 1098
NOPAGER_ARTICLES = 5
# The bad column in list order (newest first): a normal article now and then between the bad.
_LAYOUT: tuple[BadKind | None, ...] = (
    None,
    "empty",
    "binary",
    "gbk_meta",
    "gbk_wrong_header",
    None,
    "gb2312",
    "huge",
    "nested",
    "no_date",
    None,
    "no_title",
    "no_container",
)

HUGE_SIZE = 20 * 1024 * 1024
NESTING = 5000
BINARY_SIZE = 4096
_FILLER_LINE = "<p>本段为填充内容，用于测试超大页面的下载上限。</p>\n".encode()
_FILLER_BLOCK = _FILLER_LINE * (64 * 1024 // len(_FILLER_LINE))

HTML_NO_CHARSET = "text/html"
HTML_UTF8 = "text/html; charset=utf-8"
GBK_META = '<meta charset="gbk">'
GB2312_META = '<meta http-equiv="Content-Type" content="text/html; charset=gb2312">'


def add_bad_columns(replica: ReplicaModel) -> None:
    """Add the ``bad`` and ``nopager`` columns to the news site."""
    col = replica.add_column("news", "bad", "问题页面", "/bad.htm", BAD_COLID, len(_LAYOUT))
    for article, kind in zip(col.articles, _LAYOUT, strict=True):
        if kind is None:
            continue
        article.bad = kind
        if kind == "no_date":
            article.show_date = False
    replica.add_column(
        "news", "nopager", "无分页", "/nopager.htm", NOPAGER_COLID, NOPAGER_ARTICLES, pager="none"
    )


def respond(
    replica: ReplicaModel, site: Site, article: Article, headers: list[tuple[str, str]]
) -> Response:
    """The page of a bad article (*headers*: its validators, sent as for any article)."""
    kind = article.bad
    if kind == "empty":
        return Response(200, b"", [("Content-Type", HTML_NO_CHARSET), *headers])
    if kind == "binary":
        return Response(200, _binary(article), [("Content-Type", HTML_NO_CHARSET), *headers])
    page = vsb.article_page(replica, site, article)
    if kind == "huge":
        return Response(200, headers=[("Content-Type", HTML_UTF8), *headers], stream=_huge(page))
    if kind in ("gbk_meta", "gbk_wrong_header", "gb2312"):
        body, content_type = _chinese_encoding(page, kind)
        return Response(200, body, [("Content-Type", content_type), *headers])
    if kind == "nested":
        page = _nested(page)
    elif kind == "no_title":
        page = _untitled(replica, site, article, page)
    elif kind == "no_container":
        page = _uncontained(replica, page)
    return Response(200, page.encode("utf-8"), [("Content-Type", HTML_UTF8), *headers])


def _binary(article: Article) -> bytes:
    """Random bytes (fixed per article) with a NUL every 61 bytes, as a mislabelled file."""
    data = bytearray(random.Random(article.id).randbytes(BINARY_SIZE))
    data[::61] = bytes(len(data[::61]))
    return bytes(data)


def _chinese_encoding(page: str, kind: str) -> tuple[bytes, str]:
    """(body, Content-Type): GBK/GB2312 bytes, declared only in a meta tag or contradicted by
    the HTTP header. Characters the codec lacks (the footer's ©) become character references,
    so the page still reads exactly as before once decoded right."""
    if kind == "gb2312":
        page = replace_once(page, vsb.META_CHARSET, GB2312_META)
        return page.encode("gb2312", errors="xmlcharrefreplace"), HTML_NO_CHARSET
    page = replace_once(page, vsb.META_CHARSET, GBK_META)
    header = HTML_UTF8 if kind == "gbk_wrong_header" else HTML_NO_CHARSET
    return page.encode("gbk", errors="xmlcharrefreplace"), header


def _nested(page: str) -> str:
    """The whole page body inside NESTING nested divs."""
    page = replace_once(page, "<body>\n", "<body>\n" + "<div>" * NESTING + "\n")
    return replace_once(page, "</body>", "</div>" * NESTING + "\n</body>")


def _untitled(replica: ReplicaModel, site: Site, article: Article, page: str) -> str:
    """No title element, and an empty ``<title>``."""
    t = replica.theme
    page = replace_once(
        page, f'<{t.title_tag} class="{t.title_cls}">{esc(article.title)}</{t.title_tag}>\n', ""
    )
    return replace_once(
        page, f"<title>{esc(f'{article.title}-{site.site_title}')}</title>", "<title></title>"
    )


def _uncontained(replica: ReplicaModel, page: str) -> str:
    """The body in plain divs: no vsb_content wrapper, no v_news_content."""
    t = replica.theme
    container = (
        f'<div class="{t.content_wrap_cls}" id="vsb_content{t.content_suffix}">'
        '<div class="v_news_content">\n'
    )
    return replace_once(page, container, "<div><div>\n")


def _huge(page: str) -> Stream:
    """The page with a hidden block of filler paragraphs before ``</body>``: exactly
    HUGE_SIZE bytes, generated chunk by chunk when sent."""
    encoded = page.encode("utf-8")
    cut = encoded.rindex(b"</body>")
    head = encoded[:cut] + b'<div style="display:none">\n'
    tail = b"</div>\n" + encoded[cut:]
    fill = HUGE_SIZE - len(head) - len(tail)

    def chunks() -> Iterator[bytes]:
        yield head
        left = fill
        while left >= len(_FILLER_BLOCK):
            yield _FILLER_BLOCK
            left -= len(_FILLER_BLOCK)
        yield b" " * left
        yield tail

    return Stream(HUGE_SIZE, chunks)
