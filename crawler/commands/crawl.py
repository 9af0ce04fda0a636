"""``scrapy crawl`` that rejects a bad sources file or argument in one line, before any request
and before Scrapy's start-up banner; for ``neu_news``, its exit code says whether every source
was fetched and its last line on stderr sums the run up."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.crawler import Crawler
from scrapy.exceptions import UsageError

from crawler import stats
from crawler.commandline import CONFIG_ERROR_EXIT, UNFINISHED_EXIT, ConfigError
from crawler.config import check_crawl_config
from crawler.outcome import crawl_exit_code, source_outcomes, summary_line
from crawler.spiders.neu_news import NeuNewsSpider


class Command(ScrapyCrawlCommand):
    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        super().process_options(args, opts)
        if args and args[0] == NeuNewsSpider.name:
            try:
                check_crawl_config(self.settings, opts.spargs)
            except ConfigError as exc:
                print(f"error: {exc}", file=sys.stderr)
                sys.exit(CONFIG_ERROR_EXIT)

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1:
            raise UsageError("give exactly one spider name, e.g. 'scrapy crawl neu_news'")
        assert self.crawler_process is not None
        crawler = self._create_crawler(args[0])
        self.crawler_process.crawl(crawler, **opts.spargs)
        self.crawler_process.start()
        run_stats = crawler.stats.get_stats() if crawler.stats else {}
        if self.crawler_process.bootstrap_failed:
            run_stats = {**run_stats, stats.FINISH_REASON: "bootstrap_failed"}
        if args[0] == NeuNewsSpider.name:
            self.exitcode = self._judge(crawler, run_stats)
        elif run_stats.get(stats.FINISH_REASON) != "finished":
            # An interrupted or failed crawl must not look like a good one to cron or CI.
            self.exitcode = UNFINISHED_EXIT

    @staticmethod
    def _judge(crawler: Crawler, run_stats: dict[str, Any]) -> int:
        """The exit code of a ``neu_news`` crawl, its summary printed as stderr's last line."""
        spider = crawler.spider
        names = [s.name for s in spider.sources] if isinstance(spider, NeuNewsSpider) else []
        outcomes = source_outcomes(run_stats, names)
        print(summary_line(run_stats, outcomes), file=sys.stderr, flush=True)
        return crawl_exit_code(run_stats.get(stats.FINISH_REASON), outcomes)
