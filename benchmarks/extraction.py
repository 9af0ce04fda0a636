"""Extraction cost and accuracy: ``parse_article`` against plain trafilatura on the same pages.

Cost is timed on the golden pages (tests/golden) and a sample of replica article pages; accuracy
is scored on the replica pages only, against the ground truth the replica computes from its own
model. The golden pages' expected JSON is the parser's own output (``make golden``), so scoring
it would only show that the parser agrees with itself. Each page is extracted once by each side;
that one call is both timed and, for replica pages, scored.
"""

from __future__ import annotations

import logging
import re
import statistics
import time
import tomllib
import urllib.request
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import trafilatura
from trafilatura.settings import Document

from benchmarks import PROJECT_ROOT
from benchmarks.report import Row
from crawler.extract.article import parse_article

logger = logging.getLogger(__name__)

GOLDEN_DIR = PROJECT_ROOT / "tests" / "golden"
MAX_MISMATCHES = 5
# Chinese is scored by character, Latin script by word; punctuation is not a token.
TOKEN_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[0-9A-Za-z\u00c0-\u024f]+")


@dataclass(frozen=True)
class Fields:
    """What accuracy is scored on: title, date, people (sorted) and body text."""

    title: str | None
    date: str | None
    people: tuple[str, ...]
    text: str


NOTHING = Fields(None, None, (), "")


@dataclass(frozen=True)
class Page:
    """An article page to extract (and time)."""

    url: str
    html: str


@dataclass(frozen=True)
class TruthPage(Page):
    """A page with independent ground truth: what a perfect extractor finds on it."""

    expected: Fields


@dataclass(frozen=True)
class Extractor:
    """One side of the comparison: an extraction call and how to read its fields."""

    name: str
    run: Callable[[Page], Fields]
    # Whether its dates are days only (plain trafilatura): then compared on the date part.
    days_only: bool


def _ours(page: Page) -> Fields:
    parsed = parse_article(page.html, page.url)
    if parsed is None:
        return NOTHING
    return Fields(
        title=parsed.title,
        date=parsed.published,
        people=tuple(sorted(parsed.authors + parsed.editors)),
        text=parsed.text or "",
    )


def _plain(page: Page) -> Fields:
    document = trafilatura.bare_extraction(page.html, with_metadata=True)
    if not isinstance(document, Document):
        return NOTHING
    authors = [name.strip() for name in (document.author or "").split(";") if name.strip()]
    return Fields(
        title=document.title,
        date=document.date,
        people=tuple(sorted(authors)),
        text=document.text or "",
    )


OURS = Extractor("ours", _ours, days_only=False)
PLAIN = Extractor("trafilatura", _plain, days_only=True)


# -- pages -----------------------------------------------------------------------------------


def golden_pages() -> list[Page]:
    """The stored golden pages, as timing inputs (their expected JSON is not ground truth)."""
    manifest = tomllib.loads((GOLDEN_DIR / "manifest.toml").read_text(encoding="utf-8"))
    return [
        Page(entry["url"], (GOLDEN_DIR / "pages" / f"{name}.html").read_text(encoding="utf-8"))
        for name, entry in manifest.items()
    ]


def replica_pages(expected: dict[str, dict[str, Any]], count: int) -> list[TruthPage]:
    """*count* article pages spread evenly over the replica's sites and columns, fetched once."""
    urls = list(expected)
    indices = sorted({index * len(urls) // count for index in range(min(count, len(urls)))})
    return [
        TruthPage(urls[i], _fetch(urls[i]), _expected_fields(expected[urls[i]])) for i in indices
    ]


def _fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as response:
        body: bytes = response.read()
    return body.decode("utf-8")


def _expected_fields(record: dict[str, Any]) -> Fields:
    return Fields(
        title=record["title"],
        date=record["published"],
        people=tuple(sorted(record["authors"] + record["editors"])),
        text=record["text"] or "",
    )


# -- measuring -------------------------------------------------------------------------------


@dataclass
class Outcome:
    """One extractor's results on a set of pages: times (ms) and extracted fields."""

    times_ms: list[float]
    fields: list[Fields]


def extract_all(extractor: Extractor, pages: Sequence[Page], warm_up: Sequence[Page]) -> Outcome:
    """Extract every page once, timed, after one untimed pass over *warm_up*.

    The warm-up pays for what is built on first use, once per process: trafilatura's date
    search, for one, compiles every dateparser locale (about 2 s) the first time it runs.
    """
    for page in warm_up:
        extractor.run(page)
    outcome = Outcome([], [])
    for page in pages:
        started = time.perf_counter()
        fields = extractor.run(page)
        outcome.times_ms.append((time.perf_counter() - started) * 1000)
        outcome.fields.append(fields)
    return outcome


def tokens(text: str) -> Counter[str]:
    return Counter(TOKEN_RE.findall(text))


def token_f1(found: str, expected: str) -> float:
    found_tokens, expected_tokens = tokens(found), tokens(expected)
    if not found_tokens and not expected_tokens:
        return 1.0
    common = sum((found_tokens & expected_tokens).values())
    if not common:
        return 0.0
    precision = common / sum(found_tokens.values())
    recall = common / sum(expected_tokens.values())
    return 2 * precision * recall / (precision + recall)


FIELDS = ("title", "date", "people")


def _matches(extractor: Extractor, found: Fields, expected: Fields) -> dict[str, bool]:
    """Which of title, date and people *found* got exactly right."""
    date = expected.date[:10] if extractor.days_only and expected.date else expected.date
    return {
        "title": found.title == expected.title,
        "date": found.date == date,
        "people": found.people == expected.people,
    }


def score(
    extractor: Extractor, pages: Sequence[TruthPage], found: Sequence[Fields]
) -> dict[str, Any]:
    """Exact-match rates (%) of title, date and people, body token F1, and the first misses."""
    hits = dict.fromkeys(FIELDS, 0)
    mismatches: dict[str, list[dict[str, Any]]] = {key: [] for key in FIELDS}
    for page, fields in zip(pages, found, strict=True):
        for key, same in _matches(extractor, fields, page.expected).items():
            hits[key] += same
            if not same and len(mismatches[key]) < MAX_MISMATCHES:
                miss = {"found": getattr(fields, key), "expected": getattr(page.expected, key)}
                mismatches[key].append({"url": page.url, **miss})
    f1 = [
        token_f1(fields.text, page.expected.text) for page, fields in zip(pages, found, strict=True)
    ]
    return {
        **{f"{key}_exact_pct": 100 * hits[key] / len(pages) for key in FIELDS},
        "body_f1_mean": statistics.fmean(f1),
        "body_f1_min": min(f1),
        "mismatches": mismatches,
    }


def p95(values: Sequence[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


# -- the sections ----------------------------------------------------------------------------


def run(expected: dict[str, dict[str, Any]], sample: int) -> tuple[list[Row], dict[str, Any]]:
    """Section 2 (cost) on the golden pages plus *sample* replica pages; section 3 (accuracy)
    on the replica pages, against the replica's ground truth."""
    golden, replica = golden_pages(), replica_pages(expected, sample)
    logger.info("Extraction: %d golden and %d replica pages", len(golden), len(replica))
    every_page = [*golden, *replica]
    outcomes = {side: extract_all(side, every_page, golden) for side in (OURS, PLAIN)}
    rows = _cost_rows(outcomes[OURS].times_ms, outcomes[PLAIN].times_ms)
    scores = {
        side.name: score(side, replica, outcome.fields[len(golden) :])
        for side, outcome in outcomes.items()
    }
    rows += _accuracy_rows("replica", len(replica), scores)
    details: dict[str, Any] = {
        "pages": {"golden": len(golden), "replica": len(replica)},
        "cost_ms": {side.name: _summary(outcome.times_ms) for side, outcome in outcomes.items()},
        "accuracy_replica": scores,
    }
    return rows, details


def _summary(times: Sequence[float]) -> dict[str, float]:
    return {
        "median": statistics.median(times),
        "p95": p95(times),
        "mean": statistics.fmean(times),
        "max": max(times),
    }


def _cost_rows(ours: list[float], plain: list[float]) -> list[Row]:
    pages = len(ours)
    rows = []
    for label, measure in (("median", statistics.median), ("p95", p95)):
        mine, theirs = measure(ours), measure(plain)
        rows.append(
            Row(
                f"2. extraction {label}, {pages} pages",
                mine,
                theirs,
                "ms/page",
                "<= trafilatura",
                mine <= theirs,
                "trafilatura",
            )
        )
    return rows


def _accuracy_rows(set_name: str, pages: int, scores: dict[str, dict[str, Any]]) -> list[Row]:
    ours, plain = scores[OURS.name], scores[PLAIN.name]
    rows = [
        Row(
            f"3. {set_name} ({pages}): {field} exact",
            ours[f"{field}_exact_pct"],
            plain[f"{field}_exact_pct"],
            "%",
            "100%",
            ours[f"{field}_exact_pct"] == 100,
            "trafilatura",
        )
        for field in FIELDS
    ]
    rows.append(
        Row(
            f"3. {set_name} ({pages}): body token F1 (mean)",
            ours["body_f1_mean"],
            plain["body_f1_mean"],
            "",
            ">= 0.99",
            ours["body_f1_mean"] >= 0.99,
            "trafilatura",
        )
    )
    return rows
