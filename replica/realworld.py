"""Real-world templates (opt-in: ``build_replica(real_world=True)``): what the real VSB pages of
other universities showed (``../shared/real-pages``), one article of each kind.

A column ``real`` 真实模板 (``/real.htm``) is added to the news site (VSB), each article served in
one of :data:`replica.model.TEMPLATE_KINDS`:

* ``old_table``: the older table template (``form<N>a``, ``titlestyle``/``timestyle``/
  ``contentstyle`` cells, the body in ``#vsb_content`` without ``v_news_content``, an unlabelled
  date with its time, the attachment row after the content cell, 【关闭窗口】);
* ``unclosed_nested``: a second container inside the first, which stays open over prev/next
  and 【关闭】;
* ``unclosed_flat``: the one container left open over prev/next and 【关闭】;
* ``headings``: the body opens with a heading (``h2.md-heading``) and has another inside;
* ``unknown_labels``: ``来源：`` empty, then ``录入员：``, ``发布者：``, ``审核：`` with names;
* ``empty_counter``: ``来源：`` empty, then ``点击：`` and its script-filled counter;
* ``byline``: no people in the meta line; the body ends ``本文作者：…`` and ``文章来源：…``;
* ``attachment_only``: the body is a download link and nothing else.

The model carries what each page shows (people, origin, paragraphs), so the ground truth
(:mod:`replica.truth`) needs to know only the old template's dated time.
"""

from __future__ import annotations

import random

from replica import text, vsb
from replica.common import body_blocks, esc, prev_next, render_paragraph, replace_once
from replica.model import Article, ReplicaModel, Site, TemplateKind
from replica.response import Response

REAL_COLID = 1099
# Column order, newest first: a normal article between the variants now and then.
_LAYOUT: tuple[TemplateKind | None, ...] = (
    "old_table",
    "unclosed_nested",
    None,
    "unclosed_flat",
    "headings",
    "unknown_labels",
    None,
    "empty_counter",
    "byline",
    "attachment_only",
)
OLD_FORM_ID = 44518
CLOSE_BUTTON = (
    "<p align=\"right\">【<a href=\"javascript:window.opener=null;window.open('','_self');"
    'window.close();">关闭</a>】</p>\n'
)
HEADINGS = ("一、基本情况", "二、主要内容")
# The kinds that write their own meta line (dated, no editors) or, the old table, none.
OWN_META_LINE = frozenset({"old_table", "unknown_labels", "empty_counter", "byline"})
HTML_UTF8 = "text/html; charset=utf-8"


def add_real_world_column(replica: ReplicaModel) -> None:
    """Add the ``real`` column to the news site, its articles shaped for their templates."""
    col = replica.add_column("news", "real", "真实模板", "/real.htm", REAL_COLID, len(_LAYOUT))
    for article, kind in zip(col.articles, _LAYOUT, strict=True):
        if kind is not None:
            article.template = kind
            _shape(replica, article, kind)


def _shape(replica: ReplicaModel, article: Article, kind: TemplateKind) -> None:
    """Make the model say what the page of *kind* shows."""
    rng = random.Random(article.id)
    paragraphs = list(article.paragraphs)
    article.show_date = True
    article.trailing_break = False
    if kind in OWN_META_LINE:
        article.meta_form = 0
        article.editors = []
    if kind == "old_table":
        article.authors, article.origin = [], None
    elif kind in ("unknown_labels", "empty_counter"):
        article.authors, article.origin = text.names(rng, "zh", 1), None
    elif kind == "byline":
        article.authors = text.names(rng, "zh", 1)
        article.origin = rng.choice(text.ZH_ORIGINS)
        paragraphs += [f"本文作者：{article.authors[0]}", f"文章来源：{article.origin}"]
    elif kind == "headings":
        paragraphs = [HEADINGS[0], *paragraphs[:1], HEADINGS[1], *paragraphs[1:]]
    elif kind == "attachment_only":
        paragraphs, article.images, article.image_slots = [], [], []
        replica.give_attachment(article)
    if kind == "unclosed_flat":
        # VSB lists attachments after the container: a container left open would swallow them.
        article.attachments = []
    article.rewrite_body(paragraphs)


def respond(
    replica: ReplicaModel, site: Site, article: Article, headers: list[tuple[str, str]]
) -> Response:
    """The page of an article served in its real-world template."""
    page = vsb.article_page(replica, site, article)
    kind = article.template
    if kind == "old_table":
        page = _old_table(replica, site, article, page)
    elif kind in ("unclosed_nested", "unclosed_flat"):
        page = _unclosed(replica, site, article, page, nested=kind == "unclosed_nested")
    elif kind == "headings":
        page = _headings(article, page)
    elif kind in ("unknown_labels", "empty_counter", "byline"):
        page = replace_once(page, vsb.meta_line(replica, site, article), _meta_line(article, kind))
    elif kind == "attachment_only":
        page = _attachment_only(article, page)
    return Response(200, page.encode("utf-8"), [("Content-Type", HTML_UTF8), *headers])


def _form(page: str) -> tuple[int, int]:
    """Where the article form of a rendered VSB page starts and ends."""
    start = page.index('<form name="_newscontent_fromname">')
    return start, page.index("</form>\n", start) + len("</form>\n")


def _old_table(replica: ReplicaModel, site: Site, article: Article, page: str) -> str:
    """The article form as the older VSB table template writes it."""
    n = OLD_FORM_ID
    paragraphs = "\n".join(
        render_paragraph(block, article.language)
        for block in body_blocks(article, "vsb")
        if block.kind == "p"
    )
    attachments = "".join(
        f'<span>附件【<a href="{esc(att.path)}"><span>{esc(att.name)}</span></a>】</span>'
        f'<span>已下载<span id="nattach{n}"></span>次</span><br>'
        for att in article.attachments
    )
    when = f"{article.date.isoformat()} {article.time.strftime('%H:%M')}"
    form = (
        f'<form name="form{n}a">\n'
        f'<table border="0" class="winstyle{n}" width="100%" cellspacing="0" cellpadding="0">\n'
        f'<tr><td class="titlestyle{n}" align="center">\n{esc(article.title)}\n</td></tr>\n'
        f'<tr height="30"><td align="center">\n<span class="timestyle{n}">\n     {when}</span>\n'
        f'<span class="authorstyle{n}">&nbsp;\n\n</span>\n'
        '<span class="wb_content">审核人：</span>\n'
        f'<span>&nbsp;&nbsp;(点击： <span id="n{article.id}"></span>)</span>\n</td></tr>\n'
        f'<tr><td class="contentstyle{n}">\n'
        f'<div class="c{n}_content" id="vsb_newscontent"><div id="vsb_content">\n'
        f"{paragraphs}\n</div></div>\n</td></tr>\n"
        f'<tr><td class="pagestyle{n}" align="left"></td></tr>\n'
        f'<tr><td align="left"><span>{attachments}</span></td></tr>\n'
        '<tr><td align="right"><span class="footclose">【</span><a href="javascript:'
        'window.close();"><span class="footclose">关闭窗口</span></a><span class="footclose">'
        "】</span></td></tr>\n</table>\n</form>\n"
    )
    start, end = _form(page)
    return page[:start] + form + page[end:]


def _unclosed(
    replica: ReplicaModel, site: Site, article: Article, page: str, *, nested: bool
) -> str:
    """The content divs closed only after prev/next and 【关闭】, inside the article form."""
    t = replica.theme
    container = (
        f'<div class="{t.content_wrap_cls}" id="vsb_content{t.content_suffix}">'
        '<div class="v_news_content">\n'
    )
    closing = '\n</div></div><div id="div_vote_id"></div>\n'
    links = prev_next(replica, site, article)
    page = replace_once(page, links, "")
    if nested:
        page = replace_once(
            page, container, '<div id="vsb_content"><div class="v_news_content">\n' + container
        )
    else:
        page = replace_once(page, closing, '\n<div id="div_vote_id"></div>\n')
    start, end = _form(page)
    form = page[start:end]
    form = form.removesuffix("</form>\n") + "<br>\n" + links + CLOSE_BUTTON + "</div></div>\n"
    return page[:start] + form + "</form>\n" + page[end:]


def _headings(article: Article, page: str) -> str:
    """The heading paragraphs as the editor's headings."""
    for block in body_blocks(article, "vsb"):
        if block.kind == "p" and block.text in HEADINGS:
            heading = (
                '<h2 class="md-end-block md-heading"><span md-inline="plain" '
                f'class="md-plain">{esc(block.text)}</span></h2>'
            )
            page = replace_once(page, render_paragraph(block, article.language), heading)
    return page


def _meta_line(article: Article, kind: TemplateKind) -> str:
    """The meta line of the label variants (a dated one, like the news site's)."""
    rng = random.Random(article.id ^ 0x1AB)
    date = f"更新日期：{article.date.isoformat()}"
    if kind == "unknown_labels":
        clerk, publisher, reviewer = text.names(rng, "zh", 3)
        parts = [
            f"作者：{article.authors[0]}",
            "来源：",
            f"录入员：{clerk}",
            f"发布者：{publisher}",
            f"审核：{reviewer}",
            date,
        ]
    elif kind == "empty_counter":
        # The counter's script fills the span; the empty 来源 runs into its label.
        counted = (
            esc(f"作者：{article.authors[0]}  {date}  来源：")
            + '&nbsp;&nbsp;点击：<span id="n1"></span>'
        )
        return f'<div class="meta">{counted}</div>\n'
    else:
        parts = [date]
    return f'<div class="meta">{esc("  ".join(parts))}</div>\n'


def _attachment_only(article: Article, page: str) -> str:
    """A body holding only its attachment's download link (and the file type's icon)."""
    att = article.attachments[0]
    link = (
        '<p><img src="/system/resource/images/fileTypeImages/icon_rar.gif" />'
        f'<a href="{esc(att.path)}">{esc(att.name)}</a></p>'
    )
    return replace_once(
        page, '<div class="v_news_content">\n', '<div class="v_news_content">\n' + link
    )
