"""The health state machine, run by run: what sets a source's verdict, what clears it, how long a
verdict stands on runs that cannot check it again, cut-short runs and acknowledgements. Pure."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from crawler.outcome import SourceOutcome
from scheduler.config import HealthRules
from scheduler.health import (
    ALERT,
    ARTICLES,
    CRAWL,
    DEGRADED,
    FAILED,
    FETCH,
    LISTING,
    OK,
    RECOVERY,
    STOPPED,
    Acknowledgement,
    Figures,
    RunFacts,
    SourceHealth,
    SourceState,
    acknowledge,
    advance,
    assess_source,
)
from scheduler.history import load_health, save_health

RULES = HealthRules(alert_after=2, expire_after=3)
NO_MISSING = {"title": 0, "published": 0, "text": 0}
FETCHED = SourceOutcome("a", fetched=True, failures={})
ACK = Acknowledgement(by="alice", at="2026-09-01T10:00:00.000+08:00", note="theme change")


def healthy(articles: int = 6) -> Figures:
    """A run that read list pages with links and parsed *articles* with every field."""
    return Figures(list_pages=2, article_links=6, articles=articles, missing=NO_MISSING)


def undated() -> Figures:
    return Figures(2, 6, 6, missing={**NO_MISSING, "published": 6})


# Every list page answered 304 and nothing was re-checked: the run cannot see the layout.
UNCHANGED = Figures(not_modified=2)


class SourceRuns:
    """One source through runs, as the runner takes it: its state after each."""

    def __init__(self) -> None:
        self.state = SourceState()
        self.count = 0

    def run(
        self,
        figures: Figures,
        outcome: SourceOutcome = FETCHED,
        failure: str = "",
        stopped: bool = False,
    ) -> tuple[SourceHealth, str | None]:
        """The source's health in one more run, and the kind of notice it called for."""
        self.count += 1
        facts = RunFacts(f"run-{self.count}", failure, stopped)
        health = assess_source(figures, outcome, facts, self.state.checks, RULES)
        if health.checks is None:  # a run that does not count: the runner leaves the state
            return health, None
        when = f"2026-09-01T10:{self.count:02d}:00.000+08:00"
        self.state, notice = advance("a", self.state, health, when, RULES.alert_after)
        return health, notice.kind if notice else None


def statuses(runs: Sequence[tuple[SourceHealth, str | None]]) -> list[str]:
    return [health.status for health, _ in runs]


def test_a_fix_seen_by_runs_cut_short_clears_the_verdict_and_recovers() -> None:
    source = SourceRuns()
    assert [source.run(undated())[1], source.run(undated())[1]] == [None, ALERT]
    # The runs that saw the fixed pages were stopped by a restart, the next ones got 304s:
    # the verdict clears on the first run that showed the source healthy, stopped or not.
    health, notice = source.run(healthy(), stopped=True)
    assert (health.status, notice) == (OK, RECOVERY)
    assert [source.run(UNCHANGED)[0].status for _ in range(5)] == [OK] * 5


def test_a_run_cut_short_by_a_timeout_clears_a_source_it_showed_healthy() -> None:
    source = SourceRuns()
    source.run(undated())
    health, _ = source.run(healthy(), failure="timed out after 300s")
    assert (health.status, health.problems) == (OK, ())


def test_a_stopped_run_counts_nothing_against_a_source() -> None:
    source = SourceRuns()
    source.run(undated())
    before = source.state
    stopped = SourceOutcome("a", fetched=False, failures={"crawl_stopped": 1})
    for figures, outcome in ((Figures(), stopped), (undated(), FETCHED)):
        health, notice = source.run(figures, outcome, stopped=True)
        assert (health.status, health.checks, notice) == (STOPPED, None, None)
    assert source.state == before
    # Nor does it show the source healthy when it saw list pages but the articles still lack
    # their dates: that verdict stands until a run that counts.
    health, _ = source.run(healthy(articles=1), stopped=True)
    assert health.status == STOPPED


def test_a_failed_crawl_fails_a_source_it_did_not_show_healthy_keeping_its_checks() -> None:
    source = SourceRuns()
    source.run(undated())
    health, _ = source.run(UNCHANGED, failure="timed out after 300s")
    assert health.status == FAILED
    assert health.problems[0] == "crawl failed: timed out after 300s"
    assert (health.failure_class, health.reason) == ("other", "crawl_failed")
    assert health.checks is not None and health.checks[ARTICLES].run == "run-1"
    # The next finished run drops the crawl's failure; the article verdict is still kept.
    health, _ = source.run(UNCHANGED)
    assert health.status == DEGRADED and CRAWL not in (health.checks or {})


def test_a_verdict_kept_through_unchanged_runs_expires() -> None:
    source = SourceRuns()
    source.run(undated())
    kept = [source.run(UNCHANGED)[0] for _ in range(RULES.expire_after)]
    assert statuses([(health, None) for health in kept]) == [DEGRADED, DEGRADED, OK]
    assert kept[0].problems == ("no date on 6 of 6 articles (earlier run)",)
    assert [health.expired for health in kept] == [(), (), ("no date on 6 of 6 articles",)]
    assert ARTICLES not in source.state.checks


def test_a_list_page_without_links_stands_through_304s_then_expires() -> None:
    source = SourceRuns()
    source.run(Figures(list_pages=1))
    assert source.state.problems == ("no article links on 1 list page",)
    runs = [source.run(Figures(not_modified=1)) for _ in range(RULES.expire_after)]
    assert statuses(runs) == [DEGRADED, DEGRADED, OK]


def test_a_conclusive_run_restarts_the_count() -> None:
    source = SourceRuns()
    source.run(undated())
    source.run(UNCHANGED)
    source.run(undated())  # checked again: still broken, kept afresh
    runs = [source.run(UNCHANGED) for _ in range(RULES.expire_after - 1)]
    assert statuses(runs) == [DEGRADED, DEGRADED]


def test_an_unchanged_site_is_healthy_not_unfetched() -> None:
    health, _ = SourceRuns().run(UNCHANGED)
    assert (health.status, health.fetched) == (OK, True)


@pytest.mark.parametrize(
    ("failures", "fetched", "status", "klass", "problem"),
    [
        (
            {"DownloadConnectionRefusedError": 1},
            False,
            FAILED,
            "network",
            "not fetched (network: DownloadConnectionRefusedError)",
        ),
        ({"DNSLookupError": 2}, False, FAILED, "network", "not fetched (network: DNSLookupError)"),
        ({"http_404": 1}, False, FAILED, "http", "not fetched (http: http_404)"),
        ({"robots_txt": 1}, False, FAILED, "robots", "not fetched (robots: robots_txt)"),
        ({"no_list_page": 1}, False, FAILED, "layout", "not fetched (layout: no_list_page)"),
        ({"http_404": 1}, True, DEGRADED, "http", "1 column not fetched (http: http_404)"),
    ],
)
def test_a_failure_says_its_class_and_reason(
    failures: Mapping[str, int], fetched: bool, status: str, klass: str, problem: str
) -> None:
    outcome = SourceOutcome("a", fetched=fetched, failures=failures)
    figures = healthy() if fetched else Figures()
    health, _ = SourceRuns().run(figures, outcome)
    assert (health.status, health.failure_class, health.reason) == (
        status,
        klass,
        next(iter(failures)),
    )
    assert health.problems == (problem,)
    assert health.fetched is fetched


def test_a_layout_problem_is_fetched_but_wrong() -> None:
    no_links, _ = SourceRuns().run(Figures(list_pages=3))
    assert (no_links.status, no_links.failure_class, no_links.reason) == (
        DEGRADED,
        "layout",
        "no_article_links",
    )
    assert no_links.fetched
    fields, _ = SourceRuns().run(undated())
    assert (fields.failure_class, fields.reason) == ("layout", "missing_fields")


def test_the_worst_problem_names_the_class() -> None:
    outcome = SourceOutcome("a", fetched=True, failures={"http_404": 1})
    health, _ = SourceRuns().run(undated(), outcome)
    assert health.problems == (
        "1 column not fetched (http: http_404)",
        "no date on 6 of 6 articles",
    )
    # Both degrade the source: the first aspect (the fetch) names it.
    assert (health.failure_class, health.reason) == ("http", "http_404")
    outcome = SourceOutcome("a", fetched=False, failures={"DNSLookupError": 1})
    source = SourceRuns()
    source.run(undated())
    health, _ = source.run(Figures(), outcome)
    assert health.status == FAILED and health.failure_class == "network"


def test_an_acknowledged_incident_sends_no_alert_and_ends_with_it() -> None:
    source = SourceRuns()
    source.run(undated())
    acknowledged = acknowledge(source.state, ACK)
    assert acknowledged is not None
    source.state = acknowledged
    assert [source.run(undated())[1] for _ in range(3)] == [None] * 3
    assert source.state.ack == ACK and source.state.streak == 4
    # Healthy: the incident ends with its acknowledgement, and no recovery for an alert never
    # sent; the next incident alerts again.
    assert source.run(healthy())[1] is None
    assert source.state.ack is None
    assert [source.run(undated())[1] for _ in range(2)] == [None, ALERT]


def test_an_ok_source_has_no_incident_to_acknowledge() -> None:
    assert acknowledge(SourceState(), ACK) is None


def test_last_fetched_is_the_last_run_that_read_a_list_page() -> None:
    source = SourceRuns()
    source.run(healthy())
    refused = SourceOutcome("a", fetched=False, failures={"DownloadConnectionRefusedError": 1})
    source.run(Figures(), refused)
    assert source.state.last_fetched == "2026-09-01T10:01:00.000+08:00"
    source.run(UNCHANGED)
    assert source.state.last_fetched == "2026-09-01T10:03:00.000+08:00"


def test_checks_and_acknowledgement_survive_a_restart(tmp_path: Path) -> None:
    source = SourceRuns()
    source.run(undated())
    source.run(UNCHANGED)
    state = acknowledge(source.state, ACK)
    assert state is not None
    save_health(tmp_path, {"a": state}, "2026-09-01T10:05:00.000+08:00")
    assert load_health(tmp_path) == {"a": state}
    assert set(state.checks) == {FETCH, LISTING, ARTICLES}


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("checks", {"layout": {}}, "is not an object of checks"),
        ("checks", {"articles": {"status": "bad"}}, "is not an object of checks"),
        ("ack", {"by": "alice", "at": "noon", "note": ""}, "is not an acknowledgement"),
        ("ack", "alice", "is not an acknowledgement"),
        ("last_fetched", "yesterday", "is not a time"),
    ],
)
def test_an_unreadable_check_or_acknowledgement_is_left_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, field: str, value: object, problem: str
) -> None:
    entry = {"status": "degraded", "streak": 1, field: value}
    (tmp_path / "health.json").write_text(json.dumps({"sources": {"a": entry}}))
    [state] = load_health(tmp_path).values()
    assert (state.status, state.streak) == (DEGRADED, 1)
    assert f"source 'a': {field} {value!r} {problem}: left out" in caplog.text
