"""The configuration file is the service's one configuration: each key takes effect, the
command-line option of the same name wins, a bad key or value is one line naming the file and
the key. Real scheduler processes where the effect is end to end."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from crawler.sources import DEFAULT_SOURCES_FILE
from replica import ReplicaServer, build_replica
from scheduler.__main__ import main, overridden, schedule_parser
from scheduler.config import (
    DEFAULT_SCHEDULE_FILE,
    HEALTH_KEYS,
    SERVICE_FIELDS,
    TOP_KEYS,
    ServiceConfig,
    load_schedule,
    parse_service,
)
from tests.conftest import FAST_SETTINGS, PROJECT_ROOT
from tests.test_scheduler_e2e import free_port, run_lines, start, stop, wait_until
from tests.test_scheduler_health import Receiver

JOB = '[[jobs]]\nid = "news"\nevery = "30m"\n'
SOURCES = '[[sources]]\nname = "a"\nstart_urls = ["http://127.0.0.1:9/list.htm"]\nlanguage = "zh"\n'


def config(tmp_path: Path, text: str) -> Path:
    (tmp_path / "sources.toml").write_text(SOURCES)
    path = tmp_path / "conf" / "schedule.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(f"{text}\n{JOB}")
    return path


def service_of(tmp_path: Path, text: str, *arguments: str) -> ServiceConfig:
    """The service's settings from a configuration file holding *text*, and *arguments*."""
    schedule = load_schedule(config(tmp_path, text), tmp_path / "sources.toml")
    return overridden(schedule.service, schedule_parser().parse_args(list(arguments)))


# Each key of the file: its table ("" for the top level), name and TOML value, the setting
# it gives, a command-line option and what that gives instead.
KEYS: list[tuple[str, str, str, str, Any, list[str], Any]] = [
    ("", "data_dir", '"../d"', "data_dir", "conf/../d", ["--data-dir", "x"], Path("x")),
    ("crawl", "timeout", '"10m"', "timeout", 600.0, ["--timeout", "1h"], 3600.0),
    ("crawl", "grace", '"5s"', "grace", 5.0, ["--grace", "2s"], 2.0),
    ("crawl", "keep_logs", "3", "keep_logs", 3, ["--keep-logs", "7"], 7),
    (
        *("crawl", "settings", '{ DOWNLOAD_DELAY = 2, AUTOTHROTTLE_ENABLED = false, X = "y" }'),
        "settings",
        ("DOWNLOAD_DELAY=2", "AUTOTHROTTLE_ENABLED=False", "X=y"),
        ["-s", "DOWNLOAD_DELAY=0"],
        ("DOWNLOAD_DELAY=2", "AUTOTHROTTLE_ENABLED=False", "X=y", "DOWNLOAD_DELAY=0"),
    ),
    (
        *("alerts", "webhook", '"https://hooks.example/a"', "webhook", "https://hooks.example/a"),
        ["--webhook", "http://127.0.0.1:1/b"],
        "http://127.0.0.1:1/b",
    ),
    ("metrics", "port", "9410", "metrics_port", 9410, ["--metrics-port", "9411"], 9411),
    ("metrics", "addr", '"0.0.0.0"', "metrics_addr", "0.0.0.0", ["--metrics-addr", "::1"], "::1"),
    ("http", "port", "8080", "http_port", 8080, ["--http-port", "0"], 0),
    (
        "http",
        "host",
        '"0.0.0.0"',
        "http_host",
        "0.0.0.0",
        ["--http-host", "127.0.0.2"],
        "127.0.0.2",
    ),
    ("log", "format", '"json"', "log_format", "json", ["--log-format", "text"], "text"),
    ("log", "level", '"WARNING"', "log_level", "warning", ["--log-level", "DEBUG"], "debug"),
]


@pytest.mark.parametrize(("table", "key", "toml", "field", "value", "option", "wins"), KEYS)
def test_a_key_takes_effect_and_its_option_wins(
    tmp_path: Path,
    table: str,
    key: str,
    toml: str,
    field: str,
    value: Any,
    option: list[str],
    wins: Any,
) -> None:
    text = f"[{table}]\n{key} = {toml}" if table else f"{key} = {toml}"
    default = getattr(service_of(tmp_path, ""), field)
    assert default == getattr(ServiceConfig(), field)
    if field == "data_dir":
        value = tmp_path / value
    assert getattr(service_of(tmp_path, text), field) == value != default
    assert getattr(service_of(tmp_path, text, *option), field) == wins


def test_every_service_key_is_tested_and_documented_in_the_shipped_file() -> None:
    tested = {(table, key) for table, key, *_ in KEYS}
    assert tested == set(SERVICE_FIELDS) | {("", "data_dir")}
    shipped = DEFAULT_SCHEDULE_FILE.read_text(encoding="utf-8")
    documented = set(re.findall(r"^#? ?([a-z_]+) = ", shipped, re.MULTILINE))
    tables = set(re.findall(r"^#? ?\[+([a-z]+)\]+", shipped, re.MULTILINE))
    keys = {key for _, key in SERVICE_FIELDS} | HEALTH_KEYS | {"data_dir", "sources", "timezone"}
    assert documented >= keys
    assert tables | documented >= TOP_KEYS


def test_the_shipped_files_path_keys_uncommented_mean_what_their_comments_say() -> None:
    shipped = DEFAULT_SCHEDULE_FILE.read_text(encoding="utf-8")
    # The top-level keys only (their values are strings; the job example's sources is a list).
    uncommented = re.sub(r'^# ((?:data_dir|sources) = ")', r"\1", shipped, flags=re.MULTILINE)
    assert uncommented.count("\ndata_dir = ") == uncommented.count("\nsources = ") == 1

    service = parse_service(DEFAULT_SCHEDULE_FILE, tomllib.loads(uncommented))

    # Relative to the file: the sources key's example is the default, the shipped sources file;
    # the data directory's default (data in the working directory) has no such spelling, so
    # its example is an absolute path, never a directory inside the code.
    assert service.sources_file is not None
    assert service.sources_file.resolve() == DEFAULT_SOURCES_FILE.resolve()
    assert service.data_dir.is_absolute()
    assert not service.data_dir.is_relative_to(PROJECT_ROOT)
    assert ServiceConfig().data_dir == Path("data")


def test_the_readme_shows_the_shipped_file_as_shipped() -> None:
    shipped = DEFAULT_SCHEDULE_FILE.read_text(encoding="utf-8")
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### The configuration file") :]
    block = section[section.index("```toml\n") + len("```toml\n") :]
    # All but the opening comment, which sums up the keys.
    assert block[: block.index("```\n")] == shipped[shipped.index("timezone = ") :]


def test_the_sources_key_is_the_crawls_sources_file_and_the_option_wins(tmp_path: Path) -> None:
    path = config(tmp_path, 'sources = "../sources.toml"')
    (tmp_path / "other.toml").write_text(SOURCES.replace('"a"', '"b"'))
    assert load_schedule(path, None).known_sources == {"a"}
    assert load_schedule(path, None).sources_file == path.parent / "../sources.toml"
    assert load_schedule(path, tmp_path / "other.toml").known_sources == {"b"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("colour = 1", "top level: unknown key 'colour'"),
        ("[http]\nport = 70000", "[http]: port: invalid port 70000: expected 0-65535"),
        ('[http]\nport = "80"', "[http]: port: invalid port '80'"),
        ("[http]\nhots = 1", "[http]: unknown key 'hots'"),
        ("[metrics]\nport = true", "[metrics]: port: invalid port True"),
        ('[log]\nformat = "xml"', "[log]: format: invalid value 'xml': expected one of text, json"),
        ('[log]\nlevel = "loud"', "[log]: level: invalid value 'loud'"),
        ('[crawl]\ngrace = "0"', "[crawl]: grace: invalid duration '0'"),
        ("[crawl]\ntimeout = 60", "[crawl]: timeout: invalid duration 60"),
        ("[crawl]\nkeep_logs = 0", "[crawl]: keep_logs: invalid count 0"),
        ('[crawl]\nsettings = { NEU_DATA_DIR = "x" }', "[crawl]: settings: setting NEU_DATA_DIR"),
        ("[crawl]\nsettings = { A = [1] }", "[crawl]: settings: A: expected a string"),
        ('[alerts]\nwebhook = "ftp://x/"', "[alerts]: webhook: invalid webhook URL ftp://x"),
        ('[alerts]\nwebhook = "https://u:secret@h:0/t"', "[alerts]: webhook: invalid webhook URL"),
        ("data_dir = 3", "data_dir must be a path"),
        ("http = 3", "[http] must be a table"),
        ("[health]\nexpire_after = 0", "[health]: expire_after must be a positive integer"),
    ],
)
def test_a_bad_key_is_one_line_naming_the_file_and_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    path = config(tmp_path, text)
    data = tmp_path / "data"
    assert main(["--once", "--schedule", str(path), "--data-dir", str(data)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: "), err
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "secret" not in err
    assert not data.exists()


def test_the_file_runs_the_service_and_options_override_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One --once run configured by the file alone (data dir, sources, crawl settings, logs,
    webhook), from another directory; then the same file with options in their place."""
    replica = build_replica(seed=21, articles_per_column=6, page_size=5)
    receiver = Receiver()
    etc, elsewhere = tmp_path / "etc", tmp_path / "elsewhere"
    etc.mkdir()
    elsewhere.mkdir()
    settings = ", ".join(f'{key} = "{value}"' for key, value in FAST_SETTINGS.items())
    path = etc / "neu-news.toml"
    path.write_text(
        f'data_dir = "../var/data"\nsources = "sources.toml"\n{JOB}'
        "[health]\nalert_after = 1\n"
        f"[crawl]\nkeep_logs = 1\nsettings = {{ {settings} }}\n"
        f'[alerts]\nwebhook = "{receiver.url}"\n'
        '[log]\nformat = "json"\nlevel = "warning"\n'
    )
    (tmp_path / "var").mkdir()
    try:
        with ReplicaServer(replica) as server:
            replica.write_sources(etc / "sources.toml", server, sites=["english"])
            replica.break_layout("english", "no_links")
            first = scheduler_once(elsewhere, "--schedule", str(path))
            second = scheduler_once(
                elsewhere,
                *("--schedule", str(path), "--data-dir", "here", "--keep-logs", "3"),
                *("--log-format", "text", "--log-level", "info", "--webhook", receiver.url + "2"),
            )
    finally:
        receiver.close()
    data = tmp_path / "var" / "data"
    assert first.returncode == 1, first.stderr
    [run] = run_lines(data)
    assert run["sources"] == ["english-focus", "english-research"]
    assert run["per_source"]["english-focus"]["health"] == "degraded"
    # JSON lines, nothing below the level: the alert and the degraded run, no INFO.
    logged = [json.loads(line) for line in first.stderr.splitlines()]
    assert {entry["level"] for entry in logged} == {"ERROR", "WARNING"}
    assert any(entry["message"].startswith("ALERT ") for entry in logged)
    # The file's settings went to the crawl (180 s unless told).
    crawl_log = next((data / "logs").glob("*.log")).read_text()
    assert "'DOWNLOAD_TIMEOUT': '10'" in crawl_log

    assert second.returncode == 1, second.stderr
    assert len(run_lines(data)) == 1
    assert [line["outcome"] for line in run_lines(elsewhere / "here")] == ["degraded"]
    assert " INFO scheduler.runner: Run " in second.stderr
    assert not second.stderr.lstrip().startswith("{")
    # Each run alerted (its data directory was new): the first to the file's webhook, the
    # second to the option's.
    assert [body["event"] for body in receiver.bodies] == ["alert", "alert"]
    assert receiver.paths == ["/hook", "/hook2"]


def test_keep_logs_from_the_file_prunes_the_run_files(tmp_path: Path) -> None:
    replica = build_replica(seed=22, articles_per_column=3, page_size=5)
    path = tmp_path / "schedule.toml"
    settings = ", ".join(f'{key} = "{value}"' for key, value in FAST_SETTINGS.items())
    path.write_text(
        f'data_dir = "data"\n{JOB}[crawl]\nkeep_logs = 1\nsettings = {{ {settings} }}\n'
    )
    with ReplicaServer(replica) as server:
        sources = replica.write_sources(tmp_path / "sources.toml", server, sites=["english"])
        for _ in range(2):
            done = scheduler_once(tmp_path, "--schedule", str(path), "--sources", str(sources))
            assert done.returncode == 0, done.stderr
    runs = run_lines(tmp_path / "data")
    assert len(runs) == 2
    assert sorted(p.name for p in (tmp_path / "data" / "logs").iterdir()) == [
        f"{runs[1]['run_id']}.log",
        f"{runs[1]['run_id']}.stats.json",
    ]


def test_the_files_ports_serve_metrics_and_the_status_page(tmp_path: Path) -> None:
    replica = build_replica(seed=23, articles_per_column=3, page_size=5)
    metrics_port, http_port = free_port(), free_port()
    path = tmp_path / "schedule.toml"
    path.write_text(
        f'data_dir = "data"\n[[jobs]]\nid = "news"\nevery = "1h"\n'
        f"[metrics]\nport = {metrics_port}\n[http]\nport = {http_port}\n"
    )
    data = tmp_path / "data"
    with ReplicaServer(replica) as server:
        sources = replica.write_sources(tmp_path / "sources.toml", server, sites=["english"])
        command = [sys.executable, "-m", "scheduler", "--schedule", str(path)]
        command += ["--sources", str(sources)]
        for key, value in FAST_SETTINGS.items():
            command += ["-s", f"{key}={value}"]
        process = start(tmp_path, command)
        try:
            wait_until(lambda: len(run_lines(data)) == 1, 60, "first run")
            metrics = fetch(f"http://127.0.0.1:{metrics_port}/metrics")
            page = fetch(f"http://127.0.0.1:{http_port}/")
            health = json.loads(fetch(f"http://127.0.0.1:{http_port}/health"))
        finally:
            assert stop(process) == 0
    assert 'neu_news_runs_total{job="news",outcome="ok"} 1.0' in metrics
    assert "english-focus" in page and "english-research" in page
    assert health["status"] == "healthy", health


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return str(answer.read().decode())


def scheduler_once(cwd: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scheduler", "--once", *arguments],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
