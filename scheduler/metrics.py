"""Prometheus metrics of the scheduler, in a registry of its own, served over HTTP on demand."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from scheduler.health import SEVERITY, SourceState

logger = logging.getLogger(__name__)

# Crawls take seconds against a test site and up to hours on a first fill of the real ones.
DURATION_BUCKETS = (5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.runs = Counter(
            "neu_news_runs",
            "Scheduled crawl runs, by job and outcome (ok, degraded, failed, stopped, skipped).",
            ["job", "outcome"],
            registry=self.registry,
        )
        self.articles = Counter(
            "neu_news_articles",
            "Articles added to the feed, by source and kind (new, updated).",
            ["source", "kind"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "neu_news_crawl_duration_seconds",
            "Wall time of a crawl, by job.",
            ["job"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.last_success = Gauge(
            "neu_news_source_last_success_timestamp_seconds",
            "Unix time of the end of the last run in which the source was healthy.",
            ["source"],
            registry=self.registry,
        )
        self.source_health = Gauge(
            "neu_news_source_health",
            "Health of the source in its last run: 0 ok, 1 degraded, 2 failed.",
            ["source"],
            registry=self.registry,
        )

    def serve(self, port: int, addr: str) -> int:
        """Serve /metrics on addr:port in a daemon thread; return the port (for port 0)."""
        server, _ = start_http_server(port, addr=addr, registry=self.registry)
        bound = int(server.server_port)
        logger.info("Serving metrics on http://%s:%d/metrics", addr, bound)
        return bound

    def restore(self, states: Mapping[str, SourceState]) -> None:
        """Carry the sources' health over a restart, from health.json."""
        for name, state in states.items():
            self._set_source(name, state)

    def observe_run(self, record: Mapping[str, Any], states: Mapping[str, SourceState]) -> None:
        self.runs.labels(record["job"], record["outcome"]).inc()
        self.duration.labels(record["job"]).observe(record["duration"])
        for name, figures in record["per_source"].items():
            self.articles.labels(name, "new").inc(figures["new"])
            self.articles.labels(name, "updated").inc(figures["updated"])
            if name in states:
                self._set_source(name, states[name])

    def observe_skip(self, job: str) -> None:
        self.runs.labels(job, "skipped").inc()

    def _set_source(self, name: str, state: SourceState) -> None:
        self.source_health.labels(name).set(SEVERITY.get(state.status, 2))
        if state.last_ok:
            self.last_success.labels(name).set(datetime.fromisoformat(state.last_ok).timestamp())
