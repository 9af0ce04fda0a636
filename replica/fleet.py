"""A fleet of small replica sites, each on its own loopback address, for crawls of many sites.

Scrapy keys its downloader slots (one request at a time, the delay between requests) by host
name, not by port, so sites on one address would share one slot. Each fleet site is therefore
served on its own address of 127/8, which Linux routes to ``lo`` without any configuration:
site *i* (from 0) on ``127.0.1.(i+1)``, the 255th on ``127.0.2.1`` and so on.

Each site is one site of a small :class:`~replica.build.Replica` of its own (seeded from the
fleet's seed and its index), in turn a VSB English site (two columns), a WebPlus college site
(two columns) and a VSB news site (three columns, one article listed in two of them): about
29 requests for a full backfill each (robots.txt, list pages, articles). Use::

    with Fleet(sites=12, seed=0) as fleet:          # starts every site; stop() on exit
        names = fleet.write_sources(path)           # a crawler sources TOML: one source a column
        fleet.sources_of_site                       # site name -> its source names
        fleet.expected_records()                    # URL -> record: what a full crawl must give
        fleet.backfill_requests()                   # site name -> requests a full crawl makes
        fleet.request_log                           # site name -> its requests, as they arrived
        fleet.request_gaps()                        # site name -> seconds between its requests
        fleet.most_in_flight()                      # site name -> most requests answered at once
        fleet.article_fetches()                     # site name -> article pages it served
        fleet.clear_log()

``python -m replica fleet --sites N --sources-out FILE`` serves one until SIGTERM.
"""

from __future__ import annotations

import itertools
import threading
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from replica.build import Replica, build_replica
from replica.server import LoggedRequest, ReplicaServer
from replica.truth import _toml_str, record

# The kinds of fleet site, in turn: (replica site, articles per column). English and college:
# 2 columns x (12 articles on 2 list pages) + robots.txt = 29 requests; news: 3 columns x (8 on
# 1 page), one article listed twice: 23 articles + 3 list pages + robots.txt = 27.
SITE_KINDS: tuple[tuple[str, int], ...] = (("english", 12), ("college", 12), ("news", 8))
PAGE_SIZE = 10
# Sites on one third octet of 127.x.y.z: .1 to .254 (.0 and .255 are left alone).
HOSTS_PER_OCTET = 254
# How often each site's server thread looks whether to stop: hundreds of threads polling
# every 0.05 s would cost a core by themselves.
POLL_INTERVAL = 0.5


def site_address(index: int) -> str:
    """The loopback address of fleet site *index* (from 0): 127.0.1.1, 127.0.1.2, …"""
    if index < 0 or index >= HOSTS_PER_OCTET * 254:
        raise ValueError(f"no loopback address for fleet site {index}")
    third, fourth = divmod(index, HOSTS_PER_OCTET)
    return f"127.0.{third + 1}.{fourth + 1}"


@dataclass(frozen=True)
class FleetSite:
    """One site of a fleet: its name (``site001``…), its replica, the replica site it serves
    (``english``, ``college`` or ``news``) and its server."""

    name: str
    replica: Replica
    kind: str
    server: ReplicaServer

    @property
    def base_url(self) -> str:
        """``http://127.0.1.x:PORT`` (while the fleet runs)."""
        return self.server.base_url(self.kind)

    def source_name(self, column_slug: str) -> str:
        return f"{self.name}-{column_slug}"


class Fleet:
    """*sites* small replica sites, each on its own loopback address (see the module)."""

    def __init__(self, sites: int = 12, seed: int = 0) -> None:
        if sites < 1:
            raise ValueError("a fleet has at least 1 site")
        site_address(sites - 1)  # raises ValueError when there are not enough addresses
        self.seed = seed
        self.sites: list[FleetSite] = []
        width = max(3, len(str(sites)))
        for index in range(sites):
            kind, articles = SITE_KINDS[index % len(SITE_KINDS)]
            replica = build_replica(
                seed=seed * 100_000 + index, articles_per_column=articles, page_size=PAGE_SIZE
            )
            server = ReplicaServer(
                replica, host=site_address(index), sites=[kind], poll_interval=POLL_INTERVAL
            )
            self.sites.append(FleetSite(f"site{index + 1:0{width}d}", replica, kind, server))

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Fleet:
        try:
            for site in self.sites:
                site.server.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every site, all at once (each waits up to its poll interval). Safe twice."""
        threads = [threading.Thread(target=site.server.stop) for site in self.sites]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def __enter__(self) -> Fleet:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ crawler's view

    @property
    def sources_of_site(self) -> dict[str, list[str]]:
        """Site name -> the names of its sources (one per column) in :meth:`write_sources`."""
        return {
            site.name: [site.source_name(col.slug) for col in site.replica.site(site.kind).columns]
            for site in self.sites
        }

    def write_sources(self, path: str | Path) -> list[str]:
        """Write a crawler sources file, one source per column of every site; the names."""
        tables: list[str] = []
        names: list[str] = []
        for site in self.sites:
            served = site.replica.site(site.kind)
            for col in served.columns:
                name = site.source_name(col.slug)
                names.append(name)
                tables.append(
                    "[[sources]]\n"
                    f"name = {_toml_str(name)}\n"
                    f"start_urls = [{_toml_str(site.base_url + col.list_path)}]\n"
                    f"language = {_toml_str(served.language)}\n"
                    f"column = {_toml_str(col.label)}\n"
                )
        header = f"# Generated by replica.fleet ({len(self.sites)} sites, seed {self.seed}).\n\n"
        Path(path).write_text(header + "\n".join(tables), encoding="utf-8")
        return names

    # ------------------------------------------------------------------ ground truth

    def expected_records(self) -> dict[str, dict[str, Any]]:
        """What a full crawl of every site must give, keyed by absolute URL."""
        out: dict[str, dict[str, Any]] = {}
        for site in self.sites:
            with site.replica.lock:
                served = site.replica.site(site.kind)
                for article in served.listed:
                    rec = record(site.replica, served, article, site.base_url)
                    out[rec["url"]] = rec
        return out

    def backfill_requests(self) -> dict[str, int]:
        """Site name -> the requests a full crawl sends it: robots.txt, every list page and
        every listed article once."""
        counts: dict[str, int] = {}
        for site in self.sites:
            with site.replica.lock:
                served = site.replica.site(site.kind)
                pages = sum(col.page_count(site.replica.page_size) for col in served.columns)
                counts[site.name] = 1 + pages + len(served.listed)
        return counts

    # ------------------------------------------------------------------ request log

    @property
    def request_log(self) -> dict[str, list[LoggedRequest]]:
        """Site name -> the requests it answered so far, in the order they arrived."""
        return {
            site.name: sorted(site.server.request_log, key=lambda entry: entry.at)
            for site in self.sites
        }

    def request_gaps(self) -> dict[str, list[float]]:
        """Site name -> the seconds between each two requests it answered, one after another
        (its politeness as the site sees it)."""
        return {
            name: [later.at - earlier.at for earlier, later in itertools.pairwise(entries)]
            for name, entries in self.request_log.items()
        }

    def most_in_flight(self) -> dict[str, int]:
        """Site name -> the most requests it answered at once (since the log was cleared)."""
        return {site.name: site.server.most_in_flight(site.kind) for site in self.sites}

    def article_fetches(self) -> dict[str, int]:
        """Site name -> the GET requests of its article pages answered so far."""
        counts: dict[str, int] = {}
        for site in self.sites:
            with site.replica.lock:
                articles = site.replica.site(site.kind).by_path
            counts[site.name] = sum(
                1
                for entry in site.server.request_log
                if entry.method == "GET" and entry.path.partition("?")[0] in articles
            )
        return counts

    def clear_log(self) -> None:
        for site in self.sites:
            site.server.clear_log()
