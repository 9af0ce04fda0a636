"""Source health, incidents, alerts and the scheduler's files, without a crawl."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest

from crawler.outcome import SourceOutcome
from scheduler.alerts import notify
from scheduler.config import HealthRules
from scheduler.health import (
    ALERT,
    ARTICLES,
    DEGRADED,
    FAILED,
    OK,
    RECOVERY,
    STOPPED,
    Check,
    Figures,
    RunFacts,
    SourceHealth,
    SourceState,
    advance,
    article_check,
    assess_source,
    crawl_failure,
    error_counts,
    error_total,
    list_check,
    run_outcome,
    source_figures,
)
from scheduler.history import (
    LOGS_DIR,
    RUNS_FILE,
    append_run,
    iter_runs,
    load_health,
    new_run_id,
    prune_logs,
    repair_runs,
    save_health,
)
from scheduler.metrics import Metrics
from scheduler.outbox import Courier, Outbox
from scheduler.webhook import post_json

RULES = HealthRules()
NO_MISSING = {"title": 0, "published": 0, "text": 0}
FETCHED = SourceOutcome("a", fetched=True, failures={})
RUN = RunFacts("run-2", failure="", stopped=False)


def figures(**counts: Any) -> Figures:
    missing = {**NO_MISSING, **counts.pop("missing", {})}
    base = {"list_pages": 1, "article_links": 5, "articles": 5}
    return Figures(**{**base, **counts}, missing=missing)


class Receiver:
    """A webhook endpoint on 127.0.0.1 (on *port*, or any free one) that keeps the JSON bodies
    posted to it, and the Authorization header of each."""

    def __init__(self, port: int = 0) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.authorizations: list[str | None] = []
        self.paths: list[str] = []
        received, authorizations, paths = self.bodies, self.authorizations, self.paths

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                received.append(json.loads(self.rfile.read(length)))
                paths.append(self.path)
                authorizations.append(self.headers["Authorization"])
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.close()


def test_figures_come_from_the_sources_stats() -> None:
    stats = {
        "neu/source/a/list_pages": 2,
        "neu/source/a/article_links": 12,
        "neu/source/a/articles": 10,
        "neu/source/a/new": 9,
        "neu/source/a/updated": 1,
        "neu/source/a/missing/published": 3,
        "neu/source/a/list/not_modified": 4,
        "neu/source/b/list_pages": 7,
    }
    assert source_figures(stats, "a") == Figures(
        2, 12, 10, 9, 1, {"title": 0, "published": 3, "text": 0}, not_modified=4
    )
    assert source_figures(stats, "c") == Figures(missing=NO_MISSING)


def test_list_pages_without_links_are_degraded_and_none_read_says_nothing() -> None:
    assert list_check(figures()) == Check(OK)
    assert list_check(figures(list_pages=2, article_links=0)) == Check(
        DEGRADED, "no article links on 2 list pages", "no_article_links"
    )
    # Not fetched (the fetch check says so), or unchanged (304): nothing to judge the links by.
    assert list_check(figures(list_pages=0, article_links=0, not_modified=1)) is None


def test_most_articles_lacking_a_field_is_degraded() -> None:
    assert article_check(figures(articles=8, missing={"published": 4}), RULES) == Check(OK)
    assert article_check(figures(articles=8, missing={"published": 5}), RULES) == Check(
        DEGRADED, "no date on 5 of 8 articles", "missing_fields"
    )
    both = article_check(figures(articles=4, missing={"title": 4, "text": 3}), RULES)
    assert both is not None
    assert both.problem == "no title on 4 of 4 articles; no body on 3 of 4 articles"
    assert article_check(figures(articles=2, missing={"title": 2}), RULES) is None
    strict = HealthRules(missing_fraction=0.2, min_articles=5)
    assert article_check(figures(articles=5, missing={"text": 2}), strict) is not None


def test_an_inconclusive_run_keeps_the_last_article_verdict() -> None:
    undated = Check(DEGRADED, "no date on 6 of 6 articles", "missing_fields", "run-1")
    # Articles already known and unchanged answer 304: nothing parsed, nothing learnt.
    health = assess_source(figures(articles=0), FETCHED, RUN, {ARTICLES: undated}, RULES)
    assert health.status == DEGRADED
    assert health.problems == ("no date on 6 of 6 articles (earlier run)",)
    assert health.checks is not None and health.checks[ARTICLES].run == "run-1"
    assert (health.failure_class, health.reason) == ("layout", "missing_fields")
    fixed = assess_source(figures(articles=6), FETCHED, RUN, {ARTICLES: undated}, RULES)
    assert (fixed.status, fixed.problems) == (OK, ())
    assert fixed.checks is not None and fixed.checks[ARTICLES] == Check(OK, run="run-2")


def test_a_failed_crawl_fails_the_sources_it_did_not_show_healthy() -> None:
    cut = RunFacts("run-2", failure="timed out after 300s", stopped=False)
    unseen = SourceOutcome("a", fetched=False, failures={"no_list_page": 1})
    health = assess_source(Figures(), unseen, cut, {}, RULES)
    assert health.status == FAILED
    assert health.problems == ("crawl failed: timed out after 300s",)


def test_crawl_failure_trusts_the_stats_not_the_exit_code() -> None:
    finished = {"finish_reason": "finished", "neu/source/a/list_pages": 1}
    fetched = [FETCHED]
    assert crawl_failure(0, finished, fetched) == ""
    assert crawl_failure(0, None, fetched) == "no stats written (exit code 0)"
    shutdown = {"finish_reason": "shutdown"}
    assert crawl_failure(1, shutdown, fetched) == "finish reason 'shutdown'"
    # Our own SIGTERM, answered in time: the crawl was stopped, it did not fail.
    assert crawl_failure(1, shutdown, fetched, stopped=True) == ""
    assert crawl_failure(1, finished, fetched) == "exit code 1"
    assert crawl_failure(-15, None, fetched, "timed out after 300s") == "timed out after 300s"


def test_an_exit_code_that_says_some_sources_failed_is_not_a_crawl_failure() -> None:
    finished = {"finish_reason": "finished"}
    some = [FETCHED, SourceOutcome("b", fetched=False, failures={"DNSLookupError": 1})]
    assert crawl_failure(3, finished, some) == ""
    assert crawl_failure(0, finished, some) == "exit code 0"
    none = [SourceOutcome("b", fetched=False, failures={"http_404": 1})]
    assert crawl_failure(1, finished, none) == ""


def test_run_outcome() -> None:
    ok = SourceHealth(OK, (), None)
    bad = SourceHealth(DEGRADED, ("x",), None)
    gone = SourceHealth(FAILED, ("y",), None)
    assert run_outcome("", False, {"a": ok, "b": ok}) == OK
    assert run_outcome("", False, {"a": ok, "b": bad}) == DEGRADED
    assert run_outcome("", False, {"a": ok, "b": gone}) == DEGRADED
    assert run_outcome("", False, {"a": gone, "b": gone}) == FAILED
    assert run_outcome("timed out", False, {"a": ok}) == FAILED
    stopped = SourceHealth(STOPPED, (), None)
    assert run_outcome("", True, {"a": stopped, "b": ok}) == STOPPED
    # Stopped, but not in time: killed after the grace.
    assert run_outcome("killed by signal 9", True, {"a": stopped}) == FAILED


def test_errors_by_kind() -> None:
    stats = {
        "downloader/exception_type_count/twisted.internet.error.ConnectionRefusedError": 3,
        "downloader/exception_type_count/twisted.internet.error.TimeoutError": 1,
        "downloader/response_status_count/200": 50,
        "downloader/response_status_count/304": 5,
        "downloader/response_status_count/404": 2,
        "downloader/response_status_count/503": 4,
        "log_count/ERROR": 1,
        "retry/count": 6,
    }
    errors = error_counts(stats)
    assert errors == {
        "exceptions": {"ConnectionRefusedError": 3, "TimeoutError": 1},
        "http": {"404": 2, "503": 4},
        "log_errors": 1,
        "retries": 6,
    }
    assert error_total(errors) == 11


def run_sequence(statuses: list[str], alert_after: int = 2) -> list[tuple[str, int] | None]:
    state = SourceState()
    notices: list[tuple[str, int] | None] = []
    for number, status in enumerate(statuses):
        health = SourceHealth(status, () if status == OK else ("broken",), None)
        state, notice = advance("a", state, health, f"t{number}", alert_after)
        notices.append((notice.kind, notice.runs) if notice else None)
    return notices


def test_one_alert_per_incident_and_one_recovery() -> None:
    assert run_sequence([OK, DEGRADED, DEGRADED, DEGRADED, FAILED, OK, OK]) == [
        None,
        None,
        (ALERT, 2),
        None,
        None,
        (RECOVERY, 4),
        None,
    ]


def test_a_short_blip_is_neither_alerted_nor_recovered() -> None:
    assert run_sequence([DEGRADED, OK, FAILED, OK]) == [None] * 4
    assert run_sequence([FAILED, FAILED, FAILED], alert_after=3) == [None, None, (ALERT, 3)]


def test_incident_state_survives_a_restart(tmp_path: Path) -> None:
    t1, t2 = "2026-09-01T09:00:00.000+08:00", "2026-09-01T09:30:00.000+08:00"
    undated = Check(DEGRADED, "no date", "missing_fields", "run-1", kept=2)
    unhealthy = SourceHealth(DEGRADED, ("x",), {ARTICLES: undated}, fetched=True)
    state, _ = advance("a", SourceState(), unhealthy, t1, 1)
    assert state.last_fetched == t1 and state.checks == {ARTICLES: undated}
    save_health(tmp_path, {"a": state}, t1)
    restored = load_health(tmp_path)
    assert restored == {"a": state}
    assert restored["a"].alerted
    # Alerted already: the next unhealthy run after a restart does not alert again.
    health = SourceHealth(DEGRADED, ("x",), None)
    assert advance("a", restored["a"], health, t2, 1)[1] is None


def test_unreadable_health_file_starts_afresh(tmp_path: Path) -> None:
    (tmp_path / "health.json").write_text("{not json")
    assert load_health(tmp_path) == {}


def test_notices_of_one_run_are_one_message_per_kind(tmp_path: Path, receiver: Receiver) -> None:
    notices = [
        advance("a", SourceState(streak=1), SourceHealth(DEGRADED, ("no links",), None), "t", 2)[1],
        advance("b", SourceState(streak=1), SourceHealth(FAILED, ("gone",), None), "t", 2)[1],
        advance("c", SourceState(streak=3, alerted=True), SourceHealth(OK, (), None), "t", 2)[1],
    ]
    courier = Courier(Outbox(tmp_path), receiver.url)
    notify([notice for notice in notices if notice], "run-1", "t", courier)
    courier.start()
    courier.close(timeout=30)
    assert [body["event"] for body in receiver.bodies] == [ALERT, RECOVERY]
    assert [body["id"] for body in receiver.bodies] == ["run-1-alert", "run-1-recovery"]
    alert, recovery = receiver.bodies
    assert [source["source"] for source in alert["sources"]] == ["a", "b"]
    assert alert["sources"][0] == {
        "kind": "alert",
        "source": "a",
        "status": "degraded",
        "problems": ["no links"],
        "runs": 2,
        "since": "t",
    }
    assert "a degraded (no links)" in alert["text"] and alert["run_id"] == "run-1"
    assert recovery["sources"][0]["source"] == "c" and recovery["sources"][0]["runs"] == 3


def test_a_dead_webhook_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    dead = Receiver()
    dead.close()
    assert post_json(dead.url, {"event": "alert"}, deadline=2) is False
    assert "Webhook" in caplog.text and "failed" in caplog.text


def test_run_lines_are_whole_and_a_torn_one_is_skipped_then_cut(tmp_path: Path) -> None:
    times = {"start": "2026-09-01T09:00:00+08:00", "end": "2026-09-01T09:00:05+08:00"}
    append_run(tmp_path, {"run_id": "1", "outcome": "ok", "duration": 5, **times})
    with (tmp_path / RUNS_FILE).open("ab") as file:
        file.write(b'{"run_id": "2", "outc')
    assert [run["run_id"] for run in iter_runs(tmp_path)] == ["1"]
    repair_runs(tmp_path)
    append_run(tmp_path, {"run_id": "3", "outcome": "ok", "duration": 5, **times})
    assert [run["run_id"] for run in iter_runs(tmp_path)] == ["1", "3"]


def test_run_ids_sort_by_start_time() -> None:
    moment = datetime(2026, 9, 1, 1, 2, 3, 456789, tzinfo=UTC)
    assert new_run_id(moment, "news") == "20260901T010203.456Z-news"


def test_only_the_newest_runs_keep_their_files(tmp_path: Path) -> None:
    logs = tmp_path / LOGS_DIR
    logs.mkdir()
    runs = [f"20260901T0000{second:02d}.000Z-news" for second in range(5)]
    for run_id in runs:
        (logs / f"{run_id}.log").write_text("log")
        (logs / f"{run_id}.stats.json").write_text("{}")
    (logs / f"{runs[0]}.stats.json.part").write_text("{")
    assert prune_logs(tmp_path, keep=2) == 3
    assert sorted(path.name for path in logs.iterdir()) == sorted(
        f"{run_id}{suffix}" for run_id in runs[3:] for suffix in (".log", ".stats.json")
    )


def test_metrics_count_runs_articles_and_health() -> None:
    metrics = Metrics()
    state = SourceState(last_run="2026-09-01T09:00:00+08:00", last_ok="2026-09-01T09:00:00+08:00")
    record = {
        "job": "news",
        "outcome": "ok",
        "duration": 12.5,
        "per_source": {"a": {"new": 3, "updated": 1}},
    }
    metrics.observe_run(record, {"a": state})
    metrics.observe_skip("news")
    text = generate_latest(metrics.registry).decode()
    assert 'neu_news_runs_total{job="news",outcome="ok"} 1.0' in text
    assert 'neu_news_runs_total{job="news",outcome="skipped"} 1.0' in text
    assert 'neu_news_articles_total{kind="new",source="a"} 3.0' in text
    assert 'neu_news_articles_total{kind="updated",source="a"} 1.0' in text
    assert 'neu_news_crawl_duration_seconds_count{job="news"} 1.0' in text
    assert 'neu_news_source_health{source="a"} 0.0' in text
    last_ok = datetime(2026, 9, 1, 1, 0, tzinfo=UTC).timestamp()
    last_success = metrics.registry.get_sample_value(
        "neu_news_source_last_success_timestamp_seconds", {"source": "a"}
    )
    assert last_success == last_ok
