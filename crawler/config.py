"""A crawl's configuration from settings and spider arguments, checked in one place."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scrapy.settings import BaseSettings

from crawler.branding import CONTACT_SETTING, check_contact, user_agent
from crawler.commandline import ConfigError
from crawler.sources import Source, SourcesError, load_sources, select_sources
from crawler.store.datadir import check_data_dir
from crawler.store.locks import DataDirError

MODES = ("incremental", "backfill")


@dataclass(frozen=True)
class NumberSetting:
    """A numeric project setting: integer or not, and its least value."""

    integer: bool
    minimum: float

    def describe(self) -> str:
        kind = "an integer" if self.integer else "a number"
        return f"{kind} of at least {self.minimum:g}"


# Every NEU_* setting, numeric ones with their bounds; text ones (None) are checked where they
# are used below (sources file, contact, data directory).
SETTINGS: dict[str, NumberSetting | None] = {
    "NEU_CONTACT": None,
    "NEU_SOURCES_FILE": None,
    "NEU_DATA_DIR": None,
    "NEU_STATS_FILE": None,
    "NEU_RETRY_BACKOFF_BASE": NumberSetting(integer=False, minimum=0),
    "NEU_RETRY_BACKOFF_MAX": NumberSetting(integer=False, minimum=0),
    "NEU_EXTRACT_PROCESSES": NumberSetting(integer=True, minimum=0),
    "NEU_MAX_LIST_PAGES": NumberSetting(integer=True, minimum=1),
    "NEU_MAX_LINKS_PER_PAGE": NumberSetting(integer=True, minimum=1),
    "NEU_MAX_ARTICLES_PER_RUN": NumberSetting(integer=True, minimum=1),
    "NEU_MAX_PAGE_TAGS": NumberSetting(integer=True, minimum=1),
    "NEU_FEED_BATCH_SIZE": NumberSetting(integer=True, minimum=1),
    "NEU_RECHECK_DAYS": NumberSetting(integer=False, minimum=0),
    "NEU_LOOKBACK_PAGES": NumberSetting(integer=True, minimum=0),
    # Read by `neu-news discover`'s spider, which checks it itself.
    "NEU_DISCOVER_MAX_REQUESTS": None,
}


@dataclass(frozen=True)
class CrawlConfig:
    sources: list[Source]
    mode: str


def crawl_config(settings: Any, mode: str | None, sources: str | None) -> CrawlConfig:
    """The sources to crawl and the mode, from ``NEU_SOURCES_FILE`` and ``-a`` arguments, once
    every project setting is checked."""
    check_settings(settings)
    if (mode or "incremental") not in MODES:
        raise ConfigError(f"unknown mode {mode!r}: use -a mode=incremental or -a mode=backfill")
    try:
        selected = select_sources(load_sources(settings.get("NEU_SOURCES_FILE") or None), sources)
    except SourcesError as exc:
        raise ConfigError(str(exc)) from None
    if not selected:
        raise ConfigError("no enabled source to crawl")
    return CrawlConfig(sources=selected, mode=mode or "incremental")


def crawl_user_agent(settings: BaseSettings) -> str:
    """The User-Agent naming the ``NEU_CONTACT`` setting."""
    contact = settings.get(CONTACT_SETTING)
    return user_agent(check_contact(f"setting {CONTACT_SETTING}", contact))


class BrandedUserAgent:
    """Scrapy add-on: ``USER_AGENT`` from ``NEU_CONTACT``, unless ``USER_AGENT`` itself is set."""

    def update_settings(self, settings: BaseSettings) -> None:
        # At add-on priority: above Scrapy's default, below USER_AGENT set in a project or -s.
        settings.set("USER_AGENT", crawl_user_agent(settings), priority="addon")


def check_settings(settings: BaseSettings) -> None:
    """Raise ``ConfigError`` for an unknown ``NEU_*`` setting (a typo would be ignored) or a
    numeric one that is not a number within its bounds."""
    for name in settings:
        if name.startswith("NEU_") and name not in SETTINGS:
            raise ConfigError(f"unknown setting {name}: the project's settings are {_names()}")
    for name, number in SETTINGS.items():
        value = settings.get(name)
        if number is not None and value is not None and not _fits(settings, name, number):
            raise ConfigError(f"setting {name}: {value!r} is not {number.describe()}")


def _fits(settings: BaseSettings, name: str, number: NumberSetting) -> bool:
    raw = settings.get(name)
    # getint truncates: 2.7 would be 2, True 1.
    if isinstance(raw, bool) or (
        number.integer and isinstance(raw, float) and not raw.is_integer()
    ):
        return False
    try:
        value = settings.getint(name) if number.integer else settings.getfloat(name)
    except (TypeError, ValueError):
        return False
    return math.isfinite(value) and value >= number.minimum


def _names() -> str:
    return ", ".join(sorted(SETTINGS))


def check_crawl_config(settings: Any, spider_args: Mapping[str, str]) -> None:
    """Raise ``ConfigError`` if a crawl with these settings and ``-a`` arguments cannot start."""
    crawl_config(settings, spider_args.get("mode"), spider_args.get("sources"))
    crawl_user_agent(settings)
    data_dir = settings.get("NEU_DATA_DIR")
    if data_dir:
        try:
            check_data_dir(Path(data_dir))
        except DataDirError as exc:
            raise ConfigError(str(exc)) from None
