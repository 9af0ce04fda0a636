"""What makes extraction cheaper without changing a byte of its output (issue 14): trafilatura's
options built once, one parser whose element classes are looked up in C, a cycle collector
that runs less often. The output itself is pinned by the golden, replica and real pages."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest
import trafilatura
from lxml import etree
from lxml import html as lxml_html
from scrapy import signals
from scrapy.utils.test import get_crawler
from trafilatura.settings import Extractor

from crawler.extract.article import CONTAINER_OPTIONS, PAGE_OPTIONS, TRAFILATURA_CONFIG
from crawler.extract.decoding import load_html
from crawler.extraction import YOUNG_COLLECTION_THRESHOLD, ArticleExtractor

PAGE = """<html><head><title>标题</title></head><body>
<form action="/search"><input name="q"><select name="s"><option>1</option></select></form>
<div class="v_news_content"><p>第一段。</p><p>第二段，<a href="/a.docx">附件</a>。</p></div>
<!-- a comment --></body></html>"""


def _kwargs_options(**kwargs: object) -> Extractor:
    """The options ``trafilatura.extract`` builds from its keyword arguments."""
    built: list[Extractor] = []
    original = trafilatura.core.bare_extraction

    def capture(filecontent: str, **rest: Any) -> Any:
        built.append(rest["options"])
        return original(filecontent, **rest)

    trafilatura.core.bare_extraction = capture  # type: ignore[assignment]
    try:
        trafilatura.extract(PAGE, config=TRAFILATURA_CONFIG, **kwargs)  # type: ignore[arg-type]
    finally:
        trafilatura.core.bare_extraction = original
    return built[0]


def _slots(options: Extractor) -> dict[str, object]:
    return {name: getattr(options, name) for name in Extractor.__slots__}


def test_options_built_once_are_those_the_keyword_arguments_gave() -> None:
    container = _kwargs_options(
        favor_recall=True, include_comments=False, include_tables=True, deduplicate=False
    )
    page = _kwargs_options(include_comments=False, include_tables=True)
    assert _slots(CONTAINER_OPTIONS) == _slots(container)
    assert _slots(PAGE_OPTIONS) == _slots(page)


def test_every_element_is_a_plain_html_element_that_trafilatura_takes() -> None:
    tree = load_html(PAGE)
    assert tree is not None
    # lxml.html's own lookup would make these FormElement, InputElement, SelectElement.
    kinds = {type(element) for element in tree.iter(tag=etree.Element)}
    assert kinds == {lxml_html.HtmlElement}
    comment = next(tree.iter(etree.Comment))
    assert isinstance(comment, lxml_html.HtmlComment)
    container = tree.find_class("v_news_content")[0]
    assert container.text_content() == "第一段。第二段，附件。"
    text = trafilatura.extract(container, options=CONTAINER_OPTIONS)
    assert text is not None and "第二段" in text


@pytest.fixture
def collector() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("collector")
def test_the_collector_is_spared_what_the_crawl_held_when_it_opened() -> None:
    held: list[object] = []
    gc.unfreeze()
    _young, middle, oldest = gc.get_threshold()
    crawler = get_crawler(settings_dict={"NEU_EXTRACT_PROCESSES": 0})
    ArticleExtractor.from_crawler(crawler)
    assert gc.get_freeze_count() == 0
    crawler.signals.send_catch_log(signals.spider_opened, spider=None)
    assert gc.get_threshold() == (YOUNG_COLLECTION_THRESHOLD, middle, oldest)
    assert gc.get_freeze_count() > 0
    # What existed when the crawl opened is in no generation the collector scans.
    assert not any(held is tracked for tracked in gc.get_objects())
