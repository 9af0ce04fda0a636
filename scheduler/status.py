"""``status``: the last runs and each source's health as text tables, and an exit status.

0 healthy; 1 some source degraded; 2 some source failing, or stale: no successful (ok or
degraded) run for three intervals of the newest run line, or nothing recorded at all.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from scheduler.health import (
    DEGRADED,
    FAILED,
    OK,
    SEVERITY,
    SKIPPED,
    SourceState,
    error_total,
    parse_time,
)
from scheduler.history import RUNS_FILE, iter_runs, load_health

STALE_INTERVALS = 3
HEALTHY, DEGRADED_EXIT, FAILING_EXIT = 0, 1, 2
NO_HISTORY_EXIT = FAILING_EXIT


class NoHistory(RuntimeError):
    """Nothing to report on; the message is one line for the user."""


@dataclass(frozen=True)
class Report:
    text: str
    code: int


@dataclass(frozen=True)
class History:
    """What status needs from runs.jsonl, read in one pass."""

    last: list[dict[str, Any]]
    first_start: datetime
    last_success: datetime | None
    interval: float | None  # of the newest run line


def report(data_dir: Path, last: int, now: datetime) -> Report:
    """The status of the scheduler keeping *data_dir*, as of *now* (an aware datetime).

    Raises NoHistory when *data_dir* holds no run to report on (which is failing, exit 2)."""
    if not (data_dir / RUNS_FILE).is_file():
        raise NoHistory(
            f"no runs recorded in {data_dir}: has the scheduler run with --data-dir {data_dir}?"
        )
    history = read_history(data_dir, last)
    if history is None:
        raise NoHistory(f"no readable run in {data_dir / RUNS_FILE}")
    states = load_health(data_dir)
    code, verdict = overall(states, history, now)
    text = "\n\n".join(
        [
            f"Last {len(history.last)} runs in {data_dir}:\n{runs_table(history.last)}",
            f"Sources:\n{sources_table(states)}" if states else "Sources: none judged yet",
            f"Status: {verdict}",
        ]
    )
    return Report(text + "\n", code)


def read_history(data_dir: Path, last: int) -> History | None:
    runs: deque[dict[str, Any]] = deque(maxlen=last)
    first_start: datetime | None = None
    last_success: datetime | None = None
    for run in iter_runs(data_dir):
        runs.append(run)
        first_start = first_start or parse_time(run.get("start"))
        if run.get("outcome") in (OK, DEGRADED):
            last_success = parse_time(run.get("end")) or last_success
    if not runs or first_start is None:
        return None
    interval = runs[-1].get("interval")
    return History(list(runs), first_start, last_success, float(interval) if interval else None)


def overall(states: Mapping[str, SourceState], history: History, now: datetime) -> tuple[int, str]:
    """The exit status and a one-line verdict."""
    verdicts: list[tuple[int, str]] = []
    for status, code in ((FAILED, FAILING_EXIT), (DEGRADED, DEGRADED_EXIT)):
        names = sorted(name for name, state in states.items() if state.status == status)
        if names:
            verdicts.append((code, f"{len(names)} source(s) {status}: {', '.join(names)}"))
    stale = staleness(history, now)
    if stale:
        verdicts.append((FAILING_EXIT, stale))
    if not verdicts:
        return HEALTHY, f"healthy ({len(states)} sources ok)"
    code = max(code for code, _ in verdicts)
    label = "failing" if code == FAILING_EXIT else "degraded"
    return code, f"{label}: " + "; ".join(text for _, text in verdicts)


def staleness(history: History, now: datetime) -> str:
    """Why the data directory is stale, or "" if a run succeeded recently enough."""
    if history.interval is None:
        return ""
    reference = history.last_success or history.first_start
    limit = timedelta(seconds=STALE_INTERVALS * history.interval)
    if now - reference <= limit:
        return ""
    since = f"since {_show(history.last_success)}" if history.last_success else "ever"
    return (
        f"stale: no successful run {since} "
        f"({STALE_INTERVALS} intervals of {_duration(history.interval)} have passed)"
    )


def runs_table(runs: Sequence[Mapping[str, Any]]) -> str:
    headers = (
        "RUN",
        "JOB",
        "START",
        "DURATION",
        "OUTCOME",
        "NEW",
        "UPD",
        "PAGES",
        "ERRORS",
        "NOTE",
    )
    rows = [
        (
            str(run.get("run_id", "?")),
            str(run.get("job", "?")),
            _show(parse_time(run.get("start"))),
            _duration(float(run.get("duration") or 0)),
            str(run.get("outcome", "?")),
            str(run.get("new", "")),
            str(run.get("updated", "")),
            str(run.get("pages", "")),
            str(error_total(run["errors"])) if "errors" in run else "",
            _note(run),
        )
        for run in runs
    ]
    return table(headers, rows, right={3, 5, 6, 7, 8})


def sources_table(states: Mapping[str, SourceState]) -> str:
    headers = ("SOURCE", "HEALTH", "RUNS", "SINCE", "LAST OK", "ALERTED", "PROBLEM")
    rows = [
        (
            name,
            state.status,
            str(state.streak) if state.streak else "",
            _show(parse_time(state.since)),
            _show(parse_time(state.last_ok)),
            "yes" if state.alerted else "",
            "; ".join(state.problems),
        )
        for name, state in sorted(
            states.items(), key=lambda item: (-SEVERITY.get(item[1].status, 2), item[0])
        )
    ]
    return table(headers, rows, right={2})


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], right: set[int]) -> str:
    """Columns padded to their widest cell; those in *right* aligned right."""
    lines = [list(headers), *(list(row) for row in rows)]
    widths = [max(len(line[column]) for line in lines) for column in range(len(headers))]
    return "\n".join(
        "  ".join(
            cell.rjust(width) if column in right else cell.ljust(width)
            for column, (cell, width) in enumerate(zip(line, widths, strict=True))
        ).rstrip()
        for line in lines
    )


def _note(run: Mapping[str, Any]) -> str:
    if run.get("outcome") == SKIPPED:
        count = run.get("count") or 1
        return str(run.get("reason", "")) + (f" ({count:.0f} runs)" if count > 1 else "")
    if run.get("failure"):
        return str(run["failure"])
    unhealthy = [
        f"{name} {figures.get('health')}"
        for name, figures in (run.get("per_source") or {}).items()
        if figures.get("health") != OK
    ]
    return ", ".join(unhealthy)


def _show(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.0f}h"
    return f"{seconds / 86400:.0f}d"
