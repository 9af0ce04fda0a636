"""What a crawl's stats say about each source, and when that is worth an alert. Pure functions.

An exit code of 0 proves nothing: a CMS change leaves the crawl "finished" with nothing found.
So each source is judged on its own figures: list pages that yield no article links, or
articles that mostly lack a title, a date or a body, mean its layout changed under us.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from crawler import stats as crawl_stats
from scheduler.config import HealthRules

OK = "ok"
DEGRADED = "degraded"
FAILED = "failed"
SKIPPED = "skipped"
SEVERITY = {OK: 0, DEGRADED: 1, FAILED: 2}
ALERT = "alert"
RECOVERY = "recovery"
# Each counted article field, and the word for it in messages.
WORDS = {"title": "title", "published": "date", "text": "body"}
FIELDS = tuple((field, WORDS[field]) for field in crawl_stats.COUNTED_FIELDS)


@dataclass(frozen=True)
class Figures:
    """One source's counters in one crawl."""

    list_pages: int = 0
    article_links: int = 0
    articles: int = 0
    new: int = 0
    updated: int = 0
    missing: Mapping[str, int] = field(default_factory=dict)  # field -> articles lacking it


@dataclass(frozen=True)
class Verdict:
    status: str
    problem: str = ""


@dataclass(frozen=True)
class SourceHealth:
    status: str
    problems: tuple[str, ...]
    # The article check to judge the next inconclusive run by: this run's, or the one before.
    articles: Verdict | None


@dataclass(frozen=True)
class SourceState:
    """A source's health across runs, kept in health.json so restarts do not re-alert."""

    status: str = OK
    problems: tuple[str, ...] = ()
    streak: int = 0  # consecutive degraded or failed runs
    alerted: bool = False  # the current incident's alert has fired
    since: str | None = None  # end of the first run of the current incident
    last_run: str | None = None
    last_ok: str | None = None
    articles: Verdict | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> tuple[SourceState, list[str]]:
        """The state in a health.json entry, and what in it was unreadable, each left out: its
        default stands (failed for the status), so a bad field costs that field only."""
        problems: list[str] = []

        def read(key: str, default: Any, problem_of: Callable[[Any], str | None]) -> Any:
            if key not in data:
                return default
            problem = problem_of(data[key])
            if problem is None:
                return data[key]
            problems.append(f"{key} {data[key]!r} {problem}")
            return default

        articles = read("articles", None, _verdict_problem)
        state = cls(
            status=read("status", FAILED, _status_problem),
            problems=tuple(read("problems", (), _texts_problem)),
            streak=read("streak", 0, _count_problem),
            alerted=read("alerted", False, _flag_problem),
            since=read("since", None, _optional_time_problem),
            last_run=read("last_run", None, _optional_time_problem),
            last_ok=read("last_ok", None, _optional_time_problem),
            articles=Verdict(**articles) if articles else None,
        )
        return state, problems


@dataclass(frozen=True)
class Notice:
    """An alert (a source unhealthy for N runs) or a recovery (healthy again after an alert)."""

    kind: str
    source: str
    status: str
    problems: tuple[str, ...]
    runs: int  # unhealthy runs so far (alert) or in the whole incident (recovery)
    since: str | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def parse_time(value: object) -> datetime | None:
    """The moment an ISO 8601 time with its zone names; None for anything else."""
    moment = _moment(value)
    return moment if moment is not None and moment.tzinfo is not None else None


def time_problem(value: object) -> str | None:
    """Why *value* is no ISO 8601 time with its zone (as the scheduler writes); None if it is."""
    moment = _moment(value)
    if moment is None:
        return "is not a time"
    return None if moment.tzinfo is not None else "has no time zone"


def _moment(value: object) -> datetime | None:
    """What an ISO 8601 string names, with its zone or without; None if it names nothing."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _optional_time_problem(value: object) -> str | None:
    return None if value is None else time_problem(value)


def _status_problem(value: object) -> str | None:
    return None if value in SEVERITY else f"is not one of {', '.join(SEVERITY)}"


def _texts_problem(value: object) -> str | None:
    texts = isinstance(value, list) and all(isinstance(item, str) for item in value)
    return None if texts else "is not a list of texts"


def _count_problem(value: object) -> str | None:
    count = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return None if count else "is not a count"


def _flag_problem(value: object) -> str | None:
    return None if isinstance(value, bool) else "is not true or false"


def _verdict_problem(value: object) -> str | None:
    if value is None:
        return None
    verdict = (
        isinstance(value, dict)
        and set(value) == {"status", "problem"}
        and value["status"] in SEVERITY
        and isinstance(value["problem"], str)
    )
    return None if verdict else "is not a verdict"


def source_figures(stats: Mapping[str, Any], name: str) -> Figures:
    def count(key: str) -> int:
        return crawl_stats.read(stats, key, source=name)

    return Figures(
        list_pages=count(crawl_stats.LIST_PAGES),
        article_links=count(crawl_stats.ARTICLE_LINKS),
        articles=count(crawl_stats.ARTICLES),
        new=count(crawl_stats.NEW),
        updated=count(crawl_stats.UPDATED),
        missing={key: count(crawl_stats.missing(key)) for key, _ in FIELDS},
    )


def crawl_failure(exit_code: int, stats: Mapping[str, Any] | None, error: str = "") -> str:
    """Why the crawl as a whole failed, or "" if it finished. *error*: what stopped it, if known."""
    if error:
        return error
    if stats is None:
        return f"no stats written (exit code {exit_code})"
    reason = stats.get(crawl_stats.FINISH_REASON)
    if reason != "finished":
        return f"finish reason {reason!r}"
    if exit_code != 0:
        return f"exit code {exit_code}"
    return ""


def list_verdict(figures: Figures) -> Verdict:
    if figures.list_pages == 0:
        return Verdict(FAILED, "no list page fetched")
    if figures.article_links == 0:
        pages = figures.list_pages
        return Verdict(DEGRADED, f"no article links on {pages} list page{'s' * (pages > 1)}")
    return Verdict(OK)


def article_verdict(figures: Figures, rules: HealthRules) -> Verdict | None:
    """Degraded when most parsed articles lack a field; None when too few were parsed to tell."""
    parsed = figures.articles
    if parsed < rules.min_articles:
        return None
    lacking = [
        f"no {word} on {figures.missing.get(key, 0)} of {parsed} articles"
        for key, word in FIELDS
        if figures.missing.get(key, 0) > rules.missing_fraction * parsed
    ]
    return Verdict(DEGRADED, "; ".join(lacking)) if lacking else Verdict(OK)


def assess_source(
    figures: Figures, failure: str, carried: Verdict | None, rules: HealthRules
) -> SourceHealth:
    """One source's health in one run.

    A run that parsed too few of its articles (all known, rechecks answered 304) says nothing
    about the article pages: the last conclusive article check stands, so a layout break seen
    once is not forgotten the next run, when its pages are no longer re-fetched.
    """
    if failure:
        return SourceHealth(FAILED, (f"crawl failed: {failure}",), carried)
    fresh = article_verdict(figures, rules)
    checks = [list_verdict(figures)]
    if fresh is not None:
        checks.append(fresh)
    elif carried is not None and carried.status != OK:
        checks.append(replace(carried, problem=f"{carried.problem} (earlier run)"))
    status = max((check.status for check in checks), key=SEVERITY.__getitem__)
    problems = tuple(check.problem for check in checks if check.status != OK)
    return SourceHealth(status, problems, fresh if fresh is not None else carried)


def run_outcome(failure: str, health: Mapping[str, SourceHealth]) -> str:
    """failed: the crawl failed or no source was crawled; degraded: some source is not ok."""
    statuses = [item.status for item in health.values()]
    if failure or all(status == FAILED for status in statuses):
        return FAILED
    return OK if all(status == OK for status in statuses) else DEGRADED


def error_counts(stats: Mapping[str, Any]) -> dict[str, Any]:
    """Errors by kind: download exceptions by class, HTTP statuses >= 400, logged ERRORs."""
    exceptions: dict[str, int] = {}
    for key, value in stats.items():
        if key.startswith(crawl_stats.EXCEPTION_PREFIX):
            name = key.removeprefix(crawl_stats.EXCEPTION_PREFIX).rpartition(".")[2]
            exceptions[name] = exceptions.get(name, 0) + int(value)
    http: dict[str, int] = {}
    for key, value in stats.items():
        code = key.removeprefix(crawl_stats.STATUS_PREFIX)
        if key.startswith(crawl_stats.STATUS_PREFIX) and code.isdigit() and int(code) >= 400:
            http[code] = int(value)
    return {
        "exceptions": exceptions,
        "http": http,
        "log_errors": int(stats.get(crawl_stats.LOG_ERRORS, 0)),
        "retries": int(stats.get(crawl_stats.RETRIES, 0)),
    }


def error_total(errors: Mapping[str, Any]) -> int:
    """Exceptions, HTTP errors and logged ERRORs together (retries are not errors of their own)."""
    counts = [*errors.get("exceptions", {}).values(), *errors.get("http", {}).values()]
    return sum(int(count) for count in counts) + int(errors.get("log_errors", 0))


def advance(
    name: str, previous: SourceState, health: SourceHealth, when: str, alert_after: int
) -> tuple[SourceState, Notice | None]:
    """The source's state after one more run, and the notice that run calls for, if any.

    One alert per incident, when it reaches *alert_after* consecutive unhealthy runs; one
    recovery when a source that was alerted about is healthy again; nothing else.
    """
    if health.status == OK:
        state = SourceState(last_run=when, last_ok=when, articles=health.articles)
        if not previous.alerted:
            return state, None
        notice = Notice(RECOVERY, name, OK, (), previous.streak, previous.since)
        return state, notice
    streak = previous.streak + 1
    fire = not previous.alerted and streak >= alert_after
    state = SourceState(
        status=health.status,
        problems=health.problems,
        streak=streak,
        alerted=previous.alerted or fire,
        since=previous.since or when,
        last_run=when,
        last_ok=previous.last_ok,
        articles=health.articles,
    )
    if not fire:
        return state, None
    return state, Notice(ALERT, name, health.status, health.problems, streak, state.since)
