"""What the crawler knows between runs, in SQLite: articles, their versions and aliases.

Changes are made in one open transaction and committed with the feed offset they match, right
after the feed lines are durable; a crash before the commit loses only state that the feed
replay (``Store._recover``) rebuilds.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import astuple, dataclass
from pathlib import Path

from crawler.store.feed import FeedStamp

# The state's file name inside a data directory.
STATE_FILE = "state.sqlite3"

SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    source TEXT NOT NULL,
    version INTEGER NOT NULL,
    first_seen TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    body_hash TEXT,
    columns TEXT NOT NULL,
    etag TEXT,
    last_modified TEXT
);
CREATE INDEX IF NOT EXISTS articles_body_hash ON articles (body_hash);
CREATE INDEX IF NOT EXISTS articles_first_seen ON articles (first_seen);
CREATE TABLE IF NOT EXISTS aliases (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    article_id TEXT NOT NULL
);
-- Whether the last walk through a column's list pages finished; one that did not (a page or
-- an article failed) is walked in full next time, so nothing behind the failure is skipped.
CREATE TABLE IF NOT EXISTS walks (key TEXT PRIMARY KEY, complete INTEGER NOT NULL);
-- Columns whose configured list page was gone and that were found again by their label: runs
-- start from the new URL for as long as the sources file still names the configured one.
CREATE TABLE IF NOT EXISTS relocated_columns (
    source TEXT NOT NULL,
    label TEXT NOT NULL,
    configured TEXT NOT NULL,
    url TEXT NOT NULL,
    PRIMARY KEY (source, label)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class KnownArticle:
    id: str
    url: str
    source: str
    version: int
    first_seen: str
    content_hash: str
    columns: list[str]
    etag: str | None
    last_modified: str | None


class State:
    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, isolation_level="DEFERRED")
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)
        self.db.commit()

    def close(self) -> None:
        self.db.rollback()
        self.db.close()

    def commit(self, feed_offset: int, feed_stamp: FeedStamp) -> None:
        """Commit everything applied so far, together with the feed size it matches and the
        feed's stamp at that size."""
        self.db.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [("feed_offset", str(feed_offset)), ("feed_stamp", json.dumps(astuple(feed_stamp)))],
        )
        self.db.commit()

    @property
    def feed_offset(self) -> int:
        row = self.db.execute("SELECT value FROM meta WHERE key = 'feed_offset'").fetchone()
        return int(row[0]) if row else 0

    @property
    def feed_stamp(self) -> FeedStamp | None:
        """The feed's stamp at the last commit; None from a state older than stamps."""
        row = self.db.execute("SELECT value FROM meta WHERE key = 'feed_stamp'").fetchone()
        return FeedStamp(*json.loads(row[0])) if row else None

    # -- lookups ---------------------------------------------------------------------------------

    def get(self, article_id: str) -> KnownArticle | None:
        row = self.db.execute(
            "SELECT id, url, source, version, first_seen, content_hash, columns, etag, "
            "last_modified FROM articles WHERE id = ?",
            (article_id,),
        ).fetchone()
        return _known(row) if row else None

    def is_known(self, article_id: str) -> bool:
        """Whether *article_id* is an article or an alias of one."""
        row = self.db.execute(
            "SELECT 1 FROM articles WHERE id = ? UNION ALL SELECT 1 FROM aliases WHERE id = ?",
            (article_id, article_id),
        ).fetchone()
        return row is not None

    def owner_of_body(self, body_hash: str) -> str | None:
        row = self.db.execute(
            "SELECT id FROM articles WHERE body_hash = ? LIMIT 1", (body_hash,)
        ).fetchone()
        return str(row[0]) if row else None

    def alias_target(self, article_id: str) -> str | None:
        row = self.db.execute(
            "SELECT article_id FROM aliases WHERE id = ?", (article_id,)
        ).fetchone()
        return str(row[0]) if row else None

    def first_seen_since(self, moment: str) -> list[KnownArticle]:
        """Articles first seen at or after *moment* (ISO UTC), the ones still re-checked."""
        rows = self.db.execute(
            "SELECT id, url, source, version, first_seen, content_hash, columns, etag, "
            "last_modified FROM articles WHERE first_seen >= ? ORDER BY first_seen",
            (moment,),
        ).fetchall()
        return [_known(row) for row in rows]

    def walk_complete(self, key: str) -> bool:
        row = self.db.execute("SELECT complete FROM walks WHERE key = ?", (key,)).fetchone()
        return bool(row and row[0])

    def relocated_column(self, source: str, label: str, configured: str) -> str | None:
        """Where the column *label* of *source*, configured at *configured*, was found last."""
        row = self.db.execute(
            "SELECT url FROM relocated_columns WHERE source = ? AND label = ? AND configured = ?",
            (source, label, configured),
        ).fetchone()
        return str(row[0]) if row else None

    def count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM articles").fetchone()[0])

    # -- changes (uncommitted until ``commit``) ---------------------------------------------------

    def put(
        self,
        *,
        article_id: str,
        url: str,
        source: str,
        version: int,
        first_seen: str,
        content_hash: str,
        body_hash: str | None,
        columns: list[str],
    ) -> None:
        self.db.execute(
            "INSERT INTO articles (id, url, source, version, first_seen, content_hash, "
            "body_hash, columns) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET url = excluded.url, version = excluded.version, "
            "content_hash = excluded.content_hash, body_hash = excluded.body_hash, "
            "columns = excluded.columns",
            (
                article_id,
                url,
                source,
                version,
                first_seen,
                content_hash,
                body_hash,
                json.dumps(columns, ensure_ascii=False),
            ),
        )

    def add_columns(self, article_id: str, columns: list[str]) -> None:
        known = self.get(article_id)
        if known is None:
            return
        merged = merge_columns(known.columns, columns)
        if merged != known.columns:
            self.db.execute(
                "UPDATE articles SET columns = ? WHERE id = ?",
                (json.dumps(merged, ensure_ascii=False), article_id),
            )

    def set_validators(self, article_id: str, etag: str | None, last_modified: str | None) -> None:
        self.db.execute(
            "UPDATE articles SET etag = ?, last_modified = ? WHERE id = ?",
            (etag, last_modified, article_id),
        )

    def set_walk_complete(self, key: str, complete: bool) -> None:
        self.db.execute(
            "INSERT INTO walks (key, complete) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET complete = excluded.complete",
            (key, int(complete)),
        )

    def set_relocated_column(self, source: str, label: str, configured: str, url: str) -> None:
        self.db.execute(
            "INSERT INTO relocated_columns (source, label, configured, url) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (source, label) DO UPDATE SET configured = excluded.configured, "
            "url = excluded.url",
            (source, label, configured, url),
        )

    def add_alias(self, alias_id: str, url: str, article_id: str) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO aliases (id, url, article_id) VALUES (?, ?, ?)",
            (alias_id, url, article_id),
        )

    # -- checking the state against the feed (``Store._reconcile``) -------------------------------

    def scan_feed(self, lines: Iterable[tuple[str, int, int]]) -> None:
        """Note the (id, version, offset) of every line of the feed, the highest version of an
        id kept, in a temporary table (on disk: the feed may hold millions)."""
        self.db.execute(
            "CREATE TEMP TABLE feed_scan "
            "(id TEXT PRIMARY KEY, version INTEGER NOT NULL, offset INTEGER NOT NULL)"
        )
        self.db.executemany(
            "INSERT INTO feed_scan (id, version, offset) VALUES (?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET version = excluded.version, offset = excluded.offset "
            "WHERE excluded.version >= feed_scan.version",
            lines,
        )

    def scan_differences(self) -> list[tuple[int, int, int | None]]:
        """(offset, version) of the scanned feed's latest line of each id the state does not
        know at that version, with the version the state knows (None: not known)."""
        rows = self.db.execute(
            "SELECT feed_scan.offset, feed_scan.version, articles.version FROM feed_scan "
            "LEFT JOIN articles ON articles.id = feed_scan.id "
            "WHERE articles.version IS NOT feed_scan.version ORDER BY feed_scan.offset"
        ).fetchall()
        return [(int(offset), int(version), known) for offset, version, known in rows]

    def forget_unscanned(self) -> int:
        """Forget the articles the scanned feed does not hold, with their aliases; return how
        many. Every walk is then due in full: the forgotten ones may be on any list page."""
        forgotten = self.db.execute(
            "DELETE FROM articles WHERE id NOT IN (SELECT id FROM feed_scan)"
        ).rowcount
        if forgotten:
            self.db.execute("DELETE FROM aliases WHERE article_id NOT IN (SELECT id FROM articles)")
            self.db.execute("DELETE FROM walks")
        return forgotten

    def end_scan(self) -> None:
        self.db.execute("DROP TABLE temp.feed_scan")

    def forget_validators(self, article_id: str) -> None:
        """Drop the ETag and Last-Modified of a fetch whose line the feed lost: a 304 to them
        would hide that the feed lacks that version."""
        self.set_validators(article_id, None, None)


def merge_columns(known: list[str], more: list[str]) -> list[str]:
    """*known* followed by the columns of *more* it lacks, in order."""
    return known + [column for column in more if column not in known]


def _known(row: tuple[object, ...]) -> KnownArticle:
    return KnownArticle(
        id=str(row[0]),
        url=str(row[1]),
        source=str(row[2]),
        version=int(str(row[3])),
        first_seen=str(row[4]),
        content_hash=str(row[5]),
        columns=list(json.loads(str(row[6]))),
        etag=None if row[7] is None else str(row[7]),
        last_modified=None if row[8] is None else str(row[8]),
    )
