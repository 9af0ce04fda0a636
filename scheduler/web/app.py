"""The Flask app: the status page, the feeds, health and metrics of one data directory.

Every route only reads. Feeds and ``/articles.jsonl`` carry an ETag and Last-Modified made from
the feed's stamp, checked (Werkzeug's ``is_resource_modified``) before anything is read: a
reader polling an unchanged feed gets a 304 for the price of one ``stat``. HTTP dates have whole
seconds, so the feed's change counts as made the second after its modification time, and no date
is handed out before its second is over: two appends within one second never share a date.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask, Response, render_template, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from werkzeug.http import is_resource_modified

from crawler.branding import DEFAULT_BRANDING, Branding, is_http_url
from crawler.commandline import iso_date
from crawler.store.export import Format, render
from crawler.store.feed import FeedStamp, encode_line
from crawler.store.reader import Record
from scheduler.health import parse_time
from scheduler.metrics import Metrics
from scheduler.status import DEGRADED_EXIT, FAILING_EXIT, HEALTHY, overall
from scheduler.web.data import DataDir
from scheduler.web.gauges import DataDirCollector

FEED_TYPES: dict[Format, str] = {
    "atom": "application/atom+xml; charset=utf-8",
    "rss": "application/rss+xml; charset=utf-8",
}
JSONL_TYPE = "application/x-ndjson; charset=utf-8"
ARTICLE_FILTERS = ("since", "source")
# Runs and articles on the status page.
PAGE_RUNS = 10
PAGE_ARTICLES = 20
# /health's status word for each of status's exit codes; 503 only for the last (a probe
# restarting the service would not mend one source's changed layout).
HEALTH_WORDS = {HEALTHY: "healthy", DEGRADED_EXIT: "degraded", FAILING_EXIT: "failing"}
# Lines of /articles.jsonl sent together: a few round trips, never the whole feed in memory.
STREAM_CHUNK = 1 << 16
# File times come from the kernel's coarse clock, a little behind time.time(): a date becomes
# Last-Modified only once this long after it, when no later append can still fall before it.
CLOCK_SLACK = 1.0
# Nothing on the page runs or loads: it is one server-rendered document with its own style.
PAGE_POLICY = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"


def create_app(
    data_dir: Path,
    *,
    branding: Branding | None = None,
    sources_file: Path | None = None,
    metrics: Metrics | None = None,
) -> Flask:
    """The app over *data_dir*. *metrics*: the scheduler's own, served at /metrics with the
    data directory's figures (standalone, its health gauges are read from health.json)."""
    brand = branding or DEFAULT_BRANDING
    data = DataDir(data_dir, sources_file)
    collector = DataDirCollector(data, health=metrics is None)
    # Changes with each app, so an ETag or a date from before a restart (other code, other
    # branding) never passes for the current document.
    salt = secrets.token_hex(8)
    started = math.floor(time.time()) + 1
    app = Flask(__name__)
    app.add_template_filter(_moment, "moment")
    app.add_template_filter(_publication, "publication")
    app.add_template_filter(is_http_url, "http_url")

    @app.get("/")
    def status_page() -> Response:
        stamp = data.stamp()
        states = data.health()
        history = data.history(PAGE_RUNS)
        verdict = overall(states, history, datetime.now(UTC))[1] if history else None
        snapshot = data.snapshot(stamp)
        page = render_template(
            "status.html",
            branding=brand,
            data_dir=data_dir,
            verdict=verdict,
            runs=list(reversed(history.last)) if history else [],
            last_success=history.last_success if history else None,
            sources=[
                (name, states.get(name), snapshot.counts.get(name, 0))
                for name in sorted(data.source_names(stamp))
            ],
            articles=snapshot.newest[:PAGE_ARTICLES],
        )
        response = Response(page, mimetype="text/html")
        response.headers["Content-Security-Policy"] = PAGE_POLICY
        return response

    @app.get("/feed.<any(atom, rss):fmt>")
    def feed(fmt: Format) -> Response:
        return syndication(fmt, None)

    @app.get("/sources/<name>.<any(atom, rss):fmt>")
    def source_feed(name: str, fmt: Format) -> Response:
        return syndication(fmt, name)

    def syndication(fmt: Format, source: str | None) -> Response:
        stamp = data.stamp()
        refused = refuse_unknown(source, stamp)
        if refused is not None:
            return refused
        own = (
            replace(brand, title=f"{brand.title} · {source}", id=_source_id(brand.id, source))
            if source
            else brand
        )
        self_url = request.base_url

        def document() -> Response:
            entries = data.snapshot(stamp, source).newest
            body = render(entries, fmt=fmt, branding=own, self_url=self_url)
            return Response(body, content_type=FEED_TYPES[fmt])

        return _conditional(document, stamp, started, salt, self_url, own)

    @app.get("/articles.jsonl")
    def articles() -> Response:
        unknown = sorted(set(request.args) - set(ARTICLE_FILTERS))
        if unknown:
            return _error(400, f"unknown parameter {unknown[0]!r}: use since, source")
        since_text, source = request.args.get("since"), request.args.get("source")
        try:
            since = iso_date(since_text) if since_text is not None else None
        except argparse.ArgumentTypeError as exc:
            return _error(400, f"since: {exc}")
        stamp = data.stamp()
        refused = refuse_unknown(source, stamp)
        if refused is not None:
            return refused

        def lines() -> Response:
            body = _jsonl(data.records(stamp, since, source))
            return Response(body, content_type=JSONL_TYPE)

        return _conditional(lines, stamp, started, salt, request.full_path)

    def refuse_unknown(source: str | None, stamp: FeedStamp | None) -> Response | None:
        """A 404 naming the known sources when *source* is none of them."""
        if source is None:
            return None
        known = data.source_names(stamp)
        if source in known:
            return None
        names = ", ".join(sorted(known)) or "none yet"
        return _error(404, f"unknown source {source!r}; this feed's: {names}")

    @app.get("/health")
    def health() -> Response:
        states = data.health()
        history = data.history(1)
        if history is None:
            code, verdict = FAILING_EXIT, f"no run history in {data_dir}: the scheduler never ran"
        else:
            code, verdict = overall(states, history, datetime.now(UTC))
        last = history.last[-1] if history else None
        document = {
            "status": HEALTH_WORDS[code],
            "verdict": verdict,
            "last_run": {key: last.get(key) for key in ("run_id", "job", "end", "outcome")}
            if last
            else None,
            "last_success": history.last_success.isoformat()
            if history and history.last_success
            else None,
            "sources": {name: state.to_json() for name, state in sorted(states.items())},
        }
        response = Response(
            json.dumps(document, ensure_ascii=False, indent=1) + "\n",
            status=503 if code == FAILING_EXIT else 200,
            content_type="application/json",
        )
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.get("/metrics")
    def metrics_page() -> Response:
        text = (generate_latest(metrics.registry) if metrics else b"") + generate_latest(collector)
        return Response(text, content_type=CONTENT_TYPE_LATEST)

    return app


def _conditional(
    make: Callable[[], Response], stamp: FeedStamp | None, started: int, *shaped_by: object
) -> Response:
    """*make()*'s response, or a 304 when the reader's ETag or date shows it has it (then
    nothing is read). Its validators are the feed's stamp, the app's *started* second and
    *shaped_by* (what else shapes the document); without a feed there is nothing to validate."""
    if stamp is None:
        return make()
    tag = hashlib.blake2b(repr((stamp, shaped_by)).encode(), digest_size=12).hexdigest()
    changed, sent = _modified_seconds(stamp.mtime_ns, started, time.time())
    fresh = is_resource_modified(request.environ, etag=tag, last_modified=_utc(changed))
    response = make() if fresh else Response(status=304)
    response.set_etag(tag)
    response.last_modified = _utc(sent)
    response.headers["Cache-Control"] = "no-cache"  # keep it, but ask each time
    return response


def _modified_seconds(mtime_ns: int, started: int, now: float) -> tuple[int, int]:
    """When the document changed, in whole Unix seconds (the second after the feed's
    modification, no earlier than the app's start), and the Last-Modified to send *now*: that
    second once CLOCK_SLACK has passed it, else an earlier one, which only earns full answers
    (an append later in the same second would otherwise hide behind the reader's date)."""
    changed = max(-(-mtime_ns // 1_000_000_000), started)
    return changed, min(changed, math.floor(now - CLOCK_SLACK))


def _utc(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _jsonl(records: Iterator[Record]) -> Iterator[bytes]:
    """The records as feed lines, a chunk at a time (the file stays open only while sent)."""
    chunk = bytearray()
    for record in records:
        chunk += encode_line(record)
        if len(chunk) >= STREAM_CHUNK:
            yield bytes(chunk)
            chunk.clear()
    if chunk:
        yield bytes(chunk)


def _source_id(feed_id: str, source: str) -> str:
    """A source's feed id: the whole feed's, with the source as its fragment (or in it)."""
    return f"{feed_id}{'&' if '#' in feed_id else '#'}source={source}"


def _error(status: int, message: str) -> Response:
    return Response(f"error: {message}\n", status=status, content_type="text/plain; charset=utf-8")


def _moment(value: object) -> str:
    """A scheduler time as the page shows it, in its own zone; "-" for none."""
    moment = value if isinstance(value, datetime) else parse_time(value)
    return f"{moment:%Y-%m-%d %H:%M} {moment:%z}" if moment else "-"


def _publication(value: object) -> str:
    """A record's ``published`` as the page shows it: the day, and the time if it has one."""
    if not isinstance(value, str) or not value:
        return "undated"
    return value[:10] if len(value) == 10 else value[:16].replace("T", " ")
