"""``neu-news extract FILE``: the record of one stored article page, as the crawl would file it.

The page goes through the crawl's own decoder and ``record_of_page``, so what this prints is
what a crawl of the page would write, but for what only a crawl knows: the columns listing it
(none here) and when it was fetched (``crawled_at`` is now).
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

from crawler.commandline import CONFIG_ERROR_EXIT, ConfigError

STDIN = "-"
# Stands in for the URL a stored page was fetched from: `.invalid` never resolves (RFC 2606).
PLACEHOLDER_BASE = "https://example.invalid/"
DEFAULT_SOURCE = "local"
DEFAULT_LANGUAGE = "zh"
# Markup that only HTML has, near the start of a page: a text file is not an article page.
HTML_MARKUP_RE = re.compile(r"<\s*(?:!doctype\s+html|html|head|body|title|meta|div|p)\b", re.I)
SNIFF_CHARS = 65536


def add_command(commands: Any) -> None:
    """Add ``extract`` to the ``neu-news`` subcommands."""
    extract = commands.add_parser(
        "extract",
        help="print the record of one stored article page as JSON",
        description="Print the record of one stored article page as one JSON object (the "
        "record of a feed line), read by the same code as the crawl.",
    )
    extract.set_defaults(run=run_extract)
    extract.add_argument(
        "file",
        metavar="FILE",
        help="the page as fetched (any encoding the crawl reads); - for stdin",
    )
    extract.add_argument(
        "--url",
        help="the URL the page was fetched from: it gives the record's url (canonical form), id "
        f"and site, and resolves the page's relative links (images, attachments); default "
        f"{PLACEHOLDER_BASE}<file name>",
    )
    extract.add_argument(
        "--source",
        default=DEFAULT_SOURCE,
        metavar="NAME",
        help=f"the record's source name (default {DEFAULT_SOURCE})",
    )
    extract.add_argument(
        "--language",
        default=DEFAULT_LANGUAGE,
        metavar="LANG",
        help=f"the record's language, as a source's: zh or en (default {DEFAULT_LANGUAGE})",
    )
    extract.add_argument(
        "--cms",
        metavar="CMS",
        help="the source's CMS hint, vsb or webplus, for a page without the CMS's fingerprints",
    )


def run_extract(options: argparse.Namespace) -> int:
    # trafilatura warns of an empty body; this command's only word on a page is its own line.
    logging.getLogger("trafilatura").setLevel(logging.ERROR)
    try:
        record = extract_record(
            options.file,
            options.url,
            source=options.source,
            language=options.language,
            cms=options.cms,
        )
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return CONFIG_ERROR_EXIT
    # Imported here, as the parser is: ``feed`` and ``export`` do not pay for either.
    from crawler.store.feed import encode_line

    sys.stdout.buffer.write(encode_line(record))
    sys.stdout.buffer.flush()
    return 0


def extract_record(
    file: str, url: str | None, *, source: str, language: str, cms: str | None
) -> dict[str, Any]:
    """The record of the page in *file* (``-``: stdin) fetched at *url*; ``ConfigError`` when
    the options are bad, the file cannot be read, or it holds no article."""
    from crawler.branding import is_http_url
    from crawler.extract.decoding import decode_html
    from crawler.extract.record import record_of_page
    from crawler.items import utc_now
    from crawler.sources import CMS_NAMES, LANGUAGES, NAME_RE, Source

    if not NAME_RE.fullmatch(source):
        raise ConfigError(f"--source {source!r}: expected a lower-case name like 'neunews-ddyw'")
    if language not in LANGUAGES:
        raise ConfigError(f"--language {language!r}: use {' or '.join(LANGUAGES)}")
    if cms is not None and cms not in CMS_NAMES:
        raise ConfigError(f"--cms {cms!r}: use {' or '.join(CMS_NAMES)}")
    if url is not None and not is_http_url(url):
        raise ConfigError(
            f"--url {url!r}: expected an http(s) URL like 'https://news.example.edu.cn/info/1/2.htm'"
        )
    where = "stdin" if file == STDIN else file
    html = decode_html(read_page(file), None)
    page_url = url or placeholder_url(file)
    # The profile a source with these keys gets in the crawl (its family's, tried first).
    profile = Source(source, (page_url,), language, cms=cms).profile
    record = (
        record_of_page(
            html,
            page_url,
            source=source,
            language=language,
            columns=[],
            cms=cms,
            crawled_at=utc_now(),
            profile=profile,
        )
        if HTML_MARKUP_RE.search(html, 0, SNIFF_CHARS)
        else None
    )
    if record is None:
        raise ConfigError(f"{where}: not an HTML page (empty, binary or without markup)")
    if not record["title"] and not record["text"]:
        raise ConfigError(f"{where}: no article on the page (no title and no text)")
    return dict(record)


def read_page(file: str) -> bytes:
    """The bytes of *file*, or of stdin for ``-``."""
    if file == STDIN:
        return sys.stdin.buffer.read()
    try:
        return Path(file).read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{file}: no such file") from None
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read: {exc.strerror or exc}") from None


def placeholder_url(file: str) -> str:
    """The URL a page is taken to be at when ``--url`` is not given: its file name on a host
    that does not exist."""
    name = "stdin" if file == STDIN else Path(file).name
    return PLACEHOLDER_BASE + quote(name)
