"""Prometheus figures read from a data directory at each scrape: what ``neu-news serve`` knows
without being the scheduler (the scheduler's own counters live in scheduler.metrics)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from scheduler.health import parse_time
from scheduler.metrics import Metrics
from scheduler.web.data import DataDir


class DataDirCollector(Collector):
    """Articles in the feed by source, the newest run's end and outcome and, with *health*,
    each source's health and last success as the scheduler's own gauges name them."""

    def __init__(self, data_dir: DataDir, *, health: bool) -> None:
        self.data_dir = data_dir
        self.with_health = health

    def collect(self) -> Iterator[Metric]:
        articles = GaugeMetricFamily(
            "neu_news_feed_articles",
            "Articles in the feed (each id once, its latest version), by source.",
            labels=["source"],
        )
        counts = self.data_dir.snapshot(self.data_dir.stamp()).counts
        for source, count in sorted(counts.items()):
            articles.add_metric([source], count)
        yield articles

        last_run = GaugeMetricFamily(
            "neu_news_last_run_timestamp_seconds",
            "Unix time the newest recorded run ended, labelled with its job and outcome.",
            labels=["job", "outcome"],
        )
        history = self.data_dir.history(1)
        ended = parse_time(history.last[-1].get("end")) if history else None
        if history and ended:
            run = history.last[-1]
            last_run.add_metric([str(run.get("job")), str(run.get("outcome"))], ended.timestamp())
        yield last_run

        if self.with_health:
            # The scheduler's gauges, set from health.json as a restarted scheduler sets them.
            gauges = Metrics()
            gauges.restore(self.data_dir.health())
            yield from gauges.source_health.collect()
            yield from gauges.last_success.collect()
