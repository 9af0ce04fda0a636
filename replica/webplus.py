"""WebPlus (SUDY) templates: the college sub-site.

Root-relative links, a pager counting up (``list.htm``, ``list2.htm`` …) and article pages
under ``/YYYY/MMDD/c<col>a<id>/page.htm``.
"""

from __future__ import annotations

from replica.common import (
    LABELS,
    arrange,
    body_blocks,
    breadcrumb,
    column_block,
    esc,
    footer,
    header,
    home_body,
    iso,
    other_column_articles,
    plain_body,
    prev_next,
    related_articles,
    render_image,
    render_paragraph,
    sidebar,
)
from replica.model import Article, Column, ReplicaModel, Site

VOID = "javascript:void(0);"


def page_path(col: Column, k: int) -> str:
    """Path of list page *k* (1 = newest): ``list.htm``, ``list2.htm``, …"""
    if k == 1:
        return col.list_path
    return f"{col.list_path.removesuffix('.htm')}{k}.htm"


def _head(site: Site, title: str) -> str:
    return (
        "<!DOCTYPE html>\n<html>\n<head>\n"
        '<meta charset="utf-8">\n'
        '<meta name="renderer" content="webkit" />\n'
        f"<title>{esc(title)}</title>\n"
        '<link type="text/css" href="/_css/_system/system.css" rel="stylesheet"/>\n'
        f'<link type="text/css" href="/_upload/site/00/2e/{site.owner}/style/7/7.css" '
        'rel="stylesheet"/>\n'
        '<script language="javascript" src="/_js/jquery.min.js" sudy-wp-context="" '
        f'sudy-wp-siteId="{site.owner}"></script>\n'
        '<script language="javascript" src="/_js/jquery.sudy.wp.visitcount.js"></script>\n'
        '<link rel="stylesheet" href="/_upload/tpl/00/3c/60/template60/style.css" '
        'type="text/css" />\n'
        "</head>\n<body>\n"
    )


def _pager(replica: ReplicaModel, col: Column, k: int, pages: int, total: int) -> str:
    def href(n: int, usable: bool) -> str:
        return esc(page_path(col, n)) if usable else VOID

    w = replica.theme.wp_list_window
    nav = (
        f'<a class="first" href="{href(1, k > 1)}" target="_self"><span>第一页</span></a> '
        f'<a class="prev" href="{href(k - 1, k > 1)}" target="_self">'
        "<span>&lt;&lt;上一页</span></a> "
        f'<a class="next" href="{href(k + 1, k < pages)}" target="_self">'
        "<span>下一页&gt;&gt;</span></a> "
        f'<a class="last" href="{href(pages, k < pages)}" target="_self"><span>尾页</span></a>'
    )
    return (
        f'<div id="wp_paging_w{w}">\n<ul class="wp_paging">\n'
        '<li class="pages_count"><span class="per_page">每页&nbsp;'
        f'<em class="per_count">{replica.page_size}</em>&nbsp;记录&nbsp;</span>'
        f'<span class="all_count">总共&nbsp;<em class="all_count">{total}</em>&nbsp;记录&nbsp;'
        "</span></li>\n"
        f'<li class="page_nav">{nav}</li>\n'
        '<li class="page_jump"><span class="pages">页码&nbsp;'
        f'<em class="curr_page">{k}</em>/<em class="all_pages">{pages}</em></span>'
        '<span><input class="pageNum" type="text" /><input type="hidden" class="currPageURL" '
        'value="" /></span><span><a class="pagingJump" href="javascript:void(0);" '
        'target="_self">跳转到&nbsp;</a></span></li>\n'
        "</ul>\n</div>\n"
    )


def list_page(replica: ReplicaModel, site: Site, col: Column, k: int, pages: int) -> str:
    t = replica.theme
    page = page_path(col, k)
    size = replica.page_size
    chunk = col.articles[(k - 1) * size : k * size]
    links = "no_links" not in site.broken
    items = []
    for a in chunk:
        if links:
            title = (
                f"<a href='{esc(a.path)}' target='_blank' title='{esc(a.title)}'>{esc(a.title)}</a>"
            )
        else:
            title = esc(a.title)
        items.append(
            f'<li class="{t.wp_item_cls}">\n'
            f'<span class="{t.wp_item_title_cls}">{title}</span>\n'
            f'<span class="{t.wp_item_date_cls}">{iso(a)}</span>\n</li>'
        )
    w = t.wp_list_window
    main = (
        f'<div class="{t.list_wrap_cls}" frag="窗口{w}" portletmode="simpleList">\n'
        + column_block(replica, col)
        + breadcrumb(replica, site, page, col, article=False)
        + f'<div id="wp_news_w{w}">\n<ul class="{t.wp_list_ul_cls}">\n'
        + "\n".join(items)
        + "\n</ul>\n</div>\n"
        + _pager(replica, col, k, pages, len(col.articles))
        + "</div>\n"
    )
    side = sidebar(
        replica,
        site,
        page,
        LABELS[site.language]["popular"],
        other_column_articles(site, col),
        links=links,
    )
    return (
        _head(site, f"{col.label}-{site.site_title}")
        + header(replica, site, page)
        + arrange(replica, col.colid + k, side, main)
        + footer(replica, site)
        + "</body>\n</html>\n"
    )


def _visits(site: Site, article: Article) -> str:
    count = 10 + (article.id * 37) % 900
    return (
        f'<span class="WP_VisitCount" url="/_visitcountdisplay?siteId={site.owner}&amp;type=3'
        f'&amp;articleId={article.id}">{count}</span>'
    )


def _meta(replica: ReplicaModel, site: Site, article: Article) -> str:
    t = replica.theme
    d = article.date
    shown = replica.date_shown(article)
    form = article.meta_form
    sep = article.separator
    spans: list[str] = []
    if form == 4:
        date = f"更新日期:{d.isoformat()}" if shown else ""
        run = (
            f"作者: {sep.join(article.authors)}编辑:{sep.join(article.editors)}"
            f"来源:{article.origin or ''}{date}浏览次数:"
        )
        spans.append(f'<span class="{t.wp_update_cls}">{esc(run)}{_visits(site, article)}</span>')
    else:
        if article.authors:
            spans.append(f"<span>作者：{esc(sep.join(article.authors))}</span>")
        if shown:
            if form == 0:
                label = f"发布日期:[{d.isoformat()}]"
            elif form == 1:
                label = f"发表时间:{d.year}年{d.month:02d}月{d.day:02d}日"
            elif form == 2:
                label = f"时间:{d.isoformat()}"
            else:
                tm = article.time
                label = f"{d.year}年{d.month}月{d.day}日 {tm.hour:02d}:{tm.minute:02d}"
            spans.append(f'<span class="{t.wp_update_cls}">{esc(label)}</span>')
        if form == 2:
            spans.append(f'<span class="{t.wp_views_cls}">浏览量:{_visits(site, article)}</span>')
    tag = t.wp_meta_tag
    return f'<{tag} class="{t.wp_meta_cls}">{" ".join(spans)}</{tag}>\n'


def article_page(replica: ReplicaModel, site: Site, article: Article) -> str:
    t = replica.theme
    lab = LABELS[site.language]
    col = site.home_column(article)
    page = article.path
    body: list[str] = []
    images = 0
    for b in body_blocks(article, "webplus"):
        if b.kind == "p":
            body.append(render_paragraph(b, article.language))
        elif b.kind == "img":
            images += 1
            body.append(render_image(b, "webplus", images))
        elif b.kind == "att" and b.attachment is not None:
            name = esc(b.attachment.name)
            body.append(
                f'<p><a href="{esc(b.attachment.path)}" '
                f"sudyfile-attr=\"{{'title':'{name}'}}\">{name}</a></p>"
            )
        elif b.kind == "pdf" and b.attachment is not None:
            body.append(
                f'<div class="wp_pdf_player" pdfsrc="{esc(b.attachment.path)}" '
                f'sudy-wp-context="" sudy-wp-siteId="{site.owner}" '
                'style="width:100%;height:600px;"></div>'
            )
        elif b.kind == "br":
            body.append("<p><br /></p>")
    tt = t.wp_title_tag
    main = (
        column_block(replica, col)
        + breadcrumb(replica, site, page, col, article=True)
        + f'<div class="{t.wp_article_cls}" frag="窗口3" portletmode="simpleArticleAttri">\n'
        + f'<{tt} class="{t.wp_title_cls}">{esc(article.title)}</{tt}>\n'
        + _meta(replica, site, article)
        + f'<div class="{t.wp_entry_cls}"><div class="{t.wp_read_cls}">'
        + "<div class='wp_articlecontent'>"
        + "".join(body)
        + "</div></div></div>\n</div>\n"
        + prev_next(replica, site, article)
    )
    main = f'<div class="{t.article_wrap_cls}">\n{main}</div>\n'
    side = sidebar(replica, site, page, lab["related"], related_articles(site, article))
    return (
        _head(site, f"{article.title}-{site.site_title}")
        + header(replica, site, page)
        + arrange(replica, article.id, side, main)
        + footer(replica, site)
        + "</body>\n</html>\n"
    )


def home_page(replica: ReplicaModel, site: Site) -> str:
    return (
        _head(site, site.site_title)
        + header(replica, site, "/index.htm")
        + f'<div class="{replica.theme.main_cls}">\n{home_body(replica, site)}</div>\n'
        + footer(replica, site)
        + "</body>\n</html>\n"
    )


def plain_page(replica: ReplicaModel, site: Site, page: str, heading: str, paras: list[str]) -> str:
    return (
        _head(site, f"{heading}-{site.site_title}")
        + header(replica, site, page)
        + f'<div class="{replica.theme.main_cls}">\n'
        + plain_body(replica, site, heading, paras)
        + "</div>\n"
        + footer(replica, site)
        + "</body>\n</html>\n"
    )
