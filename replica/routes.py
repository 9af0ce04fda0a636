"""Request routing: which page (or file, or 404) a path on a site is, rendered from the model
at request time. The HTTP server (:mod:`replica.server`) only moves bytes.

Pages carry an ETag and a Last-Modified and answer a conditional GET with 304 while unchanged:
an article's change with its edits, a list, home or plain page's with its bytes (a publication,
an edit, a move or a layout change of its site shows on it)."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Mapping
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import parse_qs, quote

from replica import badpages, realworld, vsb, webplus
from replica.build import Replica
from replica.model import Article, Column, ReplicaModel, Site
from replica.response import Response as Response  # re-exported: it was defined here

HTML = "text/html; charset=utf-8"
ROBOTS = "User-agent: *\nDisallow: /private/\nDisallow: /system/resource/\n"

_ABOUT = {
    "zh": (
        "关于我们",
        [
            "本网站由学校党委宣传部主办，报道学校的重要新闻、学术动态和校园生活。",
            "投稿请发送至新闻投稿邮箱，来稿请注明作者、单位和联系方式。",
        ],
    ),
    "en": (
        "About",
        [
            "This website reports news of the university for international readers.",
            "Contributions are welcome; please include your name and affiliation.",
        ],
    ),
}
_PRIVATE = {
    "zh": ("内部通知", ["本页面仅限校内访问。"]),
    "en": ("Staff Only", ["This page is for staff only."]),
}


def _html(status: int, text: str, extra: list[tuple[str, str]] | None = None) -> Response:
    return Response(status, text.encode("utf-8"), [("Content-Type", HTML), *(extra or [])])


def not_found() -> Response:
    return _html(
        404,
        "<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>"
        "<body><h1>404 Not Found</h1><p>The requested page does not exist.</p></body></html>\n",
    )


def gone(status: int) -> Response:
    """What a moved column's old list page answers: the site's 404 page, or 410 Gone."""
    if status == 404:
        return not_found()
    return _html(
        status,
        "<!DOCTYPE html>\n<html><head><title>410 Gone</title></head>"
        "<body><h1>410 Gone</h1><p>The requested page is no longer available.</p></body></html>\n",
    )


def http_date(moment: dt.datetime) -> str:
    return format_datetime(moment.astimezone(dt.UTC).replace(microsecond=0), usegmt=True)


def _not_modified(etag: str, modified: dt.datetime, headers: Mapping[str, str]) -> bool:
    """RFC 9110 conditional GET: If-None-Match wins over If-Modified-Since."""
    inm = headers.get("if-none-match")
    if inm is not None:
        tags = [t.strip() for t in inm.split(",")]
        return "*" in tags or any(t.removeprefix("W/") == etag for t in tags)
    ims = headers.get("if-modified-since")
    if ims is None:
        return False
    try:
        since = parsedate_to_datetime(ims)
    except (TypeError, ValueError, IndexError):
        return False
    if since.tzinfo is None:
        since = since.replace(tzinfo=dt.UTC)
    return modified.replace(microsecond=0) <= since


def _article(
    replica: ReplicaModel, site: Site, article: Article, headers: Mapping[str, str]
) -> Response:
    etag, modified = replica.etag(article), replica.last_modified(article)
    validators = [("ETag", etag), ("Last-Modified", http_date(modified))]
    if _not_modified(etag, modified, headers):
        return Response(304, b"", validators)
    if article.bad is not None:
        return badpages.respond(replica, site, article, validators)
    if article.template is not None:
        return realworld.respond(replica, site, article, validators)
    if site.cms == "vsb":
        page = vsb.article_page(replica, site, article)
    else:
        page = webplus.article_page(replica, site, article)
    return _html(200, page, validators)


def _conditional_page(site: Site, page: str, headers: Mapping[str, str]) -> Response:
    """A page of the site with validators, as a CMS's static pages are served: its ETag changes
    with its bytes, its Last-Modified is the site's last change; 304 when the request's match."""
    body = page.encode("utf-8")
    etag = f'"{hashlib.sha1(body).hexdigest()[:16]}"'
    validators = [("ETag", etag), ("Last-Modified", http_date(site.changed))]
    if _not_modified(etag, site.changed, headers):
        return Response(304, b"", validators)
    return Response(200, body, [("Content-Type", HTML), *validators])


_DIGITS = re.compile(r"[1-9][0-9]*")


def _endless_page(col: Column, path: str) -> tuple[Column, int, int] | None:
    """Pages of a pager without end: ``/col.htm`` is page 1, ``/col/<n>.htm`` page n, and
    every page says there is one more."""
    if path == col.list_path:
        return col, 1, 2
    prefix = col.list_path.removesuffix(".htm") + "/"
    if not (path.startswith(prefix) and path.endswith(".htm")):
        return None
    num = path[len(prefix) : -4]
    # Nine digits bound int() and are far more pages than any crawler should walk.
    if _DIGITS.fullmatch(num) and len(num) <= 9 and int(num) >= 2:
        return col, int(num), int(num) + 1
    return None


def _list_page(replica: ReplicaModel, site: Site, path: str) -> tuple[Column, int, int] | None:
    """(column, page number counted from the newest, number of pages) of a list page path."""
    for col in site.columns:
        if col.pager == "endless":
            found = _endless_page(col, path)
            if found is not None:
                return found
            continue
        pages = col.page_count(replica.page_size)
        if path == col.list_path:
            return col, 1, pages
        stem = col.list_path.removesuffix(".htm")
        if site.cms == "vsb":
            prefix = stem + "/"
            if path.startswith(prefix) and path.endswith(".htm"):
                num = path[len(prefix) : -4]
                if _DIGITS.fullmatch(num) and int(num) < pages:
                    return col, pages - int(num) + 1, pages
        elif path.startswith(stem) and path.endswith(".htm"):
            num = path[len(stem) : -4]
            if _DIGITS.fullmatch(num) and 2 <= int(num) <= pages:
                return col, int(num), pages
    return None


def _payload(key: str, content_type: str) -> bytes:
    tag = key.encode("utf-8")
    if content_type == "image/jpeg":
        comment = b"replica " + tag
        return (
            b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
            + b"\xff\xfe"
            + (len(comment) + 2).to_bytes(2, "big")
            + comment
            + b"\xff\xd9"
        )
    if content_type == "application/pdf":
        return b"%PDF-1.4\n% replica " + tag + b"\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
    return b"PK\x03\x04replica " + tag + b"\n"


def _file(site: Site, path: str, query: str) -> Response | None:
    if path == "/system/_content/download.jsp":
        ids = parse_qs(query).get("wbfileid")
        if not ids:
            return None
        key = f"wbfileid={ids[0]}"
    else:
        key = path
    entry = site.files.get(key)
    if entry is None:
        return None
    content_type, name = entry
    headers = [("Content-Type", content_type)]
    if not content_type.startswith("image/"):
        headers.append(("Content-Disposition", f"attachment; filename*=UTF-8''{quote(name)}"))
    return Response(200, _payload(key, content_type), headers)


def redirect(location: str) -> Response:
    """A 302 with a small body, as nginx sends it."""
    body = (
        "<html>\r\n<head><title>302 Found</title></head>\r\n<body>\r\n"
        "<center><h1>302 Found</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    )
    return Response(302, body.encode(), [("Content-Type", "text/html"), ("Location", location)])


def _redirect(site: Site, path: str, trap: str | None) -> Response | None:
    """A hostile redirect of the site, if *path* is one (needs the trap's base URL)."""
    target = site.redirects.get(path)
    if target is None:
        return None
    if not target.trap:
        return redirect(target.target)
    return redirect(trap + target.target) if trap is not None else not_found()


def respond(
    replica: Replica,
    site_name: str,
    method: str,
    target: str,
    headers: Mapping[str, str],
    *,
    trap: str | None = None,
) -> Response:
    """The response to *method* *target* on a site. *headers* must have lower-case names;
    *trap* is the base URL of the server's trap listener (hostile redirects point there)."""
    if method not in ("GET", "HEAD"):
        return Response(405, b"", [("Allow", "GET, HEAD")])
    path, _, query = target.partition("?")
    with replica.lock:
        site = replica.site(site_name)
        plain = vsb.plain_page if site.cms == "vsb" else webplus.plain_page
        if path == "/robots.txt":
            return Response(200, ROBOTS.encode(), [("Content-Type", "text/plain; charset=utf-8")])
        if path in ("/", "/index.htm"):
            home = vsb.home_page if site.cms == "vsb" else webplus.home_page
            return _conditional_page(site, home(replica, site), headers)
        if path == "/about.htm":
            heading, paras = _ABOUT[site.language]
            return _conditional_page(site, plain(replica, site, path, heading, paras), headers)
        if path == "/private/secret.htm":
            heading, paras = _PRIVATE[site.language]
            return _conditional_page(site, plain(replica, site, path, heading, paras), headers)
        if path == "/docs/guide.pdf":
            return Response(
                200, _payload(path, "application/pdf"), [("Content-Type", "application/pdf")]
            )
        if site.redirects:
            hostile = _redirect(site, path, trap)
            if hostile is not None:
                return hostile
        article = site.by_path.get(path)
        if article is not None:
            return _article(replica, site, article, headers)
        moved = replica.gone_status(site_name, path)
        if moved is not None:
            return gone(moved)
        found = _list_page(replica, site, path)
        if found is not None:
            col, k, pages = found
            render = vsb.list_page if site.cms == "vsb" else webplus.list_page
            return _conditional_page(site, render(replica, site, col, k, pages), headers)
        served = _file(site, path, query)
        if served is not None:
            return served
        return not_found()
