"""``neu-news discover``: its pure helpers, and the command end to end against the portal replica
(replica.portal), down to a backfill of the sources file it writes."""

from __future__ import annotations

import socket
import subprocess
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from crawler.commandline import ConfigError
from crawler.discover import (
    DomainHosts,
    SubSite,
    check_portal_url,
    home_url,
    is_news_column,
    left_out_reason,
    page_language,
    registrable_domain,
    same_domain,
    source_name,
    sources_toml,
    sub_site_links,
)
from crawler.extract.listing import ColumnLink
from crawler.extract.urls import netloc
from crawler.sources import Source, load_sources
from replica import Replica, build_replica
from replica.portal import LEFT_OUT, PortalReplica
from replica.routes import respond
from tests.conftest import FAST_SETTINGS, run_crawl
from tests.test_cli import cli
from tests.test_crawl_e2e import check_records

FAST = [arg for key, value in FAST_SETTINGS.items() for arg in ("-s", f"{key}={value}")]

# -- same domain --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "other", "same"),
    [
        ("https://www.neu.edu.cn/", "http://neunews.neu.edu.cn/ddyw.htm", True),
        ("https://www.neu.edu.cn/", "https://neu.edu.cn/", True),
        ("https://www.neu.edu.cn/", "https://www.tsinghua.edu.cn/", False),
        ("http://a.b.com.cn/", "http://c.b.com.cn/", True),
        ("http://a.com.cn/", "http://b.com.cn/", False),
        ("http://127.0.0.1:8001/", "http://127.0.0.1:9002/x.htm", True),
        ("http://127.0.0.1:8001/", "http://127.0.0.2:8001/", False),
        ("http://127.0.0.1:8001/", "http://localhost:8001/", False),
    ],
)
def test_same_domain_is_the_registrable_domain_or_the_address(
    url: str, other: str, same: bool
) -> None:
    assert same_domain(url, other) is same


def test_registrable_domain_and_the_hosts_a_discovery_may_visit() -> None:
    assert registrable_domain("English.NEU.edu.cn.") == "neu.edu.cn"
    assert registrable_domain("127.0.0.1") == "127.0.0.1"
    hosts = DomainHosts("https://www.neu.edu.cn/")
    assert "english.neu.edu.cn" in hosts
    assert "cse.neu.edu.cn:8080" in hosts
    assert "www.example.org" not in hosts
    assert "edu.cn" not in hosts


def test_home_url_of_a_link() -> None:
    assert home_url("http://neunews.neu.edu.cn/info/1002/1.htm") == "http://neunews.neu.edu.cn/"
    assert (
        home_url("https://cse.neu.edu.cn:8443/main.psp") == "https://cse.neu.edu.cn:8443/main.psp"
    )
    assert home_url("http://127.0.0.1:8001/index.htm") == "http://127.0.0.1:8001/index.htm"


def test_sub_site_links_one_home_per_site_the_portal_first() -> None:
    html = """<html><body>
      <a href="/xxgk.htm">学校概况</a>
      <a href="http://neunews.neu.edu.cn/info/1002/5.htm">新闻</a>
      <a href="http://neunews.neu.edu.cn/">新闻网</a>
      <a href="https://cse.neu.edu.cn/index.htm">计算机学院</a>
      <a href="http://www.moe.gov.cn/">教育部</a>
      <a href="https://www.tsinghua.edu.cn/">清华大学</a>
      <a href="mailto:xb@neu.edu.cn">校长信箱</a>
      <a href="http://lib.neu.edu.cn/guide.pdf">指南</a>
    </body></html>"""
    links = sub_site_links(html, "https://www.neu.edu.cn/")
    assert links.homes == [
        "https://www.neu.edu.cn/",
        "http://neunews.neu.edu.cn/",
        "https://cse.neu.edu.cn/index.htm",
    ]
    assert links.off_domain == 2


def test_check_portal_url() -> None:
    assert check_portal_url("https://www.neu.edu.cn/") == "https://www.neu.edu.cn/"
    for bad in ("www.neu.edu.cn", "ftp://www.neu.edu.cn/", "http://", "http://[::1", ""):
        with pytest.raises(ConfigError, match="is not an http"):
            check_portal_url(bad)


# -- language -----------------------------------------------------------------------------------

ZH_TEXT = "东北大学举办学术报告会，邀请国内外专家学者交流最新研究成果。" * 3
EN_TEXT = "Northeastern University holds an international forum on smart manufacturing. " * 2


@pytest.mark.parametrize(
    ("html", "language"),
    [
        (f"<html><body><p>{ZH_TEXT}</p><p>Copyright NEU</p></body></html>", "zh"),
        (f"<html><body><p>{EN_TEXT}</p><p>辽ICP备10000001号</p></body></html>", "en"),
        # Enough text: it wins over a lang attribute kept from a Chinese template.
        (f'<html lang="zh-CN"><body><p>{EN_TEXT}</p></body></html>', "en"),
        # Too little text: the lang attribute decides.
        ('<html lang="en-US"><body><p>Home 首页</p></body></html>', "en"),
        ('<html lang="zh"><body><p>Home</p></body></html>', "zh"),
        ("<html><body><p>Home</p><script>var 中文 = 1;</script></body></html>", None),
        ('<html lang="fr"><body></body></html>', None),
    ],
)
def test_page_language(html: str, language: str | None) -> None:
    assert page_language(html) == language


# -- column finding -----------------------------------------------------------------------------


def replica_page(replica: Replica, site: str, path: str) -> str:
    return respond(replica, site, "GET", path, {}).body.decode("utf-8")


def test_news_columns_are_list_pages_with_a_pager_or_enough_articles() -> None:
    replica = build_replica(seed=3, articles_per_column=12, page_size=5)
    base = "http://127.0.0.1:8001"
    assert is_news_column(replica_page(replica, "news", "/ddyw.htm"), base + "/ddyw.htm")
    assert is_news_column(replica_page(replica, "college", "/xwdt/list.htm"), base + "/x.htm")
    assert not is_news_column(replica_page(replica, "news", "/about.htm"), base + "/about.htm")
    three = "".join(f'<li><a href="/info/1011/{n}.htm">第{n}期讲座</a></li>' for n in (1, 2, 3))
    assert not is_news_column(f"<html><body><ul>{three}</ul></body></html>", base + "/gnxw.htm")
    assert not is_news_column("", base + "/empty.htm")


# -- the sources file ---------------------------------------------------------------------------

HOME = "http://neunews.neu.edu.cn/"


def surveyed(location: str, start: str, language: str | None, *links: ColumnLink) -> SubSite:
    site = SubSite(location, start, requests=1 + len(links), start_url=start, language=language)
    site.links = list(links)
    site.checked = len(links)
    return site


def test_sources_file_has_one_source_per_news_column_and_loads(tmp_path: Path) -> None:
    ddyw, about = ColumnLink(HOME + "ddyw.htm", "东大要闻"), ColumnLink(HOME + "about.htm", "关于")
    xsdt = ColumnLink(HOME + "xsky/xsdt.htm", "学术动态")
    news = surveyed("neunews.neu.edu.cn", HOME, "zh", ddyw, about, xsdt)
    news.news = {xsdt, ddyw}
    news.cms_votes.update(["vsb", "vsb", "webplus"])
    focus = ColumnLink("https://english.neu.edu.cn/Focus/list.htm", 'The "Focus"')
    unlabelled = ColumnLink("https://english.neu.edu.cn/list.jsp?wbtreeid=1001", "")
    english = surveyed(
        "english.neu.edu.cn", "https://english.neu.edu.cn/index.htm", "en", focus, unlabelled
    )
    english.news = {focus, unlabelled}
    plain = surveyed("lib.neu.edu.cn", "http://lib.neu.edu.cn/", "zh", about)
    path = tmp_path / "sources.toml"
    path.write_text(sources_toml("https://www.neu.edu.cn/", [news, english, plain]), "utf-8")

    found = [
        (source.name, source.start_urls, source.column, source.language, source.cms)
        for source in load_sources(path)
    ]
    assert found == [  # in home page order, grouped by sub-site
        ("neunews-ddyw", (ddyw.url,), "东大要闻", "zh", "vsb"),
        ("neunews-xsky-xsdt", (xsdt.url,), "学术动态", "zh", "vsb"),
        ("english-focus", (focus.url,), 'The "Focus"', "en", None),
        ("english-list", (unlabelled.url,), None, "en", None),
    ]
    assert "# english.neu.edu.cn, home page https://english.neu.edu.cn/index.htm" in (
        path.read_text("utf-8")
    )


def test_sources_file_names_are_unique_ids(tmp_path: Path) -> None:
    sites = []
    for list_path in ("/ddyw.htm", "/ddyw/list.htm", "/ddyw.html"):
        column = ColumnLink(f"http://127.0.0.1:8001{list_path}", "要闻")
        site = surveyed("127.0.0.1:8001", "http://127.0.0.1:8001/", "zh", column)
        site.news = {column}
        sites.append(site)
    path = tmp_path / "sources.toml"
    path.write_text(sources_toml("http://127.0.0.1:8000/", sites), "utf-8")
    names = [source.name for source in load_sources(path)]
    assert names == ["127-0-0-1-8001-ddyw", "127-0-0-1-8001-ddyw-2", "127-0-0-1-8001-ddyw-3"]


@pytest.mark.parametrize(
    ("location", "name"),
    [
        ("neunews.neu.edu.cn", "neunews"),
        ("neu.edu.cn", "neu"),
        ("www.cse.neu.edu.cn:8080", "www-cse-8080"),
        ("127.0.0.1:8001", "127-0-0-1-8001"),
    ],
)
def test_source_name(location: str, name: str) -> None:
    assert source_name(location) == name


def test_left_out_reasons() -> None:
    link = ColumnLink(HOME + "about.htm", "关于")
    failed = surveyed("a.neu.edu.cn", HOME, None)
    failed.failure = "http_404"
    assert left_out_reason(failed, 30) == "home page not read (http_404)"
    assert left_out_reason(SubSite("b.neu.edu.cn", HOME), 30) == "home page not read (no answer)"
    assert left_out_reason(surveyed("c", HOME, "zh"), 30) == (
        "no links to list pages on its home page"
    )
    assert left_out_reason(surveyed("d", HOME, "zh", link), 30) == (
        "no news column among 1 list-page links"
    )
    limited = surveyed("e", HOME, "zh", link, link)
    limited.checked = 1
    assert "NEU_DISCOVER_MAX_REQUESTS" in (left_out_reason(limited, 2) or "")
    mute = surveyed("f", HOME, None, link)
    mute.news = {link}
    assert left_out_reason(mute, 30) == "language not recognised on its pages"
    mute.language = "en"
    assert left_out_reason(mute, 30) is None


# -- the command, end to end ------------------------------------------------------------------


@dataclass
class Discovery:
    result: subprocess.CompletedProcess[bytes]
    sources: Path
    requests: list[tuple[str, str]]  # what the sites answered during the discovery

    @property
    def lines(self) -> list[str]:
        return self.result.stderr.decode("utf-8").splitlines()


def portal_replica() -> PortalReplica:
    return PortalReplica(
        [
            build_replica(seed=31, articles_per_column=6, page_size=5),
            build_replica(seed=32, articles_per_column=6, page_size=5, theme="variant-3"),
        ]
    )


def discover(portal: PortalReplica, output: Path, *settings: str) -> Discovery:
    before = len(portal.request_log)
    result = cli("discover", portal.portal_url, "--output", str(output), *FAST, *settings)
    return Discovery(result, output, portal.request_log[before:])


@pytest.fixture(scope="module")
def portal() -> Iterator[PortalReplica]:
    with portal_replica() as running:
        yield running


@pytest.fixture(scope="module")
def discovery(portal: PortalReplica, tmp_path_factory: pytest.TempPathFactory) -> Discovery:
    return discover(portal, tmp_path_factory.mktemp("discover") / "sources.toml")


def columns_by_location(sources: list[Source]) -> dict[str, dict[str, str | None]]:
    """host:port -> {list page path: column label} of a sources file's column sources."""
    found: dict[str, dict[str, str | None]] = {}
    for source in sources:
        (url,) = source.start_urls
        found.setdefault(netloc(url), {})[urlsplit(url).path] = source.column
    return found


def test_one_source_per_news_column_with_its_label_language_and_cms(
    portal: PortalReplica, discovery: Discovery
) -> None:
    assert discovery.result.returncode == 0, discovery.lines
    sources = load_sources(discovery.sources)
    news_sites = portal.news_sites()
    assert len(news_sites) == 6
    assert {site.cms for site in news_sites} == {"vsb", "webplus"}
    assert columns_by_location(sources) == {site.location: site.columns for site in news_sites}
    kinds = {site.location: (site.cms, site.language) for site in news_sites}
    for source in sources:
        assert (source.cms, source.language) == kinds[netloc(source.start_urls[0])], source.name


def test_stderr_names_each_left_out_site_with_its_reason(
    portal: PortalReplica, discovery: Discovery
) -> None:
    left_out = [line for line in discovery.lines if line.startswith("discover: left out ")]
    assert len(left_out) == len(LEFT_OUT)
    for name, reason in LEFT_OUT.items():
        (line,) = [line for line in left_out if f" {portal.location(name)}: " in line]
        assert reason in line, line
    for site in portal.news_sites():
        assert any(line.startswith(f"discover: {site.location}: ") for line in discovery.lines)
    columns = sum(len(site.columns) for site in portal.news_sites())
    assert discovery.lines[-1].startswith(
        f"discover: wrote {columns} sources, the news columns of {len(portal.news_sites())} sites"
        f" ({len(LEFT_OUT)} sites left out)"
    )


def test_robots_txt_and_other_domains_are_respected(
    portal: PortalReplica, discovery: Discovery
) -> None:
    assert not [path for _, path in discovery.requests if path.startswith("/private/")]
    intranet = portal.location("intranet")
    assert [path for location, path in discovery.requests if location == intranet] == [
        "/robots.txt"
    ]
    assert portal.trap_hits == []
    assert any("links to other domains ignored: 1" in line for line in discovery.lines)


def test_a_backfill_of_the_discovered_sources_finds_every_article_exactly(
    portal: PortalReplica, discovery: Discovery, tmp_path: Path
) -> None:
    before = len(portal.request_log)
    result = run_crawl(
        discovery.sources, tmp_path / "data", tmp_path / "out", "-a", "mode=backfill"
    )
    crawled = {location for location, _ in portal.request_log[before:]}
    assert result.returncode == 0, result.stderr
    check_records(result.items, portal.expected_records())
    assert not crawled & {portal.location(name) for name in LEFT_OUT}


def test_requests_per_sub_site_are_bounded(tmp_path: Path) -> None:
    with portal_replica() as portal:
        discovery = discover(portal, tmp_path / "sources.toml", "-s", "NEU_DISCOVER_MAX_REQUESTS=2")
        library, news_sites = portal.location("library"), portal.news_sites()
    assert discovery.result.returncode == 0, discovery.lines
    pages = Counter(location for location, path in discovery.requests if path != "/robots.txt")
    assert max(pages.values()) == 2
    assert len(news_sites) == 6
    # The home page and its first link: the first column only.
    assert columns_by_location(load_sources(discovery.sources)) == {
        site.location: dict([next(iter(site.columns.items()))]) for site in news_sites
    }
    (line,) = [line for line in discovery.lines if f"left out {library}:" in line]
    assert "NEU_DISCOVER_MAX_REQUESTS" in line
    assert any("(request limit: 1 of" in line for line in discovery.lines)


# -- bad input: one line on stderr, exit 2, nothing written ------------------------------------


def test_bad_portal_url_or_output_or_setting(tmp_path: Path) -> None:
    output = tmp_path / "sources.toml"
    cases = [
        (["discover", "www.neu.edu.cn", "--output", str(output)], "is not an http(s) URL"),
        (
            ["discover", "http://127.0.0.1:9/", "--output", str(tmp_path / "no" / "s.toml")],
            "no directory",
        ),
        (["discover", "http://127.0.0.1:9/", "--output", str(tmp_path)], "is a directory"),
        (
            [
                "discover",
                "http://127.0.0.1:9/",
                "--output",
                str(output),
                "-s",
                "NEU_DISCOVER_MAX_REQUESTS=0",
            ],
            "NEU_DISCOVER_MAX_REQUESTS",
        ),
    ]
    for args, message in cases:
        result = cli(*args)
        lines = result.stderr.decode("utf-8").splitlines()
        assert result.returncode == 2, lines
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines
    assert list(tmp_path.iterdir()) == []


def test_unreachable_portal(tmp_path: Path) -> None:
    # A bound socket that does not listen: connections to its port are refused.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}/"
        result = cli("discover", url, "--output", str(tmp_path / "s.toml"), *FAST)
    lines = result.stderr.decode("utf-8").splitlines()
    assert result.returncode == 2, lines
    (line,) = lines
    assert line.startswith(f"error: cannot read the portal {url}: ") and "ConnectionRefused" in line
    assert list(tmp_path.iterdir()) == []


def test_a_link_with_a_port_out_of_range_is_no_site_and_hides_none_after_it() -> None:
    page = (
        '<a href="http://a.neu.edu.cn/">a</a><a href="http://bad.neu.edu.cn:99999/">bad</a>'
        '<a href="http://cse.neu.edu.cn/">cse</a>'
    )
    links = sub_site_links(page, "http://www.neu.edu.cn/")
    assert links.homes == [
        "http://www.neu.edu.cn/",
        "http://a.neu.edu.cn/",
        "http://cse.neu.edu.cn/",
    ]


def test_an_idn_portal_is_one_domain_with_the_punycode_hosts_requests_carry() -> None:
    hosts = DomainHosts("http://www.例子.中国/")
    assert "www.xn--fsqu00a.xn--fiqs8s" in hosts
    assert "news.xn--fsqu00a.xn--fiqs8s:8080" in hosts
    assert "www.example.cn" not in hosts
