"""``scrapy crawl`` that rejects a bad sources file or argument in one line, before any request."""

from __future__ import annotations

import argparse
import sys

from scrapy.commands.crawl import Command as ScrapyCrawlCommand

from crawler.config import ConfigError, check_crawl_config


class Command(ScrapyCrawlCommand):
    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if args and args[0] == "neu_news":
            try:
                check_crawl_config(self.settings, opts.spargs)
            except ConfigError as exc:
                print(f"error: {exc}", file=sys.stderr)
                self.exitcode = 2
                return
        super().run(args, opts)
