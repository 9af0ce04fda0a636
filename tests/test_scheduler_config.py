"""The scheduler's configuration: schedule file, overrides, crontab meaning, one-line errors."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from crawler.commandline import ConfigError
from crawler.sources import DEFAULT_SOURCES_FILE, load_sources
from scheduler.__main__ import main
from scheduler.config import (
    crontab_trigger,
    crontab_weekdays,
    default_timeout,
    load_schedule,
    misfire_grace,
    parse_duration,
)
from scheduler.history import lock_data_dir

SHANGHAI = ZoneInfo("Asia/Shanghai")
SOURCES = """
[[sources]]
name = "a"
start_urls = ["https://a.example/list.htm"]
language = "zh"

[[sources]]
name = "b"
start_urls = ["https://b.example/list.htm"]
language = "zh"

[[sources]]
name = "c"
start_urls = ["https://c.example/list.htm"]
language = "en"

[[sources]]
name = "off"
start_urls = ["https://off.example/list.htm"]
language = "en"
enabled = false
"""


@pytest.fixture
def sources_file(tmp_path: Path) -> Path:
    path = tmp_path / "sources.toml"
    path.write_text(SOURCES)
    return path


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "schedule.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("45s", 45), ("30m", 1800), ("2h", 7200), ("1d", 86400), ("0.5s", 0.5), ("365d", 31536000)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["0s", "5x", "", "-1m", "m", "1h30m", "90", "366d", "1e9s"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ConfigError, match="invalid duration"):
        parse_duration(text)


# Local sources: on today's code these schedules were accepted, and the run must not leave the
# machine (port 9 of 127.0.0.1 refuses).
LOCAL_SOURCES = """
[[sources]]
name = "a"
start_urls = ["http://127.0.0.1:9/list.htm"]
language = "zh"
"""


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--cron", "0 0 30 2 *"], "error: --cron: cron expression '0 0 30 2 *' never fires"),
        (
            ["--every", "99999999999d"],
            "error: --every: invalid duration '99999999999d': at most 365d",
        ),
        (["--every", "0.01s"], "error: --every: interval 0.01s is too short: at least 1s"),
        (["--every", "5"], "error: --every: invalid duration '5': expected a number and a unit"),
        (
            ["--timeout", "600"],
            "error: --timeout: invalid duration '600': expected a number and a unit",
        ),
    ],
)
def test_schedules_that_cannot_work_are_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    sources = tmp_path / "sources.toml"
    sources.write_text(LOCAL_SOURCES)
    data = tmp_path / "data"
    assert main(["--once", "--sources", str(sources), "--data-dir", str(data), *arguments]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message), err
    assert len(err.strip().splitlines()) == 1
    assert not data.exists()


def test_timeouts_and_grace_follow_the_interval() -> None:
    assert default_timeout(1800) == 1800
    assert default_timeout(1) == 300  # a first fill needs more than a test interval
    assert misfire_grace(1800) == 900
    assert misfire_grace(1) == 1


@pytest.mark.parametrize(
    ("field", "names"),
    [
        ("*", "*"),
        ("0", "sun"),
        ("7", "sun"),
        ("1-5", "mon,tue,wed,thu,fri"),
        ("*/2", "sun,tue,thu,sat"),
        ("5-7", "sun,fri,sat"),
        ("mon,WED", "mon,wed"),
    ],
)
def test_crontab_weekdays_keep_crontab_meaning(field: str, names: str) -> None:
    assert crontab_weekdays(field) == names


def test_crontab_sunday_is_sunday() -> None:
    trigger = crontab_trigger("0 6 * * 0", SHANGHAI)
    wednesday = datetime(2026, 9, 2, 12, 0, tzinfo=SHANGHAI)
    fire = trigger.get_next_fire_time(None, wednesday)
    assert fire == datetime(2026, 9, 6, 6, 0, tzinfo=SHANGHAI)
    assert fire.strftime("%A") == "Sunday"


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("0 6 * *", "expected 5 fields"),
        ("0 25 * * *", "invalid cron expression"),
        ("0 6 * * 8", "bad day of week"),
        ("0 6 * * 5-1", "runs backwards"),
        ("0 6 1 * 1", "not both"),
    ],
)
def test_bad_cron_expressions(expression: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        crontab_trigger(expression, SHANGHAI)


def test_shipped_schedule_crawls_every_enabled_source_every_30_minutes() -> None:
    schedule = load_schedule(None, None)
    enabled = tuple(source.name for source in load_sources(DEFAULT_SOURCES_FILE) if source.enabled)
    assert schedule.timezone == SHANGHAI
    assert [(job.id, job.sources, job.interval) for job in schedule.jobs] == [
        ("news", enabled, 1800)
    ]
    assert schedule.rules.alert_after == 2
    assert schedule.rules.missing_fraction == 0.5
    assert schedule.rules.min_articles == 3


def test_jobs_split_the_sources(tmp_path: Path, sources_file: Path) -> None:
    schedule_file = write(
        tmp_path,
        """
timezone = "UTC"
[[jobs]]
id = "news"
every = "15m"
[[jobs]]
id = "slow"
cron = "0 6 * * *"
sources = ["off", "b"]
[health]
alert_after = 3
""",
    )
    schedule = load_schedule(schedule_file, sources_file)
    jobs = {job.id: job for job in schedule.jobs}
    assert jobs["news"].sources == ("a", "c")  # enabled, not claimed by another job
    # A disabled source can be named; in the sources file's order, which decides an article's
    # source when two of a job's columns list it.
    assert jobs["slow"].sources == ("b", "off")
    assert jobs["news"].interval == 900
    assert jobs["slow"].interval == 86400
    assert schedule.timezone == ZoneInfo("UTC")
    assert schedule.rules.alert_after == 3
    assert schedule.known_sources == {"a", "b", "c", "off"}
    only = load_schedule(schedule_file, sources_file, only_jobs=["slow"])
    assert [job.id for job in only.jobs] == ["slow"]


def test_every_and_cron_replace_the_jobs(tmp_path: Path, sources_file: Path) -> None:
    every = load_schedule(None, sources_file, every="10s", timezone="UTC")
    assert [(job.id, job.sources, job.interval) for job in every.jobs] == [
        ("all", ("a", "b", "c"), 10)
    ]
    assert every.timezone == ZoneInfo("UTC")
    cron = load_schedule(None, sources_file, cron="*/15 * * * *")
    assert [(job.id, job.interval) for job in cron.jobs] == [("all", 900)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[jobs]]\nid = "x"\nevery = "1m"\nsources = ["zz"]', "unknown source 'zz'"),
        (
            '[[jobs]]\nid = "x"\nevery = "1m"\nsources = ["a"]\n'
            '[[jobs]]\nid = "y"\nevery = "1m"\nsources = ["a"]',
            "in jobs 'x' and 'y'",
        ),
        ('[[jobs]]\nid = "x"\nevery = "1m"\n[[jobs]]\nid = "y"\nevery = "2m"', "more than one"),
        ('[[jobs]]\nid = "x"\nevery = "1m"\ncron = "* * * * *"', "exactly one of"),
        ('[[jobs]]\nid = "x"\nevery = "1m"\ncolour = 1', "unknown key 'colour'"),
        ('[[jobs]]\nid = "X!"\nevery = "1m"', "key 'id'"),
        # $ matches before a trailing newline: ids are matched whole
        ('[[jobs]]\nid = "x\\n"\nevery = "1m"', "key 'id'"),
        ('[[jobs]]\nid = "x"\nevery = "1y"', "job 'x': invalid duration"),
        ('[[jobs]]\nid = "x"\nevery = "0.5s"', "job 'x': interval 0.5s is too short"),
        (
            '[[jobs]]\nid = "x"\ncron = "0 0 31 4 *"',
            "job 'x': cron expression '0 0 31 4 \\*' never",
        ),
        ('timezone = "Mars/Olympus"\n[[jobs]]\nid = "x"\nevery = "1m"', "unknown timezone"),
        ('[[jobs]]\nid = "x"\nevery = "1m"\n[health]\nmissing_fraction = 2', "missing_fraction"),
        (
            '[[jobs]]\nid = "x"\nevery = "1m"\nsources = ["a", "b", "c"]\n'
            '[[jobs]]\nid = "rest"\nevery = "1m"',
            "job 'rest' has no source",
        ),
        ("jobs = 3", "no [[jobs]] tables"),
        ("[[jobs]\n", "not valid TOML"),
    ],
)
def test_bad_schedule_files(tmp_path: Path, sources_file: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_schedule(write(tmp_path, text), sources_file)


def test_unknown_job_is_named(sources_file: Path) -> None:
    with pytest.raises(ConfigError, match="unknown job 'nope'; jobs: news"):
        load_schedule(None, sources_file, only_jobs=["nope"])


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--every", "soon"], "error: --every: invalid duration 'soon'"),
        (["--schedule", "missing.toml"], "missing.toml: schedule file not found"),
        (["--sources", "missing.toml"], "missing.toml: sources file not found"),
        (["-s", "NEU_DATA_DIR=x"], "setting NEU_DATA_DIR: use --data-dir"),
        (["-s", "DOWNLOAD_DELAY"], "expected KEY=VALUE"),
        (["--webhook", "ftp://x/"], "invalid webhook URL"),
        (["--grace", "0"], "error: --grace: invalid duration '0'"),
        (["--timeout", "1w"], "error: --timeout: invalid duration '1w'"),
    ],
)
def test_bad_options_print_one_line_and_exit_2(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    arguments: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["schedule", "--once", "--data-dir", str(tmp_path / "data"), *arguments]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "data").exists()


def test_data_dir_without_parent_is_a_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--once", "--data-dir", str(tmp_path / "no" / "data")]) == 2
    assert "its parent does not exist" in capsys.readouterr().err


def test_one_scheduler_per_data_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    held = lock_data_dir(tmp_path / "data")
    try:
        assert main(["--once", "--data-dir", str(tmp_path / "data")]) == 2
    finally:
        os.close(held)
    assert (
        f"another scheduler (pid {os.getpid()}) is using data directory" in capsys.readouterr().err
    )
