"""``neu-news recheck``: fetch every known article again, once, to catch edits of any age.

Runs ``scrapy crawl neu_news -a recheck=all`` in a child process (an incremental crawl that also
re-checks, conditionally, every known article of the selected sources, without the re-check
budget) and passes its exit code and output on.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from crawler import settings as project_settings
from crawler.cli.discover import add_settings_option
from crawler.cli.feed import DEFAULT_DATA_DIR
from crawler.rechecks import RECHECK_ALL


def add_command(commands: Any) -> None:
    """Add ``recheck`` to the ``neu-news`` subcommands."""
    recheck = commands.add_parser(
        "recheck",
        help="crawl, and fetch every known article again (conditionally) to catch its edits",
    )
    recheck.set_defaults(run=run_recheck)
    recheck.add_argument(
        "--source",
        dest="sources",
        action="append",
        default=[],
        metavar="NAME",
        help="only this source's articles, and only it crawled (repeatable; default: every "
        "enabled source)",
    )
    recheck.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        metavar="DIR",
        help="the crawl's data directory (default: data)",
    )
    add_settings_option(recheck, "DOWNLOAD_DELAY=2")


def recheck_command(options: argparse.Namespace) -> list[str]:
    """The argv of the crawl that re-checks every known article of the chosen sources."""
    command = [sys.executable, "-m", "scrapy", "crawl", "neu_news", "-a", f"recheck={RECHECK_ALL}"]
    if options.sources:
        command += ["-a", f"sources={','.join(options.sources)}"]
    for name, value in [("NEU_DATA_DIR", str(options.data_dir)), *options.settings]:
        command += ["-s", f"{name}={value}"]
    return command


def run_recheck(options: argparse.Namespace) -> int:
    # The crawl checks the sources, settings and data directory itself: a bad one is its one
    # `error:` line and exit 2, passed on.
    environment = {**os.environ, "SCRAPY_SETTINGS_MODULE": project_settings.__name__}
    try:
        return subprocess.run(recheck_command(options), env=environment, check=False).returncode
    except KeyboardInterrupt:
        return 130
