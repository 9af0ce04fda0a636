"""A crawl builds no log record that LOG_LEVEL hides (issue 14: about 3.4 per article were built
and dropped), and still logs everything at or above it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from scrapy.exceptions import NotConfigured
from scrapy.utils.test import get_crawler

from crawler.extensions import LogLevelFloor
from tests.conftest import PROJECT_ROOT, crawl_command

# `scrapy crawl` itself, with every record created below INFO counted by logger name and the
# counts written to the file named by the first argument when the process exits.
COUNTING_CRAWL = """
import atexit, collections, json, logging, sys
from scrapy.cmdline import execute

counts_path = sys.argv.pop(1)
below = collections.Counter()
build = logging.getLogRecordFactory()

def counting(*args, **kwargs):
    record = build(*args, **kwargs)
    if record.levelno < logging.INFO:
        below[record.name] += 1
    return record

logging.setLogRecordFactory(counting)
atexit.register(lambda: open(counts_path, "w").write(json.dumps(below)))
execute(["scrapy", *sys.argv[1:]])
"""


def _counting_crawl(sources: Path, out: Path, **settings: str) -> tuple[dict[str, int], str]:
    """Records below INFO by logger name, and the crawl's log file."""
    out.mkdir()
    command = crawl_command(
        sources, out / "data", out, "-a", "mode=backfill", files=True, **settings
    )
    counts = out / "below-info.json"
    argv = [sys.executable, "-c", COUNTING_CRAWL, str(counts), *command[3:]]
    completed = subprocess.run(
        argv, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    return json.loads(counts.read_text()), (out / "crawl.log").read_text()


def test_a_crawl_at_info_builds_no_debug_record_per_page(
    sources_file: Path, tmp_path: Path
) -> None:
    below, log = _counting_crawl(sources_file, tmp_path / "info")
    # Each page's "Crawled (200)" and each item's "Scraped from" (and the pipeline's drops).
    per_page = {name: below.get(name, 0) for name in ("scrapy.core.engine", "scrapy.core.scraper")}
    assert per_page == {"scrapy.core.engine": 0, "scrapy.core.scraper": 0}, below
    assert "[scrapy.core.engine] INFO: Spider closed (finished)" in log
    assert "DEBUG" not in log


def test_debug_still_shows_every_page(sources_file: Path, tmp_path: Path) -> None:
    below, log = _counting_crawl(sources_file, tmp_path / "debug", LOG_LEVEL="DEBUG")
    assert below.get("scrapy.core.engine", 0) > 0
    assert "[scrapy.core.engine] DEBUG: Crawled (200)" in log
    assert "[scrapy.core.scraper] DEBUG: Scraped from <200" in log


def test_off_when_scrapy_owns_no_root_handler() -> None:
    # An embedding program (or pytest) configured logging itself: its loggers are left alone.
    with pytest.raises(NotConfigured):
        LogLevelFloor.from_crawler(get_crawler(settings_dict={"LOG_LEVEL": "INFO"}))
