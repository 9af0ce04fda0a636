"""The rules the parsers are built from: dates, labels, names, URLs, CMS detection."""

from __future__ import annotations

import pytest

from crawler.extract.article import detect_cms, parse_article
from crawler.extract.dates import parse_date
from crawler.extract.labels import read_labels, split_names
from crawler.extract.listing import numbered_pages, parse_list
from crawler.extract.urls import article_id, canonical_url, is_document


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("更新日期: 2024-09-15", "2024-09-15"),
        ("发布日期:[2025-03-27]", "2025-03-27"),
        ("发表时间:2016年12月04日", "2016-12-04"),
        ("时间:2020-02-20 浏览量:", "2020-02-20"),
        ("2023年4月7日 10:30", "2023-04-07T10:30:00+08:00"),
        ("Update:  2018-05-12", "2018-05-12"),
        ("March 16, 2018", "2018-03-16"),
        ("2023年04月07日", "2023-04-07"),
        ("2023-02-30", None),
        ("第12期", None),
        ("", None),
    ],
)
def test_dates_are_read_never_guessed(text: str, expected: str | None) -> None:
    assert parse_date(text) == expected


def test_labels_that_run_together_are_split_by_label() -> None:
    values = read_labels(["Written By: Edited By:Lei Chang, Yuhui WangResource: 新闻网"])
    assert values == {"editors": "Lei Chang, Yuhui Wang", "origin": "新闻网"}
    values = read_labels(["作者: 编辑:Lei Chang, Yuhui Wang来源:NEU更新日期:2021-05-14浏览次数:10"])
    assert values == {
        "editors": "Lei Chang, Yuhui Wang",
        "origin": "NEU",
        "published": "2021-05-14",
    }


@pytest.mark.parametrize("value", ["张蕾,白一含", "张蕾、白一含", "张蕾，白一含", "张蕾; 白一含"])
def test_names_split_on_every_separator(value: str) -> None:
    assert split_names(value) == ["张蕾", "白一含"]


def test_url_variants_share_one_id() -> None:
    variants = [
        "http://neunews.neu.edu.cn/info/1002/418151.htm",
        "https://neunews.neu.edu.cn/info/1002/418151.htm",
        "https://NEUNEWS.neu.edu.cn:443/info/1002/../1002/418151.htm#top",
        "https://neunews.neu.edu.cn/info/1002/418151.htm?utm_source=wechat",
    ]
    assert len({article_id(url) for url in variants}) == 1
    assert canonical_url(variants[2]) == "https://neunews.neu.edu.cn/info/1002/418151.htm"


def test_documents_are_recognised() -> None:
    assert is_document("https://x.neu.edu.cn/_upload/files/a.PDF")
    assert is_document("https://x.neu.edu.cn/system/_content/download.jsp?wbfileid=1")
    assert not is_document("https://x.neu.edu.cn/info/1002/1.htm")


def test_cms_detection() -> None:
    assert detect_cms("<!--Announced by Visual SiteBuilder 9--><div class=v_news_content>") == "vsb"
    assert detect_cms('<div class="wp_articlecontent"></div><ul class="wp_paging">') == "webplus"
    assert detect_cms("<html><body>plain</body></html>") is None


def test_sidebar_dates_and_body_dates_are_never_taken() -> None:
    html = """<html><head><title>校园新闻-东北大学</title></head><body>
    <ul><li><a href="/info/1/2.htm">旧闻</a><span>2021-01-01</span></li></ul>
    <form name="_newscontent_fromname"><h1>校园新闻</h1>
    <div id="vsb_content"><div class="v_news_content"><p>2023年04月07日，学校举行活动。</p></div></div>
    </form></body></html>"""
    parsed = parse_article(html, "https://neunews.neu.edu.cn/info/1002/9.htm")
    assert parsed is not None
    assert parsed.title == "校园新闻"
    assert parsed.published is None


def test_vsb_list_counting_down_and_sidebar_excluded() -> None:
    html = """<html><head><title>东大要闻-东北大学新闻网</title></head><body>
    <div class="side"><ul><li><a href="info/1003/7.htm">侧栏新闻</a><span>2024-01-01</span></li></ul></div>
    <div class="list"><ul>
      <li><a href="info/1002/2.htm" title="完整的标题二">完整的...</a><span>2024-02-02</span></li>
      <li><a href="info/1002/1.htm">标题一</a><span>2024-02-01</span></li>
    </ul>
    <div class="pb_sys_common pb_sys_normal pb_sys_style1"><span class="p_pages">
      <span class="p_no_d">1</span><span class="p_no"><a href="ddyw/9.htm">2</a></span>
      <span class="p_next p_fun"><a href="ddyw/9.htm">下页</a></span>
      <span class="p_last p_fun"><a href="ddyw/1.htm">尾页</a></span></span></div></div>
    </body></html>"""
    page = parse_list(html, "https://neunews.neu.edu.cn/ddyw.htm")
    assert page is not None
    assert [article.url for article in page.articles] == [
        "https://neunews.neu.edu.cn/info/1002/2.htm",
        "https://neunews.neu.edu.cn/info/1002/1.htm",
    ]
    assert page.articles[0].id == article_id("https://neunews.neu.edu.cn/info/1002/2.htm")
    assert page.next_url == "https://neunews.neu.edu.cn/ddyw/9.htm"
    assert page.title == "东大要闻"


def test_no_title_is_none_not_the_column_name() -> None:
    html = """<html><head><title></title></head><body>
    <div class="lm">东大要闻</div><div>当前位置: 网站首页 - 东大要闻 - 正文</div>
    <form name="_newscontent_fromname"><div>编辑: 白一含 更新日期: 2024-09-15</div>
    <div id="vsb_content"><div class="v_news_content"><p>正文。</p></div></div></form>
    </body></html>"""
    parsed = parse_article(html, "https://neunews.neu.edu.cn/info/1002/9.htm")
    assert parsed is not None
    assert parsed.title is None
    assert parsed.published == "2024-09-15"
    assert parsed.editors == ["白一含"]


def test_empty_and_binary_pages_are_not_articles() -> None:
    assert parse_article("", "https://x.neu.edu.cn/info/1/1.htm") is None
    assert parse_article("\x00\x01\x02\x03" * 500, "https://x.neu.edu.cn/info/1/1.htm") is None
    assert parse_list("   ", "https://x.neu.edu.cn/ddyw.htm") is None


def test_pager_numbering_gives_every_page() -> None:
    assert numbered_pages("https://a.cn/ddyw/10.htm", "https://a.cn/ddyw/1.htm", 100) == [
        f"https://a.cn/ddyw/{n}.htm" for n in range(10, 0, -1)
    ]
    assert numbered_pages("https://a.cn/xwdt/list2.htm", "https://a.cn/xwdt/list4.htm", 100) == [
        "https://a.cn/xwdt/list2.htm",
        "https://a.cn/xwdt/list3.htm",
        "https://a.cn/xwdt/list4.htm",
    ]
    assert numbered_pages("https://a.cn/ddyw/10.htm", "https://a.cn/other/1.htm", 100) == []
    assert numbered_pages("https://a.cn/ddyw/10.htm", "javascript:;", 100) == []


def test_single_page_column_takes_its_title_from_the_head_and_the_body_not_a_sidebar() -> None:
    """A column of one page shows its title only in <title> and as the body's first line; the
    heading before the body is a sidebar's."""
    page = (
        "<html><head><title>Upcoming conf. submissions-数据科学实验室</title></head><body>"
        "<ul><li><a href='a.htm'>Upcoming conf. submissions</a></li></ul>"
        "<h3>Information for students</h3>"
        "<div id='vsb_content'><p><span>Upcoming conf. submissions</span></p>"
        "<p>ICASSP 2016, Shanghai, China: submissions close on September 25, 2015.</p></div>"
        "</body></html>"
    )
    parsed = parse_article(page, "http://lab.example.edu.cn/en/Upcoming.htm", "vsb")
    assert parsed is not None
    assert parsed.title == "Upcoming conf. submissions"


def _body(html: str) -> str | None:
    page = (
        "<html><head><title>某学院召开工作会议-某大学</title></head><body><h1>某学院召开工作会议</h1>"
        f'<div>发布时间：2024-05-06</div><div class="v_news_content">{html}</div>'
        "</body></html>"
    )
    parsed = parse_article(page, "http://a.edu.cn/info/1002/1.htm", "vsb")
    assert parsed is not None
    return parsed.text


def test_cutting_prev_next_never_takes_article_text_with_it() -> None:
    # The button shares its element with a paragraph: nothing is cut (the text stays whole).
    text = _body(
        "<p>第一段正文内容很长很长。</p><div>第二段正文内容，也很重要。<br>【打印本页】</div>"
    )
    assert text is not None and "第二段正文内容，也很重要。" in text
    # A paragraph that opens with "Next:" is prose, not a link to the next article.
    text = _body(
        "<p>The lab opened on Monday.</p><p>Next: the team will publish its first results in a "
        "journal this summer, with data from two years of field work.</p><p>Closing words.</p>"
    )
    assert text is not None and text.endswith("Closing words.")
    # A real prev/next line (a link) and the close button after the body are cut.
    text = _body(
        '<p>正文第一段。</p><p>正文第二段。</p><p>下一篇：<a href="2.htm">另一篇文章的标题</a></p>'
        "<p>【关闭】</p>"
    )
    assert text == "正文第一段。\n\n正文第二段。"


def test_a_pasted_block_with_the_containers_class_is_not_the_whole_body() -> None:
    text = _body(
        "<p>第一段正文内容。</p><div class='v_news_content'><p>转载的一段引文。</p></div>"
        "<p>第三段正文内容。</p>"
    )
    assert text == "第一段正文内容。\n\n转载的一段引文。\n\n第三段正文内容。"


def test_a_meta_line_after_the_container_wins_over_a_closing_byline() -> None:
    page = (
        "<html><head><title>某学院召开工作会议-某大学</title></head><body><h1>某学院召开工作会议</h1>"
        '<div class="v_news_content"><p>会议正文。</p><p>文章来源：新华社</p></div>'
        "<div>作者：张三 来源：党委宣传部 发布时间：2024-05-06</div></body></html>"
    )
    parsed = parse_article(page, "http://a.edu.cn/info/1002/1.htm", "vsb")
    assert parsed is not None
    assert (parsed.origin, parsed.authors) == ("党委宣传部", ["张三"])


def test_a_paragraph_repeating_part_of_an_earlier_one_keeps_its_place() -> None:
    # trafilatura drops an element whose text it took already (longer ones: within any earlier
    # paragraph); inside the content container the repeat is the article's own.
    quote = "Jiayi Zheng said that the agreement was a good chance to learn from each other"
    text = _body(
        f"<p>The forum opened on Monday. {quote}, which deepened cooperation. It closed late.</p>"
        f"<p><strong>{quote}</strong>, which deepened cooperation.</p><p>The end.</p>"
    )
    assert text == (
        f"The forum opened on Monday. {quote}, which deepened cooperation. It closed late."
        f"\n\n{quote}, which deepened cooperation.\n\nThe end."
    )


def test_two_attachments_of_one_name_are_two_lines() -> None:
    text = _body(
        "<p>报名表见附件。</p>"
        '<p><a href="/_upload/files/1.xlsx">报名表.xlsx</a></p>'
        '<p><a href="/_upload/files/2.xlsx">报名表.xlsx</a></p>'
    )
    assert text == "报名表见附件。\n\n报名表.xlsx\n\n报名表.xlsx"
