"""List pages and home pages: which articles a column lists, and where its next page is.

Pure: HTML string in, ``ListPage`` out. The main list is told from sidebars by its place next
to the pager, not by class names.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

from lxml import html as lxml_html

from crawler.extract import selectors
from crawler.extract.decoding import load_html
from crawler.extract.profiles import PROFILES, Profile, ordered
from crawler.extract.urls import absolute_link, canonical_id, canonical_url, is_document, netloc
from crawler.text import normalize_space


@dataclass(frozen=True)
class ListedArticle:
    url: str  # as the page links it
    canonical: str  # crawler.extract.urls.canonical_url of it
    id: str  # crawler.extract.urls.canonical_id of that


@dataclass(frozen=True)
class ListPage:
    articles: list[ListedArticle]
    next_url: str | None
    last_url: str | None
    has_pager: bool
    title: str | None
    # Article links dropped for being on a host the page's site may not follow them to.
    offsite: int = 0


@dataclass(frozen=True)
class ColumnLink:
    url: str
    label: str


def is_article_url(url: str, profile: Profile | None = None) -> bool:
    """Whether *url* has the shape of an article page of any CMS family (*profile* first)."""
    parts = urlsplit(url)
    path = f"{parts.path}?{parts.query}" if parts.query else parts.path
    return any(family.is_article_url(path) for family in ordered(profile))


def is_home_url(url: str) -> bool:
    """Whether *url* is a site's home page, from which column list pages are discovered."""
    path = urlsplit(url).path.lower()
    return any(path in profile.home_paths for profile in PROFILES.values())


def parse_list(
    html: str,
    url: str,
    profile: Profile | None = None,
    hosts: Collection[str] = (),
) -> ListPage | None:
    """The articles listed in the page's main list, in order, and the pager's next page;
    *profile* (a source's own, extended) says first which links are articles, and articles
    may be on the page's own host or on *hosts* (netlocs)."""
    tree = load_html(html)
    if tree is None:
        return None
    pager = _find_pager(tree)
    allowed = {netloc(url), *hosts}
    groups: dict[lxml_html.HtmlElement, list[str]] = defaultdict(list)
    offsite: set[str] = set()
    for anchor in tree.iter("a"):
        link = absolute_link(url, anchor.get("href"))
        if not link or not is_article_url(link, profile):
            continue
        if netloc(link) in allowed:
            groups[_list_group(anchor)].append(link)
        else:
            offsite.add(link)
    articles: list[ListedArticle] = []
    seen: set[str] = set()
    for group in _main_groups(groups, pager):
        for link in groups[group]:
            canonical = canonical_url(link)
            if canonical not in seen:
                seen.add(canonical)
                articles.append(ListedArticle(link, canonical, canonical_id(canonical)))
    return ListPage(
        articles=articles,
        next_url=_pager_link(
            tree, url, pager, selectors.NEXT_PAGE_TEXTS, selectors.NEXT_PAGE_CLASS_RE
        ),
        last_url=_pager_link(
            tree, url, pager, selectors.LAST_PAGE_TEXTS, selectors.LAST_PAGE_CLASS_RE
        ),
        has_pager=pager is not None,
        title=_page_title(tree),
        offsite=len(offsite),
    )


def find_column_links(html: str, url: str) -> list[ColumnLink]:
    """Same-site links of a home page that may be column list pages (to be fetched and checked)."""
    tree = load_html(html)
    if tree is None:
        return []
    home = canonical_url(url)
    found: dict[str, ColumnLink] = {}
    for anchor in tree.iter("a"):
        link = absolute_link(url, anchor.get("href"))
        if (
            not link
            or not _same_site(link, url)
            or is_article_url(link)
            or is_document(link)
            or is_home_url(link)
            or not urlsplit(link).path.lower().endswith(selectors.LIST_PAGE_SUFFIXES)
        ):
            continue
        canonical = canonical_url(link)
        if canonical != home and canonical not in found:
            label = normalize_space(anchor.get("title")) or normalize_space(anchor.text_content())
            found[canonical] = ColumnLink(link, label)
    return list(found.values())


def _same_site(link: str, url: str) -> bool:
    return netloc(link) == netloc(url)


def _find_pager(tree: lxml_html.HtmlElement) -> lxml_html.HtmlElement | None:
    for profile in PROFILES.values():
        for xpath in profile.pagers:
            # The pagers are element paths (no text(), @attr or functions): a list of elements.
            found = cast("list[lxml_html.HtmlElement]", tree.xpath(xpath))
            if found:
                return found[0]
    return None


def _list_group(anchor: lxml_html.HtmlElement) -> lxml_html.HtmlElement:
    """The list element (ul, table…) an item link belongs to, else its grandparent."""
    for ancestor in anchor.iterancestors():
        if ancestor.tag in selectors.LIST_GROUP_TAGS:
            return ancestor
    parent = anchor.getparent()
    grandparent = parent.getparent() if parent is not None else None
    return grandparent if grandparent is not None else anchor


def _main_groups(
    groups: dict[lxml_html.HtmlElement, list[str]],
    pager: lxml_html.HtmlElement | None,
) -> list[lxml_html.HtmlElement]:
    """The groups forming the main list: those closest to the pager, else the largest."""
    if not groups:
        return []
    if pager is None:
        return [max(groups, key=lambda group: len(groups[group]))]
    pager_path = [pager, *pager.iterancestors()]
    depth = {element: len(pager_path) - index for index, element in enumerate(pager_path)}

    def shared_depth(group: lxml_html.HtmlElement) -> int:
        """Depth of the closest element that contains both the group and the pager."""
        for element in (group, *group.iterancestors()):
            if element in depth:
                return depth[element]
        return 0

    deepest = max(shared_depth(group) for group in groups)
    return [group for group in groups if shared_depth(group) == deepest]


def numbered_pages(next_url: str, last_url: str, limit: int) -> list[str]:
    """The first *limit* pages from *next_url* to *last_url* when both are the same URL but for
    a number (counting up or down), else []. Bounded by *limit*, not by what the pager claims:
    a pager may claim a billion pages."""
    first = selectors.NUMBERED_PAGE_RE.match(next_url)
    last = selectors.NUMBERED_PAGE_RE.match(last_url)
    if not first or not last or first["stem"] != last["stem"] or first["suffix"] != last["suffix"]:
        return []
    start, end = int(first["number"]), int(last["number"])
    step = 1 if end >= start else -1
    numbers = range(start, end + step, step)[: max(limit, 0)]
    return [f"{first['stem']}{n}{first['suffix']}" for n in numbers]


def _pager_link(
    tree: lxml_html.HtmlElement,
    url: str,
    pager: lxml_html.HtmlElement | None,
    texts: frozenset[str],
    class_re: re.Pattern[str],
) -> str | None:
    """The pager's link with one of *texts* or a class matching *class_re*, off this page."""
    scope = pager if pager is not None else tree
    here = canonical_url(url)
    for anchor in scope.iter("a"):
        text = normalize_space(anchor.text_content()).lower()
        parent = anchor.getparent()  # never None: every anchor is below the <html> root
        parent_class = parent.get("class", "") if parent is not None else ""
        marker = f"{anchor.get('class', '')} {parent_class}"
        if text in texts or class_re.search(marker):
            link = absolute_link(url, anchor.get("href"))
            if link and canonical_url(link) != here:
                return link
    if pager is not None and pager.tag == "td":
        # Old VSB pagers keep the links in the cell after the "fanyeNNN" counter.
        following = pager.getnext()
        return _pager_link(following, url, None, texts, class_re) if following is not None else None
    return None


def _page_title(tree: lxml_html.HtmlElement) -> str | None:
    head = normalize_space(tree.findtext(".//title"))
    return selectors.TITLE_SEPARATOR_RE.split(head)[0] or None if head else None
