"""``neu-news discover PORTAL_URL --output FILE``: a sources file for a university's news sites.

Runs the ``discover`` spider (crawler.spiders.discover) in this process with the project's
settings, prints its progress on stderr and writes the sources file of the sub-sites with news.
Scrapy and the discovery code are imported only when the command runs.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any

from crawler.commandline import CONFIG_ERROR_EXIT, UNFINISHED_EXIT, ConfigError

# The portal was read but none of its sites has news columns: nothing to write.
NOTHING_FOUND_EXIT = 1


def add_command(commands: Any) -> None:
    """Add ``discover`` to the ``neu-news`` subcommands."""
    discover = commands.add_parser(
        "discover",
        help="find a university's news sites from its portal and write a sources file",
    )
    discover.set_defaults(run=run_discover)
    discover.add_argument("portal", metavar="PORTAL_URL", help="e.g. https://www.neu.edu.cn/")
    discover.add_argument(
        "-o", "--output", type=Path, required=True, metavar="FILE", help="sources file to write"
    )
    add_settings_option(discover, "NEU_DISCOVER_MAX_REQUESTS=10")


def add_settings_option(parser: argparse.ArgumentParser, example: str) -> None:
    """``-s/--set NAME=VALUE`` (repeatable): Scrapy or project settings for the command's crawl,
    collected as ``settings``."""
    parser.add_argument(
        "-s",
        "--set",
        dest="settings",
        type=setting,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help=f"a Scrapy or project setting, e.g. {example} (repeatable)",
    )


def setting(text: str) -> tuple[str, str]:
    """An argparse type: ``NAME=VALUE``."""
    name, equals, value = text.partition("=")
    if not equals or not name.strip():
        raise argparse.ArgumentTypeError(f"invalid setting {text!r}: expected NAME=VALUE")
    return name.strip(), value


def run_discover(options: argparse.Namespace) -> int:
    # Imported here so that the other commands do not pay for Scrapy.
    from scrapy.crawler import CrawlerProcess
    from scrapy.settings import Settings

    from crawler import settings as project_settings
    from crawler.discover import check_portal_url, left_out_reason, sources_toml
    from crawler.spiders.discover import DiscoverSpider, max_requests
    from crawler.store.feed import write_atomically

    settings = Settings()
    settings.setmodule(project_settings, priority="project")
    # The progress lines are this command's output: Scrapy's log only when asked for
    # (-s LOG_FILE=…, or -s LOG_ENABLED=True for stderr).
    settings.set("LOG_ENABLED", False, priority="project")
    for name, value in options.settings:
        settings.set(name, value, priority="cmdline")
    try:
        portal = check_portal_url(options.portal)
        _check_writable(options.output)
        # main() sends warnings to stderr; Scrapy's root handler takes over from it.
        for handler in logging.root.handlers[:]:
            logging.root.removeHandler(handler)
        process = CrawlerProcess(settings)
        crawler = process.create_crawler(DiscoverSpider)
        bound = max_requests(crawler.settings)
    except ConfigError as exc:
        return _error(str(exc))

    process.crawl(crawler, portal=portal, report=_progress)
    process.start()
    spider = crawler.spider
    assert isinstance(spider, DiscoverSpider)
    if spider.portal_failure is not None:
        return _error(f"cannot read the portal {portal}: {spider.portal_failure}")
    if crawler.stats is None or crawler.stats.get_value("finish_reason") != "finished":
        print("error: the discovery did not finish; nothing written", file=sys.stderr)
        return UNFINISHED_EXIT
    sites = list(spider.sites.values())
    found = [site for site in sites if left_out_reason(site, bound) is None]
    if not found:
        print(f"error: no site linked from {portal} has news; nothing written", file=sys.stderr)
        return NOTHING_FOUND_EXIT
    try:
        write_atomically(options.output, sources_toml(portal, found).encode("utf-8"))
    except OSError as exc:
        return _error(f"cannot write {options.output}: {exc.strerror}")
    columns = sum(len(site.columns) for site in found)
    _progress(
        f"wrote {columns} sources, the news columns of {len(found)} sites "
        f"({len(sites) - len(found)} sites left out), to {options.output}"
    )
    return 0


def _check_writable(path: Path) -> None:
    """ConfigError unless *path* can be written (before any request is made)."""
    if path.is_dir():
        raise ConfigError(f"--output {path}: is a directory")
    folder = path.parent
    if not folder.is_dir():
        raise ConfigError(f"--output {path}: no directory {folder}")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ConfigError(f"--output {path}: not writable")


def _progress(line: str) -> None:
    print(f"discover: {line}", file=sys.stderr, flush=True)


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return CONFIG_ERROR_EXIT
