"""What other programs load from this package through entry points.

Scrapy loads every ``scrapy.commands`` entry point on each ``scrapy`` run, in a project or not.
Ours makes ``scrapy crawl`` this project's crawl command where Scrapy finds no project (no
``scrapy.cfg`` in the current directory or above it, no ``SCRAPY_SETTINGS_MODULE``): the installed
package is the project then, so ``scrapy crawl neu_news`` works from any directory. Inside a
project, this one or another, Scrapy's own ``crawl`` stands, and that project's
``COMMANDS_MODULE`` decides as before.
"""

from __future__ import annotations

import argparse

from scrapy.commands import ScrapyCommand
from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.utils.project import inside_project

from crawler.commands.crawl import Command as ProjectCrawlCommand

SETTINGS_MODULE = "crawler.settings"


class CrawlOutsideProject(ProjectCrawlCommand):
    """This project's ``scrapy crawl``, its settings taken as ``scrapy.cfg`` would give them."""

    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        # Project priority: -s and the command's own defaults still win, as in the project.
        self.settings.setmodule(SETTINGS_MODULE, priority="project")
        super().process_options(args, opts)


crawl: type[ScrapyCommand] = ScrapyCrawlCommand if inside_project() else CrawlOutsideProject
