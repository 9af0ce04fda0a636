"""Real pages of other universities' VSB and WebPlus sites, against hand-made gold.

The pages and their gold (``gold.jsonl``, one line per article page; see the folder's README)
are read in place from ``../shared/real-pages``. Every gold field must hold on every article,
compared with whitespace removed (some savers inserted spaces between CJK and Latin text).
"""

from __future__ import annotations

import csv
import json
import re
from functools import cache
from typing import Any

import pytest

from crawler.extract.article import ParsedArticle, parse_article
from crawler.extract.decoding import decode_html
from crawler.extract.listing import ListPage, parse_list
from tests.parts import REAL_PAGES, missing

WHITESPACE_RE = re.compile(r"\s+")


def squeeze(text: str | None) -> str:
    return WHITESPACE_RE.sub("", text or "")


@cache
def manifest() -> dict[str, dict[str, str]]:
    if not (REAL_PAGES / "MANIFEST.tsv").is_file():
        return {}
    with (REAL_PAGES / "MANIFEST.tsv").open(encoding="utf-8", newline="") as file:
        return {row["file"]: row for row in csv.DictReader(file, delimiter="\t")}


@cache
def gold() -> dict[str, dict[str, Any]]:
    path = REAL_PAGES / "gold.jsonl"
    if not path.is_file():
        return {}
    lines = path.read_text(encoding="utf-8").splitlines()
    return {entry["file"]: entry for entry in map(json.loads, lines)}


def page_url(file: str) -> str:
    """The page's original URL where the manifest knows it, else one on its host."""
    row = manifest()[file]
    known = row["original_url"].split()[0] if row["original_url"] else ""
    return known if known.startswith("http") else f"http://{row['host']}/{file}"


def read_page(file: str) -> str:
    if not REAL_PAGES.is_dir():
        missing(f"no real pages at {REAL_PAGES}")
    return decode_html((REAL_PAGES / file).read_bytes(), None)


def parsed(file: str) -> ParsedArticle:
    article = parse_article(read_page(file), page_url(file), manifest()[file]["cms"])
    assert article is not None, file
    return article


# Collected from the gold when the folder is there; one placeholder that skips (or fails in CI).
ARTICLES = sorted(gold()) or ["(no real pages)"]
LISTS = sorted(f for f, row in manifest().items() if row["page_kind"] == "list") or [
    "(no real pages)"
]


@pytest.mark.parametrize("file", ARTICLES)
def test_title_date_people_and_origin(file: str) -> None:
    article = parsed(file)
    expected = gold()[file]
    assert squeeze(article.title) == squeeze(expected["title"])
    assert article.published == expected["published"]
    assert [squeeze(name) for name in article.authors] == [squeeze(n) for n in expected["authors"]]
    assert [squeeze(name) for name in article.editors] == [squeeze(n) for n in expected["editors"]]
    assert squeeze(article.origin) == squeeze(expected["origin"])


@pytest.mark.parametrize("file", ARTICLES)
def test_ignored_labels_are_no_values(file: str) -> None:
    """发布者, 录入员, 点击… are never taken for authors, editors or origin."""
    article = parsed(file)
    values = {squeeze(v) for v in (*article.authors, *article.editors, article.origin) if v}
    for label in gold()[file]["ignored_labels"]:
        assert not any(squeeze(label["label"]) in value for value in values), label
        if label.get("value"):
            assert squeeze(label["value"]) not in values, label


@pytest.mark.parametrize("file", ARTICLES)
def test_body_whole_and_clean(file: str) -> None:
    article = parsed(file)
    expected = gold()[file]
    text = squeeze(article.text)
    if expected["body_empty"]:
        assert article.text is None
    else:
        assert squeeze(expected["body_first"]) in text
        assert squeeze(expected["body_last"]) in text
    for outside in expected["must_not_contain"]:
        assert squeeze(outside) not in text, outside


@pytest.mark.parametrize("file", ARTICLES)
def test_attachments_by_name_and_images_by_count(file: str) -> None:
    """Attachments are the article's documents; a file-type icon beside one is no image."""
    article = parsed(file)
    names = sorted(squeeze(attachment["name"]) for attachment in article.attachments)
    assert names == sorted(squeeze(a["name"]) for a in gold()[file]["attachments"])
    assert len(article.images) == gold()[file]["images"]


# What each list page shows, read off the page by hand: how many articles its main list holds
# (checked against the page's own counter: 共N条 page/pages, WebPlus per_count), the first of
# them, and the pager's next and last pages (None where the pager shows them disabled).
LIST_GOLD: dict[str, tuple[int, str, str | None, str | None]] = {
    # 共39条 1/4: ten a page, counted down: jxdt.htm, jxdt/3.htm … jxdt/1.htm
    "vsb/cst.nuc.edu.cn__bkspy_jxdt.html": (
        10, "info/1112/5236.htm", "bkspy/jxdt/3.htm", "bkspy/jxdt/1.htm",
    ),
    # 共39条 3/4 of a static paging list: the page holds 19 hidden items its script pages through
    "vsb/cst.nuc.edu.cn__bkspy_jxdt_2.html": (
        19, "info/1112/3897.htm", "bkspy/jxdt/1.htm", "bkspy/jxdt/1.htm",
    ),
    # 共7条 1/1: 下页 and 尾页 disabled
    "vsb/yjszs.cqjtu.edu.cn__tzgg.html": (7, "info/1050/1840.htm", None, None),
    # 共24条 3/3: the last page, four left
    "vsb/yjszs.cqjtu.edu.cn__kdxx_1.html": (4, "info/1052/1005.htm", None, None),
    # per_count 14, page 1 of 9; the pager links the column's own slug (wlyxqk)
    "webplus/itsc.nju.edu.cn__newsList.html": (
        14, "28/e4/c21558a534756/page.htm", "wlyxqk/list2.htm", "wlyxqk/list9.htm",
    ),
    # per_count 14, page 1 of 20
    "webplus/jwc.hdu.edu.cn__list.html": (
        14, "2026/0313/c13475a290241/page.htm", "ksgl/list2.htm", "ksgl/list20.htm",
    ),
}  # fmt: skip


def test_every_list_page_has_its_gold() -> None:
    if not manifest():
        missing(f"no real pages at {REAL_PAGES}")
    assert set(LISTS) == set(LIST_GOLD)


@pytest.mark.parametrize("file", LISTS)
def test_list_page_articles_and_pager(file: str) -> None:
    html = read_page(file)
    url = page_url(file)
    page = parse_list(html, url)
    assert isinstance(page, ListPage)
    count, first, next_page, last_page = LIST_GOLD[file]
    assert len(page.articles) == count
    assert page.articles[0].url.endswith("/" + first)
    assert page.has_pager
    assert (page.next_url or "").endswith(f"/{next_page}") if next_page else not page.next_url
    assert (page.last_url or "").endswith(f"/{last_page}") if last_page else not page.last_url
