"""``scrapy crawl`` that rejects a bad sources file or argument in one line, before any request
and before Scrapy's start-up banner."""

from __future__ import annotations

import argparse
import sys

from scrapy.commands.crawl import Command as ScrapyCrawlCommand

from crawler.config import ConfigError, check_crawl_config

CONFIG_ERROR_EXIT = 2


class Command(ScrapyCrawlCommand):
    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        super().process_options(args, opts)
        if args and args[0] == "neu_news":
            try:
                check_crawl_config(self.settings, opts.spargs)
            except ConfigError as exc:
                print(f"error: {exc}", file=sys.stderr)
                sys.exit(CONFIG_ERROR_EXIT)
