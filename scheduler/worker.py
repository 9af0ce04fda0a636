"""``neu-news worker --broker URL``: an RQ worker that crawls one site per job.

A job carries everything its crawl needs (the site's sources as a TOML text, the settings, the
timeout): the worker shares no disk with the scheduler. It takes the site's lease, runs
``scrapy crawl neu_news`` as a supervised child (scheduler.crawl) with its state and its records
in the broker (``NEU_STATE_URL`` in its environment, where the password stays out of ps; no data
directory), renews the lease while the crawl runs, and returns the crawl's stats, exit code and
log as the job's result.

RQ's ``SimpleWorker`` runs the job in the worker process itself: the crawl is tethered to it,
so a worker killed -9 takes its crawl along, and its lease lapses for another to take over.
RQ's loop gives up on a Redis connection lost outside its dequeue; :func:`serve` then waits for
the broker and starts a new worker, and the enqueuer re-runs what was cut short.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from rq import SimpleWorker, get_current_job
from rq.exceptions import StopRequested
from rq.serializers import JSONSerializer

from crawler.store.shared import redact
from scheduler.broker import (
    LEASE_TTL,
    RENEW_EVERY,
    WORKER_TTL,
    Lease,
    lease_holders,
    site_queue,
)
from scheduler.crawl import POLL_SECONDS, child_error, run_child, scrapy_command
from scheduler.history import read_stats

logger = logging.getLogger(__name__)

# What a job's result says happened (``status``).
CRAWLED = "crawled"
# Another job holds the site's lease: nothing done.
BUSY = "busy"
# The worker was asked to stop (SIGTERM): its crawl ended early, to be run again.
STOPPED = "stopped"
# The lease was taken by another job while this one ran (it lapsed): this crawl was ended.
SUPERSEDED = "superseded"
# The end of a crawl's log that comes back with its result: enough to see why it failed.
LOG_TAIL_BYTES = 256 * 1024
RECONNECT_MAX_SECONDS = 30.0


@dataclass
class WorkerContext:
    """What a job needs of the worker process it runs in (set once by :func:`serve`)."""

    client: redis.Redis
    url: str  # the broker's, password included: the crawl's NEU_STATE_URL
    shutdown: threading.Event = field(default_factory=threading.Event)
    busy: bool = False  # a job is running


_context: WorkerContext | None = None


class SiteWorker(SimpleWorker):
    """RQ's in-process worker whose first SIGTERM also winds the running crawl down (SIGTERM to
    it, SIGKILL after its grace): a backfill may run for hours, longer than a service manager
    waits. The job then returns ``stopped`` and the enqueuer runs it again."""

    def request_stop(self, signum: int, frame: types.FrameType | None) -> None:
        assert _context is not None
        _context.shutdown.set()
        try:
            super().request_stop(signum, frame)  # type: ignore[no-untyped-call]
        except redis.RedisError:
            # The broker is away, so RQ cannot read its own state; ours says if a job runs.
            if not _context.busy:
                raise StopRequested() from None


def serve(client: redis.Redis, url: str, name: str | None, level: str) -> int:
    """Work the site queue until SIGTERM or SIGINT; across broker restarts."""
    global _context
    _context = WorkerContext(client, url)
    while True:
        worker = SiteWorker(
            [site_queue(client)],
            connection=client,
            name=name,
            serializer=JSONSerializer,
            worker_ttl=WORKER_TTL,
        )
        try:
            worker.work(logging_level=level.upper())
        except redis.RedisError as exc:  # in RQ's teardown, the broker being gone
            logger.debug("Worker %s ended on %s", worker.name, exc)
        if _context.shutdown.is_set():
            return 0
        logger.warning("Worker %s lost the broker %s: reconnecting", worker.name, redact(url))
        try:
            if not wait_for_broker(client, _context.shutdown):
                return 0
        except StopRequested:
            return 0


def wait_for_broker(client: redis.Redis, shutdown: threading.Event) -> bool:
    """Until the broker answers (True), or a shutdown is asked for (False)."""
    delay = 1.0
    while not shutdown.wait(delay):
        try:
            client.ping()
            return True
        except redis.RedisError:
            delay = min(delay * 2, RECONNECT_MAX_SECONDS)
    return False


def crawl_site(payload: dict[str, Any]) -> dict[str, Any]:
    """The job: crawl one site (``payload`` from scheduler.dispatch.site_payload)."""
    context = _context
    job = get_current_job()
    assert context is not None and job is not None, "crawl_site runs in a neu-news worker"
    site, worker = payload["site"], job.worker_name or ""
    lease = Lease(context.client, payload["hosts"], job.id)
    if not lease.hold():
        holder = next(filter(None, lease_holders(context.client, payload["hosts"])), None)
        logger.info("Site %s is busy (job %s holds a host of it): skipped", site, holder)
        return {"status": BUSY, "site": site, "worker": worker, "holder": holder}
    keeper = LeaseKeeper(lease, context.shutdown)
    keeper.start()
    context.busy = True
    try:
        with tempfile.TemporaryDirectory(prefix="neu-news-site-") as temp:
            result = _crawl(payload, Path(temp), context.url, keeper.stop_crawl)
    finally:
        context.busy = False
        keeper.finish()
    if keeper.lost:
        status = SUPERSEDED
    elif context.shutdown.is_set() and result["stopped"]:
        status = STOPPED
    else:
        status = CRAWLED
    return {**result, "status": status, "site": site, "worker": worker}


def _crawl(payload: dict[str, Any], temp: Path, url: str, stop: threading.Event) -> dict[str, Any]:
    sources_file, stats_file, log_file = temp / "sources.toml", temp / "stats.json", temp / "log"
    sources_file.write_text(payload["sources_toml"], encoding="utf-8")
    managed = [
        "NEU_DATA_DIR=",
        f"NEU_SOURCES_FILE={sources_file}",
        f"NEU_STATS_FILE={stats_file}",
        f"LOG_FILE={log_file}",
    ]
    command = scrapy_command((*managed, *payload["settings"]), payload["sources"])
    timeout, grace = float(payload["timeout"]), float(payload["grace"])
    logger.info("Crawling site %s: %d sources", payload["site"], len(payload["sources"]))
    child = run_child(command, log_file, timeout, grace, stop, state_url=url)
    return {
        "exit_code": child.exit_code,
        "timed_out": child.timed_out,
        "stopped": child.stopped,
        "error": child_error(child, log_file, timeout),
        "stats": read_stats(stats_file),
        "log": log_tail(log_file),
    }


def log_tail(path: Path) -> str:
    """The last LOG_TAIL_BYTES of the crawl's log (which names the broker's URL redacted only:
    it is not in the crawl's argv, and Scrapy's list of overridden settings leaves ours out)."""
    try:
        with path.open("rb") as log:
            size = log.seek(0, os.SEEK_END)
            log.seek(max(0, size - LOG_TAIL_BYTES))
            text = log.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    cut = f"[… first {size - LOG_TAIL_BYTES} bytes cut]\n" if size > LOG_TAIL_BYTES else ""
    return cut + text


class LeaseKeeper(threading.Thread):
    """Renews the lease every RENEW_EVERY seconds while the crawl runs; sets ``stop_crawl`` on
    the worker's shutdown, or when another job holds the lease (this one had lapsed: two
    crawls of one site must not go on)."""

    def __init__(self, lease: Lease, shutdown: threading.Event) -> None:
        super().__init__(name=f"lease {lease.label}", daemon=True)
        self.lease = lease
        self.shutdown = shutdown
        self.stop_crawl = threading.Event()
        self.done = threading.Event()
        self.lost = False

    def run(self) -> None:
        renew_at = time.monotonic() + RENEW_EVERY
        failing_since: float | None = None
        while not self.done.wait(POLL_SECONDS):
            if self.shutdown.is_set():
                self.stop_crawl.set()
            if time.monotonic() < renew_at:
                continue
            try:
                held = self.lease.hold()
            except redis.RedisError as exc:
                if failing_since is None:
                    failing_since = time.monotonic()
                    logger.warning("Cannot renew %s (%s): retrying", self.lease.label, exc)
                renew_at = time.monotonic() + 1.0
                continue
            if failing_since is not None:
                logger.info(
                    "Renewed %s after %.0fs without the broker (its TTL: %.0fs)",
                    self.lease.label,
                    time.monotonic() - failing_since,
                    LEASE_TTL,
                )
                failing_since = None
            if not held:
                logger.warning("Lost %s to another job: ending this crawl", self.lease.label)
                self.lost = True
                self.stop_crawl.set()
                return
            renew_at = time.monotonic() + RENEW_EVERY

    def finish(self) -> None:
        """Stop renewing, and free the site (it lapses by itself if the broker is away)."""
        self.done.set()
        self.join()
        if self.lost:
            return
        try:
            self.lease.release()
        except redis.RedisError as exc:
            logger.warning(
                "Cannot release %s (%s): it lapses in %.0fs", self.lease.label, exc, LEASE_TTL
            )
