"""The scheduler end to end: real crawls of the replica in child processes, from another cwd."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from replica import ReplicaServer, build_replica
from tests.conftest import FAST_SETTINGS, read_feed
from tests.test_scheduler_health import Receiver

METRIC_NAMES = (
    "neu_news_runs_total",
    "neu_news_articles_total",
    "neu_news_crawl_duration_seconds",
    "neu_news_source_last_success_timestamp_seconds",
    "neu_news_source_health",
)


def scheduler_command(sources: Path, data: Path, *args: str, **settings: str) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "scheduler",
        "--sources",
        str(sources),
        "--data-dir",
        str(data),
        *args,
    ]
    for key, value in {**FAST_SETTINGS, **settings}.items():
        command += ["-s", f"{key}={value}"]
    return command


def once(cwd: Path, sources: Path, data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        scheduler_command(sources, data, "--once", *args),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def start(cwd: Path, command: list[str]) -> subprocess.Popen[bytes]:
    """The scheduler in the background, its log kept in cwd/scheduler.log for a failing test."""
    with (cwd / "scheduler.log").open("ab") as log:
        return subprocess.Popen(command, cwd=cwd, stdin=subprocess.DEVNULL, stderr=log)


def stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=60)


def run_lines(data: Path) -> list[dict[str, Any]]:
    path = data / "runs.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def crawls(data: Path) -> list[dict[str, Any]]:
    return [run for run in run_lines(data) if run["outcome"] != "skipped"]


def feed_size(data: Path) -> int:
    path = data / "articles.jsonl"
    return path.read_bytes().count(b"\n") if path.exists() else 0


def wait_until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"no {what} within {seconds:.0f}s"
        time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.close()


def test_once_records_one_run_with_the_crawls_figures(tmp_path: Path) -> None:
    replica = build_replica(seed=11, articles_per_column=6, page_size=5)
    data = tmp_path / "data"
    with ReplicaServer(replica) as server:
        sources = replica.write_sources(tmp_path / "sources.toml", server)
        # As `neu-news schedule --once` would: crawler.cli.main hands the arguments over.
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "crawler.cli.main",
                "schedule",
                "--once",
                *scheduler_command(sources, data)[3:],
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        expected = replica.expected_records(server)
        answered = len(server.request_log)
    assert done.returncode == 0, done.stderr
    [run] = run_lines(data)
    feed = read_feed(data)
    assert (run["job"], run["outcome"], run["exit_code"]) == ("news", "ok", 0)
    assert (run["finish_reason"], run["failure"], run["stopped"]) == ("finished", None, False)
    assert run["new"] == len(feed) == len(expected)
    assert run["updated"] == 0
    assert run["pages"] == answered
    assert run["errors"] == {"exceptions": {}, "http": {}, "log_errors": 0, "retries": 0}
    assert run["interval"] == 1800
    start, end = datetime.fromisoformat(run["start"]), datetime.fromisoformat(run["end"])
    assert abs((end - start).total_seconds() - run["duration"]) < 0.01
    assert start.utcoffset() == timedelta(hours=8)  # Asia/Shanghai unless configured

    per_source = run["per_source"]
    names = [
        f"{site.name}-{column.slug}" for site in replica.sites.values() for column in site.columns
    ]
    assert run["sources"] == list(per_source) == names
    for site in replica.sites.values():
        for column in site.columns:
            figures = per_source[f"{site.name}-{column.slug}"]
            assert figures["list_pages"] == replica.pages(site.name, column.slug)
            assert figures["article_links"] == len(column.articles)
            assert (figures["health"], figures["problems"]) == ("ok", [])
            assert figures["missing"]["title"] == figures["missing"]["text"] == 0
    by_source = Counter(line["source"] for line in feed)
    assert {name: figures["new"] for name, figures in per_source.items()} == by_source
    assert (data / "logs" / f"{run['run_id']}.log").stat().st_size > 0
    stats = json.loads((data / "logs" / f"{run['run_id']}.stats.json").read_text())
    assert stats["neu/articles/new"] == run["new"]
    health = json.loads((data / "health.json").read_text())["sources"]
    assert {state["status"] for state in health.values()} == {"ok"} and set(health) == set(names)


def test_one_second_schedule_never_overlaps_and_records_skips(tmp_path: Path) -> None:
    replica = build_replica(seed=12, articles_per_column=6, page_size=5)
    data, port, jobs = tmp_path / "data", free_port(), {"fast", "other"}
    # Two jobs, so that crawls must not overlap across jobs either: "fast" every second, and
    # "other", due at the start too, whose run waits for the running crawl of "fast".
    schedule = tmp_path / "schedule.toml"
    schedule.write_text(
        '[[jobs]]\nid = "fast"\nevery = "1s"\n'
        '[[jobs]]\nid = "other"\nevery = "20s"\nsources = ["news-xsdt"]\n'
    )
    with ReplicaServer(replica) as server:
        sources = replica.write_sources(tmp_path / "sources.toml", server, sites=["news"])
        # Each crawl takes a few seconds: most 1-second ticks find the previous one running.
        command = scheduler_command(
            sources,
            data,
            "--schedule",
            str(schedule),
            "--metrics-port",
            str(port),
            DOWNLOAD_DELAY="0.1",
            CONCURRENT_REQUESTS_PER_DOMAIN="1",
        )
        process = start(tmp_path, command)
        try:
            wait_until(
                lambda: len(crawls(data)) >= 3 and {run["job"] for run in crawls(data)} == jobs,
                60,
                "third crawl with both jobs",
            )
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
                metrics = answer.read().decode()
        finally:
            assert stop(process) == 0
    runs = run_lines(data)
    done = sorted(crawls(data), key=lambda run: run["start"])
    skipped = [run for run in runs if run["outcome"] == "skipped"]
    assert {run["job"] for run in done} == jobs
    for before, after in pairwise(done):
        assert datetime.fromisoformat(before["end"]) <= datetime.fromisoformat(after["start"])
    # The data directory's lock would fail an overlapping crawl: none failed.
    assert all(run["outcome"] == "ok" for run in done if not run["stopped"])
    assert {run["job"] for run in skipped} >= {"fast"}
    # Skipped while its own run went on, or (queued behind "other") too late to start.
    reasons = {run["reason"] for run in skipped if run["job"] == "fast"}
    assert "the previous run of this job had not ended" in reasons
    assert reasons <= {
        "the previous run of this job had not ended",
        "it could not start within its misfire grace time",
    }
    assert all(run["exit_code"] is None and run["duration"] == 0 for run in skipped)
    for name in METRIC_NAMES:
        assert f"# TYPE {name} " in metrics
    assert 'neu_news_runs_total{job="fast",outcome="skipped"}' in metrics
    assert 'neu_news_runs_total{job="fast",outcome="ok"}' in metrics


@pytest.mark.parametrize("kind", ["no_links", "no_dates"])
def test_layout_break_alerts_once_and_recovers_once(
    tmp_path: Path, receiver: Receiver, kind: str
) -> None:
    replica = build_replica(seed=13, articles_per_column=6, page_size=5)
    data = tmp_path / "data"
    broken = ["english-focus", "english-research"]
    with ReplicaServer(replica) as server:
        sources = replica.write_sources(
            tmp_path / "sources.toml", server, sites=["news", "english"]
        )

        def run(exit_code: int) -> dict[str, Any]:
            done = once(tmp_path, sources, data, "--webhook", receiver.url)
            assert done.returncode == exit_code, done.stderr
            return run_lines(data)[-1]

        if kind == "no_dates":
            run(0)  # articles first seen now are re-checked by the next runs
        replica.break_layout("english", kind)
        first = run(1)
        assert first["outcome"] == "degraded" and receiver.bodies == []
        assert [
            name for name, fig in first["per_source"].items() if fig["health"] != "ok"
        ] == broken
        run(1)
        assert [body["event"] for body in receiver.bodies] == ["alert"]
        if kind == "no_links":
            run(1)  # still broken: no second alert
        replica.fix_layout("english")
        assert run(0)["outcome"] == "ok"
    alert, recovery = receiver.bodies
    assert [source["source"] for source in alert["sources"]] == broken
    problem = "no article links on 1 list page" if kind == "no_links" else "no date on 6 of 6"
    for source in alert["sources"]:
        assert source["status"] == "degraded" and source["runs"] == 2
        assert any(item.startswith(problem) for item in source["problems"]), source
    assert recovery["event"] == "recovery"
    assert [source["source"] for source in recovery["sources"]] == broken
    health = json.loads((data / "health.json").read_text())["sources"]
    assert not any(state["alerted"] for state in health.values())


def test_sigterm_mid_crawl_exits_0_with_the_feed_intact_and_the_run_recorded(
    tmp_path: Path,
) -> None:
    replica = build_replica(seed=14, articles_per_column=8, page_size=5)
    data = tmp_path / "data"
    with ReplicaServer(replica) as server:
        sources = replica.write_sources(tmp_path / "sources.toml", server)
        command = scheduler_command(
            sources,
            data,
            "--every",
            "1h",
            DOWNLOAD_DELAY="0.1",
            CONCURRENT_REQUESTS_PER_DOMAIN="1",
            NEU_FEED_BATCH_SIZE="2",
        )
        process = start(tmp_path, command)
        try:
            wait_until(lambda: feed_size(data) >= 4, 60, "feed lines")
        finally:
            assert stop(process) == 0
        [run] = run_lines(data)
        feed = read_feed(data)
        expected = replica.expected_records(server)
        assert 0 < len(feed) < len(expected)
        assert (run["outcome"], run["stopped"], run["finish_reason"]) == (
            "failed",
            True,
            "shutdown",
        )
        assert run["new"] == len(feed)
        # A crawl we cut short says nothing about the sites: no source was judged.
        assert not (data / "health.json").exists()
        assert once(tmp_path, sources, data).returncode == 0
        feed = read_feed(data)
    keys = [(line["id"], line["version"]) for line in feed]
    assert len(keys) == len(set(keys))
    assert {line["url"] for line in feed} == set(expected)
