"""A synthetic data directory of a million known articles, generated in seconds.

It starts from a real data directory (the backfill's), so the state DB has the crawler's own
schema and the replica's articles stay known. Synthetic articles are appended to the feed (lines
shaped like real ones: each is a real line of the backfill with a new id, URL and dates) and to
the state (in one transaction, the secondary indexes rebuilt once at the end from their own
``CREATE INDEX``), and the state's feed offset is set to the new feed size so that opening the
store replays nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import shutil
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from crawler.rechecks import anchor_of, epoch
from crawler.store.feed import encode_line

FEED_FILE = "articles.jsonl"
STATE_FILE = "state.sqlite3"
HOST = "neunews.neu.edu.cn"
MODEL_LINES = 64
FIRST_DAY = dt.date(2000, 1, 1)
DAYS = (dt.date(2025, 12, 31) - FIRST_DAY).days
BATCH = 10_000
CHUNK = 1 << 20
# Only while generating: a big page cache, and no fsync (the files are thrown away after).
GENERATION_PRAGMAS = ("PRAGMA cache_size = -262144", "PRAGMA synchronous = OFF")
INSERT_ARTICLE = (
    "INSERT INTO articles (id, url, source, version, first_seen, content_hash, body_hash, "
    "columns, anchor, checked) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
SET_FEED_OFFSET = (
    "INSERT INTO meta (key, value) VALUES ('feed_offset', ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)
PLACEHOLDER_RE = re.compile(r"@(id|url|published|seen)@")


@dataclass(frozen=True)
class Generated:
    articles: int  # rows of the state's articles table
    feed_lines: int
    feed_bytes: int
    seconds: float


@dataclass(frozen=True)
class _Template:
    """A feed line cut around its placeholders: ``pieces[i]``, field ``names[i]``, …"""

    pieces: tuple[bytes, ...]
    names: tuple[str, ...]

    def render(self, fields: dict[str, str]) -> bytes:
        parts = [self.pieces[0]]
        for name, piece in zip(self.names, self.pieces[1:], strict=True):
            parts += (fields[name].encode("ascii"), piece)
        return b"".join(parts)


def extend_data_dir(source: Path, target: Path, total: int) -> Generated:
    """Copy *source* to *target* and add synthetic articles until its state knows *total*."""
    started = time.perf_counter()
    target.mkdir(parents=True)
    known = _copy_state(source / STATE_FILE, target / STATE_FILE)
    feed = target / FEED_FILE
    shutil.copyfile(source / FEED_FILE, feed)
    existing_lines = _count_lines(feed)
    synthetic = range(known, total)
    _append(feed, target / STATE_FILE, _templates(feed), synthetic)
    return Generated(
        articles=total,
        feed_lines=existing_lines + len(synthetic),
        feed_bytes=feed.stat().st_size,
        seconds=time.perf_counter() - started,
    )


def copy_prefix(feed: Path, target_dir: Path, lines: int) -> None:
    """A data directory whose feed is the first *lines* lines of *feed*."""
    target_dir.mkdir(parents=True)
    with feed.open("rb") as src, (target_dir / FEED_FILE).open("wb") as dst:
        while lines:
            chunk = src.read(CHUNK)
            if not chunk:
                return
            newlines = chunk.count(b"\n")
            if newlines >= lines:
                end = _nth_newline(chunk, lines) + 1
                dst.write(chunk[:end])
                return
            dst.write(chunk)
            lines -= newlines


def _count_lines(feed: Path) -> int:
    with feed.open("rb") as src:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: src.read(CHUNK), b""))


def _nth_newline(chunk: bytes, n: int) -> int:
    position = -1
    for _ in range(n):
        position = chunk.index(b"\n", position + 1)
    return position


def _copy_state(source: Path, target: Path) -> int:
    """Copy a state DB with SQLite's backup API; return how many articles it knows."""
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)
        return int(dst.execute("SELECT count(*) FROM articles").fetchone()[0])


def _templates(feed: Path) -> list[_Template]:
    """Templates made of the feed's first lines, varying id, URL and dates."""
    templates = []
    with feed.open("rb") as lines:
        for _, raw in zip(range(MODEL_LINES), lines, strict=False):
            record = json.loads(raw)
            record.update(id="@id@", url="@url@", published="@published@", site=HOST)
            record.update(crawled_at="@seen@", first_seen="@seen@", updated_at=None)
            parts = PLACEHOLDER_RE.split(encode_line(record).decode("utf-8"))
            templates.append(
                _Template(
                    pieces=tuple(part.encode("utf-8") for part in parts[0::2]),
                    names=tuple(parts[1::2]),
                )
            )
    return templates


def _fields(index: int) -> dict[str, str]:
    day = (FIRST_DAY + dt.timedelta(days=index * 7919 % DAYS)).isoformat()
    return {
        "id": hashlib.blake2b(index.to_bytes(8, "big"), digest_size=8).hexdigest(),
        "url": f"https://{HOST}/info/{1000 + index % 64}/{index}.htm",
        "published": day,
        "seen": f"{day}T08:00:00+00:00",
    }


def _row(fields: dict[str, str]) -> tuple[str, str, str, int, str, str, str, str, int, int]:
    digest = hashlib.blake2b(fields["id"].encode("ascii"), digest_size=20).hexdigest()
    # The re-check schedule as a crawl files it (unfilled, the first open would read the
    # whole feed to fill it): from publication, steps done up to first sight.
    seen = epoch(fields["seen"])
    assert seen is not None  # an ISO date-time made above
    schedule = (anchor_of(fields["published"], seen), seen)
    return (
        fields["id"],
        fields["url"],
        "news-ddyw",
        1,
        fields["seen"],
        digest,
        digest[::-1],
        "[]",
        *schedule,
    )


def _append(feed: Path, state: Path, templates: list[_Template], indices: range) -> None:
    """Append a feed line and a state row per index, then commit the new feed size."""
    with feed.open("ab") as out, closing(sqlite3.connect(state)) as db:
        for pragma in GENERATION_PRAGMAS:
            db.execute(pragma)
        with db:
            indexes = _drop_indexes(db)
            for batch in _batches(indices):
                fields = [_fields(index) for index in batch]
                out.write(
                    b"".join(
                        templates[index % len(templates)].render(values)
                        for index, values in zip(batch, fields, strict=True)
                    )
                )
                db.executemany(INSERT_ARTICLE, map(_row, fields))
            for sql in indexes:
                db.execute(sql)
            out.flush()
            db.execute(SET_FEED_OFFSET, (str(out.tell()),))


def _drop_indexes(db: sqlite3.Connection) -> list[str]:
    """Drop the articles table's secondary indexes; return their ``CREATE INDEX``."""
    found = db.execute(
        "SELECT name, sql FROM sqlite_master "
        "WHERE type = 'index' AND tbl_name = 'articles' AND sql IS NOT NULL"
    ).fetchall()
    for name, _sql in found:
        db.execute(f'DROP INDEX "{name}"')
    return [str(sql) for _name, sql in found]


def _batches(indices: range) -> Iterator[range]:
    for start in range(indices.start, indices.stop, BATCH):
        yield range(start, min(start + BATCH, indices.stop))
