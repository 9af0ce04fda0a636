"""``neu-news serve``: the status page and feeds of a data directory, until a signal."""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from pathlib import Path

from crawler.branding import load_branding
from crawler.commandline import CONFIG_ERROR_EXIT, ConfigError, port_number
from crawler.sources import SourcesError
from scheduler.service import stop_on_signals
from scheduler.web.server import DEFAULT_HOST, DEFAULT_PORT, serve_in_background

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def serve_main(argv: list[str]) -> int:
    """Serve until SIGTERM, SIGINT or SIGHUP; 0 then, 2 for a bad option or one line saying why
    it cannot listen."""
    options = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format=LOG_FORMAT)
    data_dir: Path = options.data_dir
    stop = threading.Event()
    try:
        if not data_dir.is_dir():
            raise ConfigError(f"--data-dir {data_dir}: no such directory")
        branding = load_branding(options.branding) if options.branding else None
        server = serve_in_background(
            data_dir.absolute(), options.host, options.port, branding, options.sources
        )
    except (ConfigError, SourcesError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return CONFIG_ERROR_EXIT
    except OSError as exc:
        print(
            f"error: cannot listen on {options.host}:{options.port}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return CONFIG_ERROR_EXIT
    stop_on_signals(stop)
    stop.wait()
    server.stop()
    return 0


def parser() -> argparse.ArgumentParser:
    serve = argparse.ArgumentParser(
        prog="neu-news serve",
        description="Serve a data directory's status page, Atom/RSS and JSON Lines feeds, "
        "/health and /metrics over HTTP (read-only).",
    )
    serve.add_argument(
        "--data-dir",
        type=Path,
        default=Path("data"),
        metavar="DIR",
        help="the data directory of the crawl or the scheduler (default: data)",
    )
    serve.add_argument(
        "--host",
        default=DEFAULT_HOST,
        metavar="ADDR",
        help=f"address to listen on (default {DEFAULT_HOST}: this machine only)",
    )
    serve.add_argument(
        "--port",
        type=port_number,
        default=DEFAULT_PORT,
        metavar="N",
        help=f"port to listen on (default {DEFAULT_PORT}; 0: any free port, logged)",
    )
    serve.add_argument(
        "--branding",
        type=Path,
        metavar="FILE",
        help="TOML file whose [branding] table names the feeds, e.g. the schedule file "
        "(default: NEU's news)",
    )
    serve.add_argument(
        "--sources",
        type=Path,
        metavar="FILE",
        help="sources file: its sources have feeds before they have articles",
    )
    return serve
