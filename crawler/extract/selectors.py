"""Every selector, fingerprint and text label the parsers rely on, in one place.

The content containers, the pager markup, the URL shapes and the text labels are what stays the
same across NEU's templates; wrapper class names do not, so nothing here names one.
"""

from __future__ import annotations

import re

# --- CMS fingerprints, searched in the raw HTML -------------------------------------------------
FINGERPRINTS: dict[str, tuple[str, ...]] = {
    "vsb": (
        "Visual SiteBuilder",
        "_sitegray",
        "/system/resource/js/counter.js",
        "_newscontent_fromname",
        "v_news_content",
        "pb_sys_common",
    ),
    "webplus": (
        "/_css/_system/system.css",
        "sudy-wp-siteId",
        "wp_articlecontent",
        "wp_paging",
        'frag="窗口',
        "portletmode=",
    ),
}

# --- Article pages ------------------------------------------------------------------------------
CONTENT_CONTAINER: dict[str, str] = {
    "vsb": "//div[contains(concat(' ', normalize-space(@class), ' '), ' v_news_content ')]",
    "webplus": "//div[contains(concat(' ', normalize-space(@class), ' '), ' wp_articlecontent ')]",
}
# VSB wraps the whole article (title, meta, body, attachments, prev/next) in this form.
VSB_ARTICLE_FORM = "ancestor::form[@name='_newscontent_fromname']"
# Fallback container when the class is missing: VSB's body holder id has per-template suffixes.
VSB_CONTENT_ID = "//div[starts-with(@id, 'vsb_content')]"

# The image as the page shows it; the others stand in when src is a placeholder (data: URI).
IMAGE_SOURCE_ATTRIBUTES = ("src", "orisrc", "original-src", "data-original", "data-src")
PDF_PLAYER_ATTRIBUTE = "pdfsrc"

# Elements whose text never belongs to an article's title or meta line.
NON_CONTENT_TAGS = frozenset({"script", "style", "noscript", "template", "select", "option"})
BLOCK_TAGS = frozenset(
    "address article aside blockquote body br dd div dl dt fieldset figcaption figure footer "
    "form h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section table tbody td th thead "
    "tfoot tr ul center".split()
)
HEADING_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
BREADCRUMB_RE = re.compile(
    r"当前位置|您的位置|所在位置|^\s*位置\s*[:：]|Location\s*[:：]|首页\s*[>»>-]"
)
# Site-name suffixes in <title>: "标题-东北大学新闻网", "Title | NEU".
TITLE_SEPARATOR = r"\s*(?:--|[-_|–—·])\s*"
TITLE_SEPARATOR_RE = re.compile(TITLE_SEPARATOR)
TITLE_SEPARATOR_AT_END_RE = re.compile(TITLE_SEPARATOR + "$")

# Text labels of the meta line, by the field they introduce. ``None`` marks labels that only end
# the previous value (click counts, reviewers…). Longer labels must win over their suffixes
# (发布时间 over 时间), which ``LABEL_RE`` ensures by trying longer alternatives first.
LABELS: dict[str | None, tuple[str, ...]] = {
    "authors": ("作者", "撰稿人", "撰稿", "撰文", "文字", "记者", "通讯员", "Written By", "Author"),
    "editors": ("责任编辑", "编辑", "责编", "Edited By", "Editor"),
    "origin": ("信息来源", "稿件来源", "新闻来源", "来源", "Resource", "Source"),
    "published": (
        "更新日期", "更新时间", "发布日期", "发布时间", "发表时间", "发表日期", "发文日期",
        "日期", "时间", "Updated", "Update", "Published", "Release Date", "Date",
    ),
    None: (
        "浏览次数", "浏览量", "浏览", "点击数", "点击量", "点击率", "阅读次数", "阅读量", "阅读",
        "访问量", "审核", "审稿", "摄影", "图片", "Views", "Hits", "Clicks", "Photo By",
        "Reviewed By",
    ),
}  # fmt: skip
LABEL_FIELD: dict[str, str | None] = {
    label.lower(): field for field, labels in LABELS.items() for label in labels
}
LABEL_RE = re.compile(
    r"(?P<label>"
    + "|".join(re.escape(label) for label in sorted(LABEL_FIELD, key=len, reverse=True))
    + r")\s*[:：]",
    re.IGNORECASE,
)
# Names in one label value: "Lei Chang, Yuhui Wang", "张蕾、李明", "张蕾；李明".
NAME_SEPARATOR_RE = re.compile(r"\s*[,，、;；]\s*")
MAX_LABEL_VALUE_LENGTH = 80

# --- List pages ---------------------------------------------------------------------------------
ARTICLE_URL_PATTERNS: dict[str, re.Pattern[str]] = {
    # /info/1002/12345.htm, also under a sub-site folder: /dswcdbdh/info/1141/1.htm
    "vsb": re.compile(r"/info/\d+/\d+\.htm$"),
    # /2021/0511/c1234a56789/page.htm (pagem.htm is the mobile copy)
    "webplus": re.compile(r"/\d{4}/\d{4}/c\d+a\d+/pagem?\.htm$"),
}
VSB_DYNAMIC_ARTICLE_RE = re.compile(r"content\.jsp\?.*wbnewsid=\d+")
# Ancestors that group the items of one list.
LIST_GROUP_TAGS = frozenset({"ul", "ol", "table", "tbody", "dl"})
# The pager's "next page" link, by its text or by its class.
NEXT_PAGE_TEXTS = frozenset({"下页", "下一页", "下一頁", "后页", "next", "next page", "next>", ">"})
NEXT_PAGE_CLASS_RE = re.compile(r"\bp_next\b|\bnext\b", re.IGNORECASE)
# ... and its "last page" link, from which every page's URL follows (VSB: col/N-1.htm … col/1.htm;
# WebPlus: list2.htm … listN.htm).
LAST_PAGE_TEXTS = frozenset({"尾页", "末页", "最后一页", "last", "last page", ">>"})
LAST_PAGE_CLASS_RE = re.compile(r"\bp_last\b|\blast\b", re.IGNORECASE)
NUMBERED_PAGE_RE = re.compile(r"^(?P<stem>.*?)(?P<number>\d+)(?P<suffix>\.s?html?)$")
PAGER_MARKERS = (
    "//div[contains(@class, 'pb_sys_common')]",
    "//ul[contains(@class, 'wp_paging')]",
    "//*[starts-with(@id, 'fanye')]",
)
# Home page paths: start URLs with these paths are home pages whose column lists are discovered.
HOME_PATHS = frozenset({"", "/", "/index.htm", "/index.html", "/main.htm", "/main.psp"})
LIST_PAGE_SUFFIXES = (".htm", ".html", ".psp", ".jsp", "/")
MIN_DISCOVERED_LIST_LINKS = 5
