"""Re-checks with a purpose (issue 12, Deliver 1): a known article is fetched again, with its
validators, at steps after its publication (its first sight when undated), each step once; an
old archive is never re-checked; a run sends at most its budget; ``-a recheck=all`` and
``neu-news recheck`` ask for every known article once.

The schedule's policy (``crawler.rechecks``) is tested on its own; the rest runs the real
spider, as ``scrapy crawl neu_news`` subprocesses, against the replica's HTTP servers, whose
request log says what the sites saw.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from crawler import stats
from crawler.items import CHINA_TZ
from crawler.rechecks import DAY_SECONDS, Schedule, anchor_of, epoch
from replica import FaultConfig, Replica, ReplicaServer
from tests.conftest import FAST_SETTINGS, PROJECT_ROOT, CrawlResult, read_feed, run_crawl

HOUR = 3600
DEFAULT = Schedule((HOUR, DAY_SECONDS, 7 * DAY_SECONDS), 200)


@dataclass(frozen=True)
class Known:
    name: str
    anchor: int
    checked: int


# -- the schedule: which steps are due -------------------------------------------------------------


def test_a_step_is_due_once_it_has_come_and_until_it_is_done() -> None:
    seen = 1_000_000  # an undated article, first seen then: anchored there
    assert not DEFAULT.is_due(seen, seen, seen + HOUR - 1)
    assert DEFAULT.is_due(seen, seen, seen + HOUR)
    # Answered 10 minutes past its first step: the next one, a day after the anchor.
    checked = seen + HOUR + 600
    assert not DEFAULT.is_due(seen, checked, seen + DAY_SECONDS - 1)
    assert DEFAULT.is_due(seen, checked, seen + DAY_SECONDS)


def test_several_steps_due_at_once_are_one_recheck_that_does_them_all() -> None:
    seen = 1_000_000
    eight_days = seen + 8 * DAY_SECONDS  # no run for a week: all three steps came
    assert DEFAULT.is_due(seen, seen, eight_days)
    assert not DEFAULT.is_due(seen, eight_days, eight_days + 365 * DAY_SECONDS)


def test_steps_already_past_at_first_sight_count_as_done() -> None:
    published = 1_000_000
    # First seen two days after its publication: only the 7-day step is left.
    seen = published + 2 * DAY_SECONDS
    assert not DEFAULT.is_due(published, seen, seen + HOUR)
    assert DEFAULT.is_due(published, seen, published + 7 * DAY_SECONDS)
    # An archive article, first seen past its last step: never re-checked.
    archive_seen = published + 30 * DAY_SECONDS
    assert not DEFAULT.is_due(published, archive_seen, archive_seen + 3650 * DAY_SECONDS)
    assert DEFAULT.last_step == 7 * DAY_SECONDS


def test_no_steps_is_no_recheck() -> None:
    off = Schedule((), 200)
    assert not off.is_due(0, 0, 10**10)
    assert off.last_step == 0
    assert off.pick([Known("a", 0, 0)], 10**10) == ([], [])


def test_the_budget_takes_the_most_recently_published_first_and_leaves_the_rest_due() -> None:
    now = 10 * DAY_SECONDS
    older = Known("older", now - 3 * HOUR, now - 3 * HOUR)
    newest = Known("newest", now - 2 * HOUR, now - 2 * HOUR)
    middle = Known("middle", now - int(2.5 * HOUR), now - int(2.5 * HOUR))
    not_due = Known("not due", now - 60, now - 60)
    done = Known("done", now - 3 * HOUR, now - 60)
    chosen, left = Schedule((HOUR,), 2).pick([older, not_due, newest, done, middle], now)
    assert [each.name for each in chosen] == ["newest", "middle"]
    assert [each.name for each in left] == ["older"]
    assert Schedule((HOUR,), 0).pick([older], now) == ([], [older])


# -- the anchor: the publication as far as the page tells it --------------------------------------


def beijing(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    return int(datetime(year, month, day, hour, minute, tzinfo=CHINA_TZ).timestamp())


@pytest.mark.parametrize(
    ("published", "seen", "anchor"),
    [
        # A day, seen on it: out by its first sight, so that is the closest moment known.
        ("2026-11-30", beijing(2026, 11, 30, 15, 20), beijing(2026, 11, 30, 15, 20)),
        # A day, seen later: the day's end (an old archive's steps are past at first sight).
        ("2024-03-01", beijing(2026, 11, 30, 15, 20), beijing(2024, 3, 2)),
        # A day still to come (an event dated ahead): its start.
        ("2026-12-24", beijing(2026, 11, 30, 15, 20), beijing(2026, 12, 24)),
        # A moment: itself, with its offset, or Beijing time without one.
        ("2026-11-30T09:30:00+08:00", beijing(2026, 12, 1), beijing(2026, 11, 30, 9, 30)),
        ("2026-11-30T01:30:00+00:00", beijing(2026, 12, 1), beijing(2026, 11, 30, 9, 30)),
        ("2026-11-30T09:30:00", beijing(2026, 12, 1), beijing(2026, 11, 30, 9, 30)),
        # Undated, or not a date at all: the first sight.
        (None, beijing(2026, 11, 30, 15, 20), beijing(2026, 11, 30, 15, 20)),
        ("2026-13-45", beijing(2026, 11, 30, 15, 20), beijing(2026, 11, 30, 15, 20)),
        ("yesterday", beijing(2026, 11, 30, 15, 20), beijing(2026, 11, 30, 15, 20)),
        (20261130, beijing(2026, 11, 30, 15, 20), beijing(2026, 11, 30, 15, 20)),
    ],
)
def test_the_anchor_is_the_publication_as_precisely_as_known(
    published: object, seen: int, anchor: int
) -> None:
    assert anchor_of(published, seen) == anchor


def test_feed_moments_are_read_as_unix_seconds() -> None:
    assert epoch("2026-11-28T00:00:00+00:00") == int(datetime(2026, 11, 28, tzinfo=UTC).timestamp())
    assert epoch("not a moment") is None
    assert epoch(None) is None


# -- the real crawl: an edit inside the schedule, the budget, a failed re-check --------------------


def article_requests(server: ReplicaServer, replica: Replica) -> list[tuple[str, int, bool]]:
    """(path, status, sent with validators) of each article page the sites answered."""
    articles = {article.path for article in replica.articles()}
    return [
        (entry.path, entry.status, "If-None-Match" in entry.headers)
        for entry in server.request_log
        if entry.path in articles
    ]


def undated_paths(replica: Replica, server: ReplicaServer) -> set[str]:
    """The articles whose pages show no date: re-checked from their first sight."""
    return {
        urlsplit(url).path
        for url, record in replica.expected_records(server).items()
        if record["published"] is None
    }


def wait_past(seconds: float) -> None:
    """Let a step of *seconds* come due (the steps are anchored at the first sight)."""
    time.sleep(seconds)


def test_an_article_edited_inside_its_schedule_gets_a_new_version(
    tmp_path: Path, replica: Replica, server: ReplicaServer, sources_file: Path
) -> None:
    data = tmp_path / "data"
    # Published today: its first re-check step counts from its first sight.
    today = datetime.now(CHINA_TZ).date()
    [fresh] = replica.publish("news", "ddyw", n=1, day=today)
    backfill = run_crawl(
        sources_file, data, tmp_path / "backfill", "-a", "mode=backfill", NEU_RECHECK_AFTER="2s,1d"
    )
    assert backfill.returncode == 0, backfill.stderr
    replica.edit(fresh, title=fresh.title + "（更新）")
    wait_past(2)

    server.clear_log()
    second = run_crawl(sources_file, data, tmp_path / "run2", NEU_RECHECK_AFTER="2s,1d")
    assert second.returncode == 0, second.stderr
    rechecked = article_requests(server, replica)
    # Every re-check carries the validators; the edited page alone is sent again in full.
    assert {path for path, _status, _sent in rechecked} == {fresh.path} | undated_paths(
        replica, server
    )
    assert all(sent for _path, _status, sent in rechecked)
    assert [path for path, status, _sent in rechecked if status == 200] == [fresh.path]
    assert second.stat(stats.total(stats.RECHECK_REQUESTS)) == len(rechecked)
    versions = [line for line in read_feed(data) if line["url"].endswith(fresh.path)]
    assert [line["version"] for line in versions] == [1, 2]
    assert versions[1]["title"] == fresh.title

    # That step is done: the next run re-checks nothing (the next step is a day away).
    server.clear_log()
    third = run_crawl(sources_file, data, tmp_path / "run3", NEU_RECHECK_AFTER="2s,1d")
    assert third.returncode == 0, third.stderr
    assert article_requests(server, replica) == []
    assert third.stat(stats.total(stats.RECHECK_REQUESTS)) == 0


def test_an_old_archive_is_never_rechecked_with_the_default_schedule(
    tmp_path: Path, replica: Replica, server: ReplicaServer, sources_file: Path
) -> None:
    data = tmp_path / "data"
    newest = max(article.date for article in replica.articles())
    assert newest < datetime.now(CHINA_TZ).date() - timedelta(days=8), "the archive is old"
    assert (
        run_crawl(sources_file, data, tmp_path / "backfill", "-a", "mode=backfill").returncode == 0
    )
    with sqlite3.connect(data / "state.sqlite3") as db:
        undone = db.execute(
            "SELECT count(*) FROM articles WHERE checked < anchor + ?", (7 * DAY_SECONDS,)
        ).fetchone()[0]
    # Dated articles are past every step; only the undated ones (anchored at their first
    # sight, this run) have steps ahead.
    assert undone == len(undated_paths(replica, server)) > 0


def test_the_budget_leaves_the_rest_due_for_the_next_run(
    tmp_path: Path, replica: Replica, server: ReplicaServer, sources_file: Path
) -> None:
    data = tmp_path / "data"
    assert (
        run_crawl(
            sources_file,
            data,
            tmp_path / "backfill",
            NEU_RECHECK_AFTER="1s",
            NEU_RECHECK_BUDGET="2",
        ).returncode
        == 0
    )
    due = len(undated_paths(replica, server))
    assert due > 2
    wait_past(1)
    sent: list[int] = []
    for run in range(-(-due // 2)):
        server.clear_log()
        result = run_crawl(
            sources_file,
            data,
            tmp_path / f"run{run}",
            NEU_RECHECK_AFTER="1s",
            NEU_RECHECK_BUDGET="2",
        )
        assert result.returncode == 0, result.stderr
        sent.append(len(article_requests(server, replica)))
        assert result.stat(stats.total(stats.RECHECK_DEFERRED)) == due - sum(sent)
    assert sent == [2] * (due // 2) + [due % 2] * (due % 2)
    server.clear_log()
    assert (
        run_crawl(
            sources_file, data, tmp_path / "after", NEU_RECHECK_AFTER="1s", NEU_RECHECK_BUDGET="2"
        ).returncode
        == 0
    )
    assert article_requests(server, replica) == []


@pytest.mark.parametrize(("fault", "gone"), [("503", False), ("404", True)])
def test_a_failed_recheck_stays_due_unless_it_failed_for_good(
    tmp_path: Path,
    replica: Replica,
    server: ReplicaServer,
    sources_file: Path,
    fault: str,
    gone: bool,
) -> None:
    data = tmp_path / "data"
    assert (
        run_crawl(sources_file, data, tmp_path / "backfill", NEU_RECHECK_AFTER="1s").returncode == 0
    )
    failing = sorted(undated_paths(replica, server))[0]
    wait_past(1)
    server.faults = FaultConfig(paths={failing: fault})
    failed = run_crawl(sources_file, data, tmp_path / "failed", NEU_RECHECK_AFTER="1s")
    assert failed.stat(stats.total(stats.failed(f"http_{fault}"))) == 1
    assert failed.stat(stats.total(stats.RECHECK_GONE)) == gone
    server.clear_log()
    again = run_crawl(sources_file, data, tmp_path / "again", NEU_RECHECK_AFTER="1s")
    assert again.returncode == 0, again.stderr
    # The fault still stands: a transient one is asked again (and retried); one for good had
    # its only step done, and would fail every run.
    asked = {path for path, _status, _sent in article_requests(server, replica)}
    assert asked == (set() if gone else {failing})


def test_a_data_directory_from_before_schedules_keeps_working(
    tmp_path: Path, replica: Replica, server: ReplicaServer, sources_file: Path
) -> None:
    data = tmp_path / "data"
    assert run_crawl(sources_file, data, tmp_path / "backfill").returncode == 0
    with sqlite3.connect(data / "state.sqlite3") as db:  # as an older version left it
        db.execute("DROP INDEX articles_unscheduled")
        db.execute("ALTER TABLE articles DROP COLUMN anchor")
        db.execute("ALTER TABLE articles DROP COLUMN checked")
    server.clear_log()
    result = run_crawl(sources_file, data, tmp_path / "upgraded")
    assert result.returncode == 0, result.stderr
    known = len(read_feed(data))
    assert f"Gave {known} known articles their re-check schedule from the feed" in result.log
    assert "does not hold what the state knew" not in result.log
    assert article_requests(server, replica) == []


# -- every known article, when asked -----------------------------------------------------------------


def recheck_cli(data: Path, sources: Path, *args: str) -> subprocess.CompletedProcess[str]:
    settings = [f"{name}={value}" for name, value in FAST_SETTINGS.items()]
    command = [sys.executable, "-m", "crawler.cli.main", "recheck", "--data-dir", str(data)]
    for setting in [*settings, f"NEU_SOURCES_FILE={sources}", f"LOG_FILE={data.parent / 'log'}"]:
        command += ["-s", setting]
    return subprocess.run(
        [*command, *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_neu_news_recheck_catches_an_edit_of_any_article(
    tmp_path: Path, replica: Replica, server: ReplicaServer, sources_file: Path
) -> None:
    data = tmp_path / "data"
    assert run_crawl(sources_file, data, tmp_path / "backfill").returncode == 0
    feed = read_feed(data)
    old = replica.articles("english", "research")[-1]  # the oldest of its column
    replica.edit(old, paragraphs=["This article was corrected long after it was published."])

    server.clear_log()
    completed = recheck_cli(data, sources_file)
    assert completed.returncode == 0, completed.stderr
    answers = Counter((status, sent) for _path, status, sent in article_requests(server, replica))
    assert answers == {(304, True): len(feed) - 1, (200, True): 1}
    [edit] = [line for line in read_feed(data)[len(feed) :]]
    assert edit["url"].endswith(old.path)
    assert (edit["version"], edit["text"]) == (2, old.paragraphs[0])

    # Only the sources asked for; a source the sources file lacks is one error line, exit 2.
    server.clear_log()
    one = recheck_cli(data, sources_file, "--source", "english-research")
    assert one.returncode == 0, one.stderr
    research = {article.path for article in replica.articles("english", "research")}
    assert {path for path, _status, _sent in article_requests(server, replica)} == research
    typo = recheck_cli(data, sources_file, "--source", "english-reserch")
    assert typo.returncode == 2
    assert typo.stderr.startswith("error: unknown source 'english-reserch'")
    assert typo.stderr.count("\n") == 1, typo.stderr


def test_recheck_all_is_refused_spelled_otherwise(tmp_path: Path, sources_file: Path) -> None:
    result: CrawlResult = run_crawl(
        sources_file, tmp_path / "data", tmp_path / "out", "-a", "recheck=yes"
    )
    assert result.returncode == 2
    assert result.stderr == "error: unknown recheck 'yes': use -a recheck=all\n"
