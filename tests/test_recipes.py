"""The README's consumer recipes, run as the README gives them with the real clients (Debian's
jq, pandas, DuckDB) on a real feed; what each must produce is computed from the feed's lines here.

The recipes are read from README.md's blocks marked ``<!-- recipe: NAME -->``, so the README and
this test cannot drift apart."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

from tests.conftest import PROJECT_ROOT
from tests.feeds import CrawledFeed, crawl_edited_feed
from tests.parts import missing

README = PROJECT_ROOT / "README.md"
RECIPE_BLOCK = re.compile(
    r"^<!-- recipe: (?P<name>[\w-]+) -->\n```\w*\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL
)
# The publication date the recipes' "recent" filters start at.
RECENT = "2020-01-01"

Line = dict[str, Any]


def recipe(name: str) -> str:
    blocks = {match["name"]: match["body"] for match in RECIPE_BLOCK.finditer(README.read_text())}
    if name not in blocks:
        pytest.fail(f"README.md has no block marked <!-- recipe: {name} -->")
    assert RECENT in blocks[name] or name == "duckdb"
    return blocks[name]


@pytest.fixture(scope="module")
def feed(tmp_path_factory: pytest.TempPathFactory) -> CrawledFeed:
    return crawl_edited_feed(tmp_path_factory.mktemp("feed"))


def published_day(line: Line) -> date | None:
    """What the schema promises: ``published``'s first 10 characters are its date."""
    published = line["published"]
    return date.fromisoformat(published[:10]) if published else None


def latest_versions(lines: list[Line]) -> dict[str, Line]:
    latest: dict[str, Line] = {}
    for line in lines:
        if line["id"] not in latest or line["version"] > latest[line["id"]]["version"]:
            latest[line["id"]] = line
    return latest


def test_jq_recipes(feed: CrawledFeed) -> None:
    if shutil.which("jq") is None:
        missing("jq is not installed (make install installs it)")
    commands = [line for line in recipe("jq").splitlines() if line.strip()]
    assert len(commands) == 3
    every_edit, latest, recent = (
        subprocess.run(
            ["bash", "-c", command],
            cwd=feed.path.parent.parent,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for command in commands
    )

    edits = [line for line in feed.lines if line["version"] > 1]
    assert edits
    assert [json.loads(line) for line in every_edit.splitlines()] == edits

    expected_latest = sorted(latest_versions(feed.lines).values(), key=lambda line: line["id"])
    assert len(expected_latest) < len(feed.lines)
    assert [json.loads(line) for line in latest.splitlines()] == expected_latest

    expected_recent = [
        f"{day.isoformat()}\t{line['title']}"
        for line in feed.lines
        if (day := published_day(line)) is not None and day >= date.fromisoformat(RECENT)
    ]
    assert 0 < len(expected_recent) < len(feed.lines)
    assert recent.splitlines() == expected_recent


def test_pandas_recipe(
    feed: CrawledFeed, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(feed.path.parent.parent)
    namespace: dict[str, Any] = {}
    exec(compile(recipe("pandas"), "README.md: the pandas recipe", "exec"), namespace)

    expected = latest_versions(feed.lines)
    latest = namespace["latest"]
    assert sorted(latest["id"]) == sorted(expected)
    assert pd.api.types.is_datetime64_dtype(latest["published_date"])
    assert str(latest["first_seen"].dt.tz) == "UTC"
    for row in latest.itertuples():
        line = expected[row.id]
        assert row.version == line["version"]
        day = published_day(line)
        assert pd.isna(row.published_date) if day is None else row.published_date.date() == day
        assert row.first_seen.to_pydatetime() == datetime.fromisoformat(line["first_seen"])

    recent = {
        line["id"]: line
        for line in expected.values()
        if (day := published_day(line)) is not None and day >= date.fromisoformat(RECENT)
    }
    assert 0 < len(recent) < len(expected)
    assert sorted(namespace["recent"]["id"]) == sorted(recent)
    printed = dict(re.findall(r"^(\S+)\s+(\d+)$", capsys.readouterr().out, re.MULTILINE))
    assert {source: int(n) for source, n in printed.items()} == Counter(
        line["source"] for line in recent.values()
    )


# DuckDB reads published as VARCHAR when dates and times mix, as DATE when all are dates, and as
# TIMESTAMPTZ when all are times: the recipe must give the page's date in each case.
FEED_KINDS: dict[str, tuple[str, Callable[[str | None], bool]]] = {
    "mixed": ("VARCHAR", lambda published: True),
    "dates": ("DATE", lambda published: published is None or len(published) == 10),
    "times": ("TIMESTAMP WITH TIME ZONE", lambda published: published is None or "T" in published),
}


@pytest.mark.parametrize("kind", FEED_KINDS)
def test_duckdb_recipe(feed: CrawledFeed, tmp_path: Path, kind: str) -> None:
    read_as, keep = FEED_KINDS[kind]
    lines = [line for line in feed.lines if keep(line["published"])]
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "articles.jsonl").write_text(
        "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
    )
    connection = duckdb.connect()
    # A consumer's machine far west of Beijing: 09:00+08:00 is the day before there.
    connection.execute("SET TimeZone = 'America/Los_Angeles'")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)
        types = connection.execute(
            "SELECT DISTINCT typeof(published) FROM read_json_auto('data/articles.jsonl')"
        ).fetchall()
        rows = connection.execute(recipe("duckdb")).fetchall()
    assert types == [(read_as,)]

    by_source: dict[str, list[date | None]] = {}
    for line in latest_versions(lines).values():
        by_source.setdefault(line["source"], []).append(published_day(line))
    expected = []
    for source, days in sorted(by_source.items()):
        dated = [day for day in days if day is not None]
        expected.append((source, len(days), min(dated, default=None), max(dated, default=None)))
    assert rows == expected
