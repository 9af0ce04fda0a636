"""VSB (博达 Visual SiteBuilder) templates: the news site (Chinese) and the English site.

Static pages with relative links, a pager counting down (``/col.htm``, ``/col/<N-1>.htm`` …
``/col/1.htm``) and article pages under ``/info/<colid>/<id>.htm``.
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
    rel,
    related_articles,
    render_image,
    render_paragraph,
    sidebar,
    truncate,
)
from replica.model import Article, Column, ExtraLink, ReplicaModel, Site

# The charset declaration of every VSB page (bad pages swap it for a GBK one).
META_CHARSET = '<meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />'


def page_path(col: Column, k: int, pages: int) -> str:
    """Path of list page *k* (1 = newest) of *pages*: counting down like the real CMS."""
    if k == 1:
        return col.list_path
    if col.pager == "endless":  # counts up, since there is no last page to count down from
        return f"{col.list_path.removesuffix('.htm')}/{k}.htm"
    return f"{col.list_path.removesuffix('.htm')}/{pages - k + 1}.htm"


def _head(site: Site, page: str, title: str, kind: str, treeid: int, newsid: int) -> str:
    gray = esc(rel(page, "/_sitegray/_sitegray_d.css"))
    gray_js = esc(rel(page, "/_sitegray/_sitegray.js"))
    css = esc(rel(page, f"/{kind}.vsb.css"))
    keywords = "东北大学,新闻网" if site.language == "zh" else "Northeastern University,NEU"
    return (
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" '
        '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
        '<html xmlns="http://www.w3.org/1999/xhtml">\n<head>\n'
        f"{META_CHARSET}\n"
        f"<title>{esc(title)}</title>\n"
        f'<meta name="keywords" content="{keywords}" />\n'
        "<!--Announced by Visual SiteBuilder 9-->\n"
        f'<link rel="stylesheet" type="text/css" href="{gray}" />\n'
        f'<script language="javascript" src="{gray_js}"></script>\n'
        f"<!-- CustomerNO:77656262657232307b78475c5350{site.owner:08x} -->\n"
        f'<link rel="stylesheet" type="text/css" href="{css}" />\n'
        '<script type="text/javascript" src="/system/resource/js/vsbscreen.min.js" '
        'id="_vsbscreen" devices="pc|pad"></script>\n'
        '<script type="text/javascript" src="/system/resource/js/counter.js"></script>\n'
        f"<script type=\"text/javascript\">_jsq_({treeid},'/{kind}.jsp',{newsid},"
        f"{site.owner})</script>\n"
        "</head>\n<body>\n"
    )


def _pager(col: Column, page: str, k: int, pages: int, total: int) -> str:
    def link(n: int) -> str:
        return esc(rel(page, page_path(col, n, pages)))

    parts = [f'<span class="p_t">共{total}条</span> <span class="p_pages">']
    if k == 1:
        parts.append('<span class="p_first_d p_fun_d">首页</span>')
        parts.append('<span class="p_prev_d p_fun_d">上页</span>')
    else:
        parts.append(f'<span class="p_first p_fun"><a href="{link(1)}">首页</a></span>')
        parts.append(f'<span class="p_prev p_fun"><a href="{link(k - 1)}">上页</a></span>')
    shown = {1, pages} | set(range(max(1, k - 2), min(pages, k + 2) + 1))
    if k <= 3:
        shown |= set(range(1, min(pages, 5) + 1))
    previous = 0
    for n in sorted(shown):
        if n - previous > 1:
            parts.append('<span class="p_dot">...</span>')
        if n == k:
            parts.append(f'<span class="p_no_d">{n}</span>')
        else:
            parts.append(f'<span class="p_no"><a href="{link(n)}">{n}</a></span>')
        previous = n
    if k == pages:
        parts.append('<span class="p_next_d p_fun_d">下页</span>')
        parts.append('<span class="p_last_d p_fun_d">尾页</span>')
    else:
        parts.append(f'<span class="p_next p_fun"><a href="{link(k + 1)}">下页</a></span>')
        parts.append(f'<span class="p_last p_fun"><a href="{link(pages)}">尾页</a></span>')
    parts.append(f'</span> <span class="p_t">{k}/{pages}</span>')
    return (
        '<link rel="stylesheet" type="text/css" href="/system/resource/css/pagedown/sys.css" />'
        '<div class="pb_sys_common pb_sys_normal pb_sys_style1" '
        f'style="margin-top:10px;text-align:center;">{"".join(parts)}</div>'
    )


def _chunk(replica: ReplicaModel, col: Column, k: int) -> list[Article]:
    """The articles list page *k* shows: a slice, or all of them when the column never pages
    (no pager) or pages forever over the same few (endless)."""
    if col.pager != "normal":
        return list(col.articles)
    size = replica.page_size
    return col.articles[(k - 1) * size : k * size]


def _extra_item(page: str, link: ExtraLink) -> str:
    href = rel(page, link.href) if link.href.startswith("/") else link.href
    return (
        f'<li><a href="{esc(href)}" title="{esc(link.text)}" target="_blank">'
        f"{esc(link.text)}</a><span>{link.date.isoformat()}</span></li>"
    )


def _pager_block(replica: ReplicaModel, col: Column, page: str, k: int, pages: int) -> str:
    if col.pager == "none":
        return ""
    total = len(col.articles) * (pages if col.pager == "endless" else 1)
    pager = _pager(col, page, k, pages, total)
    return f'<div class="{replica.theme.pager_wrap_cls}">{pager}</div>\n'


def list_page(replica: ReplicaModel, site: Site, col: Column, k: int, pages: int) -> str:
    t = replica.theme
    page = page_path(col, k, pages)
    chunk = _chunk(replica, col, k)
    links = "no_links" not in site.broken
    items = []
    for i, a in enumerate(chunk):
        if not links:
            items.append(f"<li>{esc(truncate(a.title))}<span>{iso(a)}</span></li>")
            continue
        title_attr = "" if i % 3 == 2 else f' title="{esc(a.title)}"'
        items.append(
            f'<li><a href="{esc(rel(page, a.path))}"{title_attr} target="_blank">'
            f"{esc(truncate(a.title))}</a><span>{iso(a)}</span></li>"
        )
    if links and k == 1:
        items += [_extra_item(page, link) for link in col.extra_links]
    main = (
        f'<div class="{t.list_wrap_cls}">\n'
        + column_block(replica, col)
        + breadcrumb(replica, site, page, col, article=False)
        + f'<ul class="{t.list_ul_cls}">\n'
        + "\n".join(items)
        + "\n</ul>\n"
        + _pager_block(replica, col, page, k, pages)
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
    dyn = ",".join(str(a.id) for a in chunk)
    return (
        _head(site, page, f"{col.label}-{site.site_title}", "list", col.colid, -1)
        + header(replica, site, page)
        + arrange(replica, col.colid + k, side, main)
        + footer(replica, site)
        + f'<script>_showDynClickBatch([],[{dyn}],"wbnews", {site.owner})</script>\n'
        + "</body>\n</html>\n"
    )


def meta_line(replica: ReplicaModel, site: Site, article: Article) -> str:
    t = replica.theme
    tag = t.meta_tag
    date = iso(article) if replica.date_shown(article) else None
    sep = article.separator
    authors, editors = sep.join(article.authors), sep.join(article.editors)
    if site.language == "en":
        people = [
            f"Written By: {authors}",
            f"Edited By:{editors}",
            f"Resource: {article.origin or ''}",
        ]
        if t.meta_layout == "spans":
            first = "".join(f"<span>{esc(p)}</span>" for p in people)
        else:
            first = esc("".join(people))
        out = f'<{tag} class="{t.meta_cls}">{first}</{tag}>'
        if date is not None:
            gap = "  " if article.id % 6 == 0 else " "
            out += f'<{tag} class="{t.meta2_cls}">Update:{gap}{date}</{tag}>'
        return out + "\n"
    form = article.meta_form
    parts: list[str] = []
    if form == 0:
        parts = [f"编辑: {editors}"]
    elif form == 1:
        parts = [f"作者: {authors}", f"编辑: {editors}", f"来源:{article.origin}"]
    elif form == 2:
        parts = [f"作者：{authors}", f"来源：{article.origin}"]
    date_part = None
    if date is not None:
        date_part = f"更新日期：{date}" if form == 2 else f"更新日期: {date}"
    if t.meta_layout == "two":
        out = f'<{tag} class="{t.meta_cls}">{esc(" ".join(parts))}</{tag}>'
        if date_part is not None:
            out += f'<{tag} class="{t.meta2_cls}">{esc(date_part)}</{tag}>'
        return out + "\n"
    if date_part is not None:
        parts.append(date_part)
    if t.meta_layout == "spans":
        inner = " ".join(f"<span>{esc(p)}</span>" for p in parts)
    else:
        inner = esc(" ".join(parts))
    return f'<{tag} class="{t.meta_cls}">{inner}</{tag}>\n'


def attachment_list(site: Site, article: Article) -> str:
    if not article.attachments:
        return ""
    rows = []
    for att in article.attachments:
        fid = att.path.rpartition("wbfileid=")[2]
        counter = (
            f'<span id="nattach{fid}"><script language="javascript">'
            f'getClickTimes({fid},{site.owner},"wbnewsfile","attach")</script></span>'
        )
        link = f'<a href="{esc(att.path)}" target="_blank">{esc(att.name)}</a>'
        if site.language == "zh":
            rows.append(f"<li>附件【{link}】已下载{counter}次</li>")
        else:
            rows.append(f"<li>Attachment: {link} Downloads: {counter}</li>")
    return f'<ul style="list-style-type:none;">{"".join(rows)}</ul>\n'


def article_page(replica: ReplicaModel, site: Site, article: Article) -> str:
    t = replica.theme
    lab = LABELS[site.language]
    col = site.home_column(article)
    page = article.path
    blocks = body_blocks(article, "vsb")
    body: list[str] = []
    images = 0
    for b in blocks:
        if b.kind == "p":
            body.append(render_paragraph(b, article.language))
        elif b.kind == "img":
            images += 1
            body.append(render_image(b, "vsb", images))
        elif b.kind == "br":
            body.append("<p><br /></p>")
    clicks = (
        f'<{t.meta_tag} class="{t.clicks_cls}">{lab["clicks"]}'
        f'<span id="dynclicks_wbnews_{article.id}_{article.id % 997}"></span></{t.meta_tag}>'
        f'<script>_showDynClicks("wbnews", {site.owner}, {article.id})</script>\n'
    )
    main = (
        f'<div class="{t.article_wrap_cls}">\n'
        + column_block(replica, col)
        + breadcrumb(replica, site, page, col, article=True)
        + '<script language="javascript" src="/system/resource/js/news/newscontent.js"></script>'
        + '<form name="_newscontent_fromname">\n'
        + f'<{t.title_tag} class="{t.title_cls}">{esc(article.title)}</{t.title_tag}>\n'
        + meta_line(replica, site, article)
        + clicks
        + f'<div class="{t.content_wrap_cls}" id="vsb_content{t.content_suffix}">'
        + '<div class="v_news_content">\n'
        + "\n".join(body)
        + '\n</div></div><div id="div_vote_id"></div>\n'
        + attachment_list(site, article)
        + "</form>\n"
        + prev_next(replica, site, article)
        + "</div>\n"
    )
    side = sidebar(replica, site, page, lab["related"], related_articles(site, article))
    return (
        _head(site, page, f"{article.title}-{site.site_title}", "content", col.colid, article.id)
        + header(replica, site, page)
        + arrange(replica, article.id, side, main)
        + footer(replica, site)
        + "</body>\n</html>\n"
    )


def home_page(replica: ReplicaModel, site: Site) -> str:
    page = "/index.htm"
    return (
        _head(site, page, site.site_title, "index", 1001, -1)
        + header(replica, site, page)
        + f'<div class="{replica.theme.main_cls}">\n{home_body(replica, site)}</div>\n'
        + footer(replica, site)
        + "</body>\n</html>\n"
    )


def plain_page(replica: ReplicaModel, site: Site, page: str, heading: str, paras: list[str]) -> str:
    return (
        _head(site, page, f"{heading}-{site.site_title}", "content", 1001, -1)
        + header(replica, site, page)
        + f'<div class="{replica.theme.main_cls}">\n'
        + plain_body(replica, site, heading, paras)
        + "</div>\n"
        + footer(replica, site)
        + "</body>\n</html>\n"
    )
