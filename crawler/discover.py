"""Finding a university's news sites from its portal: the pure part of ``neu-news discover``.

No Scrapy, no I/O, HTML in and findings out: which links of a portal lead to sub-sites of the
same registrable domain, which pages are news columns, a page's language, what the survey of
one sub-site found, and the sources file written from it. The crawl is
``crawler.spiders.discover``.

The registrable domain comes from tldextract (a Scrapy dependency) reading only the Public
Suffix List snapshot it ships: it never fetches the list, so ``neu.edu.cn`` and ``tsinghua.edu.cn``
are two universities and ``www``/``neunews`` two sites of one. A host that has no registrable
domain (an IP address, ``localhost``) is its own: on 127.0.0.1 every port is a site of it.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from tldextract import TLDExtract

from crawler.commandline import ConfigError
from crawler.extract.decoding import load_html
from crawler.extract.listing import ColumnLink, is_home_url, parse_list
from crawler.extract.urls import absolute_link, is_document, netloc
from crawler.walks import is_column

# The bundled snapshot only: no network fetch, no cache directory written.
_SUFFIXES = TLDExtract(suffix_list_urls=(), cache_dir=None)

CJK_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
LATIN_RE = re.compile(r"[A-Za-z]")
# Below this many letters the text is too little to judge and <html lang> decides.
MIN_LETTERS = 50
# A Chinese page is mostly CJK even with Latin names and menus; an English one has a few CJK
# characters at most (the ICP licence line).
ZH_MIN_CJK_SHARE = 0.2
NAME_JUNK_RE = re.compile(r"[^a-z0-9]+")
# Last path segments that name a list page, not its column (``/xwdt/list.htm``).
LIST_PAGE_STEMS = frozenset({"list", "index", "main", "default"})


def check_portal_url(url: str) -> str:
    """*url* if it is an http(s) URL with a host, else ConfigError."""
    try:
        parts = urlsplit(url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        valid = False
    if not valid:
        raise ConfigError(f"{url!r} is not an http(s) URL (e.g. https://www.neu.edu.cn/)")
    return url


def registrable_domain(host: str) -> str:
    """``neu.edu.cn`` for ``neunews.neu.edu.cn``; the host itself when it has none (IP
    addresses, ``localhost``)."""
    host = host.lower().rstrip(".")
    return _SUFFIXES(host).top_domain_under_public_suffix or host


def site_domain(url: str) -> str:
    """The registrable domain of *url*'s host (see ``registrable_domain``), spelled as requests
    spell it (an IDN host in punycode, like ``netloc``)."""
    return registrable_domain(urlsplit(f"//{netloc(url)}").hostname or "")


def same_domain(url: str, other: str) -> bool:
    """Whether two URLs are sites of one university: the same registrable domain, any port."""
    return site_domain(url) == site_domain(other)


class DomainHosts:
    """Every host:port of one registrable domain, as a container of netlocs: what
    ``SourceHostsMiddleware`` lets requests (redirects included) go to during a discovery."""

    def __init__(self, url: str) -> None:
        self.domain = site_domain(url)

    def __contains__(self, location: object) -> bool:
        return isinstance(location, str) and site_domain(f"//{location}") == self.domain


def home_url(url: str) -> str:
    """The home page of *url*'s site: *url* itself if it is one, else the site's root."""
    if is_home_url(url):
        return url
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/"


@dataclass(frozen=True)
class PortalLinks:
    homes: list[str]  # one home page per sub-site (host:port), the portal's own first
    off_domain: int  # links to other domains, ignored


def sub_site_links(html: str, url: str) -> PortalLinks:
    """The sub-sites a portal page at *url* links to (itself included), one home page each."""
    tree = load_html(html)
    homes = {netloc(url): home_url(url)}
    off_domain = 0
    for anchor in tree.iter("a") if tree is not None else ():
        link = absolute_link(url, anchor.get("href"))
        if not link or is_document(link) or not has_valid_port(link):
            continue
        if not same_domain(link, url):
            off_domain += 1
        elif netloc(link) not in homes:
            homes[netloc(link)] = home_url(link)
    return PortalLinks(list(homes.values()), off_domain)


def has_valid_port(url: str) -> bool:
    """False for a link whose port cannot be requested (``:99999``): no site is there."""
    try:
        port = urlsplit(url).port
    except ValueError:  # outside 0-65535, or not a number
        return False
    return port != 0


def is_news_column(html: str, url: str) -> bool:
    """Whether the page at *url* is a column a crawl starting at the home page walks: a list
    with a pager or enough article links (``crawler.walks.is_column``)."""
    page = parse_list(html, url)
    return page is not None and is_column(page)


def page_language(html: str) -> str | None:
    """``zh`` or ``en``: from the share of CJK characters among the page's letters, or when it
    has too few from ``<html lang>``; None when neither says. The text comes first because
    English sites built from a Chinese template often keep its ``lang``."""
    tree = load_html(html)
    if tree is None:
        return None
    text = "".join(
        str(piece)
        for piece in tree.xpath("//body//text()[not(ancestor::script or ancestor::style)]")
    )
    cjk, latin = len(CJK_RE.findall(text)), len(LATIN_RE.findall(text))
    if cjk + latin >= MIN_LETTERS:
        return "zh" if cjk >= ZH_MIN_CJK_SHARE * (cjk + latin) else "en"
    declared = (tree.get("lang") or tree.get("xml:lang") or "").lower()
    return next((code for code in ("zh", "en") if declared.startswith(code)), None)


def source_name(location: str) -> str:
    """A sources-file name for the site at host:port *location*: its host below the
    registrable domain (``neunews``), or the whole host for IP addresses, and the port if any."""
    parts = urlsplit(f"//{location}")
    host = parts.hostname or ""
    labels = _SUFFIXES(host)
    base = labels.subdomain or labels.domain if labels.suffix else host
    name = NAME_JUNK_RE.sub("-", f"{base}-{parts.port}" if parts.port else base).strip("-")
    return name or "site"


@dataclass
class SubSite:
    """What the survey of one sub-site found, while and after it runs."""

    location: str  # host:port, as the portal links it
    home: str  # the home page requested
    requests: int = 0  # requests made for it (robots.txt and redirects aside)
    pending: int = 0  # of those, still unanswered
    links: list[ColumnLink] = field(default_factory=list)  # its home page's list-page links
    checked: int = 0  # of those, requested (the first ones)
    start_url: str | None = None  # its home page as it answered
    language: str | None = None
    cms_votes: Counter[str] = field(default_factory=Counter)
    news: set[ColumnLink] = field(default_factory=set)  # of those, the news columns
    failure: str | None = None  # why its home page could not be read
    reported: bool = False

    @property
    def cms(self) -> str | None:
        """The CMS most of its pages show (``vsb``, ``webplus``), or None."""
        return self.cms_votes.most_common(1)[0][0] if self.cms_votes else None

    @property
    def columns(self) -> list[ColumnLink]:
        """Its news columns, in the order its home page links them."""
        return [link for link in self.links if link in self.news]

    @property
    def limited(self) -> bool:
        """Whether the request limit left some of its home page's links unchecked."""
        return self.checked < len(self.links)


def left_out_reason(site: SubSite, max_requests: int) -> str | None:
    """Why *site* gets no source (None: it has news columns)."""
    if site.failure is not None:
        return f"home page not read ({site.failure})"
    if site.start_url is None:
        return "home page not read (no answer)"
    if site.columns:
        return None if site.language else "language not recognised on its pages"
    if not site.links:
        return "no links to list pages on its home page"
    if site.limited:
        return (
            f"no news column among the {site.checked} of {len(site.links)} list-page links "
            f"that {max_requests} requests allowed (NEU_DISCOVER_MAX_REQUESTS)"
        )
    return f"no news column among {len(site.links)} list-page links"


def column_slug(url: str) -> str:
    """A name for the column at *url* from its path: ``ddyw`` (``/ddyw.htm``), ``xsky-xsdt``
    (``/xsky/xsdt.htm``), ``xwdt`` (``/xwdt/list.htm``)."""
    parts = [part for part in urlsplit(url).path.lower().split("/") if part]
    if parts:
        parts[-1] = parts[-1].rsplit(".", 1)[0]
    if len(parts) > 1 and parts[-1] in LIST_PAGE_STEMS:
        parts.pop()
    return NAME_JUNK_RE.sub("-", "-".join(parts)).strip("-") or "column"


def sources_toml(portal: str, sites: list[SubSite]) -> str:
    """The sources file for the sub-sites of *portal* that have news columns: one source per
    column, its list page as start URL and its home page's link text as ``column`` label (the
    label the crawl finds the column again by if its list page moves), grouped by sub-site."""
    tables: list[str] = []
    names: set[str] = set()
    for site in sites:
        if not site.columns or site.start_url is None or site.language is None:
            continue  # left out: see left_out_reason
        site_name = source_name(netloc(site.start_url))
        tables.append(
            f"# {site.location}, home page {site.start_url}: {site.cms or 'CMS not recognised'}, "
            f"{site.language}, {len(site.columns)} news columns\n"
        )
        for column in site.columns:
            name = _unique(f"{site_name}-{column_slug(column.url)}", names)
            lines = [
                "[[sources]]",
                f"name = {_toml_string(name)}",
                f"start_urls = [{_toml_string(column.url)}]",
                f"language = {_toml_string(site.language)}",
            ]
            if column.label:
                lines.append(f"column = {_toml_string(column.label)}")
            if site.cms:
                lines.append(f"cms = {_toml_string(site.cms)}")
            tables.append("\n".join(lines) + "\n")
    header = f"# Written by `neu-news discover {portal}`: the news columns of its sub-sites.\n"
    return header + "\n" + "\n".join(tables)


def _unique(name: str, taken: set[str]) -> str:
    """*name*, or *name* with a number if it is taken; taken from then on."""
    candidate, copies = name, 1
    while candidate in taken:
        copies += 1
        candidate = f"{name}-{copies}"
    taken.add(candidate)
    return candidate


def _toml_string(value: str) -> str:
    # A JSON string is a valid TOML basic string (the same escapes), non-ASCII kept as is.
    return json.dumps(value, ensure_ascii=False)
