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
from typing import NamedTuple

from crawler.store.feed import FeedStamp

# The state's file name inside a data directory.
STATE_FILE = "state.sqlite3"

SCHEMA = """
-- anchor and checked are an article's re-check schedule (crawler.rechecks), in Unix seconds:
-- the moment its steps count from, and the one up to which they are done; NULL in a state from
-- before schedules, until filled from the feed.
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
    last_modified TEXT,
    anchor INTEGER,
    checked INTEGER
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
-- The ETag and Last-Modified of each column's first list page (by its canonical URL) at its
-- last 200, sent back by the next incremental walk: a 304 says the column is unchanged. Also
-- those of the pages a home page links that were no list (is_list 0): a 304, still none.
CREATE TABLE IF NOT EXISTS list_validators (
    key TEXT PRIMARY KEY,
    etag TEXT,
    last_modified TEXT,
    is_list INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
# Columns added since the first states, with their types: added to an older file on open.
ADDED_COLUMNS = {"anchor": "INTEGER", "checked": "INTEGER"}
# After the added columns exist: finds the articles whose schedule is still to fill at once.
SCHEDULE_INDEX = (
    "CREATE INDEX IF NOT EXISTS articles_unscheduled ON articles (id) WHERE anchor IS NULL"
)
# What a known article's lookups read.
ARTICLE_COLUMNS = (
    "id, url, source, version, first_seen, content_hash, columns, etag, last_modified, anchor, "
    "checked"
)


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
    anchor: int | None
    checked: int | None


class Recalled(NamedTuple):
    """What a state knows of a crawled record, the first that holds (the rest None): the
    article its id is an alias of, the article itself, the article that owns its body."""

    alias_of: str | None
    known: KnownArticle | None
    body_owner: str | None


class PageValidators(NamedTuple):
    """A page's ETag and Last-Modified at its last 200, and whether it was a column's list."""

    etag: str | None
    last_modified: str | None
    is_list: bool


class State:
    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, isolation_level="DEFERRED")
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)
        self._add_missing_columns()
        self.db.execute(SCHEDULE_INDEX)
        self.db.commit()

    def _add_missing_columns(self) -> None:
        """Bring a state file from an older version up to the schema (the columns it lacks
        are NULL until ``Store._reconcile`` fills them from the feed)."""
        present = {row[1] for row in self.db.execute("PRAGMA table_info(articles)")}
        for name, kind in ADDED_COLUMNS.items():
            if name not in present:
                self.db.execute(f"ALTER TABLE articles ADD COLUMN {name} {kind}")

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
            f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE id = ?", (article_id,)
        ).fetchone()
        return _known(row) if row else None

    def is_known(self, article_id: str) -> bool:
        """Whether *article_id* is an article or an alias of one."""
        row = self.db.execute(
            "SELECT 1 FROM articles WHERE id = ? UNION ALL SELECT 1 FROM aliases WHERE id = ?",
            (article_id, article_id),
        ).fetchone()
        return row is not None

    def recall(self, article_id: str, body_hash: str | None) -> Recalled:
        """What the state knows of a record of *article_id* and *body_hash*, in one query (a
        record's filing asks it of every record)."""
        alias_of, body_owner, *article = self.db.execute(
            "SELECT (SELECT article_id FROM aliases WHERE id = :id), "
            "(SELECT id FROM articles WHERE body_hash = :body LIMIT 1), "
            f"{ARTICLE_COLUMNS} FROM (SELECT 1) LEFT JOIN articles ON articles.id = :id",
            {"id": article_id, "body": body_hash},
        ).fetchone()
        if alias_of is not None:
            return Recalled(str(alias_of), None, None)
        if article[0] is not None:
            return Recalled(None, _known(tuple(article)), None)
        return Recalled(None, None, None if body_owner is None else str(body_owner))

    def alias_target(self, article_id: str) -> str | None:
        row = self.db.execute(
            "SELECT article_id FROM aliases WHERE id = ?", (article_id,)
        ).fetchone()
        return str(row[0]) if row else None

    def unfinished_schedules(self, sources: Iterable[str], last_step: int) -> list[KnownArticle]:
        """The articles of *sources* with a re-check step not done yet, were it *last_step*
        seconds after the anchor (which of them are due is ``crawler.rechecks``' call)."""
        rows = self.db.execute(
            f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE source IN (SELECT value FROM "
            "json_each(?)) AND checked < anchor + ?",
            (json.dumps(list(sources)), last_step),
        ).fetchall()
        return [_known(row) for row in rows]

    def of_sources(self, sources: Iterable[str]) -> list[KnownArticle]:
        """Every article of *sources*, the most recently published first."""
        rows = self.db.execute(
            f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE source IN (SELECT value FROM "
            "json_each(?)) ORDER BY anchor DESC",
            (json.dumps(list(sources)),),
        ).fetchall()
        return [_known(row) for row in rows]

    def unscheduled(self) -> bool:
        """Whether some article has no re-check schedule yet (a state from an older version)."""
        return (
            self.db.execute("SELECT 1 FROM articles WHERE anchor IS NULL LIMIT 1").fetchone()
            is not None
        )

    def list_validators(self, key: str) -> PageValidators | None:
        """The validators of the page *key* (a column's first list page, or a page that was
        no list) at its last 200."""
        row = self.db.execute(
            "SELECT etag, last_modified, is_list FROM list_validators WHERE key = ?", (key,)
        ).fetchone()
        return PageValidators(row[0], row[1], bool(row[2])) if row else None

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
        anchor: int,
        checked: int,
    ) -> None:
        """Store one feed line's article; its steps done are never set back."""
        self.db.execute(
            "INSERT INTO articles (id, url, source, version, first_seen, content_hash, "
            "body_hash, columns, anchor, checked) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET url = excluded.url, version = excluded.version, "
            "content_hash = excluded.content_hash, body_hash = excluded.body_hash, "
            "columns = excluded.columns, anchor = excluded.anchor, "
            "checked = max(coalesce(checked, excluded.checked), excluded.checked)",
            (
                article_id,
                url,
                source,
                version,
                first_seen,
                content_hash,
                body_hash,
                json.dumps(columns, ensure_ascii=False),
                anchor,
                checked,
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

    def set_schedule(self, article_id: str, anchor: int, checked: int) -> None:
        """Give an article of an older state its re-check schedule."""
        self.db.execute(
            "UPDATE articles SET anchor = ?, checked = ? WHERE id = ?",
            (anchor, checked, article_id),
        )

    def set_checked(self, article_id: str, moment: int) -> None:
        """The steps of *article_id* due by *moment* are done (a re-check was answered)."""
        self.db.execute(
            "UPDATE articles SET checked = max(coalesce(checked, ?), ?) WHERE id = ?",
            (moment, moment, article_id),
        )

    def set_list_validators(self, key: str, validators: PageValidators) -> None:
        """Keep the validators of the page *key* (none: forget the old ones)."""
        if validators.etag is None and validators.last_modified is None:
            self.db.execute("DELETE FROM list_validators WHERE key = ?", (key,))
            return
        self.db.execute(
            "INSERT INTO list_validators (key, etag, last_modified, is_list) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET etag = excluded.etag, "
            "last_modified = excluded.last_modified, is_list = excluded.is_list",
            (key, *validators),
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
        know at that version or without its re-check schedule, with the version the state knows
        (None: not known)."""
        rows = self.db.execute(
            "SELECT feed_scan.offset, feed_scan.version, articles.version FROM feed_scan "
            "LEFT JOIN articles ON articles.id = feed_scan.id "
            "WHERE articles.version IS NOT feed_scan.version OR articles.anchor IS NULL "
            "ORDER BY feed_scan.offset"
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
        anchor=None if row[9] is None else int(str(row[9])),
        checked=None if row[10] is None else int(str(row[10])),
    )
