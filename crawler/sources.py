"""The columns to crawl, read from a TOML file: sites are data, not code.

Every problem with the file is reported as one ``SourcesError`` line naming the file, the
source and the key, before any request is made.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from urllib.parse import SplitResult, urlsplit

from lxml import etree
from lxml import html as lxml_html

from crawler.extract.profiles import PROFILES, Profile, compiled
from crawler.extract.urls import DEFAULT_PORTS, netloc, site_netloc
from crawler.tomlfile import check_keys, read_toml

DEFAULT_SOURCES_FILE = Path(__file__).with_name("sources.toml")

# Whole values only (fullmatch): ``$`` alone lets a trailing newline through.
NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]*")
HOST_RE = re.compile(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?", re.IGNORECASE)
# A ``hosts`` entry names no scheme: ``:80`` and ``:443`` both mean the host itself.
ANY_DEFAULT_PORT = tuple(DEFAULT_PORTS.values())
LANGUAGES = ("zh", "en")
CMS_NAMES = tuple(PROFILES)
REQUIRED_KEYS = frozenset({"name", "start_urls", "language"})
OPTIONAL_KEYS = frozenset(
    {
        "column",
        "cms",
        "max_pages",
        "enabled",
        "allow",
        "confirmed",
        "hosts",
        "article_pattern",
        "container",
    }
)


# A page to try a source's ``container`` on: every kind of node an XPath may select.
SAMPLE_PAGE = lxml_html.document_fromstring(
    '<html><head><title>t</title></head><body><div id="a" class="b"><p>t</p></div></body></html>'
)


class SourcesError(ValueError):
    """A sources file that cannot be used; the message is meant for the user as is."""


@dataclass(frozen=True)
class Source:
    """One column (or one site whose columns are discovered from its home page)."""

    name: str
    start_urls: tuple[str, ...]
    language: str
    column: str | None = None
    cms: str | None = None
    max_pages: int | None = None
    enabled: bool = True
    allow: tuple[re.Pattern[str], ...] = field(default_factory=tuple)
    confirmed: bool = False
    # More netlocs its articles may be on or redirect to (the ``hosts`` key).
    extra_hosts: frozenset[str] = frozenset()
    # Overrides of its CMS profile: the article URL shape and the content container.
    article_pattern: re.Pattern[str] | None = None
    container: str | None = None

    @property
    def hosts(self) -> frozenset[str]:
        """Netlocs (host[:port]) this source may crawl: those of its start URLs, and its
        ``hosts``."""
        return frozenset(netloc(url) for url in self.start_urls) | self.extra_hosts

    @cached_property
    def profile(self) -> Profile | None:
        """Its CMS family's profile (``cms``), extended with its own ``container`` and
        ``article_pattern``; None when it names no family."""
        base = PROFILES.get(self.cms) if self.cms else None
        if base is None:
            return None
        return base.extended(container=self.container, article_url=self.article_pattern)

    def allows(self, url: str) -> bool:
        """Whether a discovered list page URL passes this source's ``allow`` patterns."""
        path = urlsplit(url).path
        return not self.allow or any(pattern.search(path) for pattern in self.allow)


def load_sources(path: str | Path | None = None) -> list[Source]:
    """Read and validate a sources file (the shipped default when *path* is None)."""
    file = Path(path) if path else DEFAULT_SOURCES_FILE
    data = read_toml(file, "sources file", SourcesError)

    check_keys(f"{file}: top level", data, {"sources"}, SourcesError)
    tables = data.get("sources")
    if not isinstance(tables, list) or not tables:
        raise SourcesError(f"{file}: no [[sources]] tables")

    sources: list[Source] = []
    seen: set[str] = set()
    for index, table in enumerate(tables, start=1):
        source = _parse_source(file, index, table)
        if source.name in seen:
            raise SourcesError(f"{file}: source {source.name!r}: duplicate name")
        seen.add(source.name)
        sources.append(source)
    return sources


def host_name(location: str) -> str:
    """The host name of a source's ``host[:port]``: what Scrapy's politeness slots (and broker
    mode's leases) go by."""
    return urlsplit(f"//{location}").hostname or location


def host_groups(sources: Sequence[Source]) -> list[list[Source]]:
    """*sources* in groups whose hosts, by name whatever the port, overlap (directly or through
    another source): a group's sources may list the same articles, and share Scrapy's politeness
    (its downloader slots are per host name). Groups in the order of their first source, and
    sources within a group in their order."""
    groups: list[tuple[set[str], list[Source]]] = []
    for source in sources:
        hosts = {host_name(location) for location in source.hosts}
        members = [source]
        kept = []
        for group_hosts, group in groups:
            if group_hosts & hosts:
                hosts |= group_hosts
                members = [*group, *members]
            else:
                kept.append((group_hosts, group))
        groups = [*kept, (hosts, members)]
    order = {id(source): index for index, source in enumerate(sources)}
    return sorted(
        (sorted(group, key=lambda member: order[id(member)]) for _, group in groups),
        key=lambda group: order[id(group[0])],
    )


def select_sources(sources: list[Source], names: str | None) -> list[Source]:
    """The enabled sources, or exactly those named in a comma-separated *names* list; in the
    file's order either way, which decides an article's source when two columns list it."""
    if not names:
        return [source for source in sources if source.enabled]
    wanted = [name.strip() for name in names.split(",") if name.strip()]
    by_name = {source.name: source for source in sources}
    missing = [name for name in wanted if name not in by_name]
    if missing:
        raise SourcesError(
            f"unknown source {missing[0]!r}; known sources: {', '.join(sorted(by_name))}"
        )
    chosen = set(wanted)
    return [source for source in sources if source.name in chosen]


def _parse_source(file: Path, index: int, table: object) -> Source:
    if not isinstance(table, dict):
        raise SourcesError(f"{file}: source #{index}: not a table")
    label = f"{file}: source {table.get('name', f'#{index}')!r}"
    check_keys(label, table, OPTIONAL_KEYS, SourcesError, required=REQUIRED_KEYS)

    name = table["name"]
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise SourcesError(f"{label}: key 'name' must be a lower-case id like 'neunews-ddyw'")
    start_urls = table["start_urls"]
    if not isinstance(start_urls, list) or not start_urls:
        raise SourcesError(f"{label}: key 'start_urls' must be a non-empty list of URLs")
    start_urls = [_start_url(f"{label}: key 'start_urls'", url) for url in start_urls]
    language = table["language"]
    if language not in LANGUAGES:
        raise SourcesError(f"{label}: key 'language' must be one of {', '.join(LANGUAGES)}")

    column = table.get("column")
    if column is not None and (not isinstance(column, str) or not column.strip()):
        raise SourcesError(f"{label}: key 'column' must be a non-empty string")
    if column is not None and len(start_urls) > 1:
        # The label finds one list page again when it moves: one column, one list page.
        raise SourcesError(f"{label}: key 'column' labels one list page: give one start URL")
    cms = table.get("cms")
    if cms is not None and cms not in CMS_NAMES:
        raise SourcesError(f"{label}: key 'cms' must be one of {', '.join(CMS_NAMES)}")
    max_pages = table.get("max_pages")
    if max_pages is not None and (
        not isinstance(max_pages, int) or isinstance(max_pages, bool) or max_pages < 1
    ):
        raise SourcesError(f"{label}: key 'max_pages' must be a positive integer")
    for flag in ("enabled", "confirmed"):
        if not isinstance(table.get(flag, False), bool):
            raise SourcesError(f"{label}: key {flag!r} must be true or false")
    allow = table.get("allow", [])
    if not isinstance(allow, list) or not all(isinstance(item, str) for item in allow):
        raise SourcesError(f"{label}: key 'allow' must be a list of regular expressions")
    patterns = tuple(_regex(label, "allow", item) for item in allow)
    article_pattern = _article_pattern(label, table.get("article_pattern"))
    container = _container(label, table.get("container"))
    for key in ("article_pattern", "container"):
        if key in table and cms is None:
            raise SourcesError(f"{label}: key {key!r} extends a CMS profile: give key 'cms' too")

    return Source(
        name=name,
        start_urls=tuple(start_urls),
        language=language,
        column=column.strip() if column else None,
        cms=cms,
        max_pages=max_pages,
        enabled=table.get("enabled", True),
        allow=patterns,
        confirmed=table.get("confirmed", False),
        extra_hosts=_hosts(label, table.get("hosts", [])),
        article_pattern=article_pattern,
        container=container,
    )


def _regex(label: str, key: str, pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise SourcesError(f"{label}: key {key!r}: bad regular expression: {exc}") from None


def _article_pattern(label: str, value: object) -> re.Pattern[str] | None:
    """The ``article_pattern`` key: a regular expression searched in article URLs' paths."""
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise SourcesError(f"{label}: key 'article_pattern' must be a regular expression")
    return _regex(label, "article_pattern", value)


def _container(label: str, value: object) -> str | None:
    """The ``container`` key: an XPath to the article's content element."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise SourcesError(f"{label}: key 'container' must be an XPath expression")
    # Compiled and tried as the article parser will use it: an expression that compiles but
    # cannot run (an unknown prefix) or selects no elements (count(), @attr) would fail on
    # every article page instead.
    try:
        found = compiled(value)(SAMPLE_PAGE)
    except etree.XPathError as exc:
        raise SourcesError(f"{label}: key 'container': bad XPath: {exc}") from None
    if not isinstance(found, list) or not all(isinstance(item, etree._Element) for item in found):
        raise SourcesError(f"{label}: key 'container': {value!r} must select elements")
    return value


def _start_url(where: str, url: object) -> str:
    """A start URL with its host spelled as the crawl compares hosts (``netloc``): otherwise
    an IDN host, or an explicit default port, makes its own pages off-site."""
    parts = _split(url) if isinstance(url, str) else None
    if (
        not isinstance(url, str)
        or parts is None
        or parts.scheme not in DEFAULT_PORTS
        or not parts.hostname
    ):
        raise SourcesError(f"{where}: {_shown(url)!r} is not an http(s) URL")
    if parts.username is not None:  # sent, and logged, with every request
        raise SourcesError(f"{where}: {_shown(url)!r}: a user name or password is not allowed")
    _check_port(where, url, parts)
    location = netloc(url)
    return url if location == parts.netloc else parts._replace(netloc=location).geturl()


def _hosts(label: str, hosts: object) -> frozenset[str]:
    """The ``hosts`` key: netlocs (``host`` or ``host:port``) as ``netloc`` spells them; either
    scheme's default port means the host itself."""
    if not isinstance(hosts, list):
        raise SourcesError(f"{label}: key 'hosts' must be a list of host names")
    where = f"{label}: key 'hosts'"
    netlocs = set()
    for host in hosts:
        location = site_netloc(host, ANY_DEFAULT_PORT) if isinstance(host, str) else ""
        if not HOST_RE.fullmatch(location):
            raise SourcesError(f"{where}: {_shown(host)!r} is not a host or host:port")
        _check_port(where, host, urlsplit(f"//{location}"))
        netlocs.add(location)
    return frozenset(netlocs)


def _split(url: str) -> SplitResult | None:
    """*url*'s parts; None when it cannot be split (an unclosed ``[``)."""
    try:
        return urlsplit(url)
    except ValueError:
        return None


def _check_port(where: str, shown: str, parts: SplitResult) -> None:
    """Refuse a port no connection can use (a traceback when the first request is made)."""
    try:
        port = parts.port
    except ValueError:  # not a number, or past 65535
        port = 0
    if port == 0:
        raise SourcesError(f"{where}: {shown!r}: the port must be a number from 1 to 65535")


def _shown(value: object) -> object:
    """*value* as an error message may show it: anything before its last ``@`` after the
    scheme (a user name and password) hidden."""
    if not isinstance(value, str) or "@" not in value:
        return value
    head, _, tail = value.rpartition("@")
    scheme_end = head.find("//")
    return f"{head[: scheme_end + 2] if scheme_end >= 0 else ''}***@{tail}"
