"""The status page as a person sees it: rendered by a real headless Chromium (Debian's
``chromium``, driven by Playwright) with JavaScript off, over data directories made by a real
scheduler run and a real crawl of the replica."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from replica import Replica, ReplicaServer
from scheduler.web.server import serve_in_background
from tests.conftest import read_feed, run_crawl
from tests.parts import missing
from tests.test_export_order import publication_seconds
from tests.test_web import schedule_once

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """A page of a fresh Chromium profile with JavaScript disabled."""
    if not CHROMIUM.exists():
        missing(f"Debian's chromium is not at {CHROMIUM} (make install installs it)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("playwright is not installed in the virtualenv")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            java_script_enabled=False,
        )
        try:
            yield context.new_page()
        finally:
            context.close()


def shown_sources(page: Any) -> dict[str, tuple[str, str, str]]:
    """Each row of the sources table: (health word, why, article count) as displayed."""
    rows = page.locator("#sources tbody tr[data-source]")
    return {
        row.locator("td.source").inner_text(): (
            row.locator("td.health").inner_text(),
            row.locator("td.reason").inner_text(),
            row.locator("td.number").inner_text(),
        )
        for row in rows.all()
    }


def shown_articles(page: Any) -> list[tuple[str, str, str]]:
    """Each newest article as displayed: (link text, link target, date shown)."""
    return [
        (
            item.locator("a").inner_text(),
            item.locator("a").get_attribute("href"),
            item.locator(".published").inner_text(),
        )
        for item in page.locator("#articles li").all()
    ]


def test_the_page_shows_every_source_with_its_health_and_why_and_the_newest_articles(
    tmp_path: Path, browser: Any
) -> None:
    data, sources, names = schedule_once(tmp_path)
    health = json.loads((data / "health.json").read_text())["sources"]
    feed = read_feed(data)
    web = serve_in_background(data, "127.0.0.1", 0, sources_file=sources)
    try:
        browser.goto(web.url)
        shown = shown_sources(browser)
        articles = shown_articles(browser)
        verdict = browser.locator("#verdict").inner_text()
        runs = browser.locator("#runs tbody tr").all_inner_texts()
        scripts = browser.locator("script").count()
    finally:
        web.stop()

    assert scripts == 0
    assert verdict.startswith("Status: degraded")
    assert set(shown) == set(names)
    counts = {name: sum(line["source"] == name for line in feed) for name in names}
    for name, (word, why, count) in shown.items():
        state = health[name]
        assert word == state["status"], name
        assert count == str(counts[name])
        if state["status"] == "ok":
            assert why == "healthy in its last run"
        else:
            assert state["problems"] and why.startswith("; ".join(state["problems"])), name
    assert {shown[name][0] for name in names if name.startswith("english-")} == {"degraded"}
    assert {shown[name][0] for name in names if name.startswith("news-")} == {"ok"}
    assert len(runs) == 1 and "degraded" in runs[0]

    # The 20 newest by publication, each a link to the article under its own title.
    dated = sorted(
        (line for line in feed if line["published"]),
        key=lambda line: publication_seconds(line["published"]),
        reverse=True,
    )
    assert len(articles) == 20
    assert [(title, href) for title, href, _ in articles] == [
        (line["title"], line["url"]) for line in dated[:20]
    ]
    for (_, _, day), line in zip(articles, dated, strict=False):
        # The day, and the time when the page gave one ("2024-07-24 09:10").
        assert day.split()[0] == line["published"][:10]
        assert len(day) == (10 if len(line["published"]) == 10 else 16)


def test_the_page_of_a_plain_crawl_says_it_has_no_run_history_and_shows_undated_stories(
    tmp_path: Path, replica: Replica, server: ReplicaServer, browser: Any
) -> None:
    # Only the English site, whose pages show no date: every story is undated.
    replica.break_layout("english", "no_dates")
    sources = replica.write_sources(tmp_path / "english.toml", server, sites=["english"])
    data = tmp_path / "data"
    crawl = run_crawl(sources, data, tmp_path / "run")
    assert crawl.returncode == 0, crawl.stderr
    feed = read_feed(data)
    web = serve_in_background(data, "127.0.0.1", 0)
    try:
        browser.goto(web.url)
        verdict = browser.locator("#verdict").inner_text()
        shown = shown_sources(browser)
        articles = shown_articles(browser)
        runs = browser.locator("#runs").count()
    finally:
        web.stop()

    assert verdict.startswith(f"No run history in {data}")
    assert runs == 0
    assert shown == {
        name: ("unknown", "no run history", str(sum(line["source"] == name for line in feed)))
        for name in ("english-focus", "english-research")
    }
    # Undated, so by first sight, newest first; never given a date.
    by_url = {line["url"]: line for line in feed}
    assert len(articles) == 20 and {day for _, _, day in articles} == {"undated"}
    assert all(by_url[href]["title"] == title for title, href, _ in articles)
    sights = [by_url[href]["first_seen"] for _, href, _ in articles]
    assert sights == sorted(sights, reverse=True)
