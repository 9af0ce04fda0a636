"""Broker mode's crawl of one scheduled job: one RQ job per site (scheduler.sites), waited for,
taken over when its worker died, and merged into the one crawl the Runner records, exactly as it
records a local one.

Takeover is ours, not RQ's: RQ notices an abandoned job only at its maintenance, minutes later.
A running job holds its site's lease (scheduler.broker) and renews it; a job seen started whose
site lease is not its own for TAKEOVER_GRACE has lost its worker, and the site is enqueued again.
The crawl that follows fetches only what the first did not hand to the feed's stream: the state
in the broker knows the rest.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import redis
from rq import Worker
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job as RQJob
from rq.job import JobStatus
from rq.serializers import JSONSerializer

from crawler import stats as crawl_stats
from crawler.commandline import UNFINISHED_EXIT
from crawler.outcome import FINISHED, SHUTDOWN, crawl_exit_code, source_outcomes
from crawler.sources import Source
from crawler.store.feed import write_atomically
from crawler.store.files import DataDirError, open_no_link
from scheduler.broker import RESULT_TTL, job_timeout, lease_holders, site_queue
from scheduler.crawl import ChildExit
from scheduler.health import crawl_failure
from scheduler.sites import Site, group_sites, source_tables, sources_toml
from scheduler.worker import BUSY, CRAWLED, STOPPED, SUPERSEDED, crawl_site

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.5
# A started job may take a moment to take its lease; past this without it, its worker is gone.
TAKEOVER_GRACE = 5.0
# Runs of one site that failed (an exception in the job) or lost their worker, before the site
# counts as failed in this run.
MAX_ATTEMPTS = 5
PROGRESS_EVERY = 60.0
# Scrapy's stats that are not counts: the merged crawl's is the earliest, or the latest.
EARLIEST = frozenset({"start_time"})
LATEST = frozenset({"finish_time", "elapsed_time_seconds", "memusage/max", "memusage/startup"})


class FeedDrain(Protocol):
    """The feed's writer (crawler.store): appends what the stream holds to the feed."""

    def drain(self) -> int: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class SiteJobOptions:
    """What every site job of this scheduler carries besides its sources."""

    sources_file: Path | None
    settings: tuple[str, ...]  # KEY=VALUE for every crawl (branding's contact, -s)
    grace: float


@dataclass
class Tracked:
    """One site's job in this run, and what became of it."""

    site: Site
    payload: dict[str, Any]
    job_id: str = ""  # until enqueued (the broker may be away at the start)
    attempts: int = 1
    suspect_since: float | None = None  # seen started without its lease since then
    waiting_for_lease: bool = False  # another job holds the site: enqueue when it is free
    result: dict[str, Any] | None = None
    error: str = ""  # why the site has no result, when it failed for good

    @property
    def done(self) -> bool:
        return self.result is not None or bool(self.error)


class Dispatcher:
    """Runs a scheduled job's crawl on the broker's workers, one job per site."""

    def __init__(
        self,
        client: redis.Redis,
        writer: FeedDrain,
        options: SiteJobOptions,
        sources: Sequence[Source],
    ) -> None:
        self.client = client
        self.writer = writer
        self.options = options
        self.queue = site_queue(client)
        self.sources = {source.name: source for source in sources}
        # Read once, with the sources: the schedule's jobs name the sources of the file as it
        # was at the start, whatever it says now, as the grouping into sites does.
        tables = source_tables(options.sources_file, list(self.sources))
        self.tables = {table["name"]: table for table in tables}

    def crawl(
        self,
        names: Sequence[str],
        run_id: str,
        timeout: float,
        log_file: Path,
        stats_file: Path,
        stop: threading.Event,
    ) -> tuple[ChildExit, dict[str, Any], str]:
        """Crawl the sources *names*, each site on a worker; the merged crawl's exit, stats
        (also written to *stats_file*) and error. Their logs are appended to *log_file*; the
        stream is drained into the feed as the jobs run and before this returns.

        Waits at most *timeout* and the grace, as a local crawl runs: the sites not crawled by
        then fail the run. A broker away meanwhile is waited for; a feed that cannot be written
        (disk full) ends the run, failed."""
        sites = group_sites([self.sources[name] for name in names])
        tracked = [
            Tracked(site, site_payload(site, self.tables, self.options, run_id, timeout))
            for site in sites
        ]
        logger.info("Run %s: %d sites to crawl on the broker's workers", run_id, len(tracked))
        deadline = time.monotonic() + timeout + self.options.grace
        progress_at = time.monotonic() + PROGRESS_EVERY
        outage_since: float | None = None
        feed_error = ""
        while not all(item.done for item in tracked) and not stop.is_set():
            if time.monotonic() >= deadline:
                self._give_up(run_id, tracked)
                break
            try:
                self.writer.drain()
                for item in tracked:
                    if not item.done:
                        self._poll(item, log_file)
                if time.monotonic() >= progress_at:
                    self._log_progress(run_id, tracked)
                    progress_at = time.monotonic() + PROGRESS_EVERY
            except redis.RedisError as exc:
                if outage_since is None:
                    outage_since = time.monotonic()
                    logger.warning("Run %s: broker unreachable (%s): waiting", run_id, exc)
            except (OSError, DataDirError) as exc:
                feed_error = unwritable(exc)
                logger.error("Run %s: %s: ending the run", run_id, feed_error)
                self._withdraw(run_id, tracked)
                break
            else:
                if outage_since is not None:
                    logger.info(
                        "Run %s: broker back after %.0fs",
                        run_id,
                        time.monotonic() - outage_since,
                    )
                    outage_since = None
            stop.wait(POLL_SECONDS)
        if stop.is_set() and not feed_error:
            self._withdraw(run_id, tracked)
        feed_error = self._drain() or feed_error
        child, merged, error = merge_results(tracked, stop.is_set())
        if feed_error:
            child = ChildExit(UNFINISHED_EXIT, child.timed_out, child.stopped)
            error = "; ".join(part for part in (feed_error, error) if part)
        write_atomically(stats_file, (json.dumps(merged, indent=1, sort_keys=True) + "\n").encode())
        return child, merged, error

    def close(self) -> None:
        """Let go of the feed (and the data directory's crawl lock)."""
        self.writer.close()

    def _submit(self, site: Site, payload: dict[str, Any], at_front: bool = False) -> str:
        job = self.queue.enqueue_call(
            crawl_site,
            args=[payload],
            timeout=job_timeout(payload["timeout"], payload["grace"]),
            result_ttl=RESULT_TTL,
            failure_ttl=RESULT_TTL,
            description=f"crawl site {site.name} ({len(site.sources)} sources) of run "
            f"{payload['run_id']}",
            at_front=at_front,
        )
        return job.id

    def _resubmit(self, item: Tracked, why: str, counted: bool = True) -> None:
        if counted:
            item.attempts += 1
            if item.attempts > MAX_ATTEMPTS:
                item.error = f"{why}, {MAX_ATTEMPTS} times"
                logger.error("Site %s: %s: given up", item.site.name, item.error)
                return
        # First in the queue: the oldest work of the run, and its takeover is what is waited on.
        item.job_id = self._submit(item.site, item.payload, at_front=True)
        item.suspect_since = None
        item.waiting_for_lease = False
        logger.warning("Site %s: %s: enqueued again as job %s", item.site.name, why, item.job_id)

    def _poll(self, item: Tracked, log_file: Path) -> None:
        if not item.job_id:
            item.job_id = self._submit(item.site, item.payload)
            logger.debug("Site %s: enqueued as job %s", item.site.name, item.job_id)
            return
        if item.waiting_for_lease:
            if not any(lease_holders(self.client, item.site.hosts)):
                self._resubmit(item, "its lease is free again", counted=False)
            return
        job = RQJob.fetch_many([item.job_id], connection=self.client, serializer=JSONSerializer)[0]
        status = job.get_status(refresh=False) if job is not None else None
        if job is None or status is None:
            self._resubmit(item, f"job {item.job_id} is gone from the broker")
        elif status == JobStatus.FINISHED:
            self._finished(item, job, log_file)
        elif status == JobStatus.STARTED:
            self._check_lease(item)
        elif status in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED):
            result = job.latest_result()
            reason = (result.exc_string or "").strip().splitlines() if result else []
            self._resubmit(item, f"job {status.value}: {reason[-1] if reason else 'no reason'}")

    def _finished(self, item: Tracked, job: RQJob, log_file: Path) -> None:
        result = job.return_value()
        if not isinstance(result, dict):
            self._resubmit(item, f"job {job.id} returned no result")
            return
        status = result.get("status")
        if status in (BUSY, SUPERSEDED):
            logger.info("Site %s is busy (another job's crawl): waiting for it", item.site.name)
            item.waiting_for_lease = True
        elif status == STOPPED:
            self._resubmit(item, f"worker {result.get('worker')} stopped its crawl", counted=False)
        else:
            assert status == CRAWLED, status
            item.result = result
            append_site_log(log_file, item, job.id)

    def _check_lease(self, item: Tracked) -> None:
        holders = lease_holders(self.client, item.site.hosts)
        if all(holder == item.job_id for holder in holders):
            item.suspect_since = None
        elif item.suspect_since is None:
            item.suspect_since = time.monotonic()
        elif time.monotonic() - item.suspect_since >= TAKEOVER_GRACE:
            self._resubmit(item, f"job {item.job_id}'s lease lapsed (its worker is gone)")

    def _give_up(self, run_id: str, tracked: Sequence[Tracked]) -> None:
        """Past the run's timeout: its sites not done fail, their jobs not started withdrawn."""
        for item, fate in self._withdraw_jobs(tracked):
            item.error = f"not crawled within the run's timeout: {fate}"
            logger.error("Site %s: %s", item.site.name, item.error)
        logger.error("Run %s: timed out waiting for the broker's workers", run_id)

    def _withdraw(self, run_id: str, tracked: Sequence[Tracked]) -> None:
        """Jobs not started are withdrawn; started ones end on their workers, their records
        reaching the feed at the next drain (this one's or the next scheduler's)."""
        left = [f"{item.site.name}: {fate}" for item, fate in self._withdraw_jobs(tracked)]
        if left:
            logger.info("Run %s ended: %d sites not done (%s)", run_id, len(left), "; ".join(left))

    def _withdraw_jobs(self, tracked: Sequence[Tracked]) -> list[tuple[Tracked, str]]:
        """The sites not done, each with what became of its job, its job cancelled if no
        worker had started it. A broker away is asked once, not once a site."""
        fates: list[tuple[Tracked, str]] = []
        unreachable = ""
        for item in tracked:
            if item.done:
                continue
            if not unreachable:
                try:
                    fates.append((item, self._withdraw_job(item)))
                    continue
                except redis.RedisError as exc:
                    unreachable = f"the broker was unreachable ({exc})"
            fates.append((item, unreachable))
        return fates

    def _withdraw_job(self, item: Tracked) -> str:
        if not item.job_id:
            return "the broker was unreachable"
        if item.waiting_for_lease:
            return "another job held its site"
        try:
            job = RQJob.fetch(item.job_id, connection=self.client, serializer=JSONSerializer)
            status = job.get_status()
        except (NoSuchJobError, InvalidJobOperation):
            return f"job {item.job_id} is gone from the broker"
        if status == JobStatus.QUEUED:
            job.cancel()
            return "no worker took it"
        if status == JobStatus.STARTED:
            return f"job {job.id} still running on worker {job.worker_name}"
        return f"job {job.id} {status.value}"

    def _drain(self) -> str:
        """What the stream holds, into the feed; why the feed cannot be written, or ""."""
        try:
            self.writer.drain()
        except redis.RedisError as exc:
            logger.warning("Cannot drain the feed's stream now (%s): the next run will", exc)
        except (OSError, DataDirError) as exc:
            logger.error("Cannot write the feed: %s", exc)
            return unwritable(exc)
        return ""

    def _log_progress(self, run_id: str, tracked: Sequence[Tracked]) -> None:
        waiting = [item for item in tracked if not item.done]
        workers = Worker.count(connection=self.client)
        logger.info(
            "Run %s: waiting for %d of %d sites; %d workers on the broker",
            run_id,
            len(waiting),
            len(tracked),
            workers,
        )


def unwritable(exc: OSError | DataDirError) -> str:
    """A run's failure when the data directory cannot be written (disk full, say), or the
    feed no longer by this writer (another took the broker's feed writer lease)."""
    return f"cannot write the data directory: {exc}"


def site_payload(
    site: Site,
    tables: Mapping[str, Mapping[str, Any]],
    options: SiteJobOptions,
    run_id: str,
    timeout: float,
) -> dict[str, Any]:
    """A site job's argument: everything its crawl needs, as plain data."""
    return {
        "site": site.name,
        "hosts": list(site.hosts),
        "sources": list(site.sources),
        "sources_toml": sources_toml(tables[name] for name in site.sources),
        "settings": list(options.settings),
        "timeout": timeout,
        "grace": options.grace,
        "run_id": run_id,
    }


def append_site_log(log_file: Path, item: Tracked, job_id: str) -> None:
    """The site's crawl log (its tail) in the run's log, under a line naming site, job and
    worker."""
    assert item.result is not None
    heading = (
        f"===== site {item.site.name} ({', '.join(item.site.sources)}): job {job_id} on "
        f"worker {item.result.get('worker')}, exit code {item.result.get('exit_code')} =====\n"
    )
    fd = open_no_link(log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    with os.fdopen(fd, "ab") as log:
        log.write((heading + str(item.result.get("log", ""))).encode("utf-8"))


def merge_results(
    tracked: Sequence[Tracked], stopped: bool
) -> tuple[ChildExit, dict[str, Any], str]:
    """The sites' crawls as one: their stats merged, the exit code one crawl of them all would
    have, and each failed site's failure (``site NAME: why``)."""
    errors, codes, site_stats = [], [], []
    for item in tracked:
        result = item.result
        if result is None:
            if item.error:
                errors.append(f"site {item.site.name}: {item.error}")
                codes.append(UNFINISHED_EXIT)
            continue
        stats = result.get("stats")
        child = ChildExit(
            int(result["exit_code"]), bool(result["timed_out"]), bool(result["stopped"])
        )
        outcomes = source_outcomes(stats or {}, item.site.sources)
        failure = crawl_failure(
            child.exit_code, stats, outcomes, str(result["error"]), child.stopped
        )
        if failure:
            errors.append(f"site {item.site.name}: {failure}")
            codes.append(child.exit_code)
        if stats:
            site_stats.append(stats)
    merged = merge_stats(site_stats)
    everyone_finished = all(
        item.result is not None
        and (item.result.get("stats") or {}).get(crawl_stats.FINISH_REASON) == FINISHED
        for item in tracked
    )
    if everyone_finished:
        merged[crawl_stats.FINISH_REASON] = FINISHED
    elif stopped:
        merged[crawl_stats.FINISH_REASON] = SHUTDOWN
    names = [name for item in tracked for name in item.site.sources]
    exit_code = (
        codes[0]
        if codes
        else crawl_exit_code(merged.get(crawl_stats.FINISH_REASON), source_outcomes(merged, names))
    )
    timed_out = any(item.result is not None and item.result["timed_out"] for item in tracked)
    return ChildExit(exit_code, timed_out, stopped), merged, "; ".join(errors)


def merge_stats(site_stats: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Counts summed (a source's own keys are in one site's stats only); start and end times the
    earliest and the latest; the finish reason the first that is not ``finished``."""
    merged: dict[str, Any] = {}
    for stats in site_stats:
        for key, value in stats.items():
            if key not in merged:
                merged[key] = value
            elif key == crawl_stats.FINISH_REASON:
                merged[key] = merged[key] if merged[key] != FINISHED else value
            elif key in EARLIEST:
                merged[key] = min(merged[key], value)
            elif key in LATEST:
                merged[key] = max(merged[key], value)
            elif isinstance(value, int | float) and not isinstance(value, bool):
                merged[key] += value
    return merged
