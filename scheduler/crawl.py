"""One ``scrapy crawl neu_news`` in a child process, supervised: timeout, stop, kill.

Always a child process: Twisted's reactor cannot be started twice in one process. No shell:
the argv is built as a list, so no source name or setting is ever interpreted by one.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from crawler.commandline import CONFIG_ERROR_EXIT, ConfigError
from crawler.store.files import open_no_link

logger = logging.getLogger(__name__)

SETTINGS_MODULE = "crawler.settings"
# Set by the scheduler for every run; a -s of its own would contradict it.
MANAGED_SETTINGS = {
    "NEU_DATA_DIR": "--data-dir",
    "NEU_SOURCES_FILE": "--sources",
    "NEU_STATS_FILE": "nothing (the scheduler sets it)",
    "NEU_STATE_URL": "--broker (a worker's crawl keeps its state in the broker)",
    "LOG_FILE": "nothing (each run logs to <data-dir>/logs/<run-id>.log)",
}
POLL_SECONDS = 0.2
# The crawl's NEU_STATE_URL comes from its environment (crawler.settings).
STATE_URL_ENV = "NEU_STATE_URL"


@dataclass(frozen=True)
class CrawlOptions:
    """What every crawl of this scheduler is started with."""

    data_dir: Path
    sources_file: Path | None
    settings: tuple[str, ...]  # KEY=VALUE, passed through as -s
    grace: float  # seconds between SIGTERM and SIGKILL


@dataclass(frozen=True)
class ChildExit:
    exit_code: int  # negative: killed by that signal
    timed_out: bool
    stopped: bool  # the scheduler was asked to stop and ended the crawl early


def check_setting(text: str) -> str:
    """A ``-s KEY=VALUE`` for the crawl; raises ConfigError for a bad or managed one."""
    key, equals, _ = text.partition("=")
    if not equals or not key.strip():
        raise ConfigError(f"invalid setting {text!r}: expected KEY=VALUE")
    if key.strip() in MANAGED_SETTINGS:
        raise ConfigError(f"setting {key.strip()}: use {MANAGED_SETTINGS[key.strip()]}")
    return text


def crawl_command(
    options: CrawlOptions, sources: Sequence[str], log_file: Path, stats_file: Path
) -> list[str]:
    managed = [
        f"NEU_DATA_DIR={options.data_dir}",
        f"NEU_STATS_FILE={stats_file}",
        f"LOG_FILE={log_file}",
    ]
    if options.sources_file is not None:
        managed.append(f"NEU_SOURCES_FILE={options.sources_file}")
    return scrapy_command((*managed, *options.settings), sources)


def scrapy_command(settings: Sequence[str], sources: Sequence[str]) -> list[str]:
    """``scrapy crawl neu_news`` of *sources* with ``-s`` *settings*, tethered: it dies with
    this process, even one killed -9 (scheduler.tether)."""
    tether = [sys.executable, "-m", "scheduler.tether", str(os.getpid()), "--"]
    command = [*tether, sys.executable, "-m", "scrapy", "crawl", "neu_news"]
    for setting in settings:
        command += ["-s", setting]
    return [*command, "-a", f"sources={','.join(sources)}"]


def crawl_env(state_url: str | None = None) -> dict[str, str]:
    """The environment of a crawl: ours, with the project's settings whatever the cwd, and
    ``NEU_STATE_URL`` (crawler.settings) *state_url* or none: never in the argv, which every
    user sees in ps, as the password it may hold must not be seen."""
    env = {**os.environ, "SCRAPY_SETTINGS_MODULE": SETTINGS_MODULE}
    env.pop(STATE_URL_ENV, None)
    if state_url:
        env[STATE_URL_ENV] = state_url
    return env


def run_child(
    command: list[str],
    log_file: Path,
    timeout: float,
    grace: float,
    stop: threading.Event,
    state_url: str | None = None,
) -> ChildExit:
    """Run *command* to its end, its output appended to *log_file*, with the state at
    *state_url* (``crawl_env``).

    SIGTERM when *stop* is set or after *timeout* seconds (Scrapy then closes the spider and
    writes its stats), SIGKILL *grace* seconds later if it is still running. ``DataDirError``,
    and nothing run, when *log_file* is a symbolic link (its target would be written to).
    """
    log_fd = open_no_link(log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    with os.fdopen(log_fd, "ab") as log:
        # A session of its own: a Ctrl-C in the terminal reaches the scheduler only, which
        # forwards one SIGTERM (a second signal would make Scrapy stop uncleanly). The thread
        # that starts it waits for it: the tether's death signal follows this thread's end.
        process = subprocess.Popen(
            command,
            env=crawl_env(state_url),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    logger.debug("Started crawl pid %d: %s", process.pid, command)
    return _supervise(process, timeout, grace, stop)


def _supervise(
    process: subprocess.Popen[bytes], timeout: float, grace: float, stop: threading.Event
) -> ChildExit:
    deadline = time.monotonic() + timeout
    kill_at: float | None = None
    timed_out = stopped = False
    while True:
        try:
            return ChildExit(process.wait(timeout=POLL_SECONDS), timed_out, stopped)
        except subprocess.TimeoutExpired:
            pass
        now = time.monotonic()
        if kill_at is None and (stop.is_set() or now >= deadline):
            stopped = stop.is_set()
            timed_out = not stopped
            logger.info(
                "Stopping crawl pid %d (%s)", process.pid, "shutdown" if stopped else "timeout"
            )
            process.send_signal(signal.SIGTERM)
            kill_at = now + grace
        elif kill_at is not None and now >= kill_at:
            logger.warning(
                "Crawl pid %d still running %.1fs after SIGTERM: killed", process.pid, grace
            )
            process.kill()
            kill_at = float("inf")


def child_error(child: ChildExit, log_file: Path, timeout: float) -> str:
    """What went wrong with the child as such ("" if nothing did), for the run record."""
    if child.timed_out:
        return f"timed out after {timeout:.0f}s"
    if child.exit_code == CONFIG_ERROR_EXIT:
        return f"configuration error: {_last_line(log_file).removeprefix('error: ')}"
    if child.exit_code < 0:
        return f"killed by signal {-child.exit_code}"
    return ""


def _last_line(path: Path) -> str:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    return lines[-1].strip() if lines else "(empty log)"
