"""Dates as the NEU pages print them, to ISO 8601. Nothing is guessed: no match, no date."""

from __future__ import annotations

import re
from datetime import date, datetime

from crawler.items import CHINA_TZ

NUMERIC_DATE_RE = re.compile(
    r"(?<!\d)(?P<year>(?:19|20)\d{2})\s*(?:[-/.]|年)\s*(?P<month>\d{1,2})\s*(?:[-/.]|月)\s*"
    r"(?P<day>\d{1,2})(?!\d)\s*日?"
    r"(?:\s*(?P<hour>\d{1,2})\s*[:：时]\s*(?P<minute>\d{2})(?:\s*[:：分]\s*(?P<second>\d{2}))?)?"
)
MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"),
            ("may",), ("june", "jun"), ("july", "jul"), ("august", "aug"),
            ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}  # fmt: skip
_MONTH_NAMES = "|".join(sorted(MONTHS, key=len, reverse=True))
ENGLISH_DATE_RES = (
    # March 16, 2018 / Mar. 16 2018
    re.compile(
        rf"\b(?P<month>{_MONTH_NAMES})\.?\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s*,?\s*"
        rf"(?P<year>(?:19|20)\d{{2}})\b",
        re.IGNORECASE,
    ),
    # 16 March 2018
    re.compile(
        rf"\b(?P<day>\d{{1,2}})\s+(?P<month>{_MONTH_NAMES})\.?\s*,?\s*(?P<year>(?:19|20)\d{{2}})\b",
        re.IGNORECASE,
    ),
)


def parse_date(text: str | None) -> str | None:
    """The first date in *text* as ``YYYY-MM-DD``, or ``YYYY-MM-DDTHH:MM:SS+08:00`` with a time."""
    if not text:
        return None
    match = NUMERIC_DATE_RE.search(text)
    if match:
        return _iso(
            int(match["year"]),
            int(match["month"]),
            int(match["day"]),
            match["hour"],
            match["minute"],
            match["second"],
        )
    for pattern in ENGLISH_DATE_RES:
        match = pattern.search(text)
        if match:
            month = MONTHS[match["month"].lower()]
            return _iso(int(match["year"]), month, int(match["day"]), None, None, None)
    return None


def _iso(
    year: int, month: int, day: int, hour: str | None, minute: str | None, second: str | None
) -> str | None:
    try:
        if hour is None or minute is None:
            return date(year, month, day).isoformat()
        moment = datetime(year, month, day, int(hour), int(minute), int(second or 0))
    except ValueError:
        return None
    return moment.replace(tzinfo=CHINA_TZ).isoformat()
