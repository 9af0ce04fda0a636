"""Branding from configuration: the feed's title, link, id and language in ``neu-news export``,
and the contact in the crawl's User-Agent, NEU's unless a ``[branding]`` table or option says
otherwise; bad values are one line and exit 2."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from scrapy.utils.test import get_crawler

from crawler.branding import DEFAULT_BRANDING, user_agent
from crawler.cli.main import main
from replica import ReplicaServer, build_replica
from tests.conftest import FAST_SETTINGS, PROJECT_ROOT, crawl_command, read_feed, run_crawl
from tests.test_cli import make_data_dir, record

ATOM = "{http://www.w3.org/2005/Atom}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
CONTACT = "mailto:webmaster@example.edu.cn"
BRANDING_TABLE = """
[branding]
title = "某某大学新闻"
link = "https://news.example.edu.cn/"
id = "tag:example.edu.cn,2024:news"
language = "zh-Hans-CN"
contact = "mailto:webmaster@example.edu.cn"
"""
ADDON = {"ADDONS": {"crawler.config.BrandedUserAgent": 0}}


def export(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes], fmt: str, *args: str
) -> tuple[int, bytes, str]:
    data_dir = make_data_dir(tmp_path, [record(n) for n in (1, 2)])
    status = main(["export", "--format", fmt, "--data-dir", str(data_dir), *args])
    out, err = capsysbinary.readouterr()
    return status, out, err.decode("utf-8")


def atom_head(document: bytes) -> tuple[str | None, str | None, str | None, str | None]:
    """Title, alternate link, id and language of an Atom document."""
    root = ET.fromstring(document)
    assert root.tag == f"{ATOM}feed"
    link = root.find(f"{ATOM}link[@rel='alternate']")
    return (
        root.findtext(f"{ATOM}title"),
        link.get("href") if link is not None else None,
        root.findtext(f"{ATOM}id"),
        root.get(XML_LANG),
    )


def rss_head(document: bytes) -> tuple[str | None, str | None, str | None]:
    """Title, link and language of an RSS channel (RSS 2.0 has no channel id)."""
    channel = ET.fromstring(document).find("channel")
    assert channel is not None
    return channel.findtext("title"), channel.findtext("link"), channel.findtext("language")


# -- neu-news export ---------------------------------------------------------------------------


def test_without_branding_the_feed_is_neus(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    status, document, err = export(tmp_path, capsysbinary, "atom")
    assert status == 0, err
    neu = DEFAULT_BRANDING
    assert atom_head(document) == (neu.title, neu.link, neu.id, neu.language)


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_a_branding_table_names_the_feed(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes], fmt: str
) -> None:
    # The scheduler's schedule file holds the table; export reads only [branding] from it.
    schedule = tmp_path / "schedule.toml"
    schedule.write_text(f'[[jobs]]\nid = "news"\nevery = "30m"\n{BRANDING_TABLE}', "utf-8")
    status, document, err = export(tmp_path, capsysbinary, fmt, "--branding", str(schedule))
    assert status == 0, err
    title, link, language = "某某大学新闻", "https://news.example.edu.cn/", "zh-Hans-CN"
    if fmt == "atom":
        assert atom_head(document) == (title, link, "tag:example.edu.cn,2024:news", language)
    else:
        assert rss_head(document) == (title, link, language)
    assert b'neu.edu.cn/"' not in document and "东北大学新闻<".encode() not in document


def test_options_override_the_table_and_a_new_link_is_the_id(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    branding = tmp_path / "branding.toml"
    branding.write_text('[branding]\ntitle = "Example News"\nlanguage = "en"\n', "utf-8")
    args = ("--branding", str(branding), "--title", "Campus News", "--link", "http://x.edu.cn/")
    status, document, err = export(tmp_path, capsysbinary, "atom", *args)
    assert status == 0, err
    assert atom_head(document) == ("Campus News", "http://x.edu.cn/", "http://x.edu.cn/", "en")


def test_a_new_link_keeps_an_id_the_branding_file_gives(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    """An Atom id is stable: moving the site's link does not change the feed's identity."""
    branding = tmp_path / "branding.toml"
    branding.write_text(
        '[branding]\nlink = "https://news.example.edu.cn/"\nid = "tag:example.edu.cn,2024:news"\n',
        "utf-8",
    )
    args = ("--branding", str(branding), "--link", "https://news2.example.edu.cn/")
    status, document, err = export(tmp_path, capsysbinary, "atom", *args)
    assert status == 0, err
    assert atom_head(document)[1:3] == (
        "https://news2.example.edu.cn/",
        "tag:example.edu.cn,2024:news",
    )


def test_a_title_may_hold_full_width_and_no_break_spaces(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    status, document, err = export(
        tmp_path, capsysbinary, "atom", "--title", "某大学\u3000新闻\xa0网"
    )
    assert status == 0, err
    assert atom_head(document)[0] == "某大学\u3000新闻\xa0网"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--title", ""), "--title: expected a one-line title"),
        (("--title", "two\nlines"), "--title: expected a one-line title"),
        (("--title", "evil\u202etxt"), "--title: expected a one-line title"),
        (("--link", "ftp://news.example.edu.cn/"), "--link: expected an http(s) URL"),
        (("--link", "https://news example/"), "--link: expected an http(s) URL"),
        (("--id", "no scheme"), "--id: expected an absolute URI"),
        (("--language", "zh_CN"), "--language: expected a language tag"),
        (("--branding", "missing.toml"), "missing.toml: configuration file not found"),
    ],
    ids=[
        "empty-title",
        "two-line-title",
        "bidi-title",
        "ftp-link",
        "spaced-link",
        "id",
        "language",
        "file",
    ],
)
def test_bad_export_branding_is_one_line_and_exit_2(
    tmp_path: Path,
    capsysbinary: pytest.CaptureFixture[bytes],
    monkeypatch: pytest.MonkeyPatch,
    args: tuple[str, ...],
    says: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    status, document, err = export(tmp_path, capsysbinary, "rss", *args)
    assert (status, document) == (2, b"")
    assert err.startswith("error: ") and err.count("\n") == 1 and says in err, err


@pytest.mark.parametrize(
    ("table", "says"),
    [
        ('[branding]\ncolour = "red"\n', "[branding]: unknown key 'colour'"),
        ('branding = "NEU"\n', "[branding] must be a table"),
        ("[branding]\ntitle = 5\n", "[branding]: title: expected a one-line title"),
        ('[branding]\ncontact = "nobody"\n', "[branding]: contact: expected an http(s) URL or"),
        ('[branding\ntitle = "x"\n', "not valid TOML"),
    ],
    ids=["unknown-key", "not-a-table", "not-a-string", "contact", "toml"],
)
def test_bad_branding_tables_are_one_line_and_exit_2(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes], table: str, says: str
) -> None:
    branding = tmp_path / "branding.toml"
    branding.write_text(table, "utf-8")
    status, document, err = export(tmp_path, capsysbinary, "atom", "--branding", str(branding))
    assert (status, document) == (2, b"")
    assert err.startswith(f"error: {branding}: {says}") and err.count("\n") == 1, err


# -- the crawl's User-Agent --------------------------------------------------------------------


def test_the_user_agent_names_the_contact_unless_user_agent_is_set() -> None:
    default = get_crawler(None, {**ADDON, "NEU_CONTACT": DEFAULT_BRANDING.contact})
    assert default.settings["USER_AGENT"] == user_agent(DEFAULT_BRANDING.contact)
    assert DEFAULT_BRANDING.contact in default.settings["USER_AGENT"]
    branded = get_crawler(None, {**ADDON, "NEU_CONTACT": CONTACT})
    assert branded.settings["USER_AGENT"] == f"neu-news-crawler/0.1 (+{CONTACT})"
    own = get_crawler(None, {**ADDON, "NEU_CONTACT": CONTACT, "USER_AGENT": "their-bot/2"})
    assert own.settings["USER_AGENT"] == "their-bot/2"


def test_the_crawl_sends_the_configured_contact(
    tmp_path: Path, server: ReplicaServer, sources_file: Path
) -> None:
    result = run_crawl(sources_file, tmp_path / "data", tmp_path / "out", NEU_CONTACT=CONTACT)
    assert result.returncode == 0, result.stderr
    agents = {entry.headers.get("User-Agent") for entry in server.request_log}
    assert agents == {user_agent(CONTACT)}
    assert any(entry.path == "/robots.txt" for entry in server.request_log)


def test_the_scheduler_gives_its_crawls_the_branding_contact(tmp_path: Path) -> None:
    replica = build_replica(seed=3, articles_per_column=2, page_size=5)
    schedule = tmp_path / "schedule.toml"
    schedule.write_text(f'[[jobs]]\nid = "news"\nevery = "30m"\n{BRANDING_TABLE}', "utf-8")
    settings = [arg for key, value in FAST_SETTINGS.items() for arg in ("-s", f"{key}={value}")]
    with ReplicaServer(replica) as server:
        sources = replica.write_sources(tmp_path / "sources.toml", server)
        done = subprocess.run(
            [
                *(sys.executable, "-m", "scheduler", "--once", "--schedule", str(schedule)),
                *("--sources", str(sources), "--data-dir", str(tmp_path / "data"), *settings),
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        agents = {entry.headers.get("User-Agent") for entry in server.request_log}
    assert done.returncode == 0, done.stderr
    assert read_feed(tmp_path / "data")
    assert agents == {user_agent(CONTACT)}


def test_a_bad_contact_stops_the_crawl_before_any_request(
    tmp_path: Path, server: ReplicaServer, sources_file: Path
) -> None:
    command = crawl_command(
        sources_file, tmp_path / "data", tmp_path, files=False, NEU_CONTACT="webmaster (at) x"
    )
    done = subprocess.run(
        command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2
    assert done.stderr.startswith("error: setting NEU_CONTACT: expected an http(s) URL or")
    assert done.stderr.count("\n") == 1, done.stderr
    assert server.request_log == []


def test_a_bad_schedule_branding_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    schedule = tmp_path / "schedule.toml"
    schedule.write_text('[[jobs]]\nid = "news"\nevery = "30m"\n[branding]\nlink = "x"\n', "utf-8")
    status = main(["schedule", "--once", "--schedule", str(schedule), "--data-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert status == 2
    assert err == f"error: {schedule}: [branding]: link: expected an http(s) URL like " + (
        "'https://news.example.edu.cn/'\n"
    )
