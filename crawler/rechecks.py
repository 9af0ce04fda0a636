"""When a known article is fetched again, conditionally, to catch an edit. Pure policy, stdlib only.

An article is re-checked on a schedule set by the age of its publication: once at each step
after its *anchor* (the ``published`` moment; its first sight when undated), by default about
1 h, 1 d and 7 d after it. Each article keeps the moment up to which its steps are done
(*checked*): its first sight at first, so that steps already past then count as done (an
archive article older than the last step when first seen is never re-checked), then the arrival
of each re-check's response (a failed one leaves its steps due). A run that finds several steps
due sends one request and consumes them all. A run sends at most its budget of re-checks, the
most recently published first; the rest stay due for the next run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol, TypeVar

from crawler.items import CHINA_TZ

DAY_SECONDS = 86_400
# What ``-a recheck=`` may ask for: every known article of the crawled sources, once.
RECHECK_ALL = "all"


class Scheduled(Protocol):
    """A known article as the schedule sees it (Unix seconds)."""

    @property
    def anchor(self) -> int: ...
    @property
    def checked(self) -> int: ...


ScheduledT = TypeVar("ScheduledT", bound=Scheduled)


@dataclass(frozen=True)
class Schedule:
    """The re-check steps (seconds after the anchor, ascending; none: re-checks are off) and the
    most re-checks one run sends."""

    steps: tuple[int, ...]
    budget: int

    @property
    def last_step(self) -> int:
        """The latest step (0 when re-checks are off): past it, nothing is due again."""
        return self.steps[-1] if self.steps else 0

    def is_due(self, anchor: int, checked: int, now: int) -> bool:
        """Whether a step not done by *checked* has come by *now*."""
        return any(checked < anchor + step <= now for step in self.steps)

    def pick(
        self, candidates: Iterable[ScheduledT], now: int
    ) -> tuple[list[ScheduledT], list[ScheduledT]]:
        """The due *candidates* this run re-checks (within the budget, the most recently
        published first), and those due but left for a later run."""
        due = [each for each in candidates if self.is_due(each.anchor, each.checked, now)]
        due.sort(key=lambda each: each.anchor, reverse=True)
        return due[: self.budget], due[self.budget :]


def epoch(text: object) -> int | None:
    """An ISO 8601 date-time as Unix seconds (one without an offset is Beijing time, as the
    pages give it); None for anything else."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=CHINA_TZ)
    return int(moment.timestamp())


def anchor_of(published: object, seen: int) -> int:
    """The moment an article's re-checks count from: its publication, as far as ``published``
    tells it, else *seen* (its first sight).

    A date without a time is a Beijing day, and the article was out by its first sight: the
    anchor is the first sight when that falls on the day, else the day's end nearest to it (an
    old article's steps count from the end of its day).
    """
    if isinstance(published, str) and len(published) == len("2024-09-01"):
        try:
            day = date.fromisoformat(published)
        except ValueError:
            return seen
        start = int(datetime(day.year, day.month, day.day, tzinfo=CHINA_TZ).timestamp())
        return min(max(seen, start), start + DAY_SECONDS)
    moment = epoch(published)
    return seen if moment is None else moment
