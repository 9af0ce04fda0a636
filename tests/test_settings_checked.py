"""Settings are checked (issue 11, item 17): a bad NEU_* setting is one line and exit 2 before
anything starts, every NEU_* setting is checked in one place (``crawler.config``), a bad or
unreachable NEU_STATE_URL too (its password never shown; the data directory then left alone; a
server restarting as the crawl starts waited for), and Scrapy's Telnet console is off unless
asked for."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from scrapy.settings import Settings

from crawler import settings as project_settings
from crawler.commandline import CONFIG_ERROR_EXIT, ConfigError
from crawler.config import SETTINGS, check_settings, recheck_steps
from crawler.store.datadir import LOCK_FILE, crawl_lock
from crawler.store.shared import FEED_STREAM
from replica import Replica, ReplicaServer
from tests.conftest import FAST_SETTINGS, PROJECT_ROOT, crawl_command, run_crawl
from tests.redis_server import RedisServer, free_port

PROJECT_NEU_SETTINGS = {name for name in dir(project_settings) if name.startswith("NEU_")}
TELNET_LISTENING = "Telnet console listening"
SOURCE = "english-focus"
LOCAL_SOURCE = """
[[sources]]
name = "local"
start_urls = ["http://127.0.0.1:9/ddyw.htm"]
language = "zh"
"""


def project(**overrides: object) -> Settings:
    settings = Settings()
    settings.setmodule(project_settings, priority="project")
    settings.setdict(overrides, priority="cmdline")
    return settings


def test_every_project_setting_has_its_check_and_its_default_passes_it() -> None:
    assert set(SETTINGS) >= PROJECT_NEU_SETTINGS
    check_settings(project())


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("NEU_RECHECK_BUDGET", "abc"),
        ("NEU_RECHECK_BUDGET", "-1"),
        ("NEU_RECHECK_BUDGET", "nan"),
        ("NEU_RECHECK_BUDGET", "inf"),
        ("NEU_RECHECK_BUDGET", "2.5"),
        ("NEU_FEED_BATCH_SIZE", "0"),
        ("NEU_FEED_BATCH_SIZE", "1.5"),
        ("NEU_MAX_LIST_PAGES", "0"),
        ("NEU_MAX_LINKS_PER_PAGE", "many"),
        ("NEU_MAX_ARTICLES_PER_RUN", "0"),
        ("NEU_MAX_PAGE_TAGS", ""),
        ("NEU_LOOKBACK_PAGES", "-1"),
        ("NEU_EXTRACT_PROCESSES", "two"),
        ("NEU_RETRY_BACKOFF_BASE", "-2"),
        ("NEU_RETRY_BACKOFF_MAX", "1e999"),
    ],
)
def test_a_bad_number_is_refused_naming_the_setting(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"^setting {name}: '{value}' is not "):
        check_settings(project(**{name: value}))


@pytest.mark.parametrize(
    ("name", "value"),
    [("NEU_RECHECK_BUDGET", "0"), ("NEU_RECHECK_BUDGET", "10"), ("NEU_FEED_BATCH_SIZE", "1")],
)
def test_a_good_number_given_as_text_passes(name: str, value: str) -> None:
    check_settings(project(**{name: value}))


@pytest.mark.parametrize(
    ("value", "steps"),
    [
        ("1h,1d,7d", (3600, 86_400, 604_800)),
        (" 7d , 90m,1.5h,1h ", (3600, 5400, 604_800)),  # sorted, once each, spaces aside
        ("2w", (1_209_600,)),
        ("1s", (1,)),
        ("", ()),  # re-checks off
        (["30m", "1d"], (1800, 86_400)),  # a list, as a settings module may give it
    ],
)
def test_recheck_steps_are_durations_in_seconds(value: object, steps: tuple[int, ...]) -> None:
    settings = project(NEU_RECHECK_AFTER=value)
    check_settings(settings)
    assert recheck_steps(settings) == steps


@pytest.mark.parametrize(
    ("value", "bad"),
    [
        ("1x", "1x"),
        ("h", "h"),
        ("0h", "0h"),
        ("-1d", "-1d"),
        ("0.2s", "0.2s"),
        ("nanh", "nanh"),
        ("1e999d", "1e999d"),
        ("1h,2", "2"),
        ("1dd", "1dd"),
    ],
)
def test_a_bad_recheck_step_is_refused_naming_it(value: str, bad: str) -> None:
    with pytest.raises(ConfigError, match=f"^setting NEU_RECHECK_AFTER: '{bad}' is not a "):
        check_settings(project(NEU_RECHECK_AFTER=value))


def test_the_replaced_recheck_days_setting_names_its_replacements() -> None:
    with pytest.raises(ConfigError) as raised:
        check_settings(project(NEU_RECHECK_DAYS="2"))
    message = str(raised.value)
    assert message.startswith("setting NEU_RECHECK_DAYS: replaced by NEU_RECHECK_AFTER (")
    assert "NEU_RECHECK_BUDGET" in message


@pytest.mark.parametrize(
    "setting",
    [
        "NEU_RECHECK_AFTER=1x",
        "NEU_RECHECK_DAYS=2",
        "NEU_FEED_BATCH_SIZE=0",
        "NEU_MAX_LINKS_PER_PAGE=x",
    ],
)
def test_crawl_with_a_bad_setting_says_one_line_and_exits_2_before_anything(
    tmp_path: Path, setting: str
) -> None:
    data, sources = tmp_path / "data", tmp_path / "sources.toml"
    # Were the setting let through, the crawl would reach no further than a closed local port.
    sources.write_text(LOCAL_SOURCE, encoding="utf-8")
    command = [sys.executable, "-m", "scrapy", "crawl", "neu_news"]
    command += ["-s", f"NEU_DATA_DIR={data}", "-s", f"NEU_SOURCES_FILE={sources}", "-s", setting]
    completed = subprocess.run(
        command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    name = setting.partition("=")[0]
    assert completed.returncode == CONFIG_ERROR_EXIT
    assert completed.stderr.startswith(f"error: setting {name}: ")
    assert completed.stderr.count("\n") == 1, completed.stderr
    assert not data.exists()  # the data directory was not even created


def run_small_crawl(tmp_path: Path, sources: Path, *settings: str) -> str:
    """A crawl of one replica source with the project's own Telnet default (the suite's
    crawls turn the console off), and *settings*; its log."""
    tmp_path.mkdir()
    command = crawl_command(sources, tmp_path / "data", tmp_path, "-a", f"sources={SOURCE}")
    suite_off = command.index(f"TELNETCONSOLE_ENABLED={FAST_SETTINGS['TELNETCONSOLE_ENABLED']}")
    del command[suite_off - 1 : suite_off + 1]  # the "-s" and the setting
    for setting in settings:
        command += ["-s", setting]
    completed = subprocess.run(
        command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert completed.returncode == 0, completed.stderr
    return (tmp_path / "crawl.log").read_text(encoding="utf-8")


def test_telnet_console_is_off_unless_asked_for(
    tmp_path: Path, server: ReplicaServer, sources_file: Path
) -> None:
    log = run_small_crawl(tmp_path / "default", sources_file)
    assert "scrapy.extensions.telnet.TelnetConsole" not in log
    assert TELNET_LISTENING not in log
    asked = run_small_crawl(tmp_path / "asked", sources_file, "TELNETCONSOLE_ENABLED=True")
    assert TELNET_LISTENING in asked


@pytest.mark.parametrize(
    ("url", "message", "given_by"),
    [
        # The one slow case: a server away is waited for (~31 s) before it is an error.
        ("redis://u:s3cret@127.0.0.1:{port}/0", "cannot be reached", "-s"),
        ("http://u:s3cret@127.0.0.1:{port}/0", "must start with redis://", "-s"),
        ("http://u:s3cret@127.0.0.1:{port}/0", "must start with redis://", "environment"),
    ],
)
def test_a_bad_or_unreachable_state_url_is_one_error_line_and_exit_2(
    tmp_path: Path, url: str, message: str, given_by: str
) -> None:
    url = url.format(port=free_port())
    data, sources = tmp_path / "data", tmp_path / "sources.toml"
    sources.write_text(LOCAL_SOURCE, encoding="utf-8")
    command = [sys.executable, "-m", "scrapy", "crawl", "neu_news"]
    command += ["-s", f"NEU_DATA_DIR={data}", "-s", f"NEU_SOURCES_FILE={sources}"]
    env = dict(os.environ)
    if given_by == "-s":
        command += ["-s", f"NEU_STATE_URL={url}"]
    else:
        env["NEU_STATE_URL"] = url
    completed = subprocess.run(
        command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=90, check=False
    )
    assert completed.returncode == CONFIG_ERROR_EXIT
    *waited, error = completed.stderr.splitlines()
    assert error.startswith("error: setting NEU_STATE_URL: "), completed.stderr
    waits = message == "cannot be reached"
    assert [line.startswith("Waiting for Redis at redis://u:***@") for line in waited] == (
        [True] if waits else []
    ), completed.stderr
    assert message in completed.stderr and "u:***@127.0.0.1" in completed.stderr
    assert "s3cret" not in completed.stderr + completed.stdout
    assert not data.exists()  # not used with a state URL, so not even created


def test_a_crawl_started_while_its_state_server_restarts_waits_for_it(
    tmp_path: Path, replica: Replica, server: ReplicaServer, sources_file: Path
) -> None:
    redis_server = RedisServer(tmp_path / "redis")  # its port chosen, the server not up yet
    out = tmp_path / "out"
    out.mkdir()
    command = crawl_command(
        sources_file, Path(), out, files=True, NEU_STATE_URL=redis_server.url, NEU_DATA_DIR=""
    )
    crawl = subprocess.Popen(
        command, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        time.sleep(3.0)
        redis_server.start()
        _stdout, stderr = crawl.communicate(timeout=120)
        assert crawl.returncode == 0, stderr
        assert stderr.startswith(f"Waiting for Redis at {redis_server.url}: "), stderr
        with contextlib.closing(redis_server.client()) as client:
            assert client.xlen(FEED_STREAM) == len(replica.expected_records(server))
    finally:
        crawl.kill()
        crawl.wait()
        redis_server.stop()


def test_a_crawl_on_a_state_url_leaves_the_data_directory_alone(
    tmp_path: Path,
    replica: Replica,
    server: ReplicaServer,
    sources_file: Path,
    redis_server: RedisServer,
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    # Locked by another crawl: a crawl that used or checked it would stop at it.
    lock = crawl_lock(data)
    try:
        result = run_crawl(sources_file, data, tmp_path / "out", NEU_STATE_URL=redis_server.url)
    finally:
        os.close(lock)
    assert result.returncode == 0, result.stderr
    assert sorted(data.iterdir()) == [data / LOCK_FILE]
    with contextlib.closing(redis_server.client()) as client:
        assert client.xlen(FEED_STREAM) == len(replica.expected_records(server))
