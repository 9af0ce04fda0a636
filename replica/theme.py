"""Themes: the wrapper class names, title tags and meta structure of the generated templates.

A crawler must not depend on a template's wrapper class names, so every name that is not one
of the CMS's stable markers comes from a :class:`Theme`. ``"default"`` is one fixed set;
``"variant-<n>"`` derives a different set from ``random.Random(n)``. The stable markers (VSB
``form[name=_newscontent_fromname]``, ``div.v_news_content``, ``id=vsb_content…``, the
``pb_sys_*`` pager; WebPlus ``div.wp_articlecontent``, ``ul.wp_paging``, ``a.next``), the text
labels and the URL shapes are the same in every theme.
"""

from __future__ import annotations

import dataclasses
import random
import re
from dataclasses import dataclass
from typing import Literal

MetaLayout = Literal["one", "two", "spans"]
SidebarPosition = Literal["before", "after", "mixed"]

TITLE_TAGS = ("h1", "h2", "h3", "div", "p")
META_TAGS = ("div", "span", "p")
META_LAYOUTS: tuple[MetaLayout, ...] = ("one", "two", "spans")
CONTENT_SUFFIXES = ("_2", "_502", "_3", "_1001")

# Class names of the CMS itself, fixed in every theme (never used for a themed wrapper).
STABLE_CLASSES = frozenset(
    {
        "v_news_content",
        "img_vsb_content",
        "pb_sys_common",
        "pb_sys_normal",
        "pb_sys_style1",
        "p_t",
        "p_pages",
        "p_first",
        "p_first_d",
        "p_prev",
        "p_prev_d",
        "p_next",
        "p_next_d",
        "p_last",
        "p_last_d",
        "p_fun",
        "p_fun_d",
        "p_no",
        "p_no_d",
        "p_dot",
        "wp_articlecontent",
        "wp_pdf_player",
        "wp_paging",
        "pages_count",
        "per_page",
        "per_count",
        "all_count",
        "page_nav",
        "first",
        "prev",
        "next",
        "last",
        "page_jump",
        "pages",
        "curr_page",
        "all_pages",
        "WP_VisitCount",
    }
)


@dataclass(frozen=True)
class Theme:
    """Names and structure choices for one look of the generated sites."""

    name: str
    # chrome shared by both CMS families
    header_cls: str
    nav_cls: str
    main_cls: str
    footer_cls: str
    colblock_cls: str
    breadcrumb_cls: str
    sidebar_cls: str
    sidebar_title_cls: str
    home_cls: str
    about_cls: str
    notice_cls: str
    sidebar_position: SidebarPosition
    # VSB list page
    list_wrap_cls: str
    list_ul_cls: str
    pager_wrap_cls: str
    # VSB article page
    article_wrap_cls: str
    title_tag: str
    title_cls: str
    meta_layout: MetaLayout
    meta_tag: str
    meta_cls: str
    meta2_cls: str
    clicks_cls: str
    content_suffix: str
    content_wrap_cls: str
    attach_cls: str
    prevnext_cls: str
    # WebPlus
    wp_list_window: int
    wp_list_ul_cls: str
    wp_item_cls: str
    wp_item_title_cls: str
    wp_item_date_cls: str
    wp_article_cls: str
    wp_title_tag: str
    wp_title_cls: str
    wp_meta_tag: str
    wp_meta_cls: str
    wp_update_cls: str
    wp_views_cls: str
    wp_entry_cls: str
    wp_read_cls: str

    def sidebar_first(self, key: int) -> bool:
        """Whether the sidebar comes before the main block on the page identified by *key*."""
        if self.sidebar_position == "mixed":
            return key % 2 == 0
        return self.sidebar_position == "before"

    def class_names(self) -> frozenset[str]:
        """Every themed class name (not the stable CMS markers)."""
        out: set[str] = set()
        for f in dataclasses.fields(self):
            if f.name.endswith("_cls"):
                out.update(str(getattr(self, f.name)).split())
        return frozenset(out)


DEFAULT = Theme(
    name="default",
    header_cls="header",
    nav_cls="nav",
    main_cls="main-wrap",
    footer_cls="footer",
    colblock_cls="lm-name",
    breadcrumb_cls="dqwz",
    sidebar_cls="side-news",
    sidebar_title_cls="side-title",
    home_cls="home-news",
    about_cls="about-text",
    notice_cls="browser-tip",
    sidebar_position="mixed",
    list_wrap_cls="list-box",
    list_ul_cls="news-list",
    pager_wrap_cls="page-box",
    article_wrap_cls="content-box",
    title_tag="h2",
    title_cls="con-title",
    meta_layout="one",
    meta_tag="div",
    meta_cls="con-info",
    meta2_cls="con-date",
    clicks_cls="con-clicks",
    content_suffix="",
    content_wrap_cls="con-text",
    attach_cls="fujian",
    prevnext_cls="prev-next",
    wp_list_window=6,
    wp_list_ul_cls="news_list",
    wp_item_cls="news",
    wp_item_title_cls="news_title",
    wp_item_date_cls="news_meta",
    wp_article_cls="article",
    wp_title_tag="h1",
    wp_title_cls="arti_title",
    wp_meta_tag="p",
    wp_meta_cls="arti_metas",
    wp_update_cls="arti_update",
    wp_views_cls="arti_views",
    wp_entry_cls="entry",
    wp_read_cls="read",
)

_PARTS = (
    "con",
    "art",
    "xw",
    "nr",
    "zw",
    "box",
    "txt",
    "wrap",
    "detail",
    "cont",
    "bt",
    "tit",
    "info",
    "pane",
    "blk",
    "sec",
    "col",
    "lm",
    "wz",
    "mod",
    "area",
    "item",
    "sub",
    "cell",
    "part",
    "frame",
    "zone",
    "body",
    "main",
    "show",
)
_RESERVED_PREFIXES = ("wp_", "p_", "pb_", "v_news", "vsb", "news")


def _class_name(rng: random.Random, taken: set[str]) -> str:
    while True:
        a, b = rng.choice(_PARTS), rng.choice(_PARTS)
        form = rng.randrange(4)
        if form == 0:
            name = f"{a}-{b}"
        elif form == 1:
            name = f"{a}_{b}"
        elif form == 2:
            name = f"{a}{b}"
        else:
            name = f"{a}{b}{rng.randint(1, 9)}"
        if (
            a != b
            and name not in taken
            and name not in STABLE_CLASSES
            and not name.startswith(_RESERVED_PREFIXES)
        ):
            taken.add(name)
            return name


def variant(n: int) -> Theme:
    """The theme ``variant-<n>``: every themed name and structure choice differs from default."""
    rng = random.Random(n)
    taken = set(DEFAULT.class_names())
    changes: dict[str, object] = {"name": f"variant-{n}"}
    for f in dataclasses.fields(DEFAULT):
        if f.name.endswith("_cls"):
            changes[f.name] = _class_name(rng, taken)
    changes["title_tag"] = rng.choice([t for t in TITLE_TAGS if t != DEFAULT.title_tag])
    changes["wp_title_tag"] = rng.choice([t for t in TITLE_TAGS if t != DEFAULT.wp_title_tag])
    layout, tag = rng.choice(
        [
            (lay, tag)
            for lay in META_LAYOUTS
            for tag in META_TAGS
            if (lay, tag) != (DEFAULT.meta_layout, DEFAULT.meta_tag)
        ]
    )
    changes["meta_layout"] = layout
    changes["meta_tag"] = tag
    changes["wp_meta_tag"] = rng.choice([t for t in META_TAGS if t != DEFAULT.wp_meta_tag])
    changes["content_suffix"] = rng.choice(CONTENT_SUFFIXES)
    changes["sidebar_position"] = rng.choice(("before", "after", "mixed"))
    changes["wp_list_window"] = rng.choice([w for w in range(2, 40) if w != DEFAULT.wp_list_window])
    return dataclasses.replace(DEFAULT, **changes)  # type: ignore[arg-type]


_VARIANT_RE = re.compile(r"variant-(-?\d+)")


def get_theme(name: str) -> Theme:
    """``"default"`` or ``"variant-<n>"`` for any integer n."""
    if name == "default":
        return DEFAULT
    match = _VARIANT_RE.fullmatch(name)
    if match is None:
        raise ValueError(f"unknown theme {name!r}: use 'default' or 'variant-<n>'")
    return variant(int(match.group(1)))
