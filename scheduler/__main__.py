"""``python -m scheduler [schedule] …`` and ``python -m scheduler status …``.

``neu-news schedule|status …`` calls :func:`main` with ``[command, *arguments]``; without a
command, ``schedule`` is meant.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from crawler.branding import crawl_settings
from crawler.commandline import CONFIG_ERROR_EXIT, ConfigError, positive_int
from crawler.store.locks import DataDirError
from scheduler.config import load_schedule, parse_duration
from scheduler.crawl import CrawlOptions, check_setting
from scheduler.history import lock_data_dir, repair_runs
from scheduler.metrics import Metrics
from scheduler.outbox import Courier, Outbox
from scheduler.runner import Runner, RunnerOptions
from scheduler.service import run_forever, run_once, stop_on_signals
from scheduler.status import NO_HISTORY_EXIT, NoHistory, report
from scheduler.webhook import redact

COMMANDS = ("schedule", "status")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    command = args.pop(0) if args and args[0] in COMMANDS else "schedule"
    if command == "status":
        return status_main(args)
    return schedule_main(args)


def schedule_main(argv: list[str]) -> int:
    options = schedule_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format=LOG_FORMAT)
    # APScheduler's lines on each run, skip and misfire repeat ours; its errors stay.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
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
        runner_options = RunnerOptions(
            crawl=CrawlOptions(
                data_dir=options.data_dir.absolute(),
                sources_file=options.sources.absolute() if options.sources else None,
                settings=(
                    *crawl_settings(schedule.branding),
                    *(check_setting(setting) for setting in options.settings),
                ),
                grace=option_duration("--grace", options.grace),
            ),
            timezone=schedule.timezone,
            rules=schedule.rules,
            timeout=option_duration("--timeout", options.timeout) if options.timeout else None,
            keep_logs=options.keep_logs,
        )
        webhook = check_webhook(options.webhook)
        # Held until the process ends: one scheduler per data directory.
        lock_data_dir(runner_options.crawl.data_dir)
        repair_runs(runner_options.crawl.data_dir)
    except (ConfigError, DataDirError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return CONFIG_ERROR_EXIT
    metrics = Metrics()
    if options.metrics_port is not None:
        try:
            metrics.serve(options.metrics_port, options.metrics_addr)
        except OSError as exc:
            print(
                f"error: cannot serve metrics on {options.metrics_addr}:{options.metrics_port}: "
                f"{exc.strerror or exc}",
                file=sys.stderr,
            )
            return CONFIG_ERROR_EXIT
    courier = Courier(Outbox(runner_options.crawl.data_dir), webhook) if webhook else None
    runner = Runner(runner_options, schedule.known_sources, metrics, stop, courier)
    stop_on_signals(stop)
    if courier is not None:
        courier.start()
    if options.once:
        return run_once(schedule, runner)
    return run_forever(schedule, runner)


def status_main(argv: list[str]) -> int:
    options = status_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format=LOG_FORMAT)
    try:
        result = report(options.data_dir, options.runs, datetime.now(UTC))
    except NoHistory as exc:
        print(f"status: {exc}", file=sys.stderr)
        return NO_HISTORY_EXIT
    print(result.text, end="")
    return result.code


def option_duration(option: str, value: str) -> float:
    try:
        return parse_duration(value)
    except ConfigError as exc:
        raise ConfigError(f"{option}: {exc}") from None


def check_webhook(url: str | None) -> str | None:
    if url is None:
        return None
    parts = urlsplit(url)
    try:
        usable = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:  # a port that is no number, or out of range
        usable = False
    if not usable:
        # Redacted: the URL may hold a token or a password.
        raise ConfigError(f"invalid webhook URL {redact(url)}: expected http(s)://host/path")
    return url


def schedule_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scheduler",
        description="Crawl the NEU news sources on a schedule and watch their health. "
        "See also: python -m scheduler status -h.",
    )
    when = parser.add_argument_group("what and when")
    when.add_argument(
        "--schedule", type=Path, metavar="FILE", help="schedule file (default: the shipped one)"
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
    crawl.add_argument(
        "--data-dir",
        type=Path,
        default=Path("data"),
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
        default="60s",
        metavar="DURATION",
        help="after SIGTERM, kill a crawl still running this long after (default: 60s)",
    )
    crawl.add_argument(
        "--keep-logs",
        type=positive_int,
        default=50,
        metavar="N",
        help="keep the log and stats files of the newest N runs (default: 50)",
    )
    watch = parser.add_argument_group("alerts and metrics")
    watch.add_argument("--webhook", metavar="URL", help="POST alerts and recoveries here as JSON")
    watch.add_argument(
        "--metrics-port", type=_port, metavar="N", help="serve Prometheus metrics on this port"
    )
    watch.add_argument(
        "--metrics-addr",
        default="127.0.0.1",
        metavar="ADDR",
        help="address of the metrics server (default: 127.0.0.1)",
    )
    return parser


def status_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scheduler status",
        description="Show the last runs and each source's health. Exit status: 0 healthy, "
        "1 degraded, 2 failing or stale (no successful run for three intervals).",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path("data"),
        metavar="DIR",
        help="the scheduler's data directory (default: data)",
    )
    parser.add_argument(
        "--runs", type=positive_int, default=10, metavar="N", help="runs to show (default: 10)"
    )
    return parser


def _port(value: str) -> int:
    if not value.isdigit() or int(value) > 65535:
        raise argparse.ArgumentTypeError(f"invalid port {value!r}: expected 0-65535")
    return int(value)


if __name__ == "__main__":
    raise SystemExit(main())
