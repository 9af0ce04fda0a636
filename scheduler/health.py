"""What a crawl's stats say about each source, and when that is worth an alert. Pure functions.

An exit code of 0 proves nothing: a CMS change leaves the crawl "finished" with nothing found.
So each source is judged on its own figures: list pages that yield no article links, or
articles that mostly lack a title, a date or a body, mean its layout changed under us.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from crawler import stats as crawl_stats
from crawler.outcome import FINISHED, SHUTDOWN, SourceOutcome, crawl_exit_code, failure_class
from scheduler.config import HealthRules

OK = "ok"
DEGRADED = "degraded"
FAILED = "failed"
SKIPPED = "skipped"
# A run our own shutdown ended in time; a source such a run did not show healthy.
STOPPED = "stopped"
SEVERITY = {OK: 0, DEGRADED: 1, FAILED: 2}
# What a run checks of a source, each on its own: a run that cannot check one (a list page
# answering 304 shows no links; known articles are not parsed) keeps the last check of it.
CRAWL = "crawl"  # the crawl as a whole: it finished
FETCH = "fetch"  # its list pages were reached
LISTING = "listing"  # they link to articles
ARTICLES = "articles"  # its parsed articles have their fields
ASPECTS = (CRAWL, FETCH, LISTING, ARTICLES)
# The failure class (crawler.outcome.failure_class) of a problem with each aspect; a fetch
# problem's class is that of its reason.
ASPECT_CLASS = {CRAWL: "other", LISTING: "layout", ARTICLES: "layout"}
# Reasons of problems that no request failure names.
CRAWL_FAILED = "crawl_failed"
NO_ARTICLE_LINKS = "no_article_links"
MISSING_FIELDS = "missing_fields"
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
    not_modified: int = 0  # columns whose first list page answered 304: unchanged


@dataclass(frozen=True)
class Check:
    """What a run found of one aspect of a source (ASPECTS)."""

    status: str
    problem: str = ""
    reason: str = ""  # a short token for the problem: DNSLookupError, http_404, no_article_links
    run: str = ""  # the run that found it
    kept: int = 0  # runs since, in a row, that could not check it again

    @property
    def shown(self) -> str:
        """The problem as status shows it: a kept one says so."""
        return f"{self.problem} (earlier run)" if self.kept else self.problem


@dataclass(frozen=True)
class SourceHealth:
    """One source in one run: its status, why, and the checks it stands on."""

    status: str
    problems: tuple[str, ...]
    # The checks to keep until a later run checks again; None: the run does not count for the
    # source (stopped by the scheduler before it showed the source healthy).
    checks: Mapping[str, Check] | None
    failure_class: str | None = None  # of the worst problem: network, http, robots, layout…
    reason: str | None = None
    fetched: bool = False  # a list page of it was read, or answered 304
    expired: tuple[str, ...] = ()  # verdicts kept too long: dropped by this run


@dataclass(frozen=True)
class Acknowledgement:
    """Someone knows about the current incident: no alert for it; it ends when it does."""

    by: str
    at: str
    note: str = ""


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
    last_fetched: str | None = None  # end of the last run that read (or 304'd) a list page
    checks: Mapping[str, Check] = field(default_factory=dict)  # by aspect
    ack: Acknowledgement | None = None

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

        ack = read("ack", None, _ack_problem)
        state = cls(
            status=read("status", FAILED, _status_problem),
            problems=tuple(read("problems", (), _texts_problem)),
            streak=read("streak", 0, _count_problem),
            alerted=read("alerted", False, _flag_problem),
            since=read("since", None, _optional_time_problem),
            last_run=read("last_run", None, _optional_time_problem),
            last_ok=read("last_ok", None, _optional_time_problem),
            last_fetched=read("last_fetched", None, _optional_time_problem),
            checks={
                aspect: Check(**check)
                for aspect, check in read("checks", {}, _checks_problem).items()
            },
            ack=Acknowledgement(**ack) if ack else None,
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


def _checks_problem(value: object) -> str | None:
    checks = isinstance(value, dict) and all(
        aspect in ASPECTS and _check_problem(check) is None for aspect, check in value.items()
    )
    return None if checks else "is not an object of checks"


def _check_problem(value: object) -> str | None:
    texts = ("problem", "reason", "run")
    check = (
        isinstance(value, dict)
        and set(value) == {"status", "kept", *texts}
        and value["status"] in SEVERITY
        and all(isinstance(value[key], str) for key in texts)
        and _count_problem(value["kept"]) is None
    )
    return None if check else "is not a check"


def _ack_problem(value: object) -> str | None:
    if value is None:
        return None
    ack = (
        isinstance(value, dict)
        and set(value) == {"by", "at", "note"}
        and isinstance(value["by"], str)
        and isinstance(value["note"], str)
        and time_problem(value["at"]) is None
    )
    return None if ack else "is not an acknowledgement"


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
        not_modified=count(crawl_stats.LIST_NOT_MODIFIED),
    )


def crawl_failure(
    exit_code: int,
    stats: Mapping[str, Any] | None,
    outcomes: Sequence[SourceOutcome],
    error: str = "",
    stopped: bool = False,
) -> str:
    """Why the crawl as a whole failed, or "" if it finished, or ended by our own *stopped*
    SIGTERM in time. *error*: what stopped it, if known. An exit code that says some or all
    sources failed (crawler.outcome) is no failure of the crawl: those sources' health says it.
    """
    if error:
        return error
    if stats is None:
        return f"no stats written (exit code {exit_code})"
    reason = stats.get(crawl_stats.FINISH_REASON)
    if stopped and reason == SHUTDOWN:
        return ""
    if reason != FINISHED:
        return f"finish reason {reason!r}"
    if exit_code != crawl_exit_code(reason, outcomes):
        return f"exit code {exit_code}"
    return ""


def fetch_check(outcome: SourceOutcome) -> Check:
    """Whether the source's list pages were reached: failed when none was, degraded when some
    of its columns were not; why, by class and reason."""
    if outcome.reason is None:
        return Check(OK)
    why = f"({outcome.failure_class}: {outcome.reason})"
    if not outcome.fetched:
        return Check(FAILED, f"not fetched {why}", outcome.reason)
    columns = sum(outcome.failures.values())
    return Check(
        DEGRADED, f"{columns} column{'s' * (columns > 1)} not fetched {why}", outcome.reason
    )


def list_check(figures: Figures) -> Check | None:
    """Degraded when its list pages yield no article links; None when none was read (304)."""
    pages = figures.list_pages
    if pages == 0:
        return None
    if figures.article_links == 0:
        problem = f"no article links on {pages} list page{'s' * (pages > 1)}"
        return Check(DEGRADED, problem, NO_ARTICLE_LINKS)
    return Check(OK)


def article_check(figures: Figures, rules: HealthRules) -> Check | None:
    """Degraded when most parsed articles lack a field; None when too few were parsed to tell."""
    parsed = figures.articles
    if parsed < rules.min_articles:
        return None
    lacking = [
        f"no {word} on {figures.missing.get(key, 0)} of {parsed} articles"
        for key, word in FIELDS
        if figures.missing.get(key, 0) > rules.missing_fraction * parsed
    ]
    return Check(DEGRADED, "; ".join(lacking), MISSING_FIELDS) if lacking else Check(OK)


@dataclass(frozen=True)
class RunFacts:
    """What a run was, as each source's assessment needs it."""

    run_id: str
    failure: str  # why the crawl as a whole failed; "" if it did not
    stopped: bool  # the scheduler's shutdown ended the crawl: no problem it saw counts


def assess_source(
    figures: Figures,
    outcome: SourceOutcome,
    run: RunFacts,
    kept: Mapping[str, Check],
    rules: HealthRules,
) -> SourceHealth:
    """One source's health in one run, from what this run checked and, for what it could not
    check (list pages answering 304, articles all known), the *kept* checks of earlier runs.

    A kept check expires after ``rules.expire_after`` runs in a row that could not check it
    again. A run cut short (the crawl failed, or our shutdown stopped it) counts only what it
    saw healthy: a source it showed healthy (list pages with article links, nothing else kept
    amiss) is ok; otherwise the crawl's failure is the source's, and a stopped run does not
    count for the source at all.
    """
    fresh = {
        FETCH: fetch_check(outcome),
        LISTING: list_check(figures),
        ARTICLES: article_check(figures, rules),
    }
    earlier = {aspect: check for aspect, check in kept.items() if aspect != CRAWL}
    if run.failure or run.stopped:
        seen = {
            aspect: replace(check, run=run.run_id)
            for aspect, check in fresh.items()
            if check is not None and check.status == OK
        }
        checks = {**earlier, **seen}
        if LISTING in seen and all(check.status == OK for check in checks.values()):
            return judged(checks, outcome.fetched)
        if run.stopped:
            return SourceHealth(STOPPED, (), None, fetched=outcome.fetched)
        failed = Check(FAILED, f"crawl failed: {run.failure}", CRAWL_FAILED, run.run_id)
        return judged({CRAWL: failed, **earlier}, outcome.fetched)
    checks = {}
    expired = []
    for aspect, check in fresh.items():
        if check is not None:
            checks[aspect] = replace(check, run=run.run_id)
        elif (old := earlier.get(aspect)) is not None:
            if old.kept + 1 < rules.expire_after:
                checks[aspect] = replace(old, kept=old.kept + 1)
            elif old.status != OK:
                expired.append(old.problem)
    return judged(checks, outcome.fetched, tuple(expired))


def judged(
    checks: Mapping[str, Check], fetched: bool, expired: tuple[str, ...] = ()
) -> SourceHealth:
    """The health the *checks* add up to: the worst of them, with its class and reason."""
    unhealthy = [
        (aspect, checks[aspect])
        for aspect in ASPECTS
        if aspect in checks and checks[aspect].status != OK
    ]
    if not unhealthy:
        return SourceHealth(OK, (), checks, fetched=fetched, expired=expired)
    aspect, worst = max(unhealthy, key=lambda item: SEVERITY[item[1].status])
    return SourceHealth(
        worst.status,
        tuple(check.shown for _, check in unhealthy),
        checks,
        failure_class=failure_class(worst.reason) if aspect == FETCH else ASPECT_CLASS[aspect],
        reason=worst.reason,
        fetched=fetched,
        expired=expired,
    )


def run_outcome(failure: str, stopped: bool, health: Mapping[str, SourceHealth]) -> str:
    """stopped: our shutdown ended it in time; failed: the crawl failed or every source did;
    degraded: some source is not ok."""
    if stopped and not failure:
        return STOPPED
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
    """The source's state after one more run that counts for it (``health.checks`` is not
    None), and the notice that run calls for, if any.

    One alert per incident, when it reaches *alert_after* consecutive unhealthy runs, unless
    someone acknowledged the incident first; one recovery when a source that was alerted about
    is healthy again; nothing else. Being healthy ends the incident and its acknowledgement.
    """
    checks = health.checks or {}
    last_fetched = when if health.fetched else previous.last_fetched
    if health.status == OK:
        state = SourceState(last_run=when, last_ok=when, last_fetched=last_fetched, checks=checks)
        if not previous.alerted:
            return state, None
        notice = Notice(RECOVERY, name, OK, (), previous.streak, previous.since)
        return state, notice
    streak = previous.streak + 1
    fire = not previous.alerted and previous.ack is None and streak >= alert_after
    state = SourceState(
        status=health.status,
        problems=health.problems,
        streak=streak,
        alerted=previous.alerted or fire,
        since=previous.since or when,
        last_run=when,
        last_ok=previous.last_ok,
        last_fetched=last_fetched,
        checks=checks,
        ack=previous.ack,
    )
    if not fire:
        return state, None
    return state, Notice(ALERT, name, health.status, health.problems, streak, state.since)


def acknowledge(state: SourceState, ack: Acknowledgement) -> SourceState | None:
    """*state* with its current incident acknowledged; None when it has none (it is ok)."""
    if state.status == OK:
        return None
    return replace(state, ack=ack)
