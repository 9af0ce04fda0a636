"""Helpers shared by the VSB and WebPlus templates: escaping, relative links, body blocks,
sidebars and the page chrome (header nav, footer)."""

from __future__ import annotations

import html
import posixpath
import random
from dataclasses import dataclass
from typing import Literal

from replica.model import Article, Attachment, Column, ReplicaModel, Site, original_image

TITLE_LIMIT = 22  # list link texts longer than this are cut and get "..."
SIDEBAR_SIZE = 5

BlockKind = Literal["p", "img", "att", "pdf", "br"]


def esc(value: str) -> str:
    return html.escape(value, quote=True)


def rel(from_path: str, to_path: str) -> str:
    """The relative link from page *from_path* to *to_path*, as a static CMS writes it."""
    base = posixpath.dirname(from_path) or "/"
    target, sep, query = to_path.partition("?")
    out = posixpath.relpath(target, base)
    return out + sep + query


def truncate(title: str, limit: int = TITLE_LIMIT) -> str:
    return title if len(title) <= limit else title[:limit] + "..."


def replace_once(page: str, old: str, new: str) -> str:
    """*page* with its one *old* fragment replaced: a template change that moves the fragment
    must fail loudly, not serve a normal page where a variant was meant."""
    if page.count(old) != 1:
        raise RuntimeError(f"expected one {old[:60]!r} in the rendered page")
    return page.replace(old, new)


def iso(article: Article) -> str:
    return article.date.isoformat()


@dataclass(frozen=True)
class Block:
    """One top-level piece of an article body."""

    kind: BlockKind
    text: str = ""
    style: int = 0
    src: str = ""
    attachment: Attachment | None = None


def body_blocks(article: Article, cms: str) -> list[Block]:
    """The body of *article* in document order, for rendering and for the ground truth.

    Text-bearing blocks are ``p`` (a paragraph) and, on WebPlus, ``att`` (a paragraph holding
    only an attachment link: its text is the file name). VSB attachments are not in the body.
    """
    rng = random.Random(article.body_seed ^ 0x5EED)
    paragraphs = article.paragraphs
    last = max(len(paragraphs) - 1, 0)
    blocks: list[Block] = []
    for i, para in enumerate(paragraphs):
        blocks.append(Block("p", text=para, style=rng.randrange(4)))
        for src, slot in zip(article.images, article.image_slots, strict=True):
            if min(slot, last) == i:
                blocks.append(Block("img", src=src))
    if not paragraphs:
        blocks.extend(Block("img", src=src) for src in article.images)
    if cms == "webplus":
        for att in article.attachments:
            blocks.append(Block("pdf" if att.player else "att", text=att.name, attachment=att))
    if article.trailing_break:
        blocks.append(Block("br"))
    return blocks


def block_text(blocks: list[Block]) -> str:
    """The rendered text of a body: text-bearing blocks joined by blank lines."""
    return "\n\n".join(b.text for b in blocks if b.kind in ("p", "att") and b.text)


def render_paragraph(block: Block, language: str) -> str:
    t = block.text
    if block.style == 1:
        return f'<p style="text-indent:2em;">{esc(t)}</p>'
    if block.style == 2:
        font = "宋体" if language == "zh" else "Arial"
        return f'<p><span style="font-size:16px;font-family:{font};">{esc(t)}</span></p>'
    if block.style == 3:
        cuts = [i for i in (t.find("，"), t.find(", ")) if i > 0]
        if cuts:
            cut = min(cuts)
            return f'<p style="text-indent:2em;"><strong>{esc(t[:cut])}</strong>{esc(t[cut:])}</p>'
    return f"<p>{esc(t)}</p>"


def render_image(block: Block, cms: str, number: int) -> str:
    src = esc(block.src)
    if cms == "vsb":
        return (
            f'<p style="text-align:center;"><img class="img_vsb_content" src="{src}" '
            f'orisrc="{src}" style="width:600px;" /></p>'
        )
    return (
        f'<p style="text-align:center;"><img data-layer="photo" src="{src}" '
        f'original-src="{esc(original_image(block.src))}" style="float:none;" '
        f"sudyfile-attr=\"{{'title':'{number}.jpg'}}\" /></p>"
    )


def other_column_articles(site: Site, col: Column, count: int = SIDEBAR_SIZE) -> list[Article]:
    """The newest articles of the site's other columns (not listed in *col*)."""
    pool: list[Article] = []
    for other in site.columns:
        if other is not col:
            pool.extend(a for a in other.articles[: count * 2] if a.id not in col.index)
    pool.sort(key=Article.sort_key, reverse=True)
    out: list[Article] = []
    for a in pool:
        if a not in out:
            out.append(a)
    return out[:count]


def related_articles(site: Site, article: Article, count: int = SIDEBAR_SIZE) -> list[Article]:
    """A fixed pseudo-random choice of other articles of the site, none dated like *article*."""
    rng = random.Random(article.id * 7919 + 17)
    listed = site.listed
    out: list[Article] = []
    tries = 0
    while len(out) < count and tries < count * 20 and listed:
        tries += 1
        cand = listed[rng.randrange(len(listed))]
        if cand is article or cand.date == article.date or cand in out:
            continue
        out.append(cand)
    return out


def neighbours(site: Site, article: Article) -> tuple[Article | None, Article | None]:
    """(previous = newer, next = older) article in the article's home column."""
    col = site.home_column(article)
    i = col.index.get(article.id)
    if i is None:
        return None, None
    prev = col.articles[i - 1] if i > 0 else None
    nxt = col.articles[i + 1] if i + 1 < len(col.articles) else None
    return prev, nxt


# ---------------------------------------------------------------------------- chrome

LABELS = {
    "zh": {
        "home": "网站首页",
        "about": "关于我们",
        "location": "当前位置:",
        "text": "正文",
        "popular": "热点新闻",
        "related": "相关新闻",
        "prev": "上一篇：",
        "next": "下一篇：",
        "none": "没有了",
        "headlines": "头条新闻",
        "links": "快速链接",
        "clicks": "点击：",
    },
    "en": {
        "home": "Home",
        "about": "About",
        "location": "Location:",
        "text": "Text",
        "popular": "Popular",
        "related": "Related News",
        "prev": "Previous:",
        "next": "Next:",
        "none": "None",
        "headlines": "Headlines",
        "links": "Quick Links",
        "clicks": "Views:",
    },
}

FOOTERS = {
    "news": (
        "地址：辽宁省沈阳市和平区文化路三巷11号　邮编：110819",
        "版权所有 © 东北大学新闻网　辽ICP备10000001号-1",
    ),
    "english": (
        "Address: No. 3-11, Wenhua Road, Heping District, Shenyang, Liaoning, P. R. China 110819",
        "Copyright © Northeastern University. All Rights Reserved.　辽ICP备10000001号-1",
    ),
    "college": (
        "地址：辽宁省沈阳市浑南区创新路195号　信息科学与工程学院",
        "版权所有 © 东北大学信息科学与工程学院　辽ICP备10000001号-2",
    ),
}

OLD_BROWSER = (
    "Upgrade the browser version",
    "You are using an older version of your browser. "
    "Please upgrade your browser for a better experience.",
)


def link_to(site: Site, page: str, target: str) -> str:
    """A link from *page* to *target* as the CMS writes it (VSB relative, WebPlus rooted)."""
    return rel(page, target) if site.cms == "vsb" else target


def header(replica: ReplicaModel, site: Site, page: str) -> str:
    t = replica.theme
    lab = LABELS[site.language]
    frag = ' frag="窗口1"' if site.cms == "webplus" else ""
    items = [f'<li><a href="{esc(link_to(site, page, "/index.htm"))}">{lab["home"]}</a></li>']
    items += [
        f'<li><a href="{esc(link_to(site, page, c.list_path))}">{esc(c.label)}</a></li>'
        for c in site.columns
    ]
    items.append(f'<li><a href="{esc(link_to(site, page, "/about.htm"))}">{lab["about"]}</a></li>')
    logo = esc(link_to(site, page, "/images/logo.png"))
    return (
        f'<div class="{t.header_cls}"{frag}>\n'
        f'<a href="{esc(link_to(site, page, "/index.htm"))}"><img src="{logo}" '
        f'alt="{esc(site.site_title)}" /></a>\n'
        f'<ul class="{t.nav_cls}">{"".join(items)}</ul>\n</div>\n'
    )


def footer(replica: ReplicaModel, site: Site) -> str:
    t = replica.theme
    lines = "".join(f"<p>{esc(line)}</p>" for line in FOOTERS[site.name])
    out = f'<div class="{t.footer_cls}">{lines}</div>\n'
    if site.language == "en":
        out += (
            f'<div class="{t.notice_cls}"><h3>{OLD_BROWSER[0]}</h3><p>{OLD_BROWSER[1]}</p></div>\n'
        )
    return out


def sidebar(
    replica: ReplicaModel,
    site: Site,
    page: str,
    heading: str,
    articles: list[Article],
    *,
    links: bool = True,
) -> str:
    t = replica.theme
    frag = ' frag="窗口2"' if site.cms == "webplus" else ""
    items = []
    for a in articles:
        if links:
            href = esc(link_to(site, page, a.path))
            items.append(
                f'<li><a href="{href}" title="{esc(a.title)}">{esc(truncate(a.title))}</a>'
                f"<span>{iso(a)}</span></li>"
            )
        else:
            items.append(f"<li>{esc(truncate(a.title))}<span>{iso(a)}</span></li>")
    return (
        f'<div class="{t.sidebar_cls}"{frag}><div class="{t.sidebar_title_cls}">{heading}</div>'
        f"<ul>{''.join(items)}</ul></div>\n"
    )


def arrange(replica: ReplicaModel, key: int, side: str, main: str) -> str:
    t = replica.theme
    inner = side + main if t.sidebar_first(key) else main + side
    return f'<div class="{t.main_cls}">\n{inner}</div>\n'


def breadcrumb(replica: ReplicaModel, site: Site, page: str, col: Column, article: bool) -> str:
    t = replica.theme
    lab = LABELS[site.language]
    if site.cms == "vsb":
        sep = " - "
        home = lab["home"]
    else:
        sep = " &gt; "
        home = "首页"
    parts = [
        f'<a href="{esc(link_to(site, page, "/index.htm"))}">{home}</a>',
        f'<a href="{esc(link_to(site, page, col.list_path))}">{esc(col.label)}</a>',
    ]
    if article:
        parts.append(lab["text"])
    return f'<div class="{t.breadcrumb_cls}">{lab["location"]} {sep.join(parts)}</div>\n'


def column_block(replica: ReplicaModel, col: Column) -> str:
    return f'<div class="{replica.theme.colblock_cls}"><h2>{esc(col.label)}</h2></div>\n'


def prev_next(replica: ReplicaModel, site: Site, article: Article) -> str:
    t = replica.theme
    lab = LABELS[site.language]
    prev, nxt = neighbours(site, article)
    rows = []
    for label, other in ((lab["prev"], prev), (lab["next"], nxt)):
        if other is None:
            rows.append(f"<p>{label}{lab['none']}</p>")
        else:
            href = esc(link_to(site, article.path, other.path))
            rows.append(f'<p>{label}<a href="{href}">{esc(other.title)}</a></p>')
    return f'<div class="{t.prevnext_cls}">{"".join(rows)}</div>\n'


def home_body(replica: ReplicaModel, site: Site) -> str:
    """The main block of /index.htm: headlines plus links that are not columns."""
    t = replica.theme
    lab = LABELS[site.language]
    page = "/index.htm"
    heads = []
    for col in site.columns:
        for a in col.articles[:2]:
            heads.append(
                f'<li><a href="{esc(link_to(site, page, a.path))}">{esc(a.title)}</a>'
                f"<span>{iso(a)}</span></li>"
            )
    zh = site.language == "zh"
    others = (
        ("/about.htm", lab["about"]),
        ("javascript:;", "校园地图" if zh else "Campus Map"),
        ("mailto:news@example.edu.cn", "投稿邮箱" if zh else "Contact Us"),
        ("http://www.example.org/", "友情链接" if zh else "Friendly Link"),
        ("/docs/guide.pdf", "投稿指南" if zh else "Submission Guide"),
        ("/private/secret.htm", "内部通知" if zh else "Staff Only"),
    )
    links = "".join(
        f'<li><a href="{esc(link_to(site, page, href) if href.startswith("/") else href)}">'
        f"{esc(text)}</a></li>"
        for href, text in others
    )
    return (
        f'<div class="{t.home_cls}"><h2>{lab["headlines"]}</h2><ul>{"".join(heads)}</ul></div>\n'
        f'<div class="{t.about_cls}"><h2>{lab["links"]}</h2><ul>{links}</ul></div>\n'
    )


def plain_body(replica: ReplicaModel, site: Site, heading: str, paragraphs: list[str]) -> str:
    t = replica.theme
    paras = "".join(f"<p>{esc(p)}</p>" for p in paragraphs)
    return f'<div class="{t.about_cls}"><h2>{esc(heading)}</h2>{paras}</div>\n'
