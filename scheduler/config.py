"""The schedule: which groups of sources are crawled when, from a TOML file or the command line.

Every problem is reported as one ``ConfigError`` line before anything is started.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeGuard
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from crawler.branding import DEFAULT_BRANDING, Branding, parse_branding
from crawler.commandline import ConfigError
from crawler.sources import Source, SourcesError, load_sources
from crawler.tomlfile import check_keys, read_toml
from scheduler.crawl import check_setting
from scheduler.webhook import redact

DEFAULT_SCHEDULE_FILE = Path(__file__).with_name("schedule.toml")
DEFAULT_TIMEZONE = "Asia/Shanghai"
# The job that --every/--cron put in place of the schedule file's jobs.
OVERRIDE_JOB_ID = "all"
JOB_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
# The service's tables: each key optional, each a command-line option too (which wins).
SERVICE_TABLES = ("crawl", "alerts", "metrics", "http", "log")
TOP_KEYS = frozenset(
    {"timezone", "data_dir", "sources", "jobs", "health", "branding", *SERVICE_TABLES}
)
LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("debug", "info", "warning", "error")
MAX_PORT = 65535
# A unit is required: a bare "5" read as seconds was taken for minutes.
DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# Longer overflows the scheduler's date arithmetic long before it is useful.
MAX_DURATION = 365 * 86400.0
# Shorter, and every tick finds the previous crawl running: a history of skips, nothing crawled.
MIN_INTERVAL = 1.0
JOB_KEYS = frozenset({"id", "every", "cron", "sources"})
HEALTH_KEYS = frozenset({"alert_after", "missing_fraction", "min_articles", "expire_after"})
# Crontab numbers Sunday 0 (or 7); APScheduler 3 numbers Monday 0. Names mean the same to both.
CRONTAB_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
# A cron job's interval is the longest gap between this many upcoming runs.
CRON_LOOKAHEAD = 8


# A crawl may take as long as its interval, but no less than this (first fills take a while).
MIN_TIMEOUT = 300.0


@dataclass(frozen=True)
class HealthRules:
    """When a source counts as degraded, and when that is worth an alert."""

    # Consecutive degraded or failed runs of a source before its one alert.
    alert_after: int = 2
    # A source is degraded when more than this fraction of its parsed articles lack a field...
    missing_fraction: float = 0.5
    # ...judged only on runs that parsed at least this many of its articles.
    min_articles: int = 3
    # A verdict kept through runs that could not check it again (its pages answered 304, or too
    # few were parsed) expires after this many of them: the source is taken as ok again.
    expire_after: int = 6


@dataclass(frozen=True)
class ServiceConfig:
    """The service's settings from the configuration file; the defaults where it says nothing.
    Paths in the file are relative to the file's directory."""

    data_dir: Path = Path("data")
    sources_file: Path | None = None  # None: the shipped sources file
    timeout: float | None = None  # None: each job's interval, at least MIN_TIMEOUT
    grace: float = 60.0
    keep_logs: int = 50
    settings: tuple[str, ...] = ()  # KEY=VALUE Scrapy settings for every crawl
    webhook: str | None = None
    metrics_port: int | None = None
    metrics_addr: str = "127.0.0.1"
    http_port: int | None = None
    http_host: str = "127.0.0.1"
    log_format: str = "text"
    log_level: str = "info"


@dataclass(frozen=True)
class Job:
    """One scheduled group of sources."""

    id: str
    trigger: BaseTrigger
    sources: tuple[str, ...]
    # Seconds between runs: what timeouts, misfire grace and staleness are sized from.
    interval: float
    description: str


@dataclass(frozen=True)
class Schedule:
    timezone: ZoneInfo
    jobs: tuple[Job, ...]
    rules: HealthRules
    known_sources: frozenset[str]  # every source of the sources file, enabled or not
    # [branding]: its contact goes to every crawl (crawler.branding.crawl_settings).
    branding: Branding = DEFAULT_BRANDING
    service: ServiceConfig = ServiceConfig()
    sources_file: Path | None = None  # the one the jobs were resolved from (None: shipped)


@dataclass(frozen=True)
class _JobTable:
    """A job as written, before its sources are resolved."""

    id: str
    every: str | None
    cron: str | None
    sources: tuple[str, ...] | None  # None: every enabled source no other job claims
    origin: str  # where it was written, for error messages


def load_schedule(
    schedule_file: Path | None,
    sources_file: Path | None,
    *,
    every: str | None = None,
    cron: str | None = None,
    timezone: str | None = None,
    only_jobs: Sequence[str] = (),
) -> Schedule:
    """The schedule from *schedule_file* (the shipped one if None) and command-line overrides;
    *sources_file*, when given, in place of the file's ``sources``."""
    file = schedule_file or DEFAULT_SCHEDULE_FILE
    data = read_toml(file, "schedule file", ConfigError)
    check_keys(f"{file}: top level", data, TOP_KEYS, ConfigError)
    zone = parse_timezone(timezone or data.get("timezone", DEFAULT_TIMEZONE))
    rules = parse_rules(file, data.get("health", {}))
    branding = parse_branding(f"{file}: [branding]", data.get("branding", {}))
    service = parse_service(file, data)
    sources_file = sources_file or service.sources_file
    if every or cron:
        tables = [_JobTable(OVERRIDE_JOB_ID, every, cron, None, "--every" if every else "--cron")]
    else:
        tables = parse_job_tables(file, data.get("jobs"))
    sources = _load_sources(sources_file)
    resolved = resolve_sources(tables, sources)
    jobs = tuple(
        _build_job(table, resolved[table.id], zone) for table in select_jobs(tables, only_jobs)
    )
    known = frozenset(source.name for source in sources)
    return Schedule(zone, jobs, rules, known, branding, service, sources_file)


def default_timeout(interval: float) -> float:
    """A crawl running longer than its interval makes the next runs skip; past that it is hung."""
    return max(interval, MIN_TIMEOUT)


def misfire_grace(interval: float) -> int:
    """Seconds a run may start late, e.g. queued behind another job's crawl: half an interval.
    Later than that, the next run is nearer than this one was."""
    return max(1, int(interval / 2))


def parse_duration(text: str) -> float:
    """Seconds in ``45s``, ``30m``, ``2h`` or ``1d``; above zero, at most a year."""
    match = DURATION_RE.fullmatch(text.strip())
    seconds = float(match[1]) * UNIT_SECONDS[match[2]] if match else 0.0
    if seconds <= 0:
        raise ConfigError(
            f"invalid duration {text!r}: expected a number and a unit, e.g. 45s, 30m, 2h or 1d"
        )
    if seconds > MAX_DURATION:
        raise ConfigError(f"invalid duration {text!r}: at most {MAX_DURATION / 86400:.0f}d")
    return seconds


def parse_timezone(name: object) -> ZoneInfo:
    if not isinstance(name, str) or not name:
        raise ConfigError(f"invalid timezone {name!r}: expected a name like 'Asia/Shanghai'")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown timezone {name!r}: expected e.g. 'Asia/Shanghai'") from None


def parse_rules(file: Path, table: object) -> HealthRules:
    """The ``[health]`` table: alert_after, missing_fraction, min_articles, expire_after (all
    optional)."""
    if not isinstance(table, dict):
        raise ConfigError(f"{file}: [health] must be a table")
    defaults = HealthRules()
    check_keys(f"{file}: [health]", table, HEALTH_KEYS, ConfigError)
    counts = {
        key: table.get(key, getattr(defaults, key))
        for key in ("alert_after", "min_articles", "expire_after")
    }
    fraction = table.get("missing_fraction", defaults.missing_fraction)
    for key, value in counts.items():
        if not _is_int(value) or value < 1:
            raise ConfigError(f"{file}: [health]: {key} must be a positive integer")
    if not isinstance(fraction, int | float) or isinstance(fraction, bool) or not 0 <= fraction < 1:
        raise ConfigError(f"{file}: [health]: missing_fraction must be a number in [0, 1)")
    return HealthRules(missing_fraction=float(fraction), **counts)


def parse_service(file: Path, data: dict[str, Any]) -> ServiceConfig:
    """The service's keys of a configuration file: data_dir, sources and the tables [crawl],
    [alerts], [metrics], [http] and [log]."""
    found: dict[str, Any] = {}
    for field, key in (("data_dir", "data_dir"), ("sources_file", "sources")):
        if key in data:
            found[field] = _path(file, key, data[key])
    for name in SERVICE_TABLES:
        table = data.get(name, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{file}: [{name}] must be a table")
        keys = [key for table_name, key in SERVICE_FIELDS if table_name == name]
        check_keys(f"{file}: [{name}]", table, keys, ConfigError)
        for key, value in table.items():
            field, check = SERVICE_FIELDS[name, key]
            try:
                found[field] = check(value)
            except ConfigError as exc:
                raise ConfigError(f"{file}: [{name}]: {key}: {exc}") from None
    return ServiceConfig(**found)


def check_webhook(url: object) -> str:
    """An http(s) URL with a host to POST alerts to; ConfigError (the URL redacted) if not."""
    if not isinstance(url, str):
        raise ConfigError(f"invalid webhook URL {url!r}: expected http(s)://host/path")
    parts = urlsplit(url)
    try:
        usable = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:  # a port that is no number, or out of range
        usable = False
    if not usable:
        # Redacted: the URL may hold a token or a password.
        raise ConfigError(f"invalid webhook URL {redact(url)}: expected http(s)://host/path")
    return url


def check_port(value: object) -> int:
    """A TCP port, 0 to 65535 (0: any free one)."""
    if not _is_int(value) or not 0 <= value <= MAX_PORT:
        raise ConfigError(f"invalid port {value!r}: expected 0-{MAX_PORT}")
    return value


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _path(file: Path, key: str, value: object) -> Path:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{file}: {key} must be a path (relative to the file's directory)")
    return file.parent / value


def _duration(value: object) -> float:
    if not isinstance(value, str):
        raise ConfigError(f'invalid duration {value!r}: expected a string like "60s"')
    return parse_duration(value)


def _count(value: object) -> int:
    if not _is_int(value) or value < 1:
        raise ConfigError(f"invalid count {value!r}: expected a positive integer")
    return value


def _address(value: object) -> str:
    if not isinstance(value, str) or not value or any(char.isspace() for char in value):
        raise ConfigError(f'invalid address {value!r}: expected e.g. "127.0.0.1"')
    return value


def _settings(value: object) -> tuple[str, ...]:
    """A table of Scrapy settings, KEY = "VALUE" (numbers and true/false as TOML writes them)."""
    if not isinstance(value, dict):
        raise ConfigError('expected a table like { DOWNLOAD_DELAY = "2" }')
    settings = []
    for key, setting in value.items():
        if not isinstance(setting, str | int | float):  # bool is an int
            raise ConfigError(f"{key}: expected a string, a number or true/false")
        settings.append(check_setting(f"{key}={setting}"))
    return tuple(settings)


def _choice(choices: tuple[str, ...]) -> Callable[[object], str]:
    def check(value: object) -> str:
        if not isinstance(value, str) or value.lower() not in choices:
            raise ConfigError(f"invalid value {value!r}: expected one of {', '.join(choices)}")
        return value.lower()

    return check


# Each key of the service's tables: the ServiceConfig field it sets, and its check.
SERVICE_FIELDS: dict[tuple[str, str], tuple[str, Callable[[object], Any]]] = {
    ("crawl", "timeout"): ("timeout", _duration),
    ("crawl", "grace"): ("grace", _duration),
    ("crawl", "keep_logs"): ("keep_logs", _count),
    ("crawl", "settings"): ("settings", _settings),
    ("alerts", "webhook"): ("webhook", check_webhook),
    ("metrics", "port"): ("metrics_port", check_port),
    ("metrics", "addr"): ("metrics_addr", _address),
    ("http", "port"): ("http_port", check_port),
    ("http", "host"): ("http_host", _address),
    ("log", "format"): ("log_format", _choice(LOG_FORMATS)),
    ("log", "level"): ("log_level", _choice(LOG_LEVELS)),
}


def parse_job_tables(file: Path, tables: object) -> list[_JobTable]:
    if not isinstance(tables, list) or not tables:
        raise ConfigError(f"{file}: no [[jobs]] tables")
    jobs = [_parse_job_table(file, index, table) for index, table in enumerate(tables, start=1)]
    ids = [job.id for job in jobs]
    for job_id in ids:
        if ids.count(job_id) > 1:
            raise ConfigError(f"{file}: job {job_id!r}: duplicate id")
    if sum(job.sources is None for job in jobs) > 1:
        raise ConfigError(f"{file}: more than one job without 'sources' (only one takes the rest)")
    return jobs


def resolve_sources(
    tables: Iterable[_JobTable], sources: list[Source]
) -> dict[str, tuple[str, ...]]:
    """Each job's source names: those it lists, or every enabled source no other job lists; in
    the sources file's order, which decides an article's source when two columns list it."""
    known = {source.name for source in sources}
    claimed: dict[str, str] = {}
    for table in tables:
        for name in table.sources or ():
            if name not in known:
                raise ConfigError(
                    f"job {table.id!r}: unknown source {name!r}; known: {', '.join(sorted(known))}"
                )
            if name in claimed:
                raise ConfigError(f"source {name!r} is in jobs {claimed[name]!r} and {table.id!r}")
            claimed[name] = table.id
    rest = tuple(s.name for s in sources if s.enabled and s.name not in claimed)
    resolved = {
        table.id: rest if table.sources is None else in_file_order(table.sources, sources)
        for table in tables
    }
    for job_id, names in resolved.items():
        if not names:
            raise ConfigError(f"job {job_id!r} has no source to crawl")
    return resolved


def in_file_order(names: Iterable[str], sources: list[Source]) -> tuple[str, ...]:
    wanted = set(names)
    return tuple(source.name for source in sources if source.name in wanted)


def select_jobs(tables: list[_JobTable], only: Sequence[str]) -> list[_JobTable]:
    """The jobs named with --job (all of them when none is)."""
    ids = [table.id for table in tables]
    for job_id in only:
        if job_id not in ids:
            raise ConfigError(f"unknown job {job_id!r}; jobs: {', '.join(ids)}")
    return [table for table in tables if not only or table.id in only]


def crontab_trigger(expression: str, zone: ZoneInfo) -> CronTrigger:
    """A 5-field crontab expression with crontab's meaning (Sunday is 0 or 7)."""
    fields = expression.split()
    if len(fields) != 5:
        raise ConfigError(
            f"invalid cron expression {expression!r}: expected 5 fields "
            "(minute hour day-of-month month day-of-week)"
        )
    if fields[2] not in ("*", "?") and fields[4] not in ("*", "?"):
        # crontab runs when either matches, APScheduler only when both do: refuse the ambiguity.
        raise ConfigError(
            f"invalid cron expression {expression!r}: restrict the day of month or the day of "
            "week, not both"
        )
    try:
        fields[4] = crontab_weekdays(fields[4])
        return CronTrigger.from_crontab(" ".join(fields), timezone=zone)
    except ValueError as exc:
        raise ConfigError(f"invalid cron expression {expression!r}: {exc}") from None


def crontab_weekdays(field: str) -> str:
    """A crontab day-of-week field as day names, which APScheduler 3 reads as crontab does."""
    if field in ("*", "?"):
        return "*"
    days: set[int] = set()
    for part in field.lower().split(","):
        span, _, step = part.partition("/")
        first, last = _day_span(span)
        days.update(range(first, last + 1, int(step) if step else 1))
    days = {day % 7 for day in days}
    return ",".join(CRONTAB_DAYS[day] for day in sorted(days))


def trigger_interval(trigger: BaseTrigger, zone: ZoneInfo) -> float:
    """Seconds between runs; for a cron trigger, the longest gap among the next few runs."""
    if isinstance(trigger, IntervalTrigger):
        return float(trigger.interval_length)
    fire = trigger.get_next_fire_time(None, datetime.now(zone))
    longest = 0.0
    for _ in range(CRON_LOOKAHEAD):
        following = trigger.get_next_fire_time(None, fire + timedelta(seconds=1))
        if following is None:
            break
        longest = max(longest, (following - fire).total_seconds())
        fire = following
    return longest


def _day_span(span: str) -> tuple[int, int]:
    if span == "*":
        return 0, 6
    low, _, high = span.partition("-")
    first = _day_number(low)
    last = _day_number(high) if high else first
    if last < first:
        raise ValueError(f"day-of-week range {span!r} runs backwards")
    return first, last


def _day_number(token: str) -> int:
    if token in CRONTAB_DAYS:
        return CRONTAB_DAYS.index(token)
    if token.isdigit() and int(token) <= 7:
        return int(token)
    raise ValueError(f"bad day of week {token!r}: expected 0-7 or sun-sat")


def _build_job(table: _JobTable, sources: tuple[str, ...], zone: ZoneInfo) -> Job:
    try:
        trigger, description = _trigger(table, zone)
    except ConfigError as exc:
        raise ConfigError(f"{table.origin}: {exc}") from None
    return Job(table.id, trigger, sources, trigger_interval(trigger, zone), description)


def _trigger(table: _JobTable, zone: ZoneInfo) -> tuple[BaseTrigger, str]:
    if table.cron:
        trigger = crontab_trigger(table.cron, zone)
        if trigger.get_next_fire_time(None, datetime.now(zone)) is None:
            raise ConfigError(f"cron expression {table.cron!r} never fires (no such date)")
        return trigger, f"cron {table.cron!r}"
    assert table.every is not None
    seconds = parse_duration(table.every)
    if seconds < MIN_INTERVAL:
        raise ConfigError(f"interval {table.every} is too short: at least {MIN_INTERVAL:.0f}s")
    return IntervalTrigger(seconds=seconds, timezone=zone), f"every {table.every}"


def _parse_job_table(file: Path, index: int, table: object) -> _JobTable:
    if not isinstance(table, dict):
        raise ConfigError(f"{file}: job #{index}: not a table")
    label = f"{file}: job {table.get('id', f'#{index}')!r}"
    check_keys(label, table, JOB_KEYS, ConfigError)
    job_id = table.get("id")
    if not isinstance(job_id, str) or not JOB_ID_RE.fullmatch(job_id):
        raise ConfigError(f"{label}: key 'id' must be a lower-case id like 'news'")
    every, cron = table.get("every"), table.get("cron")
    if (every is None) == (cron is None):
        raise ConfigError(f"{label}: give exactly one of 'every' and 'cron'")
    if not isinstance(every or cron, str):
        raise ConfigError(
            f"{label}: 'every' and 'cron' must be strings like \"30m\", \"0 6 * * *\""
        )
    sources = table.get("sources")
    if sources is not None and (
        not isinstance(sources, list)
        or not sources
        or not all(isinstance(name, str) for name in sources)
    ):
        raise ConfigError(f"{label}: key 'sources' must be a non-empty list of source names")
    names = tuple(sources) if sources is not None else None
    return _JobTable(job_id, every, cron, names, f"{file}: job {job_id!r}")


def _load_sources(sources_file: Path | None) -> list[Source]:
    try:
        return load_sources(sources_file)
    except SourcesError as exc:
        raise ConfigError(str(exc)) from None
