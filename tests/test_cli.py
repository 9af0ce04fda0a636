"""The neu-news command (run as a subprocess where the process boundary matters) and the
Atom/RSS export it drives."""

from __future__ import annotations

import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from crawler.cli.main import main
from crawler.store.export import newest, write_syndication

ROOT = Path(__file__).resolve().parent.parent
ATOM = "{http://www.w3.org/2005/Atom}"
Record = dict[str, Any]


def record(number: int, version: int = 1, **fields: Any) -> Record:
    base: Record = {
        "id": f"{number:016x}",
        "url": f"https://neunews.neu.edu.cn/info/1003/{number}.htm",
        "source": "neunews-xsdt",
        "site": "neunews.neu.edu.cn",
        "column": "学术动态",
        "columns": ["学术动态"],
        "title": f"东北大学学术报告会第{number}期",
        "published": f"2023-04-{number:02d}",
        "authors": ["张三", "王五"],
        "editors": ["李四"],
        "origin": "新闻中心",
        "language": "zh",
        "text": f"东北大学举办第{number}期学术报告会。\n\n报告会由校长主持。",
        "images": [],
        "attachments": [],
        "crawled_at": "2023-05-01T01:00:00+00:00",
        "version": version,
        "first_seen": "2023-05-01T01:00:00+00:00",
    }
    if version >= 2:
        base["updated_at"] = "2023-05-02T01:00:00+00:00"
    base.update(fields)
    return base


def line(rec: Record) -> bytes:
    return (json.dumps(rec, ensure_ascii=False) + "\n").encode("utf-8")


def make_data_dir(
    tmp_path: Path, records: list[Record], state: dict[str, int] | None = None
) -> Path:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "articles.jsonl").write_bytes(b"".join(line(rec) for rec in records))
    if state is not None:
        conn = sqlite3.connect(data_dir / "state.sqlite3")
        conn.execute("CREATE TABLE articles (id TEXT PRIMARY KEY, version INTEGER NOT NULL)")
        conn.executemany("INSERT INTO articles VALUES (?, ?)", state.items())
        conn.commit()
        conn.close()
    return data_dir


def cli(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "crawler.cli.main", *args],
        capture_output=True,
        timeout=30,
        env=_env(),
        **kwargs,
    )


def _env() -> dict[str, str]:
    # The package is importable from the repository even if it is not installed; a C locale
    # must not turn the Chinese into escapes or errors either.
    return {**os.environ, "PYTHONPATH": str(ROOT), "LC_ALL": "C", "PYTHONIOENCODING": ""}


def jsonl(data: bytes) -> list[Record]:
    return [json.loads(text) for text in data.decode("utf-8").splitlines()]


# -- feed ---------------------------------------------------------------------------------------


def test_feed_prints_jsonl_with_chinese_unescaped(tmp_path: Path) -> None:
    records = [record(1), record(2), record(1, 2, title="东北大学学术报告会（更正）")]
    data_dir = make_data_dir(tmp_path, records)

    result = cli("feed", "--data-dir", str(data_dir))

    assert result.returncode == 0, result.stderr
    assert result.stderr == b""
    assert jsonl(result.stdout) == records
    assert "东北大学学术报告会（更正）".encode() in result.stdout
    assert b"\\u" not in result.stdout


def test_feed_filters(tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    records = [
        record(1),
        record(5, source="neunews-ddyw"),
        record(7, published=None),
        record(9),
        record(9, 2),
    ]
    data_dir = str(make_data_dir(tmp_path, records, state={record(9)["id"]: 2}))

    def run(*args: str) -> list[tuple[int, int]]:
        assert main(["feed", "--data-dir", data_dir, *args]) == 0
        return [
            (int(rec["id"], 16), rec["version"]) for rec in jsonl(capsysbinary.readouterr().out)
        ]

    assert run("--since", "2023-04-05") == [(5, 1), (9, 1), (9, 2)]
    assert run("--source", "neunews-ddyw") == [(5, 1)]
    assert run("--latest") == [(1, 1), (5, 1), (7, 1), (9, 2)]
    assert run("--latest", "--since", "2023-04-02", "--source", "neunews-xsdt") == [(9, 2)]


def test_bad_since_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for value in ("2023-4-7", "yesterday", "2023-02-30"):
        with pytest.raises(SystemExit) as exit_info:
            main(["feed", "--data-dir", str(tmp_path), "--since", value])
        assert exit_info.value.code == 2
        assert f"invalid date '{value}': expected YYYY-MM-DD" in capsys.readouterr().err


def test_missing_feed_is_one_line_and_exit_1(tmp_path: Path) -> None:
    result = cli("feed", "--data-dir", str(tmp_path / "nowhere"))

    assert result.returncode == 1
    assert result.stdout == b""
    assert result.stderr.decode().count("\n") == 1
    assert "no feed at" in result.stderr.decode()


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    data_dir = make_data_dir(tmp_path, [record(i % 28 + 1) for i in range(3000)])

    with subprocess.Popen(
        [sys.executable, "-m", "crawler.cli.main", "feed", "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        json.loads(process.stdout.readline())
        process.stdout.close()  # like `| head -1`
        stderr = process.stderr.read()
        returncode = process.wait(timeout=30)

    assert returncode == 0
    assert stderr == b""


def test_follow_prints_each_new_line_at_once_and_ctrl_c_exits_0(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    feed = data_dir / "articles.jsonl"

    with subprocess.Popen(
        [sys.executable, "-m", "crawler.cli.main", "feed", "--follow", "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        time.sleep(0.3)  # the feed does not exist yet: the follower waits for it
        assert process.poll() is None
        feed.write_bytes(line(record(1)))
        assert json.loads(process.stdout.readline()) == record(1)
        with feed.open("ab") as handle:
            handle.write(line(record(2)))
        assert json.loads(process.stdout.readline()) == record(2)
        process.send_signal(signal.SIGINT)
        returncode = process.wait(timeout=30)
        stderr = process.stderr.read()

    assert returncode == 0
    assert b"Traceback" not in stderr


# -- export -------------------------------------------------------------------------------------


def test_export_atom_to_stdout(tmp_path: Path) -> None:
    records = [record(n) for n in (3, 1, 4, 2)] + [record(3, 2, title="东北大学学术报告会（更正）")]
    data_dir = make_data_dir(tmp_path, records)

    result = cli("export", "--format", "atom", "--data-dir", str(data_dir), "--limit", "3")

    assert result.returncode == 0, result.stderr
    root = ET.fromstring(result.stdout)
    assert root.tag == f"{ATOM}feed"
    for tag in ("id", "title", "updated"):
        assert root.find(f"{ATOM}{tag}") is not None
    entries = root.findall(f"{ATOM}entry")
    assert [entry.findtext(f"{ATOM}id") for entry in entries] == [
        record(n)["url"] for n in (4, 3, 2)
    ]
    newest_entry, updated_entry = entries[0], entries[1]
    assert newest_entry.findtext(f"{ATOM}published") == "2023-04-04T00:00:00+08:00"
    assert newest_entry.findtext(f"{ATOM}summary") == "东北大学举办第4期学术报告会。"
    assert newest_entry.findtext(f"{ATOM}content") == record(4)["text"]
    assert [a.findtext(f"{ATOM}name") for a in newest_entry.findall(f"{ATOM}author")] == [
        "张三",
        "王五",
    ]
    link = newest_entry.find(f"{ATOM}link")
    assert link is not None and link.get("href") == record(4)["url"]
    assert updated_entry.findtext(f"{ATOM}title") == "东北大学学术报告会（更正）"
    assert updated_entry.findtext(f"{ATOM}updated") == "2023-05-02T01:00:00+00:00"


def test_export_rss_to_a_file(tmp_path: Path) -> None:
    data_dir = make_data_dir(tmp_path, [record(n) for n in range(1, 8)])
    out = tmp_path / "feed.xml"

    result = cli("export", "--format", "rss", "--data-dir", str(data_dir), "-o", str(out))

    assert result.returncode == 0, result.stderr
    assert result.stdout == b""
    root = ET.parse(out).getroot()
    assert root.tag == "rss" and root.get("version") == "2.0"
    channel = root.find("channel")
    assert channel is not None
    for tag in ("title", "link", "description"):
        assert channel.findtext(tag)
    items = channel.findall("item")
    assert [item.findtext("guid") for item in items] == [record(n)["url"] for n in range(7, 0, -1)]
    first = items[0]
    assert first.findtext("title") == "东北大学学术报告会第7期"
    assert first.findtext("link") == record(7)["url"]
    assert first.findtext("pubDate") == "Fri, 07 Apr 2023 00:00:00 +0800"
    assert first.findtext("description") == "东北大学举办第7期学术报告会。"
    creators = first.findall("{http://purl.org/dc/elements/1.1/}creator")
    assert [creator.text for creator in creators] == ["张三", "王五"]


def test_export_without_a_feed_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "--format", "rss", "--data-dir", str(tmp_path)]) == 1
    assert "no feed at" in capsys.readouterr().err


def test_newest_keeps_the_limit_newest_and_the_last_line_of_an_id() -> None:
    records = [
        record(10, published=None, first_seen="2023-04-20T00:00:00+00:00"),
        record(11, published="2023-04-11T09:00:00+08:00"),
        record(12),
        record(11, 2, published="2023-04-11T09:00:00+08:00", title="改"),
        record(13, url=None),  # no URL, no entry
        record(14, published=None, first_seen=None, crawled_at=None),  # no time at all: no entry
    ]

    got = newest(records, 3)

    # Dated first, by publication; the undated after them, by first sight.
    assert [(rec["id"], rec["version"]) for rec in got] == [
        (f"{12:016x}", 1),
        (f"{11:016x}", 2),
        (f"{10:016x}", 1),
    ]
    assert newest(records, 0) == []
    assert len(newest(records, 50)) == 3


def test_write_syndication_cleans_text_xml_cannot_carry() -> None:
    out = io.BytesIO()
    count = write_syndication(
        [record(1, text="东北大学\x00\x0b新闻\n\n第二段", title="标题\x1f")], out, fmt="atom"
    )

    assert count == 1
    entry = ET.fromstring(out.getvalue()).find(f"{ATOM}entry")
    assert entry is not None
    assert entry.findtext(f"{ATOM}title") == "标题"
    assert entry.findtext(f"{ATOM}summary") == "东北大学新闻"


def test_write_syndication_of_nothing_is_a_valid_empty_feed() -> None:
    out = io.BytesIO()
    assert write_syndication(iter([]), out, fmt="rss") == 0
    root = ET.fromstring(out.getvalue())
    assert root.tag == "rss"
    assert root.findall("channel/item") == []
