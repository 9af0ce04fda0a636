"""`neu-news serve` over HTTP: the real app on waitress, over data directories made by real crawls
and a real scheduler run of the replica; feeds read back with feedparser, metrics with the
Prometheus parser."""

from __future__ import annotations

import json
import math
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from email.message import Message
from pathlib import Path
from typing import Any

import feedparser  # type: ignore[import-untyped]
import pytest
from prometheus_client.parser import text_string_to_metric_families

from crawler.branding import DEFAULT_BRANDING
from crawler.store.feed import FEED_FILE, FeedWriter
from replica import Replica, ReplicaServer, build_replica
from scheduler.status import STALE_INTERVALS
from scheduler.web.app import CLOCK_SLACK
from scheduler.web.server import WebServer, serve_in_background
from tests.conftest import PROJECT_ROOT, read_feed, run_crawl
from tests.test_exits import source_table
from tests.test_export_order import entry_seconds, publication_seconds
from tests.test_scheduler_e2e import crawls, once, scheduler_command, start, stop, wait_until

Record = dict[str, Any]


@dataclass
class Answer:
    status: int
    headers: Message
    body: bytes

    def lines(self) -> list[Record]:
        return [json.loads(line) for line in self.body.decode("utf-8").splitlines()]


def fetch(url: str, **headers: str) -> Answer:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return Answer(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        with error:
            return Answer(error.code, error.headers, error.read())


def parse_feed(answer: Answer) -> Any:
    assert answer.status == 200, answer.body
    parsed = feedparser.parse(answer.body)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return parsed


@dataclass
class Site:
    """A data directory made by a real crawl, served by the real server."""

    url: str  # ends in /
    data: Path
    sources: Path

    def feed(self) -> list[Record]:
        return read_feed(self.data)


@dataclass
class Scheduled(Site):
    names: list[str]  # every source of the sources file


def schedule_once(root: Path) -> tuple[Path, Path, list[str]]:
    """One `python -m scheduler --once` over the replica whose English pages show no date (its
    sources degraded, their stories undated) and whose college list pages link nothing: the
    data directory, the sources file and every source's name."""
    data = root / "data"
    replica = build_replica(seed=11, articles_per_column=12, page_size=5)
    replica.break_layout("english", "no_dates")
    replica.break_layout("college", "no_links")
    names = [f"{site.name}-{col.slug}" for site in replica.sites.values() for col in site.columns]
    with ReplicaServer(replica) as server:
        sources = replica.write_sources(root / "sources.toml", server)
        done = once(root, sources, data)
    assert done.returncode == 1, done.stderr  # degraded
    return data, sources, names


@pytest.fixture(scope="module")
def scheduled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scheduled]:
    data, sources, names = schedule_once(tmp_path_factory.mktemp("scheduled"))
    web = serve_in_background(data, "127.0.0.1", 0, sources_file=sources)
    try:
        yield Scheduled(web.url, data, sources, names)
    finally:
        web.stop()


@pytest.fixture
def crawled(
    tmp_path: Path, replica: Replica, server: ReplicaServer, sources_file: Path
) -> Iterator[Site]:
    """A plain `scrapy crawl neu_news` data directory (no scheduler history), served."""
    data = tmp_path / "data"
    crawl = run_crawl(sources_file, data, tmp_path / "run1")
    assert crawl.returncode == 0, crawl.stderr
    web = serve_in_background(data, "127.0.0.1", 0)
    try:
        yield Site(web.url, data, sources_file)
    finally:
        web.stop()


def today_starts() -> float:
    return datetime.combine(datetime.now(UTC).date(), datetime.min.time(), UTC).timestamp()


def wait_out_the_second() -> None:
    """Until every change so far (the feed's, a server's start) is old enough to be a date the
    server hands out as Last-Modified."""
    time.sleep(math.floor(time.time()) + 1 + CLOCK_SLACK - time.time())


def append_version(feed: Path, record: Record, title: str) -> None:
    """One more version of *record* at the end of *feed*, as a re-crawl that found it changed
    appends it."""
    writer = FeedWriter(feed)
    try:
        writer.append({**record, "version": record["version"] + 1, "title": title})
    finally:
        writer.close()


# -- Atom and RSS -------------------------------------------------------------------------------


def test_feeds_are_newest_first_by_publication_and_link_themselves(scheduled: Scheduled) -> None:
    feed = scheduled.feed()
    published_at = {
        line["url"]: publication_seconds(line["published"]) for line in feed if line["published"]
    }
    first_seen = {line["url"]: line["first_seen"] for line in feed if not line["published"]}
    # Fewer than 50 dated stories (the English ones are undated): all of them, then undated ones.
    assert len(published_at) < 50 < len(feed) and first_seen

    atom = parse_feed(fetch(scheduled.url + "feed.atom"))

    assert {link.rel: link.href for link in atom.feed.links}["self"] == scheduled.url + "feed.atom"
    entries = atom.entries
    assert len(entries) == 50
    dated, undated = entries[: len(published_at)], entries[len(published_at) :]
    times = [entry_seconds(entry.published_parsed) for entry in dated]
    assert times == [published_at[entry.id] for entry in dated]
    assert times == sorted(published_at.values(), reverse=True), "not newest first"
    assert max(times) < today_starts(), "an old article is dated today"
    for entry in undated:
        assert "published" not in entry, "an undated story has a publication date"
        assert entry.updated == datetime.fromisoformat(first_seen[entry.id]).isoformat()

    rss = parse_feed(fetch(scheduled.url + "feed.rss"))
    assert {link.rel: link.href for link in rss.feed.links}["self"] == scheduled.url + "feed.rss"
    assert [item.id for item in rss.entries] == [entry.id for entry in entries]


def test_a_sources_feed_holds_that_source_only_and_undated_stories_last(
    scheduled: Scheduled,
) -> None:
    feed = scheduled.feed()
    whole = parse_feed(fetch(scheduled.url + "feed.atom")).feed
    by_source = {
        name: [line for line in feed if line["source"] == name] for name in scheduled.names
    }
    for name in ("news-ddyw", "english-focus"):
        url = f"{scheduled.url}sources/{name}.atom"

        atom = parse_feed(fetch(url))

        assert {entry.id for entry in atom.entries} == {line["url"] for line in by_source[name]}
        assert {link.rel: link.href for link in atom.feed.links}["self"] == url
        assert name in atom.feed.title and atom.feed.id != whole.id
    # English pages show no date: no entry has one, and none is dated the day it was seen.
    english = parse_feed(fetch(scheduled.url + "sources/english-focus.atom")).entries
    first_seen = {line["url"]: line["first_seen"] for line in by_source["english-focus"]}
    for entry in english:
        assert "published" not in entry
        assert entry.updated == datetime.fromisoformat(first_seen[entry.id]).isoformat()

    # A source of the sources file without articles (its list pages link nothing) has an empty
    # feed; a name nobody knows is a 404 naming the known ones.
    assert by_source["college-xwdt"] == []
    assert parse_feed(fetch(scheduled.url + "sources/college-xwdt.rss")).entries == []
    unknown = fetch(scheduled.url + "sources/nope.atom")
    assert unknown.status == 404
    assert unknown.body.decode().startswith("error: unknown source 'nope'; this feed's: ")
    assert all(name in unknown.body.decode() for name in scheduled.names)


def test_readers_polling_an_unchanged_feed_get_304_and_a_changed_one_the_new_entry(
    tmp_path: Path, replica: Replica, server: ReplicaServer, crawled: Site
) -> None:
    wait_out_the_second()
    tags = {}
    for path in ("feed.atom", "articles.jsonl?source=news-ddyw"):
        first = fetch(crawled.url + path)
        assert first.status == 200 and first.body
        tag, modified = first.headers["ETag"], first.headers["Last-Modified"]
        assert tag and modified
        assert fetch(crawled.url + path).headers["ETag"] == tag
        for header in ({"If-None-Match": tag}, {"If-Modified-Since": modified}):
            again = fetch(crawled.url + path, **header)
            assert (again.status, again.body) == (304, b""), header
            assert again.headers["ETag"] == tag
        assert fetch(crawled.url + path, **{"If-None-Match": '"other"'}).status == 200
        tags[path] = tag

    [story] = replica.publish("news", "ddyw")
    crawl = run_crawl(crawled.sources, crawled.data, tmp_path / "run2")
    assert crawl.returncode == 0, crawl.stderr
    story_url = server.base_url("news") + story.path

    atom = fetch(crawled.url + "feed.atom", **{"If-None-Match": tags["feed.atom"]})
    assert atom.status == 200 and atom.headers["ETag"] != tags["feed.atom"]
    [entry] = [entry for entry in parse_feed(atom).entries if entry.id == story_url]
    assert entry.published.startswith(story.date.isoformat())
    path = "articles.jsonl?source=news-ddyw"
    lines = fetch(crawled.url + path, **{"If-None-Match": tags[path]})
    assert lines.status == 200 and lines.lines()[-1]["url"] == story_url


def test_an_append_in_the_second_of_a_fetch_is_not_hidden_behind_its_date(crawled: Site) -> None:
    url = crawled.url + "articles.jsonl"
    feed = crawled.data / FEED_FILE
    last = crawled.feed()[-1]
    for _ in range(3):
        # Early in a fresh second (file times lag the clock a little: not at its very start).
        time.sleep(math.ceil(time.time()) + 0.1 - time.time())
        second = math.floor(time.time())
        append_version(feed, last, "fetched")
        fetched_at = feed.stat().st_mtime
        first = fetch(url)
        append_version(feed, last, "appended after the fetch")
        same_second = fetch(url, **{"If-Modified-Since": first.headers["Last-Modified"]})
        moments = (fetched_at, feed.stat().st_mtime, time.time())
        if {math.floor(moment) for moment in moments} == {second}:
            break
    else:
        pytest.fail("a fetch between two appends did not fit in one second in three tries")
    assert first.status == 200 and first.lines()[-1]["title"] == "fetched"
    assert same_second.status == 200, "a reader's date hides a later append"
    assert same_second.lines()[-1]["title"] == "appended after the fetch"

    wait_out_the_second()
    later = fetch(url, **{"If-Modified-Since": first.headers["Last-Modified"]})
    assert later.status == 200 and later.lines()[-1]["title"] == "appended after the fetch"
    # A date handed out once its second is over does earn a 304 while nothing changes.
    again = fetch(url, **{"If-Modified-Since": later.headers["Last-Modified"]})
    assert (again.status, again.body) == (304, b"")


def test_a_restarted_server_never_answers_an_old_date_with_304(crawled: Site) -> None:
    wait_out_the_second()
    before = fetch(crawled.url + "feed.atom")
    modified = before.headers["Last-Modified"]
    assert fetch(crawled.url + "feed.atom", **{"If-Modified-Since": modified}).status == 304
    rebranded = replace(DEFAULT_BRANDING, title="Another University News")
    web = serve_in_background(crawled.data, "127.0.0.1", 0, branding=rebranded)
    try:
        after = fetch(web.url + "feed.atom", **{"If-Modified-Since": modified})
    finally:
        web.stop()
    assert after.status == 200, "a reader's date from before the restart passed"
    assert parse_feed(after).feed.title == "Another University News"


# -- /articles.jsonl ----------------------------------------------------------------------------


def test_articles_jsonl_streams_the_feed_as_neu_news_feed_filters_it(scheduled: Scheduled) -> None:
    feed = scheduled.feed()

    whole = fetch(scheduled.url + "articles.jsonl")

    assert whole.status == 200
    assert whole.headers["Content-Type"].startswith("application/x-ndjson")
    # Sent as it is read, not built whole first: no length known in advance.
    assert whole.headers["Transfer-Encoding"] == "chunked"
    assert whole.headers["Content-Length"] is None
    assert whole.lines() == feed
    since = date(2024, 1, 1)
    dated = fetch(scheduled.url + "articles.jsonl?since=2024-01-01").lines()
    assert dated == [
        line
        for line in feed
        if line["published"] and date.fromisoformat(line["published"][:10]) >= since
    ]
    assert 0 < len(dated) < len(feed)
    both = fetch(scheduled.url + "articles.jsonl?since=2024-01-01&source=news-mtdd").lines()
    assert both == [line for line in dated if line["source"] == "news-mtdd"] and both


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("since=2024-13-01", 400, "error: since: invalid date '2024-13-01': expected YYYY-MM-DD"),
        ("since=yesterday", 400, "error: since: invalid date 'yesterday'"),
        ("sorce=news-ddyw", 400, "error: unknown parameter 'sorce': use since, source"),
        ("source=news-ddyv", 404, "error: unknown source 'news-ddyv'; this feed's: "),
    ],
)
def test_articles_jsonl_refuses_a_bad_filter_in_one_line(
    scheduled: Scheduled, query: str, status: int, message: str
) -> None:
    answer = fetch(f"{scheduled.url}articles.jsonl?{query}")

    assert answer.status == status
    text = answer.body.decode()
    assert text.startswith(message) and text.count("\n") == 1 and text.endswith("\n")


# -- /health and /metrics -----------------------------------------------------------------------


def test_health_is_200_for_degraded_sources_and_names_them(scheduled: Scheduled) -> None:
    health = json.loads((scheduled.data / "health.json").read_text())["sources"]
    [last_run] = map(json.loads, (scheduled.data / "runs.jsonl").read_text().splitlines())

    answer = fetch(scheduled.url + "health")

    # One column's changed layout is an alert's business: a probe must not restart the service.
    assert answer.status == 200
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.headers["Cache-Control"] == "no-store"
    document = json.loads(answer.body)
    assert document["status"] == "degraded"
    assert set(document["sources"]) == set(scheduled.names) == set(health)
    for name, state in document["sources"].items():
        expected = "ok" if name.startswith("news-") else "degraded"
        assert state["status"] == health[name]["status"] == expected, name
        assert bool(state["problems"]) == (expected == "degraded")
    assert "english-focus" in document["verdict"] and "college-tzgg" in document["verdict"]
    assert document["last_run"] == {
        key: last_run[key] for key in ("run_id", "job", "end", "outcome")
    }


def health_of(data: Path) -> tuple[int, dict[str, Any]]:
    web = serve_in_background(data, "127.0.0.1", 0)
    try:
        answer = fetch(web.url + "health")
    finally:
        web.stop()
    return answer.status, json.loads(answer.body)


def test_health_is_200_when_every_source_is_healthy_and_503_without_history(
    tmp_path: Path, crawled: Site
) -> None:
    # A plain crawl's data directory: nothing has judged its sources.
    bare = fetch(crawled.url + "health")
    assert bare.status == 503
    assert json.loads(bare.body)["status"] == "failing"
    assert "no run history" in json.loads(bare.body)["verdict"]

    replica = build_replica(seed=5, articles_per_column=6, page_size=5)
    data = tmp_path / "healthy"
    with ReplicaServer(replica) as server:
        sources = replica.write_sources(tmp_path / "english.toml", server, sites=["english"])
        done = once(tmp_path, sources, data)
    assert done.returncode == 0, done.stderr
    status, document = health_of(data)
    assert status == 200
    assert document["status"] == "healthy"
    assert {state["status"] for state in document["sources"].values()} == {"ok"}
    assert set(document["sources"]) == {"english-focus", "english-research"}


def test_health_is_503_when_a_source_failed(tmp_path: Path) -> None:
    replica = build_replica(seed=5, articles_per_column=6, page_size=5)
    data = tmp_path / "data"
    with ReplicaServer(replica) as server:
        sources = replica.write_sources(tmp_path / "english.toml", server, sites=["english"])
        with sources.open("a", encoding="utf-8") as file:
            file.write(source_table("gone", server.base_url("english") + "/nosuch.htm"))
        done = once(tmp_path, sources, data)
    assert done.returncode == 1, done.stderr

    status, document = health_of(data)

    assert status == 503
    assert document["status"] == "failing"
    assert document["verdict"] == "failing: 1 source(s) failed: gone"
    assert document["sources"]["gone"]["status"] == "failed"
    assert document["sources"]["english-focus"]["status"] == "ok"


def test_health_is_503_when_no_run_succeeded_for_three_intervals(tmp_path: Path) -> None:
    replica = build_replica(seed=5, articles_per_column=6, page_size=5)
    data = tmp_path / "data"
    with ReplicaServer(replica) as server:
        sources = replica.write_sources(tmp_path / "english.toml", server, sites=["english"])
        done = once(tmp_path, sources, data, "--every", "1s")
    assert done.returncode == 0, done.stderr
    [run] = map(json.loads, (data / "runs.jsonl").read_text().splitlines())
    ended = datetime.fromisoformat(run["end"]).timestamp()
    time.sleep(max(0.0, ended + STALE_INTERVALS * run["interval"] + 0.1 - time.time()))

    status, document = health_of(data)

    assert status == 503
    assert document["status"] == "failing"
    assert document["verdict"].startswith("failing: stale: no successful run since ")
    assert {state["status"] for state in document["sources"].values()} == {"ok"}


def test_metrics_are_prometheus_text_of_the_feed_the_last_run_and_health(
    scheduled: Scheduled,
) -> None:
    feed = scheduled.feed()
    health = json.loads((scheduled.data / "health.json").read_text())["sources"]
    [last_run] = map(json.loads, (scheduled.data / "runs.jsonl").read_text().splitlines())

    answer = fetch(scheduled.url + "metrics")

    assert answer.status == 200 and answer.headers["Content-Type"].startswith("text/plain")
    samples = {
        family.name: {tuple(sorted(s.labels.items())): s.value for s in family.samples}
        for family in text_string_to_metric_families(answer.body.decode())
    }
    articles = Counter(line["source"] for line in feed)
    assert samples["neu_news_feed_articles"] == {
        (("source", name),): float(count) for name, count in articles.items()
    }
    severity = {"ok": 0.0, "degraded": 1.0, "failed": 2.0}
    assert samples["neu_news_source_health"] == {
        (("source", name),): severity[state["status"]] for name, state in health.items()
    }
    ended = datetime.fromisoformat(last_run["end"]).timestamp()
    assert samples["neu_news_last_run_timestamp_seconds"] == {
        (("job", last_run["job"]), ("outcome", last_run["outcome"])): ended
    }
    last_ok = samples["neu_news_source_last_success_timestamp_seconds"]
    assert set(last_ok) == {(("source", name),) for name in scheduled.names if "news-" in name}


# -- inside the scheduler -----------------------------------------------------------------------


def test_the_scheduler_serves_the_same_app_with_its_own_metrics(tmp_path: Path) -> None:
    replica = build_replica(seed=5, articles_per_column=6, page_size=5)
    data = tmp_path / "data"
    with ReplicaServer(replica) as server:
        sources = replica.write_sources(tmp_path / "english.toml", server, sites=["english"])
        process = start(tmp_path, scheduler_command(sources, data, "--http-port", "0"))
        try:
            wait_until(lambda: bool(crawls(data)), 60, "first crawl")
            found = re.search(
                r"on (http://127\.0\.0\.1:\d+/)", (tmp_path / "scheduler.log").read_text()
            )
            assert found, "no web server in the scheduler's log"
            page = fetch(found[1])
            metrics = fetch(found[1] + "metrics").body.decode()
            health = fetch(found[1] + "health")
        finally:
            assert stop(process) == 0
    assert page.status == 200 and b"english-focus" in page.body
    assert health.status == 200 and json.loads(health.body)["status"] == "healthy"
    families = [family.name for family in text_string_to_metric_families(metrics)]
    # The scheduler's live counters, the data directory's figures, no family twice.
    assert {"neu_news_runs", "neu_news_source_health", "neu_news_feed_articles"} <= set(families)
    assert len(families) == len(set(families))
    assert 'neu_news_runs_total{job="news",outcome="ok"} 1.0' in metrics


# -- the command --------------------------------------------------------------------------------


def serve_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "scheduler.web", *args]


def test_serve_listens_on_loopback_and_stops_cleanly_on_sigterm(crawled: Site) -> None:
    with subprocess.Popen(
        serve_command("--data-dir", str(crawled.data), "--port", "0"),
        cwd=PROJECT_ROOT,
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            assert process.stderr is not None
            line = process.stderr.readline()
            found = re.search(r"on http://127\.0\.0\.1:(\d+)/", line)
            assert found, line
            url = f"http://127.0.0.1:{found[1]}/"
            assert len(parse_feed(fetch(url + "feed.atom")).entries) == 50
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--data-dir", "no-such-dir"], "error: --data-dir no-such-dir: no such directory"),
        (["--port", "70000"], "invalid port '70000': expected 0-65535"),
        (["--branding", "missing.toml"], "error: missing.toml: configuration file not found"),
        (["--sources", "missing.toml"], "error: missing.toml: sources file not found"),
        (["--host", "nowhere.invalid"], "error: cannot listen on nowhere.invalid:0: Invalid host"),
    ],
)
def test_serve_refuses_bad_options_in_one_line_and_exit_2(
    tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "data").mkdir()
    done = subprocess.run(
        serve_command("--data-dir", "data", "--port", "0", *args),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith(("error:", "neu-news serve: error:"))


def test_serve_says_when_its_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            serve_command("--data-dir", str(tmp_path), "--port", str(port)),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert done.returncode == 2
    assert done.stderr == f"error: cannot listen on 127.0.0.1:{port}: Address already in use\n"


def test_a_server_in_background_picks_a_free_port_and_stops(tmp_path: Path) -> None:
    first = serve_in_background(tmp_path, "127.0.0.1", 0)
    second: WebServer | None = None
    try:
        second = serve_in_background(tmp_path, "127.0.0.1", 0)
        assert first.port != second.port and first.port > 0
        assert fetch(first.url + "feed.atom").status == 200
    finally:
        first.stop()
        if second is not None:
            second.stop()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(first.url + "health", timeout=5)
