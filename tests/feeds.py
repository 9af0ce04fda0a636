"""A real feed for the consumers' tests: two real crawls of the replica, the second finding an
edit and new articles, so the feed holds dated, timed and undated articles and a version 2."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from replica import ReplicaServer, build_replica
from tests.conftest import run_crawl


@dataclass(frozen=True)
class CrawledFeed:
    path: Path
    lines: list[dict[str, Any]]


def crawl_edited_feed(root: Path) -> CrawledFeed:
    """Crawl a fresh replica into *root*/data, edit one article and publish two, crawl again."""
    replica = build_replica(seed=11, articles_per_column=12, page_size=5)
    with ReplicaServer(replica) as server:
        sources = root / "sources.toml"
        replica.write_sources(sources, server)
        data = root / "data"
        first = run_crawl(sources, data, root / "run1")
        assert first.returncode == 0, first.stderr
        edited = replica.articles("english", "focus")[3]
        replica.edit(edited, title=edited.title + " (Updated)")
        replica.publish("news", "ddyw", n=2)
        # recheck=all: an edit to an old article is found whatever the re-check schedule says.
        second = run_crawl(sources, data, root / "run2", "-a", "recheck=all")
        assert second.returncode == 0, second.stderr
    path = data / "articles.jsonl"
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert any(line["version"] > 1 for line in lines), "the edit made no version 2"
    return CrawledFeed(path, lines)
