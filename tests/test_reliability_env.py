"""Bad configuration and environment: one clear message, a non-zero exit, the feed untouched."""

from __future__ import annotations

import json
import resource
import signal
import subprocess
from pathlib import Path

from replica import Replica, ReplicaServer
from tests.conftest import PROJECT_ROOT, crawl_command, read_feed, run_crawl


def _full_disk(limit: int) -> None:
    """In the child: files cannot grow past *limit* bytes, as on a disk that is full."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_full_disk_stops_the_crawl_cleanly_and_the_next_run_completes(
    tmp_path: Path, replica: Replica, server: ReplicaServer, sources_file: Path
) -> None:
    data, out = tmp_path / "data", tmp_path / "out"
    out.mkdir()
    # No -O export and no log file: only the data directory should hit the limit.
    command = crawl_command(
        sources_file, data, out, "-a", "mode=backfill", files=False, LOG_LEVEL="WARNING"
    )
    completed = subprocess.run(
        command,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        preexec_fn=lambda: _full_disk(150_000),
        timeout=120,
        check=False,
    )
    assert completed.returncode == 1
    errors = [line for line in completed.stderr.splitlines() if " ERROR: " in line]
    assert len(errors) == 1 and "Cannot write to the data directory" in errors[0], completed.stderr
    assert "Traceback" not in completed.stderr
    stats = json.loads((out / "stats.json").read_text())
    assert stats["finish_reason"] == "feed_write_failed"
    partial = read_feed(data)  # whole lines only
    assert 0 < len(partial) < len(replica.expected_records(server))

    again = run_crawl(sources_file, data, tmp_path / "again", "-a", "mode=backfill")
    assert again.returncode == 0, again.stderr
    feed = read_feed(data)
    assert feed[: len(partial)] == partial
    assert {line["url"] for line in feed} == set(replica.expected_records(server))


def test_disk_too_full_to_open_the_state_is_refused_in_one_line(
    tmp_path: Path, server: ReplicaServer, sources_file: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    completed = subprocess.run(
        crawl_command(sources_file, tmp_path / "data", out, files=False),
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        preexec_fn=lambda: _full_disk(20_000),
        timeout=60,
        check=False,
    )
    assert completed.returncode == 2
    assert completed.stderr.startswith(f"error: data directory {tmp_path / 'data'} cannot be used")
    assert completed.stderr.count("\n") == 1
    assert server.request_log == []


def test_data_dir_that_is_a_file_is_refused_in_one_line(
    tmp_path: Path, server: ReplicaServer, sources_file: Path
) -> None:
    not_a_dir = tmp_path / "data"
    not_a_dir.write_text("precious")
    result = run_crawl(sources_file, not_a_dir, tmp_path / "out")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and str(not_a_dir) in result.stderr
    assert not_a_dir.read_text() == "precious"
    assert server.request_log == []


def test_missing_data_dir_parent_is_refused_in_one_line(
    tmp_path: Path, server: ReplicaServer, sources_file: Path
) -> None:
    result = run_crawl(sources_file, tmp_path / "no" / "such" / "dir", tmp_path / "out")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"error: data directory {tmp_path / 'no' / 'such' / 'dir'}: its parent does not exist"
    )
    assert server.request_log == []


def test_existing_feed_is_untouched_by_a_refused_run(
    tmp_path: Path, replica: Replica, server: ReplicaServer, sources_file: Path
) -> None:
    data = tmp_path / "data"
    assert run_crawl(sources_file, data, tmp_path / "run1").returncode == 0
    before = (data / "articles.jsonl").read_bytes()
    broken = tmp_path / "broken.toml"
    broken.write_text("[[sources]]\nname = 'x'\n")
    result = run_crawl(broken, data, tmp_path / "run2")
    assert result.returncode == 2 and "missing key 'language'" in result.stderr
    assert (data / "articles.jsonl").read_bytes() == before
