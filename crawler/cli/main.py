"""``neu-news``: a small dispatcher to one module per command.

``schedule``, ``status``, ``health``, ``serve`` and ``worker`` belong to the scheduler, which
parses their arguments; every other command is parsed here and run by its module. Commands are
imported when run, so reading the feed never pays for what the other commands load.
"""

from __future__ import annotations

import argparse
import logging
import sys
from importlib import metadata

from crawler.cli import discover, extract, feed, recheck

# Subcommands owned by the scheduler package; their arguments are its business.
SCHEDULER_COMMANDS = ("schedule", "status", "health", "serve", "worker")


def main(argv: list[str] | None = None) -> int:
    """Run ``neu-news`` with *argv* (default: the process arguments); return the exit status."""
    args = sys.argv[1:] if argv is None else list(argv)
    if args and args[0] in SCHEDULER_COMMANDS:
        # Before any logging setup here, so the scheduler configures its own.
        from scheduler.__main__ import main as scheduler_main

        return scheduler_main(args)
    options = build_parser().parse_args(args)
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    status: int = options.run(options)
    return status


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="neu-news",
        description="News feed tools for Chinese university sites (VSB, WebPlus; NEU by default).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {installed_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    feed.add_commands(commands)
    discover.add_command(commands)
    extract.add_command(commands)
    recheck.add_command(commands)
    # Listed for --help only: main() hands these to the scheduler before parsing.
    commands.add_parser("schedule", help="run the crawl scheduler (see: neu-news schedule -h)")
    commands.add_parser("status", help="show the scheduler's status (see: neu-news status -h)")
    commands.add_parser(
        "health", help="acknowledge a source's incident (see: neu-news health ack -h)"
    )
    commands.add_parser(
        "serve", help="serve the status page and feeds over HTTP (see: neu-news serve -h)"
    )
    commands.add_parser(
        "worker", help="crawl the sites a scheduler's broker hands out (see: neu-news worker -h)"
    )
    return parser


def installed_version() -> str:
    """The installed package's version (pyproject.toml's), or "unknown" when not installed."""
    try:
        return metadata.version("neu-news")
    except metadata.PackageNotFoundError:
        return "unknown"


if __name__ == "__main__":
    raise SystemExit(main())
