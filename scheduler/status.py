"""``status``: the last runs and each source's health as text tables, and an exit status.

0 healthy; 1 some source degraded; 2 some source failing, or stale: no successful (ok or
degraded) run for three intervals of the newest run line, or nothing recorded at all.
``status --source S``: that source's health and why, from health.json and its run lines.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from scheduler.health import (
    ASPECTS,
    DEGRADED,
    FAILED,
    OK,
    SEVERITY,
    SKIPPED,
    STOPPED,
    WORDS,
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


class UnknownSource(ValueError):
    """A source the data directory knows nothing of; the message is one line for the user."""


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
    check_history(data_dir)
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


def check_history(data_dir: Path) -> None:
    """Raise NoHistory unless *data_dir* has a run history."""
    if not (data_dir / RUNS_FILE).is_file():
        raise NoHistory(
            f"no runs recorded in {data_dir}: has the scheduler run with --data-dir {data_dir}?"
        )


def source_report(data_dir: Path, name: str, last: int) -> Report:
    """Source *name*'s health and why: its verdict, the checks it stands on and the run that
    set it with that run's figures, its acknowledgement, last fetch and its *last* runs. Exit
    status 0 ok, 1 degraded, 2 failed or not judged yet.

    Raises NoHistory (no run history) or UnknownSource (in neither health.json nor a run)."""
    check_history(data_dir)
    states = load_health(data_dir)
    state = states.get(name)
    runs: deque[tuple[Mapping[str, Any], Mapping[str, Any]]] = deque(maxlen=last)
    lines: dict[str, Mapping[str, Any]] = {}
    wanted = {check.run for check in state.checks.values()} if state else set()
    for run in iter_runs(data_dir):
        entry = (run.get("per_source") or {}).get(name)
        if entry is None:
            continue
        runs.append((run, entry))
        if run.get("run_id") in wanted:
            lines[str(run["run_id"])] = entry
    if state is None and not runs:
        known = sorted(set(states) | _run_sources(data_dir))
        raise UnknownSource(
            f"unknown source {name!r} in {data_dir}; known: {', '.join(known) or 'none'}"
        )
    parts = [
        *(_state_lines(name, state, lines) if state else [f"Source {name}: not judged yet"]),
        f"Last {len(runs)} runs of {name}:\n{source_runs_table(runs)}",
    ]
    code = {OK: HEALTHY, DEGRADED: DEGRADED_EXIT}.get(state.status if state else "", FAILING_EXIT)
    return Report("\n\n".join(parts) + "\n", code)


def _state_lines(
    name: str, state: SourceState, lines: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """The verdict, why, the acknowledgement, the last fetch, the checks and the verdict's run."""
    head = f"Source {name}: {state.status}"
    if state.status != OK:
        head += f" for {state.streak} runs since {_show(parse_time(state.since))}"
        head += ", alert sent" if state.alerted else ", no alert sent"
    facts = [head, *(f"  {problem}" for problem in state.problems)]
    if state.ack is not None:
        note = f": {state.ack.note}" if state.ack.note else ""
        facts.append(f"Acknowledged by {state.ack.by} at {_show(parse_time(state.ack.at))}{note}")
    facts.append(
        f"Last fetched: {_show(parse_time(state.last_fetched))}; "
        f"last ok: {_show(parse_time(state.last_ok))}; "
        f"last judged: {_show(parse_time(state.last_run))}"
    )
    rows = [
        (aspect, check.status, check.run, str(check.kept) if check.kept else "", check.problem)
        for aspect in ASPECTS
        if (check := state.checks.get(aspect)) is not None
    ]
    checks = table(("CHECK", "STATUS", "RUN", "KEPT", "PROBLEM"), rows, right={3})
    parts = ["\n".join(facts), f"Checks (KEPT: later runs that could not check again):\n{checks}"]
    setter = verdict_run(state)
    if setter is not None:
        entry = lines.get(setter)
        figures = _figures(entry) if entry is not None else "its line is not in the run history"
        parts.append(f"Verdict set by run {setter}: {figures}")
    return parts


def verdict_run(state: SourceState) -> str | None:
    """The run whose check set the source's status: the worst check's (the newest of those
    equally bad); for an ok source, the newest run that checked it."""
    checks = [check for check in state.checks.values() if check.run]
    if not checks:
        return None
    worst = max(checks, key=lambda check: (SEVERITY.get(check.status, 2), check.run))
    return worst.run


def source_runs_table(runs: Iterable[tuple[Mapping[str, Any], Mapping[str, Any]]]) -> str:
    headers = (
        *("RUN", "START", "RUN OUTCOME", "HEALTH", "CLASS", "REASON"),
        *("LISTS", "304", "LINKS", "ARTICLES", "NEW", "UPD"),
    )
    rows = [
        (
            str(run.get("run_id", "?")),
            _show(parse_time(run.get("start"))),
            str(run.get("outcome", "?")),
            str(entry.get("health", "?")),
            str(entry.get("failure_class") or ""),
            str(entry.get("reason") or ""),
            *(
                str(entry.get(key, ""))
                for key in ("list_pages", "not_modified", "article_links", "articles")
            ),
            str(entry.get("new", "")),
            str(entry.get("updated", "")),
        )
        for run, entry in runs
    ]
    return table(headers, rows, right=set(range(6, 12)))


def _figures(entry: Mapping[str, Any]) -> str:
    """A run's figures of one source, in words."""
    missing = entry.get("missing") or {}
    lacking = ", ".join(f"no {WORDS.get(key, key)} {count}" for key, count in missing.items())
    text = (
        f"health {entry.get('health')}, {entry.get('list_pages', 0)} list pages read, "
        f"{entry.get('not_modified', 0)} unchanged (304), {entry.get('article_links', 0)} "
        f"article links, {entry.get('articles', 0)} articles parsed ({lacking or 'none lacking'})"
    )
    if entry.get("reason"):
        text += f"; {entry.get('failure_class')}: {entry['reason']}"
    return text


def _run_sources(data_dir: Path) -> set[str]:
    return {name for run in iter_runs(data_dir) for name in run.get("per_source") or {}}


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
    headers = ("SOURCE", "HEALTH", "RUNS", "SINCE", "LAST OK", "ALERTED", "ACK", "PROBLEM")
    rows = [
        (
            name,
            state.status,
            str(state.streak) if state.streak else "",
            _show(parse_time(state.since)),
            _show(parse_time(state.last_ok)),
            "yes" if state.alerted else "",
            state.ack.by if state.ack else "",
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
    if run.get("outcome") == STOPPED:
        return "stopped by the scheduler's shutdown"
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
