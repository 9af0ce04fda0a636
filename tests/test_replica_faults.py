"""The replica's opt-in trouble: server faults seen as a client sees them, bad pages, hostile
links and a pager without end; and proof that none of it changes a default replica."""

from __future__ import annotations

import hashlib
import html
import http.client
import json
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import closing, contextmanager
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest

import replica as replica_pkg
from replica import (
    BAD_KINDS,
    HOSTILE_KINDS,
    TRANSIENT_KINDS,
    FaultConfig,
    Replica,
    ReplicaServer,
    build_replica,
    vsb,
    webplus,
)
from replica.badpages import HUGE_SIZE, NESTING
from replica.faults import FaultInjector

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# sha256 of every page of build_replica(seed=3, articles_per_column=6, page_size=5) as served
# before faults, bad pages and hostile links existed (see default_digest).
# Computed by default_digest on the replica before list pages had validators (31891c5~1) and
# the same on the replica after it: validators aside, not a byte changed.
DEFAULT_DIGESTS = {
    "default": "fd5905222389aa5daea186467d70c902e2e29e7cb151941ff6543001275c7b8f",
    "variant-2": "31259fbb1558c2c4358d3df7b2b6fefe6cec1a6ded1b510abf0698e6dd006983",
}

# ----------------------------------------------------------------------------- helpers


def fetch(url: str, timeout: float = 5) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, dict(resp.headers.items()), resp.read()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, dict(err.headers.items()), err.read()


@contextmanager
def raw_get(port: int, path: str, timeout: float = 5) -> Iterator[http.client.HTTPResponse]:
    """A GET that follows no redirect and reads nothing yet; the connection closes on exit."""
    with closing(http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)) as conn:
        conn.request("GET", path)
        with conn.getresponse() as resp:
            yield resp


class _Depth(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.depth = self.deepest = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "div":
            self.depth += 1
            self.deepest = max(self.deepest, self.depth)

    def handle_endtag(self, tag: str) -> None:
        if tag == "div":
            self.depth -= 1


def div_depth(page: str) -> int:
    parser = _Depth()
    parser.feed(page)
    return parser.deepest


def default_digest(replica: Replica, server: ReplicaServer) -> str:
    """sha256 over every page a default replica serves (paths, statuses, headers but Date and
    the validators, ETag and Last-Modified, which came later: everything else is as before)."""
    digest = hashlib.sha256()
    for name, site in replica.sites.items():
        paths = ["/", "/index.htm", "/robots.txt", "/about.htm", "/no/such.htm"]
        for col in site.columns:
            pages = replica.pages(name, col.slug)
            for k in range(1, pages + 1):
                paths.append(
                    vsb.page_path(col, k, pages) if site.cms == "vsb" else webplus.page_path(col, k)
                )
        paths += [a.path for a in site.listed]
        for path in paths:
            status, headers, body = fetch(server.base_url(name) + path)
            for header in ("Date", "ETag", "Last-Modified"):
                headers.pop(header, None)
            digest.update(f"{name}{path} {status} {sorted(headers.items())}\n".encode())
            digest.update(hashlib.sha256(body).digest())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def small() -> Replica:
    return build_replica(seed=4, articles_per_column=4, page_size=5)


@pytest.fixture
def faulty(small: Replica) -> Iterator[ReplicaServer]:
    """A server of the small replica; tests set its faults."""
    with ReplicaServer(small) as server:
        yield server


@pytest.fixture(scope="module")
def troubled() -> Iterator[tuple[Replica, ReplicaServer]]:
    """A replica with bad pages and hostile links (read-only)."""
    rep = build_replica(seed=9, articles_per_column=4, page_size=5, bad_pages=True, hostile=True)
    with ReplicaServer(rep) as server:
        yield rep, server


# ----------------------------------------------------------------------------- faults


def test_status_faults_pinned_to_paths(small: Replica, faulty: ReplicaServer) -> None:
    article = small.articles("news", "ddyw")[0].path
    faulty.faults = FaultConfig(
        paths={
            "/ddyw.htm": "500",
            "/mtdd.htm": "502",
            "/xsky/xsdt.htm": "503",
            article: "404",
            "/robots.txt": "robots_error",
        }
    )
    news = faulty.base_url("news")
    for path, status in (
        ("/ddyw.htm", 500),
        ("/mtdd.htm", 502),
        ("/xsky/xsdt.htm", 503),
        (article, 404),
        ("/robots.txt", 500),
    ):
        got, headers, body = fetch(news + path)
        assert got == status, path
        assert headers["Content-Type"].startswith("text/html") and str(status).encode() in body
    # pins hold on every site and every time, and nothing else is touched
    assert fetch(faulty.base_url("college") + "/robots.txt")[0] == 500
    assert fetch(news + "/ddyw.htm")[0] == 500
    assert fetch(news + "/index.htm")[0] == 200
    log = [(e.path, e.status, e.fault) for e in faulty.request_log]
    assert log[:5] == [
        ("/ddyw.htm", 500, "500"),
        ("/mtdd.htm", 502, "502"),
        ("/xsky/xsdt.htm", 503, "503"),
        (article, 404, "404"),
        ("/robots.txt", 500, "robots_error"),
    ]
    assert log[-1] == ("/index.htm", 200, None)


def test_reset_is_a_connection_reset(faulty: ReplicaServer) -> None:
    faulty.faults = FaultConfig(paths={"/ddyw.htm": "reset"})
    port = faulty.port("news")
    with (
        pytest.raises(ConnectionResetError),  # http.client's RemoteDisconnected is one too
        raw_get(port, "/ddyw.htm"),
    ):
        pass
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /ddyw.htm HTTP/1.1\r\nHost: x\r\n\r\n")
        with pytest.raises(ConnectionResetError):  # a RST, not an orderly close (b"")
            sock.recv(1024)
    with pytest.raises(ConnectionResetError):  # urllib lets it through unwrapped
        fetch(faulty.base_url("news") + "/ddyw.htm")
    assert {(e.status, e.fault) for e in faulty.request_log} == {(0, "reset")}


def test_truncate_sends_half_the_promised_body(small: Replica, faulty: ReplicaServer) -> None:
    path = small.articles("news", "ddyw")[1].path
    whole = fetch(faulty.base_url("news") + path)[2]
    faulty.faults = FaultConfig(paths={path: "truncate"})
    with raw_get(faulty.port("news"), path) as resp:
        assert resp.status == 200 and resp.getheader("Content-Length") == str(len(whole))
        with pytest.raises(http.client.IncompleteRead) as caught:
            resp.read()
    assert caught.value.partial == whole[: len(whole) // 2]
    with (
        pytest.raises(http.client.IncompleteRead),
        urllib.request.urlopen(faulty.base_url("news") + path, timeout=5) as truncated,
    ):
        truncated.read()
    assert [(e.status, e.fault) for e in faulty.request_log][-1] == (200, "truncate")


def test_slow_outlasts_a_short_timeout(small: Replica, faulty: ReplicaServer) -> None:
    faulty.faults = FaultConfig(paths={"/ddyw.htm": "slow"}, slow_seconds=0.25)
    url = faulty.base_url("news") + "/ddyw.htm"
    with pytest.raises(TimeoutError), raw_get(faulty.port("news"), "/ddyw.htm", timeout=0.1):
        pass
    started = time.monotonic()
    status, _, body = fetch(url, timeout=5)
    assert time.monotonic() - started >= 0.25
    assert status == 200 and b"pb_sys_common" in body  # late, but the real page


def test_slow_fault_does_not_hold_stop() -> None:
    before = set(threading.enumerate())
    server = ReplicaServer(
        build_replica(articles_per_column=2),
        FaultConfig(rate=1.0, kinds=("slow",), slow_seconds=30),
    ).start()
    hung_up: list[BaseException] = []

    def wait_for_it() -> None:
        try:
            fetch(server.base_url("news") + "/ddyw.htm", 60)
        except OSError as exc:  # the stopping server hangs up without an answer
            hung_up.append(exc)

    waiting = threading.Thread(target=wait_for_it)
    waiting.start()
    time.sleep(0.1)
    server.stop()
    # the 30 s wait is cut short: the client gets its hang-up, not a late answer, and the
    # handler thread of the slow request ends too (the bounds only keep a failure from hanging)
    waiting.join(timeout=5)
    assert not waiting.is_alive() and len(hung_up) == 1
    for _ in range(50):
        if set(threading.enumerate()) <= before:
            break
        time.sleep(0.1)
    assert set(threading.enumerate()) <= before, "a handler thread outlived stop()"


def test_redirect_loop(faulty: ReplicaServer) -> None:
    faulty.faults = FaultConfig(paths={"/ddyw.htm": "redirect_loop"})
    news, port = faulty.base_url("news"), faulty.port("news")
    with raw_get(port, "/ddyw.htm") as first:
        assert first.status == 302
        partner = first.getheader("Location")
    assert partner == news + "/ddyw.htm?replica_loop=1"
    with raw_get(port, partner.removeprefix(news)) as second:
        assert (second.status, second.getheader("Location")) == (302, news + "/ddyw.htm")
    with pytest.raises(urllib.error.HTTPError, match="infinite loop") as looped:
        urllib.request.urlopen(news + "/ddyw.htm", timeout=5)
    looped.value.close()  # the error holds the last redirect's response
    # the partner always bounces back, so once the fault is off the loop unwinds
    faulty.faults = None
    status, _, body = fetch(partner)
    assert status == 200 and b"pb_sys_common" in body


def test_rate_is_deterministic_per_seed_and_close_to_the_rate() -> None:
    def decisions(config: FaultConfig, n: int) -> list[str | None]:
        injector = FaultInjector(config)
        return [injector.pick(f"http://h/p{i}.htm", f"/p{i}.htm") for i in range(n)]

    config = FaultConfig(rate=0.1, seed=3)
    first = decisions(config, 5000)
    assert first == decisions(config, 5000)
    assert first != decisions(FaultConfig(rate=0.1, seed=4), 5000)
    faulted = [kind for kind in first if kind is not None]
    assert abs(len(faulted) / 5000 - 0.1) < 0.015
    assert set(faulted) == set(TRANSIENT_KINDS)
    # kinds that do not fit a path are never drawn for it
    robots_only = FaultInjector(FaultConfig(rate=1.0, kinds=("robots_error",)))
    assert robots_only.pick("http://h/robots.txt", "/robots.txt") == "robots_error"
    assert robots_only.pick("http://h/a.htm", "/a.htm") is None
    no_robots_404 = FaultInjector(FaultConfig(rate=1.0, kinds=("404",)))
    assert no_robots_404.pick("http://h/robots.txt", "/robots.txt") is None


def test_rate_over_http_is_the_same_sequence_every_run(small: Replica) -> None:
    config = FaultConfig(rate=0.3, kinds=("500", "503"), seed=5)
    paths = ["/ddyw.htm", "/index.htm", "/about.htm"] * 10
    runs = []
    for _ in range(2):
        with ReplicaServer(small, config) as server:
            statuses = [fetch(server.base_url("news") + p)[0] for p in paths]
            # control paths are never faulted nor logged
            assert fetch(server.base_url("news") + "/__replica__/faults")[0] == 200
            log = server.request_log
        assert [e.status for e in log] == statuses
        assert all((e.fault is None) == (e.status == 200) for e in log)
        runs.append(statuses)
    assert runs[0] == runs[1]
    assert {500, 503, 200} <= set(runs[0])


def test_pin_keys_url_target_and_path(small: Replica, faulty: ReplicaServer) -> None:
    faulty.faults = FaultConfig(
        paths={
            faulty.base_url("news") + "/about.htm": "503",  # one site only
            "/index.htm?x=1": "502",  # this query only
            "/robots.txt": "500",  # any query
        }
    )
    assert fetch(faulty.base_url("news") + "/about.htm")[0] == 503
    assert fetch(faulty.base_url("english") + "/about.htm")[0] == 200
    assert fetch(faulty.base_url("news") + "/index.htm?x=1")[0] == 502
    assert fetch(faulty.base_url("news") + "/index.htm?x=2")[0] == 200
    assert fetch(faulty.base_url("news") + "/robots.txt?v=3")[0] == 500


def test_control_endpoint_and_attribute(faulty: ReplicaServer) -> None:
    news = faulty.base_url("news")

    def post(query: str) -> tuple[int, Any]:
        request = urllib.request.Request(
            news + "/__replica__/faults?" + query, data=b"", method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as err:
            with err:
                return err.code, json.loads(err.read())

    status, config = post("rate=1&kinds=503&seed=1&slow=0.5&pin=500:/about.htm")
    assert status == 200
    assert config == {
        "rate": 1.0,
        "kinds": ["503"],
        "paths": {"/about.htm": "500"},
        "seed": 1,
        "slow_seconds": 0.5,
    }
    assert faulty.faults == FaultConfig(1.0, ("503",), {"/about.htm": "500"}, 1, 0.5)
    assert fetch(faulty.base_url("college") + "/index.htm")[0] == 503  # the whole server
    assert fetch(news + "/about.htm")[0] == 500
    assert json.loads(fetch(news + "/__replica__/faults")[2])["kinds"] == ["503"]
    assert post("rate=0")[0] == 200
    assert fetch(news + "/index.htm")[0] == 200
    assert post("rate=2")[0] == 400
    assert post("rate=0.5&kinds=418")[0] == 400
    assert post("pin=/about.htm")[0] == 400
    faulty.faults = FaultConfig(rate=1.0, kinds=("502",))
    assert fetch(news + "/index.htm")[0] == 502
    faulty.faults = None
    assert fetch(news + "/index.htm")[0] == 200


def test_fault_config_validation() -> None:
    for bad in (
        {"rate": -0.1},
        {"rate": 1.5},
        {"rate": 0.5, "kinds": ()},
        {"kinds": ("timeout",)},
        {"paths": {"/a.htm": "nope"}},
        {"paths": {"/a.htm": "robots_error"}},
        {"slow_seconds": -1},
    ):
        with pytest.raises(ValueError):
            FaultConfig(**bad)
    pins = {"/a.htm": "500"}
    config = FaultConfig(paths=pins)
    pins["/b.htm"] = "503"  # the config keeps its own copy
    assert dict(config.paths) == {"/a.htm": "500"} and config.active
    assert not FaultConfig().active and not FaultConfig(rate=0.0, kinds=()).active


def test_cli_fault_and_column_flags(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "replica",
            "serve",
            "--articles-per-column",
            "2",
            "--fault-rate",
            "1",
            "--fault-kinds",
            "502",
            "--fault-seed",
            "2",
            "--fault-pin",
            "503:/about.htm",
            "--bad-pages",
            "--hostile",
        ],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        news = proc.stdout.readline().split()[1]
        assert fetch(news + "/bad.htm")[0] == 502
        assert fetch(news + "/about.htm")[0] == 503
        config = json.loads(fetch(news + "/__replica__/faults")[2])
        assert (config["rate"], config["kinds"], config["seed"]) == (1.0, ["502"], 2)
        request = urllib.request.Request(
            news + "/__replica__/faults?rate=0", data=b"", method="POST"
        )
        urllib.request.urlopen(request, timeout=5).close()
        assert fetch(news + "/hostile.htm")[0] == 200
        assert fetch(news + "/nopager.htm")[0] == 200
    finally:
        proc.terminate()
        proc.wait(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()


# ----------------------------------------------------------------------------- bad pages


def _by_kind(server: ReplicaServer) -> dict[str, str]:
    return {kind: url for url, kind in replica_pkg.bad_pages(server).items()}


def test_bad_pages_are_listed_and_truth_has_what_can_be_extracted(
    troubled: tuple[Replica, ReplicaServer],
) -> None:
    rep, server = troubled
    urls = _by_kind(server)
    assert sorted(urls) == sorted(BAD_KINDS)
    assert rep.bad_pages(server) == replica_pkg.bad_pages(server)
    expected = rep.expected_records(server)
    column = {u for u, r in expected.items() if "问题页面" in r["columns"]}
    assert {urls[k] for k in ("empty", "binary", "huge")}.isdisjoint(expected)
    extractable = set(BAD_KINDS) - {"empty", "binary", "huge"}
    assert {urls[k] for k in extractable} <= column
    assert len(column - set(urls.values())) == 3  # the normal articles among them
    assert expected[urls["no_date"]]["published"] is None
    assert expected[urls["no_title"]]["title"] is None
    # the list walks like any VSB column and lists every one of them
    news, url, seen = server.base_url("news"), server.base_url("news") + "/bad.htm", set()
    while url:
        page = fetch(url)[2].decode()
        seen |= {
            urljoin(url, m) for m in re.findall(r'href="((?:\.\./)?info/1097/\d+\.htm)"', page)
        }
        nxt = re.search(r'<span class="p_next p_fun"><a href="([^"]+)">', page)
        url = urljoin(url, html.unescape(nxt.group(1))) if nxt else ""
    assert seen == column | {urls[k] for k in ("empty", "binary", "huge")}
    assert all(u.startswith(news) for u in seen)


def test_empty_binary_and_huge(troubled: tuple[Replica, ReplicaServer]) -> None:
    _, server = troubled
    urls = _by_kind(server)
    status, headers, body = fetch(urls["empty"])
    assert (status, headers["Content-Type"], headers["Content-Length"], body) == (
        200,
        "text/html",
        "0",
        b"",
    )
    status, headers, body = fetch(urls["binary"])
    assert status == 200 and headers["Content-Type"] == "text/html"
    assert b"\x00" in body and len(body) == 4096
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    assert fetch(urls["binary"])[2] == body  # the same bytes every time
    with raw_get(server.port("news"), urls["huge"].removeprefix(server.base_url("news"))) as resp:
        assert resp.getheader("Content-Length") == str(HUGE_SIZE) == str(20 * 1024 * 1024)
        total, start, end = 0, b"", b""
        while chunk := resp.read(1 << 20):
            start, end = start or chunk[:200], chunk[-20:] if len(chunk) >= 20 else end + chunk
            total += len(chunk)
    assert total == HUGE_SIZE
    assert start.startswith(b"<!DOCTYPE html") and end.endswith(b"</html>\n")


def test_truncated_huge_page_stops_half_way(troubled: tuple[Replica, ReplicaServer]) -> None:
    rep, _ = troubled
    path = next(a.path for a in rep.articles("news", "bad") if a.bad == "huge")
    with ReplicaServer(rep, FaultConfig(paths={path: "truncate"})) as server:
        with (
            raw_get(server.port("news"), path) as resp,
            pytest.raises(http.client.IncompleteRead) as caught,
        ):
            resp.read()
        assert len(caught.value.partial) == HUGE_SIZE // 2


def _page_text(page: str) -> str:
    """The page's text as a browser shows it: no tags, entities resolved."""
    return html.unescape(re.sub(r"<[^>]+>", "", page))


@pytest.mark.parametrize(
    ("kind", "content_type", "meta", "codec"),
    [
        ("gbk_meta", "text/html", '<meta charset="gbk">', "gbk"),
        ("gbk_wrong_header", "text/html; charset=utf-8", '<meta charset="gbk">', "gbk"),
        (
            "gb2312",
            "text/html",
            '<meta http-equiv="Content-Type" content="text/html; charset=gb2312">',
            "gb2312",
        ),
    ],
)
def test_chinese_encodings(
    troubled: tuple[Replica, ReplicaServer], kind: str, content_type: str, meta: str, codec: str
) -> None:
    rep, server = troubled
    url = _by_kind(server)[kind]
    status, headers, body = fetch(url)
    assert status == 200 and headers["Content-Type"] == content_type
    assert meta.encode() in body[:1024]  # where a browser's prescan finds it
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    page = body.decode(codec)
    truth = rep.expected_records(server)[url]
    assert f"<title>{html.escape(truth['title'])}-东北大学新闻网</title>" in page
    text = _page_text(page)
    for paragraph in truth["text"].split("\n\n"):
        assert paragraph in text
    assert "&#169;" in page and "版权所有 © 东北大学新闻网" in text  # © is not in GBK
    assert re.search(r"[\u4e00-\u9fff]{4}", truth["text"])


def test_nested_no_date_no_title_no_container(troubled: tuple[Replica, ReplicaServer]) -> None:
    rep, server = troubled
    urls, expected = _by_kind(server), rep.expected_records(server)
    nested = fetch(urls["nested"])[2].decode()
    assert div_depth(nested) >= NESTING
    assert "<body>\n" + "<div>" * NESTING in nested and 'class="v_news_content"' in nested

    no_date = fetch(urls["no_date"])[2].decode()
    assert "更新日期" not in no_date and 'class="v_news_content"' in no_date

    no_title = fetch(urls["no_title"])[2].decode()
    own = next(a for a in rep.articles("news", "bad") if a.bad == "no_title")
    assert "<title></title>" in no_title and own.title not in no_title
    assert f'class="{rep.theme.title_cls}"' not in no_title
    assert expected[urls["no_title"]]["title"] is None

    no_container = fetch(urls["no_container"])[2].decode()
    assert "v_news_content" not in no_container and "vsb_content" not in no_container
    shown = _page_text(no_container)
    for paragraph in expected[urls["no_container"]]["text"].split("\n\n"):
        assert paragraph in shown


def test_list_page_without_pager(troubled: tuple[Replica, ReplicaServer]) -> None:
    rep, server = troubled
    news = server.base_url("news")
    page = fetch(news + "/nopager.htm")[2].decode()
    assert "pb_sys_common" not in page and "下页" not in page
    listed = {
        urljoin(news + "/nopager.htm", h) for h in re.findall(r'href="(info/1098/\d+\.htm)"', page)
    }
    expected = rep.expected_records(server)
    assert len(listed) == 5 and listed == {
        u for u, r in expected.items() if "无分页" in r["columns"]
    }
    assert fetch(news + "/nopager/1.htm")[0] == 404
    assert rep.pages("news", "nopager") == 1 == rep.pages("news", "endless")


# ----------------------------------------------------------------------------- hostile links


def test_hostile_links_redirects_and_trap(troubled: tuple[Replica, ReplicaServer]) -> None:
    rep, server = troubled
    news, port = server.base_url("news"), server.port("news")
    links = replica_pkg.hostile_links(server)
    by_kind = {kind: url for url, kind in links.items()}
    assert sorted(by_kind) == sorted(HOSTILE_KINDS)
    page = fetch(news + "/hostile.htm")[2].decode()
    hrefs = [html.unescape(h) for h in re.findall(r'href="([^"]+)"', page)]
    for kind in ("javascript", "data", "mailto"):
        assert by_kind[kind] in hrefs
    assert {urljoin(news + "/hostile.htm", h) for h in hrefs} >= set(links)
    assert server.trap_hits == []
    trap = server.trap_url
    assert trap is not None and trap != news and trap.startswith("http://127.0.0.1:")

    def location(url: str) -> str | None:
        with raw_get(port, url.removeprefix(news)) as resp:
            assert resp.status == 302
            return resp.getheader("Location")

    assert location(by_kind["offsite"]) == "http://example.invalid/"
    assert location(by_kind["otherport"]) == trap + "/caught.htm"
    trap_article = by_kind["trap_article"].removeprefix(news)
    assert location(by_kind["trap_article"]) == trap + trap_article
    offsite_article = by_kind["offsite_article"].removeprefix(news)
    assert location(by_kind["offsite_article"]) == "http://example.invalid" + offsite_article
    assert server.trap_hits == []  # nobody followed yet
    assert fetch(by_kind["otherport"])[0] == 200  # urllib follows: the trap answers
    assert fetch(by_kind["trap_article"])[0] == 200
    assert server.trap_hits == [trap + "/caught.htm", trap + trap_article]

    long_path = by_kind["long_url"].removeprefix(news)
    assert len(long_path) == 5000 and re.fullmatch(r"/info/1099/\d+\.htm", long_path)
    assert fetch(by_kind["long_url"])[0] == 404
    expected = rep.expected_records(server)
    hostile = {u for u, r in expected.items() if "恶意链接" in r["columns"]}
    assert len(hostile) == 3 and hostile.isdisjoint(links)


def test_endless_pager_never_ends(troubled: tuple[Replica, ReplicaServer]) -> None:
    rep, server = troubled
    news = server.base_url("news")
    expected = rep.expected_records(server)
    want = {u for u, r in expected.items() if "无尽分页" in r["columns"]}
    assert len(want) == 3
    url, walked = news + "/endless.htm", []
    for _ in range(40):
        walked.append(url)
        page = fetch(url)[2].decode()
        assert {
            urljoin(url, h) for h in re.findall(r'href="([^"]*info/1100/\d+\.htm)"', page)
        } == want
        nxt = re.search(r'<span class="p_next p_fun"><a href="([^"]+)">下页</a>', page)
        assert nxt is not None, url
        url = urljoin(url, nxt.group(1))
    assert walked[1:4] == [news + f"/endless/{n}.htm" for n in (2, 3, 4)]
    assert url == news + "/endless/41.htm"
    assert fetch(news + "/endless/123456789.htm")[0] == 200
    assert fetch(news + "/endless/1234567890.htm")[0] == 404  # ten digits: not a page
    assert fetch(news + "/endless/1.htm")[0] == 404


def test_trap_listener_stops_with_the_server() -> None:
    before = set(threading.enumerate())
    server = ReplicaServer(build_replica(articles_per_column=2, hostile=True)).start()
    trap = server.trap_url
    assert trap is not None
    fetch(server.base_url("news") + "/go/otherport.htm")
    assert len(server.trap_hits) == 1
    server.stop()
    assert server.trap_url is None and server.trap_hits == []
    assert set(threading.enumerate()) <= before
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", int(trap.rpartition(":")[2])), timeout=1)


# ----------------------------------------------------------------------------- opt-in


@pytest.mark.parametrize("theme", sorted(DEFAULT_DIGESTS))
def test_defaults_are_unchanged(theme: str) -> None:
    """A default replica serves the very bytes it served before any of this existed, and an
    inactive fault config changes nothing either."""
    for faults in (None, FaultConfig(rate=0.0, seed=7)):
        rep = build_replica(seed=3, articles_per_column=6, page_size=5, theme=theme)
        with ReplicaServer(rep, faults) as server:
            assert default_digest(rep, server) == DEFAULT_DIGESTS[theme]
            assert server.trap_url is None
            assert rep.bad_pages(server) == {} and rep.hostile_links(server) == {}
            assert all(e.fault is None for e in server.request_log)


def test_extras_leave_the_base_sites_alone() -> None:
    """Bad pages and hostile links add columns; the base articles stay the same articles."""
    plain = build_replica(seed=6, articles_per_column=5)
    extra = build_replica(seed=6, articles_per_column=5, bad_pages=True, hostile=True)
    with ReplicaServer(plain) as s1, ReplicaServer(extra) as s2:
        base = plain.expected_records(s1)
        more = extra.expected_records(s2)
    assert [c.slug for c in extra.site("news").columns] == [
        "ddyw",
        "mtdd",
        "xsdt",
        "bad",
        "nopager",
        "hostile",
        "endless",
    ]
    moved = {u.split("/", 3)[3]: r["title"] for u, r in more.items()}
    assert all(moved[u.split("/", 3)[3]] == r["title"] for u, r in base.items())
    # and publish() after the build draws from the same RNG state as without the extras
    assert [a.path for a in plain.publish("news", "ddyw", 2)] == [
        a.path for a in extra.publish("news", "ddyw", 2)
    ]
