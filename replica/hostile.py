"""Hostile links (opt-in: ``build_replica(hostile=True)``): links a crawler must not follow.

Two columns are added to the news site (VSB):

* ``hostile`` 恶意链接 (``/hostile.htm``) lists a few normal articles and, after them on page 1,
  one link of each kind in :data:`HOSTILE_KINDS` (see :func:`add_hostile_columns`);
* ``endless`` 无尽分页 (``/endless.htm``) has a pager whose 下页 always leads on:
  ``/endless/<n>.htm`` links ``/endless/<n+1>.htm``, every page listing the same 3 articles.

Redirects to "another port" point at a :class:`TrapServer` the :class:`ReplicaServer` runs
next to the sites; it answers anything with a page shaped like an article and records the hit.
Ground truth: only the normal articles of both columns.
"""

from __future__ import annotations

import contextlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

from replica.model import LAST_DAY, ExtraLink, Redirect, ReplicaModel

HOSTILE_COLID = 1099
ENDLESS_COLID = 1100
HOSTILE_ARTICLES = 3
ENDLESS_ARTICLES = 3
OFFSITE_URL = "http://example.invalid/"
TRAP_PAGE = "/caught.htm"
LONG_PATH_LENGTH = 5000

HOSTILE_KINDS = (
    "offsite",  # /go/offsite.htm -> 302 http://example.invalid/
    "otherport",  # /go/otherport.htm -> 302 http://127.0.0.1:<trap>/caught.htm
    "trap_article",  # /info/1099/<id>.htm -> 302 http://127.0.0.1:<trap>/info/1099/<id>.htm
    "offsite_article",  # /info/1099/<id>.htm -> 302 http://example.invalid/info/1099/<id>.htm
    "javascript",
    "data",
    "mailto",
    "long_url",  # /info/1099/<digits>.htm, a 5,000-character path that answers 404
)


def add_hostile_columns(replica: ReplicaModel) -> None:
    col = replica.add_column(
        "news", "hostile", "恶意链接", "/hostile.htm", HOSTILE_COLID, HOSTILE_ARTICLES
    )
    replica.add_column(
        "news",
        "endless",
        "无尽分页",
        "/endless.htm",
        ENDLESS_COLID,
        ENDLESS_ARTICLES,
        pager="endless",
    )
    trap_article = f"/info/{HOSTILE_COLID}/{replica.reserve_id()}.htm"
    offsite_article = f"/info/{HOSTILE_COLID}/{replica.reserve_id()}.htm"
    with replica.lock:
        site = replica.site("news")
        site.redirects.update(
            {
                "/go/offsite.htm": Redirect(OFFSITE_URL),
                "/go/otherport.htm": Redirect(TRAP_PAGE, trap=True),
                trap_article: Redirect(trap_article, trap=True),
                offsite_article: Redirect(OFFSITE_URL.rstrip("/") + offsite_article),
            }
        )
        day = col.articles[-1].date if col.articles else LAST_DAY
        hrefs = (
            ("/go/offsite.htm", "校外链接"),
            ("/go/otherport.htm", "其他端口"),
            (trap_article, "跳转文章"),
            (offsite_article, "站外文章"),
            ("javascript:alert(1)", "脚本链接"),
            ("data:text/html,<h1>x</h1>", "数据链接"),
            ("mailto:x@example.edu.cn", "邮件链接"),
            (_long_path(), "超长链接"),
        )
        col.extra_links = [
            ExtraLink(href, text, day, kind)
            for (href, text), kind in zip(hrefs, HOSTILE_KINDS, strict=True)
        ]


def _long_path() -> str:
    prefix, suffix = f"/info/{HOSTILE_COLID}/", ".htm"
    digits = LONG_PATH_LENGTH - len(prefix) - len(suffix)
    return prefix + ("1234567890" * (digits // 10 + 1))[:digits] + suffix


# ---------------------------------------------------------------------------- the trap

_TRAP_BODY = (
    "<!DOCTYPE html>\n<html><head>"
    '<meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />'
    "<title>陷阱页面-不应抓取</title></head><body>"
    '<form name="_newscontent_fromname"><h2>陷阱页面</h2><div>更新日期: 2026-01-01</div>'
    '<div id="vsb_content"><div class="v_news_content"><p>如果这段文字出现在数据中，'
    "说明爬虫跟随了指向其他主机或端口的跳转。</p></div></div></form></body></html>\n"
).encode()


class TrapServer(ThreadingHTTPServer):
    """A listener on another free port of the same host: answers 200 to anything (a page that
    looks like an article, so following it costs a crawler a garbage record) and records
    every request it gets as an absolute URL."""

    daemon_threads = True

    def __init__(self, host: str) -> None:
        self._hits: list[str] = []
        self._hits_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        super().__init__((host, 0), _TrapHandler)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def hits(self) -> list[str]:
        with self._hits_lock:
            return list(self._hits)

    def record(self, target: str) -> None:
        with self._hits_lock:
            self._hits.append(self.base_url + target)

    def start(self) -> TrapServer:
        self._thread = threading.Thread(
            target=self.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="replica-trap",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self.shutdown()
            self._thread.join(timeout=5)
        self.server_close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hangs up on the trap is no news


class _TrapHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nginx"
    sys_version = ""
    timeout = 5

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def do_POST(self) -> None:
        with contextlib.suppress(ValueError):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._answer(body=True)

    def _answer(self, *, body: bool) -> None:
        cast(TrapServer, self.server).record(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(_TRAP_BODY)))
        self.end_headers()
        if body:
            self.wfile.write(_TRAP_BODY)
