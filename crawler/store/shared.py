"""The crawl state shared by many workers, in Redis, and the helpers every Redis user here calls.

``SharedStore`` is ``crawler.store.datadir.Store`` for a crawl that runs on a worker: the same
questions answered and records filed by the same code (``crawler.store.filing``), with the state
in Redis and the feed lines handed to a stream that one process, the feed writer
(``crawler.store.stream``), appends to a data directory's feed.

The guarantee is the data directory's: an article is known only once its record is durably
accepted for the feed. Each record is filed in one MULTI/EXEC transaction that both changes the
state and adds its final feed line to the stream; the keys the decision read are WATCHed, and a
transaction another crawl got in before is decided again (two crawls never both file one
article). Durable means what the server's append-only file makes it: see the README.

Keys, all under ``neu:``:

- ``neu:article:<id>``: hash of a known article (url, source, version, first_seen, content and
  body hashes, columns as JSON, etag, lm, anchor, checked);
- ``neu:alias:<id>``: hash (to, url) of an id known as another article (a redirect, a copy);
- ``neu:body:<sha1>``: the article that owns a body hash;
- ``neu:source:<name>``: sorted set of a source's article ids, scored by re-check anchor;
- ``neu:walks``, ``neu:lists``, ``neu:relocated``: hashes of the walks' completion, the list
  pages' validators and the relocated columns, keyed as the SQLite tables are;
- ``neu:count``: how many articles are known;
- ``neu:feed``: the stream of feed lines (field ``line``: the line's bytes, newline included).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar
from urllib.parse import SplitResult, urlsplit

import redis
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.client import Pipeline
from redis.retry import Retry
from redis.typing import EncodableT, FieldT

from crawler.store.feed import encode_line
from crawler.store.filing import (
    Outcome,
    Recheck,
    Validators,
    as_recheck,
    file_record,
    schedule_of,
)
from crawler.store.state import KnownArticle, PageValidators, Recalled, merge_columns

logger = logging.getLogger(__name__)

PREFIX = "neu:"
FEED_STREAM = f"{PREFIX}feed"
# The stream entry's one field: the feed line, exactly as the writer appends it.
LINE_FIELD = b"line"
SCHEMES = ("redis", "rediss")
# A command that meets a lost connection is sent again after 0.2, 0.4, 0.8, 1.6 s, then every
# 2 s: 18 tries, about 31 s in all, enough for a restart of the server; then it fails.
RETRY_BACKOFF = ExponentialBackoff(cap=2.0, base=0.1)
RETRIES = 18
CONNECT_TIMEOUT = 5.0
# Above the longest blocking read (the feed writer's poll), so a slow answer is no lost one.
SOCKET_TIMEOUT = 30.0
# Known articles read per round trip when a source's are listed.
READ_CHUNK = 500
ARTICLE_FIELDS = (
    "url", "source", "version", "first_seen", "content", "columns", "etag", "lm", "anchor",
    "checked",
)  # fmt: skip

T = TypeVar("T")


class StateServerError(RuntimeError):
    """The Redis server a URL names cannot be used (bad URL, unreachable, refused password);
    the message is one line naming the URL with its password redacted."""


# -- URLs and connections (the engine's too) ---------------------------------------------------


def redact(url: str) -> str:
    """*url* with the password of its user part, if any, shown as ``***``: everything between
    ``://`` and the last ``@``, read from the string itself (a split URL ends the user part at
    a ``#``, ``?`` or ``/`` in the password), but a user name before a ``:``."""
    scheme, user_part, host = _user_part(url)
    if user_part is None:
        return url
    user, colon, _password = user_part.partition(":")
    shown = f"{user}:***" if colon else "***"  # a lone name is a password given in its place
    return f"{scheme}{shown}@{host}"


def _user_part(url: str) -> tuple[str, str | None, str]:
    """*url* as (its scheme and ``://``, the user part before its last ``@`` or None, the rest)."""
    scheme, separator, rest = url.partition("://")
    if not separator:
        scheme, rest = "", url
    user_part, at, host = rest.rpartition("@")
    if not at:
        return scheme + separator, None, rest
    return scheme + separator, user_part, host


def parse_url(url: str) -> SplitResult:
    """*url* split, if it is a ``redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]`` URL (or
    ``rediss://``); else ``StateServerError`` saying what is wrong."""
    shown = redact(url)
    user_part = _user_part(url)[1] or ""
    if any(mark in user_part for mark in "#?/@"):
        raise StateServerError(
            f"Redis URL {shown}: a '#', '?', '/' or '@' in the password must be "
            "percent-encoded (%23, %3F, %2F, %40)"
        )
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise StateServerError(f"Redis URL {shown}: must start with redis:// or rediss://")
    if parts.username and parts.password is None:
        raise StateServerError(
            f"Redis URL {shown}: a user name with no password; a password alone is "
            "redis://:PASSWORD@HOST"
        )
    if not parts.hostname:
        raise StateServerError(f"Redis URL {shown}: names no host")
    try:
        parts.port  # noqa: B018 - raises on a port out of range or not a number
    except ValueError:
        raise StateServerError(
            f"Redis URL {shown}: the port is not a number from 1 to 65535"
        ) from None
    database = parts.path.strip("/")
    if database and not database.isdigit():
        raise StateServerError(f"Redis URL {shown}: the database {database!r} is not a number")
    if parts.query or parts.fragment:
        raise StateServerError(f"Redis URL {shown}: takes no query or fragment")
    return parts


def connect(url: str, retries: int = RETRIES) -> redis.Redis:
    """A client of the Redis at *url* (checked by ``parse_url``) whose commands ride out a lost
    connection for about 30 s (*retries*, see ``RETRY_BACKOFF``) before they fail. Replies are
    bytes, as RQ needs. Connects lazily: ``check_reachable`` says whether it can."""
    parse_url(url)
    backoff = RETRY_BACKOFF if retries else NoBackoff()
    return redis.Redis.from_url(
        url,
        retry=Retry(backoff, retries),
        retry_on_error=[redis.ConnectionError, redis.TimeoutError],
        socket_connect_timeout=CONNECT_TIMEOUT,
        socket_timeout=SOCKET_TIMEOUT,
    )


def check_reachable(url: str, retries: int = 0) -> None:
    """Raise ``StateServerError``, naming the redacted *url*, if its server does not answer (or
    refuses the password). One try, unless *retries*: then a server away (restarting) is waited
    for as ``connect``'s client waits, with one line saying so."""
    try:
        _ping(url, retries=0)
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        if not retries or isinstance(exc, redis.AuthenticationError):
            raise _unusable(url, exc) from None
        logger.warning("Waiting for Redis at %s: %s", redact(url), exc)
        try:
            _ping(url, retries)
        except redis.RedisError as again:
            raise _unusable(url, again) from None
    except redis.RedisError as exc:
        raise _unusable(url, exc) from None


def _ping(url: str, retries: int) -> None:
    client = connect(url, retries)
    try:
        client.ping()
    finally:
        client.close()


def _unusable(url: str, exc: redis.RedisError) -> StateServerError:
    if isinstance(exc, redis.AuthenticationError):
        return StateServerError(f"Redis at {redact(url)} refused the login: {exc}")
    return StateServerError(f"Redis at {redact(url)} cannot be reached: {exc}")


def key(*parts: str) -> str:
    return PREFIX + ":".join(parts)


# -- the state -------------------------------------------------------------------------------


class SharedStore:
    """The crawl's state in the Redis at *url*; records go to its ``neu:feed`` stream."""

    data_dir = None

    def __init__(self, url: str) -> None:
        self.url = url
        self.client = connect(url)

    def describe(self) -> str:
        count = int(self.client.get(key("count")) or 0)
        return f"Shared state {redact(self.url)} knows {count} articles; new lines go to its stream"

    def close(self) -> None:
        self.client.close()

    def flush(self) -> None:
        """Nothing to do: each record is committed with its line."""

    # -- what the crawl asks -----------------------------------------------------------------------

    def is_known(self, article_id: str) -> bool:
        return bool(self.client.exists(key("article", article_id), key("alias", article_id)))

    def recheck_candidates(self, sources: frozenset[str], last_step: int) -> list[Recheck]:
        """The articles of *sources* with a re-check step not done yet, were *last_step* the
        last one (``crawler.rechecks.Schedule`` picks the due ones)."""
        return [
            as_recheck(known)
            for known in self._of_sources(sources)
            if known.checked is not None
            and known.anchor is not None
            and known.checked < known.anchor + last_step
        ]

    def known_articles(self, sources: frozenset[str]) -> list[Recheck]:
        """Every known article of *sources*, to re-check, the most recently published first."""
        known = sorted(self._of_sources(sources), key=lambda article: -(article.anchor or 0))
        return [as_recheck(article) for article in known]

    def set_rechecked(self, article_id: str) -> None:
        """A re-check of *article_id* was answered: its steps due by now are done."""
        moment = int(time.time())
        self._transact(lambda filing: filing.set_checked(article_id, moment))

    def list_validators(self, page: str) -> PageValidators | None:
        raw = self.client.hget(key("lists"), page)
        if raw is None:
            return None
        etag, last_modified, is_list = json.loads(raw)
        return PageValidators(etag, last_modified, bool(is_list))

    def set_list_validators(self, page: str, validators: PageValidators) -> None:
        """Keep the validators of the page *page* (none: forget the old ones)."""
        if validators.etag is None and validators.last_modified is None:
            self.client.hdel(key("lists"), page)
        else:
            self.client.hset(key("lists"), page, _compact(list(validators)))

    def walk_complete(self, walk: str) -> bool:
        return self.client.hget(key("walks"), walk) == b"1"

    def set_walk_complete(self, walk: str, complete: bool) -> None:
        self.client.hset(key("walks"), walk, "1" if complete else "0")

    def add_columns(self, article_id: str, columns: list[str]) -> None:
        self._transact(
            lambda filing: filing.add_columns(
                filing.alias_target(article_id) or article_id, columns
            )
        )

    def relocated_column(self, source: str, label: str, configured: str) -> str | None:
        """Where the column *label* of *source*, configured at *configured*, was found last."""
        raw = self.client.hget(key("relocated"), _compact([source, label]))
        if raw is None:
            return None
        was_configured, url = json.loads(raw)
        return str(url) if was_configured == configured else None

    def set_relocated_column(self, source: str, label: str, configured: str, url: str) -> None:
        self.client.hset(key("relocated"), _compact([source, label]), _compact([configured, url]))

    # -- records ---------------------------------------------------------------------------------

    def add(
        self,
        record: Mapping[str, Any],
        validators: Validators | None = None,
        listed_as: tuple[str, str] | None = None,
        recheck_of: str | None = None,
    ) -> tuple[Outcome, dict[str, Any] | None]:
        """File one crawled record as ``Store.add`` does; its line, if any, is in the stream
        when this returns."""
        filed = self._transact(
            lambda filing: file_record(filing, record, validators, listed_as, filing.keep)
        )
        if recheck_of is not None:
            self.set_rechecked(recheck_of)
        return filed

    def _transact(self, decide: Callable[[Filing], T]) -> T:
        """Run *decide* on the state as it is and commit its changes in one transaction; again
        from the start when a key it read changed meanwhile (another crawl's record)."""
        while True:
            with self.client.pipeline() as pipe:
                filing = Filing(pipe)
                try:
                    result = decide(filing)
                    filing.commit()
                except redis.WatchError:
                    continue
                return result

    def _of_sources(self, sources: Iterable[str]) -> list[KnownArticle]:
        ids = [
            _text(member) or ""
            for source in sorted(sources)
            for member in self.client.zrange(key("source", source), 0, -1)
        ]
        known: list[KnownArticle] = []
        for start in range(0, len(ids), READ_CHUNK):
            chunk = ids[start : start + READ_CHUNK]
            pipe = self.client.pipeline(transaction=False)
            for article_id in chunk:
                pipe.hmget(key("article", article_id), ARTICLE_FIELDS)
            for article_id, values in zip(chunk, pipe.execute(), strict=True):
                fields = {
                    name: _text(value) for name, value in zip(ARTICLE_FIELDS, values, strict=True)
                }
                if fields["url"] is not None:
                    known.append(_known(article_id, fields))
        return known


class Filing:
    """One attempt at a decision (``crawler.store.filing.FilingState``): reads go to the server
    at once and WATCH their keys; changes wait in order for ``commit``'s MULTI/EXEC."""

    def __init__(self, pipe: Pipeline) -> None:
        self.pipe = pipe
        self.changes: list[Callable[[Pipeline], object]] = []
        self.articles: dict[str, dict[str, str]] = {}  # their fields as read, by id

    def commit(self) -> None:
        if not self.changes:
            self.pipe.reset()
            return
        self.pipe.multi()
        for change in self.changes:
            change(self.pipe)
        self.pipe.execute()

    def _watch(self, name: str) -> None:
        self.pipe.watch(name)  # type: ignore[no-untyped-call]  # redis-py leaves it untyped

    def _article(self, article_id: str) -> dict[str, str]:
        if article_id not in self.articles:
            name = key("article", article_id)
            self._watch(name)
            fields = self.pipe.hgetall(name)
            self.articles[article_id] = {
                _text(field) or "": _text(value) or "" for field, value in fields.items()
            }
        return self.articles[article_id]

    def _watched_get(self, name: str) -> str | None:
        self._watch(name)
        return _text(self.pipe.get(name))

    # -- reads -----------------------------------------------------------------------------------

    def get(self, article_id: str) -> KnownArticle | None:
        fields = self._article(article_id)
        if not fields:
            return None
        return _known(article_id, fields)

    def alias_target(self, article_id: str) -> str | None:
        name = key("alias", article_id)
        self._watch(name)
        return _text(self.pipe.hget(name, "to"))

    def recall(self, article_id: str, body_hash: str | None) -> Recalled:
        """As the SQLite state's: each key read (and watched) only if the ones before it
        hold nothing."""
        alias_of = self.alias_target(article_id)
        if alias_of:
            return Recalled(alias_of, None, None)
        known = self.get(article_id)
        if known is not None or body_hash is None:
            return Recalled(None, known, None)
        return Recalled(None, None, self._watched_get(key("body", body_hash)))

    # -- changes ---------------------------------------------------------------------------------

    def add_alias(self, alias_id: str, url: str, article_id: str) -> None:
        name = key("alias", alias_id)
        # The first alias stands, as the SQLite state's INSERT OR IGNORE.
        self.changes.append(lambda pipe: pipe.hsetnx(name, "to", article_id))
        self.changes.append(lambda pipe: pipe.hsetnx(name, "url", url))

    def add_columns(self, article_id: str, columns: list[str]) -> None:
        known = self.get(article_id)
        if known is None:
            return
        merged = merge_columns(known.columns, columns)
        if merged != known.columns:
            name, value = key("article", article_id), _compact(merged)
            self.changes.append(lambda pipe: pipe.hset(name, "columns", value))

    def set_validators(self, article_id: str, etag: str | None, last_modified: str | None) -> None:
        name = key("article", article_id)
        pairs = (("etag", etag), ("lm", last_modified))
        present: dict[FieldT, EncodableT] = {
            field: value for field, value in pairs if value is not None
        }
        absent = [field for field, value in pairs if value is None]
        if present:
            self.changes.append(lambda pipe: pipe.hset(name, mapping=present))
        if absent:
            self.changes.append(lambda pipe: pipe.hdel(name, *absent))

    def set_checked(self, article_id: str, moment: int) -> None:
        """The steps of *article_id* due by *moment* are done; never set back."""
        fields = self._article(article_id)
        if fields and int(fields.get("checked") or 0) < moment:
            name = key("article", article_id)
            self.changes.append(lambda pipe: pipe.hset(name, "checked", moment))

    def keep(self, line: dict[str, Any], content: str, body: str | None) -> None:
        """Remember the article of a new or edited *line* and add the line to the stream."""
        article_id, source = str(line["id"]), str(line["source"])
        old = self._article(article_id)
        schedule = schedule_of(line)
        checked = max(schedule["checked"], int(old.get("checked") or 0))
        name = key("article", article_id)
        mapping: dict[FieldT, EncodableT] = {
            "url": str(line["url"]),
            "source": source,
            "version": int(line["version"]),
            "first_seen": str(line["first_seen"]),
            "content": content,
            "columns": _compact(list(line.get("columns") or [])),
            "anchor": schedule["anchor"],
            "checked": checked,
        }
        self._move_body(article_id, old.get("body"), body)
        self.changes.append(lambda pipe: pipe.hset(name, mapping=mapping))
        self.changes.append(
            lambda pipe: pipe.zadd(key("source", source), {article_id: schedule["anchor"]})
        )
        if not old:
            self.changes.append(lambda pipe: pipe.incr(key("count")))
        entry = {LINE_FIELD: encode_line(line)}
        self.changes.append(lambda pipe: pipe.xadd(FEED_STREAM, entry))  # type: ignore[arg-type]

    def _move_body(self, article_id: str, old: str | None, new: str | None) -> None:
        """Point the body hash *new* at the article (unless another owns it) and release the
        one it had, as the SQLite state's body_hash column does."""
        name = key("article", article_id)
        if old is not None and old != new:
            released = key("body", old)
            if self._watched_get(released) == article_id:
                self.changes.append(lambda pipe: pipe.delete(released))
        if new is None:
            self.changes.append(lambda pipe: pipe.hdel(name, "body"))
        else:
            self.changes.append(lambda pipe: pipe.hset(name, "body", new))
            self.changes.append(lambda pipe: pipe.set(key("body", new), article_id, nx=True))


def _text(value: object) -> str | None:
    """A reply (bytes: the client decodes nothing) as text."""
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def _compact(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _known(article_id: str, fields: Mapping[str, str | None]) -> KnownArticle:
    def number(name: str) -> int | None:
        value = fields.get(name)
        return None if value is None else int(value)

    return KnownArticle(
        id=article_id,
        url=fields.get("url") or "",
        source=fields.get("source") or "",
        version=number("version") or 1,
        first_seen=fields.get("first_seen") or "",
        content_hash=fields.get("content") or "",
        columns=list(json.loads(fields.get("columns") or "[]")),
        etag=fields.get("etag"),
        last_modified=fields.get("lm"),
        anchor=number("anchor"),
        checked=number("checked"),
    )
