"""Where a backfill's CPU goes: one backfill of the replica under cProfile, by stage.

The crawl runs as ``python -m cProfile -o FILE -m scrapy crawl neu_news`` with extraction in
its own process (the default), so that one profile holds everything. Each stage is the
cumulative time of the functions that do it, less the stages they call:

* decode: response bytes to text (``decode_html``);
* parse: text to a tree (``load_html``, article and list pages);
* extract: article trees to records (``record_of_page`` less its parse), list trees to links;
* dedup: filing a record (``Store.add``: hashes, state look-ups and rows) less its feed write
  and commits;
* feed write: encoding lines and ``write`` (``FeedWriter.append``), ``fsync`` (``sync``);
* state commit: SQLite commits (``State.commit``);
* download/Scrapy: the rest (Twisted, Scrapy's engine, middlewares, the spider's callbacks).

cProfile times with the wall clock: ``fsync`` and SQLite's commit mostly wait for the disk,
which costs no CPU (a backfill committing 20 times less often spends no less CPU), so their
own time is a line of its own, "waiting on the disk", outside the stages. cProfile also slows
Python calls down unevenly (many small calls more than a few long C calls), so the shares say
where the time goes, not what each stage costs without the profiler.
``python -m benchmarks.cpu_profile`` serves a replica of its own and prints the breakdown and the
top entries by own time.
"""

from __future__ import annotations

import logging
import pstats
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.crawls import crawl_argv, measure
from benchmarks.replica_host import ReplicaHost
from benchmarks.replica_options import replica_parser

logger = logging.getLogger(__name__)

# A pstats key: (file, line, function name).
Key = tuple[str, int, str]
# (file suffix, function name) of what each stage calls, and of what it calls that belongs to
# another stage (subtracted).
DECODE = ("crawler/extract/decoding.py", "decode_html")
PARSE = ("crawler/extract/decoding.py", "load_html")
RECORD = ("crawler/extract/record.py", "record_of_page")
LIST = ("crawler/extract/listing.py", "parse_list")
ADD = ("crawler/store/datadir.py", "add")
APPEND = ("crawler/store/feed.py", "append")
SYNC = ("crawler/store/feed.py", "sync")
WRITE = ("crawler/store/datadir.py", "_write")
FLUSH = ("crawler/store/datadir.py", "flush")
COMMIT = ("crawler/store/state.py", "commit")
# Built-ins that wait for the disk (their own time, not their callers').
DISK_WAITS = ("<built-in method posix.fsync>", "<method 'commit' of 'sqlite3.Connection' objects>")
TOP_ENTRIES = 25


@dataclass(frozen=True)
class Stage:
    name: str
    seconds: float


class Profile:
    """A pstats profile, looked up by (file suffix, function name)."""

    def __init__(self, path: Path) -> None:
        self.stats = pstats.Stats(str(path))
        self.table: dict[Key, Any] = self.stats.stats  # type: ignore[attr-defined]
        self.total: float = self.stats.total_tt  # type: ignore[attr-defined]

    def key(self, where: tuple[str, str]) -> Key | None:
        suffix, name = where
        return next((key for key in self.table if key[2] == name and key[0].endswith(suffix)), None)

    def cumulative(self, where: tuple[str, str]) -> float:
        key = self.key(where)
        return float(self.table[key][3]) if key is not None else 0.0

    def cumulative_from(self, where: tuple[str, str], caller: tuple[str, str]) -> float:
        """The cumulative time of *where* in its calls from *caller*."""
        key, caller_key = self.key(where), self.key(caller)
        if key is None or caller_key is None:
            return 0.0
        calls = self.table[key][4].get(caller_key)
        return float(calls[3]) if calls is not None else 0.0

    def own(self, builtin: str) -> float:
        """The own time of a built-in function or method, as pstats names it."""
        return sum(float(value[2]) for key, value in self.table.items() if key[2] == builtin)

    def stages(self) -> list[Stage]:
        parse = self.cumulative(PARSE)
        article_parse = self.cumulative_from(PARSE, ("crawler/extract/article.py", "parse_article"))
        list_parse = self.cumulative_from(PARSE, LIST)
        extract = self.cumulative(RECORD) - article_parse + self.cumulative(LIST) - list_parse
        fsync, sqlite_commit = (self.own(name) for name in DISK_WAITS)
        feed = self.cumulative(APPEND) + self.cumulative(SYNC) - fsync
        commit = self.cumulative(COMMIT) - sqlite_commit
        # A record's filing appends its line and, every batch, syncs the feed and commits.
        written = self.cumulative_from(APPEND, WRITE) + self.cumulative_from(FLUSH, WRITE)
        dedup = self.cumulative(ADD) - written
        measured = [
            Stage("decode", self.cumulative(DECODE)),
            Stage("parse", parse),
            Stage("extract", extract),
            Stage("dedup", dedup),
            Stage("feed write", feed),
            Stage("state commit", commit),
        ]
        waits = Stage("waiting on the disk", fsync + sqlite_commit)
        rest = self.total - waits.seconds - sum(stage.seconds for stage in measured)
        return [Stage("download/Scrapy", rest), *measured, waits]

    def top(self, count: int = TOP_ENTRIES) -> list[tuple[str, int, float, float]]:
        """(function, calls, own seconds, cumulative seconds) of the *count* largest own times."""
        rows = sorted(self.table.items(), key=lambda item: item[1][2], reverse=True)[:count]
        return [(_name(key), int(value[1]), value[2], value[3]) for key, value in rows]


def _name(key: Key) -> str:
    path, line, function = key
    if path == "~":
        return function  # a built-in: {method 'xpath' of 'lxml.etree._Element' objects}
    parts = Path(path).parts
    # The path from the package down: site-packages/trafilatura/core.py -> trafilatura/core.py
    for anchor in ("site-packages", "main", "cpu-mirror"):
        if anchor in parts:
            parts = parts[parts.index(anchor) + 1 :]
            break
    return f"{'/'.join(parts[-3:])}:{line}({function})"


def profile_backfill(host: ReplicaHost, out: Path) -> tuple[Profile, int]:
    """A backfill of *host* under cProfile: the profile and the articles it wrote."""
    out.mkdir()
    stats_path, profile_path = out / "stats.json", out / "backfill.prof"
    argv = crawl_argv(host.sources_path, out / "data", stats_path, mode="backfill")
    scrapy_at = argv.index("-m")
    argv[scrapy_at:scrapy_at] = ["-m", "cProfile", "-o", str(profile_path)]
    measured = measure(host, argv, stats_path, out / "stderr.log")
    return Profile(profile_path), measured.stat("neu/articles/new")


def breakdown(profile: Profile, articles: int) -> dict[str, Any]:
    """The stages (seconds, ms per article, share) and top entries, as JSON."""
    return {
        "articles": articles,
        "profiled_seconds": profile.total,
        "stages": [
            {
                "stage": stage.name,
                "seconds": stage.seconds,
                "ms_per_article": 1000 * stage.seconds / articles,
                "share": stage.seconds / profile.total,
            }
            for stage in profile.stages()
        ],
        "top": [
            {"function": name, "calls": calls, "own_seconds": own, "cumulative_seconds": cum}
            for name, calls, own, cum in profile.top()
        ],
    }


def format_breakdown(found: dict[str, Any]) -> str:
    lines = [f"{found['articles']:,} articles, {found['profiled_seconds']:.2f} s profiled"]
    lines += [
        f"  {s['stage']:<20} {s['seconds']:7.2f} s {s['ms_per_article']:6.3f} ms/art "
        f"{100 * s['share']:5.1f} %"
        for s in found["stages"]
    ]
    lines.append("Top entries by own time (calls, own s, cumulative s):")
    lines += [
        f"  {t['calls']:>9} {t['own_seconds']:7.3f} {t['cumulative_seconds']:7.3f}  {t['function']}"
        for t in found["top"]
    ]
    return "\n".join(lines)


def run(host: ReplicaHost, work: Path) -> dict[str, Any]:
    logger.info("Profile: one backfill under cProfile")
    profile, articles = profile_backfill(host, work / "profile-backfill")
    return breakdown(profile, articles)


def main(argv: Sequence[str] | None = None) -> int:
    parser = replica_parser("python -m benchmarks.cpu_profile", __doc__)
    parser.add_argument("--keep", type=Path, help="keep the profile and logs in this new folder")
    args = parser.parse_args(argv)
    if args.keep is not None and args.keep.exists():
        parser.error(f"--keep {args.keep}: already exists")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="neu-bench-profile-") as temporary:
        work = args.keep or Path(temporary)
        work.mkdir(parents=True, exist_ok=args.keep is None)
        sources = work / "sources.toml"
        with ReplicaHost(args.seed, args.articles_per_column, args.page_size, sources) as host:
            host.expected_records()  # the replica generates every body: not in the profile
            found = run(host, work)
    print(format_breakdown(found))
    return 0


if __name__ == "__main__":
    sys.exit(main())
