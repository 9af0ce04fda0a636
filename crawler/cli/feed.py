"""``neu-news feed`` and ``neu-news export``: the feed as JSON Lines, Atom or RSS."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from crawler.branding import DEFAULT_BRANDING, Branding, branded, load_branding
from crawler.commandline import CONFIG_ERROR_EXIT, ConfigError, iso_date, positive_int
from crawler.store.feed import FEED_FILE, BadLines
from crawler.store.reader import follow_feed, iter_feed, known_sources
from crawler.store.state import STATE_FILE

DEFAULT_DATA_DIR = Path("data")
# Export options, each a field of crawler.branding.Branding.
BRANDING_OPTIONS = {
    "title": "the feed's title",
    "link": "the site the feed is about (and its Atom id unless --id)",
    "id": "the Atom feed's id, an absolute URI",
    "language": "the feed's language tag, e.g. zh-CN or en",
}


def add_commands(commands: Any) -> None:
    """Add ``feed`` and ``export`` to the ``neu-news`` subcommands."""
    feed = commands.add_parser("feed", help="print the feed as JSON Lines")
    feed.set_defaults(run=run_feed)
    _add_data_dir(feed)
    feed.add_argument(
        "--since", type=iso_date, metavar="YYYY-MM-DD", help="only articles published on or after"
    )
    feed.add_argument(
        "--seen-since",
        type=iso_date,
        metavar="YYYY-MM-DD",
        help="only lines of articles first seen on or after (UTC), whenever published",
    )
    feed.add_argument("--source", metavar="NAME", help="only articles of this source")
    feed.add_argument("--latest", action="store_true", help="only the latest version of each id")
    feed.add_argument(
        "--follow",
        action="store_true",
        help="print new articles as they land, from the feed's end (Ctrl-C ends it)",
    )
    feed.add_argument(
        "--from-start", action="store_true", help="with --follow: the whole feed first, then new"
    )

    export = commands.add_parser(
        "export", help="write an Atom or RSS document of the newest articles"
    )
    export.set_defaults(run=run_export)
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
    export.add_argument(
        "--branding",
        type=Path,
        metavar="FILE",
        help="TOML file whose [branding] table names the feed, e.g. the scheduler's schedule "
        "file (default: NEU's news)",
    )
    for option, what in BRANDING_OPTIONS.items():
        export.add_argument(f"--{option}", metavar=option.upper(), help=f"{what} (over --branding)")


def run_feed(options: argparse.Namespace) -> int:
    feed_path, state_path = _paths(options.data_dir)
    if options.from_start and not options.follow:
        print("error: --from-start goes with --follow", file=sys.stderr)
        return CONFIG_ERROR_EXIT
    if options.source is not None:
        known = known_sources(state_path)
        if known is not None and options.source not in known:
            names = ", ".join(sorted(known)) or "none yet"
            print(
                f"error: unknown source {options.source!r}; this feed's: {names}", file=sys.stderr
            )
            return CONFIG_ERROR_EXIT
    bad = BadLines()
    filters = {
        "since": options.since,
        "seen_since": options.seen_since,
        "source": options.source,
        "latest": options.latest,
        "state_path": state_path,
        "bad": bad,
    }
    records: Iterator[dict[str, Any]]
    if options.follow:
        records = follow_feed(feed_path, from_start=options.from_start, **filters)
    elif not feed_path.is_file():
        return _missing_feed(feed_path)
    else:
        records = iter_feed(feed_path, **filters)
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
    finally:
        if bad.count:
            print(f"neu-news: read past {bad.count} bad lines of {feed_path}", file=sys.stderr)
    return 0


def run_export(options: argparse.Namespace) -> int:
    # Imported here so that `feed` does not pay for feedgen and lxml.
    from crawler.store.export import write_syndication

    try:
        branding = export_branding(options)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return CONFIG_ERROR_EXIT
    feed_path, state_path = _paths(options.data_dir)
    if not feed_path.is_file():
        return _missing_feed(feed_path)
    records = iter_feed(feed_path, latest=True, state_path=state_path)
    out: BinaryIO | Path = options.output if options.output is not None else sys.stdout.buffer
    try:
        write_syndication(records, out, fmt=options.fmt, limit=options.limit, branding=branding)
    except BrokenPipeError:
        return _reader_gone()
    except OSError as exc:
        print(f"neu-news: {exc.filename or options.output}: {exc.strerror}", file=sys.stderr)
        return 1
    return 0


def export_branding(options: argparse.Namespace) -> Branding:
    """The ``--branding`` file's branding (NEU's without one), with the options over it."""
    base = load_branding(options.branding) if options.branding else DEFAULT_BRANDING
    given = {option: getattr(options, option) for option in BRANDING_OPTIONS}
    return branded(given, lambda option: f"--{option}", base)


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
