"""Whose feed this is and who runs the crawl: the Atom/RSS title, link, id and language, and the
contact in the User-Agent. NEU by default; a ``[branding]`` table or options say otherwise.

This module holds the only copy of the defaults. The crawl reads the contact from the
``NEU_CONTACT`` setting, ``neu-news export`` the rest from ``--branding FILE`` and its options,
the scheduler the whole table from its schedule file.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

from crawler.commandline import ConfigError
from crawler.tomlfile import check_keys, read_toml

# The software's name and version in the User-Agent; who runs it is the contact.
CRAWLER_PRODUCT = "neu-news-crawler/0.1"
NEU_NEWS_URL = "https://neunews.neu.edu.cn/"
# The Scrapy setting that holds the contact (crawler/settings.py gives its default).
CONTACT_SETTING = "NEU_CONTACT"
# RFC 5646 language tags as feeds use them: zh-CN, en, zh-Hans-CN.
LANGUAGE_RE = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$")
# An absolute URI (Atom ids are IRIs): a scheme, then no white space.
URI_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")
WHITESPACE_RE = re.compile(r"\s")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# The contact sits in a User-Agent comment: printable ASCII without the comment's delimiters.
UA_COMMENT_RE = re.compile(r"^[!-'*-~]+$")
# Unicode categories a one-line title never holds: controls, format (bidi overrides), breaks.
TITLE_REFUSED = frozenset({"Cc", "Cf", "Zl", "Zp"})


@dataclass(frozen=True)
class Branding:
    title: str  # the feed's title (and its author's name)
    link: str  # the site the feed is about
    id: str  # the Atom feed id (RSS has none); the link unless given
    language: str  # the feed's language tag
    contact: str  # in the crawl's User-Agent: a URL or e-mail address of who runs it


DEFAULT_BRANDING = Branding(
    title="东北大学新闻",
    link=NEU_NEWS_URL,
    id=NEU_NEWS_URL,
    language="zh-CN",
    contact="https://github.com/neu-news/neu-news-crawler",
)


def user_agent(contact: str) -> str:
    """The crawl's User-Agent naming *contact*."""
    return f"{CRAWLER_PRODUCT} (+{contact})"


def crawl_settings(branding: Branding) -> tuple[str, ...]:
    """The ``KEY=VALUE`` Scrapy settings that give a crawl this branding."""
    return (f"{CONTACT_SETTING}={branding.contact}",)


def load_branding(file: Path) -> Branding:
    """The ``[branding]`` table of a TOML file (defaults where it says nothing; other tables are
    not read); ``ConfigError`` naming the file and key."""
    data = read_toml(file, "configuration file", ConfigError)
    return parse_branding(f"{file}: [branding]", data.get("branding", {}))


def parse_branding(label: str, table: object) -> Branding:
    """A ``[branding]`` table as read from TOML, every key optional."""
    if not isinstance(table, dict):
        raise ConfigError(f"{label} must be a table")
    check_keys(label, table, _CHECKS, ConfigError)
    return branded(table, lambda key: f"{label}: {key}")


def branded(
    values: Mapping[str, object],
    where: Callable[[str], str],
    base: Branding = DEFAULT_BRANDING,
) -> Branding:
    """*base* with the given field values, each checked (None: not given); ``where(field)``
    names a value in error messages (``--title``, ``FILE: [branding]: title``). A new link is
    the id too, unless an id is given here or *base* has one of its own (not its link)."""
    fields = {
        field: _CHECKS[field](where(field), value)
        for field, value in values.items()
        if value is not None
    }
    if "link" in fields and "id" not in fields and base.id == base.link:
        fields["id"] = fields["link"]
    return replace(base, **fields)


def check_title(where: str, value: object) -> str:
    """One line of text: full-width and no-break spaces are fine, line breaks and controls not."""
    if (
        not isinstance(value, str)
        or not value.strip()
        or any(unicodedata.category(char) in TITLE_REFUSED for char in value)
    ):
        raise ConfigError(f"{where}: expected a one-line title, got {value!r}")
    return value.strip()


def check_link(where: str, value: object) -> str:
    if not isinstance(value, str) or not is_http_url(value):
        raise ConfigError(f"{where}: expected an http(s) URL like 'https://news.example.edu.cn/'")
    return value


def check_id(where: str, value: object) -> str:
    if not isinstance(value, str) or not URI_RE.fullmatch(value):
        raise ConfigError(f"{where}: expected an absolute URI like 'tag:example.edu.cn,2024:news'")
    return value


def check_language(where: str, value: object) -> str:
    if not isinstance(value, str) or not LANGUAGE_RE.fullmatch(value):
        raise ConfigError(f"{where}: expected a language tag like 'zh-CN' or 'en', got {value!r}")
    return value


def check_contact(where: str, value: object) -> str:
    """A URL or e-mail address that can stand in the User-Agent header."""
    if (
        not isinstance(value, str)
        or not UA_COMMENT_RE.fullmatch(value)
        or not (is_http_url(value) or EMAIL_RE.fullmatch(value.removeprefix("mailto:")))
    ):
        raise ConfigError(
            f"{where}: expected an http(s) URL or e-mail address for the User-Agent, got {value!r}"
        )
    return value


def is_http_url(value: str) -> bool:
    """An absolute http(s) URL with a host and no white space."""
    if not value.isprintable() or WHITESPACE_RE.search(value):
        return False
    try:
        parts = urlsplit(value)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return False


_CHECKS = {
    "title": check_title,
    "link": check_link,
    "id": check_id,
    "language": check_language,
    "contact": check_contact,
}
