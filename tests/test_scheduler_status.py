"""`status` on hand-written data directories: tables and exit codes 0, 1 and 2."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from crawler.cli.main import main as cli_main
from scheduler.__main__ import main
from scheduler.health import DEGRADED, FAILED, OK, Acknowledgement, Check, SourceState
from scheduler.history import save_health

INTERVAL = 1800.0


def ago(delta: timedelta = timedelta()) -> datetime:
    """A moment *delta* before now (now read at each call: the suite may run for minutes)."""
    return datetime.now(UTC) - delta


def run_line(outcome: str, end: datetime, **fields: Any) -> dict[str, Any]:
    start = end - timedelta(seconds=20)
    return {
        "run_id": f"{start:%Y%m%dT%H%M%S}.000Z-news",
        "job": "news",
        "sources": ["a", "b"],
        "start": start.isoformat(),
        "end": end.isoformat(),
        "duration": 20.0,
        "interval": INTERVAL,
        "exit_code": 0,
        "outcome": outcome,
        "failure": None,
        "new": 3,
        "updated": 1,
        "pages": 40,
        "errors": {"exceptions": {}, "http": {"404": 1}, "log_errors": 0, "retries": 0},
        "per_source": {"a": {"health": OK}, "b": {"health": outcome}},
        **fields,
    }


def data_dir(tmp_path: Path, runs: list[dict[str, Any]], health: dict[str, str]) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    (data / "runs.jsonl").write_text("".join(json.dumps(run) + "\n" for run in runs))
    when = datetime.now(UTC).isoformat()
    states = {
        name: SourceState(
            status=status,
            problems=() if status == OK else ("no article links on 1 list page",),
            streak=0 if status == OK else 2,
            alerted=status != OK,
            since=None if status == OK else when,
            last_run=when,
            last_ok=when if status == OK else None,
        )
        for name, status in health.items()
    }
    save_health(data, states, when)
    return data


def status(data: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["status", "--data-dir", str(data)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_healthy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = data_dir(tmp_path, [run_line(OK, ago(timedelta(minutes=5)))], {"a": OK, "b": OK})
    code, out = status(data, capsys)
    assert code == 0
    assert "Status: healthy (2 sources ok)" in out
    header, row = out.splitlines()[1:3]
    assert header.split() == [
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
    ]
    assert row.split()[4:] == ["20.0s", "ok", "3", "1", "40", "1"]
    # Columns line up: each header starts where its cells do.
    assert header.index("OUTCOME") == row.index("ok")


def test_degraded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = [
        run_line(OK, ago(timedelta(minutes=35))),
        run_line(DEGRADED, ago(timedelta(minutes=5))),
    ]
    data = data_dir(tmp_path, runs, {"a": OK, "b": DEGRADED})
    code, out = status(data, capsys)
    assert code == 1
    assert "Status: degraded: 1 source(s) degraded: b" in out
    source_row = next(line for line in out.splitlines() if line.startswith("b "))
    assert source_row.split()[1:3] == ["degraded", "2"]
    assert "no article links on 1 list page" in source_row and "yes" in source_row


def test_failing_source(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = data_dir(tmp_path, [run_line(DEGRADED, ago())], {"a": DEGRADED, "b": FAILED})
    code, out = status(data, capsys)
    assert code == 2
    assert "failing: 1 source(s) failed: b; 1 source(s) degraded: a" in out


def test_stale_after_three_intervals_without_success(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    last_ok = ago(timedelta(seconds=3 * INTERVAL + 60))
    runs = [
        run_line(OK, last_ok),
        run_line(FAILED, ago(timedelta(minutes=30)), failure="timed out after 1800s"),
        run_line("skipped", ago(timedelta(minutes=1)), reason="still running"),
    ]
    data = data_dir(tmp_path, runs, {"a": OK, "b": OK})
    code, out = status(data, capsys)
    assert code == 2
    assert "stale: no successful run since" in out and "3 intervals of 30m" in out
    assert "timed out after 1800s" in out


def test_not_stale_within_three_intervals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = [run_line(OK, ago(timedelta(seconds=3 * INTERVAL - 60)))]
    assert status(data_dir(tmp_path, runs, {"a": OK, "b": OK}), capsys)[0] == 0


def test_never_successful_is_stale_three_intervals_after_the_first_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = [run_line(FAILED, ago(timedelta(seconds=3 * INTERVAL + 60)))]
    code, out = status(data_dir(tmp_path, runs, {}), capsys)
    assert code == 2
    assert "no successful run ever" in out and "none judged yet" in out


@pytest.mark.parametrize("make", ["missing", "empty"])
def test_empty_or_missing_data_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: str
) -> None:
    data = tmp_path / "data"
    if make == "empty":
        data.mkdir()
    code, out = status(data, capsys)
    assert code == 2
    assert (
        out
        == f"status: no runs recorded in {data}: has the scheduler run with --data-dir {data}?\n"
    )


def test_neu_news_status_delegates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = data_dir(tmp_path, [run_line(OK, ago())], {"a": OK, "b": DEGRADED})
    assert cli_main(["status", "--data-dir", str(data), "--runs", "1"]) == 1
    assert "Last 1 runs in" in capsys.readouterr().out


def test_one_sources_status_shows_its_checks_and_the_run_that_set_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    end = ago(timedelta(minutes=35))
    broke = run_line(DEGRADED, end)
    broke["per_source"]["b"] = {
        "health": DEGRADED,
        "problems": ["no date on 6 of 6 articles"],
        "failure_class": "layout",
        "reason": "missing_fields",
        "list_pages": 2,
        "not_modified": 0,
        "article_links": 6,
        "articles": 6,
        "new": 6,
        "updated": 0,
        "missing": {"title": 0, "published": 6, "text": 0},
    }
    later = run_line(DEGRADED, ago(timedelta(minutes=5)))
    data = data_dir(tmp_path, [broke, later], {"a": OK})
    undated = Check(DEGRADED, "no date on 6 of 6 articles", "missing_fields", broke["run_id"], 1)
    state = SourceState(
        status=DEGRADED,
        problems=(undated.shown,),
        streak=2,
        since=end.isoformat(),
        last_run=ago().isoformat(),
        checks={"fetch": Check(OK, run=later["run_id"]), "articles": undated},
        ack=Acknowledgement("alice", ago().isoformat(), "on it"),
    )
    save_health(data, {"a": SourceState(), "b": state}, ago().isoformat())
    assert main(["status", "--data-dir", str(data), "--source", "b"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("Source b: degraded for 2 runs since ")
    assert "  no date on 6 of 6 articles (earlier run)\nAcknowledged by alice at " in out
    assert "on it\n" in out
    [articles] = [line for line in out.splitlines() if line.startswith("articles ")]
    assert articles.split()[1:4] == ["degraded", broke["run_id"], "1"]
    # The worst check names the run that set the verdict, and that run's figures are shown.
    assert (
        f"Verdict set by run {broke['run_id']}: health degraded, 2 list pages read, 0 unchanged "
        "(304), 6 article links, 6 articles parsed (no title 0, no date 6, no body 0); "
        "layout: missing_fields"
    ) in out
    assert out.count(later["run_id"]) == 2  # its fetch check and its row of the runs table
    assert main(["status", "--data-dir", str(data)]) == 1
    [row] = [line for line in capsys.readouterr().out.splitlines() if line.startswith("b ")]
    assert "alice" in row.split()


def test_a_source_of_the_runs_never_judged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = data_dir(tmp_path, [run_line(OK, ago())], {"a": OK})
    assert main(["status", "--data-dir", str(data), "--source", "b"]) == 2
    assert capsys.readouterr().out.startswith("Source b: not judged yet\n\nLast 1 runs of b:")
    assert main(["status", "--data-dir", str(data), "--source", "c"]) == 2
    assert capsys.readouterr().err == f"error: unknown source 'c' in {data}; known: a, b\n"
