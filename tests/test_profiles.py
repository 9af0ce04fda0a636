"""CMS families are data: the label vocabulary, the profiles, and a third family added as one
profile with nothing else edited."""

from __future__ import annotations

import pickle
import re

import pytest

from crawler.extract import profiles
from crawler.extract.article import parse_article
from crawler.extract.labels import read_labels
from crawler.extract.listing import is_article_url, parse_list
from crawler.extract.profiles import PROFILES, VSB, Profile, detect_family


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        # a label the vocabulary never takes for a value ends the empty one before it
        ("来源：  录入员：王晓怡  点击数：", {}),
        ("来源：   点击：", {}),
        # unknown labels end values too
        ("作者：孟姣  联系人：王老师", {"authors": "孟姣"}),
        ("来源：校团委  审批人：张三", {"origin": "校团委"}),
        # a counter's label with its count is no value
        ("来源： 浏览次数 123", {}),
        # one-character labels count only as labels, never inside a word
        ("文/张三 图/李四", {"authors": "张三"}),
        ("正文：这里是正文", {}),
        ("来源：文学院", {"origin": "文学院"}),
        ("来源：图书馆", {"origin": "图书馆"}),
        # longer labels win over their suffixes
        ("本文作者：李明", {"authors": "李明"}),
        ("文章来源：东北大学报", {"origin": "东北大学报"}),
        ("发布者：管理员 发布时间：2024-05-06", {"published": "2024-05-06"}),
    ],
)
def test_label_values(line: str, expected: dict[str, str]) -> None:
    assert read_labels([line]) == expected


def test_a_byline_is_read_only_where_it_opens_its_line() -> None:
    lines = ["……会议强调，要落实好来源：各学院的要求。", "（本文作者：李明）", "文章来源：宣传部"]
    assert read_labels(lines, fields=("authors", "origin"), leading=True) == {
        "authors": "李明",
        "origin": "宣传部",
    }
    assert read_labels(["编辑：王五"], fields=("authors",), leading=True) == {}


def test_every_profile_is_complete() -> None:
    for profile in PROFILES.values():
        assert profile.fingerprints and profile.article_urls and profile.containers
        assert profile.pagers and profile.home_paths


@pytest.mark.parametrize(
    ("url", "family"),
    [
        ("http://a.edu.cn/info/1002/12345.htm", "vsb"),
        ("http://a.edu.cn/sub/info/1141/1.html", "vsb"),
        ("http://a.edu.cn/content.jsp?urltreeid=1&wbnewsid=42", "vsb"),
        ("http://a.edu.cn/2021/0511/c1234a56789/page.htm", "webplus"),
        ("http://a.edu.cn/28/e4/c21558a534756/page.htm", "webplus"),
        ("http://a.edu.cn/2021/0511/c1234a56789/pagem.htm", "webplus"),
        ("http://a.edu.cn/2021/0511/c1234a56789/page.psp", "webplus"),
    ],
)
def test_article_urls_of_each_family(url: str, family: str) -> None:
    path = url.split("a.edu.cn", 1)[1]
    assert PROFILES[family].is_article_url(path)
    assert is_article_url(url)
    assert not is_article_url("http://a.edu.cn/xwdt/list.htm")


def test_a_source_extends_its_profile() -> None:
    extended = VSB.extended(
        container="//div[@class='article-body']", article_url=re.compile(r"/news/\d+\.shtml$")
    )
    page = (
        "<html><head><title>标题一二三</title></head><body><h1>标题一二三</h1>"
        "<div>发布时间：2024-01-02</div><div class='article-body'><p>正文内容。</p></div>"
        "<script src='/system/resource/js/counter.js'></script></body></html>"
    )
    parsed = parse_article(page, "http://a.edu.cn/news/1.shtml", profile=extended)
    assert parsed is not None and parsed.text == "正文内容。" and parsed.parser == "vsb"
    unextended = parse_article(page, "http://a.edu.cn/news/1.shtml", "vsb")
    assert unextended is not None and unextended.parser == "generic"
    assert is_article_url("http://a.edu.cn/news/1.shtml", extended)
    assert not is_article_url("http://a.edu.cn/news/1.shtml")


# A third family, as its profile would be written: Hanweb JCMS (大汉), list pages at
# /col/col<id>/index.html, articles at /art/<y>/<m>/<d>/art_<col>_<id>.html, body in #zoom.
HANWEB = Profile(
    name="hanweb",
    fingerprints=("/module/web/jpage/", "hanweb"),
    article_urls=(re.compile(r"/art/\d{4}/\d{1,2}/\d{1,2}/art_\d+_\d+\.html$"),),
    containers=("//div[@id='zoom']",),
    pagers=("//div[@id='pagingWrap']",),
    home_paths=frozenset({"", "/", "/index.html"}),
)
HANWEB_LIST = """<html><head><title>通知公告</title>
<script src="/module/web/jpage/dataproxy.jsp"></script></head><body>
<ul class="nav"><li><a href="/col/col101/index.html">学校新闻</a></li></ul>
<ul class="list">
<li><a href="/art/2024/5/6/art_102_9001.html">第一条通知</a><span>2024-05-06</span></li>
<li><a href="/art/2024/5/2/art_102_9000.html">第二条通知</a><span>2024-05-02</span></li>
</ul>
<div id="pagingWrap"><a href="/col/col102/index.html?uid=1&amp;pageNum=2">下一页</a></div>
</body></html>"""
HANWEB_ARTICLE = """<html><head><title>第一条通知-某大学</title>
<meta name="generator" content="hanweb"></head><body>
<div class="nav"><a href="/">首页</a></div>
<h1>第一条通知</h1><div class="info">发布时间：2024-05-06 09:30 来源：校办 浏览次数：<span></span></div>
<div id="zoom"><p>通知正文第一段。</p><p>通知正文第二段。</p></div>
<div class="close">【关闭】</div></body></html>"""


def test_a_third_family_is_one_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "http://a.edu.cn/art/2024/5/6/art_102_9001.html"
    unknown = parse_list(HANWEB_LIST, "http://a.edu.cn/col/col102/index.html")
    assert unknown is not None and unknown.articles == []
    monkeypatch.setitem(profiles.PROFILES, "hanweb", HANWEB)

    assert detect_family(HANWEB_ARTICLE) is HANWEB
    listed = parse_list(HANWEB_LIST, "http://a.edu.cn/col/col102/index.html")
    assert listed is not None
    assert [a.url for a in listed.articles] == [
        "http://a.edu.cn/art/2024/5/6/art_102_9001.html",
        "http://a.edu.cn/art/2024/5/2/art_102_9000.html",
    ]
    assert listed.has_pager
    assert listed.next_url == "http://a.edu.cn/col/col102/index.html?uid=1&pageNum=2"
    article = parse_article(HANWEB_ARTICLE, url)
    assert article is not None
    assert (article.title, article.published, article.origin, article.parser) == (
        "第一条通知", "2024-05-06T09:30:00+08:00", "校办", "hanweb",
    )  # fmt: skip
    assert article.text == "通知正文第一段。\n\n通知正文第二段。"


def test_profiles_travel_to_the_extraction_workers_cheaply_and_whole() -> None:
    """A registered profile goes to a worker by name with every page; an extended one whole."""
    assert VSB.extended() is VSB
    assert pickle.loads(pickle.dumps(VSB)) is VSB
    assert len(pickle.dumps(VSB)) < 200
    extended = VSB.extended(container="//div[@id='body']", article_url=re.compile(r"/n/\d+$"))
    assert pickle.loads(pickle.dumps(extended)) == extended
