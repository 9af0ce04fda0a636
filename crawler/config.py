"""A crawl's configuration from settings and spider arguments, checked in one place."""

from __future__ import annotations

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
class CrawlConfig:
    sources: list[Source]
    mode: str


def crawl_config(settings: Any, mode: str | None, sources: str | None) -> CrawlConfig:
    """The sources to crawl and the mode, from ``NEU_SOURCES_FILE`` and ``-a`` arguments."""
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
