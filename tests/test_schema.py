"""The feed's JSON Schema as a consumer uses it: one file, a plain ``jsonschema.validate`` call
with a format checker, no registry; every line of a real feed fits it, and broken lines do not."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from jsonschema import Draft202012Validator

from replica import ReplicaServer
from tests.conftest import SCHEMA_DIR, run_crawl
from tests.feeds import CrawledFeed, crawl_edited_feed

SCHEMA_PATH = SCHEMA_DIR / "feed-line.schema.json"
SCHEMA: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
FORMATS = Draft202012Validator.FORMAT_CHECKER


@pytest.fixture(scope="module")
def feed(tmp_path_factory: pytest.TempPathFactory) -> CrawledFeed:
    return crawl_edited_feed(tmp_path_factory.mktemp("feed"))


def validate(line: dict[str, Any], schema: dict[str, Any] = SCHEMA) -> None:
    jsonschema.validate(line, schema, format_checker=FORMATS)


def test_the_schema_is_one_file() -> None:
    assert [path.name for path in SCHEMA_DIR.iterdir()] == [SCHEMA_PATH.name]
    Draft202012Validator.check_schema(SCHEMA)


def test_every_line_of_a_real_feed_fits_with_a_plain_call(feed: CrawledFeed) -> None:
    for line in feed.lines:
        validate(line)
    # Every branch the schema allows is exercised: dates, times, none; first and later versions.
    published = [line["published"] for line in feed.lines]
    assert None in published
    assert any(isinstance(p, str) and len(p) == 10 for p in published)
    assert any(isinstance(p, str) and "T" in p for p in published)
    assert {line["version"] for line in feed.lines} >= {1, 2}


def test_records_fit_the_record_definition_on_their_own(
    tmp_path: Path, server: ReplicaServer, sources_file: Path
) -> None:
    # Without a data directory the crawl's -O output is bare records, no feed bookkeeping.
    crawl = run_crawl(sources_file, tmp_path / "unused", tmp_path / "run", NEU_DATA_DIR="")
    assert crawl.returncode == 0, crawl.stderr
    assert crawl.items
    for record in crawl.items:
        validate(record, SCHEMA["$defs"]["record"])
    # A record is no feed line: the feed's bookkeeping is required of lines only.
    with pytest.raises(jsonschema.ValidationError, match="'version' is a required property"):
        validate(crawl.items[0])


def dated_line(feed: CrawledFeed) -> dict[str, Any]:
    line = next(line for line in feed.lines if line["version"] == 1 and line["published"])
    return copy.deepcopy(line)


# Each one fits the schema's patterns and types: only the format checker can refuse it.
BAD_FORMATS = [
    ("published", "2024-02-30"),
    ("published", "2024-01-31T24:61:00+08:00"),
    ("crawled_at", "2024-13-01T00:00:00+00:00"),
    ("first_seen", "2024-01-01T00:00:60Z"),
    ("url", "http://news.example.edu.cn/info/1002/a b.htm"),
]


@pytest.mark.parametrize(("key", "value"), BAD_FORMATS)
def test_a_bad_format_is_refused_by_the_format_check(
    feed: CrawledFeed, key: str, value: str
) -> None:
    line = {**dated_line(feed), key: value}
    jsonschema.validate(line, SCHEMA)  # no format checker: formats are only annotations
    with pytest.raises(jsonschema.ValidationError) as refused:
        validate(line)
    assert "format" in failed_keywords(refused.value)


def failed_keywords(error: jsonschema.ValidationError) -> set[str]:
    """The keywords that failed, those under a oneOf's branches included."""
    found = {str(error.validator)}
    for branch in error.context or ():
        found |= failed_keywords(branch)
    return found


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"published": "2024-01-31T10:30:00"}, "is not valid under any of the given schemas"),
        ({"published": "2024/01/31"}, "is not valid under any of the given schemas"),
        ({"published": "2024-01-31 10:30"}, "is not valid under any of the given schemas"),
        ({"first_seen": "2024-01-31T10:30:00+08:00"}, "does not match"),
        ({"version": 2}, "None is not of type 'string'"),
        ({"updated_at": "2024-01-31T10:30:00+00:00"}, "is not of type 'null'"),
        ({"summary": "?"}, "Additional properties are not allowed"),
    ],
)
def test_a_line_breaking_the_schema_is_refused(
    feed: CrawledFeed, change: dict[str, Any], message: str
) -> None:
    with pytest.raises(jsonschema.ValidationError, match=message):
        validate({**dated_line(feed), **change})


@pytest.mark.parametrize("key", ["title", "published", "first_seen", "updated_at", "version"])
def test_a_line_missing_a_key_is_refused(feed: CrawledFeed, key: str) -> None:
    line = dated_line(feed)
    del line[key]
    with pytest.raises(jsonschema.ValidationError, match=f"'{key}' is a required property"):
        validate(line)
