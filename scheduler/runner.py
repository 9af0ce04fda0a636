"""One run of a job, start to finish: crawl, run line, source health, alerts, metrics, pruning."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from crawler import stats as crawl_stats
from crawler.commandline import CONFIG_ERROR_EXIT
from crawler.outcome import SourceOutcome, source_outcomes
from crawler.store.datadir import LOCK_FILE as CRAWL_LOCK_FILE
from crawler.store.files import DataDirError
from crawler.store.locks import lock_holder
from scheduler.alerts import notify
from scheduler.config import HealthRules, Job, default_timeout
from scheduler.crawl import (
    POLL_SECONDS,
    ChildExit,
    CrawlOptions,
    child_error,
    crawl_command,
    run_child,
)
from scheduler.health import (
    SKIPPED,
    Figures,
    RunFacts,
    SourceHealth,
    SourceState,
    advance,
    assess_source,
    crawl_failure,
    error_counts,
    error_total,
    run_outcome,
    source_figures,
)
from scheduler.history import (
    append_run,
    load_health,
    log_path,
    make_dirs,
    new_run_id,
    prune_logs,
    read_stats,
    stats_path,
    update_health,
)
from scheduler.metrics import Metrics
from scheduler.outbox import Courier

if TYPE_CHECKING:  # imported by broker mode only: RQ costs every local start
    from scheduler.dispatch import Dispatcher

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunnerOptions:
    crawl: CrawlOptions
    timezone: ZoneInfo
    rules: HealthRules
    timeout: float | None  # None: sized to each job's interval
    keep_logs: int


# The child of a run that could not start one.
NOT_STARTED = ChildExit(CONFIG_ERROR_EXIT, timed_out=False, stopped=False)


@dataclass(frozen=True)
class Crawled:
    """What one crawl left behind, read back."""

    started: datetime
    ended: datetime
    child: ChildExit
    stats: dict[str, Any] | None
    failure: str  # "" when the crawl as a whole finished (or our shutdown ended it in time)
    outcomes: Mapping[str, SourceOutcome] = field(default_factory=dict)  # by source


class Runner:
    """Runs jobs one at a time (the scheduler's single worker sees to that) and records them.

    Alerts go to the *courier* (None: no webhook), which delivers them on a thread of its own.
    With a *dispatcher* (--broker), a job's crawl runs on the broker's workers, a site a job;
    the rest of a run is the same.
    """

    def __init__(
        self,
        options: RunnerOptions,
        known_sources: Collection[str],
        metrics: Metrics,
        stop: threading.Event,
        courier: Courier | None,
        dispatcher: Dispatcher | None = None,
    ) -> None:
        self.options = options
        self.dispatcher = dispatcher
        self.metrics = metrics
        self.stop = stop
        self.courier = courier
        self.data_dir = options.crawl.data_dir
        self.known_sources = frozenset(known_sources)
        # Per job, its run of skips not yet written (one line for them all), and the lock that
        # guards it: APScheduler reports skips from its own threads.
        self.skips: dict[str, dict[str, Any]] = {}
        self.skips_lock = threading.Lock()
        self.states = self._known(load_health(self.data_dir))
        metrics.restore(self.states)

    def run(self, job: Job) -> str | None:
        """Crawl *job*'s sources and record the run; its outcome, or None if not started."""
        if self.stop.is_set():
            logger.info("Not starting job %s: the scheduler is stopping", job.id)
            return None
        # In broker mode this process's feed writer holds the data directory, and no crawl
        # writes to it.
        holder = None if self.dispatcher is not None else self._crawl_lock_holder()
        if holder is not None:
            self.skipped(job, self._now(), f"another crawl (pid {holder}) holds the data directory")
            return SKIPPED
        started = self._now()
        run_id = new_run_id(started, job.id)
        crawled = self._crawl(job, run_id, started)
        figures = {name: source_figures(crawled.stats or {}, name) for name in job.sources}
        facts = RunFacts(run_id, crawled.failure, crawled.child.stopped)
        health = {
            name: assess_source(
                figures[name],
                crawled.outcomes[name],
                facts,
                self._state(name).checks,
                self.options.rules,
            )
            for name in job.sources
        }
        outcome = run_outcome(crawled.failure, crawled.child.stopped, health)
        record = run_record(run_id, job, crawled, figures, health, outcome)
        append_run(self.data_dir, record)
        self.write_skips()
        # A run cut short by our own shutdown counts only for the sources it showed healthy.
        judged = {name: item for name, item in health.items() if item.checks is not None}
        if judged:
            self._advance(judged, run_id, record["end"])
        self.metrics.observe_run(record, self.states)
        prune_logs(self.data_dir, self.options.keep_logs)
        _log_run(record)
        return outcome

    def skipped(self, job: Job, scheduled: datetime, reason: str) -> None:
        """Count a run that did not start: *reason* says why.

        The skips of a job in a row, for one reason, are one line with their count (a 1-second
        schedule behind a long crawl skips hundreds of times), written by ``write_skips``."""
        now = self._now()
        with self.skips_lock:
            streak = self.skips.get(job.id)
            if streak is not None and streak["reason"] == reason:
                streak["count"] += 1
                streak["end"] = _iso(now)
            else:
                self._write_skips(job.id)
                streak = skip_record(job, scheduled.astimezone(self.options.timezone), now, reason)
                self.skips[job.id] = streak
                logger.warning("Run %s skipped: %s", streak["run_id"], reason)
        self.metrics.observe_skip(job.id)

    def write_skips(self) -> None:
        """Write each job's run of skips as its line: after each crawl, and on closing."""
        with self.skips_lock:
            for job_id in list(self.skips):
                self._write_skips(job_id)

    def close(self, timeout: float) -> None:
        """Record what is pending; give the webhook at most *timeout* seconds more."""
        self.write_skips()
        if self.courier is not None:
            self.courier.close(timeout)

    def _write_skips(self, job_id: str) -> None:
        streak = self.skips.pop(job_id, None)
        if streak is None:
            return
        append_run(self.data_dir, streak)
        if streak["count"] > 1:
            logger.warning(
                "Run %s and %d more skipped: %s",
                streak["run_id"],
                streak["count"] - 1,
                streak["reason"],
            )

    def _crawl_lock_holder(self) -> str | None:
        """None when no crawl holds the data directory, or once it lets go within the grace
        (a crawl still finishing, say of a scheduler killed a moment ago); else its pid."""
        path = self.data_dir / CRAWL_LOCK_FILE
        holder = lock_holder(path)
        if holder is None:
            return None
        grace = self.options.crawl.grace
        logger.info("Crawl pid %s holds %s: waiting up to %.0fs for it to end", holder, path, grace)
        give_up = time.monotonic() + grace
        while holder is not None and time.monotonic() < give_up:
            if self.stop.wait(POLL_SECONDS):
                break
            holder = lock_holder(path)
        return holder

    def _crawl(self, job: Job, run_id: str, started: datetime) -> Crawled:
        make_dirs(self.data_dir)
        log, stats = log_path(self.data_dir, run_id), stats_path(self.data_dir, run_id)
        timeout = self.options.timeout or default_timeout(job.interval)
        logger.info("Run %s: crawling %d sources, log in %s", run_id, len(job.sources), log)
        data: dict[str, Any] | None
        try:
            if self.dispatcher is not None:
                child, data, error = self.dispatcher.crawl(
                    job.sources, run_id, timeout, log, stats, self.stop
                )
            else:
                command = crawl_command(self.options.crawl, job.sources, log, stats)
                child = run_child(command, log, timeout, self.options.crawl.grace, self.stop)
                data, error = read_stats(stats), child_error(child, log, timeout)
        except DataDirError as exc:  # its log is a link: no crawl, the run fails saying why
            logger.error("Run %s: %s", run_id, exc)
            child, data, error = NOT_STARTED, None, str(exc)
        outcomes = source_outcomes(data or {}, job.sources)
        failure = crawl_failure(child.exit_code, data, outcomes, error, child.stopped)
        by_source = {outcome.name: outcome for outcome in outcomes}
        return Crawled(started, self._now(), child, data, failure, by_source)

    def _advance(self, health: Mapping[str, SourceHealth], run_id: str, when: str) -> None:
        """Each judged source's state moved on, in health.json as it is now (an ``ack`` may
        have changed it since the last run), and the notices that calls for sent."""
        notices = []

        def change(states: dict[str, SourceState]) -> dict[str, SourceState]:
            states = self._known(states)
            for name, item in health.items():
                previous = states.get(name) or SourceState()
                states[name], notice = advance(
                    name, previous, item, when, self.options.rules.alert_after
                )
                if notice is not None:
                    notices.append(notice)
                for problem in item.expired:
                    logger.info("Source %s: kept verdict expired: %s", name, problem)
            return states

        self.states = update_health(self.data_dir, change, when)
        notify(notices, run_id, when, self.courier)

    def _known(self, states: Mapping[str, SourceState]) -> dict[str, SourceState]:
        """Sources gone from the sources file are forgotten, or status would report them
        forever."""
        return {name: state for name, state in states.items() if name in self.known_sources}

    def _state(self, name: str) -> SourceState:
        return self.states.get(name) or SourceState()

    def _now(self) -> datetime:
        return datetime.now(self.options.timezone)


def run_record(
    run_id: str,
    job: Job,
    crawled: Crawled,
    figures: Mapping[str, Figures],
    health: Mapping[str, SourceHealth],
    outcome: str,
) -> dict[str, Any]:
    """The run's line in runs.jsonl."""
    stats = crawled.stats or {}
    return {
        "run_id": run_id,
        "job": job.id,
        "sources": list(job.sources),
        "start": _iso(crawled.started),
        "end": _iso(crawled.ended),
        "duration": round((crawled.ended - crawled.started).total_seconds(), 3),
        "interval": job.interval,
        "exit_code": crawled.child.exit_code,
        "outcome": outcome,
        "failure": crawled.failure or None,
        "stopped": crawled.child.stopped,
        "finish_reason": stats.get(crawl_stats.FINISH_REASON),
        "new": crawl_stats.read(stats, crawl_stats.feed_outcome(crawl_stats.NEW)),
        "updated": crawl_stats.read(stats, crawl_stats.feed_outcome(crawl_stats.UPDATED)),
        "pages": int(stats.get(crawl_stats.RESPONSES, 0)),
        "errors": error_counts(stats),
        # Sources whose column was found again by its label: its list URL had moved.
        "relocated": {
            name: moved
            for name in job.sources
            if (moved := crawl_stats.read(stats, crawl_stats.RELOCATED, name))
        },
        "per_source": {name: source_record(figures[name], health[name]) for name in job.sources},
    }


def source_record(figures: Figures, health: SourceHealth) -> dict[str, Any]:
    return {
        "health": health.status,
        "problems": list(health.problems),
        # Of the worst problem: network, http, robots, layout or other; and its reason.
        "failure_class": health.failure_class,
        "reason": health.reason,
        "fetched": health.fetched,
        "list_pages": figures.list_pages,
        "not_modified": figures.not_modified,
        "article_links": figures.article_links,
        "articles": figures.articles,
        "new": figures.new,
        "updated": figures.updated,
        "missing": dict(figures.missing),
    }


def skip_record(job: Job, scheduled: datetime, now: datetime, reason: str) -> dict[str, Any]:
    return {
        "run_id": new_run_id(scheduled, job.id),
        "job": job.id,
        "sources": list(job.sources),
        "start": _iso(scheduled),
        "end": _iso(now),
        "duration": 0.0,
        "interval": job.interval,
        "exit_code": None,
        "outcome": SKIPPED,
        "reason": reason,
        "count": 1,  # the runs skipped in a row for this reason; "end": when the last was
    }


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def _log_run(record: Mapping[str, Any]) -> None:
    level = logging.INFO if record["outcome"] == "ok" else logging.WARNING
    logger.log(
        level,
        "Run %s %s in %.1fs: %d new, %d updated, %d pages, %d errors (%s)",
        record["run_id"],
        record["outcome"],
        record["duration"],
        record["new"],
        record["updated"],
        record["pages"],
        error_total(record["errors"]),
        record["failure"] or "no failure",
    )
