"""The replica itself: real HTTP on free ports, pagers, conditional GET, mutations, themes,
determinism and ground truth that matches what the pages render. No crawler here."""

from __future__ import annotations

import http.client
import json
import re
import signal
import subprocess
import sys
import threading
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest

from replica import Replica, ReplicaServer, build_replica
from replica.theme import STABLE_CLASSES

PROJECT_ROOT = Path(__file__).resolve().parents[1]
VOID_TAGS = {"img", "br", "input", "link", "meta", "hr"}
SEPARATORS = (", ", "、", "，", "; ")

# ----------------------------------------------------------------------------- helpers


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def iter(self) -> Iterator[Node]:
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.iter()

    def find_all(self, tag: str | None = None, cls: str | None = None) -> list[Node]:
        return [
            n
            for n in self.iter()
            if (tag is None or n.tag == tag) and (cls is None or cls in n.classes)
        ]

    def find(self, tag: str | None = None, cls: str | None = None) -> Node:
        found = self.find_all(tag, cls)
        assert found, f"no <{tag} class={cls}>"
        return found[0]


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID_TAGS:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(page: str) -> Node:
    builder = _TreeBuilder()
    builder.feed(page)
    builder.close()
    return builder.root


def fetch(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return resp.status, dict(resp.headers.items()), resp.read()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, dict(err.headers.items()), err.read()


def get_html(url: str) -> str:
    status, headers, body = fetch(url)
    assert status == 200, url
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    return body.decode("utf-8")


def column_urls(expected: dict[str, dict[str, Any]], label: str) -> set[str]:
    return {url for url, rec in expected.items() if label in rec["columns"]}


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Replica, ReplicaServer]]:
    """One read-only replica for the tests that do not change it."""
    replica = build_replica(seed=0, articles_per_column=25, page_size=10)
    with ReplicaServer(replica) as server:
        yield replica, server


@pytest.fixture
def own() -> Iterator[tuple[Replica, ReplicaServer]]:
    """A small replica a test may change."""
    replica = build_replica(seed=7, articles_per_column=12, page_size=5)
    with ReplicaServer(replica) as server:
        yield replica, server


# ----------------------------------------------------------------------------- server


def test_free_ports_and_clean_stop() -> None:
    before = set(threading.enumerate())
    server = ReplicaServer(build_replica(articles_per_column=3)).start()
    ports = [server.port(site) for site in ("news", "english", "college")]
    assert len(set(ports)) == 3 and all(p > 0 for p in ports)
    assert server.base_url("news") == f"http://127.0.0.1:{ports[0]}"
    # an idle keep-alive connection must not outlive the stop: the server hangs it up
    conn = http.client.HTTPConnection("127.0.0.1", ports[0], timeout=5)
    conn.request("GET", "/index.htm")
    assert conn.getresponse().read()
    server.stop()
    server.stop()  # twice is fine
    assert conn.sock is not None
    try:  # end of stream, not the 5 s client timeout (TimeoutError) of a connection left open
        left = conn.sock.recv(1)
    except ConnectionResetError:
        left = b""
    assert left == b""
    conn.close()
    assert set(threading.enumerate()) <= before
    for port in ports:
        with pytest.raises(ConnectionRefusedError):
            http.client.HTTPConnection("127.0.0.1", port, timeout=1).connect()


def test_robots_txt(served: tuple[Replica, ReplicaServer]) -> None:
    _, server = served
    for site in ("news", "english", "college"):
        status, headers, body = fetch(server.base_url(site) + "/robots.txt")
        assert status == 200 and headers["Content-Type"].startswith("text/plain")
        assert body.decode().splitlines() == [
            "User-agent: *",
            "Disallow: /private/",
            "Disallow: /system/resource/",
        ]


def test_home_page_and_non_column_links(served: tuple[Replica, ReplicaServer]) -> None:
    replica, server = served
    for site_name in ("news", "college"):
        base = server.base_url(site_name)
        home = base + "/index.htm"
        links = {a.attrs["href"]: a.text() for a in parse(get_html(home)).find_all("a")}
        resolved = {urljoin(home, href): text for href, text in links.items()}
        for col in replica.site(site_name).columns:
            assert resolved[base + col.list_path] == col.label
        for href in ("javascript:;", "mailto:news@example.edu.cn", "http://www.example.org/"):
            assert href in links
        assert base + "/docs/guide.pdf" in resolved
        assert base + "/private/secret.htm" in resolved
        about = get_html(base + "/about.htm")
        assert "pb_sys_" not in about and "wp_paging" not in about
        assert fetch(base + "/private/secret.htm")[0] == 200
        status, headers, body = fetch(base + "/docs/guide.pdf")
        assert (status, headers["Content-Type"]) == (200, "application/pdf")
        assert body.startswith(b"%PDF")
        assert fetch(base + "/no/such/page.htm")[0] == 404
        assert fetch(base + "/info/1002/1.htm")[0] == 404


# ----------------------------------------------------------------------------- pagers


@pytest.mark.parametrize(
    ("site", "slug"), [("news", "ddyw"), ("news", "xsdt"), ("english", "focus")]
)
def test_vsb_pager_counts_down(served: tuple[Replica, ReplicaServer], site: str, slug: str) -> None:
    replica, server = served
    col = replica.site(site).column(slug)
    base = server.base_url(site)
    expected = replica.expected_records(server)
    total = len(col.articles)
    pages = replica.pages(site, slug)
    assert pages == 3
    stem = col.list_path.removesuffix(".htm")
    want_urls = [base + col.list_path] + [
        f"{base}{stem}/{pages - k + 1}.htm" for k in range(2, pages + 1)
    ]
    seen: set[str] = set()
    url: str | None = base + col.list_path
    walked: list[str] = []
    while url is not None:
        walked.append(url)
        k = len(walked)
        tree = parse(get_html(url))
        pager = tree.find("div", "pb_sys_common")
        counters = [s.text() for s in pager.find_all("span", "p_t")]
        assert counters == [f"共{total}条", f"{k}/{pages}"]
        if k == 1:
            assert pager.find_all("span", "p_first_d") and pager.find_all("span", "p_prev_d")
        items = tree.find("ul", replica.theme.list_ul_cls).find_all("li")
        assert 0 < len(items) <= replica.page_size
        for i, li in enumerate(items):
            a = li.find("a")
            href = a.attrs["href"]
            assert not href.startswith(("/", "http")), "VSB list links are relative"
            item_url = urljoin(url, href)
            assert item_url in expected, item_url
            full = expected[item_url]["title"]
            assert ("title" in a.attrs) == (i % 3 != 2)
            assert a.text() == (full if len(full) <= 22 else full[:22] + "...")
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", li.find("span").text())
            seen.add(item_url)
        nxt = pager.find_all("span", "p_next")
        if nxt:
            url = urljoin(url, nxt[0].find("a").attrs["href"])
        else:
            assert pager.find_all("span", "p_next_d") and not pager.find_all("span", "p_last")
            url = None
    assert walked == want_urls
    assert seen == column_urls(expected, col.label)
    for item_url in sorted(seen)[:5]:
        assert fetch(item_url)[0] == 200


@pytest.mark.parametrize("slug", ["xwdt", "tzgg"])
def test_webplus_pager_counts_up(served: tuple[Replica, ReplicaServer], slug: str) -> None:
    replica, server = served
    col = replica.site("college").column(slug)
    base = server.base_url("college")
    expected = replica.expected_records(server)
    pages = replica.pages("college", slug)
    url = base + col.list_path
    walked: list[str] = []
    seen: set[str] = set()
    while True:
        walked.append(url)
        tree = parse(get_html(url))
        paging = tree.find("ul", "wp_paging")
        assert paging.find("em", "curr_page").text() == str(len(walked))
        assert paging.find("em", "all_pages").text() == str(pages)
        assert paging.find("em", "all_count").text() == str(len(col.articles))
        for a in tree.find("ul", replica.theme.wp_list_ul_cls).find_all("a"):
            assert a.attrs["title"]
            seen.add(urljoin(url, a.attrs["href"]))
        href = paging.find("a", "next").attrs["href"]
        if href == "javascript:void(0);":
            break
        assert href.startswith("/")
        url = urljoin(url, href)
    stem = col.list_path.removesuffix(".htm")
    assert walked == [base + col.list_path] + [f"{base}{stem}{k}.htm" for k in range(2, pages + 1)]
    assert seen == column_urls(expected, col.label)
    assert all(re.search(r"/\d{4}/\d{4}/c\d+a\d+/page\.htm$", u) for u in seen)


# ----------------------------------------------------------------------------- HTTP caching


def test_etag_and_last_modified_give_304(own: tuple[Replica, ReplicaServer]) -> None:
    replica, server = own
    article = replica.articles("news", "ddyw")[1]
    url = server.base_url("news") + article.path
    status, headers, _ = fetch(url)
    etag, modified = headers["ETag"], headers["Last-Modified"]
    assert status == 200
    status, headers304, body = fetch(url, **{"If-None-Match": etag})
    assert (status, body, headers304["ETag"]) == (304, b"", etag)
    assert fetch(url, **{"If-Modified-Since": modified})[0] == 304
    assert fetch(url, **{"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"})[0] == 200
    assert fetch(url, **{"If-None-Match": '"other"', "If-Modified-Since": modified})[0] == 200
    list_headers = fetch(server.base_url("news") + "/ddyw.htm")[1]
    assert list_headers["ETag"] != etag and "Last-Modified" in list_headers

    replica.edit(article, title="修改后的标题", paragraphs=["第一段。", "第二段。"])
    status, headers, body = fetch(url, **{"If-None-Match": etag})
    assert status == 200 and headers["ETag"] != etag
    assert fetch(url, **{"If-Modified-Since": modified})[0] == 200
    assert headers["Last-Modified"] != modified
    page = body.decode()
    assert "<title>修改后的标题-东北大学新闻网</title>" in page
    record = replica.expected_records(server)[url]
    assert (record["title"], record["text"]) == ("修改后的标题", "第一段。\n\n第二段。")


# ----------------------------------------------------------------------------- mutations


def test_publish_puts_new_articles_on_page_one(own: tuple[Replica, ReplicaServer]) -> None:
    replica, server = own
    base = server.base_url("news")
    before = replica.expected_records(server)
    new = replica.publish("news", "ddyw", n=2)
    first = parse(get_html(base + "/ddyw.htm"))
    links = [
        urljoin(base + "/ddyw.htm", a.attrs["href"])
        for a in first.find("ul", replica.theme.list_ul_cls).find_all("a")
    ]
    assert links[:2] == [base + a.path for a in new]
    assert f"共{12 + 2}条" in first.find("div", "pb_sys_common").text()
    after = replica.expected_records(server)
    assert set(after) - set(before) == {base + a.path for a in new}
    assert all(after[base + a.path]["columns"] == ["东大要闻"] for a in new)
    assert new[0].date > new[1].date > replica.articles("news", "ddyw")[2].date

    # the same through the control endpoint, which is not logged
    server.clear_log()
    college = server.base_url("college")
    request = urllib.request.Request(
        college + "/__replica__/publish?column=tzgg&n=1", data=b"", method="POST"
    )
    with urllib.request.urlopen(request, timeout=5) as resp:
        urls = json.loads(resp.read())
    assert len(urls) == 1 and urls[0].startswith(college + "/")
    top = parse(get_html(college + "/tzgg/list.htm")).find("ul", replica.theme.wp_list_ul_cls)
    assert college + top.find("a").attrs["href"] == urls[0]
    with urllib.request.urlopen(college + "/__replica__/expected", timeout=5) as resp:
        assert urls[0] in json.loads(resp.read())
    assert [e.path for e in server.request_log] == ["/tzgg/list.htm"]


def test_repost_and_layout_breaks(own: tuple[Replica, ReplicaServer]) -> None:
    replica, server = own
    story = replica.articles("news", "ddyw")[0]
    copy = replica.repost(story, "college", "xwdt")
    expected = replica.expected_records(server)
    story_url = server.base_url("news") + story.path
    copy_url = server.base_url("college") + copy.path
    assert copy_url != story_url
    assert expected[copy_url]["text"] == expected[story_url]["text"]
    assert expected[copy_url]["columns"] == ["学院新闻"]
    assert replica.articles("college", "xwdt")[0] is copy

    news = server.base_url("news")
    dated = next(a for a in replica.articles("news", "ddyw") if a.show_date)
    url = news + dated.path
    etag = fetch(url)[1]["ETag"]
    replica.break_layout("news", "no_links")
    listing = get_html(news + "/ddyw.htm")
    assert "info/" not in listing and "pb_sys_common" in listing
    replica.break_layout("news", "no_dates")
    status, _, body = fetch(url, **{"If-None-Match": etag})
    assert status == 200 and dated.date.isoformat() not in body.decode()
    assert replica.expected_records(server)[url]["published"] is None
    replica.fix_layout("news")
    assert "info/" in get_html(news + "/ddyw.htm")
    assert dated.date.isoformat() in get_html(url)
    assert replica.expected_records(server)[url]["published"] == dated.date.isoformat()
    with pytest.raises(ValueError):
        replica.break_layout("news", "everything")


# ----------------------------------------------------------------------------- themes, determinism


def _class_tokens(page: str) -> set[str]:
    return {c for node in parse(page).iter() for c in node.classes}


def test_variant_theme_changes_wrappers_not_markers() -> None:
    default, variant = (
        build_replica(articles_per_column=3),
        build_replica(articles_per_column=3, theme="variant-5"),
    )
    with ReplicaServer(default) as s1, ReplicaServer(variant) as s2:
        for site, marker in (("news", "v_news_content"), ("college", "wp_articlecontent")):
            a1, a2 = default.articles(site)[0], variant.articles(site)[0]
            assert a1.path == a2.path  # same content, other template
            p1 = get_html(s1.base_url(site) + a1.path)
            p2 = get_html(s2.base_url(site) + a2.path)
            t1, t2 = _class_tokens(p1), _class_tokens(p2)
            assert marker in t1 and marker in t2
            assert not (t1 - STABLE_CLASSES) & (t2 - STABLE_CLASSES)
        p1 = get_html(s1.base_url("news") + default.articles("news")[0].path)
        p2 = get_html(s2.base_url("news") + variant.articles("news")[0].path)
        for page in (p1, p2):
            assert '<form name="_newscontent_fromname">' in page
        assert 'id="vsb_content"' in p1 and re.search(r'id="vsb_content_\d+"', p2)
        title = default.articles("news")[0].title
        tag1 = re.search(rf"<(\w+) class=\"[^\"]+\">{re.escape(title)}</", p1)
        tag2 = re.search(rf"<(\w+) class=\"[^\"]+\">{re.escape(title)}</", p2)
        assert tag1 and tag2 and tag1.group(1) != tag2.group(1)
        # the theme changes markup only: the ground truth is the same apart from the ports
        assert _portless(default.expected_records(s1)) == _portless(variant.expected_records(s2))


def _portless(records: dict[str, dict[str, Any]]) -> list[str]:
    def path(url: str) -> str:
        parts = urlsplit(url)
        return parts.path + "?" + parts.query

    out = []
    for rec in records.values():
        rec = {
            **rec,
            "url": path(rec["url"]),
            "site": "",
            "images": [path(i) for i in rec["images"]],
            "attachments": [{**x, "url": path(x["url"])} for x in rec["attachments"]],
        }
        out.append(json.dumps(rec, sort_keys=True, ensure_ascii=False))
    return sorted(out)


def test_same_seed_gives_byte_identical_pages() -> None:
    paths = {
        "news": ["/index.htm", "/ddyw.htm", "/ddyw/1.htm", "/xsky/xsdt/2.htm", "/robots.txt"],
        "english": ["/focus.htm", "/about.htm"],
        "college": ["/xwdt/list.htm", "/tzgg/list2.htm"],
    }
    bodies = []
    for seed in (3, 3, 4):
        replica = build_replica(seed=seed, articles_per_column=15)
        with ReplicaServer(replica) as server:
            urls = [server.base_url(s) + p for s, ps in paths.items() for p in ps]
            urls += [server.base_url(a.site) + a.path for a in replica.articles()[::9]]
            bodies.append([fetch(u)[2] for u in urls])
    assert bodies[0] == bodies[1]
    assert bodies[0] != bodies[2]


# ----------------------------------------------------------------------------- ground truth


def test_ground_truth_matches_every_article_page(served: tuple[Replica, ReplicaServer]) -> None:
    replica, server = served
    expected = replica.expected_records(server)
    assert len(expected) == 7 * 25 - 1  # one article is listed in both ddyw and mtdd
    suffix = {
        "news": "-东北大学新闻网",
        "english": "-Northeastern University",
        "college": "-信息科学与工程学院",
    }
    seps_seen: set[str] = set()
    for url, rec in expected.items():
        assert set(rec) == {
            "url",
            "site",
            "columns",
            "title",
            "published",
            "authors",
            "editors",
            "origin",
            "language",
            "text",
            "images",
            "attachments",
            "parser",
        }
        site = next(
            s for s in ("news", "english", "college") if url.startswith(server.base_url(s) + "/")
        )
        assert rec["site"] == server.netloc(site) and rec["url"] == url
        page = get_html(url)
        tree = parse(page)
        assert tree.find("title").text() == rec["title"] + suffix[site]
        body = tree.find("div", "v_news_content" if site != "college" else "wp_articlecontent")
        paras = [p.text() for p in body.children if isinstance(p, Node) and p.tag == "p"]
        assert "\n\n".join(p for p in paras if p.strip()) == rec["text"]
        assert [urljoin(url, i.attrs["src"]) for i in body.find_all("img")] == rec["images"]
        if site == "college":
            atts = [urljoin(url, a.attrs["href"]) for a in body.find_all("a")]
            atts += [urljoin(url, d.attrs["pdfsrc"]) for d in body.find_all("div", "wp_pdf_player")]
            assert sorted(atts) == sorted(x["url"] for x in rec["attachments"])
        else:
            form = next(
                f for f in tree.find_all("form") if f.attrs.get("name") == "_newscontent_fromname"
            )
            atts_vsb = [
                (urljoin(url, a.attrs["href"]), a.text())
                for a in form.find_all("a")
                if "download.jsp" in a.attrs["href"]
            ]
            assert atts_vsb == [(x["url"], x["name"]) for x in rec["attachments"]]
        for name in rec["authors"] + rec["editors"]:
            assert name in page
        for people in (rec["authors"], rec["editors"]):
            if len(people) > 1:
                seps_seen.update(s for s in SEPARATORS if s.join(people) in page)
        if rec["origin"]:
            assert rec["origin"] in page
        assert rec["language"] == ("en" if site == "english" else "zh")
    published = [r["published"] for r in expected.values()]
    assert None in published
    assert any(p and p.endswith("+08:00") for p in published)
    assert seps_seen == set(SEPARATORS)
    shared = [r for r in expected.values() if len(r["columns"]) > 1]
    assert [r["columns"] for r in shared] == [["东大要闻", "媒体东大"]]
    # Body date traps are present, and never equal to the article's own date.
    assert any(re.search(r"\d{4}年\d{2}月\d{2}日", r["text"]) for r in expected.values())
    assert any(re.search(r"\b\d{4}-\d{2}-\d{2}\b", r["text"]) for r in expected.values())


def test_sources_file(served: tuple[Replica, ReplicaServer], tmp_path: Path) -> None:
    replica, server = served
    path = tmp_path / "sources.toml"
    replica.write_sources(path, server)
    tables = tomllib.loads(path.read_text(encoding="utf-8"))["sources"]
    assert [t["name"] for t in tables] == [
        "news-ddyw",
        "news-mtdd",
        "news-xsdt",
        "english-focus",
        "english-research",
        "college-xwdt",
        "college-tzgg",
    ]
    assert tables[2] == {
        "name": "news-xsdt",
        "start_urls": [server.base_url("news") + "/xsky/xsdt.htm"],
        "language": "zh",
        "column": "学术动态",
    }
    replica.write_sources(path, server, home=True, sites=["english", "college"])
    tables = tomllib.loads(path.read_text(encoding="utf-8"))["sources"]
    assert tables == [
        {
            "name": "english",
            "start_urls": [server.base_url("english") + "/index.htm"],
            "language": "en",
        },
        {
            "name": "college",
            "start_urls": [server.base_url("college") + "/index.htm"],
            "language": "zh",
        },
    ]


def test_large_replica_builds_and_serves() -> None:
    # How fast is for the benchmarks; this checks that a large replica is complete and served.
    replica = build_replica(articles_per_column=1000)
    assert len(replica.articles("news", "ddyw")) == 1000
    with ReplicaServer(replica) as server:
        news, college = server.base_url("news"), server.base_url("college")
        last = get_html(news + "/ddyw/1.htm")
        article = replica.articles("college", "tzgg")[777]
        page = get_html(college + article.path)
        expected = replica.expected_records(server)[college + article.path]
    assert '<span class="p_t">100/100</span>' in last
    listed = {urljoin(news + "/ddyw/1.htm", a.attrs["href"]) for a in parse(last).find_all("a")}
    assert news + replica.articles("news", "ddyw")[-1].path in listed  # the oldest, at the end
    assert expected["title"] == article.title and article.title in parse(page).text()


def test_cli_serves_until_sigterm(tmp_path: Path) -> None:
    sources = tmp_path / "sources.toml"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "replica",
            "serve",
            "--seed",
            "1",
            "--articles-per-column",
            "4",
            "--sources-out",
            str(sources),
        ],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().split() for _ in range(3)]
        assert [line[0] for line in lines] == ["news", "english", "college"]
        assert fetch(lines[0][1] + "/robots.txt")[0] == 200
        assert len(tomllib.loads(sources.read_text(encoding="utf-8"))["sources"]) == 7
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def test_last_modified_is_an_http_date(served: tuple[Replica, ReplicaServer]) -> None:
    replica, server = served
    article = replica.articles("english", "research")[0]
    modified = fetch(server.base_url("english") + article.path)[1]["Last-Modified"]
    assert modified.endswith(" GMT")
    assert parsedate_to_datetime(modified) == replica.last_modified(article)
