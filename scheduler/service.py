"""The scheduler proper: jobs on APScheduler, one crawl at a time, clean stop on a signal."""

from __future__ import annotations

import functools
import logging
import signal
import threading
import time
import types
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from scheduler.config import Job, Schedule, misfire_grace
from scheduler.health import DEGRADED, FAILED, OK, SKIPPED
from scheduler.runner import Runner
from scheduler.webhook import DELIVERY_DEADLINE

logger = logging.getLogger(__name__)

# --once exits like `status`: 0 ok, 1 degraded, 2 failed (and 2 for a configuration error).
# Skipped (another crawl held the data directory): not the sources' fault, but nothing crawled.
ONCE_EXIT = {OK: 0, DEGRADED: 1, SKIPPED: 1, FAILED: 2}
# The signals that stop the scheduler. SIGHUP too: a closed terminal must not leave it half dead.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
STILL_RUNNING = "the previous run of this job had not ended"
# Another job's crawl ran long, or the machine was asleep.
TOO_LATE = "it could not start within its misfire grace time"


def stop_on_signals(stop: threading.Event) -> None:
    """SIGTERM, SIGINT and SIGHUP set *stop*: no new crawl starts, the running one is wound
    down."""

    def handle(signum: int, frame: types.FrameType | None) -> None:
        stop.set()

    for signum in STOP_SIGNALS:
        signal.signal(signum, handle)


def run_once(schedule: Schedule, runner: Runner) -> int:
    """Run every job once, one after the other; the exit status of the worst outcome."""
    outcomes = [runner.run(job) for job in schedule.jobs]
    # The alerts of these runs get one attempt, unless a signal asked us to be quick.
    runner.close(0.0 if runner.stop.is_set() else DELIVERY_DEADLINE)
    if runner.stop.is_set():
        return 0
    return max(ONCE_EXIT[outcome] for outcome in outcomes if outcome is not None)


def run_forever(schedule: Schedule, runner: Runner) -> int:
    """Crawl on the schedule until *runner.stop* is set; then let the running crawl end."""
    scheduler = build_scheduler(schedule, runner)
    scheduler.start()
    for job in scheduler.get_jobs():
        logger.info("Scheduled %s: next run at %s", job.name, job.next_run_time)
    # A timed wait, so that the signal handlers run promptly whatever the platform.
    while not runner.stop.wait(1.0):
        pass
    # Whatever the webhook does, the scheduler is gone within the grace of the crawl.
    give_up = time.monotonic() + runner.options.crawl.grace
    logger.info("Stopping: no new crawl will start; waiting for the running one to end")
    scheduler.shutdown(wait=True)
    runner.close(max(0.0, give_up - time.monotonic()))
    logger.info("Stopped")
    return 0


def build_scheduler(schedule: Schedule, runner: Runner) -> BackgroundScheduler:
    """A scheduler whose single worker runs one crawl at a time, whatever the job.

    A job due while another job's crawl runs waits for it (up to its misfire grace time); a job
    due while its own previous run is still going is skipped (max_instances=1). Either way a
    skipped run gets its line in runs.jsonl.
    """
    scheduler = BackgroundScheduler(
        timezone=schedule.timezone,
        executors={"default": ThreadPoolExecutor(max_workers=1)},
    )
    for job in schedule.jobs:
        scheduler.add_job(
            runner.run,
            trigger=job.trigger,
            args=[job],
            id=job.id,
            name=f"crawl {job.id} ({job.description}, {len(job.sources)} sources)",
            coalesce=True,
            max_instances=1,
            misfire_grace_time=misfire_grace(job.interval),
            **_first_run(job, schedule),
        )
    jobs = {job.id: job for job in schedule.jobs}
    scheduler.add_listener(
        functools.partial(record_skip, runner, jobs), EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED
    )
    return scheduler


def record_skip(runner: Runner, jobs: Mapping[str, Job], event: JobEvent) -> None:
    """An APScheduler event of a run that did not start, as a skipped run line."""
    if event.code == EVENT_JOB_MAX_INSTANCES:
        scheduled: datetime = event.scheduled_run_times[-1]
        reason = STILL_RUNNING
    else:
        scheduled = event.scheduled_run_time
        reason = TOO_LATE
    runner.skipped(jobs[event.job_id], scheduled, reason)


def _first_run(job: Job, schedule: Schedule) -> dict[str, Any]:
    """Interval jobs crawl as soon as the scheduler starts; cron jobs wait for their time."""
    if isinstance(job.trigger, IntervalTrigger):
        return {"next_run_time": datetime.now(schedule.timezone)}
    return {}
