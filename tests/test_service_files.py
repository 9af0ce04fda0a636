"""What installs and runs the service: the systemd unit (checked by ``systemd-analyze verify``),
the Dockerfile (the README's setup, then the scheduler), and ``scrapy crawl neu_news`` from any
directory once the package is installed."""

from __future__ import annotations

import configparser
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from replica import Replica, ReplicaServer
from scheduler.__main__ import option_duration, schedule_parser
from tests.conftest import PROJECT_ROOT, crawl_command, read_feed
from tests.parts import missing

DEPLOY = PROJECT_ROOT / "scheduler" / "deploy"
UNIT = DEPLOY / "neu-news.service"
DOCKERFILE = DEPLOY / "Dockerfile"
VENV_BIN = Path(sys.executable).parent


def unit_service() -> configparser.SectionProxy:
    # Keys keep their case; a key given twice would be a mistake here, and strict refuses it.
    unit = configparser.ConfigParser(interpolation=None, strict=True)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string(UNIT.read_text())
    return unit["Service"]


def scheduler_options(argv: list[str]) -> tuple[Path, float]:
    """The data directory and grace a ``neu-news schedule`` command line gives, parsed as the
    scheduler parses it (an option it does not know fails the test)."""
    assert argv[0] == "schedule", argv
    options = schedule_parser().parse_args(argv[1:])
    grace = option_duration("--grace", options.grace)
    assert grace is not None
    return Path(options.data_dir), grace


def seconds(timespan: str) -> float:
    """A systemd time span as systemd itself reads it."""
    shown = subprocess.run(
        ["systemd-analyze", "timespan", timespan], capture_output=True, text=True, check=True
    ).stdout
    match = re.search(r"μs: (\d+)", shown)
    assert match, shown
    return int(match[1]) / 1e6


def test_the_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        missing("systemd-analyze is not installed (make install installs systemd)")
    # verify wants ExecStart's program to exist: the venv's neu-news stands in for /opt's.
    executable, *_ = shlex.split(unit_service()["ExecStart"])
    assert executable == "/opt/neu-news/.venv/bin/neu-news"
    assert (VENV_BIN / "neu-news").is_file()
    copy = tmp_path / UNIT.name
    copy.write_text(UNIT.read_text().replace(executable, str(VENV_BIN / "neu-news")))
    verified = subprocess.run(
        ["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, check=False
    )
    assert (verified.returncode, verified.stdout + verified.stderr) == (0, "")
    # The user it runs as, as systemd-sysusers would create it (a dry run changes nothing).
    users = subprocess.run(
        ["systemd-sysusers", "--dry-run", str(DEPLOY / "neu-news.sysusers")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"Creating user '{unit_service()['User']}'" in users.stdout + users.stderr


def test_the_unit_runs_the_scheduler_on_its_data_dir_and_stops_it_gracefully() -> None:
    if shutil.which("systemd-analyze") is None:
        missing("systemd-analyze is not installed (make install installs systemd)")
    service = unit_service()
    _, *argv = shlex.split(service["ExecStart"])
    data_dir, grace = scheduler_options(argv)
    # The scheduler alone gets SIGTERM and forwards it to its crawl; systemd's SIGKILL to
    # every process comes only after TimeoutStopSec, which must outlast the crawl's grace.
    assert service["KillMode"] == "mixed"
    assert seconds(service["TimeoutStopSec"]) > grace
    assert service["Restart"] == "on-failure"
    assert service["RestartPreventExitStatus"] == "2"
    assert service["User"] not in ("", "root")
    assert service["ProtectSystem"] == "strict"
    assert service["NoNewPrivileges"] == "yes"
    assert service["ReadWritePaths"].split() == [str(data_dir)]
    assert data_dir == Path("/var/lib") / service["StateDirectory"]


def readme_setup_commands() -> list[str]:
    """The commands of the README's first code block: its setup on a fresh machine."""
    block = re.search(r"```sh\n(.*?)```", (PROJECT_ROOT / "README.md").read_text(), re.DOTALL)
    assert block
    return [line.split("#")[0].strip() for line in block[1].splitlines() if line.strip()]


def make_prerequisites() -> dict[str, list[str]]:
    rules = re.findall(r"^([\w.-]+):(?!=)([^\n]*)$", (PROJECT_ROOT / "Makefile").read_text(), re.M)
    return {target: prerequisites.split() for target, prerequisites in rules}


def reaches(rules: dict[str, list[str]], target: str, goal: str) -> bool:
    return target == goal or any(reaches(rules, step, goal) for step in rules.get(target, []))


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    return [
        (word.upper(), rest.strip())
        for word, rest in re.findall(r"^(\w+)\s+(.*)$", text, re.MULTILINE)
    ]


def test_the_dockerfile_runs_the_readmes_setup_then_the_scheduler() -> None:
    commands = readme_setup_commands()
    assert commands == ["make run", "make test"]
    # Both begin with `make install`, the part that sets the machine up; the image runs that.
    rules = make_prerequisites()
    assert all(reaches(rules, command.split()[1], "install") for command in commands)
    instructions = dockerfile_instructions()
    runs = [rest for word, rest in instructions if word == "RUN"]
    assert any(re.split(r"\s*&&\s*", run)[0] == "make install" for run in runs), runs

    command = next(json.loads(rest) for word, rest in instructions if word == "CMD")
    assert command[0] == ".venv/bin/neu-news"
    data_dir, _ = scheduler_options(command[1:])
    assert ("VOLUME", str(data_dir)) in instructions
    user = next(rest for word, rest in instructions if word == "USER")
    assert user != "root"


@pytest.mark.live
def test_the_dockerfile_builds() -> None:
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "info"], capture_output=True).returncode:
        missing("no docker daemon to build the image with")
    assert docker is not None
    subprocess.run(
        [docker, "build", "-f", str(DOCKERFILE), "-t", "neu-news-test", str(PROJECT_ROOT)],
        check=True,
        timeout=1800,
    )


def test_scrapy_crawl_neu_news_from_any_directory(
    tmp_path: Path, replica: Replica, server: ReplicaServer, sources_file: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {key: value for key, value in os.environ.items() if key != "SCRAPY_SETTINGS_MODULE"}
    data = tmp_path / "data"
    _python, _m, _scrapy, *arguments = crawl_command(sources_file, data, tmp_path, files=False)

    def scrapy_in(directory: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(VENV_BIN / "scrapy"), *arguments],
            cwd=directory,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    crawl = scrapy_in(elsewhere)
    assert crawl.returncode == 0, crawl.stderr
    assert {line["url"] for line in read_feed(data)} == set(replica.expected_records(server))
    assert list(elsewhere.iterdir()) == []

    # Inside another Scrapy project, `scrapy crawl` is Scrapy's, with that project's spiders.
    other = tmp_path / "other"
    (other / "otherproject").mkdir(parents=True)
    (other / "scrapy.cfg").write_text("[settings]\ndefault = otherproject.settings\n")
    (other / "otherproject" / "__init__.py").write_text("")
    (other / "otherproject" / "settings.py").write_text('SPIDER_MODULES = ["otherproject"]\n')
    there = scrapy_in(other)
    assert there.returncode != 0
    assert "Spider not found: neu_news" in there.stderr
