"""A column found again by its label: which link of a site's home page is its list page now.

Pure: HTML string in, URL out. Used when a column's configured list page is gone (404, 410, no
article links): sites rename list URLs in redesigns but keep the column's name in their menus.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from crawler.extract.decoding import load_html
from crawler.extract.listing import find_column_links
from crawler.extract.urls import absolute_link, canonical_url
from crawler.text import normalize_space


def site_root(url: str) -> str:
    """The home page of the site *url* is on: its origin's ``/``."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/"


def find_column(html: str, url: str, label: str) -> str | None:
    """The list page that the home page at *url* links as *label*, or None.

    A link whose text (or title) is the label wins; failing that, one whose text contains it
    ("更多东大要闻"). Only links that may be list pages of this site count (see
    ``find_column_links``). Two different pages matching equally well are no answer: walking
    the wrong one would file another column's articles under this label.
    """
    tree = load_html(html)
    wanted = normalize_space(label).casefold()
    if tree is None or not wanted:
        return None
    lists = {canonical_url(link.url): link.url for link in find_column_links(html, url)}
    exact: set[str] = set()
    partial: set[str] = set()
    for anchor in tree.iter("a"):
        link = absolute_link(url, anchor.get("href"))
        if not link or (canonical := canonical_url(link)) not in lists:
            continue
        shown = (anchor.text_content(), anchor.get("title"))
        texts = {normalize_space(text).casefold() for text in shown}
        if wanted in texts:
            exact.add(canonical)
        elif any(wanted in text for text in texts):
            partial.add(canonical)
    best = exact or partial
    return lists[best.pop()] if len(best) == 1 else None
