"""``scrapy crawl`` that rejects a bad sources file or argument in one line, before any request
and before Scrapy's start-up banner, and whose exit code says whether the crawl finished."""

from __future__ import annotations

import argparse
import sys

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.exceptions import UsageError

from crawler.commandline import CONFIG_ERROR_EXIT, UNFINISHED_EXIT, ConfigError
from crawler.config import check_crawl_config


class Command(ScrapyCrawlCommand):
    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        super().process_options(args, opts)
        if args and args[0] == "neu_news":
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
        reason = crawler.stats.get_value("finish_reason") if crawler.stats else None
        if self.crawler_process.bootstrap_failed or reason != "finished":
            # An interrupted or failed crawl must not look like a good one to cron or CI.
            self.exitcode = UNFINISHED_EXIT
