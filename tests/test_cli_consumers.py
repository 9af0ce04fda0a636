"""``neu-news`` as consumers meet it: its version, a follower that starts at the end, and an
unknown ``--source`` (issue 12: the feed for consumers, a service you can install)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from crawler.cli.main import main
from tests.test_cli import make_data_dir, record
from tests.test_data_dir_safety import filled

NEU_NEWS = [sys.executable, "-m", "crawler.cli.main"]


def test_version_is_the_installed_packages(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"neu-news {version('neu-news')}"


def test_an_unknown_source_is_one_line_naming_the_feeds_sources(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "data"
    filled(data_dir, 2)  # a real store's feed and state, of source news-ddyw
    assert main(["feed", "--data-dir", str(data_dir), "--source", "news-ddwy"]) == 2
    err = capsys.readouterr().err
    assert err == "error: unknown source 'news-ddwy'; this feed's: news-ddyw\n"
    assert main(["feed", "--data-dir", str(data_dir), "--source", "news-ddyw"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2


def test_follow_starts_at_the_end_and_from_start_replays(tmp_path: Path) -> None:
    data_dir = make_data_dir(tmp_path, [record(1), record(2)])
    for extra, expected in (([], 0), (["--from-start"], 2)):
        follower = subprocess.Popen(
            [*NEU_NEWS, "feed", "--follow", *extra, "--data-dir", str(data_dir)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            time.sleep(1.0)  # what it prints of the feed as it was, it prints at once
        finally:
            follower.terminate()
            out, _ = follower.communicate(timeout=10)
        assert len(out.splitlines()) == expected, extra


def test_from_start_without_follow_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = make_data_dir(tmp_path, [record(1)])
    assert main(["feed", "--data-dir", str(data_dir), "--from-start"]) == 2
    assert "--from-start goes with --follow" in capsys.readouterr().err
