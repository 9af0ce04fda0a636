"""The selectors and text labels every CMS family shares, in one place.

What is specific to one family (fingerprints, content containers, article URLs, pagers) is in
``crawler.extract.profiles``. Text labels, block structure and pager link texts are what stays
the same across templates; wrapper class names do not, so nothing here names one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

# --- Article pages ------------------------------------------------------------------------------
# The image as the page shows it; the others stand in when src is a placeholder (data: URI).
IMAGE_SOURCE_ATTRIBUTES = ("src", "orisrc", "original-src", "data-original", "data-src")
PDF_PLAYER_ATTRIBUTE = "pdfsrc"
# Elements that may link an attachment, in document order (an XPath union keeps it).
ATTACHMENT_CANDIDATES = f".//a[@href] | .//*[@{PDF_PLAYER_ATTRIBUTE}]"

# Elements whose text never belongs to an article's title or meta line.
NON_CONTENT_TAGS = frozenset({"script", "style", "noscript", "template", "select", "option"})
BLOCK_TAGS = frozenset(
    "address article aside blockquote body br dd div dl dt fieldset figcaption figure footer "
    "form h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section table tbody td th thead "
    "tfoot tr ul center".split()
)
HEADING_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
# Attributes that, inside a content container, are the editor's formatting, not page layout.
LAYOUT_ATTRIBUTES = ("class", "id")
BREADCRUMB_RE = re.compile(
    r"当前位置|您的位置|所在位置|^\s*位置\s*[:：]|Location\s*[:：]|首页\s*[>»>-]"
)
# Site-name suffixes in <title>: "标题-东北大学新闻网", "Title | NEU".
TITLE_SEPARATOR = r"\s*(?:--|[-_|–—·])\s*"
TITLE_SEPARATOR_RE = re.compile(TITLE_SEPARATOR)
TITLE_SEPARATOR_AT_END_RE = re.compile(TITLE_SEPARATOR + "$")

# Text labels of the meta line, by the field they introduce, and the labels that are never a
# value (uploaders, reviewers, counters…): they only end the previous value. Longer labels win over
# their suffixes (发布时间 over 时间, 本文作者 over 作者): ``Vocabulary`` tries them first.
LABELS: dict[str, tuple[str, ...]] = {
    "authors": (
        "本文作者", "文章作者", "作者", "撰稿人", "撰稿", "撰文", "文字", "记者", "通讯员", "文",
        "Written By", "Authors", "Author",
    ),
    "editors": (
        "责任编辑", "本文编辑", "网络编辑", "编辑", "责编", "Edited By", "Editors", "Editor",
    ),
    "origin": (
        "文章来源", "信息来源", "稿件来源", "新闻来源", "消息来源", "来源", "Resource", "Source",
    ),
    "published": (
        "更新日期", "更新时间", "发布日期", "发布时间", "发表时间", "发表日期", "发文日期",
        "发稿时间", "日期", "时间", "Updated", "Update", "Published", "Release Date", "Date",
    ),
}  # fmt: skip
IGNORED_LABELS: tuple[str, ...] = (
    "发布者", "发布人", "发布单位", "发布部门", "录入员", "录入者", "录入", "上传者",
    "审核人", "审核", "审稿人", "审稿", "审校", "校对", "终审", "初审", "签发",
    "点击次数", "点击数", "点击量", "点击率", "点击", "浏览次数", "浏览量", "浏览数", "浏览",
    "阅读次数", "阅读量", "阅读数", "阅读", "访问次数", "访问量", "字号", "分享到",
    "摄影", "摄像", "图片", "图", "摄",
    "Views", "Hits", "Clicks", "Photo By", "Photos", "Photo", "Reviewed By",
)  # fmt: skip
# What follows a label. Labels of one character (文：张三, 图/李四) may also take a slash, and
# count only at the start of a line or after a separator, never inside a word (全文：, 正文：).
LABEL_SEPARATORS = ":："
SHORT_LABEL_SEPARATORS = ":：/"
SEPARATOR_RE = re.compile(r"[:：/]")
# An unknown label (``联系人：``, ``审批人：``) ends the value before it, as a known one does.
UNKNOWN_LABEL = r"(?:^|(?<=[\s\]】)）|,，;；]))[\u4e00-\u9fff]{2,6}\s*[:：]"
# Names in one label value: "Lei Chang, Yuhui Wang", "张蕾、李明", "张蕾；李明".
NAME_SEPARATOR_RE = re.compile(r"\s*[,，、;；]\s*")
MAX_LABEL_VALUE_LENGTH = 80
# How many blocks at the end of a body may hold a byline (本文作者：…, 文章来源：…).
BYLINE_WINDOW = 3
BYLINE_FIELDS = ("authors", "editors", "origin")


@dataclass(frozen=True)
class Vocabulary:
    """Meta line labels by field, and the labels that are never a value (field ``None``)."""

    fields: Mapping[str, tuple[str, ...]]
    ignored: tuple[str, ...]
    field_of: Mapping[str, str | None] = field(init=False, repr=False, compare=False)
    # Label lengths, longest first: a label is looked up by the text before a separator.
    lengths: tuple[int, ...] = field(init=False, repr=False, compare=False)
    # Their last characters: most separators (times, URLs) follow none of them.
    endings: frozenset[str] = field(init=False, repr=False, compare=False)
    leading: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        field_of: dict[str, str | None] = {label.lower(): None for label in self.ignored}
        for name, labels in self.fields.items():
            field_of.update((label.lower(), name) for label in labels)
        object.__setattr__(self, "field_of", field_of)
        object.__setattr__(self, "lengths", tuple(sorted({len(k) for k in field_of}, reverse=True)))
        object.__setattr__(self, "endings", frozenset(label[-1] for label in field_of))
        # A value that is itself a label (``来源： 点击数 12``) is no value.
        every = "|".join(re.escape(label) for label in sorted(field_of, key=len, reverse=True))
        object.__setattr__(
            self, "leading", re.compile(rf"(?:{every})(?:\s*[:：\d]|\s*$)", re.IGNORECASE)
        )

    def label_before(self, line: str, end: int, separator: str) -> tuple[int, str | None] | None:
        """The start and field of the longest label that ends at *end* in *line* (before
        *separator*), or None when none does."""
        if end == 0 or line[end - 1].lower() not in self.endings:
            return None
        window = line[max(0, end - self.lengths[0]) : end].lower()
        for length in self.lengths:
            if length > len(window):
                continue
            label = window[-length:]
            if label not in self.field_of:
                continue
            if length > 1 and separator in LABEL_SEPARATORS:
                return end - length, self.field_of[label]
            if length == 1 and separator in SHORT_LABEL_SEPARATORS:
                before = line[end - 2] if end >= 2 else " "
                if not (before.isalnum() or before == "_"):
                    return end - 1, self.field_of[label]
        return None


CHINESE_UNIVERSITY_LABELS = Vocabulary(LABELS, IGNORED_LABELS)
UNKNOWN_LABEL_RE = re.compile(UNKNOWN_LABEL)

# Lines that end an article inside its container, when a template never closes the container's
# divs: previous/next links and the close, print and back buttons.
PREV_NEXT_RE = re.compile(
    r"^[【\[(（]?\s*(?:上一条|下一条|上一篇|下一篇|上一则|下一则|上篇|下篇|前一篇|后一篇"
    r"|previous|next|prev)\s*(?:[:：]|$)",
    re.IGNORECASE,
)
BUTTON = (
    r"[【\[]?\s*(?:关闭窗口|关闭本页|关闭|打印本页|打印此页|打印|返回顶部|返回列表|返回"
    r"|收藏本页|收藏)\s*[】\]]?"
)
BUTTONS_RE = re.compile(rf"^(?:{BUTTON}\s*)+$")
# The line of an attachment, as VSB lists them after the body: 附件【报名表.docx】已下载12次.
ATTACHMENT_LINE_RE = re.compile(r"^(?:相关附件|附件\s*\d*|Attachments?)\s*[【\[:：]", re.IGNORECASE)
# A prev/next line that is not mostly a link is this short at most (上一篇：没有了).
MAX_BARE_PREV_NEXT = 20
# Whether a container's text may hold any of them at all (most do not: no need to look closer).
ARTICLE_END_HINTS = (
    "上一条", "下一条", "上一篇", "下一篇", "上一则", "下一则", "上篇", "下篇", "前一篇", "后一篇",
    "关闭", "打印", "返回", "收藏",
    "prev", "Prev", "PREV", "next", "Next", "NEXT",
)  # fmt: skip
# What may stand beside attachment names in a body that is nothing but its attachments, besides
# punctuation and digits.
ATTACHMENT_WORDS_RE = re.compile(r"相关附件|附件|已下载|下载|点击|次")
LETTER_RE = re.compile(r"[^\W\d_]")

# --- List pages ---------------------------------------------------------------------------------
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
LIST_PAGE_SUFFIXES = (".htm", ".html", ".psp", ".jsp", "/")
MIN_DISCOVERED_LIST_LINKS = 5
