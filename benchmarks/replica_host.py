"""The replica, served by a process of its own, with its request log readable from outside.

``python -m replica serve`` serves the same sites but keeps its request log to itself; the
benchmarks need it to count what a crawl asked for. Run as ``python -m benchmarks.replica_host``
this module serves a ``ReplicaServer`` and answers one-line commands on stdin with one JSON line
on stdout:

* ``clear``: forget the requests so far (and restart the CPU clock);
* ``log``: what was requested since, by kind, and when the first request came;
* ``size``: articles listed and list pages, i.e. what a crawler without state fetches.

The server runs outside the benchmark process so that the crawler measured and the server share
the machine the same way on both sides of every comparison. ``ReplicaHost`` is the client.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from benchmarks import PROJECT_ROOT
from replica import LoggedRequest, Replica, ReplicaServer, build_replica


@dataclass(frozen=True)
class RequestLog:
    """Requests the sites answered since the last ``clear``."""

    total: int
    by_kind: dict[str, int]
    by_status: dict[str, int]
    not_article_paths: list[str]
    first_at: float | None
    server_cpu_seconds: float

    def count(self, kind: str) -> int:
        return self.by_kind.get(kind, 0)


@dataclass(frozen=True)
class ReplicaSize:
    sites: int
    columns: int
    articles: int
    list_pages: int

    @property
    def stateless_requests(self) -> int:
        """What a crawl without state fetches: robots.txt, every list page, every article."""
        return self.sites + self.list_pages + self.articles


class ReplicaHost:
    """Client of a ``benchmarks.replica_host`` child process; a context manager."""

    def __init__(
        self, seed: int, articles_per_column: int, page_size: int, sources_path: Path
    ) -> None:
        self.sources_path = sources_path
        argv = [
            sys.executable,
            "-m",
            "benchmarks.replica_host",
            f"--seed={seed}",
            f"--articles-per-column={articles_per_column}",
            f"--page-size={page_size}",
            f"--sources-out={sources_path}",
        ]
        self.process = subprocess.Popen(
            argv, cwd=PROJECT_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.base_urls: dict[str, str] = self._read()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=30)

    def clear_log(self) -> None:
        self._ask("clear")

    def log(self) -> RequestLog:
        return RequestLog(**self._ask("log"))

    def size(self) -> ReplicaSize:
        return ReplicaSize(**self._ask("size"))

    def publish(self, site: str, column: str, n: int) -> list[str]:
        """New articles at the top of a column, through the replica's control endpoint."""
        url = f"{self.base_urls[site]}/__replica__/publish?column={column}&n={n}"
        urls: list[str] = _http_json(urllib.request.Request(url, method="POST"))
        return urls

    def expected_records(self) -> dict[str, dict[str, Any]]:
        """Ground truth of every listed article, keyed by URL."""
        request = urllib.request.Request(f"{self.base_urls['news']}/__replica__/expected")
        records: dict[str, dict[str, Any]] = _http_json(request)
        return records

    def _ask(self, command: str) -> Any:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self._read()

    def _read(self) -> Any:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the replica host process ended")
        return json.loads(line)


def _http_json(request: urllib.request.Request) -> Any:
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.load(response)


# -- the host process ------------------------------------------------------------------------


class _TimedReplicaServer(ReplicaServer):
    """A ``ReplicaServer`` that also notes when the first request after a clear came."""

    def __init__(self, replica: Replica) -> None:
        super().__init__(replica)
        self.first_at: float | None = None

    def _record(self, entry: LoggedRequest) -> None:
        if self.first_at is None:
            self.first_at = time.time()
        super()._record(entry)

    def clear_log(self) -> None:
        super().clear_log()
        self.first_at = None


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _kind(replica: Replica, entry: LoggedRequest) -> str:
    path = entry.path.partition("?")[0]
    if path == "/robots.txt":
        return "robots"
    site = replica.site(entry.site)
    if path in site.by_path:
        return "article"
    if any(path.startswith(column.list_path.removesuffix(".htm")) for column in site.columns):
        return "list"
    return "other"


def _log_summary(server: _TimedReplicaServer, cpu_at_clear: float) -> dict[str, Any]:
    entries = server.request_log
    with server.replica.lock:
        kinds = [_kind(server.replica, entry) for entry in entries]
    return {
        "total": len(entries),
        "by_kind": dict(Counter(kinds)),
        "by_status": dict(Counter(str(entry.status) for entry in entries)),
        "not_article_paths": sorted(
            f"{entry.site}{entry.path}"
            for entry, kind in zip(entries, kinds, strict=True)
            if kind != "article"
        ),
        "first_at": server.first_at,
        "server_cpu_seconds": _cpu_seconds() - cpu_at_clear,
    }


def _size(replica: Replica) -> dict[str, int]:
    columns = [
        (site.name, column.slug) for site in replica.sites.values() for column in site.columns
    ]
    return {
        "sites": len(replica.sites),
        "columns": len(columns),
        "articles": len(replica.articles()),
        "list_pages": sum(replica.pages(site, column) for site, column in columns),
    }


def _serve(server: _TimedReplicaServer) -> None:
    """Answer commands from stdin until it closes."""
    cpu_at_clear = _cpu_seconds()
    for line in sys.stdin:
        command = line.strip()
        if command == "clear":
            server.clear_log()
            cpu_at_clear = _cpu_seconds()
            answer: Any = {"cleared": True}
        elif command == "log":
            answer = _log_summary(server, cpu_at_clear)
        elif command == "size":
            answer = _size(server.replica)
        else:
            answer = {"error": f"unknown command {command!r}"}
        print(json.dumps(answer), flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.replica_host")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--articles-per-column", type=int, required=True)
    parser.add_argument("--page-size", type=int, default=10)
    parser.add_argument("--sources-out", type=Path, required=True)
    args = parser.parse_args(argv)
    replica = build_replica(
        seed=args.seed, articles_per_column=args.articles_per_column, page_size=args.page_size
    )
    server = _TimedReplicaServer(replica)
    with server:
        replica.write_sources(args.sources_out, server)
        print(json.dumps({site: server.base_url(site) for site in server.sites}), flush=True)
        _serve(server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
