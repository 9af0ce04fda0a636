"""A university portal for ``neu-news discover``: one page on a port of 127.0.0.1 linking the
sites of one or more replicas (VSB and WebPlus, each on its own port) and sub-sites without news.

The sub-sites without news, each on its own port too, and the reason discover must give:

* the portal's own site: two plain pages, no list (``no news column``);
* ``library``: a VSB-looking site whose "news" page lists three articles and has no pager
  (``no news column``);
* ``conference``: a static English site (``no news column``);
* ``intranet``: robots.txt disallows everything (``robots.txt``);
* ``gone``: answers 404 to every path (``http_404``).

The portal also links a document, a ``mailto:`` and a site of another domain: a trap listener
on 127.0.0.2, which records any request it gets (there must be none). The ground truth is what
the replicas expect of their linked sites (:meth:`PortalReplica.expected_records`) and the news
sites' CMS, language and columns (:meth:`PortalReplica.news_sites`).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

from replica.build import Replica
from replica.hostile import TrapServer
from replica.server import ReplicaServer

HOST = "127.0.0.1"
# Another address of the loopback network: another registrable "domain" for discover.
OFF_DOMAIN_HOST = "127.0.0.2"
ALLOW_ALL = "User-agent: *\nDisallow: /private/\n"

# Sub-site name -> the words discover's stderr line about it must contain.
LEFT_OUT: dict[str, str] = {
    "portal": "no news column",
    "library": "no news column",
    "conference": "no news column",
    "intranet": "robots.txt",
    "gone": "http_404",
}


@dataclass(frozen=True)
class StaticSite:
    """A site served from a table: path -> HTML; every other path answers 404, and so does
    every path when *status* is 404."""

    name: str
    pages: dict[str, str]
    robots: str = ALLOW_ALL
    status: int = 200


@dataclass(frozen=True)
class NewsSite:
    """What discover must find of a linked replica site."""

    location: str  # host:port
    cms: str
    language: str
    columns: dict[str, str]  # list page path -> label


def _page(title: str, body: str, *, head: str = "", lang: str = "zh-CN") -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{title}</title>\n{head}</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def _links(pairs: Sequence[tuple[str, str]]) -> str:
    return (
        "<ul>" + "".join(f'<li><a href="{href}">{text}</a></li>' for href, text in pairs) + "</ul>"
    )


_PORTAL_TEXT = (
    "<p>东北大学坐落于辽宁省沈阳市，是教育部直属的全国重点大学，学校设有多个学院和研究机构，"
    "面向国家重大需求开展人才培养、科学研究和社会服务。</p>"
)


def _library() -> StaticSite:
    vsb_head = '<script type="text/javascript" src="/system/resource/js/counter.js"></script>\n'
    nav = [
        ("/bggk.htm", "本馆概况"),
        ("/kfsj.htm", "开放时间"),
        ("/gnxw.htm", "馆内新闻"),
        ("/sjk.htm", "数据库导航"),
    ]
    text = "<p>图书馆面向全校师生提供文献借阅、数据库检索、学科咨询和空间预约等服务。</p>"
    news = [
        (f"/info/1011/{number}.htm", f"图书馆举办第{number}期读者培训讲座") for number in (3, 2, 1)
    ]
    pages = {
        "/": _page("图书馆", _links(nav) + text, head=vsb_head),
        "/bggk.htm": _page("本馆概况-图书馆", _links(nav) + text, head=vsb_head),
        "/kfsj.htm": _page(
            "开放时间-图书馆", _links(nav) + "<p>周一至周日 8:00-22:00</p>", head=vsb_head
        ),
        "/gnxw.htm": _page("馆内新闻-图书馆", _links(nav) + _links(news), head=vsb_head),
        "/sjk.htm": _page("数据库导航-图书馆", _links(nav) + text, head=vsb_head),
    }
    return StaticSite("library", pages)


def _conference() -> StaticSite:
    nav = [("/program.html", "Program"), ("/venue.html", "Venue"), ("/register.html", "Register")]
    text = (
        "<p>The International Conference on Intelligent Manufacturing brings researchers and "
        "engineers together in Shenyang every autumn.</p>"
    )
    pages = {
        "/": _page("ICIM 2026", _links(nav) + text, lang="en"),
        **{href: _page(label, _links(nav) + text, lang="en") for href, label in nav},
    }
    return StaticSite("conference", pages)


def _intranet() -> StaticSite:
    page = _page("信息门户", "<p>校内用户请登录后使用统一身份认证服务。</p>")
    return StaticSite("intranet", {"/": page}, robots="User-agent: *\nDisallow: /\n")


STATIC_SITES = (_library, _conference, _intranet, lambda: StaticSite("gone", {}, status=404))


class _StaticServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, site: StaticSite, log: _RequestLog) -> None:
        self.site = site
        self.log = log
        super().__init__((HOST, 0), _StaticHandler)

    @property
    def location(self) -> str:
        return f"{HOST}:{self.server_address[1]}"


class _RequestLog:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: list[tuple[str, str]] = []

    def add(self, location: str, path: str) -> None:
        with self.lock:
            self.entries.append((location, path))


class _StaticHandler(BaseHTTPRequestHandler):
    # One request per connection: stopping the server leaves no keep-alive thread behind.
    protocol_version = "HTTP/1.0"
    server_version = "nginx"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def _answer(self, *, body: bool) -> None:
        server = cast(_StaticServer, self.server)
        path = self.path.partition("?")[0]
        server.log.add(server.location, path)
        site = server.site
        if path == "/robots.txt" and site.status == 200:
            status, kind, text = 200, "text/plain", site.robots
        elif path in site.pages and site.status == 200:
            status, kind, text = 200, "text/html", site.pages[path]
        else:
            status, kind, text = 404, "text/html", _page("404 Not Found", "<h1>404 Not Found</h1>")
        data = text.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", f"{kind}; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body:
            self.wfile.write(data)


class PortalReplica:
    """The portal, its sub-sites and the replicas' servers, started and stopped together."""

    def __init__(self, replicas: Sequence[Replica]) -> None:
        self.replicas = list(replicas)
        self.servers: list[ReplicaServer] = []
        self.static: dict[str, _StaticServer] = {}
        self.trap: TrapServer | None = None
        self._threads: list[threading.Thread] = []
        self._log = _RequestLog()

    def start(self) -> PortalReplica:
        try:
            for replica in self.replicas:
                self.servers.append(ReplicaServer(replica, host=HOST).start())
            self.trap = TrapServer(OFF_DOMAIN_HOST).start()
            for make in STATIC_SITES:
                self._serve(make())
            self._serve(StaticSite("portal", self._portal_pages()))
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every server: no thread or port is left behind. Safe to call twice."""
        for server in self.static.values():
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        for replica_server in self.servers:
            replica_server.stop()
        if self.trap is not None:
            self.trap.stop()
        self.static.clear()
        self._threads.clear()
        self.servers.clear()
        self.trap = None

    def __enter__(self) -> PortalReplica:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ addresses and truth

    @property
    def portal_url(self) -> str:
        return f"http://{self.location('portal')}/"

    def location(self, name: str) -> str:
        """host:port of a sub-site without news (``portal``, ``library``…)."""
        return self.static[name].location

    def news_sites(self) -> list[NewsSite]:
        """Every replica site the portal links, with what discover must find of it."""
        return [
            NewsSite(
                server.netloc(site.name),
                site.cms,
                site.language,
                {column.list_path: column.label for column in site.columns},
            )
            for server in self.servers
            for site in server.replica.sites.values()
        ]

    def expected_records(self) -> dict[str, dict[str, Any]]:
        """What a perfect crawl of every linked replica site extracts, keyed by URL."""
        expected: dict[str, dict[str, Any]] = {}
        for server in self.servers:
            expected.update(server.replica.expected_records(server))
        return expected

    @property
    def request_log(self) -> list[tuple[str, str]]:
        """(host:port, path with query) of every request any site answered so far."""
        with self._log.lock:
            static = list(self._log.entries)
        return static + [
            (server.netloc(entry.site), entry.path)
            for server in self.servers
            for entry in server.request_log
        ]

    @property
    def trap_hits(self) -> list[str]:
        return self.trap.hits if self.trap is not None else []

    # ------------------------------------------------------------------ serving

    def _serve(self, site: StaticSite) -> None:
        server = _StaticServer(site, self._log)
        self.static[site.name] = server
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"portal-{site.name}",
            daemon=True,
        )
        self._threads.append(thread)
        thread.start()

    def _portal_pages(self) -> dict[str, str]:
        """The portal's home page (linking every sub-site, a few ways) and its own pages."""
        assert self.trap is not None
        own = [("/xxgk.htm", "学校概况"), ("/jgsz.htm", "机构设置")]
        sites: list[tuple[str, str]] = []
        for index, server in enumerate(self.servers):
            for site in server.replica.sites.values():
                base = server.base_url(site.name)
                # The ways portals link sub-sites: the root, its index page, a deep page.
                if site.cms == "webplus":
                    href = f"{base}/index.htm"
                elif index % 2 and site.listed:
                    href = base + site.listed[0].path
                else:
                    href = f"{base}/"
                sites.append((href, site.site_title))
        others = [
            (f"http://{self.location('library')}/", "图书馆"),
            (f"http://{self.location('conference')}/", "ICIM 2026"),
            (f"http://{self.location('intranet')}/", "信息门户"),
            (f"http://{self.location('gone')}/", "校友会（旧站）"),
            (f"{self.trap.base_url}/", "教育部"),
            ("mailto:xiaoban@example.edu.cn", "校长信箱"),
            ("/docs/xl.pdf", "校历"),
        ]
        body = _links(own) + "<h2>院系与部门</h2>" + _links(sites + others) + _PORTAL_TEXT
        plain = _links(own) + _PORTAL_TEXT
        return {
            "/": _page("东北大学", body),
            "/xxgk.htm": _page("学校概况-东北大学", plain),
            "/jgsz.htm": _page("机构设置-东北大学", plain),
        }
