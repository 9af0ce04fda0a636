"""The ``neu-news`` command: read the feed, export it as Atom/RSS, or run the scheduler."""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import re
import sys
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO, cast

from crawler.feed import FEED_FILE
from crawler.reader import follow_feed, iter_feed
from crawler.state import STATE_FILE

logger = logging.getLogger(__name__)

DEFAULT_DATA_DIR = Path("data")
# Subcommands owned by the scheduler package; their arguments are its business.
DELEGATED = ("schedule", "status")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


def main(argv: list[str] | None = None) -> int:
    """Run ``neu-news`` with *argv* (default: the process arguments); return the exit status."""
    args = sys.argv[1:] if argv is None else list(argv)
    if args and args[0] in DELEGATED:
        # Before any logging setup here, so the scheduler configures its own.
        return delegate(args[0], args[1:])
    options = build_parser().parse_args(args)
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    if options.command == "feed":
        return run_feed(options)
    return run_export(options)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="neu-news", description="Northeastern University (China) news feed tools."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    feed = commands.add_parser("feed", help="print the feed as JSON Lines")
    _add_data_dir(feed)
    feed.add_argument(
        "--since", type=iso_date, metavar="YYYY-MM-DD", help="only articles published on or after"
    )
    feed.add_argument("--source", metavar="NAME", help="only articles of this source")
    feed.add_argument("--latest", action="store_true", help="only the latest version of each id")
    feed.add_argument(
        "--follow", action="store_true", help="keep printing new articles as they land (Ctrl-C)"
    )

    export = commands.add_parser(
        "export", help="write an Atom or RSS document of the newest articles"
    )
    export.add_argument(
        "--format", required=True, choices=("atom", "rss"), dest="fmt", help="document type"
    )
    _add_data_dir(export)
    export.add_argument(
        "--limit", type=positive_int, default=50, metavar="N", help="entries (default 50)"
    )
    export.add_argument(
        "-o", "--output", type=Path, metavar="FILE", help="write here instead of stdout"
    )

    # Listed for --help only: main() hands these to the scheduler before parsing.
    commands.add_parser("schedule", help="run the crawl scheduler (see: neu-news schedule -h)")
    commands.add_parser("status", help="show the scheduler's status (see: neu-news status -h)")
    return parser


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


def run_feed(options: argparse.Namespace) -> int:
    feed_path, state_path = _paths(options.data_dir)
    records: Iterator[dict[str, Any]]
    if options.follow:
        records = follow_feed(
            feed_path,
            since=options.since,
            source=options.source,
            latest=options.latest,
            state_path=state_path,
        )
    elif not feed_path.is_file():
        return _missing_feed(feed_path)
    else:
        records = iter_feed(
            feed_path,
            since=options.since,
            source=options.source,
            latest=options.latest,
            state_path=state_path,
        )
    out = sys.stdout.buffer
    try:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n")
            if options.follow:
                out.flush()  # a follower is read as it goes, not when a buffer fills
        out.flush()
    except BrokenPipeError:
        return _reader_gone()
    except KeyboardInterrupt:
        # Ctrl-C is how a follow ends; anywhere else it is an interruption.
        return 0 if options.follow else 130
    except OSError as exc:
        print(f"neu-news: {exc.filename or feed_path}: {exc.strerror}", file=sys.stderr)
        return 1
    return 0


def run_export(options: argparse.Namespace) -> int:
    # Imported here so that `feed` does not pay for feedgen and lxml.
    from crawler.export import write_syndication

    feed_path, state_path = _paths(options.data_dir)
    if not feed_path.is_file():
        return _missing_feed(feed_path)
    records = iter_feed(feed_path, latest=True, state_path=state_path)
    out: BinaryIO | Path = options.output if options.output is not None else sys.stdout.buffer
    try:
        write_syndication(records, out, fmt=options.fmt, limit=options.limit)
    except BrokenPipeError:
        return _reader_gone()
    except OSError as exc:
        print(f"neu-news: {exc.filename or options.output}: {exc.strerror}", file=sys.stderr)
        return 1
    return 0


def delegate(command: str, argv: list[str]) -> int:
    """Run the scheduler's ``main`` with ``[command, *argv]``; it tells the subcommands apart."""
    module = importlib.import_module("scheduler.__main__")
    scheduler_main = cast(Callable[[list[str]], int | None], module.main)
    status = scheduler_main([command, *argv])
    return status if isinstance(status, int) else 0


def _add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        metavar="DIR",
        help="directory holding articles.jsonl and state.sqlite3 (default: data)",
    )


def _paths(data_dir: Path) -> tuple[Path, Path]:
    return data_dir / FEED_FILE, data_dir / STATE_FILE


def _missing_feed(feed_path: Path) -> int:
    print(f"neu-news: no feed at {feed_path} (has the crawler run?)", file=sys.stderr)
    return 1


def _reader_gone() -> int:
    # The reader closed the pipe (e.g. `| head`): point stdout at /dev/null so the flush at
    # interpreter exit does not raise again.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
