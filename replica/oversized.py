"""A site whose claims are too big for a crawler's memory, on its own port of 127.0.0.1.

One VSB-shaped site, four columns, each a claim that costs memory if believed:

* ``pager`` 巨量分页 (``/pager.htm``): a pager claiming :data:`CLAIMED_PAGES` pages
  (``/pager/999999999.htm`` … ``/pager/1.htm``); every page it numbers answers, listing the
  same :data:`PAGER_ARTICLES` articles;
* ``links`` 巨量链接 (``/info/2/list.htm``): one list page of :data:`HUGE_LINKS` distinct
  article links (13 MB, under this project's ``DOWNLOAD_MAXSIZE`` of 16 MiB);
* ``many`` 大量链接 (``/info/3/list.htm``): one list page of :data:`MANY_LINKS` distinct
  article links, a page small enough to parse but far longer than any real list;
* ``endless`` 无尽正文 (``/endless.htm``): a list page whose body never ends (chunked, no
  Content-Length): only a download size limit stops it.

Every article page (``/info/<column>/<n>.htm``) is small and real-looking. Nothing here is
ground truth for the feed: the site exists to be survived. Stdlib only.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

CLAIMED_PAGES = 1_000_000_000
PAGER_ARTICLES = 3
HUGE_LINKS = 600_000
MANY_LINKS = 20_000
# The endless body is written in chunks of this size until the client hangs up, and at most
# this much in all (a crawler without a size limit would read 1 GiB, then the page ends).
CHUNK_BYTES = 64 * 1024
ENDLESS_BYTES = 1024**3

# (name, label, first list page)
COLUMNS = (
    ("pager", "巨量分页", "/pager.htm"),
    ("links", "巨量链接", "/info/2/list.htm"),
    ("many", "大量链接", "/info/3/list.htm"),
    ("endless", "无尽正文", "/endless.htm"),
)
_PAGER_PAGE_RE = re.compile(r"/pager/(\d+)\.htm")
_ARTICLE_RE = re.compile(r"/info/(\d+)/(\d+)\.htm")


def _list_page(label: str, items: str, pager: str = "") -> bytes:
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>'
        f'{label}-超大站点</title></head><body><div class="list"><ul>{items}</ul>{pager}'
        "</div></body></html>"
    ).encode()


def _compact_links(count: int) -> str:
    """Links to articles 1 to *count* of the column whose folder the page is in: as short as a
    link can be (relative, unquoted, empty), the most links in the fewest bytes."""
    return "".join(f"<a href={n}.htm></a>" for n in range(1, count + 1))


def _pager_page(number: int | None) -> bytes:
    """The pager column's first page (None) or page *number*: the same articles each time,
    a pager claiming every page down to 1."""
    items = "".join(
        f'<li><a href="/info/1/{n}.htm">分页文章{n}</a><span>2024-09-0{n}</span></li>'
        for n in range(1, PAGER_ARTICLES + 1)
    )
    following = CLAIMED_PAGES - 1 if number is None else number - 1
    pager = (
        f'<div id="fanye1">共{CLAIMED_PAGES}页 '
        f'<a href="/pager/{max(following, 1)}.htm">下页</a> <a href="/pager/1.htm">尾页</a></div>'
    )
    return _list_page("巨量分页", items, pager)


def _article_page(column: int, number: int) -> bytes:
    text = f"第{column}栏第{number}篇文章的正文，来自一个声称拥有无数页面的站点。" * 4
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        f"<title>文章{column}-{number}-超大站点</title></head><body>"
        f'<form name="_newscontent_fromname"><h2>文章{column}-{number}</h2>'
        "<div>发布时间：2024-09-01</div>"
        f'<div id="vsb_content"><div class="v_news_content"><p>{text}</p></div></div>'
        "</form></body></html>"
    ).encode()


class OversizedServer(ThreadingHTTPServer):
    """The oversized site on a free port of *host*; counts the requests it answers."""

    daemon_threads = True

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.requests = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.huge_page = _list_page("巨量链接", _compact_links(HUGE_LINKS))
        self.many_page = _list_page("大量链接", _compact_links(MANY_LINKS))
        super().__init__((host, 0), _Handler)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def write_sources(self, path: Path) -> None:
        """A sources file with one source per column of the site."""
        tables = [
            f'[[sources]]\nname = "oversized-{name}"\nstart_urls = ["{self.base_url}{page}"]\n'
            f'language = "zh"\ncolumn = "{label}"\ncms = "vsb"\n'
            for name, label, page in COLUMNS
        ]
        path.write_text("\n".join(tables), encoding="utf-8")

    def count(self) -> None:
        with self._lock:
            self.requests += 1

    def __enter__(self) -> OversizedServer:
        self._thread = threading.Thread(
            target=self.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="replica-oversized",
            daemon=True,
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.server_close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a crawler that hangs up on the endless body does what it should


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nginx"
    sys_version = ""
    timeout = 30

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        server = cast(OversizedServer, self.server)
        server.count()
        path = self.path.split("?", 1)[0]
        if path == "/endless.htm":
            self._send_endless()
            return
        body = self._page(server, path)
        if body is None:
            self._send(404, b"not found\n", "text/plain")
        else:
            self._send(200, body, "text/html; charset=utf-8")

    @staticmethod
    def _page(server: OversizedServer, path: str) -> bytes | None:
        if path == "/pager.htm":
            return _pager_page(None)
        if path == "/info/2/list.htm":
            return server.huge_page
        if path == "/info/3/list.htm":
            return server.many_page
        if match := _PAGER_PAGE_RE.fullmatch(path):
            return _pager_page(int(match[1]))
        if match := _ARTICLE_RE.fullmatch(path):
            return _article_page(int(match[1]), int(match[2]))
        return None

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send_endless(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for chunk in _endless_chunks():
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


def _endless_chunks() -> Iterator[bytes]:
    head = _list_page("无尽正文", "").split(b"</ul>")[0]
    yield head
    filler = b"<li>" * (CHUNK_BYTES // 4)
    for _ in range(ENDLESS_BYTES // len(filler)):
        yield filler
