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
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from replica import ReplicaServer, build_replica
from scheduler.config import HealthRules
from tests.conftest import FAST_SETTINGS, read_feed
from tests.test_exits import refusing_port, source_table
from tests.test_scheduler_health import Receiver

RULES = HealthRules()

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


def articles_answered(server: ReplicaServer, expected: Mapping[str, object]) -> int:
    """How many requests for the *expected* records' URLs the replica has answered."""
    return sum(server.base_url(entry.site) + entry.path in expected for entry in server.request_log)


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

        # Broken before the first run, so that its articles are parsed once, broken: the next
        # runs re-check none of them (their first re-check is hours away) and keep the verdict.
        replica.break_layout("english", kind)
        first = run(1)
        assert first["outcome"] == "degraded" and receiver.bodies == []
        assert [
            name for name, fig in first["per_source"].items() if fig["health"] != "ok"
        ] == broken
        assert {first["per_source"][name]["failure_class"] for name in broken} == {"layout"}
        run(1)
        assert [body["event"] for body in receiver.bodies] == ["alert"]
        run(1)  # still broken: no second alert
        replica.fix_layout("english")
        if kind == "no_dates":
            # Known articles are not fetched again: new ones, dated, show the fix.
            for column in ("focus", "research"):
                replica.publish("english", column, n=RULES.min_articles)
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
        expected = replica.expected_records(server)
        process = start(tmp_path, command)
        try:
            # Stopped once the replica has answered a few articles, not once the feed shows
            # them: on a busy machine extraction may lag the downloads by the whole crawl.
            wait_until(lambda: articles_answered(server, expected) >= 3, 60, "article fetches")
        finally:
            assert stop(process) == 0
        assert articles_answered(server, expected) < len(expected)  # cut short
        [run] = run_lines(data)
        feed = read_feed(data)
        assert 0 < len(feed) < len(expected)
        # Our own clean stop: not a failure.
        assert (run["outcome"], run["stopped"], run["finish_reason"]) == (
            "stopped",
            True,
            "shutdown",
        )
        assert run["failure"] is None
        assert run["new"] == len(feed)
        # A crawl we cut short counts against no source: those it showed healthy (list pages
        # with article links) are ok, the others not judged at all.
        per_source = run["per_source"]
        assert {entry["health"] for entry in per_source.values()} <= {"stopped", "ok"}
        shown = {name for name, entry in per_source.items() if entry["health"] == "ok"}
        health_file = data / "health.json"
        states = json.loads(health_file.read_text())["sources"] if health_file.exists() else {}
        assert set(states) == shown
        assert {state["status"] for state in states.values()} <= {"ok"}
        assert once(tmp_path, sources, data).returncode == 0
        feed = read_feed(data)
    keys = [(line["id"], line["version"]) for line in feed]
    assert len(keys) == len(set(keys))
    assert {line["url"] for line in feed} == set(expected)


def neu_news(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``neu-news ARGS`` in a child process, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "crawler.cli.main", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_run_history_tells_failures_apart_and_status_says_why(tmp_path: Path) -> None:
    replica = build_replica(seed=15, articles_per_column=6, page_size=5)
    data = tmp_path / "data"
    with refusing_port() as port, ReplicaServer(replica) as server:
        sources = replica.write_sources(
            tmp_path / "sources.toml", server, sites=["news", "english"]
        )
        news = server.base_url("news")
        with sources.open("a", encoding="utf-8") as file:
            file.write(
                source_table("gone", f"{news}/nosuch.htm")
                + source_table("refused", f"http://127.0.0.1:{port}/ddyw.htm")
                # The replica's robots.txt forbids /private/.
                + source_table("forbidden", f"{news}/private/secret.htm")
            )
        replica.break_layout("english", "no_links")
        done = once(tmp_path, sources, data)
    # Some sources failed: the run is degraded, not failed (--once exits 1, not 2).
    assert done.returncode == 1, done.stderr
    [run] = run_lines(data)
    assert (run["exit_code"], run["failure"], run["outcome"]) == (3, None, "degraded")
    per_source = run["per_source"]
    found = {
        name: (entry["health"], entry["failure_class"], entry["reason"], entry["fetched"])
        for name, entry in per_source.items()
    }
    assert found == {
        "news-ddyw": ("ok", None, None, True),
        "news-mtdd": ("ok", None, None, True),
        "news-xsdt": ("ok", None, None, True),
        "english-focus": ("degraded", "layout", "no_article_links", True),
        "english-research": ("degraded", "layout", "no_article_links", True),
        "gone": ("failed", "http", "http_404", False),
        "refused": ("failed", "network", "DownloadConnectionRefusedError", False),
        "forbidden": ("failed", "robots", "robots_txt", False),
    }
    assert per_source["gone"]["problems"] == ["not fetched (http: http_404)"]
    assert per_source["english-focus"]["problems"] == ["no article links on 1 list page"]

    gone = neu_news(tmp_path, "status", "--data-dir", str(data), "--source", "gone")
    assert gone.returncode == 2, gone.stderr
    lines = gone.stdout.splitlines()
    assert lines[:2] == [
        f"Source gone: failed for 1 runs since {shown(run['end'])}, no alert sent",
        "  not fetched (http: http_404)",
    ]
    assert f"Verdict set by run {run['run_id']}: health failed, 0 list pages read" in gone.stdout
    assert "; http: http_404" in gone.stdout
    [row] = [line for line in lines if line.startswith(run["run_id"])][-1:]
    assert row.split()[3:7] == ["degraded", "failed", "http", "http_404"]
    focus = neu_news(tmp_path, "status", "--data-dir", str(data), "--source", "english-focus")
    assert focus.returncode == 1, focus.stderr
    assert "  no article links on 1 list page" in focus.stdout
    typo = neu_news(tmp_path, "status", "--data-dir", str(data), "--source", "gone-typo")
    assert typo.returncode == 2
    assert typo.stdout == ""
    assert typo.stderr.startswith(f"error: unknown source 'gone-typo' in {data}; known: ")
    assert len(typo.stderr.splitlines()) == 1


def test_an_acknowledged_incident_alerts_nobody_and_ends_when_the_source_recovers(
    tmp_path: Path, receiver: Receiver
) -> None:
    replica = build_replica(seed=16, articles_per_column=6, page_size=5)
    data = tmp_path / "data"
    with ReplicaServer(replica) as server:
        sources = replica.write_sources(tmp_path / "sources.toml", server, sites=["english"])

        def run(exit_code: int) -> None:
            done = once(tmp_path, sources, data, "--webhook", receiver.url)
            assert done.returncode == exit_code, done.stderr

        def alerted() -> list[list[str]]:
            return [
                [source["source"] for source in body["sources"]]
                for body in receiver.bodies
                if body["event"] == "alert"
            ]

        replica.break_layout("english", "no_links")
        run(1)
        ack = neu_news(
            tmp_path,
            *("health", "ack", "english-focus", "--data-dir", str(data)),
            *("--note", "theme change, fix under way", "--by", "tester"),
        )
        assert ack.returncode == 0, ack.stderr
        run(1)  # the second unhealthy run: the alert, without the acknowledged source
        assert alerted() == [["english-research"]]
        status = neu_news(tmp_path, "status", "--data-dir", str(data), "--source", "english-focus")
        assert "Acknowledged by tester at " in status.stdout
        assert status.stdout.splitlines()[2].endswith(": theme change, fix under way")
        table = neu_news(tmp_path, "status", "--data-dir", str(data)).stdout
        [row] = [line for line in table.splitlines() if line.startswith("english-focus ")]
        assert "tester" in row.split()
        replica.fix_layout("english")
        run(0)
        # Recovered: the acknowledgement is over, and only what was alerted recovers.
        recoveries = [body for body in receiver.bodies if body["event"] == "recovery"]
        assert [[s["source"] for s in body["sources"]] for body in recoveries] == [
            ["english-research"]
        ]
        health = json.loads((data / "health.json").read_text())["sources"]
        assert health["english-focus"]["ack"] is None
        # A new incident alerts again.
        replica.break_layout("english", "no_links")
        run(1)
        run(1)
    assert alerted() == [["english-research"], ["english-focus", "english-research"]]
    again = neu_news(tmp_path, "health", "ack", "english-focus", "--data-dir", str(data))
    assert again.returncode == 0, again.stderr
    missing = neu_news(tmp_path, "health", "ack", "nosuch", "--data-dir", str(data))
    assert missing.returncode == 2
    assert missing.stderr.startswith("error: unknown source 'nosuch' in ")


def test_a_verdict_kept_through_unchanged_runs_expires(tmp_path: Path, receiver: Receiver) -> None:
    replica = build_replica(seed=17, articles_per_column=6, page_size=5)
    data = tmp_path / "data"
    schedule = tmp_path / "schedule.toml"
    schedule.write_text(
        '[[jobs]]\nid = "news"\nevery = "30m"\n[health]\nalert_after = 1\nexpire_after = 2\n'
    )
    with ReplicaServer(replica) as server:
        sources = replica.write_sources(tmp_path / "sources.toml", server, sites=["english"])
        replica.break_layout("english", "no_dates")

        def run(exit_code: int) -> dict[str, Any]:
            done = once(
                tmp_path, sources, data, "--schedule", str(schedule), "--webhook", receiver.url
            )
            assert done.returncode == exit_code, done.stderr
            return dict(run_lines(data)[-1]["per_source"]["english-focus"])

        first = run(1)
        assert (first["articles"], first["problems"]) == (6, ["no date on 6 of 6 articles"])
        # The article pages are known: not fetched again, so the runs cannot check the dates.
        kept = run(1)
        assert kept["articles"] == 0
        assert kept["problems"] == ["no date on 6 of 6 articles (earlier run)"]
        expired = run(0)
    assert (expired["health"], expired["articles"]) == ("ok", 0)
    assert [body["event"] for body in receiver.bodies] == ["alert", "recovery"]
    assert (data / "health.json").exists()


def shown(moment: str) -> str:
    """A run line's time as status shows it."""
    return datetime.fromisoformat(moment).strftime("%Y-%m-%d %H:%M:%S")
