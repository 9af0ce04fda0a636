"""The replica's real-world templates (``build_replica(real_world=True)``): each kind is served
in the shape the real pages showed, and the crawl reads every one of them exactly."""

from __future__ import annotations

import urllib.request
from pathlib import Path
from typing import Any

import pytest
from lxml import html as lxml_html

from crawler.extract.article import parse_article
from crawler.extract.decoding import decode_html
from replica import Replica, ReplicaServer, build_replica
from replica.model import TEMPLATE_KINDS, TemplateKind
from tests.conftest import run_crawl
from tests.test_crawl_e2e import check_records

RECORD_FIELDS = (
    "title", "published", "authors", "editors", "origin", "text", "images", "parser",
)  # fmt: skip


@pytest.fixture(scope="module")
def served() -> Any:
    replica = build_replica(seed=5, articles_per_column=4, page_size=5, real_world=True)
    with ReplicaServer(replica) as server:
        yield replica, server


def page_of(replica: Replica, server: ReplicaServer, kind: TemplateKind) -> tuple[str, str]:
    (article,) = [a for a in replica.articles("news", "real") if a.template == kind]
    url = server.base_url("news") + article.path
    with urllib.request.urlopen(url) as response:
        return url, decode_html(response.read(), response.headers.get("Content-Type"))


# What makes each kind what it is, checked on the served page (so a kind cannot quietly
# become a normal page): an XPath that must find something.
SHAPES: dict[TemplateKind, str] = {
    "old_table": "//form[@name='form44518a']//td[@class='titlestyle44518']"
    "[not(//div[contains(@class, 'v_news_content')])]",
    "unclosed_nested": "//div[@class='v_news_content']//div[@class='v_news_content']"
    "/ancestor::div[@class='v_news_content'][.//a[contains(., '关闭')]]",
    "unclosed_flat": "//div[@class='v_news_content'][contains(., '上一篇')][.//a[.='关闭']]",
    "headings": "//div[@class='v_news_content']/h2[contains(@class, 'md-heading')]",
    "unknown_labels": "//*[contains(text(), '录入员：')][contains(text(), '来源：  录入员')]",
    "empty_counter": "//*[contains(text(), '来源：')]/span[@id][not(text())]",
    "byline": "//div[@class='v_news_content']/p[last()][starts-with(., '文章来源：')]",
    "attachment_only": "//div[@class='v_news_content'][normalize-space(.) = .//a]",
}


def test_every_kind_has_its_shape() -> None:
    assert set(SHAPES) == set(TEMPLATE_KINDS)


@pytest.mark.parametrize("kind", TEMPLATE_KINDS)
def test_each_kind_is_served_in_its_shape_and_read_exactly(
    served: tuple[Replica, ReplicaServer], kind: TemplateKind
) -> None:
    replica, server = served
    url, html = page_of(replica, server, kind)
    assert lxml_html.document_fromstring(html).xpath(SHAPES[kind]), kind
    parsed = parse_article(html, url, "vsb")
    assert parsed is not None
    truth = replica.expected_records(server)[url]
    got = {name: getattr(parsed, name) for name in RECORD_FIELDS}
    assert got == {name: truth[name] for name in RECORD_FIELDS}
    assert [(a["url"], a["name"]) for a in parsed.attachments] == [
        (a["url"], a["name"]) for a in truth["attachments"]
    ]


def test_the_kinds_change_what_the_truth_says(served: tuple[Replica, ReplicaServer]) -> None:
    """The truth of the kinds is what a careful reader sees, not a normal page's."""
    replica, server = served
    truth = replica.expected_records(server)
    by_kind = {
        a.template: truth[server.base_url("news") + a.path]
        for a in replica.articles("news", "real")
    }
    assert by_kind["old_table"]["published"].endswith("+08:00")
    assert by_kind["unknown_labels"]["origin"] is None and by_kind["unknown_labels"]["authors"]
    assert by_kind["empty_counter"]["origin"] is None
    assert by_kind["byline"]["origin"] and by_kind["byline"]["text"].endswith(
        f"文章来源：{by_kind['byline']['origin']}"
    )
    assert by_kind["headings"]["text"].startswith("一、基本情况\n\n")
    assert by_kind["attachment_only"]["text"] is None and by_kind["attachment_only"]["attachments"]


def test_the_base_sites_are_the_same_with_or_without_the_kinds() -> None:
    plain = build_replica(seed=5, articles_per_column=4, page_size=5)
    extra = build_replica(seed=5, articles_per_column=4, page_size=5, real_world=True)
    assert [(a.path, a.title, a.paragraphs) for a in plain.articles()] == [
        (a.path, a.title, a.paragraphs) for a in extra.articles() if a.column != "real"
    ]


def test_a_backfill_reads_every_kind_exactly(tmp_path: Path) -> None:
    replica = build_replica(seed=6, articles_per_column=3, page_size=5, real_world=True)
    with ReplicaServer(replica) as server:
        sources = tmp_path / "sources.toml"
        replica.write_sources(sources, server)
        result = run_crawl(sources, tmp_path / "data", tmp_path / "out", "-a", "mode=backfill")
        expected = replica.expected_records(server)
    assert result.returncode == 0, result.stderr
    check_records(result.items, expected)
    kinds = {a.template for a in replica.articles("news", "real")} - {None}
    assert kinds == set(TEMPLATE_KINDS)
