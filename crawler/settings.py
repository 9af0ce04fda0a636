"""Scrapy settings of the news crawler: only what differs from Scrapy's defaults.

Any of them can be overridden on the command line, e.g. ``-s DOWNLOAD_DELAY=0``.
"""

import os

from crawler import branding

BOT_NAME = "neu_news"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"
# Our `crawl` checks the sources file and arguments before Scrapy starts, for a one-line error.
COMMANDS_MODULE = "crawler.commands"

# --- Politeness: the sites are universities' servers, not a benchmark target -------------------
# The User-Agent names NEU_CONTACT (below): built by this add-on, unless USER_AGENT is set.
ADDONS = {"crawler.config.BrandedUserAgent": 0}
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS_PER_DOMAIN = 1
DOWNLOAD_DELAY = 1
# Scrapy's default varies each delay by +-50%: requests to one site 0.5 s apart, under the delay.
DOWNLOAD_DELAY_JITTER = 0
# AutoThrottle only ever lengthens the delay, for a site that answers slowly. It starts every
# site at DOWNLOAD_DELAY rather than Scrapy's 5 s.
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1
# CONCURRENT_REQUESTS, unless set, grows with the sources' hosts (neu_news.size_concurrency):
# Scrapy's 16 counts requests waiting out their site's delay, and kept all but a few sites idle.
RETRY_TIMES = 3
DOWNLOAD_TIMEOUT = 30
# Each callback yields at most one item; Scrapy's default of 100 starts 100 tasks per output.
CONCURRENT_ITEMS = 1
# Article pages are a few hundred kB at most; anything far larger is not an article.
DOWNLOAD_WARNSIZE = 4 * 1024 * 1024
DOWNLOAD_MAXSIZE = 16 * 1024 * 1024

# --- Components ---------------------------------------------------------------------------------
DOWNLOADER_MIDDLEWARES = {
    # Host and port of the sources only, redirects included (replaces the host-only check).
    "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,
    "crawler.middlewares.SourceHostsMiddleware": 50,
    # Scrapy's, at its place, without a traceback per unreachable host.
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "crawler.middlewares.RobotsTxtMiddleware": 100,
    "crawler.middlewares.RetryBackoffMiddleware": 560,
}

EXTENSIONS = {
    "crawler.extensions.StatsFile": 500,
    "crawler.extensions.StopOnMemoryError": 500,
    "crawler.extensions.LogLevelFloor": 500,
}
# Scrapy's Telnet console is a Python shell into the crawl (its only remote control): off unless
# asked for with -s TELNETCONSOLE_ENABLED=True.
TELNETCONSOLE_ENABLED = False
ITEM_PIPELINES = {
    "crawler.pipelines.FeedPipeline": 500,
}

# --- Output -------------------------------------------------------------------------------------
FEED_EXPORT_ENCODING = "utf-8"
LOG_LEVEL = "INFO"

# --- This project's own settings (read by the components that use them) ------------------------
# Who runs the crawl, in its User-Agent: an http(s) URL or an e-mail address.
NEU_CONTACT = branding.DEFAULT_BRANDING.contact
# NEU_SOURCES_FILE: TOML file of columns to crawl; the default ships in crawler/sources.toml.
NEU_SOURCES_FILE = ""
# Pause before the n-th retry of a request: base * 2**(n-1) seconds, capped.
NEU_RETRY_BACKOFF_BASE = 2.0
NEU_RETRY_BACKOFF_MAX = 60.0
# When set, the run's stats are written there as JSON at the end (the scheduler reads them).
NEU_STATS_FILE = ""
# Worker processes for article extraction (0: in the crawl's own process). Worth 1 or more only
# on large backfills with politeness off, where extraction is what limits the rate.
NEU_EXTRACT_PROCESSES = 0
# Upper bound on list pages walked per column in one run, whatever the pager says.
NEU_MAX_LIST_PAGES = 1000
# Bounds on what a site's claims cost, far above real sites (their list pages list 10 to 100
# articles and their pages have under 1,000 tags), each counted when hit: article links taken
# from one list page; new articles fetched in one run (a backfill past it goes on next run; a
# queued article costs about 2.3 kB until fetched: 50,000 peak at 203 MiB); tags of a page
# parsed at all (a page's tree costs about 0.5 kB a tag).
NEU_MAX_LINKS_PER_PAGE = 1000
NEU_MAX_ARTICLES_PER_RUN = 50_000
NEU_MAX_PAGE_TAGS = 50_000
# Data directory holding articles.jsonl, state.sqlite3 and the run lock; created if its parent
# exists. Empty turns the feed (and incremental crawling) off.
NEU_DATA_DIR = "data"
# redis://[:PASSWORD@]HOST:PORT/DB: known articles, walks and validators live in that Redis and
# records go to its feed stream (a worker's crawl, see scheduler.worker); NEU_DATA_DIR is then
# not used. Empty: the data directory. Taken from the environment variable of that name, which
# is how a URL with a password should be given (NEU_STATE_URL=... scrapy crawl neu_news): a
# process's environment is its user's to read, its argv (-s) everyone's, in ps.
NEU_STATE_URL = os.environ.get("NEU_STATE_URL", "")
# Feed lines are fsynced and the state committed every this many new lines (and at the end).
NEU_FEED_BATCH_SIZE = 20
# Known articles are fetched again (conditionally) to catch edits at these ages of their
# publication (first sight when undated), once each; steps already past when an article is
# first seen are not taken, so an old archive is never re-checked. Empty turns re-checks off.
NEU_RECHECK_AFTER = "1h,1d,7d"
# Re-checks one run sends at most, the most recently published first; the rest stay due.
NEU_RECHECK_BUDGET = 200
# Incremental runs read this many more list pages after the first page whose articles are all
# known.
NEU_LOOKBACK_PAGES = 0
