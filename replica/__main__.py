"""``python -m replica serve …`` (the replica's sites), ``python -m replica portal …`` (a
university portal linking replica sites and sites without news, for ``neu-news discover``) or
``python -m replica fleet …`` (many small sites, each on its own loopback address): serve until
SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import types
from collections.abc import Sequence

from replica.build import build_replica
from replica.faults import TRANSIENT_KINDS, FaultConfig, parse_pins
from replica.fleet import Fleet
from replica.portal import PortalReplica
from replica.server import ReplicaServer

# What replica.server's _control answers on every site's port (its docstring says more).
CONTROL_ENDPOINTS = """\
control endpoints, on each site's port (not in the request log):
  POST /__replica__/publish?column=SLUG&n=K    publish K articles atop a column; the new URLs
  GET  /__replica__/expected                   the records a full crawl must give (JSON)
  POST /__replica__/break?kind=no_links|no_dates   break the site's layout
  POST /__replica__/fix                        mend it
  POST /__replica__/move?column=SLUG&to=PATH&status=404|410
                                               move a column's list pages; the old path
  POST /__replica__/faults?rate=R&kinds=K,K&seed=N   replace the whole server's faults (rate=0: off)
  GET  /__replica__/faults                     the fault config in force
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m replica",
        description=__doc__,
        epilog=CONTROL_ENDPOINTS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser(
        "serve",
        help="serve the replica sites on free ports of 127.0.0.1",
        epilog=CONTROL_ENDPOINTS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("--seed", type=int, default=0)
    serve.add_argument("--articles-per-column", type=int, default=25)
    serve.add_argument("--page-size", type=int, default=10)
    serve.add_argument("--theme", default="default", help="'default' or 'variant-<n>'")
    serve.add_argument("--sources-out", help="write a crawler sources file (TOML) here")
    serve.add_argument("--home", action="store_true", help="sources start at each site's home page")
    serve.add_argument("--bad-pages", action="store_true", help="add the bad and nopager columns")
    serve.add_argument("--hostile", action="store_true", help="add the hostile and endless columns")
    faults = serve.add_argument_group("faults (see replica.faults)")
    faults.add_argument("--fault-rate", type=float, default=0.0, help="share of requests faulted")
    faults.add_argument(
        "--fault-kinds", default=",".join(TRANSIENT_KINDS), help="comma-separated fault kinds"
    )
    faults.add_argument("--fault-seed", type=int, default=0, help="seed of the fault RNG")
    faults.add_argument("--fault-slow", type=float, default=3.0, help="seconds a slow fault waits")
    faults.add_argument(
        "--fault-pin",
        action="append",
        default=[],
        metavar="KIND:PATH",
        help="always answer PATH with fault KIND (repeatable)",
    )
    portal = sub.add_parser(
        "portal", help="serve a portal linking two replicas' sites and sites without news"
    )
    portal.add_argument("--seed", type=int, default=0, help="of the first replica (+1: second)")
    portal.add_argument("--articles-per-column", type=int, default=25)
    portal.add_argument("--page-size", type=int, default=10)
    fleet = sub.add_parser(
        "fleet",
        help="serve many small sites, each on its own address 127.0.1.x (see replica.fleet)",
    )
    fleet.add_argument("--sites", type=int, default=12, help="how many sites (default: 12)")
    fleet.add_argument("--seed", type=int, default=0)
    fleet.add_argument("--sources-out", help="write a crawler sources file (TOML) here")
    return parser


def _faults(args: argparse.Namespace) -> FaultConfig | None:
    """The fault config the flags ask for (None when they ask for none). Raises ValueError."""
    config = FaultConfig(
        rate=args.fault_rate,
        kinds=tuple(k for k in args.fault_kinds.split(",") if k),
        paths=parse_pins(args.fault_pin),
        seed=args.fault_seed,
        slow_seconds=args.fault_slow,
    )
    return config if config.active else None


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "portal":
        return _serve_portal(args)
    if args.command == "fleet":
        return _serve_fleet(args)
    try:
        replica = build_replica(
            seed=args.seed,
            articles_per_column=args.articles_per_column,
            page_size=args.page_size,
            theme=args.theme,
            bad_pages=args.bad_pages,
            hostile=args.hostile,
        )
        faults = _faults(args)
    except ValueError as exc:
        print(f"replica: {exc}", file=sys.stderr)
        return 2
    stop = _stop_on_signal()
    with ReplicaServer(replica, faults) as server:
        if args.sources_out:
            replica.write_sources(args.sources_out, server, home=args.home)
        for site in server.sites:
            print(site, server.base_url(site), flush=True)
        while not stop.wait(0.5):
            pass
    return 0


def _serve_portal(args: argparse.Namespace) -> int:
    try:
        replicas = [
            build_replica(args.seed + offset, args.articles_per_column, args.page_size, theme)
            for offset, theme in enumerate(("default", "variant-3"))
        ]
    except ValueError as exc:
        print(f"replica: {exc}", file=sys.stderr)
        return 2
    stop = _stop_on_signal()
    with PortalReplica(replicas) as portal:
        print("portal", portal.portal_url, flush=True)
        for site in portal.news_sites():
            print(site.cms, site.language, f"http://{site.location}/", flush=True)
        while not stop.wait(0.5):
            pass
    return 0


def _serve_fleet(args: argparse.Namespace) -> int:
    try:
        fleet = Fleet(args.sites, args.seed)
    except ValueError as exc:
        print(f"replica: {exc}", file=sys.stderr)
        return 2
    stop = _stop_on_signal()
    with fleet:
        if args.sources_out:
            fleet.write_sources(args.sources_out)
        for site in fleet.sites:
            print(site.name, site.kind, site.base_url, flush=True)
        while not stop.wait(0.5):
            pass
    return 0


def _stop_on_signal() -> threading.Event:
    """An event set by SIGINT or SIGTERM."""
    stop = threading.Event()

    def on_signal(signum: int, frame: types.FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    return stop


if __name__ == "__main__":
    sys.exit(main())
