"""URL handling: canonical form, stable article ids, and which links may be crawled.

Normalisation is delegated to w3lib (dot segments, fragment, query order) and courlan (case,
default ports, tracking parameters); this module only decides how they combine.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import re
from urllib.parse import urljoin, urlsplit

from courlan import normalize_url
from w3lib.url import canonicalize_url, safe_url_string, url_query_cleaner

# Session parameters make one page look like many; neither library drops them by default.
SESSION_PARAMS = ("jsessionid", "sessionid", "phpsessid", "sid", "aspsessionid")

# Links to these are documents (recorded as attachments), never crawled as pages.
DOCUMENT_EXTENSIONS = frozenset(
    "pdf doc docx xls xlsx ppt pptx wps et dps zip rar 7z gz tar txt csv rtf odt ods odp "
    "jpg jpeg png gif bmp webp svg mp3 mp4 avi mov wmv flv apk exe".split()
)
# VSB serves attachments through a download servlet with no file extension in the URL.
DOWNLOAD_PATH_RE = re.compile(r"/system/_content/download\.jsp|/download\.jsp", re.IGNORECASE)
NON_HTTP_SCHEMES = ("javascript:", "mailto:", "data:", "tel:", "ftp:", "file:")
DEFAULT_PORTS = {"http": "80", "https": "443"}
# A crawl canonicalises a list page's URL each time a walk looks at it (seen, next, validators)
# and the pager's links on every page: the last this many are remembered (about 1 MB).
CANONICAL_CACHE_SIZE = 8192


@functools.lru_cache(maxsize=CANONICAL_CACHE_SIZE)
def canonical_url(url: str) -> str:
    """The one spelling of *url* that every variant of it maps to."""
    cleaned = url_query_cleaner(canonicalize_url(url), SESSION_PARAMS, remove=True)
    return str(normalize_url(cleaned))


def article_id(url: str) -> str:
    """Stable id of an article: http and https, ports, ``../`` and fragments give the same id."""
    return canonical_id(canonical_url(url))


def canonical_id(canonical: str) -> str:
    """The id of an already canonical URL: a hash of it without its scheme."""
    key = canonical.split("://", 1)[-1]
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


def absolute_link(base_url: str, href: str | None) -> str | None:
    """Absolute http(s) URL of *href* on a page at *base_url*, or None for non-page schemes."""
    if not href:
        return None
    href = href.strip()
    if not href or href.startswith("#") or href.lower().startswith(NON_HTTP_SCHEMES):
        return None
    absolute = urljoin(base_url, href)
    if urlsplit(absolute).scheme not in ("http", "https"):
        return None
    return absolute.split("#", 1)[0]


def is_document(url: str) -> bool:
    """True for file downloads (pdf, doc, xls, zip, images…) that are not HTML pages."""
    parts = urlsplit(url)
    if DOWNLOAD_PATH_RE.search(parts.path):
        return True
    last = parts.path.rsplit("/", 1)[-1]
    return "." in last and last.rsplit(".", 1)[-1].lower() in DOCUMENT_EXTENSIONS


def netloc(url: str) -> str:
    """Host and port as they identify a site (``127.0.0.1:8001``; the port only when it is not
    the scheme's default), spelled as ``site_netloc`` spells them."""
    parts = urlsplit(url)
    default_port = DEFAULT_PORTS.get(parts.scheme.lower())
    return site_netloc(parts.netloc, () if default_port is None else (default_port,))


def site_netloc(location: str, default_ports: tuple[str, ...]) -> str:
    """*location* (``host[:port]``) lower-cased, an IDN host in punycode (as Scrapy requests
    it), without a port among *default_ports*: ``http://例子.中国:80/`` and
    ``http://xn--fsqu00a.xn--fiqs8s/`` are one site."""
    location = location.lower()
    if not location.isascii():
        # Scrapy requests what w3lib makes of a URL; the same code spells the host here.
        # A port out of range (ValueError) is no site's: the location is left as it is.
        with contextlib.suppress(ValueError):
            location = urlsplit(safe_url_string(f"//{location}")).netloc.lower()
    host, colon, port = location.rpartition(":")
    if colon and not port:
        return host  # "h:" is requested as "h"
    if not (colon and port.isascii() and port.isdigit()):
        return location
    port = str(int(port))  # ":080" is requested as ":80"
    return host if port in default_ports else f"{host}:{port}"
