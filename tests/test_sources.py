"""The sources loader: the keys a source may override its profile with, and the shipped file."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.extract.listing import is_home_url
from crawler.sources import DEFAULT_SOURCES_FILE, Source, SourcesError, load_sources

START = "https://news.example.edu.cn/xwdt.htm"


def load_one(tmp_path: Path, extra: str) -> Source:
    path = tmp_path / "sources.toml"
    path.write_text(
        f'[[sources]]\nname = "a"\nstart_urls = ["{START}"]\nlanguage = "zh"\n{extra}\n',
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
