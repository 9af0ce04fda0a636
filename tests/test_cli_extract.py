"""``neu-news extract``: one stored page to its record, by the crawl's own code.

In process through ``main()`` where the process boundary does not matter; once as the installed
command, once against a real crawl of the replica (the CLI's record is the crawl's).
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from crawler.cli.main import main
from crawler.extract.urls import article_id, canonical_url
from crawler.sources import load_sources
from replica import ReplicaServer
from tests.conftest import assert_valid_record, read_feed, run_crawl
from tests.golden import expected_path, golden_pages
from tests.parts import REAL_PAGES, missing

GOLDEN = golden_pages()
GOLDEN_PAGES = expected_path("x").parent
ARTICLE = "neunews-vsb-ddyw"
# A real VSB page that starts with a UTF-8 BOM, with its gold.
REAL_PAGE = "vsb/cst.nuc.edu.cn__info_1039_5325.html"
# What the CLI cannot know about a page, so the crawl's record and its may differ there: when
# it was fetched, which columns' list pages link it, and the feed's own bookkeeping.
CRAWL_ONLY = ("crawled_at", "column", "columns", "version", "first_seen", "updated_at")


def extract(
    capsysbinary: pytest.CaptureFixture[bytes], *args: str
) -> tuple[int, dict[str, Any] | None, str]:
    """Exit status, the record printed (if any) and stderr of ``neu-news extract *args*``."""
    status = main(["extract", *args])
    out, err = capsysbinary.readouterr()
    lines = out.decode("utf-8").splitlines()
    assert len(lines) <= 1, "more than one JSON object on stdout"
    return status, json.loads(lines[0]) if lines else None, err.decode("utf-8")


def assert_one_line_error(status: int, record: dict[str, Any] | None, err: str, says: str) -> None:
    assert (status, record) == (2, None)
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert says in err, err


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_pages_give_their_expected_record(
    name: str, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    page = GOLDEN_PAGES / f"{name}.html"
    status, record, err = extract(capsysbinary, str(page), "--url", GOLDEN[name])
    assert status == 0, err
    assert record is not None
    assert_valid_record(record)
    expected = json.loads(expected_path(name).read_text(encoding="utf-8"))
    assert {field: record[field] for field in expected} == expected
    assert record["url"] == canonical_url(GOLDEN[name])
    assert record["id"] == article_id(GOLDEN[name])
    assert (record["source"], record["language"], record["columns"]) == ("local", "zh", [])


def test_without_url_the_page_is_placed_on_a_host_that_does_not_exist(
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    status, record, err = extract(capsysbinary, str(GOLDEN_PAGES / f"{ARTICLE}.html"))
    assert status == 0, err
    assert record is not None
    assert_valid_record(record)
    assert record["url"] == f"https://example.invalid/{ARTICLE}.html"
    assert record["site"] == "example.invalid"
    # Relative links resolve against the placeholder: still absolute, still in the record.
    expected = json.loads(expected_path(ARTICLE).read_text(encoding="utf-8"))
    assert len(record["images"]) == len(expected["images"]) > 0
    assert all(url.startswith("https://example.invalid/") for url in record["images"])


def test_options_name_the_source_language_and_cms(
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    name = "english-vsb-focus"
    args = ("--url", GOLDEN[name], "--source", "english", "--language", "en", "--cms", "vsb")
    status, record, err = extract(capsysbinary, str(GOLDEN_PAGES / f"{name}.html"), *args)
    assert status == 0, err
    assert record is not None
    assert (record["source"], record["language"]) == ("english", "en")


def test_stdin_is_read_for_a_dash(
    capsysbinary: pytest.CaptureFixture[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    page = (GOLDEN_PAGES / f"{ARTICLE}.html").read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(page)))
    status, record, err = extract(capsysbinary, "-", "--url", GOLDEN[ARTICLE])
    assert status == 0, err
    assert record is not None
    expected = json.loads(expected_path(ARTICLE).read_text(encoding="utf-8"))
    assert record["title"] == expected["title"]
    assert record["url"] == canonical_url(GOLDEN[ARTICLE])


def test_the_installed_command_prints_one_feed_style_line(tmp_path: Path) -> None:
    command = Path(sys.executable).with_name("neu-news")
    page = GOLDEN_PAGES / f"{ARTICLE}.html"
    completed = subprocess.run(
        [str(command), "extract", "-", "--url", GOLDEN[ARTICLE]],
        input=page.read_bytes(),
        capture_output=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == b""
    text = completed.stdout.decode("utf-8")
    # One compact line with Chinese as characters, as the feed writes it.
    assert text.endswith("\n") and text.count("\n") == 1
    assert "东北大学" in text and "\\u" not in text
    record = json.loads(text)
    assert_valid_record(record)
    assert record["id"] == article_id(GOLDEN[ARTICLE])


def test_a_real_page_with_a_bom_reads_as_its_gold(
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    if not REAL_PAGES.is_dir():
        missing(f"no real pages at {REAL_PAGES}")
    lines = (REAL_PAGES / "gold.jsonl").read_text(encoding="utf-8").splitlines()
    gold = next(entry for entry in map(json.loads, lines) if entry["file"] == REAL_PAGE)
    page = REAL_PAGES / REAL_PAGE
    assert page.read_bytes().startswith(b"\xef\xbb\xbf")  # the case this test is for
    status, record, err = extract(capsysbinary, str(page), "--url", gold["url"])
    assert status == 0, err
    assert record is not None
    assert_valid_record(record)
    assert record["title"] == gold["title"]  # no BOM, no mojibake
    assert (record["published"], record["authors"]) == (gold["published"], gold["authors"])
    assert record["site"] == "cst.nuc.edu.cn"
    assert [a["name"] for a in record["attachments"]] == [a["name"] for a in gold["attachments"]]


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"", "not an HTML page"),
        (b" \n\t\n", "not an HTML page"),
        (bytes(range(256)) * 64, "not an HTML page"),
        (b"just a line of text, no markup\n", "not an HTML page"),
        (b"<html><head></head><body><div></div></body></html>", "no article on the page"),
    ],
    ids=["empty", "blank", "binary", "plain-text", "no-article"],
)
def test_pages_without_an_article_are_one_line_errors(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes], content: bytes, says: str
) -> None:
    page = tmp_path / "page.html"
    page.write_bytes(content)
    assert_one_line_error(*extract(capsysbinary, str(page)), says=f"{page}: {says}")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("missing.html",), "missing.html: no such file"),
        ((".",), ".: cannot read"),
        ((f"{ARTICLE}.html", "--url", "neunews.neu.edu.cn/1.htm"), "--url 'neunews.neu.edu.cn"),
        ((f"{ARTICLE}.html", "--url", "ftp://example.edu.cn/1.htm"), "expected an http(s) URL"),
        ((f"{ARTICLE}.html", "--source", "Bad Name"), "--source 'Bad Name'"),
        ((f"{ARTICLE}.html", "--language", "fr"), "--language 'fr': use zh or en"),
        ((f"{ARTICLE}.html", "--cms", "wordpress"), "--cms 'wordpress': use vsb or webplus"),
    ],
    ids=["missing", "directory", "no-scheme", "ftp", "source", "language", "cms"],
)
def test_bad_files_and_options_are_one_line_errors(
    capsysbinary: pytest.CaptureFixture[bytes],
    monkeypatch: pytest.MonkeyPatch,
    args: tuple[str, ...],
    says: str,
) -> None:
    monkeypatch.chdir(GOLDEN_PAGES)
    assert_one_line_error(*extract(capsysbinary, *args), says=says)


def test_the_record_is_the_one_the_crawl_writes(
    tmp_path: Path,
    server: ReplicaServer,
    sources_file: Path,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    result = run_crawl(sources_file, tmp_path / "data", tmp_path / "out", "-a", "mode=backfill")
    assert result.returncode == 0, result.stderr
    filed = read_feed(tmp_path / "data")
    assert len(filed) > 20
    sources = {source.name: source for source in load_sources(sources_file)}
    # Straight to the replica on 127.0.0.1, whatever proxy the environment names.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    for line in filed:
        with opener.open(line["url"], timeout=10) as response:
            (tmp_path / "page.html").write_bytes(response.read())
        source = sources[line["source"]]
        args = ["--url", line["url"], "--source", source.name, "--language", source.language]
        args += ["--cms", source.cms] if source.cms else []
        status, record, err = extract(capsysbinary, str(tmp_path / "page.html"), *args)
        assert status == 0, err
        assert record is not None
        crawled = {key: value for key, value in line.items() if key not in CRAWL_ONLY}
        assert {key: value for key, value in record.items() if key not in CRAWL_ONLY} == crawled
        assert record["columns"] == [] and record["column"] is None
