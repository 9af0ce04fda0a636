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
from crawler.rechecks import RECHECK_ALL, Schedule
from crawler.sources import Source, SourcesError, load_sources, select_sources
from crawler.store.datadir import check_data_dir
from crawler.store.locks import DataDirError
from crawler.store.shared import RETRIES, StateServerError, check_reachable

MODES = ("incremental", "backfill")
# Units of the re-check steps (NEU_RECHECK_AFTER), in seconds.
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
RECHECK_AFTER = "NEU_RECHECK_AFTER"


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
    # A redis:// URL: checked by check_crawl_config (crawler.store.shared).
    "NEU_STATE_URL": None,
    "NEU_STATS_FILE": None,
    "NEU_RETRY_BACKOFF_BASE": NumberSetting(integer=False, minimum=0),
    "NEU_RETRY_BACKOFF_MAX": NumberSetting(integer=False, minimum=0),
    "NEU_EXTRACT_PROCESSES": NumberSetting(integer=True, minimum=0),
    "NEU_MAX_LIST_PAGES": NumberSetting(integer=True, minimum=1),
    "NEU_MAX_LINKS_PER_PAGE": NumberSetting(integer=True, minimum=1),
    "NEU_MAX_ARTICLES_PER_RUN": NumberSetting(integer=True, minimum=1),
    "NEU_MAX_PAGE_TAGS": NumberSetting(integer=True, minimum=1),
    "NEU_FEED_BATCH_SIZE": NumberSetting(integer=True, minimum=1),
    # Durations: checked by recheck_steps.
    RECHECK_AFTER: None,
    "NEU_RECHECK_BUDGET": NumberSetting(integer=True, minimum=0),
    "NEU_LOOKBACK_PAGES": NumberSetting(integer=True, minimum=0),
    # Read by `neu-news discover`'s spider, which checks it itself.
    "NEU_DISCOVER_MAX_REQUESTS": None,
}


# Settings a user may still pass, and what replaced them.
REPLACED_SETTINGS = {
    "NEU_RECHECK_DAYS": f"{RECHECK_AFTER} (re-checks at these ages of an article, e.g. 1h,1d,7d; "
    "empty turns them off) and NEU_RECHECK_BUDGET (re-checks a run sends at most)",
}


@dataclass(frozen=True)
class CrawlConfig:
    sources: list[Source]
    mode: str
    rechecks: Schedule
    recheck_all: bool = False  # every known article of the sources, once, without the budget


def crawl_config(
    settings: Any, mode: str | None, sources: str | None, recheck: str | None = None
) -> CrawlConfig:
    """The sources to crawl, the mode and the re-checks, from ``NEU_SOURCES_FILE``, the
    settings and ``-a`` arguments, once every project setting is checked."""
    check_settings(settings)
    if (mode or "incremental") not in MODES:
        raise ConfigError(f"unknown mode {mode!r}: use -a mode=incremental or -a mode=backfill")
    if recheck not in (None, RECHECK_ALL):
        raise ConfigError(f"unknown recheck {recheck!r}: use -a recheck={RECHECK_ALL}")
    try:
        selected = select_sources(load_sources(settings.get("NEU_SOURCES_FILE") or None), sources)
    except SourcesError as exc:
        raise ConfigError(str(exc)) from None
    if not selected:
        raise ConfigError("no enabled source to crawl")
    return CrawlConfig(
        sources=selected,
        mode=mode or "incremental",
        rechecks=Schedule(recheck_steps(settings), settings.getint("NEU_RECHECK_BUDGET")),
        recheck_all=recheck == RECHECK_ALL,
    )


def recheck_steps(settings: BaseSettings) -> tuple[int, ...]:
    """``NEU_RECHECK_AFTER``: comma-separated durations (``1h,1d,7d``; units s, m, h, d, w) as
    seconds, ascending, once each; empty is none."""
    raw = settings.get(RECHECK_AFTER)
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, list | tuple):
        raise ConfigError(f"setting {RECHECK_AFTER}: {raw!r} is not a list of durations")
    return tuple(sorted({_seconds(str(item).strip()) for item in items if str(item).strip()}))


def _seconds(duration: str) -> int:
    """One duration such as ``90m`` or ``1.5h`` in whole seconds, at least one."""
    unit = DURATION_UNITS.get(duration[-1:].lower())
    try:
        seconds = float(duration[:-1]) * unit if unit is not None else math.nan
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds >= 1):
        raise ConfigError(
            f"setting {RECHECK_AFTER}: {duration!r} is not a duration of at least 1s, such as "
            "30m, 1h, 1d or 7d (units s, m, h, d, w)"
        )
    return round(seconds)


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
    """Raise ``ConfigError`` for an unknown or replaced ``NEU_*`` setting (a typo would be
    ignored), a numeric one that is not a number within its bounds, or bad re-check steps."""
    for name in settings:
        if name in REPLACED_SETTINGS:
            raise ConfigError(f"setting {name}: replaced by {REPLACED_SETTINGS[name]}")
        if name.startswith("NEU_") and name not in SETTINGS:
            raise ConfigError(f"unknown setting {name}: the project's settings are {_names()}")
    for name, number in SETTINGS.items():
        value = settings.get(name)
        if number is not None and value is not None and not _fits(settings, name, number):
            raise ConfigError(f"setting {name}: {value!r} is not {number.describe()}")
    recheck_steps(settings)


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
    crawl_config(
        settings, spider_args.get("mode"), spider_args.get("sources"), spider_args.get("recheck")
    )
    crawl_user_agent(settings)
    state_url = settings.get("NEU_STATE_URL")
    if state_url:
        # The state and the feed are that server's: NEU_DATA_DIR is not used, nor locked. A
        # server restarting as a worker's crawl starts is waited for, as the crawl's client would.
        try:
            check_reachable(state_url, retries=RETRIES)
        except StateServerError as exc:
            raise ConfigError(f"setting NEU_STATE_URL: {exc}") from None
        return
    data_dir = settings.get("NEU_DATA_DIR")
    if data_dir:
        try:
            check_data_dir(Path(data_dir))
        except DataDirError as exc:
            raise ConfigError(str(exc)) from None
