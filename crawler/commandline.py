"""Argument types and exit codes shared by every command line of the project (stdlib only).

``neu-news``, ``scrapy crawl neu_news`` and the scheduler import these without loading Scrapy.
"""

from __future__ import annotations

import argparse
import re
from datetime import date

# A bad option, sources file, setting or data directory: one ``error:`` line, nothing done.
CONFIG_ERROR_EXIT = 2
# The crawl did not finish (interrupted, or it failed), or it fetched nothing: cron and CI must
# not take it as good.
UNFINISHED_EXIT = 1
# The crawl finished, but some sources were not fetched (DNS, refused, timeout, 404, robots.txt).
PARTIAL_FAILURE_EXIT = 3

_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


class ConfigError(ValueError):
    """Configuration that cannot be used (option, file, setting); the message is one line for
    the user, shown as ``error: …`` with ``CONFIG_ERROR_EXIT``."""


def iso_date(value: str) -> date:
    """An argparse type: a ``YYYY-MM-DD`` calendar date."""
    try:
        if _DATE_RE.fullmatch(value):
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(
        f"invalid date {value!r}: expected YYYY-MM-DD, e.g. 2023-04-07"
    )


def positive_int(value: str) -> int:
    """An argparse type: an integer of at least 1."""
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"invalid count {value!r}: expected a positive integer")
    return number


def port_number(value: str) -> int:
    """An argparse type: a TCP port, 0 to 65535 (0: any free one)."""
    if value.isdigit() and int(value) <= 65535:
        return int(value)
    raise argparse.ArgumentTypeError(f"invalid port {value!r}: expected 0-65535")
