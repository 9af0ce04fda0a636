"""The throughput baseline: a bare Scrapy spider that fetches URLs and does nothing with them.

``python -m benchmarks.bare_spider URLS_FILE STATS_FILE`` crawls every URL of URLS_FILE (one a
line) with Scrapy's defaults plus the same politeness-off settings as the measured crawl, and
none of the project's settings, middlewares or pipelines; it writes Scrapy's stats as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import scrapy
from scrapy.crawler import CrawlerProcess
from scrapy.http import Response

from benchmarks.crawls import POLITENESS_OFF

BARE_SETTINGS = {
    **{key: value for key, value in POLITENESS_OFF.items() if not key.startswith("NEU_")},
    # The crawler obeys robots.txt, so the baseline asks for it too.
    "ROBOTSTXT_OBEY": "True",
}


class BareSpider(scrapy.Spider):
    name = "bare"

    def __init__(self, urls: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.urls = urls

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for url in self.urls:
            yield scrapy.Request(url, callback=self.ignore)

    def ignore(self, response: Response) -> None:
        return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bare_spider")
    parser.add_argument("urls_file", type=Path)
    parser.add_argument("stats_file", type=Path)
    args = parser.parse_args(argv)
    urls = args.urls_file.read_text(encoding="utf-8").split()
    process = CrawlerProcess(settings=BARE_SETTINGS)
    crawler = process.create_crawler(BareSpider)
    process.crawl(crawler, urls=urls)
    process.start()
    assert crawler.stats is not None
    stats = crawler.stats.get_stats()
    args.stats_file.write_text(json.dumps(stats, default=str, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
