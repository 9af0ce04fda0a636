"""The sources loader: the keys a source may override its profile with, the shipped file, and
start URLs and hosts checked and spelled as the crawl compares hosts; validation patterns match
whole values."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.exceptions import IgnoreRequest
from scrapy.utils.test import get_crawler

from crawler import branding
from crawler.cli.extract import extract_record
from crawler.commandline import ConfigError
from crawler.extract.listing import is_home_url
from crawler.extract.urls import canonical_url, netloc
from crawler.middlewares import SourceHostsMiddleware
from crawler.sources import (
    DEFAULT_SOURCES_FILE,
    Source,
    SourcesError,
    load_sources,
    select_sources,
)
from crawler.spiders.neu_news import NeuNewsSpider
from replica import ReplicaServer
from tests.conftest import run_crawl

START = "https://news.example.edu.cn/xwdt.htm"


def load_one(tmp_path: Path, extra: str, start_url: str = START) -> Source:
    path = tmp_path / "sources.toml"
    path.write_text(
        f'[[sources]]\nname = "a"\nstart_urls = ["{start_url}"]\nlanguage = "zh"\n{extra}\n',
        encoding="utf-8",
    )
    [source] = load_sources(path)
    return source


def test_profile_overrides_are_parsed_and_carried(tmp_path: Path) -> None:
    source = load_one(
        tmp_path,
        'hosts = ["Www.Example.edu.cn", "127.0.0.1:8001"]\n'
        'article_pattern = "/content/\\\\d+\\\\.html$"\n'
        "container = \"//div[@id='article']\"\n"
        'cms = "vsb"',
    )
    assert source.extra_hosts == {"www.example.edu.cn", "127.0.0.1:8001"}
    assert source.hosts == {"news.example.edu.cn", "www.example.edu.cn", "127.0.0.1:8001"}
    assert source.article_pattern is not None
    assert source.article_pattern.search("/content/12.html")
    assert source.container == "//div[@id='article']"
    # They extend the family's profile: tried before the family's own.
    assert source.profile is not None and source.profile.name == "vsb"
    assert source.profile.containers[0] == "//div[@id='article']"
    assert source.profile.article_urls[0] is source.article_pattern
    assert source.profile.is_article_url("/content/12.html")
    assert source.profile.is_article_url("/info/1002/3.htm")


def test_sources_without_overrides_keep_their_start_hosts_only(tmp_path: Path) -> None:
    source = load_one(tmp_path, "")
    assert source.hosts == {"news.example.edu.cn"}
    assert (source.article_pattern, source.container) == (None, None)
    assert source.profile is None  # no cms: the page's own fingerprints decide


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('hosts = "www.example.edu.cn"', "key 'hosts' must be a list of host names"),
        ('hosts = ["https://www.example.edu.cn/"]', "key 'hosts': 'https://www.example.edu.cn/'"),
        ('hosts = ["www.example.edu.cn/news"]', "is not a host or host:port"),
        ('hosts = ["example.edu.cn:http"]', "is not a host or host:port"),
        ('hosts = [""]', "key 'hosts': ''"),
        ("hosts = [1]", "key 'hosts': 1 "),
        ('article_pattern = "/content/(\\\\d+"', "key 'article_pattern': bad regular expression"),
        ('article_pattern = ""', "key 'article_pattern' must be a regular expression"),
        ('article_pattern = ["a"]', "key 'article_pattern' must be a regular expression"),
        ("container = \"//div[@id='a'\"", "key 'container': bad XPath"),
        ('container = "  "', "key 'container' must be an XPath expression"),
        ("container = 3", "key 'container' must be an XPath expression"),
        ('container = "//div"', "key 'container' extends a CMS profile: give key 'cms' too"),
        # compiles, but fails or selects no elements on every page
        ('container = "//h:div"\ncms = "vsb"', "key 'container': bad XPath"),
        ('container = "count(//div)"\ncms = "vsb"', "'count(//div)' must select elements"),
        ('container = "//div/@id"\ncms = "vsb"', "'//div/@id' must select elements"),
        ('article_pattern = "x"', "key 'article_pattern' extends a CMS profile: give key 'cms'"),
        ('cms = "joomla"', "key 'cms' must be one of vsb, webplus"),
    ],
)
def test_bad_override_is_one_line_naming_file_source_and_key(
    tmp_path: Path, extra: str, message: str
) -> None:
    with pytest.raises(SourcesError) as error:
        load_one(tmp_path, extra)
    text = str(error.value)
    assert "\n" not in text
    assert text.startswith(f"{tmp_path / 'sources.toml'}: source 'a': ")
    assert message in text


def test_every_shipped_column_source_has_a_label() -> None:
    # The label is what finds a column again when its list URL is gone.
    columns = [
        source
        for source in load_sources(DEFAULT_SOURCES_FILE)
        if not all(is_home_url(url) for url in source.start_urls)
    ]
    assert columns
    assert [source.name for source in columns if not source.column] == []


# -- start URLs and hosts: validated, and spelled as the crawl compares hosts (issue 11: 10) ------


def passes_source_hosts(source: Source, url: str) -> bool:
    """Whether SourceHostsMiddleware lets a Scrapy request for *url* through."""
    crawler = get_crawler(NeuNewsSpider, {})
    crawler.spider = NeuNewsSpider()
    crawler.spider.hosts = source.hosts
    assert crawler.stats is not None
    crawler.stats.open_spider()
    try:
        SourceHostsMiddleware.from_crawler(crawler).process_request(Request(url))
    except IgnoreRequest:
        return False
    return True


@pytest.mark.parametrize(
    ("start_url", "normalised"),
    [
        ("http://例子.中国/xwdt.htm", "http://xn--fsqu00a.xn--fiqs8s/xwdt.htm"),
        ("http://News.Example.edu.cn:80/xwdt.htm", "http://news.example.edu.cn/xwdt.htm"),
        ("https://news.example.edu.cn:443/xwdt.htm", "https://news.example.edu.cn/xwdt.htm"),
        ("https://news.example.edu.cn:8443/xwdt.htm", "https://news.example.edu.cn:8443/xwdt.htm"),
        (START, START),
    ],
)
def test_start_url_host_is_spelled_as_requests_and_rechecks_spell_it(
    tmp_path: Path, start_url: str, normalised: str
) -> None:
    source = load_one(tmp_path, "", start_url)
    assert source.start_urls == (normalised,)
    assert source.hosts == {netloc(normalised)}
    # Its pages as requested, as linked with or without the port, and the stored (canonical)
    # URL a recheck requests: none of them is off-site.
    article = start_url.replace("/xwdt.htm", "/info/1002/5.htm")
    for url in (start_url, article, canonical_url(article), normalised):
        assert passes_source_hosts(source, url), url


def test_hosts_entries_are_spelled_as_the_crawl_compares_hosts(tmp_path: Path) -> None:
    source = load_one(
        tmp_path,
        'hosts = ["例子.中国", "www.example.edu.cn:80", "mirror.example.edu.cn:443", "h:8080"]',
    )
    assert source.extra_hosts == {
        "xn--fsqu00a.xn--fiqs8s",
        "www.example.edu.cn",
        "mirror.example.edu.cn",
        "h:8080",
    }
    for url in (
        "http://例子.中国/info/1.htm",
        "http://www.example.edu.cn:80/info/1.htm",
        "https://mirror.example.edu.cn/info/1.htm",
        "http://h:8080/info/1.htm",
    ):
        assert passes_source_hosts(source, url), url
    assert not passes_source_hosts(source, "http://h/info/1.htm")


@pytest.mark.parametrize(
    ("start_url", "extra", "message"),
    [
        ("http://editor:s3cret@news.example.edu.cn/xwdt.htm", "", "a user name or password"),
        ("https://editor:s3cret@news.example.edu.cn/", "", "'https://***@news.example.edu.cn/'"),
        ("ftp://editor:s3cret@news.example.edu.cn/", "", "is not an http(s) URL"),
        (START, 'hosts = ["editor:s3cret@www.example.edu.cn"]', "is not a host or host:port"),
        ("http://news.example.edu.cn:99999/xwdt.htm", "", "port must be a number from 1 to"),
        ("http://news.example.edu.cn:0/xwdt.htm", "", "port must be a number from 1 to"),
        ("http://news.example.edu.cn:http/xwdt.htm", "", "port must be a number from 1 to"),
        ("http://[::1/xwdt.htm", "", "is not an http(s) URL"),
        (START, 'hosts = ["www.example.edu.cn:99999"]', "port must be a number from 1 to"),
        (START, 'hosts = ["www.example.edu.cn:0"]', "port must be a number from 1 to"),
    ],
)
def test_bad_start_url_or_host_is_one_line_without_the_password(
    tmp_path: Path, start_url: str, extra: str, message: str
) -> None:
    with pytest.raises(SourcesError) as error:
        load_one(tmp_path, extra, start_url)
    text = str(error.value)
    assert "\n" not in text
    assert text.startswith(f"{tmp_path / 'sources.toml'}: source 'a': key ")
    assert message in text
    assert "s3cret" not in text and "editor" not in text


@pytest.mark.parametrize(
    "start_url",
    ["http://editor:s3cret@127.0.0.1:{port}/ddyw.htm", "http://127.0.0.1:99999/ddyw.htm"],
)
def test_crawl_refuses_credentials_and_bad_ports_in_one_line_before_any_request(
    tmp_path: Path, server: ReplicaServer, start_url: str
) -> None:
    port = netloc(server.base_url("news")).rpartition(":")[2]
    sources = tmp_path / "sources.toml"
    sources.write_text(
        f'[[sources]]\nname = "a"\nstart_urls = ["{start_url.format(port=port)}"]\n'
        'language = "zh"\n',
        encoding="utf-8",
    )
    result = run_crawl(sources, tmp_path / "data", tmp_path / "out")
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "key 'start_urls'" in result.stderr
    assert "s3cret" not in result.stderr + result.log
    assert server.request_log == []


# -- names and hosts: the whole value matches, a trailing newline included (issue 11: 14) ---------


@pytest.mark.parametrize(
    ("extra_name", "extra", "message"),
    [
        ("h\\n", "", "key 'name' must be a lower-case id"),
        ("h", 'hosts = ["www.example.edu.cn\\n"]', "is not a host or host:port"),
    ],
)
def test_a_trailing_newline_is_refused(
    tmp_path: Path, extra_name: str, extra: str, message: str
) -> None:
    path = tmp_path / "sources.toml"
    path.write_text(
        f'[[sources]]\nname = "{extra_name}"\nstart_urls = ["{START}"]\nlanguage = "zh"\n{extra}\n',
        encoding="utf-8",
    )
    with pytest.raises(SourcesError, match=message):
        load_sources(path)


@pytest.mark.parametrize(
    ("check", "value"),
    [
        (branding.check_language, "zh-CN\n"),
        (branding.check_id, "tag:example.edu.cn,2024:news\n"),
        # A newline in the User-Agent header would start another header.
        (branding.check_contact, "mailto:ops@example.edu.cn\n"),
    ],
)
def test_branding_values_with_a_trailing_newline_are_refused(
    check: Callable[[str, object], str], value: str
) -> None:
    with pytest.raises(ConfigError):
        check("branding.toml: key", value)


def test_extract_refuses_a_source_name_with_a_trailing_newline(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text("<html><body><p>x</p></body></html>", encoding="utf-8")
    with pytest.raises(ConfigError, match="--source"):
        extract_record(str(page), None, source="h\n", language="zh", cms=None)


def test_a_column_label_names_one_list_page(tmp_path: Path) -> None:
    """Relocation remembers a moved list page by source and label: one label, one page."""
    path = tmp_path / "sources.toml"
    path.write_text(
        '[[sources]]\nname = "a"\nlanguage = "zh"\ncolumn = "要闻"\n'
        'start_urls = ["https://a.edu.cn/x.htm", "https://a.edu.cn/y.htm"]\n',
        encoding="utf-8",
    )
    with pytest.raises(SourcesError, match="key 'column' labels one list page"):
        load_sources(path)


def test_named_sources_come_in_the_files_order_once_each() -> None:
    """The order decides an article's source when two columns list it (crawler.walks), so a
    crawl given ``-a sources=b,a`` files what one given ``a,b`` files."""
    shipped = load_sources(DEFAULT_SOURCES_FILE)
    first, second = shipped[0].name, shipped[1].name
    chosen = select_sources(shipped, f"{second},{first},{second}")
    assert [source.name for source in chosen] == [first, second]
