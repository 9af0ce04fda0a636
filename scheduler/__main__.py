"""``python -m scheduler [schedule] …``, ``python -m scheduler status …``,
``python -m scheduler health ack …``, ``python -m scheduler serve …`` and
``python -m scheduler worker …``.

``neu-news schedule|status|health|serve|worker …`` calls :func:`main` with
``[command, *arguments]``; without a command, ``schedule`` is meant.
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from crawler.branding import crawl_settings
from crawler.commandline import CONFIG_ERROR_EXIT, ConfigError, port_number, positive_int
from crawler.sources import SourcesError, load_sources
from crawler.store.locks import DataDirError
from scheduler.config import (
    LOG_FORMATS,
    LOG_LEVELS,
    Schedule,
    ServiceConfig,
    check_webhook,
    load_schedule,
    parse_duration,
)
from scheduler.crawl import CrawlOptions, check_setting
from scheduler.health import Acknowledgement, SourceState, acknowledge, parse_time
from scheduler.history import HEALTH_FILE, lock_data_dir, repair_runs, update_health
from scheduler.metrics import Metrics
from scheduler.outbox import Courier, Outbox
from scheduler.runner import Runner, RunnerOptions
from scheduler.service import run_forever, run_once, stop_on_signals
from scheduler.status import NO_HISTORY_EXIT, NoHistory, UnknownSource, report, source_report

if TYPE_CHECKING:
    from scheduler.dispatch import Dispatcher

COMMANDS = ("schedule", "status", "health", "serve", "worker")
# --broker's default: a password in it stays out of the process list.
BROKER_ENV = "NEU_BROKER_URL"
T = TypeVar("T")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
logger = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    command = args.pop(0) if args and args[0] in COMMANDS else "schedule"
    if command == "status":
        return status_main(args)
    if command == "health":
        return health_main(args)
    if command == "serve":
        from scheduler.web.cli import serve_main  # the web framework only when serving

        return serve_main(args)
    if command == "worker":
        return worker_main(args)
    return schedule_main(args)


def schedule_main(argv: list[str]) -> int:
    options = schedule_parser().parse_args(argv)
    stop = threading.Event()
    try:
        schedule = load_schedule(
            options.schedule,
            options.sources,
            every=options.every,
            cron=options.cron,
            timezone=options.timezone,
            only_jobs=options.jobs,
        )
        service = overridden(schedule.service, options)
        configure_logging(service.log_format, service.log_level)
        runner_options = RunnerOptions(
            crawl=CrawlOptions(
                data_dir=service.data_dir.absolute(),
                sources_file=schedule.sources_file.absolute() if schedule.sources_file else None,
                settings=(*crawl_settings(schedule.branding), *service.settings),
                grace=service.grace,
            ),
            timezone=schedule.timezone,
            rules=schedule.rules,
            timeout=service.timeout,
            keep_logs=service.keep_logs,
        )
        # Held until the process ends: one scheduler per data directory.
        lock_data_dir(runner_options.crawl.data_dir)
        repair_runs(runner_options.crawl.data_dir)
        broker = options.broker or os.environ.get(BROKER_ENV)
        dispatcher = broker_dispatcher(broker, schedule, runner_options.crawl) if broker else None
    except (ConfigError, DataDirError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return CONFIG_ERROR_EXIT
    metrics = Metrics()
    if service.metrics_port is not None:
        try:
            metrics.serve(service.metrics_port, service.metrics_addr)
        except OSError as exc:
            print(
                f"error: cannot serve metrics on {service.metrics_addr}:{service.metrics_port}: "
                f"{exc.strerror or exc}",
                file=sys.stderr,
            )
            return CONFIG_ERROR_EXIT
    web = None
    if service.http_port is not None:
        # Imported only when asked for: the web framework costs every other start.
        from scheduler.web.server import serve_in_background

        try:
            web = serve_in_background(
                runner_options.crawl.data_dir,
                service.http_host,
                service.http_port,
                schedule.branding,
                schedule.sources_file,
                metrics,
            )
        except OSError as exc:
            print(
                f"error: cannot serve the web page on {service.http_host}:{service.http_port}: "
                f"{exc.strerror or exc}",
                file=sys.stderr,
            )
            return CONFIG_ERROR_EXIT
    webhook = service.webhook
    courier = Courier(Outbox(runner_options.crawl.data_dir), webhook) if webhook else None
    runner = Runner(runner_options, schedule.known_sources, metrics, stop, courier, dispatcher)
    stop_on_signals(stop)
    if courier is not None:
        courier.start()
    try:
        return run_once(schedule, runner) if options.once else run_forever(schedule, runner)
    finally:
        if web is not None:
            web.stop()
        if dispatcher is not None:
            dispatcher.close()


def broker_dispatcher(url: str, schedule: Schedule, crawl: CrawlOptions) -> Dispatcher:
    """The crawls of --broker: site jobs on the broker's workers, their records appended to
    the data directory's feed from the broker's stream."""
    # Imported only in broker mode: RQ and redis cost every other start.
    from crawler.store.shared import redact
    from crawler.store.stream import FeedStreamWriter
    from scheduler.broker import connect
    from scheduler.dispatch import Dispatcher, SiteJobOptions

    try:
        sources = load_sources(schedule.sources_file)
    except SourcesError as exc:
        raise ConfigError(str(exc)) from None
    client = connect(url)
    writer = FeedStreamWriter(client, crawl.data_dir)
    options = SiteJobOptions(crawl.sources_file, crawl.settings, crawl.grace)
    logger.info("Crawling on the workers of broker %s", redact(url))
    return Dispatcher(client, writer, options, sources)


def worker_main(argv: list[str]) -> int:
    from crawler.store.shared import redact
    from scheduler.broker import connect
    from scheduler.worker import serve

    options = worker_parser().parse_args(argv)
    url = options.broker or os.environ.get(BROKER_ENV)
    try:
        if not url:
            raise ConfigError(f"no broker: give --broker redis://HOST:PORT/DB (or {BROKER_ENV})")
        client = connect(url)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return CONFIG_ERROR_EXIT
    configure_logging(options.log_format, options.log_level)
    logger.info("Working for broker %s", redact(url))
    return serve(client, url, options.name, options.log_level)


def overridden(service: ServiceConfig, options: argparse.Namespace) -> ServiceConfig:
    """The configuration file's settings, each one given on the command line in its place
    (``-s`` settings after the file's: the later of two for one key wins)."""
    given = {
        "data_dir": options.data_dir,
        "timeout": option_duration("--timeout", options.timeout),
        "grace": option_duration("--grace", options.grace),
        "keep_logs": options.keep_logs,
        "webhook": option_value("--webhook", check_webhook, options.webhook),
        "metrics_port": options.metrics_port,
        "metrics_addr": options.metrics_addr,
        "http_port": options.http_port,
        "http_host": options.http_host,
        "log_format": options.log_format,
        "log_level": options.log_level,
    }
    settings = (*service.settings, *(check_setting(setting) for setting in options.settings))
    return replace(
        service,
        settings=settings,
        **{key: value for key, value in given.items() if value is not None},
    )


def configure_logging(log_format: str, level: str) -> None:
    """Log to stderr at *level*: as text lines, or one JSON object a line (``json``)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(LOG_FORMAT))
    logging.basicConfig(level=level.upper(), handlers=[handler])
    # APScheduler's lines on each run, skip and misfire repeat ours; its errors stay.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message (and a traceback if any)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def status_main(argv: list[str]) -> int:
    options = status_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format=LOG_FORMAT)
    try:
        if options.source is not None:
            result = source_report(options.data_dir, options.source, options.runs)
        else:
            result = report(options.data_dir, options.runs, datetime.now(UTC))
    except NoHistory as exc:
        print(f"status: {exc}", file=sys.stderr)
        return NO_HISTORY_EXIT
    except UnknownSource as exc:
        print(f"error: {exc}", file=sys.stderr)
        return CONFIG_ERROR_EXIT
    print(result.text, end="")
    return result.code


def health_main(argv: list[str]) -> int:
    """``health ack SOURCE``: acknowledge the source's current incident in health.json."""
    options = health_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format=LOG_FORMAT)
    data_dir: Path = options.data_dir
    now = datetime.now(UTC)
    by = options.by or _login()

    def change(states: dict[str, SourceState]) -> dict[str, SourceState]:
        state = states.get(options.source)
        if state is None:
            known = ", ".join(sorted(states)) or "none"
            raise ConfigError(f"unknown source {options.source!r} in {data_dir}; known: {known}")
        # In the zone of the scheduler's times, which status shows as they are.
        zone = (parse_time(state.last_run) or now.astimezone()).tzinfo
        at = now.astimezone(zone).isoformat(timespec="milliseconds")
        acknowledged = acknowledge(state, Acknowledgement(by, at, options.note))
        if acknowledged is None:
            raise ConfigError(f"source {options.source!r} is ok: no incident to acknowledge")
        return {**states, options.source: acknowledged}

    try:
        if not (data_dir / HEALTH_FILE).is_file():
            raise ConfigError(f"no source health in {data_dir}: has the scheduler run there?")
        update_health(data_dir, change, now.isoformat(timespec="milliseconds"))
    except (ConfigError, DataDirError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return CONFIG_ERROR_EXIT
    print(f"Acknowledged the incident of {options.source} as {by}: no alert for it")
    return 0


def _login() -> str:
    try:
        return getpass.getuser()
    except OSError:  # no login name in the environment nor the password database
        return "unknown"


def option_duration(option: str, value: str | None) -> float | None:
    return option_value(option, parse_duration, value)


def option_value(option: str, check: Callable[[str], T], value: str | None) -> T | None:
    """*value* checked (None if not given); a ConfigError names the *option*."""
    if value is None:
        return None
    try:
        return check(value)
    except ConfigError as exc:
        raise ConfigError(f"{option}: {exc}") from None


def schedule_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scheduler",
        description="Crawl the NEU news sources on a schedule and watch their health. Every "
        "option but --once, --job, --every and --cron has a key in the configuration file; the "
        "option wins. See also: python -m scheduler status -h, python -m scheduler health -h.",
    )
    when = parser.add_argument_group("what and when")
    when.add_argument(
        "--schedule",
        type=Path,
        metavar="FILE",
        help="configuration file: schedule and service settings (default: the shipped one)",
    )
    override = when.add_mutually_exclusive_group()
    override.add_argument(
        "--every",
        metavar="DURATION",
        help="one job over all sources, e.g. 30m (unit required: s, m, h, d; at least 1s)",
    )
    override.add_argument(
        "--cron", metavar="EXPR", help="one job over all sources, a 5-field crontab expression"
    )
    when.add_argument(
        "--job",
        dest="jobs",
        action="append",
        default=[],
        metavar="ID",
        help="only this job of the schedule (repeatable)",
    )
    when.add_argument("--timezone", metavar="NAME", help="default: the schedule's, Asia/Shanghai")
    when.add_argument(
        "--once",
        action="store_true",
        help="run each job once now and exit: 0 ok, 1 degraded or skipped, 2 failed or bad "
        "configuration",
    )
    crawl = parser.add_argument_group("the crawl")
    crawl.add_argument("--sources", type=Path, metavar="FILE", help="sources file of the crawl")
    _broker_option(
        crawl,
        "enqueue one job per site on this Redis for `neu-news worker`s to crawl, instead of "
        "crawling here; the feed and run history are written here as usual",
    )
    crawl.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help="feed, run history, health and logs (default: data)",
    )
    crawl.add_argument(
        "-s",
        dest="settings",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="Scrapy setting for the crawl (repeatable)",
    )
    crawl.add_argument(
        "--timeout",
        metavar="DURATION",
        help="stop a crawl after this long (default: its interval, at least 5m)",
    )
    crawl.add_argument(
        "--grace",
        metavar="DURATION",
        help="after SIGTERM, kill a crawl still running this long after (default: 60s)",
    )
    crawl.add_argument(
        "--keep-logs",
        type=positive_int,
        metavar="N",
        help="keep the log and stats files of the newest N runs (default: 50)",
    )
    watch = parser.add_argument_group("alerts, metrics, web page and logs")
    watch.add_argument("--webhook", metavar="URL", help="POST alerts and recoveries here as JSON")
    watch.add_argument(
        "--metrics-port",
        type=port_number,
        metavar="N",
        help="serve Prometheus metrics on this port",
    )
    watch.add_argument(
        "--metrics-addr",
        metavar="ADDR",
        help="address of the metrics server (default: 127.0.0.1)",
    )
    watch.add_argument(
        "--http-port",
        type=port_number,
        metavar="N",
        help="serve the status page and feeds on this port",
    )
    watch.add_argument(
        "--http-host", metavar="ADDR", help="address of the web server (default: 127.0.0.1)"
    )
    watch.add_argument("--log-format", choices=LOG_FORMATS, help="text (default) or json lines")
    watch.add_argument("--log-level", choices=LOG_LEVELS, type=str.lower, help="default: info")
    return parser


def status_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scheduler status",
        description="Show the last runs and each source's health. Exit status: 0 healthy, "
        "1 degraded, 2 failing or stale (no successful run for three intervals). With --source: "
        "that source's health and why; 0 ok, 1 degraded, 2 failed.",
    )
    _data_dir_option(parser)
    parser.add_argument(
        "--runs", type=positive_int, default=10, metavar="N", help="runs to show (default: 10)"
    )
    parser.add_argument(
        "--source",
        metavar="NAME",
        help="one source: its verdict, the run that set it, its last fetch and its runs",
    )
    return parser


def health_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scheduler health",
        description="Act on the sources' health in a data directory.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    ack = commands.add_parser(
        "ack",
        help="acknowledge a source's current incident",
        description="Acknowledge a source's current incident: status shows it, no alert is sent "
        "for it, and it ends when the source is healthy again (a new incident alerts again).",
    )
    ack.add_argument("source", metavar="SOURCE", help="the source's name")
    _data_dir_option(ack)
    ack.add_argument("--note", default="", metavar="TEXT", help="why, or what is being done")
    ack.add_argument("--by", metavar="NAME", help="who acknowledges (default: your login name)")
    return parser


def worker_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="neu-news worker",
        description="Crawl the sites that `python -m scheduler --broker URL` enqueues, one at a "
        "time, from any directory: the jobs carry their sources and settings, the crawl state "
        "and the records go to the broker. SIGTERM or Ctrl-C ends the running crawl early (it is "
        "run again) and stops.",
    )
    _broker_option(parser, "the scheduler's broker (required)")
    parser.add_argument("--name", metavar="NAME", help="the worker's name (default: a random one)")
    parser.add_argument("--log-format", choices=LOG_FORMATS, default="text", help="default: text")
    parser.add_argument(
        "--log-level", choices=LOG_LEVELS, type=str.lower, default="info", help="default: info"
    )
    return parser


def _broker_option(parser: argparse._ActionsContainer, what: str) -> None:
    parser.add_argument(
        "--broker",
        metavar="URL",
        help=f"redis://[:PASSWORD@]HOST:PORT/DB: {what} (default: ${BROKER_ENV})",
    )


def _data_dir_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path("data"),
        metavar="DIR",
        help="the scheduler's data directory (default: data)",
    )


if __name__ == "__main__":
    raise SystemExit(main())
